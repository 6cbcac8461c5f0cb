/* route_import.c — POST /api/v1/import (admin): a port plan as YAML (Content-Type
 * application/yaml, up to 8 MiB) into the registry in one transaction (ledger_import);
 * ?dry_run=1 checks and changes nothing; ?file=NAME names it in diagnostics. 200 {"created",
 * "dry_run", "diagnostics"}; 422 with the plan's errors, 409 on a conflict with the registry
 * ({"error", "diagnostics"}), 415 for another content type. */
#include <string.h>
#include <strings.h>

#include "server/server_http.h"

static bool yaml_content_type(const char *type)
{
    static const char *const accepted[] = { "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", NULL };
    size_t len = type ? strcspn(type, "; ") : 0;
    for (size_t i = 0; accepted[i]; i++)
        if (len == strlen(accepted[i]) && strncasecmp(type, accepted[i], len) == 0)
            return true;
    return false;
}

static void post_import(struct server_request *req, struct server_response *resp)
{
    if (!yaml_content_type(req->content_type)) {
        respond_error(resp, 415, "unsupported-media-type", "", "send the plan as Content-Type: application/yaml");
        return;
    }
    const char *dry = json_string_value(json_object_get(req->query, "dry_run"));
    if (dry && strcmp(dry, "0") != 0 && strcmp(dry, "1") != 0 && strcmp(dry, "true") != 0 && strcmp(dry, "false") != 0) {
        respond_error(resp, 400, "bad-value", "dry_run", "dry_run must be 1, 0, true or false");
        return;
    }
    bool dry_run = dry && (strcmp(dry, "1") == 0 || strcmp(dry, "true") == 0);
    const char *file = json_string_value(json_object_get(req->query, "file"));
    struct ledger_error lerr = { 0 };
    json_t *out = NULL, *diagnostics = NULL;
    int r = ledger_import(req->opt->ledger, &req->actor, file && file[0] ? file : "plan.yaml", req->raw_body,
                          req->raw_len, dry_run, &out, &diagnostics, &lerr);
    if (r == 0) {
        json_object_set_new(out, "diagnostics", diagnostics);
        respond_json(resp, 200, out);
        return;
    }
    respond_ledger_error(resp, &lerr);
    ledger_error_clear(&lerr);
    json_object_set_new(resp->body, "diagnostics", diagnostics);
}

const struct server_route route_import[] = {
    { "POST", "/api/v1/import", LEDGER_ROLE_ADMIN, ROUTE_RAW_BODY, post_import },
    { NULL, NULL, 0, 0, NULL },
};
