/* port_set.h — a set of port numbers 0–65535 as a fixed 8 KiB bitmap.
 * Used for the kernel's ip_local_reserved_ports, for port specs expanded per protocol, and
 * wherever "is port N in this set" must be O(1). Header-only: every operation is one line. */
#ifndef PORTREG_UTIL_PORT_SET_H
#define PORTREG_UTIL_PORT_SET_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct port_set {
    uint64_t bits[65536 / 64];
};

static inline void port_set_clear(struct port_set *set) { memset(set, 0, sizeof *set); }
static inline void port_set_add(struct port_set *set, uint16_t port)
{
    set->bits[port >> 6] |= UINT64_C(1) << (port & 63);
}
static inline void port_set_remove(struct port_set *set, uint16_t port)
{
    set->bits[port >> 6] &= ~(UINT64_C(1) << (port & 63));
}
static inline bool port_set_has(const struct port_set *set, uint16_t port)
{
    return (set->bits[port >> 6] >> (port & 63)) & 1u;
}
static inline void port_set_add_range(struct port_set *set, uint16_t first, uint16_t last)
{
    for (uint32_t p = first; p <= last; p++)
        port_set_add(set, (uint16_t)p);
}
static inline unsigned port_set_count(const struct port_set *set)
{
    unsigned n = 0;
    for (unsigned i = 0; i < 65536 / 64; i++)
        n += (unsigned)__builtin_popcountll(set->bits[i]);
    return n;
}

#endif
