/* server_http.h — what the HTTP layer and its handlers share: a parsed request (path
 * parameters, query, validated JSON body, the authenticated actor, the request id), a
 * response being built, and the route table's shape (method + path pattern → handler, with
 * the role it needs and the body kind it validates). Internal to src/server. */
#ifndef PORTREG_SERVER_SERVER_HTTP_H
#define PORTREG_SERVER_SERVER_HTTP_H

#include <jansson.h>
#include <stdint.h>

#include "ledger/ledger.h"
#include "ledger/ledger_body.h"
#include "server/server.h"

#define ROUTE_PARAMS_MAX 4
#define ROUTE_NO_BODY LEDGER_BODY_KIND_COUNT
/* The body is handed over as bytes (req->raw_body), up to SERVER_RAW_BODY_LIMIT; the handler
 * checks its Content-Type (POST /import: a YAML plan). */
#define ROUTE_RAW_BODY (LEDGER_BODY_KIND_COUNT + 1)
#define SERVER_RAW_BODY_LIMIT (8u * 1024 * 1024)

struct server_request {
    const struct server_options *opt;
    const struct registry_index *registry;   /* the index this request started with; NULL: none */
    struct server_registry_generation *registry_generation;   /* its generation (server_registry.h) */
    const char *method;
    const char *path;
    char params[ROUTE_PARAMS_MAX][256];      /* the {...} parts of the pattern, in order */
    size_t param_count;
    json_t *query;                           /* query arguments: name → string */
    json_t *body;                            /* the validated body (route.body), or NULL */
    struct ledger_actor actor;
    int64_t if_match;                        /* If-Match version, -1 when absent */
    const char *idempotency_key;             /* NULL when absent */
    struct server_metrics *metrics;          /* the server's counters (server_metrics.c) */
    const char *raw_body;                    /* ROUTE_RAW_BODY routes: the bytes, raw_len of them */
    size_t raw_len;
    const char *content_type;                /* the request's Content-Type, NULL when absent */
    const char *content_encoding;            /* the request's Content-Encoding, NULL when absent */
    const char *if_none_match;               /* the request's If-None-Match, NULL when absent */
    const char *accept_encoding;             /* the request's Accept-Encoding, NULL when absent */
};

#define RESPONSE_HEADERS_MAX 6

struct server_response {
    unsigned status;
    json_t *body;                            /* owned; NULL: no body */
    int64_t version;                         /* > 0: sent as ETag */
    char *raw;                               /* instead of body: these bytes (malloc'd, owned) */
    size_t raw_len;
    const char *content_type;                /* of raw: "application/octet-stream", "text/csv" */
    const void *static_bytes;                /* instead of raw: bytes that live as long as the
                                                process (the web UI's embedded assets) */
    const char *headers[RESPONSE_HEADERS_MAX][2];   /* more headers (name, value: static text) */
    size_t header_count;
};

typedef void (*route_handler)(struct server_request *req, struct server_response *resp);

struct server_route {
    const char *method;
    const char *pattern;                     /* "/api/v1/hosts/{id}" */
    enum ledger_role role;                   /* LEDGER_ROLE_NONE: no token needed */
    unsigned body;                           /* enum ledger_body_kind, or ROUTE_NO_BODY */
    route_handler handler;
};

/* Route tables of the resource files, each ended by a NULL method. */
extern const struct server_route route_health[];
extern const struct server_route route_registry[];
extern const struct server_route route_hosts[];
extern const struct server_route route_requests[];
extern const struct server_route route_assignments[];
extern const struct server_route route_leases[];
extern const struct server_route route_events[];
extern const struct server_route route_metrics[];
extern const struct server_route route_groups[];
extern const struct server_route route_services[];
extern const struct server_route route_portmap[];
extern const struct server_route route_import[];
extern const struct server_route route_exports[];
extern const struct server_route route_observations[];
extern const struct server_route route_drift[];
extern const struct server_route route_scans[];
extern const struct server_route route_ui[];
extern const struct server_route route_whoami[];
extern const struct server_route route_check[];
extern const struct server_route route_registry_map[];

/* The route for method and path: NULL when none; *path_known tells 405 from 404. */
const struct server_route *server_route_find(const char *method, const char *path, struct server_request *req,
                                             bool *path_known);

/* Every route numbered in table order (the metrics' rows): the route's index, or the number
 * of routes for NULL; the route at index, or NULL past the last. */
size_t server_route_index(const struct server_route *route);
const struct server_route *server_route_at(size_t index);

/* Responses. */
/* body as the API sends it: compact, JSON_REAL_PRECISION(6) as the CLI's --json, a newline
 * at the end; malloc'd (NULL when out of memory), its length in *len. */
char *server_json_text(const json_t *body, size_t *len);
void respond_json(struct server_response *resp, unsigned status, json_t *body);
void respond_error(struct server_response *resp, unsigned status, const char *code, const char *field,
                   const char *message);
void respond_ledger_error(struct server_response *resp, struct ledger_error *lerr);
/* r == 0: status with out (an object: its version becomes the ETag); else the error. */
void respond_result(struct server_response *resp, int r, unsigned status, json_t *out, struct ledger_error *lerr);
unsigned ledger_error_status(enum ledger_error_kind kind);
/* Answer 200 with bytes of a content type (raw is taken over). */
void respond_raw(struct server_response *resp, char *raw, size_t len, const char *content_type);
/* Answer status with static_bytes (not copied, not freed): the web UI's assets; len 0 and
 * NULL for a 304. */
void respond_static(struct server_response *resp, unsigned status, const void *bytes, size_t len,
                    const char *content_type);
/* One more header of the response (name and value must outlive it: static text). */
void respond_header(struct server_response *resp, const char *name, const char *value);
/* The {id} parameter i as an id; false (and a 404 response) when it is not one. */
bool request_id_param(struct server_request *req, size_t i, struct server_response *resp, int64_t *id);

/* A JSON body of a ROUTE_RAW_BODY route (Content-Type application/json, 415 otherwise),
 * inflated when Content-Encoding: gzip (413 above 8 MiB inflated): *data, *len, and
 * *inflated to free. false: the answer is set. (route_observations.c) */
bool route_json_body(struct server_request *req, struct server_response *resp, char **inflated, const char **data,
                     size_t *len);

/* GET of a collection (filters from the query) and of one object, for any kind. */
void route_list_kind(struct server_request *req, struct server_response *resp, enum store_kind kind);
void route_get_kind(struct server_request *req, struct server_response *resp, enum store_kind kind);

#endif
