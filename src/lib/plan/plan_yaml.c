/* plan_yaml.c — the port plan's YAML format: libfyaml's event parser builds a small tree whose
 * nodes keep their line, column and byte offsets (0.7's document API has no marks for mappings
 * and sequences), then one walker per section fills struct plan and reports every problem as a
 * diagnostic with file:line:column and the field path. Also the write-back of `auto` ports.
 *
 * The format (every section optional; several files merge, see below):
 *
 *   policy:                        # at most one file may hold it
 *     static: 1024-29999           # RANGE: ports a service may be given by hand (default
 *                                  #   1024-49151); system ports below 1024 and a port IANA
 *                                  #   assigned to the service's own `iana:` name are exempt
 *     auto: 20000-29999            # RANGE: where `auto` ports are allocated (default: static)
 *     exclude: [30000-32767]       # RANGE or list of RANGEs: never used
 *     allow_iana_assigned: false   # true: ports IANA assigned to other services are fine
 *   networks:                      # NAME: CIDR or list of CIDRs ("10.0.0.0/8", a bare address
 *     office: [10.1.0.0/16, "fd00:1::/64"]     #   is /32 or /128; host bits must be zero)
 *   hosts:
 *     - name: web1                 # required, unique; NAME = [A-Za-z0-9][A-Za-z0-9._-]*
 *       addresses: {public: 203.0.113.10, internal: [10.0.0.10, "fd00::10"]}
 *                                  # NAME: ADDRESS or list (dual stack), or unnamed
 *                                  #   ADDRESS / list of ADDRESSes
 *       groups: [web]              # NAME or list
 *       ephemeral: 32768-60999     # optional: the host's ip_local_port_range
 *       reserved: [8080]           # optional: the host's ip_local_reserved_ports (RANGEs)
 *       local: true                # optional: this host is the machine plan check runs on
 *   services:
 *     - name: nginx                # required, unique
 *       hosts: [web]               # required: host or group names (NAME or list)
 *       ports: [80/tcp, 443/tcp]   # list of PORT[/PROTO] or auto[/PROTO] (PROTO tcp|udp,
 *                                  #   default tcp), or `port:` with one of them
 *       bind: any                  # any | loopback | an address name of every host of the
 *                                  #   service | a literal address (default: loopback for
 *                                  #   exposure loopback, any otherwise)
 *       exposure: public           # required: public | internal | loopback
 *       sources: [any]             # any, CIDRs, network, host or group names (default for
 *                                  #   public: any; for internal: nobody — a warning)
 *       owner: web-team            # free text
 *       notes: "TLS terminates here"
 *       iana: [http, https]        # the IANA service name(s) it implements
 *
 * RANGE is "A-B" or one port. Merging: hosts, networks and services of all files concatenate;
 * a second policy, and a host, network or service name defined twice, are errors naming both
 * places; hosts, groups and networks share one namespace. Unknown keys are errors with a
 * "did you mean"; anchors/aliases and multi-document files are refused. Field paths are 0-based
 * and count within their file. */
#include "plan/plan_yaml.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "registry/record.h"
#include "util/file_io.h"
#include "util/fyaml_loader.h"
#include "util/fyaml_scalar.h"
#include "util/text_escape.h"
#include "util/text_scan.h"

#define PLAN_YAML_MAX_DEPTH 32u
#define PLAN_NAME_MAX 253u
#define YNONE ((size_t)-1)

/* ---- the tree ---- */

enum ynode_kind { YNODE_SCALAR, YNODE_SEQUENCE, YNODE_MAPPING };

struct ynode {
    enum ynode_kind kind;
    bool plain;                 /* plain scalar (null, true, false are recognised only so) */
    bool raw_exact;             /* the scalar's text is exactly the bytes [offset, end) */
    unsigned line, column;      /* 1-based */
    size_t offset, end;         /* byte offsets of a scalar's text in the file */
    const char *text;           /* scalar text (NUL-terminated copy) */
    size_t len;
    size_t first, last, next;   /* children (map: key, value, key, value...), sibling */
    size_t count;               /* children */
};

struct ytree {
    struct ynode *nodes;
    size_t count, capacity;
    size_t root;
    struct arena text;          /* scalar copies */
};

/* ---- the loader's state ---- */

struct loader {
    struct plan *plan;
    struct plan_diagnostics *diag;
    const char *file;           /* in the plan's arena */
    const char *source;
    size_t source_len;
    struct ytree tree;
    char path[512];             /* field path being walked */
    size_t path_len;
    int failure;                /* -ENOMEM once allocation failed: stop adding */
    char syntax[512];           /* libfyaml's first error line */
};

static void ld_nomem(struct loader *ld)
{
    ld->failure = -ENOMEM;
}

/* node NULL: the whole file (line 0), as when libfyaml cannot be loaded */
static struct plan_pos ld_pos(const struct loader *ld, const struct ynode *node)
{
    if (!node)
        return (struct plan_pos){ .file = ld->file };
    return (struct plan_pos){ .file = ld->file, .line = node->line, .column = node->column };
}

__attribute__((format(printf, 4, 0)))
static void ld_vreport(struct loader *ld, enum plan_severity severity, const struct plan_pos *pos,
                       const char *fmt, va_list ap, const char *code, const struct plan_pos *rel)
{
    char message[768], escaped[4 * sizeof message];
    vsnprintf(message, sizeof message, fmt, ap);
    /* messages quote the file's text ("invalid name \"...\""): escaped, so that a control
     * byte in a plan cannot drive the terminal and the JSON stays valid UTF-8 */
    text_escape(message, strlen(message), escaped, sizeof escaped);
    if (plan_diagnostics_add(ld->diag, severity, code, pos, ld->path, rel, NULL, "%s", escaped) < 0)
        ld_nomem(ld);
}

/* An error at node for the current field path. */
__attribute__((format(printf, 4, 5)))
static void ld_error(struct loader *ld, const struct ynode *node, const char *code,
                     const char *fmt, ...)
{
    struct plan_pos pos = ld_pos(ld, node);
    va_list ap;
    va_start(ap, fmt);
    ld_vreport(ld, PLAN_SEVERITY_ERROR, &pos, fmt, ap, code, NULL);
    va_end(ap);
}

