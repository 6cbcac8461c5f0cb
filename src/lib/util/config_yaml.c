/* config_yaml.c — flat YAML configuration files (config_yaml.h) with libfyaml's event parser
 * (loaded with dlopen, util/fyaml_loader.h, as the plan loader does): the root mapping's keys
 * are checked against the caller's table, values against their kind, and the first problem is
 * returned with its line and column. Anchors, aliases, tags beyond the plain text and several
 * documents are refused: a configuration is written out. */
#include "util/config_yaml.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/file_io.h"
#include "util/fyaml_loader.h"
#include "util/fyaml_scalar.h"
#include "util/text_escape.h"

#define CONFIG_YAML_FILE_MAX (1024 * 1024)
#define CONFIG_YAML_KEYS_MAX 64u

struct config_parser {
    const struct config_key *keys;
    struct config_file *out;
    size_t capacity;
    struct pr_error *err;
    char syntax[512];           /* libfyaml's first "...:L:C: error: MESSAGE" */
    const char *text;           /* the file's bytes (fyaml_scalar.h decodes from them) */
    size_t text_len;
    bool failed;
    int code;
};

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32)
        return 99;
    unsigned row[33];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diagonal = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned above = row[j];
            unsigned cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            unsigned best = diagonal + cost;
            if (above + 1 < best)
                best = above + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb];
}

__attribute__((format(printf, 4, 5)))
static void fail_at(struct config_parser *p, const struct fy_mark *mark, int code, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->code = code;
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    unsigned line = mark && mark->line >= 0 ? (unsigned)mark->line + 1u : 0;
    unsigned column = mark && mark->column >= 0 ? (unsigned)mark->column + 1u : 0;
    pr_error_set_at(p->err, code, line, column, "%s", message);
}

static void capture_diag(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    struct config_parser *p = user;
    if (!buf || p->syntax[0] || len == 0)
        return;
    size_t n = len < sizeof p->syntax - 1 ? len : sizeof p->syntax - 1;
    const char *at = memmem(buf, n, ": error: ", 9);
    if (!at || at == buf || !isdigit((unsigned char)at[-1]) || memchr(buf, '\n', (size_t)(at - buf)))
        return;
    memcpy(p->syntax, buf, n);
    p->syntax[n] = '\0';
}

/* libfyaml's syntax error: "SOURCE:LINE:COLUMN: error: MESSAGE" (else the last mark's place). */
static void fail_syntax(struct config_parser *p, const struct fy_mark *last)
{
    char *at = strstr(p->syntax, ": error: ");
    if (!at) {
        fail_at(p, last, -EINVAL, "YAML syntax error");
        return;
    }
    char *message = at + 9;
    message[strcspn(message, "\n")] = '\0';
    unsigned values[2] = { 0, 0 };
    char *q = at;
    for (int k = 1; k >= 0; k--) {
        char *digits_end = q;
        while (q > p->syntax && isdigit((unsigned char)q[-1]))
            q--;
        if (q == digits_end || q == p->syntax || q[-1] != ':')
            break;
        values[k] = (unsigned)strtoul(q, NULL, 10);
        q--;
    }
    struct fy_mark mark = { .line = values[0] ? (int)values[0] - 1 : -1, .column = values[1] ? (int)values[1] - 1 : 0 };
    fail_at(p, values[0] ? &mark : last, -EINVAL, "YAML: %s", message[0] ? message : "syntax error");
}

static const struct config_key *key_find(const struct config_parser *p, const char *name, size_t *index)
{
    for (size_t i = 0; p->keys[i].name; i++)
        if (strcmp(p->keys[i].name, name) == 0) {
            *index = i;
            return &p->keys[i];
        }
    return NULL;
}

static void fail_unknown_key(struct config_parser *p, const struct fy_mark *mark, const char *name)
{
    const char *best = NULL;
    unsigned best_distance = 3;
    for (size_t i = 0; p->keys[i].name; i++) {
        unsigned d = edit_distance(name, p->keys[i].name);
        if (d < best_distance) {
            best_distance = d;
            best = p->keys[i].name;
        }
    }
    char shown[96];
    text_escape(name, strlen(name), shown, sizeof shown);
    if (best)
        fail_at(p, mark, -EINVAL, "\"%s\": unknown key (did you mean %s?)", shown, best);
    else
        fail_at(p, mark, -EINVAL, "\"%s\": unknown key", shown);
}

