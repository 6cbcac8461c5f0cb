/* exposure.c — classify a socket's bind address (see exposure.h). */
#include "net/exposure.h"

#include <string.h>
#include <sys/socket.h>

static const uint8_t ipv4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool socket_address_is_loopback(uint8_t family, const uint8_t addr[16])
{
    if (family == AF_INET)
        return addr[0] == 127;
    static const uint8_t ipv6_loopback[16] = { [15] = 1 };
    if (memcmp(addr, ipv6_loopback, 16) == 0)
        return true;
    return memcmp(addr, ipv4_mapped_prefix, 12) == 0 && addr[12] == 127;
}

bool socket_address_is_wildcard(const struct socket_entry *s)
{
    static const uint8_t zero[16] = { 0 };
    return memcmp(s->local_addr, zero, s->family == AF_INET ? 4 : 16) == 0;
}

enum socket_exposure socket_exposure_of(const struct socket_entry *s)
{
    if (socket_address_is_wildcard(s)) {
        if (s->family == AF_INET)
            return EXPOSURE_ALL_IPV4;
        return s->v6only ? EXPOSURE_ALL_IPV6 : EXPOSURE_ALL;
    }
    return socket_address_is_loopback(s->family, s->local_addr) ? EXPOSURE_LOOPBACK : EXPOSURE_ADDRESS;
}

const char *socket_exposure_id(enum socket_exposure e)
{
    switch (e) {
    case EXPOSURE_LOOPBACK: return "loopback";
    case EXPOSURE_ADDRESS: return "address";
    case EXPOSURE_ALL_IPV4: return "all-ipv4";
    case EXPOSURE_ALL_IPV6: return "all-ipv6";
    case EXPOSURE_ALL: return "all";
    }
    return "?";
}

const char *socket_exposure_label(enum socket_exposure e)
{
    switch (e) {
    case EXPOSURE_LOOPBACK: return "loopback only";
    case EXPOSURE_ADDRESS: return "one address";
    case EXPOSURE_ALL_IPV4: return "every IPv4 address";
    case EXPOSURE_ALL_IPV6: return "every IPv6 address";
    case EXPOSURE_ALL: return "every IPv4 and IPv6 address (dual-stack)";
    }
    return "?";
}
