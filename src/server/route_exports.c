/* route_exports.c — GET /api/v1/exports/{format} (reader): the registry in other tools'
 * formats, made by the ledger from its plan (ledger_export): plan (application/yaml, the YAML
 * `plan check` reads), services (services(5) lines), iana-csv and netbox-csv (text/csv), and
 * nft (?host=NAME: the nft ruleset `firewall generate` writes for that host). */
#include "server/server_http.h"

static void get_export(struct server_request *req, struct server_response *resp)
{
    const char *host = json_string_value(json_object_get(req->query, "host"));
    char *text = NULL;
    size_t len = 0;
    const char *content_type = "text/plain";
    struct ledger_error lerr = { 0 };
    if (ledger_export(req->opt->ledger, req->params[0], host, &text, &len, &content_type, &lerr) < 0) {
        respond_result(resp, -1, 0, NULL, &lerr);
        return;
    }
    respond_raw(resp, text, len, content_type);
}

const struct server_route route_exports[] = {
    { "GET", "/api/v1/exports/{format}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_export },
    { NULL, NULL, 0, 0, NULL },
};
