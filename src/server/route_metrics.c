/* route_metrics.c — GET /metrics: Prometheus' text format (server_metrics.c). No token: the
 * figures are counts, no ports; the fleet's gauges are labelled with host names, which a reader
 * token lists anyway (GET /hosts). */
#include <stdlib.h>
#include <string.h>

#include "server/server_http.h"
#include "server/server_metrics.h"

static void get_metrics(struct server_request *req, struct server_response *resp)
{
    char *text = req->metrics ? server_metrics_render(req->metrics, req->opt->ledger) : NULL;
    if (!text) {
        respond_error(resp, 500, "internal", "", "the metrics could not be rendered");
        return;
    }
    respond_raw(resp, text, strlen(text), "text/plain; version=0.0.4; charset=utf-8");
}

const struct server_route route_metrics[] = {
    { "GET", "/metrics", LEDGER_ROLE_NONE, ROUTE_NO_BODY, get_metrics },
    { NULL, NULL, 0, 0, NULL },
};
