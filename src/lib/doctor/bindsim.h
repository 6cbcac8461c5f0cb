/* bindsim.h — the bind-rule simulator behind `portreg check`: given a planned bind (protocol,
 * address or wildcard, port, SO_REUSEADDR/SO_REUSEPORT, IPV6_V6ONLY, uid, SO_BINDTODEVICE) and
 * the live socket table, say whether the kernel would accept it, which sockets block it and by
 * which named rule, what to do about it, and what will go wrong later (warnings). A pure
 * function over a socket table; it follows net/ipv4/inet_connection_sock.c and udp.c. */
#ifndef PORTREG_DOCTOR_BINDSIM_H
#define PORTREG_DOCTOR_BINDSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/local_ports.h"
#include "net/socket_entry.h"
#include "util/error.h"

enum bindsim_verdict {
    BINDSIM_FREE = 0,      /* bind() would succeed */
    BINDSIM_BLOCKED = 1,   /* bind() would fail with EADDRINUSE */
    BINDSIM_UNKNOWN = 2,   /* depends on a flag of an existing socket sock_diag cannot show */
};

/* Why one existing socket blocks (or may block) the planned bind. */
enum bindsim_rule {
    BINDSIM_RULE_IN_USE = 0,            /* overlapping address, no flag lets them share */
    BINDSIM_RULE_REUSEADDR_LISTENING,   /* both SO_REUSEADDR, but the TCP socket listens */
    BINDSIM_RULE_REUSEPORT_UID,         /* both may set SO_REUSEPORT, but the uids differ */
    BINDSIM_RULE_TIME_WAIT,             /* a TIME_WAIT socket still holds the port */
    BINDSIM_RULE_CLOSING,               /* FIN_WAIT1/2, CLOSING, LAST_ACK still hold it */
    BINDSIM_RULE_FLAGS_UNKNOWN,         /* shares only if the existing socket set a flag */
};

/* How the two addresses overlap. */
enum bindsim_overlap {
    BINDSIM_OVERLAP_SAME_ADDRESS = 0,   /* the same address */
    BINDSIM_OVERLAP_WILDCARD,           /* one side is the wildcard of the family */
    BINDSIM_OVERLAP_DUAL_STACK,         /* [::] without IPV6_V6ONLY and an IPv4 address (a
                                           specific IPv6 address is always IPv6-only: the
                                           kernel sets sk_ipv6only when binding it) */
};

struct bindsim_plan {
    uint8_t proto;            /* REGISTRY_PROTO_TCP or REGISTRY_PROTO_UDP */
    uint8_t family;           /* AF_INET or AF_INET6 */
    uint8_t address[16];      /* network byte order; IPv4 in the first 4 bytes; zero = wildcard */
    uint16_t port;            /* 1-65535 */
    bool v6only;              /* AF_INET6 only: IPV6_V6ONLY */
    bool reuseaddr, reuseport;
    uint32_t uid;             /* the effective uid the socket will be created with */
    uint32_t device_ifindex;  /* SO_BINDTODEVICE; 0 = none */
};

/* What the host says beyond its sockets (warnings only). */
struct bindsim_host {
    const struct local_ports *ports;     /* ephemeral range and reserved ports; NULL = unknown */
    int unprivileged_port_start;         /* net.ipv4.ip_unprivileged_port_start; -1 = unknown */
    bool can_bind_privileged;            /* the planned user has CAP_NET_BIND_SERVICE */
    const char *iana_service;            /* IANA's service for port/proto; NULL = none */
    int tcp_fin_timeout;                 /* net.ipv4.tcp_fin_timeout in seconds; -1 = unknown */
};

struct bindsim_conflict {
    size_t socket_index;          /* into the table given to bindsim_check() */
    enum bindsim_rule rule;
    enum bindsim_overlap overlap;
    bool certain;                 /* false: depends on the existing socket's flags */
    bool shares_if_reuseaddr;     /* (uncertain) shares when the existing socket has SO_REUSEADDR */
    bool shares_if_reuseport;     /* (uncertain) ... SO_REUSEPORT */
    bool device_unbound;          /* one side has SO_BINDTODEVICE, the other none */
};

/* Overlapping sockets that do not block, and why. */
enum bindsim_share {
    BINDSIM_SHARE_DEVICE = 0,     /* both bound to different devices */
    BINDSIM_SHARE_REUSEADDR,      /* both SO_REUSEADDR, the existing one does not listen */
    BINDSIM_SHARE_REUSEPORT,      /* both SO_REUSEPORT, same uid (or TIME_WAIT) */
};

struct bindsim_shared {
    size_t socket_index;
    enum bindsim_share reason;
};

enum bindsim_warning_kind {
    BINDSIM_WARN_EPHEMERAL = 0,   /* inside ip_local_port_range and not reserved */
    BINDSIM_WARN_PRIVILEGED,      /* below ip_unprivileged_port_start, no CAP_NET_BIND_SERVICE */
    BINDSIM_WARN_IANA,            /* IANA registered the port to a service */
    BINDSIM_WARN_LISTEN_RACE,     /* shared through SO_REUSEADDR with a bound TCP socket:
                                     whichever calls listen() second fails */
    BINDSIM_WARN_FLAGS_UNSEEN,    /* flags of existing sockets are not observable */
};

