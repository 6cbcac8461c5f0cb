/* cmd_suggest.c — `portreg suggest [NAME]`: conflict-free ports by policy (doctor/suggest.h),
 * optionally kept out of the ephemeral pool with --reserve (the running kernel, this network
 * namespace) and --persist (a sysctl.d drop-in), both through doctor/reserved_ports.h.
 * Gathers the inputs (registry, sysctls, sockets of every namespace, exclude file), renders.
 * The ports go to stdout one per line; notes and changes go to stderr, so $(...) gets ports. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "doctor/reserved_ports.h"
#include "doctor/suggest.h"
#include "net/inspect.h"
#include "net/local_ports.h"
#include "registry/record.h"
#include "util/file_io.h"
#include "util/json_writer.h"
#include "util/text_escape.h"

static const char suggest_usage[] =
    "usage: portreg suggest [options] [NAME]\n\n"
    "Conflict-free ports: in the range, not assigned at IANA, outside the ephemeral range,\n"
    "not reserved, not held by any socket in any state or network namespace, not excluded.\n"
    "The same NAME gets the same ports on every host with the same policy.\n\n";
static const char suggest_usage_tail[] =
    "Exit status: 0 N ports found, 1 fewer, 2 bad input, 3 failure.\n";

enum { OPT_RANGE = 256, OPT_PROTO, OPT_ALLOW_ASSIGNED, OPT_EXCLUDE_FILE, OPT_THIS_NETNS,
       OPT_RESERVE, OPT_PERSIST, OPT_JSON };
const struct cli_option cli_suggest_options[] = {
    { "range", 0, CLI_OPTION_REQUIRED_VALUE, "A-B", "where to look (default 1024-49151)", OPT_RANGE, 0 },
    { "count", 'n', CLI_OPTION_REQUIRED_VALUE, "N", "how many ports (default 1)", 'n', 0 },
    { "proto", 0, CLI_OPTION_REQUIRED_VALUE, "P", "tcp, udp or both (default tcp; both = free for tcp and udp)", OPT_PROTO, 0 },
    { "allow-assigned", 0, CLI_OPTION_NO_VALUE, NULL, "also suggest ports IANA assigned or reserved", OPT_ALLOW_ASSIGNED, 0 },
    { "exclude-file", 0, CLI_OPTION_REQUIRED_VALUE, "PATH",
      "port specs to avoid (default $PORTREG_SUGGEST_EXCLUDE, else\n"
      SUGGEST_DEFAULT_EXCLUDE_PATH " when it exists)", OPT_EXCLUDE_FILE, 0 },
    { "this-netns", 0, CLI_OPTION_NO_VALUE, NULL, "check only the sockets of this network namespace", OPT_THIS_NETNS, 0 },
    { "reserve", 0, CLI_OPTION_NO_VALUE, NULL, "add the ports to net.ipv4.ip_local_reserved_ports (this netns)", OPT_RESERVE, 0 },
    { "persist", 0, CLI_OPTION_NO_VALUE, NULL,
      "add them to " RESERVED_PORTS_DROPIN_DIR "/" RESERVED_PORTS_DROPIN_NAME "\n"
      "(directory: $PORTREG_SYSCTL_DIR)", OPT_PERSIST, 0 },
    { "verbose", 'v', CLI_OPTION_NO_VALUE, NULL, "say why each nearer candidate was skipped", 'v', 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", OPT_JSON, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

struct suggest_request {
    struct suggest_policy policy;
    const char *exclude_path;       /* the file read, NULL when none */
    bool exclude_given;             /* named by option or environment: must exist */
    bool this_netns;
    bool reserve, persist, verbose, json;
};

/* "A-B" or "A" into first/last; false on anything else. */
static bool suggest_parse_range(const char *text, uint16_t *first, uint16_t *last)
{
    char *end;
    errno = 0;
    if (*text < '0' || *text > '9')
        return false;
    unsigned long a = strtoul(text, &end, 10), b = a;
    if (errno || a > 65535)
        return false;
    if (*end == '-') {
        const char *second = end + 1;
        if (*second < '0' || *second > '9')
            return false;
        b = strtoul(second, &end, 10);
        if (errno || b > 65535)
            return false;
    }
    if (*end != '\0')
        return false;
    *first = (uint16_t)a;
    *last = (uint16_t)b;
    return true;
}

