/* scan_result.h — what the scanner says about one (target, port, protocol) probe: the state
 * (open / closed / filtered / open|filtered, or error for a local failure that is never
 * reported as closed), the reason that decided it (syn-ack, rst, conn-refused, timeout, an ICMP
 * type/code...), the round-trip time and, with --banners, the first bytes the service sent. */
#ifndef PORTREG_SCAN_SCAN_RESULT_H
#define PORTREG_SCAN_SCAN_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One target address. IPv4 uses bytes[0..4) in network order; IPv6 all 16 bytes. */
struct scan_address {
    uint8_t family;                    /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
};

enum scan_state {
    SCAN_STATE_OPEN,
    SCAN_STATE_CLOSED,
    SCAN_STATE_FILTERED,
    SCAN_STATE_OPEN_FILTERED,          /* UDP silence */
    SCAN_STATE_ERROR,                  /* a local error (EMFILE, EADDRNOTAVAIL, ENOBUFS...) */
    SCAN_STATE_COUNT
};

enum scan_reason {
    SCAN_REASON_NONE,
    SCAN_REASON_SYN_ACK,               /* syn engine: SYN-ACK received */
    SCAN_REASON_RST,                   /* syn engine: RST received */
    SCAN_REASON_CONNECTED,             /* connect engine: the handshake completed */
    SCAN_REASON_CONN_REFUSED,          /* connect engine: ECONNREFUSED (an RST) */
    SCAN_REASON_TIMEOUT,               /* no answer after every retry */
    SCAN_REASON_ICMP,                  /* an ICMP/ICMPv6 error: icmp_type/icmp_code say which */
    SCAN_REASON_UDP_RESPONSE,          /* udp engine: a datagram came back */
    SCAN_REASON_SELF_CONNECT,          /* TCP simultaneous open with our own socket: not open */
    SCAN_REASON_ACCEPT_QUEUE_FULL,     /* a local listener exists but its accept queue is full */
    SCAN_REASON_HOST_UNREACHABLE,      /* EHOSTUNREACH/ENETUNREACH from the kernel */
    SCAN_REASON_LOCAL_ERROR,           /* error holds the errno */
    SCAN_REASON_COUNT
};

#define SCAN_BANNER_MAX 256

struct scan_result {
    struct scan_address target;
    uint16_t port;
    uint8_t proto;                     /* enum registry_proto: REGISTRY_PROTO_TCP / _UDP */
    uint8_t state;                     /* enum scan_state */
    uint8_t reason;                    /* enum scan_reason */
    uint8_t icmp_type, icmp_code;      /* SCAN_REASON_ICMP */
    uint8_t reply_ttl;                 /* TTL/hop limit of the reply, 0 when unknown */
    uint32_t rtt_us;                   /* probe sent to answer; 0 when there was none */
    int error;                         /* positive errno for SCAN_STATE_ERROR */
    uint16_t banner_len;
    char banner[SCAN_BANNER_MAX];      /* raw bytes, not NUL-terminated: shown only through
                                          util/text_escape.h (collect.c keeps them escaped) */
};

const char *scan_state_name(enum scan_state state);       /* "open", "open|filtered"... */
const char *scan_reason_name(enum scan_reason reason);    /* "syn-ack", "conn-refused"... */
/* "127.0.0.1" / "::1" into buf (INET6_ADDRSTRLEN is enough). */
const char *scan_address_format(const struct scan_address *address, char *buf, size_t size);
/* Fill a sockaddr_in/sockaddr_in6 for address:port; returns its length. */
socklen_t scan_address_to_sockaddr(const struct scan_address *address, uint16_t port,
                                   struct sockaddr_storage *out);
bool scan_address_equal(const struct scan_address *a, const struct scan_address *b);
bool scan_address_is_loopback(const struct scan_address *address);

#endif
