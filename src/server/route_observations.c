/* route_observations.c — POST /api/v1/observations (agent reports: JSON, gzip allowed, at
 * most 8 MiB once inflated) and GET /api/v1/observations[/{host}] (the latest report per host
 * with its liveness). The report's rules are the ledger's (ledger_observations.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ledger/ledger_fleet.h"
#include "server/server_http.h"

static bool is_json(const char *type)
{
    return type && strcspn(type, "; ") == 16 && strncasecmp(type, "application/json", 16) == 0;
}

/* The request's body as JSON bytes: inflated when gzip; false with the answer set. */
bool route_json_body(struct server_request *req, struct server_response *resp, char **inflated, const char **data,
                     size_t *len)
{
    *inflated = NULL;
    *data = req->raw_body;
    *len = req->raw_len;
    if (!is_json(req->content_type)) {
        respond_error(resp, 415, "unsupported-media-type", "", "send the body as Content-Type: application/json");
        return false;
    }
    const char *encoding = req->content_encoding;
    if (!encoding || strcasecmp(encoding, "identity") == 0)
        return true;
    if (strcasecmp(encoding, "gzip") != 0) {
        respond_error(resp, 415, "unsupported-encoding", "", "Content-Encoding: gzip or none");
        return false;
    }
    struct ledger_error lerr = { 0 };
    if (ledger_gunzip(req->raw_body, req->raw_len, LEDGER_OBSERVATION_MAX_BYTES, inflated, len, &lerr) < 0) {
        if (strcmp(lerr.code, "too-large") == 0)
            respond_error(resp, 413, "too-large", "", lerr.message);
        else
            respond_ledger_error(resp, &lerr);
        ledger_error_clear(&lerr);
        return false;
    }
    *data = *inflated;
    return true;
}

static void post_observation(struct server_request *req, struct server_response *resp)
{
    char *inflated;
    const char *data;
    size_t len;
    if (!route_json_body(req, resp, &inflated, &data, &len))
        return;
    struct ledger_error lerr = { 0 };
    json_t *body = NULL, *out = NULL;
    int r = ledger_observation_parse(data, len, &body, &lerr);
    free(inflated);
    if (r == 0)
        r = ledger_observation_report(req->opt->ledger, &req->actor, body, &out, &lerr);
    json_decref(body);
    respond_result(resp, r, 200, out, &lerr);
}

static void list_observations(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_observations_get(req->opt->ledger, NULL, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

static void get_observation(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_observations_get(req->opt->ledger, req->params[0], &out, &lerr);
    if (r == 0)
        json_object_del(out, "version");   /* no ETag: nothing to If-Match against */
    respond_result(resp, r, 200, out, &lerr);
}

const struct server_route route_observations[] = {
    { "POST", "/api/v1/observations", LEDGER_ROLE_AGENT, ROUTE_RAW_BODY, post_observation },
    { "GET", "/api/v1/observations", LEDGER_ROLE_READER, ROUTE_NO_BODY, list_observations },
    { "GET", "/api/v1/observations/{host}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_observation },
    { NULL, NULL, 0, 0, NULL },
};
