/* cmd_who.c — `portreg who PORT[/PROTO]|NAME`: every socket on that local port in every state,
 * its processes, and a one-line verdict per bound socket ("held by nginx (pid 812,
 * nginx.service) on 0.0.0.0 — every IPv4 address"). Exit 0 when something holds it, 1 when
 * nothing does, 3 when nothing was found but --all-netns could not search every namespace.
 * Thin over inspect_run() and socket_view. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "net/exposure.h"
#include "registry/record.h"
#include "socket_view.h"

static const char who_usage[] =
    "usage: portreg who [options] PORT[/PROTO]|NAME...\n\n"
    "Every socket on the port, in every state, and the processes holding it.\n\n";
static const char who_usage_tail[] =
    "Exit status: 0 something holds the port, 1 nothing does, 2 bad input, 3 failure (also:\n"
    "nothing found, but --all-netns could not search every namespace).\n";

enum { OPT_ALL_NETNS = 256, OPT_METHOD, OPT_JSON };
const struct cli_option cli_who_options[] = {
    { "all-netns", 0, CLI_OPTION_NO_VALUE, NULL, "look in every network namespace of the host", OPT_ALL_NETNS, 0 },
    { "method", 0, CLI_OPTION_REQUIRED_VALUE, "M", "how processes are found: auto (default), bpf, proc", OPT_METHOD, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", OPT_JSON, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

static bool socket_binds_port(const struct socket_entry *s)
{
    return s->state == SOCKET_STATE_LISTEN ||
           (s->proto == REGISTRY_PROTO_UDP && s->state == SOCKET_STATE_CLOSE) ||
           (s->proto == REGISTRY_PROTO_TCP && s->state == SOCKET_STATE_CLOSE);
}

/* One line per bound socket, then the connections and TIME-WAIT sockets counted; on out (the
 * terminal under the table, or stderr when stdout is piped: cli_summary_stream). */
static void print_verdicts(const struct socket_view_context *v, const struct cli_context *ctx, FILE *out)
{
    const struct inspect_result *res = v->res;
    size_t bound = 0, connections = 0, time_wait = 0;
    for (size_t i = 0; i < res->sockets.count; i++) {
        const struct socket_entry *s = &res->sockets.items[i];
        if (!socket_binds_port(s)) {
            if (s->state == SOCKET_STATE_TIME_WAIT)
                time_wait++;
            else
                connections++;
            continue;
        }
        bound++;
        char addr[64], unit[160], who[256];
        socket_address_text(s->family, s->local_addr, addr, sizeof addr);
        socket_view_unit(v, i, unit, sizeof unit);
        if (res->processes_looked_up && res->holder_count[i]) {
            const struct socket_holder *h = &res->holders[res->holder_start[i]];
            const struct process_info *p = inspect_process(res, h->pid);
            snprintf(who, sizeof who, "%s (pid %u%s%s)", p && p->comm[0] ? p->comm : "?", h->pid,
                     strcmp(unit, "-") ? ", " : "", strcmp(unit, "-") ? unit : "");
            if (res->holder_count[i] > 1)
                snprintf(who + strlen(who), sizeof who - strlen(who), " and %u more", res->holder_count[i] - 1);
        } else {
            snprintf(who, sizeof who, "a socket of %s (uid %u; process not visible)", uid_name(v->cache, s->uid), s->uid);
        }
        const char *verb = s->state == SOCKET_STATE_LISTEN ? "listening" : "bound";
        fprintf(out, "%s%s %u%s %s: %s on %s%s%s \u2014 %s\n", cli_bold(ctx), registry_proto_name(s->proto),
               s->local_port, cli_reset(ctx), verb, who, s->family == AF_INET6 ? "[" : "", addr,
               s->family == AF_INET6 ? "]" : "", socket_exposure_label(socket_exposure_of(s)));
    }
    if (connections)
        fprintf(out, "%zu connection%s the port\n", connections, connections == 1 ? " uses" : "s use");
    if (time_wait)
        fprintf(out, "%zu socket%s in TIME-WAIT still hold%s the port\n", time_wait, time_wait == 1 ? "" : "s",
                time_wait == 1 ? "s" : "");
    (void)bound;
}

