/* fyaml_loader.h — libfyaml, loaded with dlopen() only when a port plan is read. Linking it
 * cost every `portreg lookup` about 0.1 ms of start-up (its relocations), which took lookup to
 * getent's time; it is loaded the way libcurl is (curl_loader.h). The functions are those of
 * the event parser that plan_yaml.c uses. */
#ifndef PORTREG_UTIL_FYAML_LOADER_H
#define PORTREG_UTIL_FYAML_LOADER_H

#include <libfyaml.h>

#include "util/error.h"

struct fyaml_api {
    void *handle;
    /* the types are the library header's own (dl_symbols.h) */
    __typeof__(&fy_diag_cfg_default) diag_cfg_default;
    __typeof__(&fy_diag_create) diag_create;
    __typeof__(&fy_diag_destroy) diag_destroy;
    __typeof__(&fy_parser_create) parser_create;
    __typeof__(&fy_parser_destroy) parser_destroy;
    __typeof__(&fy_parser_set_string) parser_set_string;
    __typeof__(&fy_parser_parse) parser_parse;
    __typeof__(&fy_parser_event_free) parser_event_free;
    __typeof__(&fy_parser_get_stream_error) parser_get_stream_error;
    __typeof__(&fy_event_start_mark) event_start_mark;
    __typeof__(&fy_event_end_mark) event_end_mark;
    __typeof__(&fy_token_get_text) token_get_text;
    __typeof__(&fy_token_scalar_style) token_scalar_style;
};

/* -ENOPKG with a message naming the package when libfyaml is not installed. */
int fyaml_api_load(struct fyaml_api *api, struct pr_error *err);
void fyaml_api_unload(struct fyaml_api *api);

#endif
