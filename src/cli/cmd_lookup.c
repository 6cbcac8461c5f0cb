/* cmd_lookup.c — `portreg lookup QUERY…`: what the registry says about ports, ranges, names
 * and keywords, with the range class and this host's ephemeral/reserved status of the port.
 * Thin: parse arguments, run lookup_query_parse/lookup_run, render cards, a table or JSON. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "doctor/lookup_facts.h"
#include "net/local_ports.h"
#include "registry/lookup.h"
#include "registry/range_class.h"
#include "registry/registry_json.h"
#include "util/text_escape.h"

static const char lookup_usage[] =
    "usage: portreg lookup [options] QUERY...\n"
    "       portreg lookup --search WORDS...\n\n"
    "QUERY is a port (3306), a range (6000-6010), PORT/PROTO (53/udp), a port spec\n"
    "(22,80,443 or T:80,U:53), or a service name or alias (mysql, mysql/tcp).\n\n";
static const char lookup_usage_tail[] =
    "Exit status: 0 every query found an assignment, 1 some query found none (unassigned,\n"
    "reserved or unknown), 2 bad query, 3 the registry cannot be read.\n";

const struct cli_option cli_lookup_options[] = {
    { "search", 's', CLI_OPTION_NO_VALUE, NULL, "the arguments are words to find in names and descriptions", 's', 0 },
    { "proto", 'p', CLI_OPTION_REQUIRED_VALUE, "PROTO", "only tcp, udp, sctp or dccp records", 'p', 0 },
    { "long", 'l', CLI_OPTION_NO_VALUE, NULL, "show every record in full (default for a port or a name)", 'l', 0 },
    { "short", 0, CLI_OPTION_NO_VALUE, NULL, "one line per record (default for ranges and searches)", 'S', 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", 'j', 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

enum lookup_layout { LAYOUT_AUTO, LAYOUT_LONG, LAYOUT_SHORT };

static void format_port(const struct registry_record *rec, char *buf, size_t size)
{
    if (!rec->has_port)
        snprintf(buf, size, "-/%s", registry_proto_name(rec->proto));
    else if (rec->port_first == rec->port_last)
        snprintf(buf, size, "%u/%s", rec->port_first, registry_proto_name(rec->proto));
    else
        snprintf(buf, size, "%u-%u/%s", rec->port_first, rec->port_last, registry_proto_name(rec->proto));
}

/* Registry text as shown: the registry files (a downloaded CSV among them) may hold terminal
 * escapes or bytes that are not UTF-8, so text is shown in its util/text_escape.h form. Returns
 * s itself, or a copy in *owned that the caller frees. */
static const char *shown_text(const char *s, char **owned)
{
    *owned = NULL;
    if (!s || !text_escape_needed(s, strlen(s)))
        return s;
    *owned = text_escape_dup(s, strlen(s));
    return *owned ? *owned : "?";
}

static void print_field(const struct cli_context *ctx, const char *label, const char *value)
{
    if (value && value[0]) {
        char *owned;
        printf("  %s%-12s%s %s\n", cli_dim(ctx), label, cli_reset(ctx), shown_text(value, &owned));
        free(owned);
    }
}

