/* route_leases.c — /api/v1/leases: list, take a lease (requester; 201 with the port, or the
 * same lease again for a repeated Idempotency-Key), GET one, renew ({"ttl"?}) and release. */
#include <string.h>

#include "server/server_http.h"

static void list_leases(struct server_request *req, struct server_response *resp)
{
    route_list_kind(req, resp, STORE_LEASES);
}

static void get_lease(struct server_request *req, struct server_response *resp)
{
    route_get_kind(req, resp, STORE_LEASES);
}

static void create_lease(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    bool replayed = false;
    int r = ledger_lease_create(req->opt->ledger, &req->actor, req->body, req->idempotency_key, &out, &replayed, &lerr);
    respond_result(resp, r, replayed ? 200 : 201, out, &lerr);
}

static void lease_action(struct server_request *req, struct server_response *resp)
{
    int64_t id;
    if (!request_id_param(req, 0, resp, &id))
        return;
    const char *action = strrchr(req->path, '/') + 1;
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_lease_action(req->opt->ledger, &req->actor, id, action, req->body, &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

const struct server_route route_leases[] = {
    { "GET", "/api/v1/leases", LEDGER_ROLE_READER, ROUTE_NO_BODY, list_leases },
    { "POST", "/api/v1/leases", LEDGER_ROLE_REQUESTER, LEDGER_BODY_LEASE, create_lease },
    { "GET", "/api/v1/leases/{id}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_lease },
    { "POST", "/api/v1/leases/{id}/renew", LEDGER_ROLE_REQUESTER, LEDGER_BODY_RENEW, lease_action },
    { "POST", "/api/v1/leases/{id}/release", LEDGER_ROLE_REQUESTER, LEDGER_BODY_EMPTY, lease_action },
    { NULL, NULL, 0, 0, NULL },
};
