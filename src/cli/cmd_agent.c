/* cmd_agent.c — `portreg agent`: report this host's listeners, ephemeral range, reserved
 * ports and audit findings to a portreg server, in full at start and then as changes every
 * interval (agent/agent_run.h). Thin: options, the registry for the audit's service names,
 * signals, and one log line per report on stderr. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_duration.h"
#include "agent/agent_run.h"
#include "cli.h"
#include "socket_view.h"
#include "util/text_escape.h"

static const char agent_usage[] =
    "usage: portreg agent --server URL --token TOKEN [options]\n\n"
    "Report this host to a portreg server: its listening sockets with their processes, users,\n"
    "units, containers and exposure, its ephemeral range, its reserved ports and its audit\n"
    "findings. A full report at start (or the changes since the last report the server\n"
    "acknowledged, kept in the state directory), then every interval the changes, or a\n"
    "heartbeat when nothing changed; bodies are gzip-compressed. When the server cannot be\n"
    "reached the agent tries again with capped exponential backoff and jitter, and its next\n"
    "report carries every change since the last acknowledged one. One line per report on\n"
    "stderr; SIGTERM stops it.\n\n";
static const char agent_usage_tail[] =
    "The server and token may also come from PORTREG_SERVER and PORTREG_TOKEN, the CA from\n"
    "PORTREG_CACERT. Exit status: 0 stopped (or, with --once, the report was acknowledged),\n"
    "2 bad option, 3 the server could not be reached, failed (5xx) or refused the report\n"
    "(401 bad token, 403 another host's token, 404 unknown host), or a local failure.\n";

enum { OPT_SERVER = 256, OPT_TOKEN, OPT_CACERT, OPT_INTERVAL, OPT_ALL_NETNS, OPT_NAME, OPT_STATE_DIR, OPT_ONCE };
const struct cli_option cli_agent_options[] = {
    { "server", 0, CLI_OPTION_REQUIRED_VALUE, "URL", "the portreg server (or PORTREG_SERVER)", OPT_SERVER, 0 },
    { "token", 0, CLI_OPTION_REQUIRED_VALUE, "TOKEN", "an agent token for this host (or PORTREG_TOKEN)", OPT_TOKEN, 0 },
    { "cacert", 0, CLI_OPTION_REQUIRED_VALUE, "FILE", "trust this CA for https (or PORTREG_CACERT)", OPT_CACERT, 0 },
    { "interval", 0, CLI_OPTION_REQUIRED_VALUE, "DURATION",
      "time between reports: 30s (default), 2m, 500ms, 1m30s", OPT_INTERVAL, 0 },
    { "all-netns", 0, CLI_OPTION_NO_VALUE, NULL, "listeners of every network namespace, each labelled", OPT_ALL_NETNS, 0 },
    { "name", 0, CLI_OPTION_REQUIRED_VALUE, "HOST", "the host's name on the server (default: the hostname)", OPT_NAME, 0 },
    { "state-dir", 0, CLI_OPTION_REQUIRED_VALUE, "DIR",
      "where the last acknowledged report is kept (default\n$STATE_DIRECTORY, else /var/lib/portreg/agent)",
      OPT_STATE_DIR, 0 },
    { "once", 0, CLI_OPTION_NO_VALUE, NULL, "send one report and exit (0 acknowledged, 3 not)", OPT_ONCE, 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

#define AGENT_DEFAULT_INTERVAL_MS 30000u
#define AGENT_MIN_INTERVAL_MS 100u
#define AGENT_DEFAULT_STATE_DIR "/var/lib/portreg/agent"

static volatile sig_atomic_t agent_stop;

static void on_stop_signal(int signo)
{
    (void)signo;
    agent_stop = 1;
}

static void log_to_stderr(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "portreg: agent: %s\n", line);
    fflush(stderr);
}

static const char *registry_service(void *context, uint16_t port, uint8_t proto)
{
    struct socket_view_context *view = context;
    struct socket_entry probe = { .proto = proto, .local_port = port };
    return socket_view_service(view, &probe);
}

/* The host name: printable ASCII, no spaces or slashes, 1-253 bytes (a DNS name or a label). */
static bool host_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++)
        if (name[i] <= ' ' || name[i] > '~' || name[i] == '/' || name[i] == '"' || name[i] == '\\')
            return false;
    return true;
}