static bool add_entry(struct config_parser *p, const struct config_key *key, const char *text, size_t len,
                      const struct fy_mark *mark)
{
    struct config_file *out = p->out;
    if (out->count == p->capacity) {
        size_t capacity = p->capacity ? p->capacity * 2 : 16;
        struct config_entry *grown = realloc(out->entries, capacity * sizeof *grown);
        if (!grown) {
            fail_at(p, mark, -ENOMEM, "out of memory");
            return false;
        }
        out->entries = grown;
        p->capacity = capacity;
    }
    char *copy = arena_strndup(&out->text, text, len);
    if (!copy) {
        fail_at(p, mark, -ENOMEM, "out of memory");
        return false;
    }
    out->entries[out->count++] = (struct config_entry){
        .key = key->name, .value = copy,
        .line = mark && mark->line >= 0 ? (unsigned)mark->line + 1u : 0,
        .column = mark && mark->column >= 0 ? (unsigned)mark->column + 1u : 0,
    };
    return true;
}

/* A plain empty scalar (an empty document's); a quoted one never is (and is not decoded:
 * fyaml_scalar.h). */
static bool scalar_is_empty(const struct fyaml_api *fy, struct fy_token *token)
{
    size_t len = 0;
    if (!token)
        return true;
    if (fy->token_scalar_style(token) != FYSS_PLAIN)
        return false;
    return !fy->token_get_text(token, &len) || len == 0;
}

enum parse_state { AT_ROOT, AT_KEY, AT_VALUE, IN_LIST, AFTER_ROOT };

/* The scalar's decoded text, checked for key's kind. */
static void take_text(struct config_parser *p, const struct config_key *key, const char *text, size_t len,
                      const struct fy_mark *mark, bool plain)
{
    if (key->kind == CONFIG_BOOL) {
        bool is_true = plain && len == 4 && memcmp(text, "true", 4) == 0;
        bool is_false = plain && len == 5 && memcmp(text, "false", 5) == 0;
        if (!is_true && !is_false) {
            fail_at(p, mark, -EINVAL, "%s: true or false", key->name);
            return;
        }
    }
    if (memchr(text, '\0', len)) {
        fail_at(p, mark, -EINVAL, "%s: a NUL character in the value", key->name);
        return;
    }
    add_entry(p, key, text, len, mark);
}

/* One scalar value of key (in a list when in_list). */
static void take_scalar(struct config_parser *p, const struct fyaml_api *fy, const struct config_key *key,
                        struct fy_event *event, const struct fy_mark *mark, bool in_list)
{
    struct fy_token *token = event->scalar.value;
    size_t len = 0;
    const char *text = NULL;
    char *decoded = NULL;
    int got = fyaml_scalar_text(fy, event, p->text, p->text_len, &text, &len, &decoded);
    bool plain = !token || fy->token_scalar_style(token) == FYSS_PLAIN;
    if (got < 0) {
        fail_at(p, mark, got, got == -EINVAL ? "%s: a single-quoted value over several lines with two escaped "
                "quotes ('') in a row: write it on one line or in double quotes" : "%s: out of memory", key->name);
    } else if (!text || len == 0 || (plain && ((len == 1 && text[0] == '~') || (len == 4 && memcmp(text, "null", 4) == 0)))) {
        /* an empty value in quotes or a block (db: '', db: |) is no value either (found by fuzz_config_yaml) */
        fail_at(p, mark, -EINVAL, "%s: needs a value%s", key->name, in_list ? " (an empty list item)" : "");
    } else {
        take_text(p, key, text, len, mark, plain);
    }
    free(decoded);
}

