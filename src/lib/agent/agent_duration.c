/* agent_duration.c — "30s", "2m", "500ms", "1m30s" to milliseconds (see agent_duration.h).
 * Hand-written: systemd's parse_sec is not a public library API, and strtoul-based parsing
 * would accept signs and spaces. */
#include "agent/agent_duration.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int agent_duration_parse(const char *text, uint64_t *ms, struct pr_error *err)
{
    if (!text || !text[0])
        return pr_error_set_at(err, -EINVAL, 1, 1, "empty duration; expected e.g. 30s, 2m, 500ms");
    uint64_t total = 0;
    const char *p = text;
    bool bare_allowed = true;
    while (*p) {
        unsigned column = (unsigned)(p - text) + 1;
        if (*p < '0' || *p > '9')
            return pr_error_set_at(err, -EINVAL, 1, column, "expected a number (e.g. 30s, 2m, 500ms)");
        uint64_t number = 0;
        while (*p >= '0' && *p <= '9') {
            number = number * 10 + (uint64_t)(*p - '0');
            if (number > AGENT_DURATION_MAX_MS)
                return pr_error_set_at(err, -ERANGE, 1, column, "longer than a week");
            p++;
        }
        uint64_t unit;
        if (*p == '\0' && bare_allowed) {
            unit = 1000;                      /* a bare number: seconds */
        } else if (strncmp(p, "ms", 2) == 0) {
            unit = 1, p += 2;
        } else if (*p == 's') {
            unit = 1000, p++;
        } else if (*p == 'm') {
            unit = 60 * 1000, p++;
        } else if (*p == 'h') {
            unit = 3600 * 1000, p++;
        } else {
            return pr_error_set_at(err, -EINVAL, 1, (unsigned)(p - text) + 1,
                                   *p ? "unknown unit; expected ms, s, m or h" : "missing unit (ms, s, m or h)");
        }
        bare_allowed = false;
        if (number > AGENT_DURATION_MAX_MS / unit || total + number * unit > AGENT_DURATION_MAX_MS)
            return pr_error_set_at(err, -ERANGE, 1, column, "longer than a week");
        total += number * unit;
    }
    *ms = total;
    return 0;
}

const char *agent_duration_format(uint64_t ms, char *buf, unsigned long size)
{
    static const struct { uint64_t ms; const char *unit; } units[] = {
        { 3600 * 1000, "h" }, { 60 * 1000, "m" }, { 1000, "s" }, { 1, "ms" },
    };
    size_t used = 0;
    buf[0] = '\0';
    if (ms == 0) {
        snprintf(buf, size, "0s");
        return buf;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms < units[i].ms)
            continue;
        uint64_t n = ms / units[i].ms;
        ms %= units[i].ms;
        int w = snprintf(buf + used, size - used, "%llu%s", (unsigned long long)n, units[i].unit);
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
    return buf;
}
