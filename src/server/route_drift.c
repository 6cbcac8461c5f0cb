/* route_drift.c — GET /api/v1/drift[?host=H]: the registry against agents' reports and scans,
 * per host and fleet-wide (ledger_drift.c). */
#include "ledger/ledger_fleet.h"
#include "server/server_http.h"

static void get_drift(struct server_request *req, struct server_response *resp)
{
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_drift(req->opt->ledger, json_string_value(json_object_get(req->query, "host")), &out, &lerr);
    respond_result(resp, r, 200, out, &lerr);
}

const struct server_route route_drift[] = {
    { "GET", "/api/v1/drift", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_drift },
    { NULL, NULL, 0, 0, NULL },
};
