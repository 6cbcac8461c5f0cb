/* cmd_ls.c — `portreg ls`: the sockets of this host (or of every network namespace) with the
 * processes, users, units and containers holding them, the IANA service of the port and how
 * exposed it is. Thin: options → inspect_run() → socket_view table or JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "net/exposure.h"
#include "net/inspect.h"
#include "net/socket_filter.h"
#include "registry/lookup.h"
#include "registry/record.h"
#include "socket_view.h"

static const char ls_usage[] =
    "usage: portreg ls [options]\n\n"
    "Sockets of this host with the processes holding them. Default: listening TCP and UDP.\n\n";
static const char ls_usage_tail[] =
    "Exit status: 0 sockets listed (also when none match), 2 bad option, 3 failure.\n";

enum { OPT_PORT = 256, OPT_PID, OPT_PROCESS, OPT_USER, OPT_ALL_NETNS, OPT_NO_PROCESSES,
       OPT_METHOD, OPT_SORT, OPT_JSON, OPT_NDJSON };
const struct cli_option cli_ls_options[] = {
    { "tcp", 't', CLI_OPTION_NO_VALUE, NULL, "TCP sockets", 't', 0 },
    { "udp", 'u', CLI_OPTION_NO_VALUE, NULL, "UDP sockets", 'u', 0 },
    { "sctp", 'S', CLI_OPTION_NO_VALUE, NULL, "SCTP sockets (where the kernel has sctp_diag)", 'S', 0 },
    { "listening", 'l', CLI_OPTION_NO_VALUE, NULL, "listening TCP and unconnected UDP sockets (the default)", 'l', 0 },
    { "all", 'a', CLI_OPTION_NO_VALUE, NULL, "sockets in every state", 'a', 0 },
    { "ipv4", '4', CLI_OPTION_NO_VALUE, NULL, "IPv4 only", '4', 0 },
    { "ipv6", '6', CLI_OPTION_NO_VALUE, NULL, "IPv6 only", '6', 0 },
    { "port", 0, CLI_OPTION_REQUIRED_VALUE, "SPEC", "local ports: 22, 1000-2000, T:80,U:53, ssh,mysql", OPT_PORT, 0 },
    { "pid", 0, CLI_OPTION_REQUIRED_VALUE, "PID", "sockets held by this process", OPT_PID, 0 },
    { "process", 0, CLI_OPTION_REQUIRED_VALUE, "NAME", "sockets held by processes with this command name", OPT_PROCESS, 0 },
    { "user", 0, CLI_OPTION_REQUIRED_VALUE, "USER", "sockets owned by or held by this user (name or uid)", OPT_USER, 0 },
    { "all-netns", 0, CLI_OPTION_NO_VALUE, NULL, "every network namespace of the host, each socket labelled", OPT_ALL_NETNS, 0 },
    { "no-processes", 0, CLI_OPTION_NO_VALUE, NULL, "do not look for processes (fastest)", OPT_NO_PROCESSES, 0 },
    { "method", 0, CLI_OPTION_REQUIRED_VALUE, "M", "how processes are found: auto (default), bpf, proc", OPT_METHOD, 0 },
    { "sort", 0, CLI_OPTION_REQUIRED_VALUE, "KEY", "port (default), process, address", OPT_SORT, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", OPT_JSON, 0 },
    { "ndjson", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON object per socket per line", OPT_NDJSON, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

/* Service names in --port open the registry (with its warnings) only when one is used. */
static int open_registry_for_names(void *ctx_ptr, struct registry_index **ix)
{
    struct registry_paths paths;
    struct registry_open_report report;
    return cli_open_registry(ctx_ptr, &paths, ix, &report) == CLI_EXIT_OK ? 0 : -EIO;
}

int cli_parse_port_spec(const struct cli_context *ctx, const char *command, const char *option,
                        const char *text, struct portspec *spec, struct registry_index **ix)
{
    struct socket_filter_registry registry = { open_registry_for_names, (void *)ctx, *ix };
    struct pr_error err;
    pr_error_clear(&err);
    int r = socket_filter_parse_ports(text, &registry, spec, &err);
    *ix = registry.ix;
    if (r < 0)
        return cli_error(r == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE, command,
                         "%s%s\"%s\": column %u: %s", option ? option : "", option ? " " : "", text,
                         cli_argument_column(text, err.line, err.column), err.message);
    return CLI_EXIT_OK;
}

int cli_parse_port_option(const struct cli_context *ctx, const char *command, const char *text,
                          struct portspec *spec, struct registry_index **ix)
{
    return cli_parse_port_spec(ctx, command, "--port", text, spec, ix);
}

