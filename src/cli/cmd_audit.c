/* cmd_audit.c — `portreg audit`: this host's port health. Every socket of this namespace in
 * every state with its processes (inspect_run), the port sysctls and the registry go through
 * the audit rules (doctor/audit.h); findings at or above --min-severity are printed as text or
 * one JSON document. Exit 0 when there is none, 1 when there is, 2 bad input, 3 failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "doctor/audit.h"
#include "registry/record.h"
#include "socket_view.h"
#include "util/json_writer.h"

static const char audit_usage[] =
    "usage: portreg audit [options]\n\n"
    "One report of this host's port health: listeners inside the unreserved ephemeral range,\n"
    "internal services (databases, caches, admin ports) listening on every address, dual-stack\n"
    "surprises, SO_REUSEPORT groups of different programs, ports held by a program other than\n"
    "the one IANA registered them to, TIME_WAIT piles on a server port, and reserved ports\n"
    "nobody listens on. Each finding comes with its evidence and a fix.\n\n";
static const char audit_usage_tail[] =
    "Run as root to see every process. Exit status: 0 no finding at or above the level,\n"
    "1 findings, 2 bad input, 3 failure.\n";

enum { OPT_MIN_SEVERITY = 256, OPT_TIME_WAIT, OPT_JSON };
const struct cli_option cli_audit_options[] = {
    { "min-severity", 0, CLI_OPTION_REQUIRED_VALUE, "LEVEL",
      "show findings at or above LEVEL: info, low (default),\n"
      "medium, high; the exit status follows the same level", OPT_MIN_SEVERITY, 0 },
    { "time-wait-threshold", 0, CLI_OPTION_REQUIRED_VALUE, "N",
      "TIME_WAIT sockets on one server port that make a pile\n(default 1000)", OPT_TIME_WAIT, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", OPT_JSON, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

static const char *registry_service(void *context, uint16_t port, uint8_t proto)
{
    struct socket_view_context *view = context;
    struct socket_entry probe = { .proto = proto, .local_port = port };
    return socket_view_service(view, &probe);
}

static const char *upper(const char *text, char *buf, size_t size)
{
    size_t i = 0;
    for (; text[i] && i + 1 < size; i++)
        buf[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 32 : text[i]);
    buf[i] = '\0';
    return buf;
}

/* Print text after a label, wrapped at width columns with a hanging indent. */
static void print_wrapped(const char *label, const char *text, unsigned indent, unsigned width)
{
    unsigned column = indent + (unsigned)strlen(label);
    printf("%*s%s", (int)indent, "", label);
    const char *p = text;
    while (*p) {
        const char *word_end = strchr(p, ' ');
        size_t len = word_end ? (size_t)(word_end - p) : strlen(p);
        if (column + len + 1 > width && column > indent + strlen(label)) {
            printf("\n%*s", (int)(indent + 4), "");
            column = indent + 4;
        } else if (p != text) {
            putchar(' ');
            column++;
        }
        fwrite(p, 1, len, stdout);
        column += (unsigned)len;
        p += len;
        while (*p == ' ')
            p++;
    }
    putchar('\n');
}

static const char *finding_place(const struct audit_finding *f, char *buf, size_t size)
{
    if (f->kind == AUDIT_RESERVED_UNUSED) {
        if (f->port_last > f->port)
            snprintf(buf, size, "ports %u-%u", f->port, f->port_last);
        else
            snprintf(buf, size, "port %u", f->port);
    } else if (f->address[0] == '*' || strcmp(f->address, "localhost") == 0 || !f->address[0]) {
        snprintf(buf, size, "%s %s:%u", registry_proto_name(f->proto), f->address[0] ? f->address : "*",
                 f->port);
    } else {
        snprintf(buf, size, "%s %s:%u", registry_proto_name(f->proto), f->address, f->port);
    }
    return buf;
}

/* "no findings at or above low (...)" or "3 findings at or above low (1 high, 2 low; ...)". */
static void print_summary(const struct cli_context *ctx, const struct audit_report *report, int min,
                          size_t shown, FILE *out)
{
    if (shown == 0) {
        fprintf(out, "%sno findings%s at or above %s (%zu socket%s, %zu listener%s examined)\n",
                cli_green(ctx), cli_reset(ctx), audit_severity_name((enum audit_severity)min),
                report->sockets_examined, report->sockets_examined == 1 ? "" : "s",
                report->listeners_examined, report->listeners_examined == 1 ? "" : "s");
        return;
    }
    fprintf(out, "%s%zu finding%s%s at or above %s (", cli_bold(ctx), shown, shown == 1 ? "" : "s",
            cli_reset(ctx), audit_severity_name((enum audit_severity)min));
    bool first = true;
    for (int s = AUDIT_SEVERITY_COUNT - 1; s >= min; s--)
        if (report->by_severity[s]) {
            fprintf(out, "%s%zu %s", first ? "" : ", ", report->by_severity[s],
                    audit_severity_name((enum audit_severity)s));
            first = false;
        }
    fprintf(out, "; %zu socket%s, %zu listener%s examined)\n", report->sockets_examined,
            report->sockets_examined == 1 ? "" : "s", report->listeners_examined,
            report->listeners_examined == 1 ? "" : "s");
}