int cmd_who(int argc, char **argv, struct cli_context *ctx)
{
    struct inspect_options opt = { .processes = true };
    bool json = false;
    int c;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "who", cli_who_options, argc, argv, CLI_OPTIONS_NEGATIVE_OPERANDS);
    while ((c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case OPT_ALL_NETNS: opt.all_netns = true; break;
        case OPT_METHOD:
            if (cli_parse_method_option("who", optarg, &opt.method) != CLI_EXIT_OK)
                return CLI_EXIT_USAGE;
            break;
        case OPT_JSON: json = true; break;
        case 'h': cli_options_print_help(stdout, who_usage, cli_who_options, who_usage_tail); return CLI_EXIT_OK;
        default:
            return cli_options_error(&parser);
        }
    }
    if (optind >= argc)
        return cli_usage_error("who", "give a port, PORT/PROTO or a service name");

    struct portspec ports = { 0 };
    struct registry_index *ix = NULL;
    int rc = CLI_EXIT_OK;
    for (int i = optind; i < argc && rc == CLI_EXIT_OK; i++)
        rc = cli_parse_port_spec(ctx, "who", NULL, argv[i], &ports, &ix);
    if (rc != CLI_EXIT_OK) {
        portspec_free(&ports);
        registry_index_close(ix);
        return rc;
    }
    unsigned protos = 0;
    for (size_t i = 0; i < ports.count; i++)
        protos |= ports.ranges[i].proto == REGISTRY_PROTO_ANY
                      ? (1u << REGISTRY_PROTO_TCP) | (1u << REGISTRY_PROTO_UDP) | (1u << REGISTRY_PROTO_SCTP)
                      : 1u << ports.ranges[i].proto;
    opt.query.protos = protos;
    opt.query.states = SOCKET_STATE_ALL;
    opt.query.local_ports = &ports;

    struct inspect_result res;
    struct pr_error err;
    pr_error_clear(&err);
    if (inspect_run(&opt, &res, &err) < 0) {
        portspec_free(&ports);
        registry_index_close(ix);
        return cli_error_from(cli_exit_for_error(err.code), "who", &err);
    }
    cli_sort_sockets(&res, SORT_PORT);
    struct local_ports host;
    cli_prepare_socket_view(ctx, &ix, &host);
    struct socket_view_context view = { &res, ix, &host, socket_view_cache_new() };
    /* a search that could not enter every namespace has no negative answer */
    bool incomplete = inspect_netns_incomplete(&res);
    char gaps[512];
    if (inspect_netns_gaps(&res, gaps, sizeof gaps))
        fprintf(stderr, "portreg: who: %s\n", gaps);
    if (json) {
        socket_view_print_json(&view, ctx, false);
    } else if (res.sockets.count == 0 && incomplete) {
        fprintf(cli_summary_stream(ctx), "nothing holds %s%s in the network namespaces that could be searched; not every one "
               "could\n", argv[optind], argc - optind > 1 ? " (or the other ports asked)" : "");
    } else if (res.sockets.count == 0) {
        fprintf(cli_summary_stream(ctx), "nothing holds %s%s\n", argv[optind], argc - optind > 1 ? " (or the other ports asked)" : "");
    } else {
        struct socket_table_options table = { .show_peer = true, .show_netns = opt.all_netns };
        socket_view_print_table(&view, ctx, &table);
        /* piped: stdout is the rows only, the verdicts go to stderr (as fuser(1) does) */
        if (ctx->stdout_is_tty)
            putchar('\n');
        print_verdicts(&view, ctx, cli_summary_stream(ctx));
    }
    socket_view_warn_unattributed(&view, "who");
    rc = res.sockets.count ? CLI_EXIT_OK : incomplete ? CLI_EXIT_FAILURE : CLI_EXIT_NO;
    socket_view_cache_free(view.cache);
    inspect_result_free(&res);
    portspec_free(&ports);
    registry_index_close(ix);
    return rc;
}
