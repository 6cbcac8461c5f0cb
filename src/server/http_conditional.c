/* http_conditional.c — the two request headers a cacheable answer reads (http_conditional.h):
 * If-None-Match against a strong ETag (RFC 9110 13.1.2: a list, W/ forms compared weakly, "*")
 * and whether Accept-Encoding takes gzip (RFC 9110 12.5.3: gzip or "*", unless its q is 0).
 * libmicrohttpd leaves both to the application. */
#include <string.h>
#include <strings.h>

#include "server/http_conditional.h"

bool http_etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match || !etag)
        return false;
    size_t etag_len = strlen(etag);
    const char *p = if_none_match;
    while (*p) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        size_t len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == etag_len && strncmp(p, etag, len) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* Is the q of one Accept-Encoding entry (its text after the name, up to the comma) above 0?
 * No q is 1. */
static bool entry_q_positive(const char *params, const char *end)
{
    for (const char *p = params; p < end; p++) {
        if (*p != ';')
            continue;
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            for (p += 2; p < end && *p != ';'; p++)
                if (*p >= '1' && *p <= '9')
                    return true;
            return false;
        }
    }
    return true;
}

bool http_accepts_gzip(const char *accept_encoding)
{
    /* an explicit gzip entry decides; else "*" does; else no */
    int gzip = -1, any = -1;
    for (const char *p = accept_encoding; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t name_len = strcspn(p, "; \t,");
        if (name_len == 4 && strncasecmp(p, "gzip", 4) == 0)
            gzip = entry_q_positive(p + name_len, p + len);
        else if (name_len == 1 && p[0] == '*')
            any = entry_q_positive(p + name_len, p + len);
        p += len;
    }
    return gzip >= 0 ? gzip == 1 : any == 1;
}