#define BINDSIM_TEXT_MAX 320
#define BINDSIM_MAX_WARNINGS 8
#define BINDSIM_MAX_FIXES 8

struct bindsim_warning {
    enum bindsim_warning_kind kind;
    char message[BINDSIM_TEXT_MAX];
};

enum bindsim_fix_kind {
    BINDSIM_FIX_STOP_HOLDER = 0,  /* stop or reconfigure the process holding the port */
    BINDSIM_FIX_SPECIFIC_ADDRESS, /* bind a specific address instead of the wildcard */
    BINDSIM_FIX_V6ONLY,           /* set IPV6_V6ONLY (on ours or on theirs) */
    BINDSIM_FIX_SET_REUSEADDR,
    BINDSIM_FIX_SET_REUSEPORT,
    BINDSIM_FIX_SAME_USER,        /* run as the uid of the SO_REUSEPORT group */
    BINDSIM_FIX_WAIT,             /* wait for TIME_WAIT / FIN_WAIT to end */
    BINDSIM_FIX_DEVICE,           /* bind both to different devices */
    BINDSIM_FIX_CAPABILITY,       /* give the user CAP_NET_BIND_SERVICE (AmbientCapabilities=) */
    BINDSIM_FIX_UNPRIVILEGED_PORT,/* a port >= ip_unprivileged_port_start */
};

struct bindsim_fix {
    enum bindsim_fix_kind kind;
    char message[BINDSIM_TEXT_MAX];
};

struct bindsim_result {
    enum bindsim_verdict verdict;
    bool privileged_port;                 /* BLOCKED because the port is below
                                             ip_unprivileged_port_start and the user lacks
                                             CAP_NET_BIND_SERVICE: bind() fails with EACCES
                                             before any address rule is looked at */
    struct bindsim_conflict *conflicts;   /* certain ones first, then by table order */
    size_t conflict_count;
    struct bindsim_shared *shared;
    size_t shared_count;
    size_t considered;                    /* sockets of this protocol on this port */
    struct bindsim_warning warnings[BINDSIM_MAX_WARNINGS];
    size_t warning_count;
    struct bindsim_fix fixes[BINDSIM_MAX_FIXES];
    size_t fix_count;
};

/* Evaluate plan against sockets[0..count) (sockets of other protocols and ports are ignored;
 * all are taken to live in the plan's network namespace). host may be NULL. -EINVAL when the
 * plan is not valid (protocol, family, port 0, v6only on IPv4), -ENOMEM. */
int bindsim_check(const struct bindsim_plan *plan, const struct socket_entry *sockets, size_t count,
                  const struct bindsim_host *host, struct bindsim_result *out, struct pr_error *err);
void bindsim_result_free(struct bindsim_result *res);

/* Whether the address alone decides IPV6_V6ONLY: a specific IPv6 address is always IPv6-only
 * (__inet6_bind() sets sk_ipv6only), a v4-mapped one is its IPv4 address (never IPv6-only).
 * Returns true and fills *v6only for those; false for IPv4 and for [::] (the flag decides). */
bool bindsim_address_decides_v6only(const struct bindsim_plan *plan, bool *v6only);

/* Whether the kernel would treat the two bind addresses as overlapping (device binding and
 * flags aside); fills *overlap when it does. Exposed for tests. */
bool bindsim_addresses_overlap(const struct bindsim_plan *plan, const struct socket_entry *s,
                               enum bindsim_overlap *overlap);

/* JSON ids: "free", "blocked", "unknown"; "in-use", "reuseaddr-listening", "reuseport-uid",
 * "time-wait", "closing", "flags-unknown"; "same-address", "wildcard", "dual-stack"; "device", "reuseaddr", "reuseport"; "ephemeral", "privileged", "iana",
 * "listen-race", "flags-unseen"; "stop-holder", "specific-address", "v6only", "set-reuseaddr",
 * "set-reuseport", "same-user", "wait", "device", "capability", "unprivileged-port".
 * Reasons of a verdict: "privileged-port", "address-in-use", "flags-unknown", NULL when free. */
const char *bindsim_reason_id(const struct bindsim_result *res);
const char *bindsim_verdict_id(enum bindsim_verdict v);
const char *bindsim_rule_id(enum bindsim_rule r);
const char *bindsim_overlap_id(enum bindsim_overlap o);
const char *bindsim_share_id(enum bindsim_share s);
const char *bindsim_warning_id(enum bindsim_warning_kind k);
const char *bindsim_fix_id(enum bindsim_fix_kind k);

/* The rule of one conflict in one sentence, naming the addresses and flags. */
const char *bindsim_conflict_sentence(const struct bindsim_plan *plan, const struct socket_entry *s,
                                      const struct bindsim_conflict *c, char *buf, size_t size);
/* "[::]:8080", "127.0.0.1:8080" for the plan. */
const char *bindsim_plan_endpoint(const struct bindsim_plan *plan, char *buf, size_t size);

#endif