/* Piped: one tab-separated row per finding (severity, id, protocol, where, title, evidence,
 * fix), no header; the summary goes to stderr. */
static void print_rows(const struct audit_report *report, int min)
{
    for (size_t i = 0; i < report->count; i++) {
        const struct audit_finding *f = &report->items[i];
        if ((int)f->severity < min)
            continue;
        char place[96];
        finding_place(f, place, sizeof place);
        const char *where = place;
        const char *space = strchr(place, ' ');
        if (f->kind != AUDIT_RESERVED_UNUSED && space)
            where = space + 1;                     /* "tcp 0.0.0.0:3306": the protocol has a column */
        else if (f->kind == AUDIT_RESERVED_UNUSED && space)
            where = space + 1;                     /* "ports 7000-7010" */
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\n", audit_severity_name(f->severity), audit_kind_id(f->kind),
               f->kind == AUDIT_RESERVED_UNUSED || !f->proto ? "-" : registry_proto_name(f->proto), where,
               f->title, f->evidence, f->fix);
    }
}

static void print_text(const struct cli_context *ctx, const struct audit_report *report, int min)
{
    size_t shown = 0;
    for (size_t i = 0; i < report->count; i++)
        if ((int)report->items[i].severity >= min)
            shown++;
    if (!ctx->stdout_is_tty) {
        print_rows(report, min);
        print_summary(ctx, report, min, shown, cli_summary_stream(ctx));
        return;
    }
    print_summary(ctx, report, min, shown, stdout);
    for (size_t i = 0; i < report->count; i++) {
        const struct audit_finding *f = &report->items[i];
        if ((int)f->severity < min)
            continue;
        char severity[16], place[96];
        const char *colour = f->severity >= AUDIT_MEDIUM ? cli_yellow(ctx) : "";
        printf("\n%s%-6s%s  %s  %s\n", colour, upper(audit_severity_name(f->severity), severity,
               sizeof severity), colour[0] ? cli_reset(ctx) : "", audit_kind_id(f->kind),
               finding_place(f, place, sizeof place));
        print_wrapped("", f->title, 2, 100);
        print_wrapped("evidence: ", f->evidence, 2, 100);
        print_wrapped("fix: ", f->fix, 2, 100);
    }
}

static json_t *finding_socket_json(const struct socket_view_context *view, uint32_t i)
{
    const struct inspect_result *res = view->res;
    const struct socket_entry *s = &res->sockets.items[i];
    char addr[64], unit[128];
    json_t *o = json_object();
    json_object_set_new(o, "proto", json_string(registry_proto_name(s->proto)));
    json_object_set_new(o, "state", json_string(socket_state_name(s->proto, s->state)));
    json_object_set_new(o, "local_address", json_string(socket_address_text(s->family, s->local_addr,
                                                                            addr, sizeof addr)));
    json_object_set_new(o, "local_port", json_integer(s->local_port));
    json_object_set_new(o, "v6only", s->family == AF_INET6 ? json_boolean(s->v6only) : json_null());
    json_t *processes = json_array();
    for (uint32_t h = 0; res->processes_looked_up && h < res->holder_count[i]; h++) {
        const struct process_info *p = inspect_process(res, res->holders[res->holder_start[i] + h].pid);
        if (!p)
            continue;
        json_t *po = json_object();
        json_object_set_new(po, "pid", json_integer(p->pid));
        json_object_set_new(po, "command", json_text(p->comm));
        json_array_append_new(processes, po);
    }
    json_object_set_new(o, "processes", processes);
    const char *u = socket_view_unit(view, i, unit, sizeof unit);
    json_object_set_new(o, "unit", strcmp(u, "-") ? json_text(u) : json_null());
    return o;
}

