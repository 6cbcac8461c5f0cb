/* serve_command.c — `portreg serve` inside the server module (portreg-serve.so, loaded by
 * src/cli/cmd_serve.c): the organisation's port registry over HTTP (src/server over
 * src/lib/ledger), `portreg serve token create`, `serve migrate` and `serve export-db`. Thin: options, the state directory, the
 * database URL, the registry index, the listening sockets (a taken address is explained by
 * the doctor: who holds it and by which rule, exit 3), signals, then server_run. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "serve_options.h"
#include "doctor/bindsim.h"
#include "ledger/ledger.h"
#include "store/store_copy.h"
#include "plan/plan_check.h"
#include "net/inspect.h"
#include "server/serve_settings.h"
#include "server/server.h"
#include "server/server_systemd.h"
#include "server/server_tls.h"
#include "util/file_io.h"

/* What a settings parser returns after printing --help (the command then exits 0). */
#define SERVE_HELP_SHOWN (-100)

/* The registry index reload (SIGHUP, or its file changed: server.c's main loop calls this):
 * the saved index is opened and verified whole, then swapped in (server_registry.c); a failure
 * keeps the index loaded before. One line on stderr either way. */
struct registry_reload {
    struct registry_paths paths;
    struct server_registry *holder;
    int64_t mtime_ns, size;     /* the index file when last looked at; -1: absent */
};

static void registry_file_stamp(const char *path, int64_t *mtime_ns, int64_t *size)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        *size = (int64_t)st.st_size;
    } else {
        *mtime_ns = *size = -1;
    }
}

static void reload_registry(void *cls, bool signalled)
{
    struct registry_reload *reload = cls;
    int64_t mtime_ns, size;
    registry_file_stamp(reload->paths.index, &mtime_ns, &size);
    bool changed = mtime_ns != reload->mtime_ns || size != reload->size;
    reload->mtime_ns = mtime_ns;
    reload->size = size;
    /* a file that went away is not a reason to drop the index in use; only SIGHUP says why */
    if (!signalled && (!changed || size < 0))
        return;
    const char *why = signalled ? "SIGHUP" : "index file changed";
    struct registry_index *ix = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    uint64_t generation = 0;
    if (registry_open_saved(&reload->paths, &ix, &err) < 0) {
        char text[2048];
        fprintf(stderr, "portreg: serve: registry reload (%s) failed, still serving the index loaded before: %s\n", why,
                pr_error_format(&err, text, sizeof text));
        return;
    }
    uint32_t entries = registry_index_record_count(ix);
    if (!server_registry_replace(reload->holder, ix, &generation)) {
        fprintf(stderr, "portreg: serve: registry reload (%s) failed, still serving the index loaded before: "
                "out of memory\n", why);
        return;
    }
    fprintf(stderr, "portreg: serve: registry reloaded (%s): %u entries from %s (generation %llu)\n", why,
            (unsigned)entries, reload->paths.index, (unsigned long long)generation);
}

/* The state directory (created 0700 when missing), the server secret and the default URL. */
static int serve_state(const struct cli_context *ctx, char *state_dir, size_t size, uint8_t secret[32], char *db_url,
                       size_t db_size, const char *db_given)
{
    struct registry_paths paths;
    struct pr_error err;
    pr_error_clear(&err);
    if (registry_paths_init(&paths, ctx->state_dir, &err) < 0 || registry_state_dir_check(paths.state_dir, &err) < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "serve", &err);
    snprintf(state_dir, size, "%s", paths.state_dir);
    if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
        return cli_error(CLI_EXIT_FAILURE, "serve", "%s: %s", state_dir, strerror(errno));
    if (ledger_secret_load(state_dir, secret, &err) < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "serve", &err);
    if (db_given)
        snprintf(db_url, db_size, "%s", db_given);
    else
        snprintf(db_url, db_size, "sqlite:%s/serve.db", state_dir);
    return CLI_EXIT_OK;
}