/* One record in full; asked: the port of a single-port query (its own open-frequency), or 0. */
static void print_record_card(const struct cli_context *ctx, const struct registry_index *ix,
                              uint32_t id, uint16_t asked)
{
    struct registry_record rec;
    struct registry_source_info src;
    registry_index_record(ix, id, &rec);
    registry_index_source(ix, registry_index_record_source(ix, id), &src);
    char port[32];
    format_port(&rec, port, sizeof port);
    bool from_iana = registry_record_from_iana(ix, id);
    bool assigned = rec.status == REGISTRY_STATUS_ASSIGNED && from_iana;
    char *service_owned = NULL, *description_owned;
    printf("%s%s%s  %s%s%s%s%s\n", cli_bold(ctx), port, cli_reset(ctx),
           assigned ? cli_green(ctx) : cli_yellow(ctx),
           rec.service[0] ? shown_text(rec.service, &service_owned) : registry_status_name(rec.status),
           cli_reset(ctx), rec.description[0] ? "  " : "", shown_text(rec.description, &description_owned));
    free(service_owned);
    free(description_owned);
    if (!from_iana) {
        char *path_owned;
        char text[4200];
        snprintf(text, sizeof text, "not an IANA assignment: listed only in %s",
                 shown_text(src.path, &path_owned));
        free(path_owned);
        print_field(ctx, "status", text);
    } else if (!assigned && rec.has_port) {
        char block[96];
        const char *who = src.kind == REGISTRY_SOURCE_IANA_CSV ? "IANA " : "";
        if (rec.port_first == rec.port_last)
            snprintf(block, sizeof block, "%s \u2014 %sblock %u", registry_status_name(rec.status), who,
                     rec.port_first);
        else
            snprintf(block, sizeof block, "%s \u2014 %sblock %u\u2013%u", registry_status_name(rec.status),
                     who, rec.port_first, rec.port_last);
        print_field(ctx, "status", block);
    }
    if (rec.has_port) {
        enum port_range_class cls = port_range_class_of(rec.port_first);
        print_field(ctx, "range", port_range_class_label(cls));
    } else {
        print_field(ctx, "range", "no port: a service name registered without a port");
    }
    print_field(ctx, "assignee", rec.assignee);
    print_field(ctx, "contact", rec.contact);
    print_field(ctx, "registered", rec.registration_date);
    print_field(ctx, "modified", rec.modification_date);
    print_field(ctx, "reference", rec.reference);
    print_field(ctx, "service code", rec.service_code);
    print_field(ctx, "unauthorized", rec.unauthorized_use);
    print_field(ctx, "notes", rec.assignment_notes);
    print_field(ctx, "aliases", rec.aliases);
    if (rec.has_port && rec.proto != REGISTRY_PROTO_ANY) {
        const char *nmap_name;
        uint32_t rank;
        uint16_t at = registry_record_frequency_port(&rec, asked);
        double f = registry_index_frequency(ix, at, rec.proto, &nmap_name, &rank);
        if (rank && f > 0) {
            char text[160], of_port[32] = "";
            if (rec.port_first != rec.port_last)
                snprintf(of_port, sizeof of_port, "port %u, ", at);
            snprintf(text, sizeof text, "%.6f (%srank %u among %s ports, nmap-services)", f,
                     of_port, rank, registry_proto_name(rec.proto));
            print_field(ctx, "open freq", text);
        }
    }
    char where[4200];
    snprintf(where, sizeof where, "%s:%u", src.path, rec.line);
    print_field(ctx, "source", where);
}

static void print_host_line(const struct cli_context *ctx, uint16_t port, const struct local_ports *host)
{
    if (!host->have_ephemeral)
        return;
    char text[256];
    bool ephemeral = local_ports_is_ephemeral(host, port);
    bool reserved = host->have_reserved && local_ports_is_reserved(host, port);
    snprintf(text, sizeof text, "%s the ephemeral range %u\u2013%u%s", ephemeral ? "inside" : "outside",
             host->ephemeral.first, host->ephemeral.last,
             reserved ? "; listed in ip_local_reserved_ports"
             : ephemeral ? "; not reserved: outgoing connections may take it (see ip_local_reserved_ports)"
                         : "; not in ip_local_reserved_ports");
    printf("%sthis host:%s %u is %s\n", cli_dim(ctx), cli_reset(ctx), port, text);
}

static void print_answer_long(const struct cli_context *ctx, const struct registry_index *ix,
                              const struct lookup_query *q, const struct lookup_result *res,
                              const struct local_ports *host)
{
    if (res->count == 0) {
        if (q->kind == LOOKUP_KIND_PORTS && q->single_port) {
            uint16_t port = q->spec.ranges[0].first;
            printf("%s%u%s  %snot in the registry%s: unassigned\n", cli_bold(ctx), port, cli_reset(ctx),
                   cli_yellow(ctx), cli_reset(ctx));
            print_field(ctx, "range", port_range_class_label(port_range_class_of(port)));
        } else {
            char *owned;
            printf("%s: %snothing in the registry%s\n", shown_text(q->text, &owned), cli_yellow(ctx),
                   cli_reset(ctx));
            free(owned);
        }
    }
    uint16_t asked = q->kind == LOOKUP_KIND_PORTS && q->single_port ? q->spec.ranges[0].first : 0;
    for (size_t i = 0; i < res->count; i++)
        print_record_card(ctx, ix, res->records[i], asked);
    if (q->kind == LOOKUP_KIND_PORTS && q->single_port)
        print_host_line(ctx, q->spec.ranges[0].first, host);
}