/* An error at byte `at` of a scalar's text (the column moves when the text is the file's). */
__attribute__((format(printf, 5, 6)))
static void ld_error_within(struct loader *ld, const struct ynode *node, size_t at,
                            const char *code, const char *fmt, ...)
{
    struct plan_pos pos = ld_pos(ld, node);
    if (node->raw_exact && at <= node->len && !memchr(node->text, '\n', node->len))
        pos.column += (unsigned)at;
    va_list ap;
    va_start(ap, fmt);
    ld_vreport(ld, PLAN_SEVERITY_ERROR, &pos, fmt, ap, code, NULL);
    va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void ld_warning(struct loader *ld, const struct ynode *node, const char *code,
                       const char *fmt, ...)
{
    struct plan_pos pos = ld_pos(ld, node);
    va_list ap;
    va_start(ap, fmt);
    ld_vreport(ld, PLAN_SEVERITY_WARNING, &pos, fmt, ap, code, NULL);
    va_end(ap);
}

/* Field path: push returns the length to pop back to. */
static size_t ld_push_key(struct loader *ld, const char *key)
{
    size_t mark = ld->path_len;
    int n = snprintf(ld->path + mark, sizeof ld->path - mark, "%s%s", mark ? "." : "", key);
    if (n > 0)
        ld->path_len = mark + (size_t)n < sizeof ld->path ? mark + (size_t)n : sizeof ld->path - 1;
    return mark;
}

static size_t ld_push_index(struct loader *ld, size_t index)
{
    size_t mark = ld->path_len;
    int n = snprintf(ld->path + mark, sizeof ld->path - mark, "[%zu]", index);
    if (n > 0)
        ld->path_len = mark + (size_t)n < sizeof ld->path ? mark + (size_t)n : sizeof ld->path - 1;
    return mark;
}

static void ld_pop(struct loader *ld, size_t mark)
{
    ld->path_len = mark;
    ld->path[mark] = '\0';
}

/* ---- building the tree from libfyaml events ---- */

static size_t ytree_add(struct ytree *tree, enum ynode_kind kind)
{
    if (tree->count == tree->capacity) {
        size_t capacity = tree->capacity ? tree->capacity * 2 : 64;
        struct ynode *grown = realloc(tree->nodes, capacity * sizeof *grown);
        if (!grown)
            return YNONE;
        tree->nodes = grown;
        tree->capacity = capacity;
    }
    struct ynode *node = &tree->nodes[tree->count];
    *node = (struct ynode){ .kind = kind, .first = YNONE, .last = YNONE, .next = YNONE,
                            .text = "" };
    return tree->count++;
}

static void ytree_attach(struct ytree *tree, size_t parent, size_t child)
{
    struct ynode *p = &tree->nodes[parent];
    if (p->last == YNONE)
        p->first = child;
    else
        tree->nodes[p->last].next = child;
    p->last = child;
    p->count++;
}

static void ytree_free(struct ytree *tree)
{
    free(tree->nodes);
    arena_free(&tree->text);
    memset(tree, 0, sizeof *tree);
}

/* libfyaml reports through a diag object: keep its first "...:L:C: error: MSG" line. */
static void ld_capture_diag(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    struct loader *ld = user;
    if (!buf || ld->syntax[0] || len == 0)
        return;
    size_t n = len < sizeof ld->syntax - 1 ? len : sizeof ld->syntax - 1;
    /* only a header "SOURCE:LINE:COLUMN: error: MESSAGE": the source line echoed after it may
     * itself contain "error: " */
    const char *at = memmem(buf, n, ": error: ", 9);
    if (!at || at == buf || !isdigit((unsigned char)at[-1]) || memchr(buf, '\n', (size_t)(at - buf)))
        return;
    memcpy(ld->syntax, buf, n);
    ld->syntax[n] = '\0';
}

/* Turn the captured line into a diagnostic; fall back to the last node's place. */
static void ld_report_syntax(struct loader *ld, unsigned fallback_line, unsigned fallback_col)
{
    struct plan_pos pos = { .file = ld->file, .line = fallback_line, .column = fallback_col };
    const char *message = "YAML syntax error";
    char *at = strstr(ld->syntax, ": error: ");
    if (at) {
        char *nl = strchr(at + 9, '\n');
        if (nl)
            *nl = '\0';
        if (at[9])
            message = at + 9;
        /* walk back over ":LINE:COL" */
        char *p = at;
        unsigned values[2] = { 0, 0 };
        bool ok = true;
        for (int k = 1; k >= 0 && ok; k--) {
            char *digits_end = p;
            while (p > ld->syntax && isdigit((unsigned char)p[-1]))
                p--;
            if (p == digits_end || p == ld->syntax || p[-1] != ':') {
                ok = false;
                break;
            }
            values[k] = (unsigned)strtoul(p, NULL, 10);
            p--;
        }
        if (ok && values[0]) {
            pos.line = values[0];
            pos.column = values[1] ? values[1] : 1;
        }
    }
    const struct plan_pos *where = pos.line ? &pos : NULL;
    if (plan_diagnostics_add(ld->diag, PLAN_SEVERITY_ERROR, "yaml-syntax", where, "", NULL, NULL,
                             "%s", message) < 0)
        ld_nomem(ld);
}

static void ld_mark_node(struct ynode *node, const struct fy_mark *mark)
{
    if (mark && mark->line >= 0 && mark->column >= 0) {
        node->line = (unsigned)mark->line + 1u;
        node->column = (unsigned)mark->column + 1u;
        node->offset = mark->input_pos;
    }
}

/* The byte offset of the first byte that is not part of valid UTF-8 (or is NUL), or len.
 * YAML text is Unicode; libfyaml 0.7.12 also loops forever on some invalid sequences (found by
 * fuzz_plan_yaml: "%\xfe"), so nothing else reaches it. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c == 0)
            return i;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return i;
        i += n + 1;
    }
    return len;
}

/* Parse the text into ld->tree. Returns false when it reported an error (or ran out of memory). */
static bool ld_build_tree(struct loader *ld)
{
    size_t bad = utf8_invalid_at((const unsigned char *)ld->source, ld->source_len);
    if (bad < ld->source_len) {
        struct ynode where = { .line = 1, .column = 1 };
        for (size_t i = 0; i < bad; i++) {
            if (ld->source[i] == '\n') {
                where.line++;
                where.column = 1;
            } else if (((unsigned char)ld->source[i] & 0xc0) != 0x80) {
                where.column++;
            }
        }
        ld_error(ld, &where, "encoding", ld->source[bad] ? "not UTF-8 text (byte 0x%02x)"
                 : "a NUL byte%.0u in the text", (unsigned)(unsigned char)ld->source[bad]);
        return false;
    }
    /* libfyaml is loaded on demand (util/fyaml_loader.h) */
    struct fyaml_api fy;
    struct pr_error load_error;
    if (fyaml_api_load(&fy, &load_error) < 0) {
        ld_error(ld, NULL, "libfyaml", "%s", load_error.message);
        return false;
    }
    struct fy_diag_cfg dcfg;
    fy.diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = ld_capture_diag;
    dcfg.user = ld;
    dcfg.colorize = false;
    struct fy_diag *fdiag = fy.diag_create(&dcfg);
    if (!fdiag) {
        fyaml_api_unload(&fy);
        ld_nomem(ld);
        return false;
    }
    struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2, .diag = fdiag };
    struct fy_parser *parser = fy.parser_create(&cfg);
    if (!parser || fy.parser_set_string(parser, ld->source, ld->source_len) != 0) {
        if (parser)
            fy.parser_destroy(parser);
        fy.diag_destroy(fdiag);
        fyaml_api_unload(&fy);
        ld_nomem(ld);
        return false;
    }

    struct ytree *tree = &ld->tree;
    tree->root = YNONE;
    size_t stack[PLAN_YAML_MAX_DEPTH];
    size_t depth = 0;
    unsigned documents = 0, last_line = 1, last_col = 1;
    bool ok = true;
    struct fy_event *event;
    while (ok && (event = fy.parser_parse(parser)) != NULL) {
        const struct fy_mark *mark = fy.event_start_mark(event);
        if (mark && mark->line >= 0) {
            last_line = (unsigned)mark->line + 1u;
            last_col = (unsigned)mark->column + 1u;
        }
        size_t node = YNONE;
        switch (event->type) {
        case FYET_DOCUMENT_START:
            if (++documents > 1) {
                struct ynode where = { .line = last_line, .column = last_col };
                ld_error(ld, &where, "yaml-documents",
                         "a plan file holds one YAML document; split the others into files");
                ok = false;
            }
            break;
        case FYET_ALIAS: {
            struct ynode where = { .line = last_line, .column = last_col };
            ld_error(ld, &where, "yaml-alias",
                     "YAML aliases are not supported in a plan; write the value out");
            ok = false;
            break;
        }
        case FYET_MAPPING_START:
        case FYET_SEQUENCE_START:
        case FYET_SCALAR:
            node = ytree_add(tree, event->type == FYET_MAPPING_START ? YNODE_MAPPING
                                   : event->type == FYET_SEQUENCE_START ? YNODE_SEQUENCE
                                                                        : YNODE_SCALAR);
            if (node == YNONE) {
                ld_nomem(ld);
                ok = false;
                break;
            }
            {
                struct ynode *n = &tree->nodes[node];
                n->line = last_line;    /* a null scalar has no mark: the previous one's */
                n->column = last_col;
                ld_mark_node(n, mark);
                if (event->type == FYET_SCALAR) {
                    struct fy_token *value = event->scalar.value;
                    size_t len = 0;
                    const char *text = NULL;
                    char *decoded = NULL;
                    int got = fyaml_scalar_text(&fy, event, ld->source, ld->source_len, &text, &len, &decoded);
                    if (got == -EINVAL) {
                        ld_error(ld, n, "yaml-quotes", "a single-quoted value over several lines with two "
                                 "escaped quotes ('') in a row: write it on one line or in double quotes");
                        ok = false;
                        break;
                    }
                    char *copy = got == 0 ? arena_strndup(&tree->text, text ? text : "", text ? len : 0) : NULL;
                    free(decoded);
                    if (!copy) {
                        ld_nomem(ld);
                        ok = false;
                        break;
                    }
                    n->text = copy;
                    n->len = text ? len : 0;
                    n->plain = !value || fy.token_scalar_style(value) == FYSS_PLAIN;
                    const struct fy_mark *end = fy.event_end_mark(event);
                    n->end = end && mark && mark->line >= 0 ? end->input_pos : n->offset;
                    n->raw_exact = mark && mark->line >= 0 && n->end >= n->offset &&
                                   n->end - n->offset == n->len && n->end <= ld->source_len &&
                                   memcmp(ld->source + n->offset, n->text, n->len) == 0;
                }
            }
            if (depth == 0) {
                if (tree->root == YNONE)
                    tree->root = node;
            } else {
                ytree_attach(tree, stack[depth - 1], node);
            }
            if (event->type != FYET_SCALAR) {
                if (depth == PLAN_YAML_MAX_DEPTH) {
                    ld_error(ld, &tree->nodes[node], "yaml-depth",
                             "nested deeper than %u levels", PLAN_YAML_MAX_DEPTH);
                    ok = false;
                    break;
                }
                stack[depth++] = node;
            }
            break;
        case FYET_MAPPING_END:
        case FYET_SEQUENCE_END:
            if (depth)
                depth--;
            break;
        default:
            break;
        }
        fy.parser_event_free(parser, event);
    }
    if (ok && fy.parser_get_stream_error(parser)) {
        ld_report_syntax(ld, last_line, last_col);
        ok = false;
    }
    fy.parser_destroy(parser);
    fy.diag_destroy(fdiag);
    fyaml_api_unload(&fy);
    return ok && !ld->failure;
}

/* ---- node helpers ---- */

static const struct ynode *ld_node(const struct loader *ld, size_t index)
{
    return index == YNONE ? NULL : &ld->tree.nodes[index];
}

static bool ynode_is_null(const struct ynode *node)
{
    if (!node)
        return true;
    if (node->kind != YNODE_SCALAR || !node->plain)
        return false;
    return node->len == 0 || strcmp(node->text, "~") == 0 || strcmp(node->text, "null") == 0 ||
           strcmp(node->text, "Null") == 0 || strcmp(node->text, "NULL") == 0;
}

/* "a list", "a mapping", "\"yes\"" for messages. */
static const char *ynode_describe(const struct ynode *node, char *buf, size_t size)
{
    if (!node || ynode_is_null(node))
        snprintf(buf, size, "nothing");
    else if (node->kind == YNODE_SEQUENCE)
        snprintf(buf, size, "a list");
    else if (node->kind == YNODE_MAPPING)
        snprintf(buf, size, "a mapping");
    else
        snprintf(buf, size, "\"%.60s%s\"", node->text, node->len > 60 ? "..." : "");
    return buf;
}

/* ---- "did you mean" ---- */

static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    unsigned row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1])
                                ? 0u : 1u;
            unsigned best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

struct suggestion {
    const char *word;
    const char *best;
    unsigned distance;
};

static void suggestion_offer(struct suggestion *s, const char *candidate)
{
    if (!candidate || strcmp(candidate, s->word) == 0)
        return;   /* the word itself is no suggestion */
    size_t len = strlen(s->word);
    unsigned limit = len <= 4 ? 1u : len <= 8 ? 2u : 3u;
    unsigned d = edit_distance(s->word, candidate);
    if (d > limit || d >= strlen(candidate))
        return;
    if (!s->best || d < s->distance) {
        s->best = candidate;
        s->distance = d;
    }
}

