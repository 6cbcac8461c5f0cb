/* scan_result.c — names of states and reasons, and address helpers. */
#include "scan/scan_result.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

const char *scan_state_name(enum scan_state state)
{
    static const char *const names[SCAN_STATE_COUNT] = {
        [SCAN_STATE_OPEN] = "open",
        [SCAN_STATE_CLOSED] = "closed",
        [SCAN_STATE_FILTERED] = "filtered",
        [SCAN_STATE_OPEN_FILTERED] = "open|filtered",
        [SCAN_STATE_ERROR] = "error",
    };
    return (unsigned)state < SCAN_STATE_COUNT ? names[state] : "unknown";
}

const char *scan_reason_name(enum scan_reason reason)
{
    static const char *const names[SCAN_REASON_COUNT] = {
        [SCAN_REASON_NONE] = "none",
        [SCAN_REASON_SYN_ACK] = "syn-ack",
        [SCAN_REASON_RST] = "reset",
        [SCAN_REASON_CONNECTED] = "syn-ack",
        [SCAN_REASON_CONN_REFUSED] = "conn-refused",
        [SCAN_REASON_TIMEOUT] = "no-response",
        [SCAN_REASON_ICMP] = "icmp",
        [SCAN_REASON_UDP_RESPONSE] = "udp-response",
        [SCAN_REASON_SELF_CONNECT] = "self-connect",
        [SCAN_REASON_ACCEPT_QUEUE_FULL] = "accept-queue-full",
        [SCAN_REASON_HOST_UNREACHABLE] = "host-unreach",
        [SCAN_REASON_LOCAL_ERROR] = "local-error",
    };
    return (unsigned)reason < SCAN_REASON_COUNT ? names[reason] : "unknown";
}

const char *scan_address_format(const struct scan_address *address, char *buf, size_t size)
{
    if (!inet_ntop(address->family, address->bytes, buf, (socklen_t)size) && size > 0)
        buf[0] = '\0';
    return buf;
}

socklen_t scan_address_to_sockaddr(const struct scan_address *address, uint16_t port,
                                   struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    if (address->family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        memcpy(&in->sin_addr, address->bytes, 4);
        return sizeof *in;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    memcpy(&in6->sin6_addr, address->bytes, 16);
    return sizeof *in6;
}

bool scan_address_equal(const struct scan_address *a, const struct scan_address *b)
{
    if (a->family != b->family)
        return false;
    return memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

bool scan_address_is_loopback(const struct scan_address *address)
{
    if (address->family == AF_INET)
        return address->bytes[0] == 127;
    static const uint8_t loopback6[16] = { [15] = 1 };
    return memcmp(address->bytes, loopback6, 16) == 0;
}
