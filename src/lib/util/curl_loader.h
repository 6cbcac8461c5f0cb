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
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *curl);
    void (*easy_cleanup)(CURL *curl);
    const char *(*easy_strerror)(CURLcode code);
};

/* Load libcurl (Debian's libcurl3-gnutls, else libcurl4). -ENOPKG with a message that names the
 * package when it is not installed. */
int curl_api_load(struct curl_api *api, struct pr_error *err);
void curl_api_unload(struct curl_api *api);

#endif
