/* cmd_plan.c — `portreg plan check|diff|export PLAN...`: the organisation's port plan (YAML).
 * check: load (every error with file:line:column and the field), resolve `auto` ports the way
 * `suggest` picks them, run the plan rules (plan/plan_check.h) against the registry and this
 * host's port sysctls; --write stores the chosen ports back into the files. diff: drift
 * against this host's live sockets or a scan's JSON (plan/plan_diff.h). export: services(5),
 * IANA-style CSV, JSON, NetBox CSV (plan/plan_export.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "net/host_facts.h"
#include "net/local_ports.h"
#include "plan/plan_check.h"
#include "plan/plan_diff.h"
#include "plan/plan_export.h"
#include "plan/plan_yaml.h"
#include "registry/record.h"
#include "util/file_io.h"
#include "plan_view.h"

static const char plan_usage[] =
    "usage: portreg plan check [--write] [--json] PLAN...\n"
    "       portreg plan diff PLAN... (--live [--host NAME] | --scan RESULT.json) [--json]\n"
    "       portreg plan export PLAN... --format services|iana-csv|json|netbox-csv [-o FILE]\n\n"
    "The port plan: hosts, networks, services and a policy in YAML files (see portreg-plan(1)\n"
    "and examples/plan.yaml).\n\n"
    "  check    every error and warning with file:line:column and the field: bind conflicts,\n"
    "           policy ranges, IANA assignments, ephemeral and privileged ports, exposures that\n"
    "           contradict the bind address; `auto` ports resolved and printed (--write stores\n"
    "           them in the files, keeping comments)\n"
    "  diff     declared and present, declared but absent or on the wrong address, present\n"
    "           but undeclared: against this host's sockets (--live) or a `portreg scan --json`\n"
    "           result (--scan)\n"
    "  export   the plan as a services(5) file, an IANA-style CSV, JSON, or NetBox's CSV\n\n";
static const char plan_usage_tail[] =
    "Exit status: 0 fine, 1 errors in the plan (check) or drift (diff), 2 bad input,\n"
    "3 failure.\n";

enum { OPT_WRITE = 256, OPT_JSON, OPT_LIVE, OPT_SCAN, OPT_HOST, OPT_NO_LOOPBACK, OPT_FORMAT, OPT_NETBOX_COLUMNS };
static const struct cli_option plan_check_options[] = {
    { "write", 0, CLI_OPTION_NO_VALUE, NULL, "store the ports chosen for `auto` in the files", OPT_WRITE, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", OPT_JSON, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};
static const struct cli_option plan_diff_options[] = {
    { "live", 0, CLI_OPTION_NO_VALUE, NULL, "compare with this host's listening sockets", OPT_LIVE, 0 },
    { "scan", 0, CLI_OPTION_REQUIRED_VALUE, "RESULT.json", "compare with the output of `portreg scan --json`",
      OPT_SCAN, 0 },
    { "host", 0, CLI_OPTION_REQUIRED_VALUE, "NAME", "the plan host this machine is (--live; default: the\n"
      "short host name)", OPT_HOST, 0 },
    { "ignore-loopback", 0, CLI_OPTION_NO_VALUE, NULL, "do not report undeclared sockets bound to loopback",
      OPT_NO_LOOPBACK, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", OPT_JSON, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};
static const struct cli_option plan_export_options[] = {
    { "format", 0, CLI_OPTION_REQUIRED_VALUE, "services|iana-csv|json|netbox-csv", "the output format", OPT_FORMAT, 0 },
    { "output", 'o', CLI_OPTION_REQUIRED_VALUE, "FILE", "write FILE (atomically) instead of stdout", 'o', 0 },
    { "netbox-columns", 0, CLI_OPTION_REQUIRED_VALUE, "VERSION",
      "netbox-csv columns: 4.3 (parent_object_type,parent; default) or pre-4.3 (device)",
      OPT_NETBOX_COLUMNS, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};
const struct cli_subcommand cli_plan_subcommands[] = {
    { "check", plan_check_options },
    { "diff", plan_diff_options },
    { "export", plan_export_options },
    { NULL, NULL },
};

/* `plan --help`: the overview and the options of every subcommand; `plan diff --help`: the
 * overview and the options of diff. */
static void print_plan_help(FILE *out, const char *only)
{
    fputs(plan_usage, out);
    for (const struct cli_subcommand *sub = cli_plan_subcommands; sub->name; sub++) {
        if (only && strcmp(only, sub->name) != 0)
            continue;
        fprintf(out, "options of plan %s:\n", sub->name);
        cli_options_print(out, sub->options);
        fputc('\n', out);
    }
    fputs(plan_usage_tail, out);
}