int cmd_agent(int argc, char **argv, struct cli_context *ctx)
{
    const char *server = NULL, *token = NULL, *cacert = NULL, *name = NULL, *state_dir = NULL;
    uint64_t interval_ms = AGENT_DEFAULT_INTERVAL_MS;
    bool all_netns = false, once = false;
    int c;
    struct cli_option_parser parser;
    cli_options_begin(&parser, "agent", cli_agent_options, argc, argv, 0);
    while ((c = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (c) {
        case OPT_SERVER: server = optarg; break;
        case OPT_TOKEN: token = optarg; break;
        case OPT_CACERT: cacert = optarg; break;
        case OPT_INTERVAL: {
            struct pr_error err;
            pr_error_clear(&err);
            if (agent_duration_parse(optarg, &interval_ms, &err) < 0)
                return cli_usage_error("agent", "--interval \"%s\": column %u: %s", optarg,
                                       cli_argument_column(optarg, err.line, err.column), err.message);
            if (interval_ms < AGENT_MIN_INTERVAL_MS)
                return cli_usage_error("agent", "--interval \"%s\": at least 100ms", optarg);
            break;
        }
        case OPT_ALL_NETNS: all_netns = true; break;
        case OPT_NAME: name = optarg; break;
        case OPT_STATE_DIR: state_dir = optarg; break;
        case OPT_ONCE: once = true; break;
        case 'h': cli_options_print_help(stdout, agent_usage, cli_agent_options, agent_usage_tail); return CLI_EXIT_OK;
        default:
            return cli_options_error(&parser);
        }
    }
    if (optind < argc)
        return cli_usage_error("agent", "unexpected argument \"%s\"", argv[optind]);
    const char *server_env = getenv("PORTREG_SERVER"), *token_env = getenv("PORTREG_TOKEN");
    if (!server && !(server_env && server_env[0]))
        return cli_usage_error("agent", "no server: give --server URL or set PORTREG_SERVER");
    if (!token && !(token_env && token_env[0]))
        return cli_usage_error("agent", "no token: give --token TOKEN (an agent token for this host) or set "
                               "PORTREG_TOKEN");
    struct remote_config cfg;
    struct pr_error err;
    pr_error_clear(&err);
    if (remote_config_init(&cfg, server, token, cacert, server_env, token_env, getenv("PORTREG_CACERT"), &err) < 0)
        return cli_error_from(CLI_EXIT_USAGE, "agent", &err);
    cfg.timeout_seconds = 30;
    cfg.stop = &agent_stop;   /* SIGTERM ends a report under way too, not after its 30 s */
    char hostname[256];
    if (!name) {
        if (gethostname(hostname, sizeof hostname) < 0)
            return cli_error(CLI_EXIT_FAILURE, "agent", "cannot read the hostname: %s; give --name", strerror(errno));
        hostname[sizeof hostname - 1] = '\0';
        name = hostname;
    }
    if (!host_name_valid(name)) {
        char esc[1100];
        text_escape(name, strlen(name), esc, sizeof esc);
        return cli_usage_error("agent", "--name \"%s\": 1-253 printable characters without spaces, '/', '\"' or '\\'",
                               esc);
    }
    if (!state_dir) {
        /* systemd's StateDirectory= sets STATE_DIRECTORY (several folders are ':'-separated:
         * the first is ours) */
        const char *env = getenv("STATE_DIRECTORY");
        static char first[4096];
        if (env && env[0]) {
            snprintf(first, sizeof first, "%.*s", (int)strcspn(env, ":"), env);
            state_dir = first;
        } else {
            state_dir = AGENT_DEFAULT_STATE_DIR;
        }
    }

    /* the registry names the IANA service of a port for the audit's registry-mismatch rule */
    struct registry_index *ix = NULL;
    struct local_ports host;
    cli_prepare_socket_view(ctx, &ix, &host);
    struct socket_view_context view = { NULL, ix, &host, socket_view_cache_new() };

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;   /* no SA_RESTART: a sleep or a transfer ends early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    long last_status = 0;
    struct agent_options opt = {
        .remote = &cfg, .host = name, .state_dir = state_dir, .interval_ms = interval_ms, .once = once,
        .collect = { .all_netns = all_netns, .service = registry_service, .service_ctx = &view },
        .log = log_to_stderr, .stop = &agent_stop,
        .last_status = &last_status,
    };
    int r = agent_run(&opt, &err);
    explicit_bzero(cfg.token, sizeof cfg.token);
    socket_view_cache_free(view.cache);
    registry_index_close(ix);
    switch (r) {
    case AGENT_RUN_OK:
        return CLI_EXIT_OK;
    case AGENT_RUN_UNAVAILABLE:
        return cli_error(CLI_EXIT_FAILURE, "agent", "the report was not acknowledged: %s did not answer or failed",
                         cfg.server);
    case AGENT_RUN_REFUSED:
        return cli_error(CLI_EXIT_FAILURE, "agent", "%s refused the report with HTTP %ld: %s", cfg.server, last_status,
                         last_status == 401 ? "the token is not valid (wrong, revoked or expired): create an agent token "
                                              "with 'portreg serve token create --role agent --host NAME'"
                         : last_status == 403 ? "the token may not report for this host (--name)"
                         : last_status == 404 ? "the server does not know this host (--name)"
                         : "the server did not accept the report (see above)");
    default:
        return cli_error_from(cli_exit_for_error(r), "agent", &err);
    }
}
