/* bind_overlap.c — the bind-overlap rule of plan check and the registry server (see
 * bind_overlap.h): one function, so the plan and the server can never disagree about what
 * clashes. */
#include "net/bind_overlap.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

static bool bytes_zero(const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bytes[i])
            return false;
    return true;
}

bool bind_endpoint_from_text(const char *text, struct bind_endpoint *out)
{
    memset(out, 0, sizeof *out);
    if (text && inet_pton(AF_INET, text, out->bytes) == 1)
        out->family = AF_INET;
    else if (text && inet_pton(AF_INET6, text, out->bytes) == 1)
        out->family = AF_INET6;
    else
        return false;
    out->wildcard = bytes_zero(out->bytes, 16);
    return true;
}

size_t bind_endpoints_any(struct bind_endpoint *out)
{
    out[0] = (struct bind_endpoint){ .family = 0, .wildcard = true };
    return 1;
}

size_t bind_endpoints_loopback(struct bind_endpoint *out)
{
    out[0] = (struct bind_endpoint){ .family = AF_INET, .bytes = { 127, 0, 0, 1 } };
    out[1] = (struct bind_endpoint){ .family = AF_INET6 };
    out[1].bytes[15] = 1;
    return 2;
}

/* ::ffff:a.b.c.d is a bind to the IPv4 address a.b.c.d: the kernel checks it against IPv4
 * binds (and so do the PostgreSQL claims, which keep every scope as IPv6, IPv4 mapped). */
static struct bind_endpoint endpoint_unmapped(const struct bind_endpoint *e)
{
    static const uint8_t v4_mapped[12] = { [10] = 0xff, [11] = 0xff };
    struct bind_endpoint out = *e;
    if (e->family == AF_INET6 && memcmp(e->bytes, v4_mapped, sizeof v4_mapped) == 0) {
        memset(out.bytes, 0, sizeof out.bytes);
        memcpy(out.bytes, e->bytes + 12, 4);
        out.family = AF_INET;
        out.wildcard = bytes_zero(out.bytes, 4);
    }
    return out;
}

bool bind_endpoint_overlap(const struct bind_endpoint *a_in, const struct bind_endpoint *b_in)
{
    struct bind_endpoint a_copy = endpoint_unmapped(a_in), b_copy = endpoint_unmapped(b_in);
    const struct bind_endpoint *a = &a_copy, *b = &b_copy;
    if (a->wildcard && b->wildcard)
        return true;
    if (a->wildcard || b->wildcard) {
        const struct bind_endpoint *w = a->wildcard ? a : b, *x = a->wildcard ? b : a;
        return w->family == 0 || w->family == AF_INET6 || x->family == w->family;
    }
    return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

bool bind_endpoints_overlap(const struct bind_endpoint *a, size_t na, const struct bind_endpoint *b, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (bind_endpoint_overlap(&a[i], &b[j]))
                return true;
    return false;
}
