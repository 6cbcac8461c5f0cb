/* server_static.c — conditional and compressed answers for bytes fixed while the process runs
 * (server_static.h): ETag and If-None-Match (RFC 9110 13.1.2, weak comparison), gzip chosen by
 * Accept-Encoding (RFC 9110 12.5.3), Vary: Accept-Encoding on both forms. */
#include <string.h>
#include <strings.h>

#include "server/server_static.h"

bool static_etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match || !etag)
        return false;
    size_t etag_len = strlen(etag);
    const char *p = if_none_match;
    while (*p) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        size_t len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == etag_len && strncmp(p, etag, len) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

bool static_accepts_gzip(const char *accept_encoding)
{
    for (const char *p = accept_encoding; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t name_len = strcspn(p, ";, \t");
        if ((name_len == 4 && strncasecmp(p, "gzip", 4) == 0) || (name_len == 1 && p[0] == '*')) {
            /* q=0 refuses it */
            const char *q = memchr(p, ';', len);
            if (!q)
                return true;
            q += 1 + strspn(q + 1, " \t");
            if (strncasecmp(q, "q=", 2) != 0)
                return true;
            for (q += 2; q < p + len; q++)
                if (*q >= '1' && *q <= '9')
                    return true;
            return false;
        }
        p += len;
    }
    return false;
}

void respond_static_body(const struct server_request *req, struct server_response *resp,
                         const struct static_body *body)
{
    if (static_etag_matches(req->if_none_match, body->etag)) {
        respond_static(resp, 304, NULL, 0, NULL);
    } else if (body->gzip && static_accepts_gzip(req->accept_encoding)) {
        respond_static(resp, 200, body->gzip, body->gzip_len, body->content_type);
        respond_header(resp, "Content-Encoding", "gzip");
    } else {
        respond_static(resp, 200, body->bytes, body->len, body->content_type);
    }
    respond_header(resp, "ETag", body->etag);
    respond_header(resp, "Cache-Control", body->cache_control);
    if (body->gzip)
        respond_header(resp, "Vary", "Accept-Encoding");
}
