/* fyaml_loader.c — dlopen()/dlsym() of libfyaml's event parser (see fyaml_loader.h). */
#include "util/fyaml_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

int fyaml_api_load(struct fyaml_api *api, struct pr_error *err)
{
    memset(api, 0, sizeof *api);
    api->handle = dlopen("libfyaml.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!api->handle)
        return pr_error_set(err, -ENOPKG, "libfyaml is not installed (Debian package libfyaml0): %s",
                            dlerror());
    struct { void **slot; const char *name; } symbols[] = {
        { (void **)&api->diag_cfg_default, "fy_diag_cfg_default" },
        { (void **)&api->diag_create, "fy_diag_create" },
        { (void **)&api->diag_destroy, "fy_diag_destroy" },
        { (void **)&api->parser_create, "fy_parser_create" },
        { (void **)&api->parser_destroy, "fy_parser_destroy" },
        { (void **)&api->parser_set_string, "fy_parser_set_string" },
        { (void **)&api->parser_parse, "fy_parser_parse" },
        { (void **)&api->parser_event_free, "fy_parser_event_free" },
        { (void **)&api->parser_get_stream_error, "fy_parser_get_stream_error" },
        { (void **)&api->event_start_mark, "fy_event_start_mark" },
        { (void **)&api->event_end_mark, "fy_event_end_mark" },
        { (void **)&api->token_get_text, "fy_token_get_text" },
        { (void **)&api->token_scalar_style, "fy_token_scalar_style" },
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(api->handle, symbols[i].name);
        if (!*symbols[i].slot) {
            int r = pr_error_set(err, -ENOPKG, "libfyaml lacks %s: %s", symbols[i].name, dlerror());
            fyaml_api_unload(api);
            return r;
        }
    }
    return 0;
}

void fyaml_api_unload(struct fyaml_api *api)
{
    if (api->handle)
        dlclose(api->handle);
    memset(api, 0, sizeof *api);
}
