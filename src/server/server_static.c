/* server_static.c — conditional and compressed answers for bytes fixed while the process runs
 * (server_static.h): 304 when If-None-Match names the ETag, the gzip copy when Accept-Encoding
 * takes it (http_conditional.c reads both headers), Vary: Accept-Encoding on both forms. The
 * gzip copy is another representation, so it has a strong ETag of its own (RFC 9110 8.8.3);
 * an If-None-Match naming either form's is answered 304 with that one. */
#include "server/http_conditional.h"
#include "server/server_static.h"

void respond_static_body(const struct server_request *req, struct server_response *resp,
                         const struct static_body *body)
{
    const char *etag = body->etag;
    if (http_etag_matches(req->if_none_match, body->etag)) {
        respond_static(resp, 304, NULL, 0, NULL);
    } else if (body->gzip && http_etag_matches(req->if_none_match, body->gzip_etag)) {
        respond_static(resp, 304, NULL, 0, NULL);
        etag = body->gzip_etag;
    } else if (body->gzip && http_accepts_gzip(req->accept_encoding)) {
        respond_static(resp, 200, body->gzip, body->gzip_len, body->content_type);
        respond_header(resp, "Content-Encoding", "gzip");
        etag = body->gzip_etag;
    } else {
        respond_static(resp, 200, body->bytes, body->len, body->content_type);
    }
    respond_header(resp, "ETag", etag);
    respond_header(resp, "Cache-Control", body->cache_control);
    if (body->gzip)
        respond_header(resp, "Vary", "Accept-Encoding");
}