static void add_answer_rows(struct cli_table *table, const struct registry_index *ix,
                            const struct lookup_result *res)
{
    for (size_t i = 0; i < res->count; i++) {
        struct registry_record rec;
        registry_index_record(ix, res->records[i], &rec);
        char port[32], *service_owned = NULL, *description_owned;
        format_port(&rec, port, sizeof port);
        /* a name only the host's services file lists is not IANA's: "local" */
        const char *cells[] = { port, rec.service[0] ? shown_text(rec.service, &service_owned) : "-",
                                registry_record_from_iana(ix, res->records[i])
                                    ? registry_status_name(rec.status) : "local",
                                shown_text(rec.description, &description_owned) };
        cli_table_add_row(table, cells);
        free(service_owned);
        free(description_owned);
    }
}

struct query_batch {
    struct lookup_query *queries;
    struct lookup_result *results;
    int count;
    int parsed;            /* queries[0..parsed) hold memory to free */
};

static void query_batch_clear(struct query_batch *batch)
{
    for (int i = 0; i < batch->parsed; i++) {
        lookup_query_free(&batch->queries[i]);
        lookup_result_free(&batch->results[i]);
    }
    batch->parsed = 0;
}

/* Parse texts[0..count) (one search text when search) and run each against ix. */
static int parse_and_run_queries(const struct registry_index *ix, char *const *texts, bool search,
                                 uint8_t proto, struct query_batch *batch)
{
    struct pr_error err;
    for (int i = 0; i < batch->count; i++) {
        const char *text = texts[i];
        pr_error_clear(&err);
        int r = search ? lookup_query_search(text, proto, &batch->queries[i], &err)
                       : lookup_query_parse(ix, text, proto, &batch->queries[i], &err);
        if (r < 0) {
            char what[300];
            char *owned;
            snprintf(what, sizeof what, "lookup: \"%s\"", shown_text(text, &owned));
            free(owned);
            if (err.column)
                snprintf(err.path, sizeof err.path, "argument %d, column %u", i + 1,
                         cli_argument_column(text, err.line, err.column));
            lookup_query_free(&batch->queries[i]);
            return cli_error(r == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE, what, "%s%s%s",
                             err.path[0] ? err.path : "", err.path[0] ? ": " : "", err.message);
        }
        batch->parsed++;
        if (lookup_run(ix, &batch->queries[i], &batch->results[i]) < 0)
            return cli_error(CLI_EXIT_FAILURE, "lookup", "out of memory");
    }
    return CLI_EXIT_OK;
}

