/* config_yaml.h — a flat YAML configuration file: one mapping of known keys to a scalar, a
 * boolean or a list of scalars (`portreg serve --config`, whose keys are its long options).
 * Every value keeps its line and column so the caller's checks can name the place too. */
#ifndef PORTREG_UTIL_CONFIG_YAML_H
#define PORTREG_UTIL_CONFIG_YAML_H

#include <stddef.h>

#include "util/arena.h"
#include "util/error.h"

enum config_value_kind {
    CONFIG_SCALAR,   /* one scalar */
    CONFIG_BOOL,     /* true or false (YAML 1.2: plain true/false only) */
    CONFIG_LIST,     /* one scalar or a list of scalars (one entry each) */
};

struct config_key {
    const char *name;
    enum config_value_kind kind;
};

struct config_entry {
    const char *key;        /* the config_key's name */
    const char *value;      /* the scalar's text; "true"/"false" for CONFIG_BOOL */
    unsigned line, column;  /* 1-based, of the value */
};

struct config_file {
    struct config_entry *entries;   /* in file order; a list gives one entry per item */
    size_t count;
    struct arena text;
};

/* Parse text (keys: the known keys, ended by a NULL name). An empty file or an empty document
 * is no entries. On error (the first one) err has line, column and a message naming the key:
 * YAML syntax, not a mapping, unknown key (with a "did you mean"), a key given twice, a value
 * of the wrong kind; out is left empty. */
int config_yaml_parse(const char *text, size_t len, const struct config_key *keys, struct config_file *out,
                      struct pr_error *err);
/* Read path (1 MiB at most) and parse it; err's path is the file. */
int config_yaml_load(const char *path, const struct config_key *keys, struct config_file *out, struct pr_error *err);
void config_file_free(struct config_file *file);

#endif
