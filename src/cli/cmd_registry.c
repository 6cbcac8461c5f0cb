/* cmd_registry.c — `portreg registry info|update|rebuild`: which sources the registry uses,
 * how many records and how old; fetch a new IANA CSV (libcurl) and replace it atomically;
 * force a recompile of the index. Thin over sources.c and update.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "registry/registry_json.h"
#include "registry/update.h"

static const char registry_usage[] =
    "usage: portreg registry info [--json]\n"
    "       portreg registry update [--from PATH|URL] [--force] [--json]\n"
    "       portreg registry rebuild [--json]\n\n"
    "info     the sources in use (path, role, records per protocol, newest date), the index\n"
    "update   download IANA's CSV (or read --from PATH|URL, 64 MiB at most), validate it\n"
    "         completely, then install it and its index together; on any failure the old\n"
    "         registry stays in use\n"
    "rebuild  compile the index from the sources now\n\n";

const struct cli_option cli_registry_options[] = {
    { "from", 0, CLI_OPTION_REQUIRED_VALUE, "PATH|URL", "where update reads the IANA CSV (default: IANA's URL)", 'f', 0 },
    { "force", 0, CLI_OPTION_NO_VALUE, NULL, "accept a registry less than half the size of the one in use", 'F', 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", 'j', 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

static void format_age(int64_t seconds, char *buf, size_t size)
{
    if (seconds < 0)
        seconds = 0;
    if (seconds < 120)
        snprintf(buf, size, "%" PRId64 " s ago", seconds);
    else if (seconds < 7200)
        snprintf(buf, size, "%" PRId64 " min ago", seconds / 60);
    else if (seconds < 172800)
        snprintf(buf, size, "%" PRId64 " h ago", seconds / 3600);
    else
        snprintf(buf, size, "%" PRId64 " days ago", seconds / 86400);
}

static int print_info(const struct cli_context *ctx, const struct registry_index *ix,
                      const struct registry_paths *paths, const struct registry_open_report *report,
                      bool json)
{
    if (json)
        return cli_print_json(ctx, registry_info_json(ix, paths, report));
    static const char *const headers[] = { "SOURCE", "KIND", "ROLE", "RECORDS", "TCP", "UDP",
                                           "SCTP", "DCCP", "ANY", "NEWEST", "MODIFIED" };
    struct cli_table *table = cli_table_new(11, headers);
    time_t now = time(NULL);
    for (uint32_t i = 0; i < registry_index_source_count(ix); i++) {
        struct registry_source_info s;
        registry_index_source(ix, i, &s);
        char counts[6][16], modified[48] = "-";
        snprintf(counts[0], sizeof counts[0], "%u", s.record_count);
        for (int p = 1; p < REGISTRY_PROTO_COUNT; p++)
            snprintf(counts[p], sizeof counts[p], "%u", s.per_proto[p]);
        snprintf(counts[5], sizeof counts[5], "%u", s.per_proto[REGISTRY_PROTO_ANY]);
        if (s.size >= 0) {
            char when[32], age[32];
            registry_format_time(s.mtime_ns / 1000000000, when, sizeof when);
            format_age((int64_t)now - s.mtime_ns / 1000000000, age, sizeof age);
            snprintf(modified, sizeof modified, "%.10s (%s)", when, age);
        }
        bool used = s.role == REGISTRY_ROLE_PRIMARY || s.role == REGISTRY_ROLE_MERGED ||
                    s.role == REGISTRY_ROLE_FREQUENCY;
        const char *cells[] = { s.path[0] ? s.path : "(disabled)", registry_source_kind_name(s.kind),
                                registry_source_role_name(s.role), used ? counts[0] : "-",
                                used ? counts[1] : "-", used ? counts[2] : "-", used ? counts[3] : "-",
                                used ? counts[4] : "-", used ? counts[5] : "-",
                                s.newest_date[0] ? s.newest_date : "-", modified };
        cli_table_add_row(table, cells);
    }
    cli_table_print(table, ctx, stdout);
    cli_table_free(table);
    for (uint32_t i = 0; i < registry_index_source_count(ix); i++) {
        struct registry_source_info s;
        registry_index_source(ix, i, &s);
        if (s.note[0])
            printf("note: %s: %s\n", s.path, s.note);
    }
    char when[32], age[32];
    registry_format_time(registry_index_built_at(ix), when, sizeof when);
    format_age((int64_t)now - registry_index_built_at(ix), age, sizeof age);
    printf("records: %u in the registry\n", registry_index_record_count(ix));
    printf("index: %s (%zu bytes, built %s, %s)%s\n", paths->index, registry_index_image_size(ix),
           when, age, report->index_saved ? "" : " — not saved, kept in memory");
    if (report->rebuilt)
        printf("index rebuilt now: %s\n", report->rebuild_reason[0] ? report->rebuild_reason : "asked to");
    return CLI_EXIT_OK;
}

struct progress_state {
    const struct cli_context *ctx;
    uint64_t last_shown;
};

static void show_progress(void *ctx_ptr, uint64_t done, uint64_t total)
{
    struct progress_state *p = ctx_ptr;
    if (!p->ctx->stderr_is_tty || done == p->last_shown)
        return;
    p->last_shown = done;
    if (total)
        fprintf(stderr, "\rdownloading %6.1f / %.1f KiB  %3u%%", (double)done / 1024.0,
                (double)total / 1024.0, (unsigned)(done * 100 / total));
    else
        fprintf(stderr, "\rdownloading %6.1f KiB", (double)done / 1024.0);
}

static int run_update(const struct cli_context *ctx, const char *from, bool force, bool json)
{
    struct registry_paths paths;
    struct pr_error err;
    pr_error_clear(&err);
    if (registry_paths_init(&paths, ctx->state_dir, &err) < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "registry update", &err);
    struct progress_state progress = { ctx, 0 };
    struct registry_update_options opt = { from, force, show_progress, &progress };
    struct registry_update_result result;
    int r = registry_update(&paths, &opt, &result, &err);
    if (progress.last_shown)
        fputc('\n', stderr);
    if (r < 0) {
        /* bad input (not a registry, too small, too big; a --from file that cannot be read)
         * is 2; I/O, a download, a state directory or file refused is 3 */
        bool from_file = from && !strstr(from, "://") && strcmp(err.path, from) == 0;
        int code = from_file ? cli_exit_for_input_error(r)
                   : r == -EINVAL || r == -EFBIG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        cli_error_from(code, "registry update", &err);
        fputs("portreg: registry update: nothing was changed; the registry in use stays as it was\n", stderr);
        return code;
    }
    if (json) {
        json_t *doc = json_pack("{s:s, s:I, s:I, s:o, s:I, s:s}", "source", from ? from : REGISTRY_DEFAULT_URL,
                                "records", (json_int_t)result.records, "previous_records",
                                (json_int_t)result.previous_records, "previous_source",
                                result.previous_source[0] ? json_string(result.previous_source) : json_null(),
                                "bytes", (json_int_t)result.bytes,
                                "installed", paths.candidate[REGISTRY_CANDIDATE_IANA_CSV]);
        return cli_print_json(ctx, doc);
    }
    printf("registry updated: %ld records from %s", result.records, from ? from : REGISTRY_DEFAULT_URL);
    if (result.previous_records >= 0)
        printf(" (was %ld from %s)", result.previous_records, result.previous_source);
    printf("\ninstalled: %s\nindex: %s\n", paths.candidate[REGISTRY_CANDIDATE_IANA_CSV], paths.index);
    return CLI_EXIT_OK;
}

