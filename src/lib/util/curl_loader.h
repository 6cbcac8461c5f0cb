/* curl_loader.h — libcurl, loaded with dlopen() only when a download is asked for.
 * Linking libcurl-gnutls pulls 30 shared libraries and GnuTLS's load-time initialisation into
 * every process, which made a `portreg lookup` 4x slower than getent; systemd loads optional
 * libraries the same way. The API used is the ordinary libcurl easy interface. */
#ifndef PORTREG_UTIL_CURL_LOADER_H
#define PORTREG_UTIL_CURL_LOADER_H

#include <curl/curl.h>

#include "util/error.h"

struct curl_api {
    void *handle;
    /* the types are the library header's own (dl_symbols.h) */
    __typeof__(&curl_global_init) global_init;
    __typeof__(&curl_global_cleanup) global_cleanup;
    __typeof__(&curl_easy_init) easy_init;
    __typeof__(&curl_easy_setopt) easy_setopt;
    __typeof__(&curl_easy_perform) easy_perform;
    __typeof__(&curl_easy_cleanup) easy_cleanup;
    __typeof__(&curl_easy_strerror) easy_strerror;
    /* portreg remote: the status, response headers and request headers */
    __typeof__(&curl_easy_getinfo) easy_getinfo;
    __typeof__(&curl_slist_append) slist_append;
    __typeof__(&curl_slist_free_all) slist_free_all;
};

/* Load libcurl (Debian's libcurl3-gnutls, else libcurl4). -ENOPKG with a message that names the
 * package when it is not installed. */
int curl_api_load(struct curl_api *api, struct pr_error *err);
void curl_api_unload(struct curl_api *api);

#endif
