/* serve_options.h — option ids and help text of `portreg serve` (serve_options.c). */
#ifndef PORTREG_CLI_SERVE_OPTIONS_H
#define PORTREG_CLI_SERVE_OPTIONS_H

enum { OPT_LISTEN = 256, OPT_DB, OPT_LOG_FORMAT, OPT_CLOCK_OFFSET, OPT_THREADS, OPT_ROLE, OPT_NAME, OPT_EXPIRES, OPT_TOKEN_HOST,
       OPT_TLS_CERT, OPT_TLS_KEY, OPT_CONFIG, OPT_ANONYMOUS_READ, OPT_RATE_LIMIT, OPT_RATE_BURST, OPT_DB_FILE, OPT_DB_POOL, OPT_TO, OPT_JSON_OUT, OPT_SERVE_LAST };

extern const char cli_serve_usage[];
extern const char cli_serve_usage_tail[];

/* The entry point of the server module (src/server/serve_command.c), found by cmd_serve.c. */
struct cli_context;
int serve_command_run(int argc, char **argv, struct cli_context *ctx);

#endif
