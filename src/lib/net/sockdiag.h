/* sockdiag.h — every TCP/UDP/SCTP socket of the current network namespace through netlink
 * NETLINK_SOCK_DIAG (inet_diag), with libmnl. State and port filters go to the kernel
 * (idiag_states and an INET_DIAG_REQ_BYTECODE program), so unwanted sockets never reach user
 * space. The reply parser is a pure function, fuzzed in fuzz/fuzz_sockdiag.c. */
#ifndef PORTREG_NET_SOCKDIAG_H
#define PORTREG_NET_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/socket_entry.h"
#include "util/error.h"
#include "util/portspec.h"

struct sockdiag_query {
    unsigned protos;                    /* bits 1u << REGISTRY_PROTO_{TCP,UDP,SCTP}; 0 = TCP|UDP */
    bool ipv4, ipv6;                    /* both false = both */
    uint32_t states;                    /* bits 1u << enum socket_state; 0 = every state */
    const struct portspec *local_ports; /* NULL = every local port */
    uint64_t netns;                     /* written into each entry's .netns */
};

/* Dump the sockets that match q into out (appends). SCTP is skipped silently when the kernel
 * has no sctp_diag. -errno with err on failure (e.g. -EPROTONOSUPPORT without sock_diag). */
int sockdiag_dump(const struct sockdiag_query *q, struct socket_list *out, struct pr_error *err);

/* Parse one SOCK_DIAG_BY_FAMILY or TCPDIAG_GETSOCK reply (struct nlmsghdr + inet_diag_msg +
 * attributes) of protocol proto (an enum registry_proto value, not an IPPROTO_* number).
 * Returns 1 and fills out, 0 to skip (not an inet_diag message), -EINVAL on a malformed
 * message. Never reads past len. */
int sockdiag_parse_message(const void *msg, size_t len, uint8_t proto, struct socket_entry *out);

#endif