static int run_token_create(int argc, char **argv, struct cli_context *ctx)
{
    const char *db = NULL, *name = NULL, *host = NULL;
    enum ledger_role role = LEDGER_ROLE_NONE;
    unsigned expires = 0;
    int opt;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "serve token create", cli_serve_token_options, argc, argv, 0);
    while ((opt = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (opt) {
        case OPT_ROLE:
            if ((role = ledger_role_parse(optarg)) == LEDGER_ROLE_NONE)
                return cli_usage_error("serve token create", "--role: \"%s\" is not reader, agent, requester or admin", optarg);
            break;
        case OPT_NAME: name = optarg; break;
        case OPT_TOKEN_HOST: host = optarg; break;
        case OPT_DB: db = optarg; break;
        case OPT_EXPIRES: {
            char *end;
            unsigned long days = strtoul(optarg, &end, 10);
            if (optarg[0] < '0' || optarg[0] > '9' || *end || days < 1 || days > 36500)
                return cli_usage_error("serve token create", "--expires: \"%s\" is not a number of days (1-36500)", optarg);
            expires = (unsigned)days;
            break;
        }
        case 'h':
            cli_options_print_help(stdout, "usage: portreg serve token create --role ROLE [--host H] [--name N] [--expires DAYS]\n\n"
                                   "Create an API token and print it once; only its keyed hash is kept.\n\n",
                                   cli_serve_token_options, NULL);
            return CLI_EXIT_OK;
        default:
            return cli_options_error(&parser);
        }
    }
    if (optind < argc)
        return cli_usage_error("serve token create", "unexpected argument '%s'", argv[optind]);
    if (role == LEDGER_ROLE_NONE)
        return cli_usage_error("serve token create", "give --role reader, agent, requester or admin");
    if ((role == LEDGER_ROLE_AGENT) != (host != NULL))
        return cli_usage_error("serve token create", role == LEDGER_ROLE_AGENT
                               ? "an agent token needs --host NAME (the host it reports for)"
                               : "--host is for --role agent only");
    char state_dir[PATH_MAX], db_url[PATH_MAX + 16];
    uint8_t secret[32];
    int rc = serve_state(ctx, state_dir, sizeof state_dir, secret, db_url, sizeof db_url, db);
    if (rc != CLI_EXIT_OK)
        return rc;
    struct ledger_options lopt = { db_url, 1, 0, secret, sizeof secret };
    struct ledger *ledger = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    if (ledger_open(&lopt, &ledger, &err) < 0)
        return cli_error_from(err.code == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE, "serve token create", &err);
    char token[LEDGER_TOKEN_LENGTH + 1];
    json_t *row = NULL;
    if (ledger_token_create_for_host(ledger, role, host, name, expires, token, &row, &err) < 0) {
        ledger_close(ledger);
        return cli_error_from(CLI_EXIT_FAILURE, "serve token create", &err);
    }
    printf("%s\n", token);
    if (ctx->stderr_is_tty)
        fprintf(stderr, "portreg: token %lld (%s) created; it is shown only this once\n",
                (long long)store_row_int(row, "id", 0), ledger_role_name(role));
    json_decref(row);
    ledger_close(ledger);
    return CLI_EXIT_OK;
}

/* Open the database of url (migrating it) for a subcommand; its errors named as command. */
static int open_store_for(const char *command, const char *url, const struct store_backend **backend,
                          struct store **store)
{
    const char *location = NULL;
    *backend = store_backend_find(url, &location);
    if (!*backend)
        return cli_usage_error(command, "\"%s\": not a database URL (sqlite:PATH or postgresql://...)", url);
    struct pr_error err;
    pr_error_clear(&err);
    if ((*backend)->open(location, 1, store, &err) < 0)
        return cli_error(err.code == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE, command, "%s: %s", url, err.message);
    return CLI_EXIT_OK;
}

