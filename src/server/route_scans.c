/* route_scans.c — POST /api/v1/scans (requester): `portreg scan --json`'s document, gzip
 * allowed; each scanned address is matched to the hosts that have it (ledger_observations.c);
 * GET /api/v1/scans lists the latest scan per host. */
#include <stdlib.h>

#include "ledger/ledger_fleet.h"
#include "server/server_http.h"


static void post_scan(struct server_request *req, struct server_response *resp)
{
    char *inflated;
    const char *data;
    size_t len;
    if (!route_json_body(req, resp, &inflated, &data, &len))
        return;
    json_error_t jerr;
    json_t *scan = json_loadb(data, len, 0, &jerr);
    free(inflated);
    if (!scan) {
        respond_error(resp, 400, "bad-json", "", "the body is not JSON (portreg scan --json prints it)");
        return;
    }
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_scan_report(req->opt->ledger, &req->actor, scan, &out, &lerr);
    json_decref(scan);
    respond_result(resp, r, 200, out, &lerr);
}

static void list_scans(struct server_request *req, struct server_response *resp)
{
    route_list_kind(req, resp, STORE_SCANS);
}

const struct server_route route_scans[] = {
    { "POST", "/api/v1/scans", LEDGER_ROLE_REQUESTER, ROUTE_RAW_BODY, post_scan },
    { "GET", "/api/v1/scans", LEDGER_ROLE_READER, ROUTE_NO_BODY, list_scans },
    { NULL, NULL, 0, 0, NULL },
};