/* " (did you mean \"x\"?)" or "". */
static const char *suggestion_text(const struct suggestion *s, char *buf, size_t size)
{
    if (s->best)
        snprintf(buf, size, " (did you mean \"%s\"?)", s->best);
    else
        buf[0] = '\0';
    return buf;
}

/* ---- mappings with known keys ---- */

/* Check map's keys against known[]: duplicate and unknown keys are errors; values[k] gets the
 * value node of known[k] (YNONE when absent), keys[k] its key node. */
static void ld_fields(struct loader *ld, const struct ynode *map, const char *const *known,
                      size_t known_count, size_t *values, size_t *keys)
{
    for (size_t k = 0; k < known_count; k++)
        values[k] = keys[k] = YNONE;
    size_t key = map->first;
    while (key != YNONE) {
        const struct ynode *key_node = ld_node(ld, key);
        size_t value = key_node->next;
        if (key_node->kind != YNODE_SCALAR) {
            ld_error(ld, key_node, "bad-key", "a key must be a name, not %s",
                     key_node->kind == YNODE_SEQUENCE ? "a list" : "a mapping");
        } else {
            size_t k = 0;
            while (k < known_count && strcmp(known[k], key_node->text) != 0)
                k++;
            if (k == known_count) {
                struct suggestion s = { .word = key_node->text };
                for (size_t j = 0; j < known_count; j++)
                    suggestion_offer(&s, known[j]);
                char hint[128];
                size_t mark = ld_push_key(ld, key_node->text);
                ld_error(ld, key_node, "unknown-key", "unknown key \"%.80s\"%s", key_node->text,
                         suggestion_text(&s, hint, sizeof hint));
                ld_pop(ld, mark);
            } else if (keys[k] != YNONE) {
                const struct ynode *first = ld_node(ld, keys[k]);
                struct plan_pos here = ld_pos(ld, key_node), there = ld_pos(ld, first);
                size_t mark = ld_push_key(ld, known[k]);
                if (plan_diagnostics_add(ld->diag, PLAN_SEVERITY_ERROR, "duplicate-key", &here,
                                         ld->path, &there, NULL,
                                         "key \"%s\" appears twice (first at line %u, column %u)",
                                         known[k], first->line, first->column) < 0)
                    ld_nomem(ld);
                ld_pop(ld, mark);
            } else {
                keys[k] = key;
                values[k] = value;
            }
        }
        key = value == YNONE ? YNONE : ld_node(ld, value)->next;
    }
}

/* ---- scalar parsers ---- */

static bool ld_expect_scalar(struct loader *ld, const struct ynode *node, const char *what)
{
    if (node->kind == YNODE_SCALAR && !ynode_is_null(node))
        return true;
    char got[96];
    ld_error(ld, node, "type", "expected %s, got %s", what, ynode_describe(node, got, sizeof got));
    return false;
}

