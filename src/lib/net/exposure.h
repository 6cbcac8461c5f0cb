/* exposure.h — how reachable a socket is from its bind address: loopback only, one address,
 * every IPv4 address, every IPv6 address, or both — `[::]` without IPV6_V6ONLY accepts IPv4
 * too, which is the dual-stack trap. Pure functions over struct socket_entry. */
#ifndef PORTREG_NET_EXPOSURE_H
#define PORTREG_NET_EXPOSURE_H

#include <stdbool.h>

#include "net/socket_entry.h"

enum socket_exposure {
    EXPOSURE_LOOPBACK = 0,     /* 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 */
    EXPOSURE_ADDRESS = 1,      /* one specific non-loopback address */
    EXPOSURE_ALL_IPV4 = 2,     /* 0.0.0.0 */
    EXPOSURE_ALL_IPV6 = 3,     /* [::] with IPV6_V6ONLY */
    EXPOSURE_ALL = 4,          /* [::] dual-stack: every IPv6 and every IPv4 address */
};

enum socket_exposure socket_exposure_of(const struct socket_entry *s);
/* "loopback", "address", "all-ipv4", "all-ipv6", "all" (JSON values). */
const char *socket_exposure_id(enum socket_exposure e);
/* "loopback only", "one address", "every IPv4 address", "every IPv6 address",
 * "every IPv4 and IPv6 address (dual-stack)". */
const char *socket_exposure_label(enum socket_exposure e);
bool socket_address_is_wildcard(const struct socket_entry *s);
bool socket_address_is_loopback(uint8_t family, const uint8_t addr[16]);

#endif
