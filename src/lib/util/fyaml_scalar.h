/* fyaml_scalar.h — a scalar event's text, around libfyaml 0.7.12's single-quoted bugs: it
 * decodes two escaped quotes in a row wrongly ('a''''b' as a''' rather than a''b) and, from
 * four in a row on, leaks the decoded text's buffer (found by fuzz_plan_yaml). A one-line
 * single-quoted scalar is therefore decoded here, from the source between the event's marks
 * (the text between the quotes, each '' made one '); every other scalar is libfyaml's. */
#ifndef PORTREG_UTIL_FYAML_SCALAR_H
#define PORTREG_UTIL_FYAML_SCALAR_H

#include <stddef.h>

#include "util/fyaml_loader.h"

/* *text and *len: the scalar's text (NULL for a null scalar without a token). *owned: a buffer
 * to free() after the text is used, or NULL. -EINVAL for a single-quoted scalar over several
 * lines with two escaped quotes in a row (libfyaml would decode it wrongly): the caller names
 * the place; -ENOMEM. */
int fyaml_scalar_text(const struct fyaml_api *fy, struct fy_event *event, const char *source, size_t source_len,
                      const char **text, size_t *len, char **owned);

#endif
