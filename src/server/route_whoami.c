/* route_whoami.c — GET /api/v1/whoami (reader): who the token is, {"name", "role"}, so that a
 * client (the web UI) shows only what the role may do. Without a token under
 * --anonymous-read: {"name": "anonymous", "role": "reader", "anonymous": true}. */
#include "server/server_http.h"

static void get_whoami(struct server_request *req, struct server_response *resp)
{
    bool anonymous = req->actor.token_id == 0;
    enum ledger_role role = anonymous ? LEDGER_ROLE_READER : req->actor.role;
    respond_json(resp, 200, json_pack("{s:s, s:s, s:b}", "name", req->actor.name, "role", ledger_role_name(role),
                                      "anonymous", anonymous));
}

const struct server_route route_whoami[] = {
    { "GET", "/api/v1/whoami", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_whoami },
    { NULL, NULL, 0, 0, NULL },
};