int config_yaml_parse(const char *text, size_t len, const struct config_key *keys, struct config_file *out,
                      struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    struct config_parser p = { .keys = keys, .out = out, .err = err, .text = text, .text_len = len };
    /* libfyaml is given valid UTF-8 only (it loops on some invalid input: see plan_yaml.c) */
    const char *nul = memchr(text, '\0', len);
    size_t valid_len = nul ? (size_t)(nul - text) : len;
    if (nul || !text_utf8_valid(text, valid_len)) {
        unsigned line = 1, column = 1;
        size_t i = 0;
        while (i < valid_len) {
            size_t n = text_utf8_sequence(text + i, valid_len - i, NULL);
            if (n == 0)
                break;
            if (text[i] == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
            i += n;
        }
        return pr_error_set_at(err, -EINVAL, line, column, nul ? "a NUL byte in the text" : "not UTF-8 text");
    }
    struct fyaml_api fy;
    struct pr_error load_error;
    pr_error_clear(&load_error);
    if (fyaml_api_load(&fy, &load_error) < 0)
        return pr_error_set(err, load_error.code, "%s", load_error.message);
    struct fy_diag_cfg dcfg;
    fy.diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = capture_diag;
    dcfg.user = &p;
    dcfg.colorize = false;
    struct fy_diag *diag = fy.diag_create(&dcfg);
    struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2, .diag = diag };
    struct fy_parser *parser = diag ? fy.parser_create(&cfg) : NULL;
    if (!parser || fy.parser_set_string(parser, text, len) != 0) {
        if (parser)
            fy.parser_destroy(parser);
        if (diag)
            fy.diag_destroy(diag);
        fyaml_api_unload(&fy);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    bool seen[CONFIG_YAML_KEYS_MAX] = { false };
    enum parse_state state = AT_ROOT;
    const struct config_key *key = NULL;
    unsigned documents = 0;
    struct fy_mark last = { .line = 0, .column = 0 };
    struct fy_event *event;
    while (!p.failed && (event = fy.parser_parse(parser)) != NULL) {
        const struct fy_mark *mark = fy.event_start_mark(event);
        if (mark && mark->line >= 0)
            last = *mark;
        else
            mark = &last;
        enum fy_event_type type = event->type;
        if (type == FYET_DOCUMENT_START && ++documents > 1)
            fail_at(&p, mark, -EINVAL, "one YAML document: a second one starts here");
        else if (type == FYET_ALIAS)
            fail_at(&p, mark, -EINVAL, "YAML aliases are not supported; write the value out");
        else if (type == FYET_MAPPING_START || type == FYET_SEQUENCE_START || type == FYET_SCALAR ||
                 type == FYET_MAPPING_END || type == FYET_SEQUENCE_END) {
            switch (state) {
            case AT_ROOT:
                if (type == FYET_MAPPING_START) {
                    state = AT_KEY;
                } else if (type == FYET_SCALAR && scalar_is_empty(&fy, event->scalar.value)) {
                    state = AFTER_ROOT;   /* an empty document */
                } else {
                    fail_at(&p, mark, -EINVAL, "the file is one mapping of KEY: VALUE (the long options)");
                }
                break;
            case AT_KEY:
                if (type == FYET_MAPPING_END) {
                    state = AFTER_ROOT;
                } else if (type != FYET_SCALAR) {
                    fail_at(&p, mark, -EINVAL, "a key is a plain word (a long option's name)");
                } else {
                    size_t klen = 0;
                    const char *ktext = NULL;
                    char *decoded = NULL;
                    if (fyaml_scalar_text(&fy, event, text, len, &ktext, &klen, &decoded) < 0)
                        ktext = NULL;
                    char name[128];
                    snprintf(name, sizeof name, "%.*s", ktext ? (int)(klen < 127 ? klen : 127) : 0, ktext ? ktext : "");
                    free(decoded);
                    ktext = ktext ? name : NULL;   /* the decoded text is gone: only whether there was one */
                    size_t index = 0;
                    if (!ktext || klen == 0) {
                        fail_at(&p, mark, -EINVAL, "an empty key");
                    } else if (!(key = key_find(&p, name, &index)) || klen != strlen(name)) {
                        fail_unknown_key(&p, mark, name);
                    } else if (index < CONFIG_YAML_KEYS_MAX && seen[index]) {
                        fail_at(&p, mark, -EINVAL, "%s: given twice", key->name);
                    } else {
                        if (index < CONFIG_YAML_KEYS_MAX)
                            seen[index] = true;
                        state = AT_VALUE;
                    }
                }
                break;
            case AT_VALUE:
                if (type == FYET_SCALAR) {
                    take_scalar(&p, &fy, key, event, mark, false);
                    state = AT_KEY;
                } else if (type == FYET_SEQUENCE_START && key->kind == CONFIG_LIST) {
                    state = IN_LIST;
                } else if (type == FYET_SEQUENCE_START) {
                    fail_at(&p, mark, -EINVAL, "%s: one value, not a list", key->name);
                } else {
                    fail_at(&p, mark, -EINVAL, "%s: %s, not a mapping", key->name,
                            key->kind == CONFIG_LIST ? "a value or a list of values" : "one value");
                }
                break;
            case IN_LIST:
                if (type == FYET_SCALAR)
                    take_scalar(&p, &fy, key, event, mark, true);
                else if (type == FYET_SEQUENCE_END)
                    state = AT_KEY;
                else
                    fail_at(&p, mark, -EINVAL, "%s: a list of plain values", key->name);
                break;
            case AFTER_ROOT:
                fail_at(&p, mark, -EINVAL, "one mapping per file");
                break;
            }
        }
        fy.parser_event_free(parser, event);
    }
    if (!p.failed && fy.parser_get_stream_error(parser))
        fail_syntax(&p, &last);
    fy.parser_destroy(parser);
    fy.diag_destroy(diag);
    fyaml_api_unload(&fy);
    if (p.failed) {
        config_file_free(out);
        return p.code;
    }
    return 0;
}

int config_yaml_load(const char *path, const struct config_key *keys, struct config_file *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    struct file_buffer buf;
    int r = file_read_all_limited(path, CONFIG_YAML_FILE_MAX, &buf, err);
    if (r < 0) {
        pr_error_set_path(err, path);
        return r;
    }
    r = config_yaml_parse(buf.data, buf.size, keys, out, err);
    file_buffer_free(&buf);
    if (r < 0)
        pr_error_set_path(err, path);
    return r;
}

void config_file_free(struct config_file *file)
{
    free(file->entries);
    arena_free(&file->text);
    memset(file, 0, sizeof *file);
}
