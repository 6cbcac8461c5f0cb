/* serve_settings.h — the settings of `portreg serve` from its command line and its --config
 * file, validated by one function whichever way they came (serve_settings.c). */
#ifndef PORTREG_SERVER_SERVE_SETTINGS_H
#define PORTREG_SERVER_SERVE_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "serve_options.h"
#include "server/server.h"
#include "util/config_yaml.h"

struct serve_settings {
    struct server_options server;   /* listen, log format, threads, anonymous read, rate limit */
    const char *db;                 /* NULL: sqlite:STATE/serve.db */
    const char *db_file;            /* --db-file: a libpq connection string's file */
    unsigned db_pool;               /* 0: threads x listeners + 1 */
    const char *tls_cert, *tls_key;
    const char *config;
    int64_t clock_offset;
    bool given[OPT_SERVE_LAST];     /* on the command line (they override the file) */
    struct config_file file;        /* the --config file's values (strings live here) */
};

/* Apply option id with value (NULL for a flag): 0, or -1 with why ("\"x\" is not 1-1024"). */
int serve_setting_apply(struct serve_settings *settings, int id, const char *value, char *why, size_t why_size);
/* Read settings->config and apply what the command line did not give. -1 with message
 * ("FILE:LINE:COLUMN: KEY: why") and *exit_code (2: bad file or value; 2 also for an
 * unreadable file, as every input file). */
int serve_settings_load_config(struct serve_settings *settings, char *message, size_t size, int *exit_code);
/* After both: --tls-cert and --tls-key together; -1 with message naming the option. */
int serve_settings_check(const struct serve_settings *settings, char *message, size_t size);
void serve_settings_free(struct serve_settings *settings);

#endif