static bool suggest_parse_count(const char *text, unsigned *count)
{
    char *end;
    errno = 0;
    if (*text < '0' || *text > '9')
        return false;
    unsigned long n = strtoul(text, &end, 10);
    if (errno || *end || n < 1 || n > 65535)
        return false;
    *count = (unsigned)n;
    return true;
}

static const char *suggest_proto_label(unsigned protos)
{
    return protos == SUGGEST_PROTO_BOTH ? "both" : protos == SUGGEST_PROTO_UDP ? "udp" : "tcp";
}

/* Read and parse the exclude file into *spec. CLI_EXIT_OK, or the exit code (message printed). */
static int suggest_load_exclude(struct suggest_request *req, struct portspec *spec)
{
    if (!req->exclude_path)
        return CLI_EXIT_OK;
    struct file_buffer buf;
    struct pr_error err;
    pr_error_clear(&err);
    int r = file_read_all(req->exclude_path, &buf, &err);
    if (r == -ENOENT && !req->exclude_given) {
        req->exclude_path = NULL;   /* the default file is optional */
        return CLI_EXIT_OK;
    }
    if (r < 0) {
        pr_error_set_path(&err, req->exclude_path);
        return cli_error_from(cli_exit_for_input_error(r), "suggest", &err);
    }
    r = suggest_exclude_parse(buf.data, buf.size, spec, &err);
    file_buffer_free(&buf);
    if (r < 0) {
        pr_error_set_path(&err, req->exclude_path);
        return cli_error_from(r == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE, "suggest", &err);
    }
    return CLI_EXIT_OK;
}

/* Every socket of the wanted protocols in the range, in every state (and namespace). */
static int suggest_collect_sockets(const struct suggest_request *req, struct inspect_result *res,
                                   struct portspec *range_spec)
{
    const struct suggest_policy *p = &req->policy;
    if (portspec_add(range_spec, p->range_first, p->range_last, REGISTRY_PROTO_ANY) < 0)
        return cli_error(CLI_EXIT_FAILURE, "suggest", "out of memory");
    struct inspect_options opt = { .all_netns = !req->this_netns, .processes = req->verbose };
    opt.query.protos = ((p->protos & SUGGEST_PROTO_TCP) ? 1u << REGISTRY_PROTO_TCP : 0) |
                       ((p->protos & SUGGEST_PROTO_UDP) ? 1u << REGISTRY_PROTO_UDP : 0);
    opt.query.states = SOCKET_STATE_ALL;
    opt.query.local_ports = range_spec;
    struct pr_error err;
    pr_error_clear(&err);
    if (inspect_run(&opt, res, &err) < 0)
        return cli_error_from(cli_exit_for_error(err.code), "suggest: sockets", &err);
    if (res->netns_failed)
        cli_warning("suggest: %u network namespace%s could not be entered; their sockets were not "
                    "checked (run as root)", res->netns_failed, res->netns_failed == 1 ? "" : "s");
    /* as root an unreadable link is a process exiting meanwhile, not a blind spot */
    if (res->netns_unreadable && geteuid() != 0)
        cli_warning("suggest: the network namespaces of %u process%s were not visible; sockets "
                    "there were not checked (run as root)", res->netns_unreadable,
                    res->netns_unreadable == 1 ? "" : "es");
    return CLI_EXIT_OK;
}

