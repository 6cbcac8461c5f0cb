/* remote_view.c — tables, summaries and error reports of `portreg remote` (remote_view.h).
 * The server's documents are outside text: every string taken from them is escaped with
 * util/text_escape.c before it reaches a cell, a sentence or stderr. */
#include "remote_view.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/text_escape.h"

enum cell_format {
    CELL_TEXT,       /* a string, a number, or "-" for null */
    CELL_TIME,       /* Unix seconds as an ISO time */
    CELL_PORTS,      /* port_lo-port_hi of an assignment ("5432" when equal) */
    CELL_LIST,       /* an array joined with "," */
    CELL_OBJECT,     /* object_kind/object_id of an event */
    CELL_ADDRESSES,  /* {"internal": "10.0.0.5"} as internal=10.0.0.5 */
};

struct column {
    const char *header;
    const char *field;
    enum cell_format format;
};

#define COLUMNS_MAX 10
static const struct column kind_columns[][COLUMNS_MAX + 1] = {
    [REMOTE_KIND_REQUESTS] = {
        { "ID", "id", CELL_TEXT }, { "STATE", "state", CELL_TEXT }, { "SERVICE", "service", CELL_TEXT },
        { "HOSTS", "hosts", CELL_LIST }, { "PORT", "port", CELL_TEXT }, { "PROTO", "proto", CELL_TEXT },
        { "BIND", "bind", CELL_TEXT }, { "OWNER", "owner", CELL_TEXT },
        { "ASSIGNMENTS", "assignments", CELL_LIST }, { "REQUESTED-BY", "requested_by", CELL_TEXT }, { 0 } },
    [REMOTE_KIND_ASSIGNMENTS] = {
        { "ID", "id", CELL_TEXT }, { "STATE", "state", CELL_TEXT }, { "SERVICE", "service", CELL_TEXT },
        { "HOST", "host", CELL_TEXT }, { "PORT", "port_lo", CELL_PORTS }, { "PROTO", "proto", CELL_TEXT },
        { "BIND", "bind", CELL_TEXT }, { "OWNER", "owner", CELL_TEXT },
        { "UNTIL", "quarantine_until", CELL_TIME }, { "REQUEST", "request", CELL_TEXT }, { 0 } },
    [REMOTE_KIND_LEASES] = {
        { "ID", "id", CELL_TEXT }, { "STATE", "state", CELL_TEXT }, { "SERVICE", "service", CELL_TEXT },
        { "HOST", "host", CELL_TEXT }, { "PORT", "port", CELL_TEXT }, { "PROTO", "proto", CELL_TEXT },
        { "EXPIRES", "expires_at", CELL_TIME }, { "HOLDER", "holder", CELL_TEXT }, { 0 } },
    [REMOTE_KIND_EVENTS] = {
        { "ID", "id", CELL_TEXT }, { "TIME", "time", CELL_TIME }, { "ACTOR", "actor", CELL_TEXT },
        { "KIND", "kind", CELL_TEXT }, { "OBJECT", "object_kind", CELL_OBJECT },
        { "REQUEST-ID", "request_id", CELL_TEXT }, { 0 } },
    [REMOTE_KIND_HOSTS] = {
        { "ID", "id", CELL_TEXT }, { "NAME", "name", CELL_TEXT }, { "ADDRESSES", "addresses", CELL_ADDRESSES },
        { 0 } },
};

void remote_view_time(long long seconds, char *out, size_t size)
{
    time_t t = (time_t)seconds;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, size, "%lld", seconds);
}

/* Append text escaped to a growing string (*buf, *len); an allocation failure leaves it short. */
static void append_escaped(char **buf, size_t *len, const char *text, size_t text_len)
{
    size_t add = text_escape_length(text, text_len);
    char *grown = realloc(*buf, *len + add + 1);
    if (!grown)
        return;
    *buf = grown;
    text_escape(text, text_len, *buf + *len, add + 1);
    *len += add;
}

static void append_plain(char **buf, size_t *len, const char *text)
{
    append_escaped(buf, len, text, strlen(text));   /* portreg's own text escapes to itself */
}

