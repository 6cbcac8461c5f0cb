/* route_services.c — /api/v1/services: list (filters: name, owner, after, limit), create (admin),
 * and /api/v1/services/{id}: GET, PATCH (admin, If-Match), DELETE (admin, If-Match; 409 while
 * an assignment or a submitted request names the service). */
#include "server/server_http.h"

static void list_services(struct server_request *req, struct server_response *resp)
{
    route_list_kind(req, resp, STORE_SERVICES);
}

static void get_service(struct server_request *req, struct server_response *resp)
{
    route_get_kind(req, resp, STORE_SERVICES);
}

static void create_service(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_service_create(req->opt->ledger, &req->actor, req->body, &out, &lerr);
    respond_result(resp, r, 201, out, &lerr);
}

static void patch_service(struct server_request *req, struct server_response *resp)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_service_update(req->opt->ledger, &req->actor, id, req->body, req->if_match, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

static void delete_service(struct server_request *req, struct server_response *resp)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    struct ledger_error lerr = { 0 };
    int r = ledger_service_delete(req->opt->ledger, &req->actor, id, req->if_match, &lerr);
    respond_result(resp, r, 200, r == 0 ? json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1) : NULL, &lerr);
}

const struct server_route route_services[] = {
    { "GET", "/api/v1/services", LEDGER_ROLE_READER, ROUTE_NO_BODY, list_services },
    { "POST", "/api/v1/services", LEDGER_ROLE_ADMIN, LEDGER_BODY_SERVICE, create_service },
    { "GET", "/api/v1/services/{id}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_service },
    { "PATCH", "/api/v1/services/{id}", LEDGER_ROLE_ADMIN, LEDGER_BODY_SERVICE_PATCH, patch_service },
    { "DELETE", "/api/v1/services/{id}", LEDGER_ROLE_ADMIN, ROUTE_NO_BODY, delete_service },
    { NULL, NULL, 0, 0, NULL },
};
