/* firewall_audit.h — what the live firewall lets in, compared with what listens.
 * Reads the ruleset as libnftables JSON and models every input-hook base chain of the inet,
 * ip and ip6 families (policy; accept/drop/reject rules on tcp/udp dport, saddr, iif lo,
 * ct state; jumps followed one level), then evaluates each listening socket (TCP LISTEN, UDP
 * unconnected) for a new connection from outside: reachable from anywhere, from some sources,
 * blocked, or unknown. Also: ports a rule opens with nobody listening, and — with a plan —
 * reachable listeners the plan does not declare for this host. Honest about what it cannot
 * evaluate: such matches make the answer "maybe" and leave a note. */
#ifndef PORTREG_PLAN_FIREWALL_AUDIT_H
#define PORTREG_PLAN_FIREWALL_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/socket_entry.h"
#include "plan/plan.h"
#include "util/arena.h"
#include "util/error.h"

enum firewall_reach {
    FIREWALL_REACH_LOOPBACK_ONLY,    /* bound to 127.0.0.0/8 or ::1: never from outside */
    FIREWALL_REACH_BLOCKED,          /* every input chain drops new connections to it */
    FIREWALL_REACH_SOURCES,          /* accepted from the listed sources only */
    FIREWALL_REACH_ANY,              /* accepted from anywhere */
    FIREWALL_REACH_UNKNOWN,          /* a rule we cannot evaluate decides (see notes) */
};

/* One listening socket and what the firewall lets through to it. */
struct firewall_audit_listener {
    uint8_t proto;                   /* REGISTRY_PROTO_TCP or _UDP */
    uint8_t family;                  /* AF_INET or AF_INET6 */
    bool v6only;
    uint8_t address[16];
    uint16_t port;
    uint64_t inode;
    enum firewall_reach reach;
    struct plan_cidr *sources;       /* FIREWALL_REACH_SOURCES: from where */
    size_t source_count;
    bool uncertain;                  /* a rule that could not be evaluated may change this */
    bool declared;                   /* a plan was given and declares this port on this host */
    const char *service;             /* the declaring service, NULL */
    bool undeclared_exposure;        /* plan given, reachable (ANY/SOURCES) and not declared */
};

/* A port (or range) an accept rule opens, with no listener behind it. */
struct firewall_audit_open_port {
    uint8_t proto;
    uint16_t first, last;
    bool ipv4, ipv6;                 /* families the accept applies to */
    bool any_source;
    const char *table, *chain;       /* where the accept rule is */
};

/* An input base chain found in the ruleset. */
struct firewall_audit_chain {
    const char *family, *table, *name;
    int priority;
    bool policy_accept;
    size_t rule_count;
};

struct firewall_audit_result {
    struct arena arena;
    struct firewall_audit_chain *chains;
    size_t chain_count;
    struct firewall_audit_listener *listeners;   /* sorted by proto, port, family, address */
    size_t listener_count;
    size_t reachable_count;          /* listeners with reach ANY or SOURCES */
    size_t undeclared_count;         /* listeners with undeclared_exposure */
    struct firewall_audit_open_port *open_without_listener;
    size_t open_without_listener_count;
    const char **notes;              /* what could not be evaluated, legacy iptables present... */
    size_t note_count;
    const char *host;                /* the plan host compared, NULL */
};

struct firewall_audit_options {
    const struct plan *plan;         /* NULL: no declared/undeclared comparison */
    const char *host;                /* plan host name; NULL = this machine's short hostname */
    const char *ruleset_json;        /* NULL: read the live ruleset (libnftables, needs root) */
    const struct socket_list *sockets;  /* NULL: dump this namespace's listeners */
};

/* -EPERM when the ruleset cannot be read (CAP_NET_ADMIN), -ENOPKG without libnftables,
 * -EINVAL naming the place for JSON that is not an nftables ruleset, -ENOENT for a plan host
 * that does not exist. */
int firewall_audit_run(const struct firewall_audit_options *opt,
                       struct firewall_audit_result *res, struct pr_error *err);
void firewall_audit_result_free(struct firewall_audit_result *res);

/* "loopback-only", "blocked", "sources", "any", "unknown". */
const char *firewall_reach_name(enum firewall_reach reach);

#endif
