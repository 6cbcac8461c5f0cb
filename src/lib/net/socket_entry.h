/* socket_entry.h — the inspector's model: one socket as the kernel reports it through
 * sock_diag (netlink), plus the network namespace it was found in. Producers: sockdiag.c
 * (every socket of one namespace), netns.c (every namespace). Consumers: ls/who/check. */
#ifndef PORTREG_NET_SOCKET_ENTRY_H
#define PORTREG_NET_SOCKET_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kernel TCP states (include/net/tcp_states.h); UDP reports 7 (CLOSE) when unconnected and
 * 1 (ESTABLISHED) when connected. */
enum socket_state {
    SOCKET_STATE_ESTABLISHED = 1,
    SOCKET_STATE_SYN_SENT = 2,
    SOCKET_STATE_SYN_RECV = 3,
    SOCKET_STATE_FIN_WAIT1 = 4,
    SOCKET_STATE_FIN_WAIT2 = 5,
    SOCKET_STATE_TIME_WAIT = 6,
    SOCKET_STATE_CLOSE = 7,
    SOCKET_STATE_CLOSE_WAIT = 8,
    SOCKET_STATE_LAST_ACK = 9,
    SOCKET_STATE_LISTEN = 10,
    SOCKET_STATE_CLOSING = 11,
    SOCKET_STATE_NEW_SYN_RECV = 12,
    /* a filter bit only: TCP sockets bound but neither listening nor connected (kernel 6.x,
     * TCP_BOUND_INACTIVE); the kernel reports them in state CLOSE */
    SOCKET_STATE_BOUND_INACTIVE = 13,
};
#define SOCKET_STATE_ALL 0x3ffeu   /* bits 1..13 */

struct socket_entry {
    uint8_t proto;            /* enum registry_proto: TCP, UDP or SCTP */
    uint8_t family;           /* AF_INET or AF_INET6 */
    uint8_t state;            /* enum socket_state */
    bool v6only;              /* AF_INET6: IPV6_V6ONLY is set (false: dual-stack) */
    uint8_t local_addr[16];   /* network byte order; IPv4 uses the first 4 bytes */
    uint8_t peer_addr[16];
    uint16_t local_port;      /* host byte order */
    uint16_t peer_port;
    uint32_t bound_ifindex;   /* SO_BINDTODEVICE; 0 when not bound to a device */
    uint32_t uid;             /* owner uid as the kernel records it */
    uint64_t inode;           /* 0 for TIME_WAIT and NEW_SYN_RECV (no file behind them) */
    uint64_t cookie;          /* the kernel's socket cookie */
    uint32_t recv_queue;      /* LISTEN: connections waiting for accept() */
    uint32_t send_queue;      /* LISTEN: the accept backlog limit */
    uint64_t netns;           /* inode of the network namespace it lives in */
};

struct socket_list {
    struct socket_entry *items;
    size_t count, capacity;
};

/* Append a zeroed entry; NULL on out of memory. */
struct socket_entry *socket_list_append(struct socket_list *list);
void socket_list_free(struct socket_list *list);

/* ss's names: "ESTAB", "SYN-SENT", "TIME-WAIT", "LISTEN", "UNCONN" (UDP in CLOSE), ... */
const char *socket_state_name(uint8_t proto, uint8_t state);
/* Parse a state name as ss spells it, case-insensitive (also "established", "listening");
 * returns a bit mask of states, 0 when unknown. "connected" = every state but LISTEN/CLOSE. */
uint32_t socket_state_parse(const char *name);
/* Text form of the local or peer address: "127.0.0.1", "::", "[::1]" is NOT bracketed here. */
const char *socket_address_text(uint8_t family, const uint8_t addr[16], char *buf, size_t size);

#endif
