/* fuzz_config_yaml.c — libFuzzer harness for flat YAML configuration files
 * (util/config_yaml.c, `portreg serve --config`) with serve's kinds of keys. Checks the
 * contract: success gives entries of known keys with a value and a place (booleans are true or
 * false); failure gives no entries, a negative code and a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/config_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct config_key keys[] = {
    { "listen", CONFIG_LIST },     { "db", CONFIG_SCALAR },         { "tls-cert", CONFIG_SCALAR },
    { "tls-key", CONFIG_SCALAR },  { "log-format", CONFIG_SCALAR }, { "threads", CONFIG_SCALAR },
    { "anonymous-read", CONFIG_BOOL }, { "rate-limit", CONFIG_SCALAR }, { NULL, CONFIG_SCALAR },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_file file;
    struct pr_error err;
    pr_error_clear(&err);
    int r = config_yaml_parse((const char *)data, size, keys, &file, &err);
    if (r == 0) {
        for (size_t i = 0; i < file.count; i++) {
            const struct config_entry *e = &file.entries[i];
            const struct config_key *k = keys;
            while (k->name && k->name != e->key)
                k++;
            if (!k->name || !e->value || !e->value[0] || e->line == 0 || e->column == 0)
                abort();
            if (k->kind == CONFIG_BOOL && strcmp(e->value, "true") != 0 && strcmp(e->value, "false") != 0)
                abort();
        }
        config_file_free(&file);
    } else {
        if (r >= 0 || file.count || file.entries || !err.message[0] || err.code != r)
            abort();
    }
    return 0;
}