/* Port facts per plan host: the machine's own sysctls for the host that is this machine
 * (plan_host_is_local: `local: true`, or its name is this machine's host name), the kernel's
 * defaults (32768-60999, nothing reserved) for every other host that declares no `ephemeral:`,
 * so that `plan check --write` picks the same `auto` ports whatever machine runs it. */
struct plan_host_ports_here {
    const struct local_ports *here;     /* NULL: this machine's could not be read */
    const char *hostname;
};

static const struct local_ports *plan_host_ports_here(void *user, const struct plan_host *host)
{
    const struct plan_host_ports_here *h = user;
    return h->here && plan_host_is_local(host, h->hostname) ? h->here : NULL;
}

/* Run the plan rules with this host's facts: the registry (IANA), its port sysctls and
 * ip_unprivileged_port_start. This resolves `auto` ports in the plan, so check, diff and
 * export all see the same ports. Findings go to diag; -errno only when it could not run. */
static int check_plan_here(const struct cli_context *ctx, struct plan *plan,
                           struct plan_diagnostics *diag, struct pr_error *err)
{
    struct registry_index *ix = NULL;
    struct registry_paths rpaths;
    struct registry_open_report report;
    if (cli_open_registry(ctx, &rpaths, &ix, &report) != CLI_EXIT_OK)
        ix = NULL;   /* warned: no IANA rule */
    struct local_ports here, kernel_default;
    bool have_here = local_ports_read(NULL, &here, NULL) == 0 && here.have_ephemeral;
    local_ports_kernel_default(&kernel_default);
    char hostname[256] = "";
    if (gethostname(hostname, sizeof hostname - 1) < 0)
        hostname[0] = '\0';
    struct plan_host_ports_here per_host = { have_here ? &here : NULL, hostname };
    struct host_facts facts;
    host_facts_read(NULL, &facts);
    unsigned unprivileged = facts.unprivileged_port_start >= 0 ? (unsigned)facts.unprivileged_port_start : 1024;
    if (unprivileged == 0)
        unprivileged = 1;   /* 0 means "the default 1024" to plan_check; here every port is free */
    struct plan_check_context check = {
        .iana_lookup = ix ? plan_iana_lookup_registry : NULL, .iana_user = ix,
        .iana_has_name = ix ? plan_iana_has_name_registry : NULL,
        .iana_unauthorized = ix ? plan_iana_unauthorized_registry : NULL,
        .local = &kernel_default, .host_ports = plan_host_ports_here, .host_ports_user = &per_host,
        .unprivileged_port_start = unprivileged,
    };
    int rc = plan_check(plan, &check, diag, err);
    registry_index_close(ix);
    return rc;
}

/* ---- check ---- */