int cli_parse_method_option(const char *command, const char *text, enum procmap_method *method)
{
    if (strcmp(text, "auto") == 0)
        *method = PROCMAP_METHOD_AUTO;
    else if (strcmp(text, "bpf") == 0)
        *method = PROCMAP_METHOD_BPF;
    else if (strcmp(text, "proc") == 0)
        *method = PROCMAP_METHOD_PROC;
    else
        return cli_error(CLI_EXIT_USAGE, command, "--method \"%s\": auto, bpf or proc", text);
    return CLI_EXIT_OK;
}

void cli_prepare_socket_view(const struct cli_context *ctx, struct registry_index **ix,
                             struct local_ports *host)
{
    if (!*ix) {
        struct registry_paths paths;
        struct registry_open_report report;
        if (cli_open_registry(ctx, &paths, ix, &report) != CLI_EXIT_OK)
            *ix = NULL;   /* the warning was printed; the SERVICE column stays empty */
    }
    if (local_ports_read(NULL, host, NULL) < 0)
        memset(host, 0, sizeof *host);
}

int cli_parse_user_option(const char *command, const char *text, uint32_t *uid)
{
    struct pr_error err;
    pr_error_clear(&err);
    if (socket_filter_parse_user(text, uid, &err) < 0)
        return cli_error(CLI_EXIT_USAGE, command, "--user %s", err.message);
    return CLI_EXIT_OK;
}

struct sort_context {
    const struct inspect_result *res;
    enum socket_sort key;
};

static int compare_address(const struct socket_entry *x, const struct socket_entry *y)
{
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    int c = memcmp(x->local_addr, y->local_addr, 16);
    if (c)
        return c;
    return (x->local_port > y->local_port) - (x->local_port < y->local_port);
}

static int compare_sockets(const void *a, const void *b, void *ctx_ptr)
{
    const struct sort_context *ctx = ctx_ptr;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const struct socket_entry *x = &ctx->res->sockets.items[i], *y = &ctx->res->sockets.items[j];
    int c = 0;
    if (ctx->key == SORT_PROCESS && ctx->res->processes_looked_up) {
        uint32_t px = ctx->res->holder_count[i] ? ctx->res->holders[ctx->res->holder_start[i]].pid : UINT32_MAX;
        uint32_t py = ctx->res->holder_count[j] ? ctx->res->holders[ctx->res->holder_start[j]].pid : UINT32_MAX;
        const struct process_info *p = inspect_process(ctx->res, px), *q = inspect_process(ctx->res, py);
        c = strcmp(p ? p->comm : "\xff", q ? q->comm : "\xff");
        if (!c)
            c = (px > py) - (px < py);
    } else if (ctx->key == SORT_ADDRESS) {
        c = compare_address(x, y);
    }
    if (!c)
        c = (x->local_port > y->local_port) - (x->local_port < y->local_port);
    if (!c)
        c = (x->proto > y->proto) - (x->proto < y->proto);
    if (!c)
        c = compare_address(x, y);
    if (!c)
        c = (x->netns > y->netns) - (x->netns < y->netns);
    if (!c)
        c = (i > j) - (i < j);
    return c;
}