/* serve migrate and serve export-db: --db (default the state directory's SQLite file), --to. */
static int parse_db_options(const char *command, const struct cli_option *options, const char *usage,
                            int argc, char **argv, const char **db, const char **to, bool *json)
{
    struct cli_option_parser parser;
    cli_options_begin(&parser, command, options, argc, argv, 0);
    int c;
    while ((c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case OPT_DB: *db = optarg; break;
        case OPT_TO: *to = optarg; break;
        case OPT_JSON_OUT: *json = true; break;
        case 'h':
            cli_options_print_help(stdout, usage, options, NULL);
            return SERVE_HELP_SHOWN;
        default: return cli_options_error(&parser);
        }
    }
    if (optind < argc)
        return cli_usage_error(command, "unexpected argument '%s'", argv[optind]);
    return CLI_EXIT_OK;
}

static int run_migrate(int argc, char **argv, struct cli_context *ctx)
{
    const char *db = NULL, *to = NULL;
    bool json = false;
    int rc = parse_db_options("serve migrate", cli_serve_migrate_options,
                              "usage: portreg serve migrate [--db URL]\n\n"
                              "Bring the database to the schema this portreg knows (what serve does at start) and exit.\n\n",
                              argc, argv, &db, &to, &json);
    if (rc != CLI_EXIT_OK)
        return rc == SERVE_HELP_SHOWN ? CLI_EXIT_OK : rc;
    char state_dir[PATH_MAX], db_url[PATH_MAX + 16];
    uint8_t secret[32];
    rc = serve_state(ctx, state_dir, sizeof state_dir, secret, db_url, sizeof db_url, db);
    const struct store_backend *backend = NULL;
    struct store *store = NULL;
    if (rc == CLI_EXIT_OK)
        rc = open_store_for("serve migrate", db_url, &backend, &store);
    if (rc != CLI_EXIT_OK)
        return rc;
    backend->close(store);
    if (json) {
        json_t *doc = json_pack("{s:s, s:i}", "database", db_url, "schema_version", STORE_SCHEMA_VERSION);
        return cli_print_json(ctx, doc);
    }
    printf("%s: schema version %d\n", db_url, STORE_SCHEMA_VERSION);
    return CLI_EXIT_OK;
}

static int run_export_db(int argc, char **argv, struct cli_context *ctx)
{
    const char *db = NULL, *to = NULL;
    bool json = false;
    int rc = parse_db_options("serve export-db", cli_serve_export_db_options,
                              "usage: portreg serve export-db [--db URL] --to URL\n\n"
                              "Copy every row (ids kept, the events too) and the policy into an empty database,\n"
                              "e.g. from the embedded SQLite to PostgreSQL.\n\n",
                              argc, argv, &db, &to, &json);
    if (rc != CLI_EXIT_OK)
        return rc == SERVE_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (!to)
        return cli_usage_error("serve export-db", "give --to URL, the empty database to copy into");
    char state_dir[PATH_MAX], db_url[PATH_MAX + 16];
    uint8_t secret[32];
    rc = serve_state(ctx, state_dir, sizeof state_dir, secret, db_url, sizeof db_url, db);
    if (rc == CLI_EXIT_OK && strcmp(db_url, to) == 0)
        rc = cli_usage_error("serve export-db", "--db and --to are the same database");
    const struct store_backend *from_backend = NULL, *to_backend = NULL;
    struct store *from = NULL, *into = NULL;
    if (rc == CLI_EXIT_OK)
        rc = open_store_for("serve export-db", db_url, &from_backend, &from);
    if (rc == CLI_EXIT_OK) {
        rc = open_store_for("serve export-db", to, &to_backend, &into);
        if (rc != CLI_EXIT_OK)
            from_backend->close(from);
    }
    if (rc != CLI_EXIT_OK)
        return rc;
    struct pr_error err;
    pr_error_clear(&err);
    json_t *counts = NULL;
    int r = store_copy(from_backend, from, to_backend, into, &counts, &err);
    from_backend->close(from);
    to_backend->close(into);
    if (r < 0)
        return cli_error(r == -EEXIST ? CLI_EXIT_NO : CLI_EXIT_FAILURE, "serve export-db", "%s", err.message);
    if (json)
        return cli_print_json(ctx, counts);
    const char *table;
    json_t *count;
    size_t total = 0;
    json_object_foreach(counts, table, count)
        if (json_is_integer(count)) {
            printf("%-13s %lld\n", table, (long long)json_integer_value(count));
            total += (size_t)json_integer_value(count);
        }
    printf("%zu rows copied into %s%s\n", total, to, json_is_true(json_object_get(counts, "policy")) ? ", and the policy" : "");
    json_decref(counts);
    return CLI_EXIT_OK;
}

