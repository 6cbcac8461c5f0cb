/* cmd_firewall.c — `portreg firewall generate|apply|audit`: firewall rules from the port plan
 * (plan/firewall_gen.h: default deny inbound, then exactly the declared exposures from the
 * declared sources), applied atomically as one nftables table of portreg's own through
 * libnftables (plan/firewall_apply.h), and the live ruleset compared with the live listeners
 * (plan/firewall_audit.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "plan/firewall_apply.h"
#include "plan/firewall_audit.h"
#include "plan/firewall_gen.h"
#include "plan/plan_yaml.h"
#include "plan_view.h"
#include "remote/remote_client.h"
#include "remote_view.h"
#include "registry/record.h"
#include "util/file_io.h"

static const char firewall_usage[] =
    "usage: portreg firewall generate (PLAN... | --server URL) --host NAME [--format nft|firewalld|ufw|iptables]\n"
    "                                 [-o DIR]\n"
    "       portreg firewall apply PLAN... --host NAME [--dry-run]\n"
    "       portreg firewall audit [PLAN...] [--host NAME] [--json]\n\n"
    "  generate  rules for one plan host: inbound denied by default; loopback, established\n"
    "            connections and essential ICMP allowed; then exactly the declared exposures\n"
    "            from the declared sources. nft (default): one table `inet portreg`;\n"
    "            firewalld: service XML files and the zone commands; ufw: an application\n"
    "            profile and the allow commands; iptables: iptables-restore files. The files\n"
    "            go to stdout (each after a `# ==> NAME <==` line), or into DIR with -o.\n"
    "  apply     load the nft rules through libnftables in one transaction: only the table\n"
    "            `inet portreg` is replaced, a failure leaves the previous ruleset in place.\n"
    "            --dry-run prints them and checks them against the kernel without changing\n"
    "            anything.\n"
    "  audit     the live nftables ruleset and the live listening sockets: which listeners\n"
    "            are reachable from outside (and from where), which opened ports have no\n"
    "            listener, and with a plan, which reachable listeners it does not declare.\n\n"
    "--host NAME is a host of the plan (default for audit: this machine's host name).\n\n";
static const char firewall_usage_tail[] =
    "Exit status: 0 fine, 1 (audit) undeclared exposure or ports opened without a listener,\n"
    "2 bad input (the plan's errors with file:line:column), 3 failure.\n";

enum { OPT_HOST = 256, OPT_FORMAT, OPT_DRY_RUN, OPT_JSON, OPT_SERVER, OPT_TOKEN };
static const struct cli_option firewall_generate_options[] = {
    { "host", 0, CLI_OPTION_REQUIRED_VALUE, "NAME", "the host of the plan the rules are for", OPT_HOST, 0 },
    { "server", 0, CLI_OPTION_REQUIRED_VALUE, "URL", "take the plan from a portreg server (its registry's\n"
      "assignments, GET /api/v1/exports/plan) instead of PLAN files", OPT_SERVER, 0 },
    { "token", 0, CLI_OPTION_REQUIRED_VALUE, "TOKEN", "the server's token (default $PORTREG_TOKEN)", OPT_TOKEN, 0 },
    { "format", 0, CLI_OPTION_REQUIRED_VALUE, "nft|firewalld|ufw|iptables", "the rules' format (default nft)", OPT_FORMAT, 0 },
    { "output", 'o', CLI_OPTION_REQUIRED_VALUE, "DIR", "write the files into DIR instead of stdout", 'o', 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};
static const struct cli_option firewall_apply_options[] = {
    { "host", 0, CLI_OPTION_REQUIRED_VALUE, "NAME", "the host of the plan the rules are for", OPT_HOST, 0 },
    { "dry-run", 0, CLI_OPTION_NO_VALUE, NULL, "print the rules and check them against the kernel only",
      OPT_DRY_RUN, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};
static const struct cli_option firewall_audit_options[] = {
    { "host", 0, CLI_OPTION_REQUIRED_VALUE, "NAME", "the plan host this machine is (default: its host name)",
      OPT_HOST, 0 },
    { "json", 0, CLI_OPTION_NO_VALUE, NULL, "one JSON document on stdout", OPT_JSON, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};
const struct cli_subcommand cli_firewall_subcommands[] = {
    { "generate", firewall_generate_options },
    { "apply", firewall_apply_options },
    { "audit", firewall_audit_options },
    { NULL, NULL },
};

/* `firewall --help`: the overview and every subcommand's options; `firewall apply --help`:
 * the overview and the options of apply. */