/* One skipped run as text: "6000-6063 assigned at IANA to x11 (tcp)". */
static void suggest_describe_skip(const struct suggest_request *req, const struct inspect_result *res,
                                  const struct suggest_skip_run *run, char *buf, size_t size)
{
    const struct suggest_policy *p = &req->policy;
    int used = run->first == run->last ? snprintf(buf, size, "%u", run->first)
                                       : snprintf(buf, size, "%u-%u", run->first, run->last);
    size_t at = used > 0 && (size_t)used < size ? (size_t)used : size - 1;
    char *rest = buf + at;
    size_t left = size - at;
    switch ((enum suggest_skip_reason)run->reason) {
    case SUGGEST_SKIP_EXCLUDED:
        snprintf(rest, left, ": excluded by %s", req->exclude_path ? req->exclude_path : "the exclude list");
        break;
    case SUGGEST_SKIP_EPHEMERAL:
        snprintf(rest, left, ": inside the ephemeral range %u-%u (ip_local_port_range)",
                 p->host->ephemeral.first, p->host->ephemeral.last);
        break;
    case SUGGEST_SKIP_RESERVED:
        snprintf(rest, left, ": already in ip_local_reserved_ports");
        break;
    case SUGGEST_SKIP_ASSIGNED: {
        struct registry_record rec;
        bool ok = p->registry && registry_index_record(p->registry, run->record, &rec);
        snprintf(rest, left, ": %s at IANA%s%s (%s)",
                 ok && rec.status == REGISTRY_STATUS_RESERVED ? "reserved" : "assigned",
                 ok && rec.service[0] ? " to " : "", ok ? rec.service : "",
                 registry_proto_name(run->proto));
        break;
    }
    case SUGGEST_SKIP_UNAUTHORIZED: {
        struct registry_record rec;
        bool ok = p->registry && registry_index_record(p->registry, run->record, &rec);
        char *note = ok ? text_escape_dup(rec.unauthorized_use, strlen(rec.unauthorized_use)) : NULL;
        snprintf(rest, left, ": IANA notes unauthorized use%s%s%s", note ? " (" : "",
                 note ? note : "", note ? ")" : "");
        free(note);
        break;
    }
    case SUGGEST_SKIP_IN_USE: {
        const struct socket_entry *s = &res->sockets.items[run->socket];
        char addr[64], holder[128] = "";
        socket_address_text(s->family, s->local_addr, addr, sizeof addr);
        if (res->processes_looked_up && res->holder_count[run->socket]) {
            uint32_t pid = res->holders[res->holder_start[run->socket]].pid;
            const struct process_info *proc = inspect_process(res, pid);
            snprintf(holder, sizeof holder, " by %s (pid %u)", proc && proc->comm[0] ? proc->comm : "?", pid);
        }
        snprintf(rest, left, ": in use: %s %s on %s%s%s%s", registry_proto_name(s->proto),
                 socket_state_name(s->proto, s->state), s->family == AF_INET6 ? "[" : "", addr,
                 s->family == AF_INET6 ? "]" : "", holder);
        break;
    }
    }
}

static json_t *suggest_change_json(const struct reserved_ports_change *change)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}", "path", change->path, "before",
                     change->before, "after", change->after, "added", change->added,
                     "added_count", (json_int_t)change->added_count, "changed", change->changed);
}

static json_t *suggest_skip_json(const struct suggest_request *req, const struct inspect_result *res,
                                 const struct suggest_skip_run *run)
{
    char text[512];
    suggest_describe_skip(req, res, run, text, sizeof text);
    json_t *o = json_pack("{s:i, s:i, s:s}", "first", run->first, "last", run->last, "reason",
                          suggest_skip_reason_name((enum suggest_skip_reason)run->reason));
    if (run->reason == SUGGEST_SKIP_ASSIGNED || run->reason == SUGGEST_SKIP_IN_USE)
        json_object_set_new(o, "proto", json_string(registry_proto_name(run->proto)));
    if (run->reason == SUGGEST_SKIP_ASSIGNED) {
        struct registry_record rec;
        if (req->policy.registry && registry_index_record(req->policy.registry, run->record, &rec))
            json_object_set_new(o, "service", json_string(rec.service));
    }
    if (run->reason == SUGGEST_SKIP_UNAUTHORIZED) {
        struct registry_record rec;
        if (req->policy.registry && registry_index_record(req->policy.registry, run->record, &rec))
            json_object_set_new(o, "unauthorized_use_reported", json_text(rec.unauthorized_use));
    }
    if (run->reason == SUGGEST_SKIP_IN_USE) {
        const struct socket_entry *s = &res->sockets.items[run->socket];
        char addr[64];
        json_object_set_new(o, "state", json_string(socket_state_name(s->proto, s->state)));
        json_object_set_new(o, "address", json_string(socket_address_text(s->family, s->local_addr, addr, sizeof addr)));
        json_object_set_new(o, "netns", json_integer((json_int_t)s->netns));
    }
    const char *colon = strstr(text, ": ");
    json_object_set_new(o, "why", json_string(colon ? colon + 2 : text));
    return o;
}

