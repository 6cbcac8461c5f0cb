/* ui_assets.h — the web UI's files (web/), embedded in portreg-serve at build time by
 * ui_assets_gen.c: each with its bytes, a gzip copy, a strong ETag of its content and the URL
 * it is served at (index.html at "/", the others at "/ui/NAME.HASH.EXT", immutable). */
#ifndef PORTREG_SERVER_UI_ASSETS_H
#define PORTREG_SERVER_UI_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct ui_asset {
    const char *name;           /* "app.js" */
    const char *url;            /* "/ui/app.0123456789abcdef.js"; "/" for index.html */
    const char *content_type;
    const unsigned char *bytes, *gzip;
    size_t len, gzip_len;
    const char *etag;           /* "\"<hash>\"" */
    const char *gzip_etag;      /* "\"<hash>-gz\"": the gzip copy's */
    bool immutable;             /* hashed name: cached for a year */
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_asset_count;

#endif
