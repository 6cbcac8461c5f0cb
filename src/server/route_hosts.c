/* route_hosts.c — /api/v1/hosts: list (filters: name), create {"name", "addresses"},
 * and /api/v1/hosts/{id}: GET, PATCH {"addresses"} (If-Match), DELETE (If-Match). */
#include "server/server_http.h"

static void list_hosts(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_list(req->opt->ledger, STORE_HOSTS, req->query, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

static void create_host(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_host_create(req->opt->ledger, &req->actor, req->body, &out, &lerr);
    respond_result(resp, r, 201, out, &lerr);
}

static void get_host(struct server_request *req, struct server_response *resp)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_get(req->opt->ledger, STORE_HOSTS, id, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

static void patch_host(struct server_request *req, struct server_response *resp)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_host_update(req->opt->ledger, &req->actor, id, req->body, req->if_match, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

static void delete_host(struct server_request *req, struct server_response *resp)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    struct ledger_error lerr = { 0 };
    int r = ledger_host_delete(req->opt->ledger, &req->actor, id, req->if_match, &lerr);
    respond_result(resp, r, 200, r == 0 ? json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1) : NULL, &lerr);
}

const struct server_route route_hosts[] = {
    { "GET", "/api/v1/hosts", LEDGER_ROLE_READER, ROUTE_NO_BODY, list_hosts },
    { "POST", "/api/v1/hosts", LEDGER_ROLE_ADMIN, LEDGER_BODY_HOST, create_host },
    { "GET", "/api/v1/hosts/{id}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_host },
    { "PATCH", "/api/v1/hosts/{id}", LEDGER_ROLE_ADMIN, LEDGER_BODY_HOST_PATCH, patch_host },
    { "DELETE", "/api/v1/hosts/{id}", LEDGER_ROLE_ADMIN, ROUTE_NO_BODY, delete_host },
    { NULL, NULL, 0, 0, NULL },
};
