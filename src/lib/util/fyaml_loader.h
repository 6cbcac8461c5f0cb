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
    void (*diag_cfg_default)(struct fy_diag_cfg *cfg);
    struct fy_diag *(*diag_create)(const struct fy_diag_cfg *cfg);
    void (*diag_destroy)(struct fy_diag *diag);
    struct fy_parser *(*parser_create)(const struct fy_parse_cfg *cfg);
    void (*parser_destroy)(struct fy_parser *parser);
    int (*parser_set_string)(struct fy_parser *parser, const char *str, size_t len);
    struct fy_event *(*parser_parse)(struct fy_parser *parser);
    void (*parser_event_free)(struct fy_parser *parser, struct fy_event *event);
    bool (*parser_get_stream_error)(struct fy_parser *parser);
    const struct fy_mark *(*event_start_mark)(struct fy_event *event);
    const struct fy_mark *(*event_end_mark)(struct fy_event *event);
    const char *(*token_get_text)(struct fy_token *token, size_t *lenp);
    enum fy_scalar_style (*token_scalar_style)(struct fy_token *token);
};

/* -ENOPKG with a message naming the package when libfyaml is not installed. */
int fyaml_api_load(struct fyaml_api *api, struct pr_error *err);
void fyaml_api_unload(struct fyaml_api *api);

#endif
