/* error.c — filling and formatting struct pr_error (see error.h). */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 5, 0)))
static int pr_error_vset(struct pr_error *err, int code, unsigned line, unsigned column,
                         const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    err->line = line;
    err->column = column;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return code;
}

int pr_error_set(struct pr_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pr_error_vset(err, code, 0, 0, fmt, ap);
    va_end(ap);
    return code;
}

int pr_error_set_at(struct pr_error *err, int code, unsigned line, unsigned column,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pr_error_vset(err, code, line, column, fmt, ap);
    va_end(ap);
    return code;
}

void pr_error_set_path(struct pr_error *err, const char *path)
{
    if (err)
        snprintf(err->path, sizeof err->path, "%s", path ? path : "");
}

void pr_error_clear(struct pr_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

const char *pr_error_format(const struct pr_error *err, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (err->path[0])
        used += (size_t)snprintf(buf, size, "%s:", err->path);
    if (err->line && used < size)
        used += (size_t)snprintf(buf + used, size - used, "%u:", err->line);
    if (err->line && err->column && used < size)
        used += (size_t)snprintf(buf + used, size - used, "%u:", err->column);
    if (used < size)
        snprintf(buf + used, size - used, "%s%s", used ? " " : "", err->message);
    return buf;
}
