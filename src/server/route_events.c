/* route_events.c — /api/v1/events (append-only history; filters: request_id, kind,
 * object_kind, object_id, actor; paged with after and limit), /api/v1/events/{id}, and
 * /api/v1/policy (GET for readers, PUT for admins: the fields given replace the policy's). */
#include "server/server_http.h"

static void list_events(struct server_request *req, struct server_response *resp)
{
    route_list_kind(req, resp, STORE_EVENTS);
}

static void get_event(struct server_request *req, struct server_response *resp)
{
    route_get_kind(req, resp, STORE_EVENTS);
}

static void get_policy(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_policy_get(req->opt->ledger, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

static void put_policy(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_policy_set(req->opt->ledger, &req->actor, req->body, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

const struct server_route route_events[] = {
    { "GET", "/api/v1/events", LEDGER_ROLE_READER, ROUTE_NO_BODY, list_events },
    { "GET", "/api/v1/events/{id}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_event },
    { "GET", "/api/v1/policy", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_policy },
    { "PUT", "/api/v1/policy", LEDGER_ROLE_ADMIN, LEDGER_BODY_POLICY, put_policy },
    { NULL, NULL, 0, 0, NULL },
};
