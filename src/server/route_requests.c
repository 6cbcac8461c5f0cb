/* route_requests.c — /api/v1/requests: list (filters: state, service, proto...), submit
 * (requester), GET one, and the actions approve, reject (admin) and withdraw (requester: its
 * own; admin: any), each with an optional {"reason"} kept as the decision's reason. */
#include <string.h>

#include "server/server_http.h"

static void list_requests(struct server_request *req, struct server_response *resp)
{
    route_list_kind(req, resp, STORE_REQUESTS);
}

static void get_request(struct server_request *req, struct server_response *resp)
{
    route_get_kind(req, resp, STORE_REQUESTS);
}

static void submit_request(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_request_submit(req->opt->ledger, &req->actor, req->body, &out, &lerr);
    respond_result(resp, r, 201, out, &lerr);
}

static void request_action(struct server_request *req, struct server_response *resp)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    const char *action = strrchr(req->path, '/') + 1;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_request_action(req->opt->ledger, &req->actor, id, action, req->body, req->if_match, &out,
                                  &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

const struct server_route route_requests[] = {
    { "GET", "/api/v1/requests", LEDGER_ROLE_READER, ROUTE_NO_BODY, list_requests },
    { "POST", "/api/v1/requests", LEDGER_ROLE_REQUESTER, LEDGER_BODY_REQUEST, submit_request },
    { "GET", "/api/v1/requests/{id}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_request },
    { "POST", "/api/v1/requests/{id}/approve", LEDGER_ROLE_ADMIN, LEDGER_BODY_DECISION, request_action },
    { "POST", "/api/v1/requests/{id}/reject", LEDGER_ROLE_ADMIN, LEDGER_BODY_DECISION, request_action },
    { "POST", "/api/v1/requests/{id}/withdraw", LEDGER_ROLE_REQUESTER, LEDGER_BODY_DECISION, request_action },
    { NULL, NULL, 0, 0, NULL },
};