int cmd_registry(int argc, char **argv, struct cli_context *ctx)
{
    const char *from = NULL;
    bool force = false, json = false;
    int opt;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "registry", cli_registry_options, argc, argv, 0);
    while ((opt = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (opt) {
        case 'f': from = optarg; break;
        case 'F': force = true; break;
        case 'j': json = true; break;
        case 'h': cli_options_print_help(stdout, registry_usage, cli_registry_options, NULL); return CLI_EXIT_OK;
        default:
            return cli_options_error(&parser);
        }
    }
    if (optind >= argc)
        return cli_usage_error("registry", "give a subcommand: info, update or rebuild");
    const char *sub = argv[optind];
    if (optind + 1 < argc)
        return cli_usage_error("registry", "unexpected argument '%s'", argv[optind + 1]);
    if (strcmp(sub, "update") == 0)
        return run_update(ctx, from, force, json);
    if (from || force)
        return cli_usage_error("registry", "--from and --force belong to 'registry update'");
    if (strcmp(sub, "info") != 0 && strcmp(sub, "rebuild") != 0)
        return cli_usage_error("registry", "unknown subcommand '%s' (info, update, rebuild)", sub);

    struct registry_paths paths;
    struct registry_index *ix = NULL;
    struct registry_open_report report;
    int rc;
    if (strcmp(sub, "rebuild") == 0) {
        struct pr_error err;
        pr_error_clear(&err);
        memset(&report, 0, sizeof report);
        if (registry_paths_init(&paths, ctx->state_dir, &err) < 0 ||
            registry_rebuild(&paths, &ix, &report, &err) < 0)
            return cli_error_from(CLI_EXIT_FAILURE, "registry rebuild", &err);
        snprintf(report.rebuild_reason, sizeof report.rebuild_reason, "asked to");
        if (!report.index_saved) {
            registry_index_close(ix);
            return cli_error_from(CLI_EXIT_FAILURE, "registry rebuild", &report.index_error);
        }
    } else {
        if ((rc = cli_open_registry(ctx, &paths, &ix, &report)) != CLI_EXIT_OK)
            return rc;
        /* info reads every block: the one place a damaged block that lookups never touch shows */
        if (registry_index_verify_all(ix, NULL) < 0 &&
            (rc = cli_recover_registry(&paths, &ix, &report)) != CLI_EXIT_OK)
            return rc;
    }
    rc = print_info(ctx, ix, &paths, &report, json);
    registry_index_close(ix);
    return rc;
}