static int suggest_print_json(const struct cli_context *ctx, const struct suggest_request *req,
                              const struct inspect_result *res, const struct suggest_result *found,
                              const struct reserved_ports_change *reserved,
                              const struct reserved_ports_change *persisted,
                              const struct port_set *not_needed)
{
    const struct suggest_policy *p = &req->policy;
    json_t *ports = json_array(), *skipped = json_array();
    for (size_t i = 0; i < found->count; i++)
        json_array_append_new(ports, json_integer(found->ports[i]));
    for (size_t i = 0; i < found->skipped_count; i++)
        json_array_append_new(skipped, suggest_skip_json(req, res, &found->skipped[i]));
    json_t *ephemeral = p->host->have_ephemeral
                            ? json_pack("{s:i, s:i}", "first", p->host->ephemeral.first, "last", p->host->ephemeral.last)
                            : json_null();
    char *reserved_list = p->host->have_reserved ? reserved_ports_format(&p->host->reserved) : NULL;
    json_t *policy = json_pack("{s:b, s:o, s:o, s:o, s:b, s:s, s:I, s:I, s:I}",
        "allow_assigned", p->allow_assigned, "ephemeral", ephemeral,
        "reserved", reserved_list ? json_string(reserved_list) : json_null(),
        "exclude_file", req->exclude_path ? json_string(req->exclude_path) : json_null(),
        "registry", p->registry != NULL, "netns", req->this_netns ? "this" : "all",
        "netns_checked", (json_int_t)(res->netns_count - res->netns_failed),
        "netns_failed", (json_int_t)res->netns_failed, "sockets", (json_int_t)res->sockets.count);
    free(reserved_list);
    json_t *doc = json_pack("{s:o, s:s, s:{s:i, s:i}, s:i, s:I, s:o, s:I, s:b, s:I, s:o, s:o, s:o, s:o}",
        "name", p->name ? json_string(p->name) : json_null(), "proto", suggest_proto_label(p->protos),
        "range", "first", p->range_first, "last", p->range_last, "start", found->start,
        "count", (json_int_t)p->count, "ports", ports, "found", (json_int_t)found->count,
        "complete", found->count == p->count, "examined", (json_int_t)found->examined,
        "policy", policy, "skipped", skipped,
        "reserve", reserved ? suggest_change_json(reserved) : json_null(),
        "persist", persisted ? suggest_change_json(persisted) : json_null());
    if (!doc)
        return cli_error(CLI_EXIT_FAILURE, "suggest", "cannot build the JSON document");
    /* ports --reserve/--persist left out because they are outside the ephemeral range */
    json_t *unneeded = json_array();
    for (size_t i = 0; i < found->count; i++)
        if (not_needed && port_set_has(not_needed, found->ports[i]))
            json_array_append_new(unneeded, json_integer(found->ports[i]));
    json_object_set_new(doc, "reservation_not_needed", unneeded);
    return cli_print_json(ctx, doc);
}

static void suggest_print_change(const char *what, const struct reserved_ports_change *change)
{
    if (!change->changed) {
        fprintf(stderr, "%s: unchanged, every port was already there (%s: %s)\n", what,
                change->path, change->before[0] ? change->before : "empty");
        return;
    }
    fprintf(stderr, "%s: added %s to %s\n  before: %s\n  after:  %s\n", what, change->added,
            change->path, change->before[0] ? change->before : "(empty)",
            change->after[0] ? change->after : "(empty)");
}