/* A scalar as text: strings escaped, integers, reals, true/false; null is "-". */
static void append_scalar(char **buf, size_t *len, json_t *value)
{
    char number[64];
    switch (json_typeof(value)) {
    case JSON_STRING:
        append_escaped(buf, len, json_string_value(value), json_string_length(value));
        return;
    case JSON_INTEGER:
        snprintf(number, sizeof number, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        break;
    case JSON_REAL:
        snprintf(number, sizeof number, "%g", json_real_value(value));
        break;
    case JSON_TRUE:
        snprintf(number, sizeof number, "true");
        break;
    case JSON_FALSE:
        snprintf(number, sizeof number, "false");
        break;
    case JSON_ARRAY: case JSON_OBJECT: {
        char *dump = json_dumps(value, JSON_COMPACT);
        if (dump)
            append_escaped(buf, len, dump, strlen(dump));
        free(dump);
        return;
    }
    default:
        snprintf(number, sizeof number, "-");
        break;
    }
    append_plain(buf, len, number);
}

/* The cell of one column of object: a malloc'd escaped string ("-" for nothing). */
static char *cell_text(json_t *object, const struct column *col)
{
    char *buf = NULL;
    size_t len = 0;
    json_t *value = json_object_get(object, col->field);
    switch (col->format) {
    case CELL_TEXT:
        if (value && !json_is_null(value))
            append_scalar(&buf, &len, value);
        break;
    case CELL_TIME:
        if (json_is_integer(value)) {
            char when[40];
            remote_view_time((long long)json_integer_value(value), when, sizeof when);
            append_plain(&buf, &len, when);
        }
        break;
    case CELL_PORTS: {
        json_t *hi = json_object_get(object, "port_hi");
        if (json_is_integer(value)) {
            append_scalar(&buf, &len, value);
            if (json_is_integer(hi) && json_integer_value(hi) != json_integer_value(value)) {
                append_plain(&buf, &len, "-");
                append_scalar(&buf, &len, hi);
            }
        }
        break;
    }
    case CELL_LIST:
        if (json_is_array(value)) {
            size_t i;
            json_t *item;
            json_array_foreach(value, i, item) {
                if (i)
                    append_plain(&buf, &len, ",");
                append_scalar(&buf, &len, item);
            }
        }
        break;
    case CELL_OBJECT:
        if (value && !json_is_null(value)) {
            append_scalar(&buf, &len, value);
            json_t *id = json_object_get(object, "object_id");
            if (id && !json_is_null(id)) {
                append_plain(&buf, &len, "/");
                append_scalar(&buf, &len, id);
            }
        }
        break;
    case CELL_ADDRESSES:
        if (json_is_object(value)) {
            const char *key;
            json_t *address;
            bool first = true;
            json_object_foreach(value, key, address) {
                if (!first)
                    append_plain(&buf, &len, ",");
                first = false;
                append_escaped(&buf, &len, key, strlen(key));
                append_plain(&buf, &len, "=");
                append_scalar(&buf, &len, address);
            }
        }
        break;
    }
    if (!buf || len == 0) {
        free(buf);
        return strdup("-");
    }
    return buf;
}

static size_t column_count(enum remote_kind kind)
{
    size_t n = 0;
    while (n < COLUMNS_MAX && kind_columns[kind][n].header)
        n++;
    return n;
}

static void add_row(struct cli_table *table, enum remote_kind kind, json_t *object)
{
    size_t n = column_count(kind);
    char *cells[COLUMNS_MAX] = { 0 };
    for (size_t c = 0; c < n; c++)
        cells[c] = cell_text(object, &kind_columns[kind][c]);
    cli_table_add_row(table, (const char *const *)cells);
    for (size_t c = 0; c < n; c++)
        free(cells[c]);
}

static struct cli_table *new_table(enum remote_kind kind)
{
    size_t n = column_count(kind);
    const char *headers[COLUMNS_MAX] = { 0 };
    for (size_t c = 0; c < n; c++)
        headers[c] = kind_columns[kind][c].header;
    return cli_table_new((unsigned)n, headers);
}

void remote_view_table(const struct cli_context *ctx, enum remote_kind kind, json_t *items)
{
    struct cli_table *table = new_table(kind);
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
        if (json_is_object(item))
            add_row(table, kind, item);
    cli_table_print(table, ctx, stdout);
    cli_table_free(table);
}

/* The text of one field, escaped, into out ("" when absent or null). */
static const char *field_text(json_t *object, const char *field, char *out, size_t size)
{
    out[0] = '\0';
    json_t *value = json_object_get(object, field);
    if (!value || json_is_null(value))
        return out;
    char *buf = NULL;
    size_t len = 0;
    append_scalar(&buf, &len, value);
    snprintf(out, size, "%s", buf ? buf : "");
    free(buf);
    return out;
}

static void print_summary(const struct cli_context *ctx, enum remote_kind kind, json_t *o)
{
    char id[32], state[64], service[256], where[512], port[64], proto[16], bind[128], when[40], extra[512];
    field_text(o, "id", id, sizeof id);
    field_text(o, "state", state, sizeof state);
    field_text(o, "service", service, sizeof service);
    field_text(o, "proto", proto, sizeof proto);
    field_text(o, "bind", bind, sizeof bind);
    extra[0] = '\0';
    const char *noun = kind == REMOTE_KIND_REQUESTS ? "request" : kind == REMOTE_KIND_ASSIGNMENTS ? "assignment"
                       : kind == REMOTE_KIND_LEASES ? "lease" : kind == REMOTE_KIND_HOSTS ? "host" : "event";
    if (kind == REMOTE_KIND_HOSTS) {
        char name[256];
        char *addresses = cell_text(o, &kind_columns[REMOTE_KIND_HOSTS][2]);
        printf("host %s%s%s (id %s): %s\n", cli_bold(ctx), field_text(o, "name", name, sizeof name),
               cli_reset(ctx), id, addresses ? addresses : "-");
        free(addresses);
        return;
    }
    if (kind == REMOTE_KIND_EVENTS) {
        char *cells[6];
        for (size_t c = 0; c < 6; c++)
            cells[c] = cell_text(o, &kind_columns[kind][c]);
        printf("event %s %s: %s %s by %s (request id %s)\n", cells[0], cells[1], cells[3], cells[4], cells[2],
               cells[5]);
        for (size_t c = 0; c < 6; c++)
            free(cells[c]);
        return;
    }
    if (kind == REMOTE_KIND_REQUESTS) {
        char *hosts = cell_text(o, &kind_columns[kind][3]);
        snprintf(where, sizeof where, "%s", hosts ? hosts : "-");
        free(hosts);
        field_text(o, "port", port, sizeof port);
        char *assignments = cell_text(o, &kind_columns[kind][8]);
        if (assignments && strcmp(assignments, "-") != 0)
            snprintf(extra, sizeof extra, "; assignment%s %s", strchr(assignments, ',') ? "s" : "", assignments);
        free(assignments);
    } else {
        field_text(o, "host", where, sizeof where);
        if (kind == REMOTE_KIND_ASSIGNMENTS) {
            char *ports = cell_text(o, &kind_columns[kind][4]);
            snprintf(port, sizeof port, "%s", ports ? ports : "-");
            free(ports);
            json_t *until = json_object_get(o, "quarantine_until");
            if (json_is_integer(until) && strcmp(state, "quarantined") == 0) {
                remote_view_time((long long)json_integer_value(until), when, sizeof when);
                snprintf(extra, sizeof extra, " until %s", when);
            }
        } else {
            field_text(o, "port", port, sizeof port);
            json_t *expires = json_object_get(o, "expires_at");
            if (json_is_integer(expires) && strcmp(state, "active") == 0) {
                remote_view_time((long long)json_integer_value(expires), when, sizeof when);
                snprintf(extra, sizeof extra, " until %s", when);
            }
        }
    }
    bool bind_shown = bind[0] && strcmp(bind, "any") != 0;
    printf("%s %s %s%s%s: %s %s%s%s on %s%s%s%s\n", noun, id, cli_bold(ctx), state, cli_reset(ctx), service,
           port[0] ? port : "-", proto[0] ? "/" : "", proto, where, bind_shown ? " bind " : "",
           bind_shown ? bind : "", extra);
}

void remote_view_object(const struct cli_context *ctx, enum remote_kind kind, json_t *object)
{
    if (!ctx->stdout_is_tty) {
        struct cli_table *table = new_table(kind);
        add_row(table, kind, object);
        cli_table_print(table, ctx, stdout);
        cli_table_free(table);
        return;
    }
    print_summary(ctx, kind, object);
}

void remote_view_policy(const struct cli_context *ctx, json_t *policy)
{
    static const char *const headers[] = { "SETTING", "VALUE" };
    struct cli_table *table = cli_table_new(2, headers);
    const char *key;
    json_t *value;
    json_object_foreach(policy, key, value) {
        struct column col = { key, key, json_is_array(value) ? CELL_LIST : CELL_TEXT };
        char *name = text_escape_dup(key, strlen(key));
        char *text = cell_text(policy, &col);
        const char *cells[2] = { name ? name : "?", text ? text : "-" };
        cli_table_add_row(table, cells);
        free(name);
        free(text);
    }
    cli_table_print(table, ctx, stdout);
    cli_table_free(table);
}

void remote_view_diagnostics(FILE *out, json_t *diagnostics, const char *path_given)
{
    size_t i;
    json_t *d;
    json_array_foreach(diagnostics, i, d) {
        char file[1024], severity[64], path[512], message[2048];
        field_text(d, "file", file, sizeof file);
        field_text(d, "severity", severity, sizeof severity);
        field_text(d, "path", path, sizeof path);
        field_text(d, "message", message, sizeof message);
        json_t *line = json_object_get(d, "line"), *column = json_object_get(d, "column");
        if (!file[0] && path_given) {
            char *escaped = text_escape_dup(path_given, strlen(path_given));
            snprintf(file, sizeof file, "%s", escaped ? escaped : "-");
            free(escaped);
        }
        fprintf(out, "%s:", file);
        if (json_is_integer(line) && json_integer_value(line) > 0)
            fprintf(out, "%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT ":", json_integer_value(line),
                    json_is_integer(column) ? json_integer_value(column) : 0);
        fprintf(out, " %s: %s%s%s\n", severity[0] ? severity : "error", path, path[0] ? ": " : "", message);
    }
}

/* ---- errors ---- */

/* "assignment 1 of orders: 7100/tcp on db1, quarantined until ...", escaped */
static void describe_conflict(json_t *c, char *out, size_t size)
{
    bool assignment = json_object_get(c, "port_lo") != NULL;
    char id[32], service[256], host[256], proto[16], state[64], owner[160], port[48], when[40], until[64] = "";
    field_text(c, "id", id, sizeof id);
    field_text(c, "service", service, sizeof service);
    field_text(c, "host", host, sizeof host);
    field_text(c, "proto", proto, sizeof proto);
    field_text(c, "state", state, sizeof state);
    field_text(c, "owner", owner, sizeof owner);
    if (assignment) {
        char *ports = cell_text(c, &kind_columns[REMOTE_KIND_ASSIGNMENTS][4]);
        snprintf(port, sizeof port, "%s", ports ? ports : "-");
        free(ports);
    } else {
        field_text(c, "port", port, sizeof port);
    }
    json_t *end = json_object_get(c, assignment ? "quarantine_until" : "expires_at");
    if (json_is_integer(end)) {
        remote_view_time((long long)json_integer_value(end), when, sizeof when);
        snprintf(until, sizeof until, " until %s", when);
    }
    snprintf(out, size, "%s %s of %s: %s%s%s on %s%s%s%s%s%s", assignment ? "assignment" : "lease", id,
             service[0] ? service : "-", port, proto[0] ? "/" : "", proto, host[0] ? host : "-",
             state[0] ? ", " : "", state, until, owner[0] ? ", owner " : "", owner);
}

int remote_view_answer_error(const char *command, const char *method, const char *path,
                             const struct remote_response *resp, bool token_given)
{
    char message[1200], code[96], field[160];
    text_escape(resp->error.message, strlen(resp->error.message), message, sizeof message);
    text_escape(resp->error.code, strlen(resp->error.code), code, sizeof code);
    text_escape(resp->error.field, strlen(resp->error.field), field, sizeof field);
    if (!resp->has_error)
        snprintf(message, sizeof message, "the server answered HTTP %ld%s", resp->status,
                 resp->json ? "" : " without a JSON error");
    char status[128];
    snprintf(status, sizeof status, "%ld%s%s", resp->status, code[0] ? " " : "", code);
    /* a route the server does not have: a server older than this client */
    if (resp->status == 405 || (resp->status == 404 && strncmp(resp->error.message, "no such route", 13) == 0))
        return cli_error(CLI_EXIT_FAILURE, command, "the server has no %s %s (%s): is it an older portreg serve?",
                         method, path, status);
    switch (remote_status_outcome(resp->status)) {
    case REMOTE_OK:
        return CLI_EXIT_OK;
    case REMOTE_NO:
        cli_error(CLI_EXIT_NO, command, "%s (%s)", message, status);
        /* the holder of a port; a wrong-state or not-active conflict is the object itself */
        if (resp->error.conflict && strcmp(resp->error.code, "wrong-state") != 0 &&
            strcmp(resp->error.code, "not-active") != 0 && strcmp(resp->error.code, "exists") != 0 &&
            (json_object_get(resp->error.conflict, "port_lo") || json_object_get(resp->error.conflict, "port"))) {
            char holder[1400];
            describe_conflict(resp->error.conflict, holder, sizeof holder);
            cli_error(CLI_EXIT_NO, command, "held by %s", holder);
        }
        return CLI_EXIT_NO;
    case REMOTE_BAD_INPUT:
        if (resp->error.diagnostics)
            remote_view_diagnostics(stderr, resp->error.diagnostics, NULL);
        if (field[0])
            return cli_error(CLI_EXIT_USAGE, command, "field %s: %s (%s)", field, message, status);
        return cli_error(CLI_EXIT_USAGE, command, "%s (%s)", message, status);
    case REMOTE_AUTH:
        if (resp->status == 401)
            return cli_error(CLI_EXIT_FAILURE, command, "%s (%s): %s", message, status,
                             token_given ? "the server does not accept this token: give one it made "
                                           "('portreg serve token create' there) with --token or PORTREG_TOKEN"
                                         : "no token was given: set PORTREG_TOKEN or --token (a token from "
                                           "'portreg serve token create')");
        return cli_error(CLI_EXIT_FAILURE, command, "%s (%s): the token's role is too low for this; ask for a "
                         "token with that role ('portreg serve token create --role ...')", message, status);
    case REMOTE_FAILURE:
        break;
    }
    char request_id[200] = "";
    if (resp->request_id[0]) {
        char escaped[160];
        text_escape(resp->request_id, strlen(resp->request_id), escaped, sizeof escaped);
        snprintf(request_id, sizeof request_id, ", request id %s", escaped);
    }
    return cli_error(CLI_EXIT_FAILURE, command, "the server failed: %s (%s%s)", message, status, request_id);
}

int remote_view_call_error(const char *command, const struct pr_error *err, const char *server_from)
{
    char buf[2048];
    pr_error_format(err, buf, sizeof buf);
    char escaped[2400];
    text_escape(buf, strlen(buf), escaped, sizeof escaped);
    switch (-err->code) {
    case ECONNREFUSED:
        return cli_error(CLI_EXIT_FAILURE, command, "%s (is portreg serve running there? the server is %s)",
                         escaped, server_from);
    case ENOENT: case EACCES: case EISDIR: case ENOTDIR: case EINVAL:
        return cli_error(CLI_EXIT_USAGE, command, "%s", escaped);
    case EPROTO:
        return cli_error(CLI_EXIT_FAILURE, command, "%s (a private CA? --cacert FILE or PORTREG_CACERT)", escaped);
    default:
        return cli_error(CLI_EXIT_FAILURE, command, "%s", escaped);
    }
}
