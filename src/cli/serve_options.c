/* serve_options.c — the options and help text of `portreg serve` and `serve token create`: in
 * the portreg binary (the command table, --help tests, completions) and in the server module,
 * which parses them (see cmd_serve.c for why the server is a module). */
#include "cli.h"
#include "serve_options.h"

const char cli_serve_usage[] =
    "usage: portreg serve [--listen ADDR:PORT]... [--db URL | --db-file F] [--tls-cert F --tls-key F]\n"
    "                     [--config FILE] [--log-format text|json] [--anonymous-read] [--rate-limit N]\n"
    "       portreg serve token create --role reader|requester|admin [--name N] [--expires DAYS] [--db URL]\n\n"
    "The organisation's port registry over HTTP: hosts, requests and their review, assignments\n"
    "with quarantine, leases of dynamic ports, the IANA registry, and every change as an event.\n"
    "Runs in the foreground; SIGTERM or SIGINT finishes the requests in flight and exits 0.\n"
    "The API is in docs/API.md; tokens come from 'portreg serve token create'. /metrics is\n"
    "Prometheus' text format. Options may also come from a YAML file (--config, keys named as\n"
    "the long options); the command line overrides it.\n\n";

const char cli_serve_usage_tail[] =
    "\nExit status: 0 stopped by a signal, 2 usage or a bad --config, --tls-cert or --tls-key file,\n"
    "3 the address is taken (who holds it is said) or another runtime failure.\n";

const struct cli_option cli_serve_options[] = {
    { "listen", 'l', CLI_OPTION_REQUIRED_VALUE, "ADDR:PORT", "listen here (repeatable; default 127.0.0.1:7678,\n"
      "[::1]:7678 for IPv6)", OPT_LISTEN, 0 },
    { "db", 0, CLI_OPTION_REQUIRED_VALUE, "URL", "the database: sqlite:PATH (default sqlite:STATE/serve.db)\n"
      "or postgresql://USER@HOST:PORT/DB (several servers may share it)", OPT_DB, 0 },
    { "db-file", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", "PostgreSQL: read a libpq connection string from FILE\n"
      "(instead of --db; keeps a password off the command line)", OPT_DB_FILE, 0 },
    { "db-pool", 0, CLI_OPTION_REQUIRED_VALUE, "N", "database connections (default: one per request thread,\n"
      "plus one)", OPT_DB_POOL, 0 },
    { "log-format", 0, CLI_OPTION_REQUIRED_VALUE, "text|json", "one line per request on stderr: text (default) or json",
      OPT_LOG_FORMAT, 0 },
    { "threads", 0, CLI_OPTION_REQUIRED_VALUE, "N", "request threads (default: one per core)", OPT_THREADS, 0 },
    { "tls-cert", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", "serve HTTPS with this PEM certificate (chain); needs\n"
      "--tls-key", OPT_TLS_CERT, 0 },
    { "tls-key", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", "the PEM private key of --tls-cert", OPT_TLS_KEY, 0 },
    { "config", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", "read options from a YAML file (KEY: VALUE, keys as the\n"
      "long options; listen may be a list); the command line wins", OPT_CONFIG, 0 },
    { "anonymous-read", 0, CLI_OPTION_NO_VALUE, NULL, "reader routes answer without a token (writes still\n"
      "need one)", OPT_ANONYMOUS_READ, 0 },
    { "rate-limit", 0, CLI_OPTION_REQUIRED_VALUE, "N", "at most N requests/s per token (per address without\n"
      "one), else 429 with Retry-After (default: no limit)", OPT_RATE_LIMIT, 0 },
    { "rate-burst", 0, CLI_OPTION_REQUIRED_VALUE, "N", "requests a client may send at once (default: 2 x N)",
      OPT_RATE_BURST, 0 },
    /* tests only: move the server's clock (quarantine ends, lease expiry) */
    { "clock-offset", 0, CLI_OPTION_REQUIRED_VALUE, "SECONDS", NULL, OPT_CLOCK_OFFSET, CLI_OPTION_HIDDEN },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

const struct cli_option cli_serve_token_options[] = {
    { "role", 0, CLI_OPTION_REQUIRED_VALUE, "ROLE", "reader, agent, requester or admin (required)", OPT_ROLE, 0 },
    { "host", 0, CLI_OPTION_REQUIRED_VALUE, "NAME", "the host an agent token reports for (--role agent)",
      OPT_TOKEN_HOST, 0 },
    { "name", 0, CLI_OPTION_REQUIRED_VALUE, "NAME", "who holds the token (shown in events)", OPT_NAME, 0 },
    { "expires", 0, CLI_OPTION_REQUIRED_VALUE, "DAYS", "the token expires after DAYS days (default: never)",
      OPT_EXPIRES, 0 },
    { "db", 0, CLI_OPTION_REQUIRED_VALUE, "URL", "the database: sqlite:PATH (default sqlite:STATE/serve.db)", OPT_DB, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

const struct cli_option cli_serve_migrate_options[] = {
    { "db", 0, CLI_OPTION_REQUIRED_VALUE, "URL", "the database: sqlite:PATH or postgresql://... (default sqlite:STATE/serve.db)", OPT_DB, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "print {\"database\", \"schema_version\"}", OPT_JSON_OUT, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

const struct cli_option cli_serve_export_db_options[] = {
    { "db", 0, CLI_OPTION_REQUIRED_VALUE, "URL", "the database copied from (default sqlite:STATE/serve.db)", OPT_DB, 0 },
    { "to", 0, CLI_OPTION_REQUIRED_VALUE, "URL", "the empty database copied into (required)", OPT_TO, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "print the rows copied per table as JSON", OPT_JSON_OUT, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

const struct cli_subcommand cli_serve_subcommands[] = {
    { "token create", cli_serve_token_options },
    { "migrate", cli_serve_migrate_options },
    { "export-db", cli_serve_export_db_options },
    { NULL, NULL },
};

