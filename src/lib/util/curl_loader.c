/* curl_loader.c — dlopen()/dlsym() of the libcurl easy interface (see curl_loader.h). */
#include "util/curl_loader.h"

#include <dlfcn.h>
#include <string.h>

#include "util/dl_symbols.h"

static const char *const curl_sonames[] = { "libcurl-gnutls.so.4", "libcurl.so.4" };
static const struct dl_library curl_library = {
    "libcurl", "libcurl3-gnutls", curl_sonames, sizeof curl_sonames / sizeof curl_sonames[0]
};

int curl_api_load(struct curl_api *api, struct pr_error *err)
{
    memset(api, 0, sizeof *api);
    const struct dl_symbol symbols[] = {
        DL_SYMBOL(&api->global_init, curl_global_init),
        DL_SYMBOL(&api->global_cleanup, curl_global_cleanup),
        DL_SYMBOL(&api->easy_init, curl_easy_init),
        DL_SYMBOL(&api->easy_setopt, curl_easy_setopt),
        DL_SYMBOL(&api->easy_perform, curl_easy_perform),
        DL_SYMBOL(&api->easy_cleanup, curl_easy_cleanup),
        DL_SYMBOL(&api->easy_strerror, curl_easy_strerror),
        DL_SYMBOL(&api->easy_getinfo, curl_easy_getinfo),
        DL_SYMBOL(&api->slist_append, curl_slist_append),
        DL_SYMBOL(&api->slist_free_all, curl_slist_free_all),
    };
    return dl_symbols_load(&curl_library, symbols, sizeof symbols / sizeof symbols[0], 0,
                           &api->handle, err);
}

void curl_api_unload(struct curl_api *api)
{
    if (api->handle)
        dlclose(api->handle);
    memset(api, 0, sizeof *api);
}