static int run_check(const struct cli_context *ctx, char **paths, size_t count, bool write, bool json)
{
    struct plan plan;
    struct plan_diagnostics diag;
    /* one rule for every finding about the plan, as lint tools have it: errors, warnings and
     * infos (loader or check rules) are plan check's output, on stdout; stderr only carries
     * portreg's own errors (a file that cannot be read, a failure) */
    int rc = cli_load_plan("plan check", paths, count, &plan, &diag, true);
    if (rc == CLI_EXIT_OK) {
        struct pr_error err;
        pr_error_clear(&err);
        if (check_plan_here(ctx, &plan, &diag, &err) < 0)
            rc = cli_error_from(CLI_EXIT_FAILURE, "plan check", &err);
        size_t files_written = 0, ports_written = 0;
        if (rc == CLI_EXIT_OK && write && diag.errors == 0 &&
            plan_write_resolved(&plan, &files_written, &ports_written, &err) < 0)
            rc = cli_error_from(err.code == -ESTALE ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE, "plan check --write", &err);
        plan_diagnostics_sort(&diag);
        if (rc == CLI_EXIT_OK) {
            if (json) {
                json_t *doc = json_object();
                json_object_set_new(doc, "files", json_integer((json_int_t)count));
                json_object_set_new(doc, "hosts", json_integer((json_int_t)plan.host_count));
                json_object_set_new(doc, "services", json_integer((json_int_t)plan.service_count));
                json_object_set_new(doc, "errors", json_integer((json_int_t)diag.errors));
                json_object_set_new(doc, "warnings", json_integer((json_int_t)diag.warnings));
                json_object_set_new(doc, "diagnostics", cli_plan_diagnostics_json(&diag));
                json_object_set_new(doc, "ports_written", json_integer((json_int_t)ports_written));
                cli_print_json(ctx, doc);
            } else {
                cli_print_plan_diagnostics(ctx, &diag, PLAN_SEVERITY_INFO, stdout);
                printf("%s%zu host%s, %zu service%s: %zu error%s, %zu warning%s%s\n",
                       diag.count ? "\n" : "", plan.host_count, plan.host_count == 1 ? "" : "s",
                       plan.service_count, plan.service_count == 1 ? "" : "s", diag.errors,
                       diag.errors == 1 ? "" : "s", diag.warnings, diag.warnings == 1 ? "" : "s",
                       diag.errors ? "" : " (the plan is consistent)");
                if (write)
                    printf("wrote %zu port%s into %zu file%s\n", ports_written, ports_written == 1 ? "" : "s",
                           files_written, files_written == 1 ? "" : "s");
            }
            rc = diag.errors ? CLI_EXIT_NO : CLI_EXIT_OK;
        }
    } else if ((rc == CLI_EXIT_NO || (rc == CLI_EXIT_USAGE && diag.errors)) && !json) {
        cli_print_plan_diagnostics(ctx, &diag, PLAN_SEVERITY_INFO, stdout);
        printf("\n%zu error%s, %zu warning%s: the plan could not be loaded, nothing else was checked\n",
               diag.errors, diag.errors == 1 ? "" : "s", diag.warnings, diag.warnings == 1 ? "" : "s");
    } else if ((rc == CLI_EXIT_NO || (rc == CLI_EXIT_USAGE && diag.errors)) && json) {
        json_t *doc = json_object();
        json_object_set_new(doc, "files", json_integer((json_int_t)count));
        json_object_set_new(doc, "errors", json_integer((json_int_t)diag.errors));
        json_object_set_new(doc, "warnings", json_integer((json_int_t)diag.warnings));
        json_object_set_new(doc, "diagnostics", cli_plan_diagnostics_json(&diag));
        cli_print_json(ctx, doc);
    }
    plan_diagnostics_free(&diag);
    plan_free(&plan);
    return rc;
}

static int cmd_plan_check(int argc, char **argv, struct cli_context *ctx)
{
    bool write = false, json = false;
    int c;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "plan check", plan_check_options, argc, argv, 0);
    while ((c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case OPT_WRITE: write = true; break;
        case OPT_JSON: json = true; break;
        case 'h': print_plan_help(stdout, "check"); return CLI_EXIT_OK;
        default:
            return cli_options_error(&parser);
        }
    }
    if (optind >= argc)
        return cli_usage_error("plan check", "no plan files");
    return run_check(ctx, argv + optind, (size_t)(argc - optind), write, json);
}


/* ---- export ---- */

static int cmd_plan_export(int argc, char **argv, struct cli_context *ctx)
{
    (void)ctx;
    const char *format = NULL, *output = NULL, *netbox_columns = NULL;
    int c;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "plan export", plan_export_options, argc, argv, 0);
    while ((c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case OPT_FORMAT: format = optarg; break;
        case OPT_NETBOX_COLUMNS: netbox_columns = optarg; break;
        case 'o': output = optarg; break;
        case 'h': print_plan_help(stdout, "export"); return CLI_EXIT_OK;
        default:
            return cli_options_error(&parser);
        }
    }
    if (!format)
        return cli_usage_error("plan export", "--format services|iana-csv|json|netbox-csv");
    if (!plan_export_find(format) || strcmp(format, "netbox-csv-pre-4.3") == 0)
        return cli_usage_error("plan export", "--format \"%s\": one of services, iana-csv, json, netbox-csv",
                               format);
    if (netbox_columns) {
        /* the pre-4.3 columns are an export module of their own ("netbox-csv-pre-4.3") */
        if (strcmp(format, "netbox-csv") != 0)
            return cli_usage_error("plan export", "--netbox-columns goes with --format netbox-csv");
        if (strcmp(netbox_columns, "pre-4.3") == 0)
            format = "netbox-csv-pre-4.3";
        else if (strcmp(netbox_columns, "4.3") != 0)
            return cli_usage_error("plan export", "--netbox-columns \"%s\": 4.3 or pre-4.3",
                                   netbox_columns);
    }
    if (optind >= argc)
        return cli_usage_error("plan export", "no plan files");
    struct plan plan;
    struct plan_diagnostics diag;
    int rc = cli_load_plan("plan export", argv + optind, (size_t)(argc - optind), &plan, &diag, false);
    if (rc == CLI_EXIT_OK) {
        /* resolve `auto` ports first, as `plan check` does, so they are exported */
        struct plan_diagnostics checked;
        plan_diagnostics_init(&checked);
        struct pr_error err;
        pr_error_clear(&err);
        char *text = NULL;
        size_t len = 0;
        if (check_plan_here(ctx, &plan, &checked, &err) < 0 ||
            plan_export(&plan, format, &text, &len, &diag, &err) < 0) {
            rc = cli_error_from(cli_exit_for_error(err.code), "plan export", &err);
        } else if (output) {
            if (file_write_atomic(output, text, len, &err) < 0)
                rc = cli_error_from(cli_exit_for_output_error(err.code), "plan export", &err);
        } else {
            fwrite(text, 1, len, stdout);
        }
        free(text);
        cli_print_plan_diagnostics(ctx, &diag, PLAN_SEVERITY_WARNING, stderr);
        plan_diagnostics_free(&checked);
    } else if (rc == CLI_EXIT_NO) {
        rc = CLI_EXIT_USAGE;   /* a broken plan is bad input here */
    }
    plan_diagnostics_free(&diag);
    plan_free(&plan);
    return rc;
}