static void print_firewall_help(FILE *out, const char *only)
{
    fputs(firewall_usage, out);
    for (const struct cli_subcommand *sub = cli_firewall_subcommands; sub->name; sub++) {
        if (only && strcmp(only, sub->name) != 0)
            continue;
        fprintf(out, "options of firewall %s:\n", sub->name);
        cli_options_print(out, sub->options);
        fputc('\n', out);
    }
    fputs(firewall_usage_tail, out);
}

/* The table of "firewall generate" and the others: each subcommand takes its own options. */
static const struct cli_option *firewall_options_of(const char *command)
{
    const char *name = strchr(command, ' ') ? strchr(command, ' ') + 1 : command;
    for (const struct cli_subcommand *sub = cli_firewall_subcommands; sub->name; sub++)
        if (strcmp(sub->name, name) == 0)
            return sub->options;
    return firewall_audit_options;
}

struct firewall_args {
    char **plans;
    size_t plan_count;
    const char *host;
    const char *format;
    const char *out_dir;
    const char *server, *token;
    bool dry_run, json;
};

static int parse_args(const char *command, int argc, char **argv, struct firewall_args *a)
{
    memset(a, 0, sizeof *a);
    a->format = "nft";
    int c;
    struct cli_option_parser parser;
    cli_options_begin(&parser, command, firewall_options_of(command), argc, argv, 0);
    while ((c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case OPT_HOST: a->host = optarg; break;
        case OPT_FORMAT: a->format = optarg; break;
        case 'o': a->out_dir = optarg; break;
        case OPT_DRY_RUN: a->dry_run = true; break;
        case OPT_JSON: a->json = true; break;
        case OPT_SERVER: a->server = optarg; break;
        case OPT_TOKEN: a->token = optarg; break;
        case 'h': print_firewall_help(stdout, strchr(command, ' ') + 1); return -1;
        default:
            return cli_options_error(&parser);
        }
    }
    a->plans = argv + optind;
    a->plan_count = (size_t)(argc - optind);
    return CLI_EXIT_OK;
}

/* --server: the registry's plan (GET /api/v1/exports/plan, what `remote export plan` prints)
 * into plan, so the rules are built by the same code as from PLAN files. */
static int load_server_plan(const char *command, const struct firewall_args *a, struct plan *plan)
{
    struct remote_config cfg;
    struct remote_client *client = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    if (remote_config_init(&cfg, a->server, a->token, NULL, NULL, getenv("PORTREG_TOKEN"), getenv("PORTREG_CACERT"),
                           &err) < 0)
        return cli_error_from(CLI_EXIT_USAGE, command, &err);
    if (remote_client_open(&client, &cfg, &err) < 0)
        return remote_view_call_error(command, &err, cfg.server_from);
    struct remote_request request = { .method = "GET", .path = "/api/v1/exports/plan" };
    struct remote_response resp;
    int rc = CLI_EXIT_OK;
    if (remote_call(client, &request, &resp, &err) < 0)
        rc = remote_view_call_error(command, &err, cfg.server_from);
    else if (resp.status != 200)
        rc = remote_view_answer_error(command, "GET", request.path, &resp, cfg.token[0] != '\0');
    if (rc == CLI_EXIT_OK) {
        char name[1100];
        snprintf(name, sizeof name, "%s/api/v1/exports/plan", cfg.server);
        struct plan_diagnostics diag;
        plan_diagnostics_init(&diag);
        int r = plan_load_buffer(plan, name, resp.body, resp.body_len, &diag, &err);
        if (r < 0) {
            for (size_t i = 0; i < diag.count; i++)
                fprintf(stderr, "portreg: %s: %s:%u: %s\n", command, name, diag.items[i].pos.line, diag.items[i].message);
            rc = r == -EINVAL ? cli_error(CLI_EXIT_FAILURE, command, "the server's plan does not load")
                              : cli_error_from(CLI_EXIT_FAILURE, command, &err);
        }
        plan_diagnostics_free(&diag);
    }
    remote_response_free(&resp);
    remote_client_close(client);
    return rc;
}

