/* route_check.c — GET /api/v1/check?service=&host=|group=&port=&proto=&bind= (reader): would
 * a request of these fields be refused now (taken, quarantined, the policy)? The checks of a
 * submission (ledger_check_request), nothing written: the web UI's request form asks it as
 * one types. The query's fields are a request's body (port as a number when it is digits). */
#include <stdlib.h>
#include <string.h>

#include "server/server_http.h"

static bool all_digits(const char *text)
{
    if (!text[0] || strlen(text) > 9)
        return false;
    for (const char *p = text; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static void get_check(struct server_request *req, struct server_response *resp)
{
    json_t *body = json_object();
    const char *key;
    json_t *value;
    json_object_foreach(req->query, key, value) {
        const char *text = json_string_value(value);
        if (strcmp(key, "port") == 0 && text && all_digits(text))
            json_object_set_new(body, key, json_integer(strtoll(text, NULL, 10)));
        else
            json_object_set(body, key, value);
    }
    struct ledger_error lerr = { 0 };
    json_t *out = NULL;
    int r = ledger_check_request(req->opt->ledger, body, &out, &lerr);
    json_decref(body);
    respond_result(resp, r, 200, out, &lerr);
}

const struct server_route route_check[] = {
    { "GET", "/api/v1/check", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_check },
    { NULL, NULL, 0, 0, NULL },
};