/* ---- diff ---- */

static void print_drift(const struct cli_context *ctx, const struct plan_drift *drift)
{
    static const char *const labels[PLAN_DRIFT_KIND_COUNT] = {
        [PLAN_DRIFT_PRESENT] = "present", [PLAN_DRIFT_ABSENT] = "ABSENT",
        [PLAN_DRIFT_WRONG_ADDRESS] = "WRONG-ADDRESS", [PLAN_DRIFT_UNDECLARED] = "UNDECLARED",
        [PLAN_DRIFT_NOT_VISIBLE] = "not-visible", [PLAN_DRIFT_UNKNOWN] = "unknown",
    };
    FILE *summary = cli_summary_stream(ctx);
    if (!ctx->stdout_is_tty) {
        /* piped: one tab-separated row per item (host, kind, port, service, explanation), no
         * header; the counts go to stderr */
        for (size_t i = 0; i < drift->count; i++) {
            const struct plan_drift_item *d = &drift->items[i];
            char port[24];
            if (d->port)
                snprintf(port, sizeof port, "%u/%s", d->port, registry_proto_name(d->proto));
            else
                snprintf(port, sizeof port, "auto/%s", registry_proto_name(d->proto));
            printf("%s\t%s\t%s\t%s\t%s\n", d->host ? d->host : "-", plan_drift_kind_name(d->kind), port,
                   d->service ? d->service : "-", d->explanation);
        }
    }
    const char *host = (const char *)1;
    for (size_t i = 0; i < drift->count && ctx->stdout_is_tty; i++) {
        const struct plan_drift_item *d = &drift->items[i];
        if (host == (const char *)1 || (d->host != host && (!d->host || !host || strcmp(d->host, host) != 0))) {
            host = d->host;
            printf("%s%s%s%s\n", i ? "\n" : "", cli_bold(ctx), host ? host : "(addresses of no plan host)",
                   cli_reset(ctx));
        }
        bool bad = d->kind == PLAN_DRIFT_ABSENT || d->kind == PLAN_DRIFT_WRONG_ADDRESS ||
                   d->kind == PLAN_DRIFT_UNDECLARED;
        char port[24];
        if (d->port)
            snprintf(port, sizeof port, "%u/%s", d->port, registry_proto_name(d->proto));
        else
            snprintf(port, sizeof port, "auto/%s", registry_proto_name(d->proto));
        printf("  %s%-13s%s %-11s %-16s %s\n", bad ? cli_yellow(ctx) : "", labels[d->kind],
               bad ? cli_reset(ctx) : "", port, d->service ? d->service : "-", d->explanation);
    }
    fprintf(summary, "%s%zu present, %zu absent, %zu on the wrong address, %zu undeclared",
            drift->count && ctx->stdout_is_tty ? "\n" : "", drift->counts[PLAN_DRIFT_PRESENT],
            drift->counts[PLAN_DRIFT_ABSENT], drift->counts[PLAN_DRIFT_WRONG_ADDRESS],
            drift->counts[PLAN_DRIFT_UNDECLARED]);
    if (drift->counts[PLAN_DRIFT_NOT_VISIBLE] || drift->counts[PLAN_DRIFT_UNKNOWN])
        fprintf(summary, " (%zu not visible to a scan, %zu unknown)", drift->counts[PLAN_DRIFT_NOT_VISIBLE],
                drift->counts[PLAN_DRIFT_UNKNOWN]);
    fprintf(summary, "\n");
}