/* The listen address is taken: ask the doctor who holds it and why. */
static void explain_taken_address(const char *listen)
{
    int family;
    unsigned char address[16];
    unsigned port;
    if (server_parse_listen(listen, &family, address, &port) < 0)
        return;
    struct bindsim_plan plan = { .proto = REGISTRY_PROTO_TCP, .family = (uint8_t)family, .port = (uint16_t)port,
                                 .reuseaddr = true, .uid = (uint32_t)geteuid() };
    memcpy(plan.address, address, 16);
    struct portspec ports = { 0 };
    if (portspec_add(&ports, (uint16_t)port, (uint16_t)port, REGISTRY_PROTO_TCP) < 0)
        return;
    struct inspect_options opt = { .processes = true };
    opt.query.protos = 1u << REGISTRY_PROTO_TCP;
    opt.query.states = SOCKET_STATE_ALL;
    opt.query.local_ports = &ports;
    struct inspect_result res;
    struct pr_error err;
    pr_error_clear(&err);
    if (inspect_run(&opt, &res, &err) < 0) {
        portspec_free(&ports);
        return;
    }
    struct bindsim_result sim;
    if (bindsim_check(&plan, res.sockets.items, res.sockets.count, NULL, &sim, &err) == 0) {
        for (size_t k = 0; k < sim.conflict_count; k++) {
            const struct bindsim_conflict *c = &sim.conflicts[k];
            char sentence[600];
            bindsim_conflict_sentence(&plan, &res.sockets.items[c->socket_index], c, sentence, sizeof sentence);
            fprintf(stderr, "portreg: serve: %s: %s\n", c->certain ? bindsim_rule_id(c->rule) : "maybe", sentence);
            for (uint32_t h = 0; res.holder_count && h < res.holder_count[c->socket_index]; h++) {
                const struct socket_holder *holder = &res.holders[res.holder_start[c->socket_index] + h];
                const struct process_info *p = inspect_process(&res, holder->pid);
                fprintf(stderr, "portreg: serve:   held by pid %u (%s)%s%s\n", holder->pid, p ? p->comm : "?",
                        p && p->cgroup.unit[0] ? ", unit " : "", p && p->cgroup.unit[0] ? p->cgroup.unit : "");
            }
        }
        bindsim_result_free(&sim);
    }
    fprintf(stderr, "portreg: serve: see 'portreg check %s' and 'portreg who %u'; or choose another --listen\n", listen,
            port);
    inspect_result_free(&res);
    portspec_free(&ports);
}

static void say_ready(void *ctx)
{
    const struct server_options *opt = ctx;
    for (size_t i = 0; i < opt->listen_count; i++)
        fprintf(stderr, "portreg: serve: listening on %s://%s/\n", opt->tls_cert_pem ? "https" : "http",
                opt->listen[i]);
    /* Type=notify: every daemon accepts now */
    char status[96];
    snprintf(status, sizeof status, "READY=1\nSTATUS=listening on %s%s", opt->listen[0],
             opt->listen_count > 1 ? " and more" : "");
    struct pr_error err;
    pr_error_clear(&err);
    if (server_systemd_notify(status, &err) < 0)
        cli_warning("serve: cannot tell systemd it is ready: %s", err.message);
}


static const char *serve_option_name(int id)
{
    for (const struct cli_option *o = cli_serve_options; o->long_name; o++)
        if (o->id == id)
            return o->long_name;
    return "?";
}

static int serve_parse_settings(int argc, char **argv, struct serve_settings *settings);
static int serve_with_settings(const struct cli_context *ctx, struct serve_settings *settings);

