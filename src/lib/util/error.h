/* error.h — errors as values for libportreg.
 * Library functions return 0 or a negative errno-style code and, where the caller passed one,
 * fill a struct pr_error with a message and the place (path, line, column or field).
 * The CLI turns it into "portreg: <where>: <why>" and an exit code; the library never prints. */
#ifndef PORTREG_UTIL_ERROR_H
#define PORTREG_UTIL_ERROR_H

#include <stddef.h>

struct pr_error {
    int code;            /* negative errno-style code, 0 when no error */
    char path[512];      /* file, URL, argument or JSON field; "" when none */
    unsigned line;       /* 1-based, 0 when not a text position */
    unsigned column;     /* 1-based, 0 when unknown */
    char message[512];
};

/* Fill err (may be NULL) and return code. code must be negative. */
int pr_error_set(struct pr_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with a text position. */
int pr_error_set_at(struct pr_error *err, int code, unsigned line, unsigned column,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Record which file/argument the error is about (keeps line/column). */
void pr_error_set_path(struct pr_error *err, const char *path);
/* "path:line:column: message" (parts omitted when unknown) into buf. */
const char *pr_error_format(const struct pr_error *err, char *buf, size_t size);
void pr_error_clear(struct pr_error *err);

#endif
