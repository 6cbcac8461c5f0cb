/* serve_settings.c — the settings of `portreg serve`: every option is validated here, whether
 * it came from the command line or from the --config file, whose keys are the long options
 * (listen may be a list; anonymous-read is true or false). The command line overrides the
 * file: an option given there skips the file's key (for listen, the whole list). */
#include "server/serve_settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool parse_unsigned(const char *text, unsigned long lo, unsigned long hi, unsigned long *out)
{
    if (!text || text[0] < '0' || text[0] > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int serve_setting_apply(struct serve_settings *s, int id, const char *value, char *why, size_t why_size)
{
    unsigned long n;
    switch (id) {
    case OPT_LISTEN:
        if (s->server.listen_count == SERVER_LISTEN_MAX) {
            snprintf(why, why_size, "at most %d addresses", SERVER_LISTEN_MAX);
            return -1;
        }
        s->server.listen[s->server.listen_count++] = value;
        return 0;
    case OPT_DB: s->db = value; return 0;
    case OPT_DB_FILE: s->db_file = value; return 0;
    case OPT_DB_POOL:
        if (!parse_unsigned(value, 1, 1000, &n)) {
            snprintf(why, why_size, "\"%s\" is not 1-1000", value);
            return -1;
        }
        s->db_pool = (unsigned)n;
        return 0;
    case OPT_TLS_CERT: s->tls_cert = value; return 0;
    case OPT_TLS_KEY: s->tls_key = value; return 0;
    case OPT_CONFIG: s->config = value; return 0;
    case OPT_LOG_FORMAT:
        if (strcmp(value, "text") == 0)
            s->server.log_format = SERVER_LOG_TEXT;
        else if (strcmp(value, "json") == 0)
            s->server.log_format = SERVER_LOG_JSON;
        else {
            snprintf(why, why_size, "\"%s\" is not text or json", value);
            return -1;
        }
        return 0;
    case OPT_THREADS:
        if (!parse_unsigned(value, 1, 1024, &n)) {
            snprintf(why, why_size, "\"%s\" is not 1-1024", value);
            return -1;
        }
        s->server.threads = (unsigned)n;
        return 0;
    case OPT_ANONYMOUS_READ:
        /* a flag on the command line; true or false in the file */
        s->server.anonymous_read = !value || strcmp(value, "true") == 0;
        return 0;
    case OPT_RATE_LIMIT:
        if (!parse_unsigned(value, 1, 1000000, &n)) {
            snprintf(why, why_size, "\"%s\" is not a number of requests per second (1-1000000)", value);
            return -1;
        }
        s->server.rate_limit = (double)n;
        return 0;
    case OPT_RATE_BURST:
        if (!parse_unsigned(value, 1, 10000000, &n)) {
            snprintf(why, why_size, "\"%s\" is not a number of requests (1-10000000)", value);
            return -1;
        }
        s->server.rate_burst = (unsigned)n;
        return 0;
    case OPT_CLOCK_OFFSET: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!value[0] || *end || errno) {
            snprintf(why, why_size, "\"%s\" is not a number of seconds", value);
            return -1;
        }
        s->clock_offset = v;
        return 0;
    }
    default:
        snprintf(why, why_size, "not a setting");
        return -1;
    }
}

/* The file's keys: serve's long options but help, config and the hidden ones. */
static void config_keys(struct config_key *keys, int *ids, size_t max)
{
    size_t n = 0;
    for (const struct cli_option *o = cli_serve_options; o->long_name && n + 1 < max; o++) {
        if (o->id == 'h' || o->id == OPT_CONFIG || (o->flags & CLI_OPTION_HIDDEN))
            continue;
        keys[n] = (struct config_key){ o->long_name, o->id == OPT_LISTEN ? CONFIG_LIST
                                       : o->value == CLI_OPTION_NO_VALUE ? CONFIG_BOOL : CONFIG_SCALAR };
        ids[n++] = o->id;
    }
    keys[n] = (struct config_key){ NULL, CONFIG_SCALAR };
}

int serve_settings_load_config(struct serve_settings *s, char *message, size_t size, int *exit_code)
{
    struct config_key keys[32];
    int ids[32];
    config_keys(keys, ids, 32);
    struct pr_error err;
    pr_error_clear(&err);
    if (config_yaml_load(s->config, keys, &s->file, &err) < 0) {
        char where[1100];
        pr_error_format(&err, where, sizeof where);
        snprintf(message, size, "--config %s", where);
        *exit_code = cli_exit_for_input_error(err.code);
        return -1;
    }
    for (size_t i = 0; i < s->file.count; i++) {
        const struct config_entry *e = &s->file.entries[i];
        int id = 0;
        for (size_t k = 0; keys[k].name; k++)
            if (keys[k].name == e->key)
                id = ids[k];
        if (id <= 0 || id >= OPT_SERVE_LAST || s->given[id])
            continue;
        char why[256];
        if (serve_setting_apply(s, id, e->value, why, sizeof why) < 0) {
            snprintf(message, size, "--config %s:%u:%u: %s: %s", s->config, e->line, e->column, e->key, why);
            *exit_code = CLI_EXIT_USAGE;
            return -1;
        }
    }
    return 0;
}

int serve_settings_check(const struct serve_settings *s, char *message, size_t size)
{
    if (!s->tls_cert != !s->tls_key) {
        snprintf(message, size, "%s needs %s too (HTTPS takes the certificate and its key)",
                 s->tls_cert ? "--tls-cert" : "--tls-key", s->tls_cert ? "--tls-key" : "--tls-cert");
        return -1;
    }
    if (s->server.rate_burst && !s->server.rate_limit) {
        snprintf(message, size, "--rate-burst needs --rate-limit");
        return -1;
    }
    return 0;
}

void serve_settings_free(struct serve_settings *s)
{
    config_file_free(&s->file);
}