int serve_command_run(int argc, char **argv, struct cli_context *ctx)
{
    if (argc >= 2 && strcmp(argv[1], "token") == 0) {
        if (argc < 3 || strcmp(argv[2], "create") != 0)
            return cli_usage_error("serve", "'serve token' has one subcommand: create");
        return run_token_create(argc - 2, argv + 2, ctx);
    }
    if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
        return run_migrate(argc - 1, argv + 1, ctx);
    if (argc >= 2 && strcmp(argv[1], "export-db") == 0)
        return run_export_db(argc - 1, argv + 1, ctx);
    struct serve_settings settings = { .server.log_format = SERVER_LOG_TEXT };
    int rc = serve_parse_settings(argc, argv, &settings);
    if (rc == CLI_EXIT_OK && settings.server.listen_count == 0)
        settings.server.listen[settings.server.listen_count++] = "127.0.0.1:7678";
    struct server_tls tls = { 0 };
    if (rc == CLI_EXIT_OK && settings.tls_cert) {
        struct pr_error tls_err;
        pr_error_clear(&tls_err);
        if (server_tls_load(settings.tls_cert, settings.tls_key, &tls, &tls_err) < 0)
            rc = cli_error(cli_exit_for_input_error(tls_err.code), "serve", "%s", tls_err.message);
        settings.server.tls_cert_pem = tls.cert_pem;
        settings.server.tls_key_pem = tls.key_pem;
    }
    if (rc == CLI_EXIT_OK)
        rc = serve_with_settings(ctx, &settings);
    server_tls_free(&tls);
    serve_settings_free(&settings);
    return rc == SERVE_HELP_SHOWN ? CLI_EXIT_OK : rc;
}

