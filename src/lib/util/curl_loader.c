/* curl_loader.c — dlopen()/dlsym() of the libcurl easy interface (see curl_loader.h). */
#include "util/curl_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

static const char *const curl_sonames[] = { "libcurl-gnutls.so.4", "libcurl.so.4" };

int curl_api_load(struct curl_api *api, struct pr_error *err)
{
    memset(api, 0, sizeof *api);
    for (size_t i = 0; i < sizeof curl_sonames / sizeof curl_sonames[0] && !api->handle; i++)
        api->handle = dlopen(curl_sonames[i], RTLD_NOW | RTLD_LOCAL);
    if (!api->handle)
        return pr_error_set(err, -ENOPKG,
                            "libcurl is not installed (Debian package libcurl3-gnutls): %s", dlerror());
    struct { void **slot; const char *name; } symbols[] = {
        { (void **)&api->global_init, "curl_global_init" },
        { (void **)&api->global_cleanup, "curl_global_cleanup" },
        { (void **)&api->easy_init, "curl_easy_init" },
        { (void **)&api->easy_setopt, "curl_easy_setopt" },
        { (void **)&api->easy_perform, "curl_easy_perform" },
        { (void **)&api->easy_cleanup, "curl_easy_cleanup" },
        { (void **)&api->easy_strerror, "curl_easy_strerror" },
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(api->handle, symbols[i].name);
        if (!*symbols[i].slot) {
            int r = pr_error_set(err, -ENOPKG, "libcurl lacks %s: %s", symbols[i].name, dlerror());
            curl_api_unload(api);
            return r;
        }
    }
    return 0;
}

void curl_api_unload(struct curl_api *api)
{
    if (api->handle)
        dlclose(api->handle);
    memset(api, 0, sizeof *api);
}