/* Load the plan and build the rules of --host; prints errors. */
static int build_rules(const char *command, const struct firewall_args *a, struct plan *plan,
                       struct firewall_rules *rules)
{
    plan_init(plan);   /* the caller frees it whatever happens */
    if (a->server && a->plan_count)
        return cli_usage_error(command, "give PLAN files or --server, not both");
    if (a->plan_count == 0 && !a->server)
        return cli_usage_error(command, "no plan files");
    if (!a->host)
        return cli_usage_error(command, "--host NAME: which host of the plan");
    struct plan_diagnostics diag;
    int rc;
    if (a->server) {
        plan_diagnostics_init(&diag);
        rc = load_server_plan(command, a, plan);
    } else {
        rc = cli_load_plan(command, a->plans, a->plan_count, plan, &diag, false);
    }
    plan_diagnostics_free(&diag);
    if (rc != CLI_EXIT_OK)
        return rc == CLI_EXIT_NO ? CLI_EXIT_USAGE : rc;
    struct pr_error err;
    pr_error_clear(&err);
    if (firewall_rules_build(plan, a->host, rules, &err) < 0)
        return cli_error_from(err.code == -ENOENT || err.code == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE,
                              command, &err);
    for (size_t i = 0; i < rules->warning_count; i++) {
        const struct firewall_warning *w = &rules->warnings[i];
        if (w->pos.file)
            fprintf(stderr, "portreg: %s: %s:%u:%u: %s%s%s\n", command, w->pos.file, w->pos.line,
                    w->pos.column, w->service[0] ? w->service : "", w->service[0] ? ": " : "", w->message);
        else
            fprintf(stderr, "portreg: %s: %s%s%s\n", command, w->service[0] ? w->service : "",
                    w->service[0] ? ": " : "", w->message);
    }
    return CLI_EXIT_OK;
}

/* -o DIR: DIR itself is created when missing (one mkdir, mode 0777 & ~umask), never its
 * parents: a mistyped path is an error naming it, not a tree of new directories. */
static int make_output_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0)
        return CLI_EXIT_OK;
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return CLI_EXIT_OK;
    if (e == EEXIST)
        return cli_error(CLI_EXIT_USAGE, "firewall generate", "-o %s: not a directory", dir);
    if (e == ENOENT || e == ENOTDIR)
        return cli_error(CLI_EXIT_USAGE, "firewall generate",
                         "-o %s: the directory it would go in does not exist", dir);
    return cli_error(CLI_EXIT_FAILURE, "firewall generate", "-o %s: cannot create: %s", dir,
                     strerror(e));
}

