/* fyaml_scalar.c — a scalar event's text, one-line single-quoted scalars decoded here
 * (fyaml_scalar.h says why: libfyaml 0.7.12 decodes '' runs wrongly and leaks on them). */
#include "util/fyaml_scalar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fyaml_scalar_text(const struct fyaml_api *fy, struct fy_event *event, const char *source, size_t source_len,
                      const char **text, size_t *len, char **owned)
{
    *text = NULL;
    *len = 0;
    *owned = NULL;
    struct fy_token *token = event->scalar.value;
    if (!token)
        return 0;
    if (fy->token_scalar_style(token) == FYSS_SINGLE_QUOTED) {
        const struct fy_mark *start = fy->event_start_mark(event), *end = fy->event_end_mark(event);
        /* the marks are those of the text between the quotes */
        size_t from = start ? start->input_pos : 0, to = end ? end->input_pos : 0;
        bool marked = start && end && from >= 1 && from <= to && to < source_len && source[from - 1] == '\'' &&
                      source[to] == '\'';
        const char *raw = marked ? source + from : NULL;
        size_t raw_len = marked ? to - from : 0;
        if (marked && !memchr(raw, '\n', raw_len) && !memchr(raw, '\r', raw_len)) {
            char *out = malloc(raw_len + 1);
            if (!out)
                return -ENOMEM;
            size_t n = 0;
            for (size_t i = 0; i < raw_len; i++) {
                out[n++] = raw[i];
                if (raw[i] == '\'' && i + 1 < raw_len && raw[i + 1] == '\'')
                    i++;   /* '' is one ' */
            }
            out[n] = '\0';
            *text = *owned = out;
            *len = n;
            return 0;
        }
        if (marked && raw_len >= 4 && memmem(raw, raw_len, "''''", 4))
            return -EINVAL;
    }
    *text = fy->token_get_text(token, len);
    return 0;
}