/* The command line, then the --config file for what the command line did not say. */
static int serve_parse_settings(int argc, char **argv, struct serve_settings *settings)
{
    int opt;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "serve", cli_serve_options, argc, argv, 0);
    while ((opt = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        if (opt == 'h') {
            cli_options_print_help(stdout, cli_serve_usage, cli_serve_options, cli_serve_usage_tail);
            return SERVE_HELP_SHOWN;
        }
        if (opt < OPT_LISTEN || opt >= OPT_SERVE_LAST)
            return cli_options_error(&parser);
        char why[256];
        if (serve_setting_apply(settings, opt, optarg, why, sizeof why) < 0)
            return cli_usage_error("serve", "--%s: %s", serve_option_name(opt), why);
        settings->given[opt] = true;
    }
    if (optind < argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    char message[1400];
    if (settings->config) {
        int code = CLI_EXIT_USAGE;
        if (serve_settings_load_config(settings, message, sizeof message, &code) < 0)
            return cli_error(code, "serve", "%s", message);
    }
    if (serve_settings_check(settings, message, sizeof message) < 0)
        return cli_usage_error("serve", "%s", message);
    return CLI_EXIT_OK;
}

static int serve_with_settings(const struct cli_context *ctx, struct serve_settings *settings)
{
    struct server_options sopt = settings->server;
    const char *db = settings->db;
    char db_file_url[PATH_MAX + 32];
    if (settings->db_file) {
        if (db)
            return cli_usage_error("serve", "give --db or --db-file, not both");
        snprintf(db_file_url, sizeof db_file_url, "postgresql:file:%s", settings->db_file);
        db = db_file_url;
    }
    int64_t clock_offset = settings->clock_offset;
    char state_dir[PATH_MAX], db_url[PATH_MAX + 16];
    uint8_t secret[32];
    int rc = serve_state(ctx, state_dir, sizeof state_dir, secret, db_url, sizeof db_url, db);
    if (rc != CLI_EXIT_OK)
        return rc;

    /* every thread (libmicrohttpd's, SQLite's none) inherits this mask: only sigwait sees them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);   /* the registry reload (server.c) */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int fds[SERVER_LISTEN_MAX];
    struct pr_error err;
    /* socket activation: systemd's sockets replace --listen (server_systemd.c) */
    size_t inherited = 0;
    pr_error_clear(&err);
    if (server_systemd_listen_fds(fds, sopt.listen, SERVER_LISTEN_MAX, &inherited, &err) < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "serve", &err);
    if (inherited > 0) {
        if (settings->given[OPT_LISTEN])
            cli_warning("serve: --listen ignored: systemd passed %zu listening socket%s", inherited,
                        inherited == 1 ? "" : "s");
        sopt.listen_count = inherited;
    }
    for (size_t i = 0; inherited == 0 && i < sopt.listen_count; i++) {
        pr_error_clear(&err);
        if (server_listen_socket(sopt.listen[i], &fds[i], &err) < 0) {
            for (size_t j = 0; j < i; j++)
                close(fds[j]);
            if (err.code == -EINVAL)
                return cli_error_from(CLI_EXIT_USAGE, "serve", &err);
            cli_error_from(CLI_EXIT_FAILURE, "serve", &err);
            if (err.code == -EADDRINUSE)
                explain_taken_address(sopt.listen[i]);
            return CLI_EXIT_FAILURE;
        }
    }

    struct registry_paths paths = { 0 };
    struct registry_index *ix = NULL;
    struct registry_open_report report;
    if (cli_open_registry(ctx, &paths, &ix, &report) != CLI_EXIT_OK) {
        cli_warning("serve: the registry routes will answer 503");
        ix = NULL;
    } else if (registry_index_verify_all(ix, NULL) < 0) {
        /* verified whole now, so request threads only read the index (no lazy checks) */
        if (cli_recover_registry(&paths, &ix, &report) != CLI_EXIT_OK || registry_index_verify_all(ix, NULL) < 0) {
            registry_index_close(ix);
            ix = NULL;
        }
    }
    struct local_ports host_ports;
    pr_error_clear(&err);
    bool have_host_ports = local_ports_read(NULL, &host_ports, &err) == 0 && host_ports.have_ephemeral;

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = sopt.threads ? sopt.threads : (cores > 0 ? (unsigned)cores : 1);
    unsigned pool = settings->db_pool ? settings->db_pool : threads * (unsigned)sopt.listen_count + 1;
    struct ledger_options lopt = { db_url, pool, clock_offset, secret, sizeof secret };
    struct ledger *ledger = NULL;
    pr_error_clear(&err);
    if (ledger_open(&lopt, &ledger, &err) < 0) {
        for (size_t i = 0; i < sopt.listen_count; i++)
            close(fds[i]);
        registry_index_close(ix);
        return cli_error_from(err.code == -EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE, "serve", &err);
    }
    /* the index behind a holder a reload swaps (server_registry.c) */
    struct registry_reload reload = { .paths = paths };
    registry_file_stamp(paths.index, &reload.mtime_ns, &reload.size);
    reload.holder = server_registry_create(ix);
    ix = NULL;
    if (!reload.holder) {
        for (size_t i = 0; i < sopt.listen_count; i++)
            close(fds[i]);
        ledger_close(ledger);
        return cli_error(CLI_EXIT_FAILURE, "serve", "out of memory");
    }
    /* IANA's assignments: the policy's iana_assigned_allowed, plan checks of imports; a
     * request's lookups read the index it started with */
    ledger_set_iana_lookup(ledger, server_registry_iana_lookup, reload.holder);
    sopt.ledger = ledger;
    sopt.registry = reload.holder;
    sopt.reload_registry = reload_registry;
    sopt.reload_ctx = &reload;
    sopt.host_ports = have_host_ports ? &host_ports : NULL;
    /* a PostgreSQL URL may carry a password: only what precedes "//" and the part after '@' */
    const char *at = strrchr(db_url, '@'), *slashes = strstr(db_url, "//");
    if (at && slashes && slashes < at)
        fprintf(stderr, "portreg: serve: database %.*s//...%s\n", (int)(slashes - db_url), db_url, at);
    else
        fprintf(stderr, "portreg: serve: database %s\n", db_url);
    pr_error_clear(&err);
    int r = server_run(&sopt, fds, sopt.listen_count, say_ready, &sopt, &err);
    ledger_close(ledger);
    server_registry_free(reload.holder);
    if (r < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "serve", &err);
    fputs("portreg: serve: stopped\n", stderr);
    return CLI_EXIT_OK;
}