/* Which found ports need a reservation: only ports inside the ephemeral range
 * (ip_local_port_range) can be taken by an outgoing connection; the kernel never hands out a
 * port outside it, so reserving one changes nothing but the list. When the range could not
 * be read every port is reserved. The others go to *not_needed. */
static void suggest_split_reservable(const struct suggest_request *req,
                                     const struct suggest_result *found, struct port_set *add,
                                     struct port_set *not_needed)
{
    const struct local_ports *host = req->policy.host;
    for (size_t i = 0; i < found->count; i++) {
        uint16_t port = found->ports[i];
        if (!host->have_ephemeral || local_ports_is_ephemeral(host, port))
            port_set_add(add, port);
        else
            port_set_add(not_needed, port);
    }
}

/* --reserve and --persist for the ports found that need it (see suggest_split_reservable). */
static int suggest_apply(const struct suggest_request *req, const struct suggest_result *found,
                         struct reserved_ports_change *reserved, bool *did_reserve,
                         struct reserved_ports_change *persisted, bool *did_persist,
                         struct port_set *not_needed)
{
    struct port_set *add = calloc(2, sizeof *add);
    if (!add)
        return cli_error(CLI_EXIT_FAILURE, "suggest", "out of memory");
    struct port_set *base = &add[1];
    suggest_split_reservable(req, found, add, not_needed);
    bool any = reserved_ports_merge(base, add, NULL, NULL) > 0;   /* base is empty here */
    struct pr_error err;
    pr_error_clear(&err);
    int rc = CLI_EXIT_OK;
    if (req->policy.host->have_reserved)
        *base = req->policy.host->reserved;
    if (req->reserve) {
        /* nothing to add: the list is only read (no write, no privilege needed) */
        if (reserved_ports_reserve(NULL, add, reserved, &err) < 0) {
            rc = cli_error_from(cli_exit_for_error(err.code), "suggest --reserve", &err);
            goto out;
        }
        *did_reserve = true;
        struct pr_error parse_err;
        if (reserved_ports_parse(reserved->after, base, &parse_err) < 0)
            reserved_ports_merge(base, add, base, NULL);
    }
    if (req->persist && any) {
        const char *dir = getenv("PORTREG_SYSCTL_DIR");
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir && dir[0] ? dir : RESERVED_PORTS_DROPIN_DIR,
                     RESERVED_PORTS_DROPIN_NAME) >= (int)sizeof path) {
            rc = cli_error(CLI_EXIT_USAGE, "suggest --persist", "PORTREG_SYSCTL_DIR is too long");
            goto out;
        }
        if (reserved_ports_persist(path, add, base, persisted, &err) < 0) {
            rc = cli_error_from(cli_exit_for_error(err.code), "suggest --persist", &err);
            goto out;
        }
        *did_persist = true;
    }
out:
    free(add);
    return rc;
}

/* "2682 needs no reservation: ..." on stderr for the ports outside the ephemeral range. */
static void suggest_print_not_needed(const struct suggest_request *req, const struct port_set *not_needed)
{
    char *list = reserved_ports_format(not_needed);
    if (list && list[0]) {
        const struct local_ports *host = req->policy.host;
        bool one = !strchr(list, ',') && !strchr(list, '-');
        fprintf(stderr, "%s %s outside the ephemeral range %u-%u (ip_local_port_range): the kernel "
                "never gives %s to an outgoing connection, so %s no reservation; not added\n",
                list, one ? "is" : "are", host->ephemeral.first, host->ephemeral.last,
                one ? "it" : "them", one ? "it needs" : "they need");
    }
    free(list);
}

