/* remote_options.c — the options and help texts of `portreg remote` (the client of portreg
 * serve) and of each of its subcommands: one table per subcommand, as cli_options.c expects,
 * so --help, the parser and portreg-remote(1) list the same options. */
#include "cli.h"
#include "remote_options.h"

const char cli_remote_usage_head[] =
    "usage: portreg remote [--server URL] [--token TOKEN] [--cacert FILE] [--json] SUBCOMMAND [ARGS]\n\n"
    "Talk to a portreg server (portreg serve): request ports for services, review the requests,\n"
    "list and end assignments, lease dynamic ports, read the events, import a plan, export the\n"
    "registry. The server and the token also come from PORTREG_SERVER (default\n"
    "http://127.0.0.1:7678) and PORTREG_TOKEN; an https server with a private CA from\n"
    "PORTREG_CACERT. Tables on a terminal, tab-separated columns when piped, the server's JSON\n"
    "with --json. 'portreg remote SUBCOMMAND --help' shows a subcommand's options.\n\n"
    "subcommands:\n";

const char cli_remote_usage_tail[] =
    "\nExit status: 0 done; 1 the answer is no (409: the port is taken, who holds it is said;\n"
    "404: no such object); 2 bad input (usage, 400 naming the field, 413, 415, 422); 3 no answer\n"
    "(cannot connect, TLS), 401/403 (the token or its role), 5xx.\n";

