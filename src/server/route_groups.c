/* route_groups.c — /api/v1/groups: list (filters: name, after, limit), create (admin),
 * and /api/v1/groups/{id}: GET, PATCH (admin, If-Match), DELETE (admin, If-Match; 409 while
 * an assignment or a submitted request names the group). */
#include "server/server_http.h"

static void list_groups(struct server_request *req, struct server_response *resp)
{
    route_list_kind(req, resp, STORE_GROUPS);
}

static void get_group(struct server_request *req, struct server_response *resp)
{
    route_get_kind(req, resp, STORE_GROUPS);
}

static void create_group(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_group_create(req->opt->ledger, &req->actor, req->body, &out, &lerr);
    respond_result(resp, r, 201, out, &lerr);
}

static void patch_group(struct server_request *req, struct server_response *resp)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_group_update(req->opt->ledger, &req->actor, id, req->body, req->if_match, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

static void delete_group(struct server_request *req, struct server_response *resp)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    struct ledger_error lerr = { 0 };
    int r = ledger_group_delete(req->opt->ledger, &req->actor, id, req->if_match, &lerr);
    respond_result(resp, r, 200, r == 0 ? json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1) : NULL, &lerr);
}

const struct server_route route_groups[] = {
    { "GET", "/api/v1/groups", LEDGER_ROLE_READER, ROUTE_NO_BODY, list_groups },
    { "POST", "/api/v1/groups", LEDGER_ROLE_ADMIN, LEDGER_BODY_GROUP, create_group },
    { "GET", "/api/v1/groups/{id}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_group },
    { "PATCH", "/api/v1/groups/{id}", LEDGER_ROLE_ADMIN, LEDGER_BODY_GROUP_PATCH, patch_group },
    { "DELETE", "/api/v1/groups/{id}", LEDGER_ROLE_ADMIN, ROUTE_NO_BODY, delete_group },
    { NULL, NULL, 0, 0, NULL },
};
