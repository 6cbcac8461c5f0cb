/* route_ui.c — the web UI: GET / answers index.html (revalidated: Cache-Control no-cache) and
 * GET /ui/{asset} the hashed files it names (cached a year, immutable), all from the binary's
 * memory (ui_assets.h, generated from web/ at build time) with a strong ETag, 304 on
 * If-None-Match and the gzip copy when the client takes it. No token: the page asks for one
 * and every API call it makes is checked as any other. */
#include <string.h>

#include "server/server_http.h"
#include "server/server_static.h"
#include "server/ui_assets.h"

/* The page runs only its own files: no inline script, no other origin. */
#define UI_CONTENT_SECURITY_POLICY \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static void answer_asset(struct server_request *req, struct server_response *resp, const struct ui_asset *asset)
{
    struct static_body body = {
        .bytes = asset->bytes, .len = asset->len, .gzip = asset->gzip, .gzip_len = asset->gzip_len,
        .etag = asset->etag, .gzip_etag = asset->gzip_etag, .content_type = asset->content_type,
        .cache_control = asset->immutable ? "public, max-age=31536000, immutable" : "no-cache",
    };
    respond_static_body(req, resp, &body);
    respond_header(resp, "X-Content-Type-Options", "nosniff");
    if (!asset->immutable)
        respond_header(resp, "Content-Security-Policy", UI_CONTENT_SECURITY_POLICY);
}

static void get_index(struct server_request *req, struct server_response *resp)
{
    for (size_t i = 0; i < ui_asset_count; i++)
        if (strcmp(ui_assets[i].url, "/") == 0) {
            answer_asset(req, resp, &ui_assets[i]);
            return;
        }
    respond_error(resp, 404, "not-found", "", "this build has no web UI");
}

static void get_asset(struct server_request *req, struct server_response *resp)
{
    for (size_t i = 0; i < ui_asset_count; i++)
        if (ui_assets[i].immutable && strcmp(ui_assets[i].url + strlen("/ui/"), req->params[0]) == 0) {
            answer_asset(req, resp, &ui_assets[i]);
            return;
        }
    respond_error(resp, 404, "not-found", "", "no such file of the web UI (an older page? reload /)");
}

const struct server_route route_ui[] = {
    { "GET", "/", LEDGER_ROLE_NONE, ROUTE_NO_BODY, get_index },
    { "GET", "/ui/{asset}", LEDGER_ROLE_NONE, ROUTE_NO_BODY, get_asset },
    { NULL, NULL, 0, 0, NULL },
};
