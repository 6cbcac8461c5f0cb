/* server_routes.c — the route table (one table per resource file, searched in order), path
 * pattern matching with {param} segments, and the JSON responses every handler builds:
 * objects with their version as ETag, errors as {"error":{"code","message","field"}}. */
#include <stdlib.h>
#include <string.h>

#include "server/server_http.h"

static const struct server_route *const route_tables[] = {
    route_health, route_registry_map, route_registry, route_hosts, route_requests, route_assignments, route_leases, route_events,
    route_metrics, route_groups, route_services, route_portmap, route_import, route_exports,
    route_observations, route_drift, route_scans, route_whoami, route_check, route_ui, NULL,
};

/* Does path match pattern? Parameters are copied into req (one segment each, no '/'). */
static bool route_match(const char *pattern, const char *path, struct server_request *req)
{
    size_t params = 0;
    while (*pattern && *path) {
        if (*pattern == '{') {
            const char *close = strchr(pattern, '}');
            size_t len = strcspn(path, "/");
            if (!close || len == 0 || len >= sizeof req->params[0] || params == ROUTE_PARAMS_MAX)
                return false;
            memcpy(req->params[params], path, len);
            req->params[params++][len] = '\0';
            pattern = close + 1;
            path += len;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    if (*pattern || *path)
        return false;
    req->param_count = params;
    return true;
}

const struct server_route *server_route_find(const char *method, const char *path, struct server_request *req,
                                             bool *path_known)
{
    *path_known = false;
    for (size_t t = 0; route_tables[t]; t++)
        for (const struct server_route *r = route_tables[t]; r->method; r++) {
            if (!route_match(r->pattern, path, req))
                continue;
            *path_known = true;
            if (strcmp(r->method, method) == 0)
                return r;
        }
    return NULL;
}

size_t server_route_index(const struct server_route *route)
{
    size_t index = 0;
    for (size_t t = 0; route_tables[t]; t++)
        for (const struct server_route *r = route_tables[t]; r->method; r++, index++)
            if (r == route)
                return index;
    return index;
}

const struct server_route *server_route_at(size_t index)
{
    for (size_t t = 0; route_tables[t]; t++)
        for (const struct server_route *r = route_tables[t]; r->method; r++)
            if (index-- == 0)
                return r;
    return NULL;
}

char *server_json_text(const json_t *body, size_t *len)
{
    /* the precision `--json` uses (cli/output.c), so the API's documents equal the CLI's */
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
    *len = text ? strlen(text) : 0;
    if (!text)
        return NULL;
    char *with_newline = realloc(text, *len + 2);
    if (!with_newline) {
        free(text);
        return NULL;
    }
    with_newline[(*len)++] = '\n';
    with_newline[*len] = '\0';
    return with_newline;
}

void respond_json(struct server_response *resp, unsigned status, json_t *body)
{
    json_decref(resp->body);
    free(resp->raw);
    resp->raw = NULL;
    resp->static_bytes = NULL;
    resp->status = status;
    resp->body = body;
    resp->version = json_is_object(body) ? (int64_t)json_integer_value(json_object_get(body, "version")) : 0;
}

void respond_raw(struct server_response *resp, char *raw, size_t len, const char *content_type)
{
    json_decref(resp->body);
    resp->body = NULL;
    free(resp->raw);
    resp->static_bytes = NULL;
    resp->status = 200;
    resp->raw = raw;
    resp->raw_len = len;
    resp->content_type = content_type;
    resp->version = 0;
}

void respond_static(struct server_response *resp, unsigned status, const void *bytes, size_t len,
                    const char *content_type)
{
    json_decref(resp->body);
    resp->body = NULL;
    free(resp->raw);
    resp->raw = NULL;
    resp->status = status;
    resp->static_bytes = bytes;
    resp->raw_len = len;
    resp->content_type = content_type;
    resp->version = 0;
}

void respond_header(struct server_response *resp, const char *name, const char *value)
{
    if (resp->header_count < RESPONSE_HEADERS_MAX) {
        resp->headers[resp->header_count][0] = name;
        resp->headers[resp->header_count++][1] = value;
    }
}

void respond_error(struct server_response *resp, unsigned status, const char *code, const char *field,
                   const char *message)
{
    json_t *error = json_pack("{s:s, s:s, s:s?}", "code", code, "message", message, "field",
                              field && field[0] ? field : NULL);
    respond_json(resp, status, json_pack("{s:o}", "error", error));
}

unsigned ledger_error_status(enum ledger_error_kind kind)
{
    switch (kind) {
    case LEDGER_OK: return 200;
    case LEDGER_BAD_REQUEST: return 400;
    case LEDGER_UNAUTHORIZED: return 401;
    case LEDGER_FORBIDDEN: return 403;
    case LEDGER_NOT_FOUND: return 404;
    case LEDGER_CONFLICT: return 409;
    case LEDGER_PRECONDITION_FAILED: return 412;
    case LEDGER_UNPROCESSABLE: return 422;
    case LEDGER_UNAVAILABLE: return 503;
    case LEDGER_INTERNAL: return 500;
    }
    return 500;
}

void respond_ledger_error(struct server_response *resp, struct ledger_error *lerr)
{
    respond_error(resp, ledger_error_status(lerr->kind), lerr->code[0] ? lerr->code : "error", lerr->field,
                  lerr->message);
    if (lerr->conflict) {
        json_object_set_new(json_object_get(resp->body, "error"), "conflict", lerr->conflict);
        lerr->conflict = NULL;
    }
    resp->version = 0;
}

void respond_result(struct server_response *resp, int r, unsigned status, json_t *out, struct ledger_error *lerr)
{
    if (r == 0)
        respond_json(resp, status, out);
    else
        respond_ledger_error(resp, lerr);
    ledger_error_clear(lerr);
}

bool request_id_param(struct server_request *req, size_t i, struct server_response *resp, int64_t *id)
{
    char *end;
    const char *text = req->params[i];
    long long value = strtoll(text, &end, 10);
    if (*text < '1' || *text > '9' || *end || value <= 0) {
        respond_error(resp, 404, "not-found", "", "no such object: ids are positive integers");
        return false;
    }
    *id = value;
    return true;
}

void route_list_kind(struct server_request *req, struct server_response *resp, enum store_kind kind)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_list(req->opt->ledger, kind, req->query, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

void route_get_kind(struct server_request *req, struct server_response *resp, enum store_kind kind)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_get(req->opt->ledger, kind, id, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}