static int print_json(const struct cli_context *ctx, const struct socket_view_context *view,
                      const struct audit_report *report, int min)
{
    json_t *doc = json_object();
    json_object_set_new(doc, "min_severity", json_string(audit_severity_name((enum audit_severity)min)));
    json_object_set_new(doc, "sockets_examined", json_integer((json_int_t)report->sockets_examined));
    json_object_set_new(doc, "listeners_examined", json_integer((json_int_t)report->listeners_examined));
    json_t *counts = json_object();
    for (int s = 0; s < AUDIT_SEVERITY_COUNT; s++)
        json_object_set_new(counts, audit_severity_name((enum audit_severity)s),
                            json_integer((json_int_t)report->by_severity[s]));
    json_object_set_new(doc, "counts", counts);
    json_t *findings = json_array();
    for (size_t i = 0; i < report->count; i++) {
        const struct audit_finding *f = &report->items[i];
        if ((int)f->severity < min)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(audit_kind_id(f->kind)));
        json_object_set_new(o, "severity", json_string(audit_severity_name(f->severity)));
        json_object_set_new(o, "proto", f->proto ? json_string(registry_proto_name(f->proto)) : json_null());
        json_object_set_new(o, "address", f->address[0] ? json_text(f->address) : json_null());
        json_object_set_new(o, "port", json_integer(f->port));
        json_object_set_new(o, "port_last", json_integer(f->port_last));
        json_object_set_new(o, "title", json_text(f->title));
        json_object_set_new(o, "evidence", json_text(f->evidence));
        json_object_set_new(o, "fix", json_text(f->fix));
        json_t *sockets = json_array();
        for (size_t k = 0; k < f->socket_count; k++)
            json_array_append_new(sockets, finding_socket_json(view, f->sockets[k]));
        json_object_set_new(o, "sockets", sockets);
        json_array_append_new(findings, o);
    }
    json_object_set_new(doc, "findings", findings);
    return cli_print_json(ctx, doc);
}

int cmd_audit(int argc, char **argv, struct cli_context *ctx)
{
    int min = AUDIT_LOW;
    bool json = false;
    struct audit_options audit_opt = { 0 };
    int c;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "audit", cli_audit_options, argc, argv, 0);
    while ((c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case OPT_MIN_SEVERITY:
            min = audit_severity_parse(optarg);
            if (min < 0)
                return cli_usage_error("audit", "--min-severity \"%s\": expected info, low, medium "
                                       "or high", optarg);
            break;
        case OPT_TIME_WAIT: {
            char *end;
            unsigned long n = strtoul(optarg, &end, 10);
            if (!*optarg || *end || n == 0 || n > UINT32_MAX || optarg[0] == '-')
                return cli_usage_error("audit", "--time-wait-threshold \"%s\": expected a count "
                                       "of 1 or more", optarg);
            audit_opt.time_wait_threshold = (uint32_t)n;
            break;
        }
        case OPT_JSON: json = true; break;
        case 'h': cli_options_print_help(stdout, audit_usage, cli_audit_options, audit_usage_tail); return CLI_EXIT_OK;
        default:
            return cli_options_error(&parser);
        }
    }
    if (optind < argc)
        return cli_usage_error("audit", "unexpected argument \"%s\"", argv[optind]);

    struct inspect_options opt = { .processes = true };
    opt.query.protos = (1u << REGISTRY_PROTO_TCP) | (1u << REGISTRY_PROTO_UDP);
    opt.query.states = SOCKET_STATE_ALL;
    struct inspect_result res;
    struct pr_error err;
    pr_error_clear(&err);
    if (inspect_run(&opt, &res, &err) < 0)
        return cli_error_from(cli_exit_for_error(err.code), "audit", &err);
    struct registry_index *ix = NULL;
    struct local_ports host;
    cli_prepare_socket_view(ctx, &ix, &host);
    struct socket_view_context view = { &res, ix, &host, socket_view_cache_new() };
    audit_opt.service = registry_service;
    audit_opt.service_ctx = &view;
    struct audit_report report;
    int rc;
    if (audit_run(&res, &host, &audit_opt, &report, &err) < 0) {
        rc = cli_error_from(cli_exit_for_error(err.code), "audit", &err);
    } else {
        if (json)
            print_json(ctx, &view, &report, min);
        else
            print_text(ctx, &report, min);
        socket_view_warn_unattributed(&view, "audit");
        rc = CLI_EXIT_OK;
        for (int s = min; s < AUDIT_SEVERITY_COUNT; s++)
            if (report.by_severity[s])
                rc = CLI_EXIT_NO;
        audit_report_free(&report);
    }
    socket_view_cache_free(view.cache);
    inspect_result_free(&res);
    registry_index_close(ix);
    return rc;
}