static bool plan_name_valid(const char *text, size_t len)
{
    if (len == 0 || len > PLAN_NAME_MAX || !isalnum((unsigned char)text[0]))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

/* A NAME (copied into the plan), or NULL after an error. */
static const char *ld_name(struct loader *ld, const struct ynode *node, const char *what)
{
    if (!ld_expect_scalar(ld, node, what))
        return NULL;
    if (!plan_name_valid(node->text, node->len)) {
        ld_error(ld, node, "bad-name",
                 "invalid name \"%.80s\": use letters, digits, '.', '_' and '-', starting with "
                 "a letter or digit", node->text);
        return NULL;
    }
    const char *copy = arena_strndup(&ld->plan->arena, node->text, node->len);
    if (!copy)
        ld_nomem(ld);
    return copy;
}

static const char *ld_string(struct loader *ld, const struct ynode *node, const char *what)
{
    if (!ld_expect_scalar(ld, node, what))
        return NULL;
    const char *copy = arena_strndup(&ld->plan->arena, node->text, node->len);
    if (!copy)
        ld_nomem(ld);
    return copy;
}

/* Digits at text[*i...] into *value (stops at 6 digits to avoid overflow). */
static bool scan_number(const char *text, size_t len, size_t *i, unsigned long *value)
{
    size_t start = *i;
    unsigned long v = 0;
    while (*i < len && isdigit((unsigned char)text[*i])) {
        if (*i - start < 7)
            v = v * 10u + (unsigned long)(text[*i] - '0');
        (*i)++;
    }
    *value = v;
    return *i > start;
}

/* A port number 1-65535 starting at text[*i]; reports and returns false otherwise. */
static bool ld_port_number(struct loader *ld, const struct ynode *node, size_t *i,
                           uint16_t *port)
{
    size_t start = *i;
    unsigned long value;
    if (!scan_number(node->text, node->len, i, &value)) {
        ld_error_within(ld, node, start, "bad-port",
                        "expected a port number, got \"%.60s\"", node->text);
        return false;
    }
    char excerpt[TEXT_EXCERPT_SIZE];
    if (*i < node->len && isalnum((unsigned char)node->text[*i])) {
        /* 0x50, 80e1, 8o: strtoul would take some of them; a port is written in decimal */
        size_t end = *i;
        while (end < node->len && isalnum((unsigned char)node->text[end]))
            end++;
        ld_error_within(ld, node, start, "bad-port", "port \"%s\" is not a decimal number 1-65535",
                        text_excerpt(node->text + start, end - start, excerpt));
        return false;
    }
    if (value == 0 || value > 65535u || *i - start > 5) {
        ld_error_within(ld, node, start, "bad-port", "port %s is out of range 1-65535",
                        text_excerpt(node->text + start, *i - start, excerpt));
        return false;
    }
    *port = (uint16_t)value;
    return true;
}

static void skip_blanks(const char *text, size_t len, size_t *i)
{
    while (*i < len && (text[*i] == ' ' || text[*i] == '\t'))
        (*i)++;
}

/* RANGE: "A-B" or "A". */
static bool ld_range(struct loader *ld, const struct ynode *node, struct plan_range *out)
{
    if (!ld_expect_scalar(ld, node, "a port range such as 1024-29999"))
        return false;
    size_t i = 0;
    uint16_t first, last;
    skip_blanks(node->text, node->len, &i);
    if (!ld_port_number(ld, node, &i, &first))
        return false;
    last = first;
    skip_blanks(node->text, node->len, &i);
    if (i < node->len && node->text[i] == '-') {
        i++;
        skip_blanks(node->text, node->len, &i);
        if (!ld_port_number(ld, node, &i, &last))
            return false;
        skip_blanks(node->text, node->len, &i);
    }
    if (i != node->len) {
        ld_error_within(ld, node, i, "bad-range",
                        "expected a port range such as 1024-29999, got \"%.60s\"", node->text);
        return false;
    }
    if (first > last) {
        ld_error(ld, node, "bad-range", "range %u-%u is backwards (first > last)",
                 (unsigned)first, (unsigned)last);
        return false;
    }
    *out = (struct plan_range){ .first = first, .last = last, .pos = ld_pos(ld, node) };
    return true;
}

static bool ld_bool(struct loader *ld, const struct ynode *node, bool *out)
{
    if (node->kind == YNODE_SCALAR && node->plain) {
        const char *t = node->text;
        if (!strcmp(t, "true") || !strcmp(t, "True") || !strcmp(t, "TRUE")) {
            *out = true;
            return true;
        }
        if (!strcmp(t, "false") || !strcmp(t, "False") || !strcmp(t, "FALSE")) {
            *out = false;
            return true;
        }
    }
    char got[96];
    ld_error(ld, node, "type", "expected true or false, got %s",
             ynode_describe(node, got, sizeof got));
    return false;
}

/* An IP address (no prefix) into family/bytes. */
static bool parse_address(const char *text, uint8_t *family, uint8_t bytes[16])
{
    memset(bytes, 0, 16);
    if (inet_pton(AF_INET, text, bytes) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, bytes) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

static bool ld_address(struct loader *ld, const struct ynode *node, uint8_t *family,
                       uint8_t bytes[16])
{
    if (!ld_expect_scalar(ld, node, "an IP address"))
        return false;
    if (parse_address(node->text, family, bytes))
        return true;
    const char *hint = strchr(node->text, '/') ? " (a host address takes no /prefix)"
                       : node->text[0] == '[' ? " (write IPv6 addresses without brackets)"
                                              : "";
    ld_error(ld, node, "bad-address", "\"%.80s\" is not an IPv4 or IPv6 address%s", node->text,
             hint);
    return false;
}

static bool ld_cidr(struct loader *ld, const struct ynode *node, struct plan_cidr *out)
{
    if (!ld_expect_scalar(ld, node, "a CIDR such as 10.0.0.0/8"))
        return false;
    char text[128];
    if (node->len >= sizeof text) {
        ld_error(ld, node, "bad-cidr", "\"%.60s...\" is not a CIDR", node->text);
        return false;
    }
    memcpy(text, node->text, node->len + 1);
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    *out = (struct plan_cidr){ 0 };
    if (!parse_address(text, &out->family, out->bytes)) {
        ld_error(ld, node, "bad-cidr", "\"%.80s\" is not a CIDR (ADDRESS/PREFIX)", node->text);
        return false;
    }
    unsigned max = out->family == AF_INET ? 32u : 128u;
    unsigned long prefix = max;
    if (slash) {
        size_t i = (size_t)(slash - text) + 1u, len = strlen(slash + 1) + i;
        if (!scan_number(text, len, &i, &prefix) || i != len || prefix > max) {
            ld_error_within(ld, node, (size_t)(slash - text) + 1u, "bad-cidr",
                            "prefix length must be 0-%u in \"%.80s\"", max, node->text);
            return false;
        }
    }
    out->prefix = (uint8_t)prefix;
    /* host bits must be zero: 10.1.0.5/16 is a typo for an address or for 10.1.0.0/16 */
    struct plan_cidr masked = *out;
    for (unsigned bit = (unsigned)prefix; bit < max; bit++)
        masked.bytes[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
    if (memcmp(masked.bytes, out->bytes, 16) != 0) {
        char net[INET6_ADDRSTRLEN];
        inet_ntop(out->family == AF_INET ? AF_INET : AF_INET6, masked.bytes, net, sizeof net);
        ld_error(ld, node, "bad-cidr", "\"%.80s\" has host bits set (did you mean %s/%lu?)",
                 node->text, net, prefix);
        return false;
    }
    return true;
}

/* ---- arrays in the plan's arena ---- */

static void *ld_array(struct loader *ld, size_t count, size_t size)
{
    if (count == 0)
        return NULL;
    void *p = arena_alloc(&ld->plan->arena, count * size);
    if (!p)
        ld_nomem(ld);
    else
        memset(p, 0, count * size);
    return p;
}

/* Append one zeroed element to a growing array of the plan (copying on growth: arenas do not
 * free, and plans are small). */
static void *ld_push(struct loader *ld, void **items, size_t *count, size_t *capacity,
                     size_t size)
{
    if (*count == *capacity) {
        size_t grown_capacity = *capacity ? *capacity * 2 : 8;
        void *grown = arena_alloc(&ld->plan->arena, grown_capacity * size);
        if (!grown) {
            ld_nomem(ld);
            return NULL;
        }
        if (*count)
            memcpy(grown, *items, *count * size);
        *items = grown;
        *capacity = grown_capacity;
    }
    void *slot = (char *)*items + *count * size;
    memset(slot, 0, size);
    (*count)++;
    return slot;
}

#define LD_PUSH(ld, array, count, capacity) \
    ld_push((ld), (void **)&(array), &(count), &(capacity), sizeof *(array))

/* A scalar or a list of scalars: call each(ld, item, index, ctx) for each, with the field path
 * extended by [i] for lists. Returns the item count (a scalar counts 1), 0 on a type error. */
typedef void (*ld_item_fn)(struct loader *ld, const struct ynode *item, size_t index, void *ctx);

static size_t ld_one_or_list(struct loader *ld, const struct ynode *node, const char *what,
                             ld_item_fn each, void *ctx)
{
    if (node->kind == YNODE_SCALAR && !ynode_is_null(node)) {
        each(ld, node, 0, ctx);
        return 1;
    }
    if (node->kind != YNODE_SEQUENCE) {
        char got[96];
        ld_error(ld, node, "type", "expected %s, got %s", what,
                 ynode_describe(node, got, sizeof got));
        return 0;
    }
    size_t index = 0;
    for (size_t item = node->first; item != YNONE; item = ld_node(ld, item)->next, index++) {
        size_t mark = ld_push_index(ld, index);
        each(ld, ld_node(ld, item), index, ctx);
        ld_pop(ld, mark);
    }
    return index;
}

/* Items of a list or single scalar, counted ahead for exact allocation. */
static size_t ynode_items(const struct ynode *node)
{
    if (node->kind == YNODE_SEQUENCE)
        return node->count;
    return node->kind == YNODE_SCALAR && !ynode_is_null(node) ? 1 : 0;
}

struct name_list {
    const char **names;
    struct plan_pos *pos;
    size_t count;
    const char *what;
};

static void ld_name_item(struct loader *ld, const struct ynode *item, size_t index, void *ctx)
{
    (void)index;
    struct name_list *list = ctx;
    const char *name = ld_name(ld, item, list->what);
    if (!name)
        return;
    if (list->pos)
        list->pos[list->count] = ld_pos(ld, item);
    list->names[list->count++] = name;
}

static void ld_name_list(struct loader *ld, const struct ynode *node, const char *what,
                         const char ***names, struct plan_pos **pos, size_t *count)
{
    struct name_list list = { .what = what };
    size_t max = ynode_items(node);
    list.names = ld_array(ld, max, sizeof *list.names);
    if (pos)
        list.pos = ld_array(ld, max, sizeof *list.pos);
    if (max && (!list.names || (pos && !list.pos)))
        return;
    ld_one_or_list(ld, node, what, ld_name_item, &list);
    *names = list.names;
    if (pos)
        *pos = list.pos;
    *count = list.count;
}

struct range_list {
    struct plan_range *ranges;
    size_t count;
};

static void ld_range_item(struct loader *ld, const struct ynode *item, size_t index, void *ctx)
{
    (void)index;
    struct range_list *list = ctx;
    if (ld_range(ld, item, &list->ranges[list->count]))
        list->count++;
}

static void ld_range_list(struct loader *ld, const struct ynode *node, struct plan_range **out,
                          size_t *count)
{
    struct range_list list = { .ranges = ld_array(ld, ynode_items(node), sizeof *list.ranges) };
    if (ynode_items(node) && !list.ranges)
        return;
    ld_one_or_list(ld, node, "a port range or a list of them", ld_range_item, &list);
    *out = list.ranges;
    *count = list.count;
}

/* ---- policy ---- */

enum { POLICY_STATIC, POLICY_AUTO, POLICY_EXCLUDE, POLICY_ALLOW_IANA, POLICY_KEYS };
static const char *const policy_keys[POLICY_KEYS] = { "static", "auto", "exclude",
                                                      "allow_iana_assigned" };

static void ld_policy(struct loader *ld, const struct ynode *key, const struct ynode *value)
{
    struct plan *plan = ld->plan;
    if (plan->has_policy) {
        struct plan_pos here = ld_pos(ld, key);
        if (plan_diagnostics_add(ld->diag, PLAN_SEVERITY_ERROR, "duplicate-policy", &here,
                                 "policy", &plan->policy.pos, NULL,
                                 "a second policy (the first is at %s:%u:%u); keep one",
                                 plan->policy.pos.file, plan->policy.pos.line,
                                 plan->policy.pos.column) < 0)
            ld_nomem(ld);
        return;
    }
    if (ynode_is_null(value))
        return;
    if (value->kind != YNODE_MAPPING) {
        char got[96];
        ld_error(ld, value, "type", "expected a mapping with static, auto, exclude, "
                 "allow_iana_assigned, got %s", ynode_describe(value, got, sizeof got));
        return;
    }
    plan->has_policy = true;
    plan->policy.pos = ld_pos(ld, key);
    size_t values[POLICY_KEYS], keys[POLICY_KEYS];
    ld_fields(ld, value, policy_keys, POLICY_KEYS, values, keys);
    for (size_t k = 0; k < POLICY_KEYS; k++) {
        const struct ynode *v = ld_node(ld, values[k]);
        if (!v)
            continue;
        size_t mark = ld_push_key(ld, policy_keys[k]);
        switch (k) {
        case POLICY_STATIC:
            if (ld_range(ld, v, &plan->policy.static_range) && values[POLICY_AUTO] == YNONE)
                plan->policy.auto_range = plan->policy.static_range;
            break;
        case POLICY_AUTO:
            ld_range(ld, v, &plan->policy.auto_range);
            break;
        case POLICY_EXCLUDE:
            ld_range_list(ld, v, &plan->policy.excluded, &plan->policy.excluded_count);
            break;
        case POLICY_ALLOW_IANA:
            ld_bool(ld, v, &plan->policy.allow_iana_assigned);
            break;
        }
        ld_pop(ld, mark);
    }
}

/* ---- networks ---- */

struct cidr_list {
    struct plan_cidr *cidrs;
    size_t count;
};

static void ld_cidr_item(struct loader *ld, const struct ynode *item, size_t index, void *ctx)
{
    (void)index;
    struct cidr_list *list = ctx;
    if (ld_cidr(ld, item, &list->cidrs[list->count]))
        list->count++;
}

static void ld_networks(struct loader *ld, const struct ynode *value)
{
    if (ynode_is_null(value))
        return;
    if (value->kind != YNODE_MAPPING) {
        char got[96];
        ld_error(ld, value, "type", "expected a mapping of NAME: [CIDR, ...], got %s",
                 ynode_describe(value, got, sizeof got));
        return;
    }
    struct plan *plan = ld->plan;
    size_t key = value->first;
    while (key != YNONE) {
        const struct ynode *key_node = ld_node(ld, key);
        const struct ynode *cidrs = ld_node(ld, key_node->next);
        size_t mark = ld_push_key(ld, key_node->kind == YNODE_SCALAR ? key_node->text : "?");
        const char *name = ld_name(ld, key_node, "a network name");
        if (name && strcmp(name, "any") == 0) {
            ld_error(ld, key_node, "reserved-name", "\"any\" is reserved (it means every source)");
            name = NULL;
        }
        struct cidr_list list = { .cidrs = ld_array(ld, ynode_items(cidrs), sizeof *list.cidrs) };
        if (ynode_is_null(cidrs))
            ld_error(ld, cidrs, "type", "network \"%s\" lists no CIDR", key_node->text);
        else if (!ynode_items(cidrs) || list.cidrs)
            ld_one_or_list(ld, cidrs, "a CIDR or a list of CIDRs", ld_cidr_item, &list);
        if (name) {
            struct plan_network *net = LD_PUSH(ld, plan->networks, plan->network_count,
                                               plan->network_capacity);
            if (net) {
                net->name = name;
                net->cidrs = list.cidrs;
                net->cidr_count = list.count;
                net->pos = ld_pos(ld, key_node);
            }
        }
        ld_pop(ld, mark);
        key = cidrs->next;
    }
}

/* ---- hosts ---- */

enum { HOST_NAME, HOST_ADDRESSES, HOST_GROUPS, HOST_EPHEMERAL, HOST_RESERVED, HOST_LOCAL,
       HOST_KEYS };
static const char *const host_keys[HOST_KEYS] = { "name", "addresses", "groups", "ephemeral",
                                                  "reserved", "local" };

struct address_list {
    struct plan_named_address *items;
    size_t count;
    const char *name;
};

static void ld_address_item(struct loader *ld, const struct ynode *item, size_t index, void *ctx)
{
    (void)index;
    struct address_list *list = ctx;
    struct plan_named_address *a = &list->items[list->count];
    if (ld_address(ld, item, &a->family, a->bytes)) {
        a->name = list->name;
        a->pos = ld_pos(ld, item);
        list->count++;
    }
}

static size_t ld_count_addresses(const struct loader *ld, const struct ynode *node)
{
    if (node->kind != YNODE_MAPPING)
        return ynode_items(node);
    size_t total = 0;
    for (size_t key = node->first; key != YNONE;) {
        const struct ynode *value = ld_node(ld, ld_node(ld, key)->next);
        total += ynode_items(value);
        key = value->next;
    }
    return total;
}

static void ld_host_addresses(struct loader *ld, const struct ynode *node, struct plan_host *host)
{
    struct address_list list = { .name = "" };
    size_t max = ld_count_addresses(ld, node);
    list.items = ld_array(ld, max, sizeof *list.items);
    if (max && !list.items)
        return;
    if (node->kind != YNODE_MAPPING) {
        ld_one_or_list(ld, node, "an address, a list of addresses or NAME: ADDRESS",
                       ld_address_item, &list);
    } else {
        for (size_t key = node->first; key != YNONE;) {
            const struct ynode *key_node = ld_node(ld, key);
            const struct ynode *value = ld_node(ld, key_node->next);
            size_t mark = ld_push_key(ld, key_node->kind == YNODE_SCALAR ? key_node->text : "?");
            const char *name = ld_name(ld, key_node, "an address name");
            if (name && (strcmp(name, "any") == 0 || strcmp(name, "loopback") == 0)) {
                ld_error(ld, key_node, "reserved-name",
                         "\"%s\" is reserved for `bind:`; name the address otherwise", name);
                name = NULL;
            } else if (name && name[strspn(name, "0123456789.")] == '\0') {
                /* a registry server's database reads such a bind as an address literal */
                ld_error(ld, key_node, "numeric-name",
                         "address name \"%s\" is digits and dots alone, which reads as an address; "
                         "name the address otherwise", name);
                name = NULL;
            }
            if (name) {
                list.name = name;
                ld_one_or_list(ld, value, "an address or a list of addresses", ld_address_item,
                               &list);
            }
            ld_pop(ld, mark);
            key = value->next;
        }
    }
    host->addresses = list.items;
    host->address_count = list.count;
}

static void ld_host(struct loader *ld, const struct ynode *node)
{
    if (node->kind != YNODE_MAPPING) {
        char got[96];
        ld_error(ld, node, "type", "expected a host (a mapping with name, addresses, groups), "
                 "got %s", ynode_describe(node, got, sizeof got));
        return;
    }
    size_t values[HOST_KEYS], keys[HOST_KEYS];
    ld_fields(ld, node, host_keys, HOST_KEYS, values, keys);
    struct plan_host host = { .pos = ld_pos(ld, node) };
    size_t mark;
    if (values[HOST_NAME] == YNONE) {
        mark = ld_push_key(ld, "name");
        ld_error(ld, node, "missing-field", "a host needs a name");
        ld_pop(ld, mark);
    } else {
        mark = ld_push_key(ld, "name");
        host.name = ld_name(ld, ld_node(ld, values[HOST_NAME]), "a host name");
        if (host.name && strcmp(host.name, "any") == 0) {
            ld_error(ld, ld_node(ld, values[HOST_NAME]), "reserved-name",
                     "\"any\" is reserved (it means every source)");
            host.name = NULL;
        }
        ld_pop(ld, mark);
    }
    const struct ynode *v;
    if ((v = ld_node(ld, values[HOST_ADDRESSES])) && !ynode_is_null(v)) {
        mark = ld_push_key(ld, "addresses");
        ld_host_addresses(ld, v, &host);
        ld_pop(ld, mark);
    }
    if ((v = ld_node(ld, values[HOST_GROUPS])) && !ynode_is_null(v)) {
        mark = ld_push_key(ld, "groups");
        ld_name_list(ld, v, "a group name or a list of them", &host.groups, NULL,
                     &host.group_count);
        for (size_t g = 0; g < host.group_count; g++)
            if (strcmp(host.groups[g], "any") == 0)
                ld_error(ld, v, "reserved-name", "\"any\" is reserved (it means every source)");
        ld_pop(ld, mark);
    }
    if ((v = ld_node(ld, values[HOST_EPHEMERAL]))) {
        mark = ld_push_key(ld, "ephemeral");
        struct plan_range range;
        if (ld_range(ld, v, &range)) {
            host.has_ephemeral = true;
            host.ephemeral_first = range.first;
            host.ephemeral_last = range.last;
            host.ephemeral_pos = range.pos;
        }
        ld_pop(ld, mark);
    }
    if ((v = ld_node(ld, values[HOST_RESERVED])) && !ynode_is_null(v)) {
        mark = ld_push_key(ld, "reserved");
        ld_range_list(ld, v, &host.reserved, &host.reserved_count);
        ld_pop(ld, mark);
    }
    if ((v = ld_node(ld, values[HOST_LOCAL])) && !ynode_is_null(v)) {
        mark = ld_push_key(ld, "local");
        host.has_local = ld_bool(ld, v, &host.local);
        ld_pop(ld, mark);
    }
    if (!host.name)
        return;   /* reported; a host without a name cannot be referred to */
    struct plan *plan = ld->plan;
    struct plan_host *slot = LD_PUSH(ld, plan->hosts, plan->host_count, plan->host_capacity);
    if (slot)
        *slot = host;
}

/* ---- services ---- */

enum { SVC_NAME, SVC_HOSTS, SVC_PORTS, SVC_PORT, SVC_BIND, SVC_EXPOSURE, SVC_SOURCES, SVC_OWNER,
       SVC_NOTES, SVC_IANA, SVC_KEYS };
static const char *const service_keys[SVC_KEYS] = { "name", "hosts", "ports", "port", "bind",
                                                    "exposure", "sources", "owner", "notes",
                                                    "iana" };

/* PORT[/PROTO] or auto[/PROTO]. */
static bool ld_port(struct loader *ld, const struct ynode *node, struct plan_port *out)
{
    if (!ld_expect_scalar(ld, node, "PORT/PROTO (80/tcp) or auto"))
        return false;
    *out = (struct plan_port){ .proto = REGISTRY_PROTO_TCP, .pos = ld_pos(ld, node) };
    const char *text = node->text;
    size_t len = node->len, i = 0;
    if (len >= 4 && strncasecmp(text, "auto", 4) == 0 && (len == 4 || text[4] == '/')) {
        out->automatic = true;
        if (node->raw_exact) {
            out->auto_offset = node->offset;
            out->auto_length = 4;
        }
        i = 4;
    } else if (isdigit((unsigned char)text[0])) {
        if (!ld_port_number(ld, node, &i, &out->port))
            return false;
        if (i < len && text[i] == '-') {
            ld_error(ld, node, "bad-port",
                     "\"%.60s\": port ranges are not allowed here; list each port", text);
            return false;
        }
    } else {
        ld_error(ld, node, "bad-port",
                 "expected PORT/PROTO (80/tcp) or auto[/PROTO], got \"%.60s\"", text);
        return false;
    }
    if (i == len)
        return true;
    if (text[i] != '/') {
        ld_error_within(ld, node, i, "bad-port",
                        "expected PORT/PROTO (80/tcp) or auto[/PROTO], got \"%.60s\"", text);
        return false;
    }
    size_t proto_at = i + 1;
    const char *proto = text + proto_at;
    size_t proto_len = len - proto_at;
    if (proto_len == 3 && strncasecmp(proto, "tcp", 3) == 0) {
        out->proto = REGISTRY_PROTO_TCP;
    } else if (proto_len == 3 && strncasecmp(proto, "udp", 3) == 0) {
        out->proto = REGISTRY_PROTO_UDP;
    } else {
        ld_error_within(ld, node, proto_at, "bad-protocol",
                        proto_len ? "unknown protocol \"%.20s\" (tcp or udp)"
                                  : "missing protocol after '/'%.0s (tcp or udp)", proto);
        return false;
    }
    out->proto_written = true;
    return true;
}

struct port_list {
    struct plan_port *ports;
    size_t count;
};

static void ld_port_item(struct loader *ld, const struct ynode *item, size_t index, void *ctx)
{
    (void)index;
    struct port_list *list = ctx;
    if (ld_port(ld, item, &list->ports[list->count]))
        list->count++;
}

static void ld_service_ports(struct loader *ld, const size_t *values, const size_t *keys,
                             const struct ynode *service_node, struct plan_service *svc)
{
    const struct ynode *ports = ld_node(ld, values[SVC_PORTS]);
    const struct ynode *port = ld_node(ld, values[SVC_PORT]);
    size_t mark;
    if (ports && port) {
        mark = ld_push_key(ld, "port");
        ld_error(ld, ld_node(ld, keys[SVC_PORT]), "conflicting-fields",
                 "give either `port` or `ports`, not both");
        ld_pop(ld, mark);
        return;
    }
    if (!ports && !port) {
        mark = ld_push_key(ld, "ports");
        ld_error(ld, service_node, "missing-field",
                 "a service needs `ports: [PORT/PROTO, ...]` or `port: PORT/PROTO` (or auto)");
        ld_pop(ld, mark);
        return;
    }
    if (port) {
        mark = ld_push_key(ld, "port");
        if (port->kind == YNODE_SEQUENCE) {
            ld_error(ld, port, "type", "`port` takes one PORT/PROTO; write a list as `ports`");
        } else {
            struct plan_port *one = ld_array(ld, 1, sizeof *one);
            if (one && ld_port(ld, port, one)) {
                svc->ports = one;
                svc->port_singular = true;
                svc->port_count = 1;
            }
        }
        ld_pop(ld, mark);
        return;
    }
    mark = ld_push_key(ld, "ports");
    if (ports->kind != YNODE_SEQUENCE || ports->count == 0) {
        char got[96];
        ld_error(ld, ports, "type", "expected a list such as [80/tcp, 443/tcp], got %s%s",
                 ynode_describe(ports, got, sizeof got),
                 ports->kind == YNODE_SCALAR && !ynode_is_null(ports)
                     ? " (for one port write `port: 80/tcp`)" : "");
    } else {
        struct port_list list = { .ports = ld_array(ld, ports->count, sizeof *list.ports) };
        if (list.ports) {
            ld_one_or_list(ld, ports, "a list of PORT/PROTO", ld_port_item, &list);
            svc->ports = list.ports;
            svc->port_count = list.count;
        }
    }
    ld_pop(ld, mark);
}

static void ld_service_bind(struct loader *ld, const struct ynode *node, struct plan_service *svc)
{
    if (!ld_expect_scalar(ld, node, "any, loopback, an address name or an IP address"))
        return;
    struct plan_bind *bind = &svc->bind;
    bind->pos = ld_pos(ld, node);
    svc->bind_given = true;
    if (strcmp(node->text, "any") == 0) {
        bind->kind = PLAN_BIND_ANY;
    } else if (strcmp(node->text, "loopback") == 0) {
        bind->kind = PLAN_BIND_LOOPBACK;
    } else if (parse_address(node->text, &bind->family, bind->bytes)) {
        bind->kind = PLAN_BIND_ADDRESS;
    } else if (plan_name_valid(node->text, node->len)) {
        bind->kind = PLAN_BIND_NAMED;   /* resolved against the hosts in plan_load_finish */
        bind->name = arena_strndup(&ld->plan->arena, node->text, node->len);
        if (!bind->name)
            ld_nomem(ld);
    } else {
        const char *hint = strcmp(node->text, "*") == 0 ? " (did you mean \"any\"?)"
                           : strcmp(node->text, "localhost") == 0 ? " (did you mean \"loopback\"?)"
                                                                  : "";
        ld_error(ld, node, "bad-bind",
                 "expected any, loopback, an address name or an IP address, got \"%.60s\"%s",
                 node->text, hint);
        svc->bind_given = false;
    }
}

static bool ld_exposure(struct loader *ld, const struct ynode *node, enum plan_exposure *out)
{
    static const char *const names[] = { "public", "internal", "loopback" };
    if (!ld_expect_scalar(ld, node, "public, internal or loopback"))
        return false;
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(node->text, names[i]) == 0) {
            *out = (enum plan_exposure)i;
            return true;
        }
    }
    struct suggestion s = { .word = node->text };
    for (size_t i = 0; i < 3; i++)
        suggestion_offer(&s, names[i]);
    char hint[96];
    ld_error(ld, node, "bad-exposure", "unknown exposure \"%.60s\": public, internal or loopback%s",
             node->text, suggestion_text(&s, hint, sizeof hint));
    return false;
}

struct source_list {
    struct plan_source *items;
    size_t count;
};

static void ld_source_item(struct loader *ld, const struct ynode *item, size_t index, void *ctx)
{
    (void)index;
    struct source_list *list = ctx;
    if (!ld_expect_scalar(ld, item, "any, a CIDR, or a network, host or group name"))
        return;
    struct plan_source *src = &list->items[list->count];
    *src = (struct plan_source){ .pos = ld_pos(ld, item) };
    uint8_t family, bytes[16];
    if (strcmp(item->text, "any") == 0) {
        src->kind = PLAN_SOURCE_ANY;
    } else if (strchr(item->text, '/') || parse_address(item->text, &family, bytes)) {
        if (!ld_cidr(ld, item, &src->cidr))
            return;
        src->kind = PLAN_SOURCE_CIDR;
    } else if (plan_name_valid(item->text, item->len)) {
        src->kind = PLAN_SOURCE_NETWORK;   /* or a host or group: settled in plan_load_finish */
        src->name = arena_strndup(&ld->plan->arena, item->text, item->len);
        if (!src->name) {
            ld_nomem(ld);
            return;
        }
    } else {
        ld_error(ld, item, "bad-source",
                 "expected any, a CIDR, or a network, host or group name, got \"%.60s\"",
                 item->text);
        return;
    }
    list->count++;
}

static void ld_service(struct loader *ld, const struct ynode *node)
{
    if (node->kind != YNODE_MAPPING) {
        char got[96];
        ld_error(ld, node, "type", "expected a service (a mapping with name, hosts, ports, "
                 "exposure...), got %s", ynode_describe(node, got, sizeof got));
        return;
    }
    size_t values[SVC_KEYS], keys[SVC_KEYS];
    ld_fields(ld, node, service_keys, SVC_KEYS, values, keys);
    struct plan_service svc = { .pos = ld_pos(ld, node) };
    bool exposure_ok = false;
    size_t mark;
    static const char *const required[] = { [SVC_NAME] = "name", [SVC_HOSTS] = "hosts",
                                            [SVC_EXPOSURE] = "exposure" };
    static const char *const why[] = {
        [SVC_NAME] = "a service needs a name",
        [SVC_HOSTS] = "a service needs `hosts:` (host or group names)",
        [SVC_EXPOSURE] = "a service needs `exposure:` (public, internal or loopback)",
    };
    for (size_t k = 0; k < SVC_KEYS; k++) {
        const struct ynode *v = ld_node(ld, values[k]);
        if (k == SVC_PORTS || k == SVC_PORT)
            continue;
        if (!v) {
            if (k < sizeof required / sizeof *required && required[k]) {
                mark = ld_push_key(ld, required[k]);
                ld_error(ld, node, "missing-field", "%s", why[k]);
                ld_pop(ld, mark);
            }
            continue;
        }
        mark = ld_push_key(ld, service_keys[k]);
        switch (k) {
        case SVC_NAME:
            svc.name = ld_name(ld, v, "a service name");
            break;
        case SVC_HOSTS:
            if (ynode_is_null(v) || (v->kind == YNODE_SEQUENCE && v->count == 0))
                ld_error(ld, v, "missing-field", "a service needs at least one host or group");
            else
                ld_name_list(ld, v, "a host or group name or a list of them", &svc.hosts,
                             &svc.host_pos, &svc.host_count);
            break;
        case SVC_BIND:
            ld_service_bind(ld, v, &svc);
            break;
        case SVC_EXPOSURE:
            exposure_ok = ld_exposure(ld, v, &svc.exposure);
            break;
        case SVC_SOURCES: {
            struct source_list list = { .items = ld_array(ld, ynode_items(v), sizeof *list.items) };
            if (ynode_items(v) && !list.items)
                break;
            if (!ynode_is_null(v))
                ld_one_or_list(ld, v, "any, a CIDR, a name, or a list of them", ld_source_item,
                               &list);
            svc.sources = list.items;
            svc.source_count = list.count;
            svc.sources_given = true;
            break;
        }
        case SVC_OWNER:
            svc.owner = ld_string(ld, v, "a string");
            break;
        case SVC_NOTES:
            svc.notes = ld_string(ld, v, "a string");
            break;
        case SVC_IANA:
            ld_name_list(ld, v, "an IANA service name or a list of them", &svc.iana_names, NULL,
                         &svc.iana_count);
            svc.iana = svc.iana_count ? svc.iana_names[0] : NULL;
            break;
        }
        ld_pop(ld, mark);
    }
    ld_service_ports(ld, values, keys, node, &svc);

    if (!svc.bind_given) {
        svc.bind = (struct plan_bind){ .pos = svc.pos };
        svc.bind.kind = exposure_ok && svc.exposure == PLAN_EXPOSURE_LOOPBACK ? PLAN_BIND_LOOPBACK
                                                                              : PLAN_BIND_ANY;
    }
    if (!svc.sources_given && exposure_ok && svc.exposure == PLAN_EXPOSURE_PUBLIC) {
        svc.sources = ld_array(ld, 1, sizeof *svc.sources);
        if (svc.sources) {
            svc.sources[0] = (struct plan_source){ .kind = PLAN_SOURCE_ANY, .pos = svc.pos };
            svc.source_count = 1;
        }
    }
    if (svc.sources_given && exposure_ok && svc.exposure == PLAN_EXPOSURE_LOOPBACK &&
        svc.source_count) {
        mark = ld_push_key(ld, "sources");
        ld_warning(ld, ld_node(ld, values[SVC_SOURCES]), "loopback-sources",
                   "sources have no effect on a loopback service: only the host reaches it");
        ld_pop(ld, mark);
    }
    if (!svc.name)
        return;
    struct plan *plan = ld->plan;
    struct plan_service *slot = LD_PUSH(ld, plan->services, plan->service_count,
                                        plan->service_capacity);
    if (slot)
        *slot = svc;
}

/* ---- the document ---- */

enum { TOP_POLICY, TOP_NETWORKS, TOP_HOSTS, TOP_SERVICES, TOP_KEYS };
static const char *const top_keys[TOP_KEYS] = { "policy", "networks", "hosts", "services" };

static void ld_list_section(struct loader *ld, const struct ynode *value, const char *what,
                            void (*each)(struct loader *, const struct ynode *))
{
    if (ynode_is_null(value))
        return;
    if (value->kind != YNODE_SEQUENCE) {
        char got[96];
        ld_error(ld, value, "type", "expected a list of %s (\"- name: ...\"), got %s", what,
                 ynode_describe(value, got, sizeof got));
        return;
    }
    size_t index = 0;
    for (size_t item = value->first; item != YNONE && !ld->failure;
         item = ld_node(ld, item)->next, index++) {
        size_t mark = ld_push_index(ld, index);
        each(ld, ld_node(ld, item));
        ld_pop(ld, mark);
    }
}

static void ld_document(struct loader *ld)
{
    const struct ynode *root = ld_node(ld, ld->tree.root);
    if (!root || ynode_is_null(root))
        return;   /* an empty file (or only comments) is an empty plan */
    if (root->kind != YNODE_MAPPING) {
        char got[96];
        ld_error(ld, root, "type", "a plan is a mapping with policy, networks, hosts and "
                 "services, got %s", ynode_describe(root, got, sizeof got));
        return;
    }
    size_t values[TOP_KEYS], keys[TOP_KEYS];
    ld_fields(ld, root, top_keys, TOP_KEYS, values, keys);
    for (size_t k = 0; k < TOP_KEYS && !ld->failure; k++) {
        const struct ynode *v = ld_node(ld, values[k]);
        if (!v)
            continue;
        size_t mark = ld_push_key(ld, top_keys[k]);
        switch (k) {
        case TOP_POLICY: ld_policy(ld, ld_node(ld, keys[k]), v); break;
        case TOP_NETWORKS: ld_networks(ld, v); break;
        case TOP_HOSTS: ld_list_section(ld, v, "hosts", ld_host); break;
        case TOP_SERVICES: ld_list_section(ld, v, "services", ld_service); break;
        }
        ld_pop(ld, mark);
    }
}

int plan_parse_buffer(struct plan *plan, const char *name, const char *text, size_t len,
                      struct plan_diagnostics *diag, struct pr_error *err)
{
    size_t errors_before = diag->errors;
    struct loader ld = { .plan = plan, .diag = diag, .source = text ? text : "",
                         .source_len = text ? len : 0 };
    char *file = arena_strdup(&plan->arena, name ? name : "<plan>");
    const char **slot = file ? LD_PUSH(&ld, plan->files, plan->file_count, plan->file_capacity)
                             : NULL;
    if (!slot)
        return pr_error_set(err, -ENOMEM, "out of memory");
    *slot = file;
    ld.file = file;
    if (ld_build_tree(&ld))
        ld_document(&ld);
    ytree_free(&ld.tree);
    if (ld.failure)
        return pr_error_set(err, ld.failure, "out of memory");
    return diag->errors > errors_before ? -EINVAL : 0;
}

/* ---- cross-file rules ---- */

/* The field path of the index-th service/host (0-based within its own file). */
static void finish_path(char *buf, size_t size, const char *section, size_t file_index,
                        const char *rest)
{
    snprintf(buf, size, "%s[%zu]%s%s", section, file_index, rest && rest[0] ? "." : "",
             rest ? rest : "");
}

static int fin_name_ref_compare(const void *x, const void *y)
{
    const struct plan_name_ref *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

struct finisher {
    struct plan *plan;
    struct plan_diagnostics *diag;
    size_t *host_in_file, *service_in_file;   /* "hosts[N]" / "services[N]": N per file */
    int failure;
};

__attribute__((format(printf, 6, 7)))
static void fin_error(struct finisher *fin, const char *code, const struct plan_pos *pos,
                      const char *field, const struct plan_pos *related, const char *fmt, ...)
{
    char message[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (plan_diagnostics_add(fin->diag, PLAN_SEVERITY_ERROR, code, pos, field, related, NULL,
                             "%s", message) < 0)
        fin->failure = -ENOMEM;
}

/* For each of count names: the index of its first occurrence (itself when it is the first),
 * found by sorting (name, index) pairs: O(n log n) for plans of 100,000 services. */
static int fin_first_occurrences(const char *const *names, size_t count, size_t *first)
{
    struct plan_name_ref *refs = malloc((count ? count : 1) * sizeof *refs);
    if (!refs)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++)
        refs[i] = (struct plan_name_ref){ names[i], i };
    qsort(refs, count, sizeof *refs, fin_name_ref_compare);
    for (size_t i = 0; i < count; i++)
        first[refs[i].index] = i && strcmp(refs[i - 1].name, refs[i].name) == 0
                                   ? first[refs[i - 1].index] : refs[i].index;
    free(refs);
    return 0;
}

/* first[i] for the names at base + i * stride (a const char * member). */
static int fin_first_of(const void *base, size_t stride, size_t count, size_t *first)
{
    const char **names = malloc((count ? count : 1) * sizeof *names);
    if (!names)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++)
        memcpy(&names[i], (const char *)base + i * stride, sizeof names[i]);
    int r = fin_first_occurrences(names, count, first);
    free(names);
    return r;
}

static void fin_duplicates(struct finisher *fin)
{
    struct plan *plan = fin->plan;
    char field[256];
    size_t most = plan->host_count;
    if (plan->service_count > most)
        most = plan->service_count;
    if (plan->network_count > most)
        most = plan->network_count;
    size_t *first = malloc((most ? most : 1) * sizeof *first);
    if (!first) {
        fin->failure = -ENOMEM;
        return;
    }
    /* the name is each struct's first member (checked below) */
    if (fin_first_of(plan->hosts, sizeof *plan->hosts, plan->host_count, first) < 0)
        goto nomem;
    for (size_t i = 0; i < plan->host_count; i++) {
        if (first[i] == i)
            continue;
        const struct plan_pos *a = &plan->hosts[first[i]].pos, *b = &plan->hosts[i].pos;
        finish_path(field, sizeof field, "hosts", fin->host_in_file[i], "name");
        fin_error(fin, "duplicate-name", b, field, a,
                  "host \"%s\" is defined twice: at %s:%u:%u and here", plan->hosts[i].name,
                  a->file, a->line, a->column);
    }
    if (fin_first_of(plan->services, sizeof *plan->services, plan->service_count, first) < 0)
        goto nomem;
    for (size_t i = 0; i < plan->service_count; i++) {
        if (first[i] == i)
            continue;
        const struct plan_pos *a = &plan->services[first[i]].pos, *b = &plan->services[i].pos;
        finish_path(field, sizeof field, "services", fin->service_in_file[i], "name");
        fin_error(fin, "duplicate-name", b, field, a,
                  "service \"%s\" is defined twice: at %s:%u:%u and here",
                  plan->services[i].name, a->file, a->line, a->column);
    }
    if (fin_first_of(plan->networks, sizeof *plan->networks, plan->network_count, first) < 0)
        goto nomem;
    for (size_t i = 0; i < plan->network_count; i++) {
        if (first[i] == i)
            continue;
        const struct plan_pos *a = &plan->networks[first[i]].pos, *b = &plan->networks[i].pos;
        snprintf(field, sizeof field, "networks.%s", plan->networks[i].name);
        fin_error(fin, "duplicate-name", b, field, a,
                  "network \"%s\" is defined twice: at %s:%u:%u and here",
                  plan->networks[i].name, a->file, a->line, a->column);
    }
    free(first);
    return;
nomem:
    free(first);
    fin->failure = -ENOMEM;
}

_Static_assert(offsetof(struct plan_host, name) == 0, "fin_first_of reads the name first");
_Static_assert(offsetof(struct plan_service, name) == 0, "fin_first_of reads the name first");
_Static_assert(offsetof(struct plan_network, name) == 0, "fin_first_of reads the name first");

/* The first host that has group name (for its position), or NULL. */
static const struct plan_host *fin_group_host(const struct plan *plan, const char *name)
{
    return plan_group_first_host(plan, name);
}

/* Hosts, groups and networks share the namespace that sources and `hosts:` refer to. */
static void fin_namespace(struct finisher *fin)
{
    struct plan *plan = fin->plan;
    char field[256];
    for (size_t i = 0; i < plan->network_count; i++) {
        const struct plan_network *net = &plan->networks[i];
        const struct plan_host *host = plan_find_host(plan, net->name);
        const struct plan_host *group = host ? NULL : fin_group_host(plan, net->name);
        if (!host && !group)
            continue;
        const struct plan_pos *other = host ? &host->pos : &group->pos;
        snprintf(field, sizeof field, "networks.%s", net->name);
        fin_error(fin, "ambiguous-name", &net->pos, field, other,
                  "network \"%s\" has the name of a %s (%s:%u:%u); sources could not tell them "
                  "apart", net->name, host ? "host" : "group", other->file, other->line,
                  other->column);
    }
    for (size_t i = 0; i < plan->host_count; i++) {
        const struct plan_host *group = fin_group_host(plan, plan->hosts[i].name);
        if (!group)
            continue;
        finish_path(field, sizeof field, "hosts",
                    fin->host_in_file[i], "name");
        fin_error(fin, "ambiguous-name", &plan->hosts[i].pos, field, &group->pos,
                  "host \"%s\" has the name of a group (of host %s at %s:%u:%u)",
                  plan->hosts[i].name, group->name, group->pos.file, group->pos.line,
                  group->pos.column);
    }
}

static void fin_offer_names(const struct plan *plan, struct suggestion *s, bool networks)
{
    for (size_t i = 0; i < plan->host_count; i++) {
        suggestion_offer(s, plan->hosts[i].name);
        for (size_t g = 0; g < plan->hosts[i].group_count; g++)
            suggestion_offer(s, plan->hosts[i].groups[g]);
    }
    if (networks)
        for (size_t i = 0; i < plan->network_count; i++)
            suggestion_offer(s, plan->networks[i].name);
}

static void fin_service_references(struct finisher *fin, size_t index)
{
    struct plan *plan = fin->plan;
    struct plan_service *svc = &plan->services[index];
    size_t in_file = fin->service_in_file[index];
    char field[256], rest[64], hint[128];
    for (size_t h = 0; h < svc->host_count; h++) {
        const char *ref = svc->hosts[h];
        if (plan_find_host(plan, ref) || plan_is_group(plan, ref))
            continue;
        struct suggestion s = { .word = ref };
        fin_offer_names(plan, &s, false);
        snprintf(rest, sizeof rest, "hosts[%zu]", h);
        finish_path(field, sizeof field, "services", in_file, rest);
        fin_error(fin, "unknown-host", svc->host_pos ? &svc->host_pos[h] : &svc->pos, field, NULL,
                  "no host or group is named \"%s\"%s", ref, suggestion_text(&s, hint, sizeof hint));
    }
    for (size_t i = 0; i < svc->source_count; i++) {
        struct plan_source *src = &svc->sources[i];
        if (src->kind != PLAN_SOURCE_NETWORK && src->kind != PLAN_SOURCE_HOST)
            continue;
        if (plan_find_network(plan, src->name)) {
            src->kind = PLAN_SOURCE_NETWORK;
            continue;
        }
        if (plan_find_host(plan, src->name) || plan_is_group(plan, src->name)) {
            src->kind = PLAN_SOURCE_HOST;
            continue;
        }
        struct suggestion s = { .word = src->name };
        fin_offer_names(plan, &s, true);
        snprintf(rest, sizeof rest, "sources[%zu]", i);
        finish_path(field, sizeof field, "services", in_file, rest);
        fin_error(fin, "unknown-source", &src->pos, field, NULL,
                  "no network, host or group is named \"%s\"%s", src->name,
                  suggestion_text(&s, hint, sizeof hint));
    }
    if (svc->bind.kind != PLAN_BIND_NAMED || !svc->bind.name)
        return;
    /* every host of the service must have an address with that name */
    char missing[256] = "";
    size_t missing_count = 0, host_count = 0;
    struct suggestion s = { .word = svc->bind.name };
    size_t *on = NULL, on_count = 0;
    if (plan_service_host_indices(plan, svc, &on, &on_count) < 0) {
        fin->failure = -ENOMEM;
        return;
    }
    for (size_t i = 0; i < on_count; i++) {
        const struct plan_host *host = &plan->hosts[on[i]];
        host_count++;
        bool found = false;
        for (size_t a = 0; a < host->address_count; a++) {
            suggestion_offer(&s, host->addresses[a].name[0] ? host->addresses[a].name : NULL);
            if (strcmp(host->addresses[a].name, svc->bind.name) == 0)
                found = true;
        }
        if (!found) {
            size_t used = strlen(missing);
            if (used < sizeof missing - 1)
                snprintf(missing + used, sizeof missing - used, "%s%s",
                         missing_count ? ", " : "", host->name);
            missing_count++;
        }
    }
    free(on);
    if (missing_count == 0 || host_count == 0)
        return;
    finish_path(field, sizeof field, "services", in_file, "bind");
    if (plan_find_host(plan, svc->bind.name) || plan_find_network(plan, svc->bind.name) ||
        plan_is_group(plan, svc->bind.name))
        snprintf(hint, sizeof hint, " (\"%s\" is a host, group or network, not an address name)",
                 svc->bind.name);
    else if (strcmp(svc->bind.name, "localhost") == 0)
        snprintf(hint, sizeof hint, " (did you mean \"loopback\"?)");
    else
        suggestion_text(&s, hint, sizeof hint);
    fin_error(fin, "unknown-address-name", &svc->bind.pos, field, NULL,
              "bind \"%s\": %s %s %s no address named \"%s\"%s", svc->bind.name,
              missing_count == 1 ? "host" : "hosts", missing, missing_count == 1 ? "has" : "have",
              svc->bind.name, hint);
}

int plan_load_finish(struct plan *plan, struct plan_diagnostics *diag, struct pr_error *err)
{
    size_t errors_before = diag->errors;
    struct finisher fin = { .plan = plan, .diag = diag };
    fin.host_in_file = malloc((plan->host_count ? plan->host_count : 1) * sizeof(size_t));
    fin.service_in_file = malloc((plan->service_count ? plan->service_count : 1) *
                                 sizeof(size_t));
    if (!fin.host_in_file || !fin.service_in_file || plan_index_names(plan) < 0) {
        free(fin.host_in_file);
        free(fin.service_in_file);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    if (plan->host_count)
        plan_positions_in_file(&plan->hosts[0].pos, sizeof *plan->hosts, plan->host_count,
                               fin.host_in_file);
    if (plan->service_count)
        plan_positions_in_file(&plan->services[0].pos, sizeof *plan->services,
                               plan->service_count, fin.service_in_file);
    fin_duplicates(&fin);
    fin_namespace(&fin);
    for (size_t i = 0; i < plan->service_count && !fin.failure; i++)
        fin_service_references(&fin, i);
    free(fin.host_in_file);
    free(fin.service_in_file);
    if (fin.failure)
        return pr_error_set(err, fin.failure, "out of memory");
    return diag->errors > errors_before ? -EINVAL : 0;
}

int plan_load_buffer(struct plan *plan, const char *name, const char *text, size_t len,
                     struct plan_diagnostics *diag, struct pr_error *err)
{
    int r = plan_parse_buffer(plan, name, text, len, diag, err);
    if (r < 0 && r != -EINVAL)
        return r;
    int f = plan_load_finish(plan, diag, err);
    if (f < 0 && f != -EINVAL)
        return f;
    return r < 0 ? r : f;
}

int plan_load_files(struct plan *plan, const char *const *paths, size_t count,
                    struct plan_diagnostics *diag, struct pr_error *err)
{
    bool invalid = false;
    for (size_t i = 0; i < count; i++) {
        struct file_buffer buf = { 0 };
        int r = file_read_all(paths[i], &buf, err);
        if (r < 0) {
            pr_error_set_path(err, paths[i]);
            return r;
        }
        r = plan_parse_buffer(plan, paths[i], buf.data, buf.size, diag, err);
        file_buffer_free(&buf);
        if (r == -EINVAL)
            invalid = true;
        else if (r < 0)
            return r;
    }
    int r = plan_load_finish(plan, diag, err);
    if (r < 0 && r != -EINVAL)
        return r;
    return invalid || r == -EINVAL ? -EINVAL : 0;
}

/* ---- writing resolved `auto` ports back ---- */

struct replacement {
    size_t offset, length;
    uint16_t port;
};

static int replacement_compare(const void *a, const void *b)
{
    const struct replacement *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int plan_render_resolved(const struct plan *plan, const char *file, const char *text,
                         size_t len, char **out, size_t *out_len, size_t *replaced,
                         struct pr_error *err)
{
    *out = NULL;
    *out_len = 0;
    *replaced = 0;
    size_t count = 0;
    for (size_t s = 0; s < plan->service_count; s++)
        for (size_t p = 0; p < plan->services[s].port_count; p++) {
            const struct plan_port *port = &plan->services[s].ports[p];
            if (port->automatic && port->port && port->pos.file &&
                strcmp(port->pos.file, file) == 0)
                count++;
        }
    struct replacement *list = calloc(count ? count : 1, sizeof *list);
    if (!list)
        return pr_error_set(err, -ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t s = 0; s < plan->service_count; s++)
        for (size_t p = 0; p < plan->services[s].port_count; p++) {
            const struct plan_port *port = &plan->services[s].ports[p];
            if (!(port->automatic && port->port && port->pos.file &&
                  strcmp(port->pos.file, file) == 0))
                continue;
            if (port->auto_length != 4 || port->auto_offset > len ||
                len - port->auto_offset < 4 ||
                strncasecmp(text + port->auto_offset, "auto", 4) != 0) {
                free(list);
                pr_error_set_path(err, file);
                return pr_error_set_at(err, port->auto_length == 4 ? -ESTALE : -EINVAL,
                                       port->pos.line, port->pos.column,
                                       port->auto_length == 4
                                           ? "\"auto\" is no longer where it was read; the file "
                                             "changed, check the plan again"
                                           : "this `auto` is written with escapes; write it "
                                             "plainly so the port can be stored");
            }
            list[n++] = (struct replacement){ port->auto_offset, 4, port->port };
        }
    qsort(list, n, sizeof *list, replacement_compare);
    char *result = malloc(len + n * 2 + 1);   /* "auto" (4) -> at most 5 digits */
    if (!result) {
        free(list);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    size_t at = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        if (list[i].offset < at)
            continue;   /* cannot happen: two ports never share a token */
        memcpy(result + used, text + at, list[i].offset - at);
        used += list[i].offset - at;
        used += (size_t)sprintf(result + used, "%u", (unsigned)list[i].port);
        at = list[i].offset + list[i].length;
    }
    memcpy(result + used, text + at, len - at);
    used += len - at;
    result[used] = '\0';
    free(list);
    *out = result;
    *out_len = used;
    *replaced = n;
    return 0;
}

int plan_write_resolved(const struct plan *plan, size_t *files_written, size_t *ports_written,
                        struct pr_error *err)
{
    size_t nfiles = plan->file_count;
    char **texts = calloc(nfiles ? nfiles : 1, sizeof *texts);
    size_t *lens = calloc(nfiles ? nfiles : 1, sizeof *lens);
    size_t written_files = 0, written_ports = 0;
    int r = 0;
    if (!texts || !lens) {
        r = pr_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    /* render everything first: a stale file anywhere changes nothing */
    for (size_t f = 0; f < nfiles && r == 0; f++) {
        struct file_buffer buf = { 0 };
        size_t replaced = 0;
        bool wanted = false;
        for (size_t s = 0; s < plan->service_count && !wanted; s++)
            for (size_t p = 0; p < plan->services[s].port_count; p++) {
                const struct plan_port *port = &plan->services[s].ports[p];
                if (port->automatic && port->port && port->pos.file == plan->files[f])
                    wanted = true;
            }
        if (!wanted)
            continue;
        if ((r = file_read_all(plan->files[f], &buf, err)) < 0) {
            pr_error_set_path(err, plan->files[f]);
            break;
        }
        r = plan_render_resolved(plan, plan->files[f], buf.data, buf.size, &texts[f], &lens[f],
                                 &replaced, err);
        file_buffer_free(&buf);
        written_ports += replaced;
    }
    for (size_t f = 0; f < nfiles && r == 0; f++) {
        if (!texts[f])
            continue;
        /* the plan keeps its mode, owner, symlink and hard links (util/file_io.h); "-" is a
         * file name here, not stdout */
        if ((r = file_write(plan->files[f], texts[f], lens[f], 0, err)) < 0)
            pr_error_set_path(err, plan->files[f]);
        else
            written_files++;
    }
out:
    for (size_t f = 0; texts && f < nfiles; f++)
        free(texts[f]);
    free(texts);
    free(lens);
    if (files_written)
        *files_written = r == 0 ? written_files : 0;
    if (ports_written)
        *ports_written = r == 0 ? written_ports : 0;
    return r;
}