static int run_generate(int argc, char **argv, struct cli_context *ctx)
{
    (void)ctx;
    struct firewall_args a;
    int rc = parse_args("firewall generate", argc, argv, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (!firewall_format_find(a.format)) {
        char names[128] = "";
        for (size_t i = 0; firewall_formats[i]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     firewall_formats[i]->name);
        return cli_usage_error("firewall generate", "--format \"%s\": one of %s", a.format, names);
    }
    struct plan plan;
    struct firewall_rules rules;
    memset(&rules, 0, sizeof rules);
    rc = build_rules("firewall generate", &a, &plan, &rules);
    struct firewall_output out = { 0 };
    struct pr_error err;
    pr_error_clear(&err);
    if (rc == CLI_EXIT_OK && firewall_render(&rules, a.format, &out, &err) < 0)
        rc = cli_error_from(CLI_EXIT_FAILURE, "firewall generate", &err);
    if (rc == CLI_EXIT_OK && a.out_dir && strcmp(a.out_dir, "-") != 0) {
        rc = make_output_dir(a.out_dir);
        for (size_t i = 0; rc == CLI_EXIT_OK && i < out.file_count; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", a.out_dir, out.files[i].name);
            if (file_write(path, out.files[i].text, out.files[i].length, 0, &err) < 0)
                rc = cli_error_from(cli_exit_for_output_error(err.code), "firewall generate", &err);
            else
                printf("%s\n", path);
        }
    } else if (rc == CLI_EXIT_OK) {   /* no -o, or -o -: stdout */
        for (size_t i = 0; i < out.file_count; i++) {
            if (out.file_count > 1)
                printf("%s# ==> %s <==\n", i ? "\n" : "", out.files[i].name);
            fwrite(out.files[i].text, 1, out.files[i].length, stdout);
        }
    }
    firewall_output_free(&out);
    firewall_rules_free(&rules);
    plan_free(&plan);
    return rc;
}

static int run_apply(int argc, char **argv, struct cli_context *ctx)
{
    (void)ctx;
    struct firewall_args a;
    int rc = parse_args("firewall apply", argc, argv, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    struct plan plan;
    struct firewall_rules rules;
    memset(&rules, 0, sizeof rules);
    rc = build_rules("firewall apply", &a, &plan, &rules);
    struct firewall_output out = { 0 };
    struct pr_error err;
    pr_error_clear(&err);
    if (rc == CLI_EXIT_OK && firewall_render(&rules, "nft", &out, &err) < 0)
        rc = cli_error_from(CLI_EXIT_FAILURE, "firewall apply", &err);
    const struct firewall_file *file = rc == CLI_EXIT_OK ? firewall_output_file(&out, "portreg.nft") : NULL;
    if (rc == CLI_EXIT_OK && !file)
        rc = cli_error(CLI_EXIT_FAILURE, "firewall apply", "the nft renderer made no portreg.nft");
    if (rc == CLI_EXIT_OK) {
        if (a.dry_run)   /* what would be applied, then the kernel's verdict on it */
            fwrite(file->text, 1, file->length, stdout);
        if (firewall_apply_nft(file->text, a.dry_run, &err) < 0) {
            rc = cli_error_from(err.code == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE, "firewall apply", &err);
        } else {
            size_t ports = 0;
            for (size_t i = 0; i < rules.service_count; i++)
                ports += rules.services[i].port_count;
            printf("%s%s table inet portreg for host %s: %zu service%s, %zu port%s open, everything "
                   "else inbound dropped%s\n", a.dry_run ? "\n# " : "", a.dry_run ? "checked (not applied)" : "applied",
                   a.host, rules.service_count, rules.service_count == 1 ? "" : "s", ports,
                   ports == 1 ? "" : "s", a.dry_run ? "" : "; other tables untouched");
        }
    }
    firewall_output_free(&out);
    firewall_rules_free(&rules);
    plan_free(&plan);
    return rc;
}

static const char *listener_address(const struct firewall_audit_listener *l, char *buf, size_t size)
{
    char plain[64];
    socket_address_text(l->family, l->address, plain, sizeof plain);
    snprintf(buf, size, l->family == AF_INET6 ? "[%s]:%u" : "%s:%u", plain, l->port);
    return buf;
}

/* A listener's NOTE: its sources, uncertainty, whether the plan declares it. */
static const char *listener_note(const struct firewall_audit_listener *l, char *note, size_t size)
{
    char sources[256] = "";
    for (size_t s = 0; s < l->source_count && strlen(sources) < 200; s++) {
        char cidr[64];
        snprintf(sources + strlen(sources), sizeof sources - strlen(sources), "%s%s", s ? "," : "from ",
                 firewall_cidr_text(&l->sources[s], cidr, sizeof cidr));
    }
    snprintf(note, size, "%s%s%s%s", sources, l->uncertain ? (sources[0] ? "; " : "") : "",
             l->uncertain ? "a rule portreg cannot evaluate may change this" : "",
             l->undeclared_exposure ? "; NOT DECLARED in the plan" : "");
    if (l->declared && l->service) {
        size_t n = strlen(note);
        snprintf(note + n, size - n, "%sdeclared: %s", n ? "; " : "", l->service);
    }
    return note;
}

/* "8080" or "8000-8010", and where it is opened: "from anywhere (IPv4, IPv6) in inet filter input" */
static void open_port_texts(const struct firewall_audit_open_port *o, char *ports, size_t ports_size,
                            char *where, size_t where_size)
{
    if (o->last > o->first)
        snprintf(ports, ports_size, "%u-%u", o->first, o->last);
    else
        snprintf(ports, ports_size, "%u", o->first);
    snprintf(where, where_size, "%s(%s%s%s) in %s %s", o->any_source ? "from anywhere " : "", o->ipv4 ? "IPv4" : "",
             o->ipv4 && o->ipv6 ? ", " : "", o->ipv6 ? "IPv6" : "", o->table, o->chain);
}

/* The input chains looked at, the notes and the counts: above and below the table on a
 * terminal, on stderr when stdout is piped. */
static void audit_chains(const struct firewall_audit_result *res, FILE *out)
{
    fprintf(out, "%zu input chain%s:", res->chain_count, res->chain_count == 1 ? "" : "s");
    for (size_t i = 0; i < res->chain_count; i++)
        fprintf(out, " %s %s %s (policy %s, %zu rule%s)%s", res->chains[i].family, res->chains[i].table,
                res->chains[i].name, res->chains[i].policy_accept ? "accept" : "drop",
                res->chains[i].rule_count, res->chains[i].rule_count == 1 ? "" : "s",
                i + 1 < res->chain_count ? ";" : "");
    fprintf(out, "%s\n", res->chain_count ? "" : " none (everything is accepted)");
}

static void audit_summary(const struct firewall_audit_result *res, FILE *out)
{
    for (size_t i = 0; i < res->note_count; i++)
        fprintf(out, "note: %s\n", res->notes[i]);
    fprintf(out, "%zu listener%s, %zu reachable from outside, %zu opened port%s without a listener",
            res->listener_count, res->listener_count == 1 ? "" : "s", res->reachable_count,
            res->open_without_listener_count, res->open_without_listener_count == 1 ? "" : "s");
    if (res->host)
        fprintf(out, ", %zu reachable but not declared for %s", res->undeclared_count, res->host);
    fprintf(out, "\n");
}

/* Piped: one tab-separated row per listener (proto, address:port, reach, note) and per port
 * opened without a listener (proto, *:PORTS, "no-listener", where it is opened); no header. */
static void audit_rows(const struct firewall_audit_result *res)
{
    for (size_t i = 0; i < res->listener_count; i++) {
        const struct firewall_audit_listener *l = &res->listeners[i];
        char addr[80], note[400];
        printf("%s\t%s\t%s\t%s\n", registry_proto_name(l->proto), listener_address(l, addr, sizeof addr),
               firewall_reach_name(l->reach), listener_note(l, note, sizeof note));
    }
    for (size_t i = 0; i < res->open_without_listener_count; i++) {
        char ports[32], where[256];
        open_port_texts(&res->open_without_listener[i], ports, sizeof ports, where, sizeof where);
        printf("%s\t*:%s\tno-listener\t%s\n", registry_proto_name(res->open_without_listener[i].proto), ports,
               where);
    }
}

static void audit_text(const struct cli_context *ctx, const struct firewall_audit_result *res)
{
    if (!ctx->stdout_is_tty) {
        audit_rows(res);
        audit_chains(res, cli_summary_stream(ctx));
        audit_summary(res, cli_summary_stream(ctx));
        return;
    }
    audit_chains(res, stdout);
    printf("\n%-6s %-26s %-14s %s\n", "PROTO", "LISTENER", "REACH", "NOTE");
    for (size_t i = 0; i < res->listener_count; i++) {
        const struct firewall_audit_listener *l = &res->listeners[i];
        char addr[80], note[400];
        printf("%-6s %-26s %-14s %s\n", registry_proto_name(l->proto), listener_address(l, addr, sizeof addr),
               firewall_reach_name(l->reach), listener_note(l, note, sizeof note));
    }
    if (res->open_without_listener_count) {
        printf("\nopened without a listener:\n");
        for (size_t i = 0; i < res->open_without_listener_count; i++) {
            const struct firewall_audit_open_port *o = &res->open_without_listener[i];
            char ports[32], where[256];
            open_port_texts(o, ports, sizeof ports, where, sizeof where);
            printf("  %s %s %s\n", registry_proto_name(o->proto), ports, where);
        }
    }
    printf("\n");
    audit_summary(res, stdout);
}

static json_t *audit_json(const struct firewall_audit_result *res)
{
    json_t *doc = json_object();
    json_t *chains = json_array();
    for (size_t i = 0; i < res->chain_count; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "family", json_string(res->chains[i].family));
        json_object_set_new(o, "table", json_string(res->chains[i].table));
        json_object_set_new(o, "chain", json_string(res->chains[i].name));
        json_object_set_new(o, "priority", json_integer(res->chains[i].priority));
        json_object_set_new(o, "policy", json_string(res->chains[i].policy_accept ? "accept" : "drop"));
        json_object_set_new(o, "rules", json_integer((json_int_t)res->chains[i].rule_count));
        json_array_append_new(chains, o);
    }
    json_object_set_new(doc, "chains", chains);
    json_t *listeners = json_array();
    for (size_t i = 0; i < res->listener_count; i++) {
        const struct firewall_audit_listener *l = &res->listeners[i];
        char plain[64], cidr[64];
        json_t *o = json_object();
        json_object_set_new(o, "proto", json_string(registry_proto_name(l->proto)));
        json_object_set_new(o, "address", json_string(socket_address_text(l->family, l->address, plain, sizeof plain)));
        json_object_set_new(o, "port", json_integer(l->port));
        json_object_set_new(o, "reach", json_string(firewall_reach_name(l->reach)));
        json_t *sources = json_array();
        for (size_t s = 0; s < l->source_count; s++)
            json_array_append_new(sources, json_string(firewall_cidr_text(&l->sources[s], cidr, sizeof cidr)));
        json_object_set_new(o, "sources", sources);
        json_object_set_new(o, "uncertain", json_boolean(l->uncertain));
        json_object_set_new(o, "declared", json_boolean(l->declared));
        json_object_set_new(o, "service", l->service ? json_string(l->service) : json_null());
        json_object_set_new(o, "undeclared_exposure", json_boolean(l->undeclared_exposure));
        json_array_append_new(listeners, o);
    }
    json_object_set_new(doc, "listeners", listeners);
    json_t *open = json_array();
    for (size_t i = 0; i < res->open_without_listener_count; i++) {
        const struct firewall_audit_open_port *p = &res->open_without_listener[i];
        json_t *o = json_object();
        json_object_set_new(o, "proto", json_string(registry_proto_name(p->proto)));
        json_object_set_new(o, "first", json_integer(p->first));
        json_object_set_new(o, "last", json_integer(p->last));
        json_object_set_new(o, "ipv4", json_boolean(p->ipv4));
        json_object_set_new(o, "ipv6", json_boolean(p->ipv6));
        json_object_set_new(o, "any_source", json_boolean(p->any_source));
        json_object_set_new(o, "table", json_string(p->table));
        json_object_set_new(o, "chain", json_string(p->chain));
        json_array_append_new(open, o);
    }
    json_object_set_new(doc, "open_without_listener", open);
    json_t *notes = json_array();
    for (size_t i = 0; i < res->note_count; i++)
        json_array_append_new(notes, json_string(res->notes[i]));
    json_object_set_new(doc, "notes", notes);
    json_object_set_new(doc, "host", res->host ? json_string(res->host) : json_null());
    json_object_set_new(doc, "reachable", json_integer((json_int_t)res->reachable_count));
    json_object_set_new(doc, "undeclared", json_integer((json_int_t)res->undeclared_count));
    return doc;
}

static int run_audit(int argc, char **argv, struct cli_context *ctx)
{
    struct firewall_args a;
    int rc = parse_args("firewall audit", argc, argv, &a);
    if (rc != CLI_EXIT_OK)
        return rc < 0 ? CLI_EXIT_OK : rc;
    struct plan plan;
    bool have_plan = a.plan_count > 0;
    if (have_plan) {
        struct plan_diagnostics diag;
        rc = cli_load_plan("firewall audit", a.plans, a.plan_count, &plan, &diag, false);
        plan_diagnostics_free(&diag);
        if (rc != CLI_EXIT_OK) {
            plan_free(&plan);
            return rc == CLI_EXIT_NO ? CLI_EXIT_USAGE : rc;
        }
    }
    struct firewall_audit_options opt = { .plan = have_plan ? &plan : NULL, .host = a.host };
    struct firewall_audit_result res;
    struct pr_error err;
    pr_error_clear(&err);
    if (firewall_audit_run(&opt, &res, &err) < 0) {
        rc = cli_error_from(err.code == -ENOENT ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE, "firewall audit", &err);
    } else {
        if (a.json)
            cli_print_json(ctx, audit_json(&res));
        else
            audit_text(ctx, &res);
        rc = res.undeclared_count || res.open_without_listener_count ? CLI_EXIT_NO : CLI_EXIT_OK;
        firewall_audit_result_free(&res);
    }
    if (have_plan)
        plan_free(&plan);
    return rc;
}

int cmd_firewall(int argc, char **argv, struct cli_context *ctx)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        print_firewall_help(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "generate") == 0)
        return run_generate(argc - 1, argv + 1, ctx);
    if (strcmp(argv[1], "apply") == 0)
        return run_apply(argc - 1, argv + 1, ctx);
    if (strcmp(argv[1], "audit") == 0)
        return run_audit(argc - 1, argv + 1, ctx);
    return cli_usage_error("firewall", "unknown subcommand \"%s\" (generate, apply or audit)", argv[1]);
}