#define REMOTE_COMMON_OPTIONS                                                                            \
    { "server", 0, CLI_OPTION_REQUIRED_VALUE, "URL", NULL, OPT_REMOTE_SERVER, CLI_OPTION_HIDDEN },        \
    { "token", 0, CLI_OPTION_REQUIRED_VALUE, "TOKEN", NULL, OPT_REMOTE_TOKEN, CLI_OPTION_HIDDEN },        \
    { "cacert", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", NULL, OPT_REMOTE_CACERT, CLI_OPTION_HIDDEN },       \
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, NULL, OPT_REMOTE_JSON, CLI_OPTION_HIDDEN },                   \
    CLI_OPTION_HELP_ENTRY

const struct cli_option cli_remote_options[] = {
    { "server", 0, CLI_OPTION_REQUIRED_VALUE, "URL", "the server: http[s]://HOST[:PORT] (default\n"
      "$PORTREG_SERVER, else http://127.0.0.1:7678)", OPT_REMOTE_SERVER, 0 },
    { "token", 0, CLI_OPTION_REQUIRED_VALUE, "TOKEN", "the token from 'portreg serve token create'\n"
      "(default $PORTREG_TOKEN; the environment keeps it out of ps)", OPT_REMOTE_TOKEN, 0 },
    { "cacert", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", "trust the CA certificates in FILE (PEM) for an\n"
      "https server (default $PORTREG_CACERT, else the system's)", OPT_REMOTE_CACERT, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "print the server's JSON document", OPT_REMOTE_JSON, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

#define ROW_HOST_ONE(help) { "host", 0, CLI_OPTION_REQUIRED_VALUE, "HOST", help, OPT_REMOTE_HOST, 0 }
#define ROW_PROTO { "proto", 0, CLI_OPTION_REQUIRED_VALUE, "PROTO", "tcp (default), udp, sctp or dccp", OPT_REMOTE_PROTO, 0 }
#define ROW_OWNER(help) { "owner", 0, CLI_OPTION_REQUIRED_VALUE, "OWNER", help, OPT_REMOTE_OWNER, 0 }
#define ROW_REASON(help) { "reason", 0, CLI_OPTION_REQUIRED_VALUE, "TEXT", help, OPT_REMOTE_REASON, 0 }
#define ROW_STATE(help) { "state", 0, CLI_OPTION_REQUIRED_VALUE, "STATE", help, OPT_REMOTE_STATE, 0 }
#define ROW_SERVICE { "service", 0, CLI_OPTION_REQUIRED_VALUE, "SERVICE", "only this service", OPT_REMOTE_SERVICE, 0 }
#define ROW_FILTER_PROTO { "proto", 0, CLI_OPTION_REQUIRED_VALUE, "PROTO", "only this protocol", OPT_REMOTE_PROTO, 0 }

/* request and assign take the same body */
#define ASSIGNMENT_BODY_ROWS(port_help)                                                                   \
    { "host", 0, CLI_OPTION_REQUIRED_VALUE, "HOST", "on this host (repeatable: the same port on each)",   \
      OPT_REMOTE_HOST, 0 },                                                                              \
    { "group", 0, CLI_OPTION_REQUIRED_VALUE, "GROUP", "on every host of this group (instead of --host)",  \
      OPT_REMOTE_GROUP, 0 },                                                                             \
    { "port", 0, CLI_OPTION_REQUIRED_VALUE, "PORT", port_help, OPT_REMOTE_PORT, 0 },                      \
    ROW_PROTO,                                                                                           \
    { "bind", 0, CLI_OPTION_REQUIRED_VALUE, "SCOPE", "any (default), loopback, an address name of the\n"  \
      "hosts (internal), or an address", OPT_REMOTE_BIND, 0 },                                           \
    { "exposure", 0, CLI_OPTION_REQUIRED_VALUE, "EXPOSURE", "who should reach it (as in the plan:\n"     \
      "loopback, internal, public...)", OPT_REMOTE_EXPOSURE, 0 },                                        \
    ROW_OWNER("the team that owns the service"),                                                         \
    ROW_REASON("why (shown to the reviewer and kept in the events)")

static const struct cli_option request_options[] = {
    ASSIGNMENT_BODY_ROWS("a port, a range LO-HI, or auto (the server picks a free\none at approval)"),
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option assign_options[] = {
    ASSIGNMENT_BODY_ROWS("a port or a range LO-HI"),
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option requests_options[] = {
    ROW_STATE("only requests in this state: submitted, approved,\nrejected or withdrawn"),
    ROW_SERVICE, ROW_OWNER("only requests of this owner"), ROW_FILTER_PROTO,
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option no_options[] = {
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option reject_options[] = {
    ROW_REASON("why the request is refused (kept in the events)"),
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option assignments_options[] = {
    ROW_HOST_ONE("only assignments on this host"), ROW_SERVICE,
    ROW_STATE("only assignments in this state: active, quarantined\nor revoked"),
    { "port", 0, CLI_OPTION_REQUIRED_VALUE, "PORT", "only assignments whose ports include PORT", OPT_REMOTE_PORT, 0 },
    ROW_FILTER_PROTO, ROW_OWNER("only assignments of this owner"),
    { "request", 0, CLI_OPTION_REQUIRED_VALUE, "ID", "only assignments made by approving request ID",
      OPT_REMOTE_REQUEST, 0 },
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option deassign_options[] = {
    { "days", 0, CLI_OPTION_REQUIRED_VALUE, "DAYS", "quarantine for DAYS days (0-3650; default the\n"
      "policy's quarantine_days)", OPT_REMOTE_DAYS, 0 },
    ROW_REASON("why (kept in the events)"),
    { "force", 0, CLI_OPTION_NO_VALUE, NULL, "deassign even though the host's agent still sees the\n"
      "port listening", OPT_REMOTE_FORCE, 0 },
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option drift_options[] = {
    ROW_HOST_ONE("only this host (default: the whole fleet)"),
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option lease_options[] = {
    ROW_HOST_ONE("on this host (required)"), ROW_PROTO,
    { "range", 0, CLI_OPTION_REQUIRED_VALUE, "LO-HI", "a port from this range (default the policy's\n"
      "lease_range)", OPT_REMOTE_RANGE, 0 },
    { "port", 0, CLI_OPTION_REQUIRED_VALUE, "PORT", "this port instead of a free one", OPT_REMOTE_PORT, 0 },
    { "ttl", 0, CLI_OPTION_REQUIRED_VALUE, "SECONDS", "the lease ends after SECONDS unless renewed (default\n"
      "the policy's lease_ttl_default)", OPT_REMOTE_TTL, 0 },
    { "idempotency-key", 0, CLI_OPTION_REQUIRED_VALUE, "KEY", "a retry with the same KEY gets the same lease",
      OPT_REMOTE_IDEMPOTENCY_KEY, 0 },
    { "holder", 0, CLI_OPTION_REQUIRED_VALUE, "TEXT", "who holds it (a job, a process)", OPT_REMOTE_HOLDER, 0 },
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option renew_options[] = {
    { "ttl", 0, CLI_OPTION_REQUIRED_VALUE, "SECONDS", "the lease ends SECONDS from now (default the\n"
      "policy's lease_ttl_default)", OPT_REMOTE_TTL, 0 },
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option leases_options[] = {
    ROW_HOST_ONE("only leases on this host"), ROW_SERVICE,
    ROW_STATE("only leases in this state: active, released or\nexpired"),
    ROW_FILTER_PROTO,
    { "holder", 0, CLI_OPTION_REQUIRED_VALUE, "TEXT", "only leases of this holder", OPT_REMOTE_HOLDER, 0 },
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option events_options[] = {
    { "after", 0, CLI_OPTION_REQUIRED_VALUE, "ID", "only events after event ID", OPT_REMOTE_AFTER, 0 },
    { "limit", 0, CLI_OPTION_REQUIRED_VALUE, "N", "at most N events (1-1000; default all)", OPT_REMOTE_LIMIT, 0 },
    { "kind", 0, CLI_OPTION_REQUIRED_VALUE, "KIND", "only events of this kind (request.approved...)", OPT_REMOTE_KIND, 0 },
    { "request-id", 0, CLI_OPTION_REQUIRED_VALUE, "ID", "only the changes of one HTTP request (X-Request-ID)",
      OPT_REMOTE_REQUEST_ID, 0 },
    { "actor", 0, CLI_OPTION_REQUIRED_VALUE, "NAME", "only changes made with this token name", OPT_REMOTE_ACTOR, 0 },
    { "object", 0, CLI_OPTION_REQUIRED_VALUE, "KIND[/ID]", "only changes of these objects: requests,\n"
      "assignments/3...", OPT_REMOTE_OBJECT, 0 },
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option hosts_options[] = {
    { "name", 0, CLI_OPTION_REQUIRED_VALUE, "NAME", "only this host", OPT_REMOTE_NAME, 0 },
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option host_add_options[] = {
    { "address", 0, CLI_OPTION_REQUIRED_VALUE, "NAME=ADDR", "an address of the host and its name, as in the\n"
      "plan (repeatable): --address internal=10.0.0.5", OPT_REMOTE_ADDRESS, 0 },
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option import_options[] = {
    { "dry-run", 'n', CLI_OPTION_NO_VALUE, NULL, "check the plan and say what would be created; change\nnothing",
      OPT_REMOTE_DRY_RUN, 0 },
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};
static const struct cli_option export_options[] = {
    { "output", 'o', CLI_OPTION_REQUIRED_VALUE, "FILE", "write FILE (atomically) instead of stdout", OPT_REMOTE_OUTPUT, 0 },
    REMOTE_COMMON_OPTIONS, CLI_OPTIONS_END,
};

const struct remote_subcommand_help remote_subcommand_helps[] = {
    { "request", "SERVICE (--host HOST... | --group GROUP) --port PORT|LO-HI|auto [--proto P] [--bind SCOPE]\n"
      "        [--exposure E] [--owner O] [--reason TEXT]",
      "ask for a port for a service (requester)",
      "A fixed port is checked at once: taken (exit 1, the holder is said) or refused by the\n"
      "policy (exit 2). An admin approves or rejects the request.", request_options },
    { "requests", "[--state STATE] [--service S] [--owner O] [--proto P]", "list requests", NULL, requests_options },
    { "approve", "ID", "approve a request: its assignments are made (admin)", NULL, no_options },
    { "reject", "ID [--reason TEXT]", "reject a request (admin)", NULL, reject_options },
    { "withdraw", "ID", "withdraw a request (its requester, or an admin)", NULL, no_options },
    { "assign", "SERVICE (--host HOST... | --group GROUP) --port PORT|LO-HI [--proto P] [--bind SCOPE]\n"
      "        [--exposure E] [--owner O] [--reason TEXT]",
      "assign a port at once, without a request (admin)", NULL, assign_options },
    { "assignments", "[--host H] [--service S] [--state STATE] [--port PORT] [--proto P] [--owner O]\n"
      "        [--request ID]", "list assignments", NULL, assignments_options },
    { "deassign", "ID [--days DAYS] [--reason TEXT] [--force]",
      "end an assignment: its port rests in quarantine (admin)",
      "Another service cannot have the port until the quarantine ends (and, on a host with an\n"
      "agent, until the agent has reported no listener on it 3 times). A port the host's agent\n"
      "still sees listening is refused (exit 1, the process is said) unless --force.", deassign_options },
    { "revoke", "ID", "revoke an assignment: its port is free at once (admin)", NULL, no_options },
    { "lease", "SERVICE --host HOST [--proto P] [--range LO-HI | --port PORT] [--ttl SECONDS]\n"
      "        [--idempotency-key KEY] [--holder TEXT]",
      "lease a free port now, for a time (requester)",
      "Piped, the lease's columns are printed: the port is the fifth (cut -f5).", lease_options },
    { "renew", "ID [--ttl SECONDS]", "renew a lease (requester)", NULL, renew_options },
    { "release", "ID", "release a lease (requester)", NULL, no_options },
    { "leases", "[--host H] [--service S] [--state STATE] [--proto P] [--holder TEXT]", "list leases", NULL,
      leases_options },
    { "events", "[--after ID] [--limit N] [--kind KIND] [--request-id ID] [--actor NAME] [--object KIND[/ID]]",
      "the history of changes, oldest first", NULL, events_options },
    { "hosts", "[--name NAME]", "list hosts", NULL, hosts_options },
    { "host add", "NAME [--address NAME=ADDR]...", "add a host (admin)", NULL, host_add_options },
    { "policy", "", "the server's port policy", NULL, no_options },
    { "import", "PLAN.yaml|- [--dry-run]", "import a port plan (admin)",
      "Problems are printed as file:line:column: message (exit 2).", import_options },
    { "export", "services|iana-csv|nft|netbox-csv|netbox-csv-pre-4.3|plan [-o FILE]", "the registry in a format", NULL,
      export_options },
    { "drift", "[--host H]", "what hosts run against what is assigned (exit 1 on drift)",
      "Per host, from the agents' reports and imported scans: present, absent, wrong-address,\n"
      "undeclared (with process and unit), unauthorized, lease-unused, filtered; stale agents.",
      drift_options },
    { "observations", "[HOST]", "the agents' latest reports (a host's listeners)", NULL, no_options },
    { "observe-scan", "FILE|-", "send a `portreg scan --json` document: what the network sees (requester)",
      NULL, no_options },
    { NULL, NULL, NULL, NULL, NULL },
};

/* the subcommands' tables for the command table (completions, the --help tests) */
const struct cli_subcommand cli_remote_subcommands[] = {
    { "request", request_options }, { "requests", requests_options }, { "approve", no_options },
    { "reject", reject_options }, { "withdraw", no_options }, { "assign", assign_options },
    { "assignments", assignments_options }, { "deassign", deassign_options }, { "revoke", no_options },
    { "lease", lease_options }, { "renew", renew_options }, { "release", no_options },
    { "leases", leases_options }, { "events", events_options }, { "hosts", hosts_options },
    { "host add", host_add_options }, { "policy", no_options }, { "import", import_options },
    { "export", export_options }, { "drift", drift_options }, { "observations", no_options },
    { "observe-scan", no_options }, { NULL, NULL },
};