static int suggest_parse_options(int argc, char **argv, struct suggest_request *req, int *rc)
{
    struct suggest_policy *p = &req->policy;
    int c;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "suggest", cli_suggest_options, argc, argv, 0);
    while ((c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case OPT_RANGE:
            if (!suggest_parse_range(optarg, &p->range_first, &p->range_last) ||
                p->range_first == 0 || p->range_first > p->range_last) {
                *rc = cli_error(CLI_EXIT_USAGE, "suggest", "--range %s: give A-B with 1 <= A <= B <= 65535", optarg);
                return -1;
            }
            break;
        case 'n':
            if (!suggest_parse_count(optarg, &p->count)) {
                *rc = cli_error(CLI_EXIT_USAGE, "suggest", "--count %s: give a number from 1 to 65535", optarg);
                return -1;
            }
            break;
        case OPT_PROTO:
            if (strcmp(optarg, "tcp") == 0) p->protos = SUGGEST_PROTO_TCP;
            else if (strcmp(optarg, "udp") == 0) p->protos = SUGGEST_PROTO_UDP;
            else if (strcmp(optarg, "both") == 0) p->protos = SUGGEST_PROTO_BOTH;
            else {
                *rc = cli_error(CLI_EXIT_USAGE, "suggest", "--proto %s: give tcp, udp or both", optarg);
                return -1;
            }
            break;
        case OPT_ALLOW_ASSIGNED: p->allow_assigned = true; break;
        case OPT_EXCLUDE_FILE: req->exclude_path = optarg; req->exclude_given = true; break;
        case OPT_THIS_NETNS: req->this_netns = true; break;
        case OPT_RESERVE: req->reserve = true; break;
        case OPT_PERSIST: req->persist = true; break;
        case 'v': req->verbose = true; break;
        case OPT_JSON: req->json = true; break;
        case 'h':
            cli_options_print_help(stdout, suggest_usage, cli_suggest_options, suggest_usage_tail);
            *rc = CLI_EXIT_OK;
            return -1;
        default:
            *rc = cli_options_error(&parser);
            return -1;
        }
    }
    if (argc - optind > 1) {
        *rc = cli_usage_error("suggest", "give at most one NAME (got '%s' and '%s')", argv[optind], argv[optind + 1]);
        return -1;
    }
    if (optind < argc) {
        const char *name = argv[optind];
        size_t len = strlen(name);
        bool printable = len > 0 && len <= 255;
        for (size_t i = 0; printable && i < len; i++)
            printable = (unsigned char)name[i] >= 0x20 && name[i] != 0x7f;
        if (!printable) {
            *rc = cli_error(CLI_EXIT_USAGE, "suggest", "NAME must be 1-255 printable characters");
            return -1;
        }
        p->name = name;
    }
    if (!req->exclude_given) {
        const char *env = getenv("PORTREG_SUGGEST_EXCLUDE");
        if (env && env[0]) {
            req->exclude_path = env;
            req->exclude_given = true;
        } else {
            req->exclude_path = SUGGEST_DEFAULT_EXCLUDE_PATH;
        }
    }
    return 0;
}