/* Reorder sockets (and their holder ranges) by the sort key. */
int cli_sort_sockets(struct inspect_result *res, enum socket_sort key)
{
    size_t n = res->sockets.count;
    if (n < 2)
        return 0;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    struct socket_entry *sockets = malloc((n ? n : 1) * sizeof *sockets);
    uint32_t *start = malloc((n ? n : 1) * sizeof *start), *count = malloc((n ? n : 1) * sizeof *count);
    if (!order || !sockets || !start || !count) {
        free(order), free(sockets), free(start), free(count);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    struct sort_context ctx = { res, key };
    qsort_r(order, n, sizeof *order, compare_sockets, &ctx);
    for (size_t i = 0; i < n; i++) {
        sockets[i] = res->sockets.items[order[i]];
        if (res->holder_start) {
            start[i] = res->holder_start[order[i]];
            count[i] = res->holder_count[order[i]];
        }
    }
    memcpy(res->sockets.items, sockets, n * sizeof *sockets);
    if (res->holder_start) {
        memcpy(res->holder_start, start, n * sizeof *start);
        memcpy(res->holder_count, count, n * sizeof *count);
    }
    free(order), free(sockets), free(start), free(count);
    return 0;
}

int cmd_ls(int argc, char **argv, struct cli_context *ctx)
{
    struct inspect_options opt = { .processes = true };
    bool tcp = false, udp = false, sctp = false, listening = false, all = false, json = false, ndjson = false;
    enum socket_sort sort = SORT_PORT;
    struct portspec ports = { 0 };
    struct registry_index *ix = NULL;
    int rc = CLI_EXIT_OK, c;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "ls", cli_ls_options, argc, argv, 0);
    while (rc == CLI_EXIT_OK && (c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case 't': tcp = true; break;
        case 'u': udp = true; break;
        case 'S': sctp = true; break;
        case 'l': listening = true; break;
        case 'a': all = true; break;
        case '4': opt.query.ipv4 = true; break;
        case '6': opt.query.ipv6 = true; break;
        case OPT_PORT: rc = cli_parse_port_option(ctx, "ls", optarg, &ports, &ix); break;
        case OPT_PID: {
            char *end;
            unsigned long pid = strtoul(optarg, &end, 10);
            if (!*optarg || *end || pid == 0 || pid > UINT32_MAX)
                rc = cli_error(CLI_EXIT_USAGE, "ls", "--pid \"%s\": not a process id", optarg);
            opt.pid = (uint32_t)pid;
            break;
        }
        case OPT_PROCESS: opt.process_name = optarg; break;
        case OPT_USER:
            rc = cli_parse_user_option("ls", optarg, &opt.uid);
            opt.has_uid = true;
            break;
        case OPT_ALL_NETNS: opt.all_netns = true; break;
        case OPT_NO_PROCESSES: opt.processes = false; break;
        case OPT_METHOD: rc = cli_parse_method_option("ls", optarg, &opt.method); break;
        case OPT_SORT:
            if (strcmp(optarg, "port") == 0) sort = SORT_PORT;
            else if (strcmp(optarg, "process") == 0) sort = SORT_PROCESS;
            else if (strcmp(optarg, "address") == 0) sort = SORT_ADDRESS;
            else rc = cli_error(CLI_EXIT_USAGE, "ls", "--sort \"%s\": port, process or address", optarg);
            break;
        case OPT_JSON: json = true; break;
        case OPT_NDJSON: ndjson = true; break;
        case 'h': cli_options_print_help(stdout, ls_usage, cli_ls_options, ls_usage_tail); portspec_free(&ports); registry_index_close(ix); return CLI_EXIT_OK;
        default:
            rc = cli_options_error(&parser);
        }
    }
    if (rc == CLI_EXIT_OK && optind < argc)
        rc = cli_usage_error("ls", "unexpected argument '%s'", argv[optind]);
    if (rc != CLI_EXIT_OK) {
        portspec_free(&ports);
        registry_index_close(ix);
        return rc;
    }
    if (!tcp && !udp && !sctp)
        tcp = udp = true;
    opt.query.protos = (tcp ? 1u << REGISTRY_PROTO_TCP : 0) | (udp ? 1u << REGISTRY_PROTO_UDP : 0) |
                       (sctp ? 1u << REGISTRY_PROTO_SCTP : 0);
    if (!all)
        listening = true;
    opt.query.states = all ? SOCKET_STATE_ALL
                           : (1u << SOCKET_STATE_LISTEN) | (1u << SOCKET_STATE_CLOSE);
    opt.query.local_ports = ports.count ? &ports : NULL;

    struct inspect_result res;
    struct pr_error err;
    pr_error_clear(&err);
    if (inspect_run(&opt, &res, &err) < 0) {
        portspec_free(&ports);
        registry_index_close(ix);
        return cli_error_from(cli_exit_for_error(err.code), "ls", &err);
    }
    if (listening && !all) {
        /* a TCP/SCTP socket in CLOSE is bound but not listening: ss -l does not show it either */
        size_t kept = 0;
        for (size_t i = 0; i < res.sockets.count; i++) {
            const struct socket_entry *s = &res.sockets.items[i];
            if (s->proto != REGISTRY_PROTO_UDP && s->state != SOCKET_STATE_LISTEN)
                continue;
            res.sockets.items[kept] = *s;
            if (res.holder_start) {
                res.holder_start[kept] = res.holder_start[i];
                res.holder_count[kept] = res.holder_count[i];
            }
            kept++;
        }
        res.sockets.count = kept;
    }
    if (cli_sort_sockets(&res, sort) < 0)
        rc = cli_error(CLI_EXIT_FAILURE, "ls", "out of memory");

    struct local_ports host;
    cli_prepare_socket_view(ctx, &ix, &host);
    struct socket_view_context view = { &res, ix, &host, socket_view_cache_new() };
    if (rc == CLI_EXIT_OK) {
        if (json || ndjson) {
            socket_view_print_json(&view, ctx, ndjson);
        } else {
            struct socket_table_options table = { .show_peer = all, .show_netns = opt.all_netns };
            socket_view_print_table(&view, ctx, &table);
        }
        socket_view_warn_unattributed(&view, "ls");
        char gaps[512];
        if (inspect_netns_gaps(&res, gaps, sizeof gaps))
            fprintf(stderr, "portreg: ls: %s\n", gaps);
    }
    socket_view_cache_free(view.cache);
    inspect_result_free(&res);
    portspec_free(&ports);
    registry_index_close(ix);
    return rc;
}
