/* route_assignments.c — /api/v1/assignments: list (filters: host, service, proto, state,
 * port_lo, owner, group; port: the ones whose range holds it), direct assignment (admin, a
 * request's body), GET one, and the admin actions deassign ({"days"?}: quarantined until
 * then) and revoke. */
#include <string.h>

#include "server/server_http.h"

static void list_assignments(struct server_request *req, struct server_response *resp)
{
    route_list_kind(req, resp, STORE_ASSIGNMENTS);
}

static void get_assignment(struct server_request *req, struct server_response *resp)
{
    route_get_kind(req, resp, STORE_ASSIGNMENTS);
}

static void create_assignment(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_assignment_create(req->opt->ledger, &req->actor, req->body, &out, &lerr);
    respond_result(resp, r, 201, out, &lerr);
}

static void assignment_action(struct server_request *req, struct server_response *resp)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    const char *action = strrchr(req->path, '/') + 1;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_assignment_action(req->opt->ledger, &req->actor, id, action, req->body, req->if_match, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

const struct server_route route_assignments[] = {
    { "GET", "/api/v1/assignments", LEDGER_ROLE_READER, ROUTE_NO_BODY, list_assignments },
    { "POST", "/api/v1/assignments", LEDGER_ROLE_ADMIN, LEDGER_BODY_REQUEST, create_assignment },
    { "GET", "/api/v1/assignments/{id}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_assignment },
    { "POST", "/api/v1/assignments/{id}/deassign", LEDGER_ROLE_ADMIN, LEDGER_BODY_DEASSIGN, assignment_action },
    { "POST", "/api/v1/assignments/{id}/revoke", LEDGER_ROLE_ADMIN, LEDGER_BODY_EMPTY, assignment_action },
    { NULL, NULL, 0, 0, NULL },
};