int cmd_suggest(int argc, char **argv, struct cli_context *ctx)
{
    struct suggest_request req = {
        .policy = { .range_first = SUGGEST_DEFAULT_FIRST, .range_last = SUGGEST_DEFAULT_LAST,
                    .count = 1, .protos = SUGGEST_PROTO_TCP },
    };
    int rc = CLI_EXIT_OK;
    if (suggest_parse_options(argc, argv, &req, &rc) < 0)
        return rc;

    struct portspec exclude = { 0 }, range_spec = { 0 };
    struct local_ports *host = calloc(1, sizeof *host);
    struct registry_index *ix = NULL;
    struct registry_paths paths;
    struct registry_open_report report;
    struct inspect_result res;
    bool have_res = false, did_reserve = false, did_persist = false;
    struct suggest_result found = { 0 };
    struct reserved_ports_change reserved = { 0 }, persisted = { 0 };
    struct port_set *not_needed = calloc(1, sizeof *not_needed);
    if (!host || !not_needed) {
        free(host);
        free(not_needed);
        return cli_error(CLI_EXIT_FAILURE, "suggest", "out of memory");
    }

    if ((rc = suggest_load_exclude(&req, &exclude)) != CLI_EXIT_OK)
        goto out;
    req.policy.exclude = req.exclude_path ? &exclude : NULL;

    struct pr_error err;
    pr_error_clear(&err);
    if (local_ports_read(NULL, host, &err) < 0) {
        char buf[1200];
        cli_warning("suggest: %s", pr_error_format(&err, buf, sizeof buf));
        memset(host, 0, sizeof *host);
    }
    if (!host->have_ephemeral)
        cli_warning("suggest: the ephemeral port range could not be read; it is not avoided");
    req.policy.host = host;

    if (!req.policy.allow_assigned) {
        if ((rc = cli_open_registry(ctx, &paths, &ix, &report)) != CLI_EXIT_OK)
            goto out;
        req.policy.registry = ix;
    }
    if ((rc = suggest_collect_sockets(&req, &res, &range_spec)) != CLI_EXIT_OK)
        goto out;
    have_res = true;
    req.policy.sockets = &res.sockets;

    if (suggest_run(&req.policy, &found, &err) < 0) {
        rc = cli_error_from(cli_exit_for_error(err.code), "suggest", &err);
        goto out;
    }
    if (ix && registry_index_damage(ix)) {
        /* a block the search read was damaged: rebuild the index and search again */
        suggest_result_free(&found);
        if ((rc = cli_recover_registry(&paths, &ix, &report)) != CLI_EXIT_OK)
            goto out;
        req.policy.registry = ix;
        if (suggest_run(&req.policy, &found, &err) < 0) {
            rc = cli_error_from(cli_exit_for_error(err.code), "suggest", &err);
            goto out;
        }
    }

    bool complete = found.count == req.policy.count;
    if ((req.reserve || req.persist) && complete) {
        rc = suggest_apply(&req, &found, &reserved, &did_reserve, &persisted, &did_persist,
                           not_needed);
        if (rc != CLI_EXIT_OK && !did_reserve && !did_persist)
            goto out;   /* nothing was kept: no ports to hand out */
    }

    if (req.json) {
        int json_rc = suggest_print_json(ctx, &req, &res, &found, did_reserve ? &reserved : NULL,
                                         did_persist ? &persisted : NULL, not_needed);
        if (rc == CLI_EXIT_OK)
            rc = json_rc;
    } else {
        if (req.verbose) {
            if (req.policy.name)
                fprintf(stderr, "start %u: hash of \"%s\" in %u-%u", found.start, req.policy.name,
                        req.policy.range_first, req.policy.range_last);
            else
                fprintf(stderr, "start %u: the range start (no NAME)", found.start);
            fprintf(stderr, "; %s; %zu socket%s checked\n", suggest_proto_label(req.policy.protos),
                    res.sockets.count, res.sockets.count == 1 ? "" : "s");
            for (size_t i = 0; i < found.skipped_count; i++) {
                char text[512];
                suggest_describe_skip(&req, &res, &found.skipped[i], text, sizeof text);
                fprintf(stderr, "skipped %s\n", text);
            }
        }
        for (size_t i = 0; i < found.count; i++)
            printf("%u\n", found.ports[i]);
        suggest_print_not_needed(&req, not_needed);
        size_t unneeded = 0;
        for (size_t i = 0; i < found.count; i++)
            unneeded += port_set_has(not_needed, found.ports[i]);
        if (did_reserve && unneeded < found.count)
            suggest_print_change("reserved (this network namespace, until reboot)", &reserved);
        if (did_persist)
            suggest_print_change("persisted", &persisted);
    }
    fflush(stdout);
    if (!complete) {
        fprintf(stderr, "portreg: suggest: only %zu of %u port%s free in %u-%u under this policy%s\n",
                found.count, req.policy.count, req.policy.count == 1 ? "" : "s",
                req.policy.range_first, req.policy.range_last,
                req.reserve || req.persist ? "; nothing reserved" : "");
        if (rc == CLI_EXIT_OK)
            rc = CLI_EXIT_NO;
    }
out:
    reserved_ports_change_free(&reserved);
    reserved_ports_change_free(&persisted);
    suggest_result_free(&found);
    if (have_res)
        inspect_result_free(&res);
    portspec_free(&exclude);
    portspec_free(&range_spec);
    registry_index_close(ix);
    free(host);
    free(not_needed);
    return rc;
}
