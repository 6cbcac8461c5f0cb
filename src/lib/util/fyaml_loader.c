/* fyaml_loader.c — dlopen()/dlsym() of libfyaml's event parser (see fyaml_loader.h). */
#include "util/fyaml_loader.h"

#include <dlfcn.h>
#include <string.h>

#include "util/dl_symbols.h"

static const char *const fyaml_sonames[] = { "libfyaml.so.0" };
static const struct dl_library fyaml_library = {
    "libfyaml", "libfyaml0", fyaml_sonames, sizeof fyaml_sonames / sizeof fyaml_sonames[0]
};

int fyaml_api_load(struct fyaml_api *api, struct pr_error *err)
{
    memset(api, 0, sizeof *api);
    const struct dl_symbol symbols[] = {
        DL_SYMBOL(&api->diag_cfg_default, fy_diag_cfg_default),
        DL_SYMBOL(&api->diag_create, fy_diag_create),
        DL_SYMBOL(&api->diag_destroy, fy_diag_destroy),
        DL_SYMBOL(&api->parser_create, fy_parser_create),
        DL_SYMBOL(&api->parser_destroy, fy_parser_destroy),
        DL_SYMBOL(&api->parser_set_string, fy_parser_set_string),
        DL_SYMBOL(&api->parser_parse, fy_parser_parse),
        DL_SYMBOL(&api->parser_event_free, fy_parser_event_free),
        DL_SYMBOL(&api->parser_get_stream_error, fy_parser_get_stream_error),
        DL_SYMBOL(&api->event_start_mark, fy_event_start_mark),
        DL_SYMBOL(&api->event_end_mark, fy_event_end_mark),
        DL_SYMBOL(&api->token_get_text, fy_token_get_text),
        DL_SYMBOL(&api->token_scalar_style, fy_token_scalar_style),
    };
    return dl_symbols_load(&fyaml_library, symbols, sizeof symbols / sizeof symbols[0], 0,
                           &api->handle, err);
}

void fyaml_api_unload(struct fyaml_api *api)
{
    if (api->handle)
        dlclose(api->handle);
    memset(api, 0, sizeof *api);
}
