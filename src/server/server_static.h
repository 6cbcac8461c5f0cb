/* server_static.h — answering with bytes that do not change while the process runs (the web
 * UI's embedded assets, the registry's port map): a strong ETag, 304 on If-None-Match, the
 * gzip copy when the client's Accept-Encoding takes it, and the cache lifetime asked for. */
#ifndef PORTREG_SERVER_SERVER_STATIC_H
#define PORTREG_SERVER_SERVER_STATIC_H

#include <stddef.h>

#include "server/server_http.h"

struct static_body {
    const unsigned char *bytes, *gzip;   /* gzip may be NULL (no compressed copy) */
    size_t len, gzip_len;
    const char *etag;                    /* "\"…\"", quotes included */
    const char *gzip_etag;               /* the gzip copy's (another representation: another
                                            strong ETag); with gzip */
    const char *content_type;
    const char *cache_control;
};

/* 200 with the body (gzip'd when taken) or 304; the bytes must outlive the response. */
void respond_static_body(const struct server_request *req, struct server_response *resp,
                         const struct static_body *body);

#endif