static int cmd_plan_diff(int argc, char **argv, struct cli_context *ctx)
{
    bool live = false, json = false;
    const char *scan_path = NULL;
    struct plan_diff_options opt = { 0 };
    int c;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "plan diff", plan_diff_options, argc, argv, 0);
    while ((c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case OPT_LIVE: live = true; break;
        case OPT_SCAN: scan_path = optarg; break;
        case OPT_HOST: opt.host = optarg; break;
        case OPT_NO_LOOPBACK: opt.ignore_loopback_undeclared = true; break;
        case OPT_JSON: json = true; break;
        case 'h': print_plan_help(stdout, "diff"); return CLI_EXIT_OK;
        default:
            return cli_options_error(&parser);
        }
    }
    if (live == (scan_path != NULL))
        return cli_usage_error("plan diff", "either --live or --scan RESULT.json");
    if (optind >= argc)
        return cli_usage_error("plan diff", "no plan files");
    char hostname[256];
    if (live && !opt.host) {
        if (gethostname(hostname, sizeof hostname) < 0)
            return cli_usage_error("plan diff", "--host NAME: this machine has no host name");
        hostname[sizeof hostname - 1] = '\0';
        char *dot = strchr(hostname, '.');
        if (dot)
            *dot = '\0';
        opt.host = hostname;
    }
    struct plan plan;
    struct plan_diagnostics diag;
    int rc = cli_load_plan("plan diff", argv + optind, (size_t)(argc - optind), &plan, &diag, false);
    plan_diagnostics_free(&diag);
    if (rc != CLI_EXIT_OK) {
        plan_free(&plan);
        return rc == CLI_EXIT_NO ? CLI_EXIT_USAGE : rc;
    }
    /* `auto` ports are compared as `plan check` resolves them */
    struct plan_diagnostics checked;
    plan_diagnostics_init(&checked);
    struct pr_error err;
    pr_error_clear(&err);
    struct plan_drift drift;
    memset(&drift, 0, sizeof drift);
    int r = check_plan_here(ctx, &plan, &checked, &err);
    bool scan_file_unread = false;   /* --scan FILE could not be read or parsed: bad input */
    if (r == 0 && live) {
        struct inspect_options io = { .processes = true };
        io.query.protos = (1u << REGISTRY_PROTO_TCP) | (1u << REGISTRY_PROTO_UDP);
        io.query.states = (1u << SOCKET_STATE_LISTEN) | (1u << SOCKET_STATE_CLOSE);
        struct inspect_result res;
        r = inspect_run(&io, &res, &err);
        if (r == 0) {
            r = plan_diff_live(&plan, &res, &opt, &drift, &err);
            inspect_result_free(&res);
        }
    } else if (r == 0) {
        struct file_buffer buf;
        r = file_read_all(scan_path, &buf, &err);
        scan_file_unread = r < 0;
        if (r == 0) {
            struct plan_scan scan;
            memset(&scan, 0, sizeof scan);
            r = plan_scan_parse(buf.data, buf.size, &scan, &err);
            if (r < 0)
                pr_error_set_path(&err, scan_path);
            else
                r = plan_diff_scan(&plan, &scan, &opt, &drift, &err);
            plan_scan_free(&scan);
            file_buffer_free(&buf);
        }
    }
    if (r < 0) {
        rc = cli_error_from(scan_file_unread ? cli_exit_for_input_error(r)
                            : r == -EINVAL || r == -ENOENT ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE,
                            "plan diff", &err);
    } else {
        if (json)
            cli_print_json(ctx, plan_drift_json(&drift));
        else
            print_drift(ctx, &drift);
        rc = plan_drift_any(&drift) ? CLI_EXIT_NO : CLI_EXIT_OK;
    }
    plan_drift_free(&drift);
    plan_diagnostics_free(&checked);
    plan_free(&plan);
    return rc;
}

int cmd_plan(int argc, char **argv, struct cli_context *ctx)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        print_plan_help(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "check") == 0)
        return cmd_plan_check(argc - 1, argv + 1, ctx);
    if (strcmp(argv[1], "diff") == 0)
        return cmd_plan_diff(argc - 1, argv + 1, ctx);
    if (strcmp(argv[1], "export") == 0)
        return cmd_plan_export(argc - 1, argv + 1, ctx);
    return cli_usage_error("plan", "unknown subcommand \"%s\" (check, diff or export)", argv[1]);
}