int cmd_lookup(int argc, char **argv, struct cli_context *ctx)
{
    bool search = false, json = false;
    enum lookup_layout layout = LAYOUT_AUTO;
    uint8_t proto = REGISTRY_PROTO_ANY;
    int opt;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "lookup", cli_lookup_options, argc, argv, CLI_OPTIONS_NEGATIVE_OPERANDS);
    while ((opt = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (opt) {
        case 's': search = true; break;
        case 'l': layout = LAYOUT_LONG; break;
        case 'S': layout = LAYOUT_SHORT; break;
        case 'j': json = true; break;
        case 'h':
            cli_options_print_help(stdout, lookup_usage, cli_lookup_options, lookup_usage_tail);
            return CLI_EXIT_OK;
        case 'p': {
            int p = registry_proto_parse(optarg, strlen(optarg));
            if (p < 0)
                return cli_usage_error("lookup", "--proto: unknown protocol \"%s\" (tcp, udp, sctp or dccp)", optarg);
            proto = (uint8_t)p;
            break;
        }
        default:
            return cli_options_error(&parser);
        }
    }
    if (optind >= argc)
        return cli_usage_error("lookup", "give at least one query");

    struct registry_paths paths;
    struct registry_index *ix = NULL;
    struct registry_open_report report;
    int rc = cli_open_registry(ctx, &paths, &ix, &report);
    if (rc != CLI_EXIT_OK)
        return rc;

    struct local_ports host;
    struct pr_error err;
    pr_error_clear(&err);
    if (local_ports_read(NULL, &host, &err) < 0) {
        char buf[1200];
        cli_warning("%s", pr_error_format(&err, buf, sizeof buf));
        memset(&host, 0, sizeof host);
    }

    /* a search joins every argument into one set of words */
    char *joined = NULL;
    int query_count = argc - optind;
    if (search) {
        size_t len = 1;
        for (int i = optind; i < argc; i++)
            len += strlen(argv[i]) + 1;
        joined = calloc(1, len);
        if (!joined)
            abort();
        for (int i = optind; i < argc; i++) {
            strcat(joined, argv[i]);
            if (i + 1 < argc)
                strcat(joined, " ");
        }
        query_count = 1;
    }

    struct lookup_query *queries = calloc((size_t)query_count, sizeof *queries);
    struct lookup_result *results = calloc((size_t)query_count, sizeof *results);
    if (!queries || !results)
        abort();
    struct query_batch batch = { queries, results, query_count, 0 };
    rc = parse_and_run_queries(ix, search ? (char *const *)&joined : argv + optind, search, proto, &batch);
    if (rc == CLI_EXIT_OK && registry_index_damage(ix)) {
        /* a block the queries read was damaged: rebuild the index and ask again */
        query_batch_clear(&batch);
        rc = cli_recover_registry(&paths, &ix, &report);
        if (rc == CLI_EXIT_OK)
            rc = parse_and_run_queries(ix, search ? (char *const *)&joined : argv + optind, search,
                                       proto, &batch);
    }

    if (rc == CLI_EXIT_OK) {
        bool all_found = true;
        for (int i = 0; i < query_count; i++)
            all_found = all_found && results[i].found;
        if (json) {
            json_t *doc = json_object();
            json_t *answers = json_array();
            for (int i = 0; i < query_count; i++) {
                struct lookup_host_facts facts;
                bool have_facts = lookup_host_facts_for_query(&host, &queries[i], &facts);
                json_array_append_new(answers, lookup_answer_json(ix, &queries[i], &results[i],
                                                                  have_facts ? &facts : NULL));
            }
            json_object_set_new(doc, "queries", answers);
            rc = cli_print_json(ctx, doc);
        } else {
            struct cli_table *table = NULL;
            for (int i = 0; i < query_count; i++) {
                bool is_long = layout == LAYOUT_LONG ||
                               (layout == LAYOUT_AUTO && (queries[i].kind == LOOKUP_KIND_NAME ||
                                                          (queries[i].kind == LOOKUP_KIND_PORTS && queries[i].single_port)));
                if (is_long) {
                    if (i > 0)
                        putchar('\n');
                    print_answer_long(ctx, ix, &queries[i], &results[i], &host);
                    continue;
                }
                if (results[i].count == 0) {
                    char *owned;
                    printf("%s: %snothing in the registry%s\n", shown_text(queries[i].text, &owned),
                           cli_yellow(ctx), cli_reset(ctx));
                    free(owned);
                    continue;
                }
                static const char *const headers[] = { "PORT", "SERVICE", "STATUS", "DESCRIPTION" };
                table = cli_table_new(4, headers);
                add_answer_rows(table, ix, &results[i]);
                cli_table_print(table, ctx, stdout);
                cli_table_free(table);
            }
        }
        if (rc == CLI_EXIT_OK && !all_found)
            rc = CLI_EXIT_NO;
    }
    query_batch_clear(&batch);
    free(queries);
    free(results);
    free(joined);
    registry_index_close(ix);
    return rc;
}
