/* route_health.c — /healthz (the process answers) and /readyz (the database answers too). */
#include "server/server_http.h"

static void get_healthz(struct server_request *req, struct server_response *resp)
{
    (void)req;
    respond_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void get_readyz(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    if (ledger_ready(req->opt->ledger, &lerr) < 0)
        respond_result(resp, -1, 0, NULL, &lerr);
    else
        respond_json(resp, 200, json_pack("{s:s, s:s}", "status", "ready", "database", "ok"));
}

const struct server_route route_health[] = {
    { "GET", "/healthz", LEDGER_ROLE_NONE, ROUTE_NO_BODY, get_healthz },
    { "GET", "/readyz", LEDGER_ROLE_NONE, ROUTE_NO_BODY, get_readyz },
    { NULL, NULL, 0, 0, NULL },
};
