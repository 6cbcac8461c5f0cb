/* bind_overlap.h — the one rule for "do two bound sockets on one host clash?", shared by
 * `plan check` (plan/plan_check.c) and the registry server's ledger (ledger/ledger_ports.c):
 * the kernel's view with default sockets (IPV6_V6ONLY off). A wildcard takes every address of
 * its family, [::] also every IPv4 address; two specific addresses clash only when equal. */
#ifndef PORTREG_NET_BIND_OVERLAP_H
#define PORTREG_NET_BIND_OVERLAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BIND_ENDPOINTS_MAX 16u

/* One address a service binds. family 0 with wildcard: every address of both families. */
struct bind_endpoint {
    uint8_t family;                  /* 0, AF_INET or AF_INET6 */
    bool wildcard;
    uint8_t bytes[16];
};

/* The endpoint of an address literal ("10.0.0.5", "::", "0.0.0.0"); false when it is none. */
bool bind_endpoint_from_text(const char *text, struct bind_endpoint *out);
/* Fill out[0..n) with any (1 endpoint) or loopback (127.0.0.1 and ::1); returns n. */
size_t bind_endpoints_any(struct bind_endpoint *out);
size_t bind_endpoints_loopback(struct bind_endpoint *out);
/* Whether a and b clash; an IPv4-mapped address (::ffff:10.0.0.5) is the IPv4 address there,
 * as the kernel binds it. */
bool bind_endpoint_overlap(const struct bind_endpoint *a, const struct bind_endpoint *b);
/* Whether any endpoint of a overlaps any of b. */
bool bind_endpoints_overlap(const struct bind_endpoint *a, size_t na, const struct bind_endpoint *b, size_t nb);

#endif
