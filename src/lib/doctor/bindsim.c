/* bindsim.c — the bind-rule simulator (see bindsim.h). Address overlap follows the kernel's
 * inet_rcv_saddr_equal() and, for a TCP bind to a specific address, its bhash2 lookups; the
 * flag rules follow inet_bind_conflict() (TCP, explicit port) and udp_lib_lport_inuse().
 * Flags of existing sockets are unknown (sock_diag does not report them): each pair is
 * evaluated for the four flag combinations, and a mixed answer is "unknown". */
#include "doctor/bindsim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/exposure.h"
#include "registry/record.h"

/* IPv6 address classes as ipv6_addr_type() sorts them for bind. */
enum address_kind { KIND_ANY, KIND_MAPPED, KIND_OTHER };

/* One side of a comparison, in the kernel's terms. */
struct bind_endpoint {
    uint8_t family;
    uint8_t canonical[16];   /* IPv4 as ::ffff:a.b.c.d, as the bhash2 buckets store it */
    uint32_t rcv_saddr;      /* inet_rcv_saddr, network order: 0 = any; 127.0.0.6 for IPv6 */
    enum address_kind kind;  /* of canonical */
    bool v6only;
};

static enum address_kind address_kind_of(const uint8_t a[16])
{
    static const uint8_t zero[16] = { 0 };
    static const uint8_t mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(a, zero, 16) == 0)
        return KIND_ANY;
    if (memcmp(a, mapped_prefix, 12) == 0)
        return KIND_MAPPED;
    return KIND_OTHER;
}

static void endpoint_make(uint8_t family, const uint8_t addr[16], bool v6only, struct bind_endpoint *e)
{
    memset(e, 0, sizeof *e);
    e->family = family;
    if (family == AF_INET) {
        e->canonical[10] = e->canonical[11] = 0xff;
        memcpy(e->canonical + 12, addr, 4);
        memcpy(&e->rcv_saddr, addr, 4);
        e->kind = KIND_MAPPED;
        return;
    }
    memcpy(e->canonical, addr, 16);
    e->v6only = v6only;
    e->kind = address_kind_of(addr);
    if (e->kind == KIND_MAPPED)
        memcpy(&e->rcv_saddr, addr + 12, 4);
    else if (e->kind == KIND_OTHER) {
        e->rcv_saddr = htonl(0x7f000006u);   /* LOOPBACK4_IPV6: "no IPv4 equivalent" */
        e->v6only = true;   /* __inet6_bind() sets sk_ipv6only for a specific IPv6 address */
    }
}

/* inet_rcv_saddr_equal(sk, sk2, match_wildcard = true) */
static bool kernel_rcv_saddr_equal(const struct bind_endpoint *sk, const struct bind_endpoint *sk2)
{
    if (sk->family == AF_INET6) {
        enum address_kind t1 = sk->kind, t2 = sk2->kind;   /* an IPv4 sk2 is MAPPED */
        if (t1 == KIND_MAPPED && t2 == KIND_MAPPED)
            return !sk2->v6only &&
                   (sk->rcv_saddr == sk2->rcv_saddr || sk->rcv_saddr == 0 || sk2->rcv_saddr == 0);
        if (t1 == KIND_ANY && t2 == KIND_ANY)
            return true;
        if (t2 == KIND_ANY && !(sk2->v6only && t1 == KIND_MAPPED))
            return true;
        if (t1 == KIND_ANY && !(sk->v6only && t2 == KIND_MAPPED))
            return true;
        return sk2->family == AF_INET6 && memcmp(sk->canonical, sk2->canonical, 16) == 0;
    }
    if (sk2->v6only)
        return false;
    return sk->rcv_saddr == sk2->rcv_saddr || sk->rcv_saddr == 0 || sk2->rcv_saddr == 0;
}

/* inet_use_bhash2_on_bind(): a TCP bind to a specific address looks only at its own address
 * bucket and at the wildcard buckets. */
static bool uses_bhash2(const struct bind_endpoint *sk)
{
    if (sk->family == AF_INET6 && sk->kind == KIND_ANY)
        return false;
    if (sk->family == AF_INET6 && sk->kind == KIND_OTHER)
        return true;
    return sk->rcv_saddr != 0;
}

static bool bhash2_overlap(const struct bind_endpoint *sk, const struct bind_endpoint *sk2)
{
    /* inet_bhash2_conflict() skips IPv6-only sockets for an IPv4 bind, and a v4-mapped bind is
     * an IPv4 bind (ipv6_rcv_saddr_equal(): an IPv6-only [::] never matches a mapped address) */
    if ((sk->family == AF_INET || sk->kind == KIND_MAPPED) && sk2->v6only)
        return false;
    if (memcmp(sk->canonical, sk2->canonical, 16) == 0)
        return true;    /* the same bucket */
    if (sk2->family == AF_INET6 && sk2->kind == KIND_ANY)
        return true;    /* the [::] bucket matches every address */
    /* the 0.0.0.0 bucket matches IPv4 and v4-mapped addresses */
    return sk2->kind == KIND_MAPPED && sk2->rcv_saddr == 0 &&
           (sk->family == AF_INET || sk->kind == KIND_MAPPED);
}

static enum bindsim_overlap classify_overlap(const struct bind_endpoint *a, const struct bind_endpoint *b)
{
    if (memcmp(a->canonical, b->canonical, 16) == 0 && a->family == b->family)
        return BINDSIM_OVERLAP_SAME_ADDRESS;
    bool a_dual_any = a->family == AF_INET6 && a->kind == KIND_ANY && !a->v6only;
    bool b_dual_any = b->family == AF_INET6 && b->kind == KIND_ANY && !b->v6only;
    if ((a_dual_any && b->kind == KIND_MAPPED) || (b_dual_any && a->kind == KIND_MAPPED))
        return BINDSIM_OVERLAP_DUAL_STACK;
    if (memcmp(a->canonical, b->canonical, 16) == 0)
        return BINDSIM_OVERLAP_SAME_ADDRESS;   /* 127.0.0.1 and ::ffff:127.0.0.1 */
    return BINDSIM_OVERLAP_WILDCARD;
}

bool bindsim_addresses_overlap(const struct bindsim_plan *plan, const struct socket_entry *s,
                               enum bindsim_overlap *overlap)
{
    struct bind_endpoint sk, sk2;
    endpoint_make(plan->family, plan->address, plan->family == AF_INET6 && plan->v6only, &sk);
    endpoint_make(s->family, s->local_addr, s->family == AF_INET6 && s->v6only, &sk2);
    bool equal = plan->proto == REGISTRY_PROTO_TCP && uses_bhash2(&sk) ? bhash2_overlap(&sk, &sk2)
                                                                       : kernel_rcv_saddr_equal(&sk, &sk2);
    if (equal && overlap)
        *overlap = classify_overlap(&sk, &sk2);
    return equal;
}

/* Sockets that hold a place in the bind tables: request sockets (NEW_SYN_RECV) do not. */
static bool socket_holds_port(const struct socket_entry *s)
{
    return !(s->proto == REGISTRY_PROTO_TCP && s->state == SOCKET_STATE_NEW_SYN_RECV);
}

/* inet_bind_conflict() for an explicit port (relax and reuseport_ok true), and the flag part
 * of udp_lib_lport_inuse(), for one guess of the existing socket's flags. */
static bool flags_conflict(const struct bindsim_plan *plan, const struct socket_entry *s,
                           bool their_reuseaddr, bool their_reuseport)
{
    if (plan->proto == REGISTRY_PROTO_TCP) {
        if (plan->reuseaddr && their_reuseaddr && s->state != SOCKET_STATE_LISTEN)
            return false;
        return !(plan->reuseport && their_reuseport &&
                 (s->state == SOCKET_STATE_TIME_WAIT || s->uid == plan->uid));
    }
    if (plan->reuseaddr && their_reuseaddr)
        return false;
    return !(plan->reuseport && their_reuseport && s->uid == plan->uid);
}

static bool state_is_closing(uint8_t state)
{
    return state == SOCKET_STATE_FIN_WAIT1 || state == SOCKET_STATE_FIN_WAIT2 ||
           state == SOCKET_STATE_CLOSING || state == SOCKET_STATE_LAST_ACK;
}

static enum bindsim_rule rule_for(const struct bindsim_plan *plan, const struct socket_entry *s, bool certain)
{
    if (plan->proto == REGISTRY_PROTO_TCP && s->state == SOCKET_STATE_TIME_WAIT)
        return BINDSIM_RULE_TIME_WAIT;
    if (plan->proto == REGISTRY_PROTO_TCP && state_is_closing(s->state))
        return BINDSIM_RULE_CLOSING;
    if (!certain)
        return BINDSIM_RULE_FLAGS_UNKNOWN;
    if (plan->reuseport && s->uid != plan->uid)
        return BINDSIM_RULE_REUSEPORT_UID;
    if (plan->proto == REGISTRY_PROTO_TCP && plan->reuseaddr && s->state == SOCKET_STATE_LISTEN)
        return BINDSIM_RULE_REUSEADDR_LISTENING;
    return BINDSIM_RULE_IN_USE;
}

static void add_warning(struct bindsim_result *res, enum bindsim_warning_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_warning(struct bindsim_result *res, enum bindsim_warning_kind kind, const char *fmt, ...)
{
    for (size_t i = 0; i < res->warning_count; i++)
        if (res->warnings[i].kind == kind)
            return;
    if (res->warning_count >= BINDSIM_MAX_WARNINGS)
        return;
    struct bindsim_warning *w = &res->warnings[res->warning_count++];
    w->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->message, sizeof w->message, fmt, ap);
    va_end(ap);
}

static void add_fix(struct bindsim_result *res, enum bindsim_fix_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_fix(struct bindsim_result *res, enum bindsim_fix_kind kind, const char *fmt, ...)
{
    for (size_t i = 0; i < res->fix_count; i++)
        if (res->fixes[i].kind == kind)
            return;
    if (res->fix_count >= BINDSIM_MAX_FIXES)
        return;
    struct bindsim_fix *f = &res->fixes[res->fix_count++];
    f->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
}

const char *bindsim_plan_endpoint(const struct bindsim_plan *plan, char *buf, size_t size)
{
    char text[INET6_ADDRSTRLEN];
    inet_ntop(plan->family, plan->address, text, sizeof text);
    snprintf(buf, size, plan->family == AF_INET6 ? "[%s]:%u" : "%s:%u", text, plan->port);
    return buf;
}

static const char *socket_endpoint(const struct socket_entry *s, char *buf, size_t size)
{
    char text[64];
    socket_address_text(s->family, s->local_addr, text, sizeof text);
    snprintf(buf, size, s->family == AF_INET6 ? "[%s]:%u" : "%s:%u", text, s->local_port);
    return buf;
}

static void collect_fixes(const struct bindsim_plan *plan, const struct socket_entry *sockets,
                          const struct bindsim_host *host, struct bindsim_result *res)
{
    char ours[80], theirs[80];
    bindsim_plan_endpoint(plan, ours, sizeof ours);
    bool plan_wildcard = address_kind_of(plan->address) == KIND_ANY;
    for (size_t i = 0; i < res->conflict_count; i++) {
        const struct bindsim_conflict *c = &res->conflicts[i];
        const struct socket_entry *s = &sockets[c->socket_index];
        socket_endpoint(s, theirs, sizeof theirs);
        bool their_wildcard = socket_address_is_wildcard(s);
        if (c->rule != BINDSIM_RULE_TIME_WAIT && c->rule != BINDSIM_RULE_CLOSING)
            add_fix(res, BINDSIM_FIX_STOP_HOLDER, "stop the process holding %s, or reconfigure it to "
                    "another port or address", theirs);
        switch (c->rule) {
        case BINDSIM_RULE_TIME_WAIT:
            add_fix(res, BINDSIM_FIX_WAIT, "wait: TIME_WAIT ends at most 60 s after the connection "
                    "closed (TCP_TIMEWAIT_LEN, fixed in the kernel)");
            if (!plan->reuseaddr)
                add_fix(res, BINDSIM_FIX_SET_REUSEADDR, "set SO_REUSEADDR (--reuseaddr) before bind(): a "
                        "TIME_WAIT socket of a server that also set it no longer blocks");
            continue;
        case BINDSIM_RULE_CLOSING:
            if (host && host->tcp_fin_timeout >= 0)
                add_fix(res, BINDSIM_FIX_WAIT, "wait for the closing connection: FIN_WAIT2 lasts up to "
                        "net.ipv4.tcp_fin_timeout = %d s, then TIME_WAIT up to 60 s", host->tcp_fin_timeout);
            else
                add_fix(res, BINDSIM_FIX_WAIT, "wait for the closing connection: FIN_WAIT2 lasts up to "
                        "net.ipv4.tcp_fin_timeout, then TIME_WAIT up to 60 s");
            if (!plan->reuseaddr)
                add_fix(res, BINDSIM_FIX_SET_REUSEADDR, "set SO_REUSEADDR (--reuseaddr) before bind(): a "
                        "closing socket that also set it no longer blocks");
            continue;
        case BINDSIM_RULE_REUSEPORT_UID:
            add_fix(res, BINDSIM_FIX_SAME_USER, "run the service as uid %u, the owner of %s: SO_REUSEPORT "
                    "shares a port only between sockets of the same effective uid", s->uid, theirs);
            break;
        case BINDSIM_RULE_FLAGS_UNKNOWN:
            if (c->shares_if_reuseport)
                add_fix(res, BINDSIM_FIX_SET_REUSEPORT, "if %s is another instance of your service, make sure "
                        "both set SO_REUSEPORT (same uid) to share the port", theirs);
            else if (c->shares_if_reuseaddr)
                add_fix(res, BINDSIM_FIX_SET_REUSEADDR, "both sockets must set SO_REUSEADDR to share %s", theirs);
            break;
        case BINDSIM_RULE_REUSEADDR_LISTENING:
        case BINDSIM_RULE_IN_USE:
            if (s->state == SOCKET_STATE_LISTEN || plan->proto == REGISTRY_PROTO_UDP)
                add_fix(res, BINDSIM_FIX_SET_REUSEPORT, "to run several instances on one port, set "
                        "SO_REUSEPORT on every socket (--reuseport), all with the same uid");
            else if (!plan->reuseaddr)
                add_fix(res, BINDSIM_FIX_SET_REUSEADDR, "%s does not listen: with SO_REUSEADDR on both "
                        "sockets (--reuseaddr) the port can be shared", theirs);
            break;
        }
        if (c->overlap == BINDSIM_OVERLAP_DUAL_STACK) {
            if (plan->family == AF_INET6 && !plan->v6only)
                add_fix(res, BINDSIM_FIX_V6ONLY, "set IPV6_V6ONLY (--v6only): %s then takes IPv6 only and "
                        "leaves IPv4 to %s", ours, theirs);
            else
                add_fix(res, BINDSIM_FIX_V6ONLY, "make %s IPv6-only (IPV6_V6ONLY, e.g. "
                        "net.ipv6.bindv6only=1 or the server's ipv6only option)", theirs);
        }
        if (c->overlap == BINDSIM_OVERLAP_WILDCARD && plan_wildcard && !their_wildcard)
            add_fix(res, BINDSIM_FIX_SPECIFIC_ADDRESS, "bind a specific address other than %s instead of "
                    "the wildcard", theirs);
        if (plan->device_ifindex && !s->bound_ifindex)
            add_fix(res, BINDSIM_FIX_DEVICE, "%s is not bound to a device, so it overlaps every device: "
                    "bind it to its own device (SO_BINDTODEVICE) too", theirs);
    }
}

static void collect_warnings(const struct bindsim_plan *plan, const struct socket_entry *sockets,
                             const struct bindsim_host *host, struct bindsim_result *res)
{
    const char *proto = registry_proto_name(plan->proto);
    for (size_t i = 0; i < res->shared_count + res->conflict_count; i++) {
        bool shared = i < res->shared_count;
        const struct bindsim_conflict *c = shared ? NULL : &res->conflicts[i - res->shared_count];
        const struct socket_entry *s = &sockets[shared ? res->shared[i].socket_index : c->socket_index];
        bool via_reuseaddr = shared ? res->shared[i].reason == BINDSIM_SHARE_REUSEADDR
                                    : !c->certain && c->shares_if_reuseaddr;
        if (plan->proto == REGISTRY_PROTO_TCP && via_reuseaddr && s->state == SOCKET_STATE_CLOSE) {
            char theirs[80];
            add_warning(res, BINDSIM_WARN_LISTEN_RACE, "%s is bound but not listening and %s the port "
                        "through SO_REUSEADDR: whichever socket calls listen() second fails with "
                        "EADDRINUSE (a 2020 kernel change, \"tcp: Forbid to bind more than one sockets "
                        "haveing SO_REUSEADDR and SO_REUSEPORT per EUID\", also stopped ephemeral "
                        "bind(0) from handing such a port out twice)",
                        socket_endpoint(s, theirs, sizeof theirs), shared ? "shares" : "may share");
        }
    }
    for (size_t i = 0; i < res->conflict_count; i++)
        if (!res->conflicts[i].certain)
            add_warning(res, BINDSIM_WARN_FLAGS_UNSEEN, "the kernel does not report SO_REUSEADDR or "
                        "SO_REUSEPORT of existing sockets (sock_diag): only a trial bind can decide");
    if (!host)
        return;
    if (host->ports && host->ports->have_ephemeral && local_ports_is_ephemeral(host->ports, plan->port) &&
        !local_ports_is_reserved(host->ports, plan->port))
        add_warning(res, BINDSIM_WARN_EPHEMERAL, "%u is inside the ephemeral range %u-%u "
                    "(net.ipv4.ip_local_port_range) and not in net.ipv4.ip_local_reserved_ports: any "
                    "outgoing connection can take it before the service starts; reserve it "
                    "(portreg suggest --reserve) or pick a port below %u", plan->port,
                    host->ports->ephemeral.first, host->ports->ephemeral.last, host->ports->ephemeral.first);
    if (host->unprivileged_port_start >= 0 && plan->port < host->unprivileged_port_start &&
        !host->can_bind_privileged)
        add_warning(res, BINDSIM_WARN_PRIVILEGED, "%u is below net.ipv4.ip_unprivileged_port_start = %d: "
                    "uid %u needs CAP_NET_BIND_SERVICE (e.g. systemd AmbientCapabilities=) or bind() "
                    "fails with EACCES", plan->port, host->unprivileged_port_start, plan->uid);
    if (host->iana_service)
        add_warning(res, BINDSIM_WARN_IANA, "IANA registered %u/%s to \"%s\": fine if that is this "
                    "service, otherwise clients and scanners will take it for %s", plan->port, proto,
                    host->iana_service, host->iana_service);
}

static int compare_conflicts(const void *a, const void *b)
{
    const struct bindsim_conflict *x = a, *y = b;
    if (x->certain != y->certain)
        return x->certain ? -1 : 1;
    return (x->socket_index > y->socket_index) - (x->socket_index < y->socket_index);
}

int bindsim_check(const struct bindsim_plan *plan, const struct socket_entry *sockets, size_t count,
                  const struct bindsim_host *host, struct bindsim_result *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    if (plan->proto != REGISTRY_PROTO_TCP && plan->proto != REGISTRY_PROTO_UDP)
        return pr_error_set(err, -EINVAL, "only tcp and udp binds can be checked");
    if (plan->family != AF_INET && plan->family != AF_INET6)
        return pr_error_set(err, -EINVAL, "address family must be IPv4 or IPv6");
    if (plan->port == 0)
        return pr_error_set(err, -EINVAL, "port 0 lets the kernel choose: give a port 1-65535");
    if (plan->family == AF_INET && plan->v6only)
        return pr_error_set(err, -EINVAL, "IPV6_V6ONLY applies to IPv6 addresses only");
    if (plan->family == AF_INET6 && plan->v6only && address_kind_of(plan->address) == KIND_MAPPED)
        return pr_error_set(err, -EINVAL, "an IPv6-only socket cannot bind a v4-mapped address");

    for (size_t i = 0; i < count; i++) {
        const struct socket_entry *s = &sockets[i];
        if (s->proto != plan->proto || s->local_port != plan->port || !socket_holds_port(s))
            continue;
        out->considered++;
        enum bindsim_overlap overlap;
        if (!bindsim_addresses_overlap(plan, s, &overlap))
            continue;
        bool shared_by_device = plan->device_ifindex && s->bound_ifindex && plan->device_ifindex != s->bound_ifindex;
        bool outcome[4];   /* index: their_reuseaddr | their_reuseport << 1 */
        unsigned conflicts = 0;
        for (unsigned k = 0; k < 4; k++) {
            outcome[k] = flags_conflict(plan, s, k & 1, (k >> 1) & 1);
            conflicts += outcome[k];
        }
        if (shared_by_device || conflicts == 0) {
            struct bindsim_shared *grown = realloc(out->shared, (out->shared_count + 1) * sizeof *grown);
            if (!grown)
                goto nomem;
            out->shared = grown;
            grown[out->shared_count].socket_index = i;
            grown[out->shared_count].reason = shared_by_device ? BINDSIM_SHARE_DEVICE
                                              : plan->reuseaddr && !flags_conflict(plan, s, true, false)
                                                  ? BINDSIM_SHARE_REUSEADDR
                                                  : BINDSIM_SHARE_REUSEPORT;
            out->shared_count++;
            continue;
        }
        struct bindsim_conflict *grown = realloc(out->conflicts, (out->conflict_count + 1) * sizeof *grown);
        if (!grown)
            goto nomem;
        out->conflicts = grown;
        struct bindsim_conflict *c = &grown[out->conflict_count++];
        memset(c, 0, sizeof *c);
        c->socket_index = i;
        c->overlap = overlap;
        c->certain = conflicts == 4;
        c->shares_if_reuseaddr = !outcome[1];
        c->shares_if_reuseport = !outcome[2];
        c->device_unbound = (plan->device_ifindex != 0) != (s->bound_ifindex != 0);
        c->rule = rule_for(plan, s, c->certain);
        /* an uncertain pair that shares with their SO_REUSEADDR: a listen race if it does */
    }
    if (out->conflict_count > 1)
        qsort(out->conflicts, out->conflict_count, sizeof *out->conflicts, compare_conflicts);
    out->verdict = out->conflict_count == 0 ? BINDSIM_FREE
                   : out->conflicts[0].certain ? BINDSIM_BLOCKED : BINDSIM_UNKNOWN;
    /* __inet_bind() / __inet6_bind() refuse a privileged port (EACCES) before the port is
     * looked up at all */
    if (host && host->unprivileged_port_start >= 0 && plan->port < host->unprivileged_port_start &&
        !host->can_bind_privileged) {
        out->privileged_port = true;
        out->verdict = BINDSIM_BLOCKED;
        add_fix(out, BINDSIM_FIX_CAPABILITY, "give uid %u CAP_NET_BIND_SERVICE: AmbientCapabilities="
                "CAP_NET_BIND_SERVICE in the systemd unit, or setcap cap_net_bind_service=+ep on the "
                "program", plan->uid);
        add_fix(out, BINDSIM_FIX_UNPRIVILEGED_PORT, "use a port >= %d (net.ipv4.ip_unprivileged_port_start), "
                "or lower that sysctl", host->unprivileged_port_start);
    }
    collect_fixes(plan, sockets, host, out);
    collect_warnings(plan, sockets, host, out);
    return 0;
nomem:
    bindsim_result_free(out);
    return pr_error_set(err, -ENOMEM, "out of memory");
}

void bindsim_result_free(struct bindsim_result *res)
{
    free(res->conflicts);
    free(res->shared);
    res->conflicts = NULL;
    res->shared = NULL;
    res->conflict_count = res->shared_count = 0;
}

const char *bindsim_reason_id(const struct bindsim_result *res)
{
    if (res->privileged_port)
        return "privileged-port";
    if (res->verdict == BINDSIM_FREE)
        return NULL;
    return res->verdict == BINDSIM_BLOCKED ? "address-in-use" : "flags-unknown";
}

bool bindsim_address_decides_v6only(const struct bindsim_plan *plan, bool *v6only)
{
    if (plan->family != AF_INET6)
        return false;
    enum address_kind kind = address_kind_of(plan->address);
    if (kind == KIND_ANY)
        return false;
    *v6only = kind == KIND_OTHER;
    return true;
}

const char *bindsim_verdict_id(enum bindsim_verdict v)
{
    switch (v) {
    case BINDSIM_FREE: return "free";
    case BINDSIM_BLOCKED: return "blocked";
    case BINDSIM_UNKNOWN: return "unknown";
    }
    return "unknown";
}

const char *bindsim_rule_id(enum bindsim_rule r)
{
    static const char *const ids[] = { "in-use", "reuseaddr-listening", "reuseport-uid", "time-wait",
                                       "closing", "flags-unknown" };
    return (size_t)r < sizeof ids / sizeof ids[0] ? ids[r] : "in-use";
}

const char *bindsim_overlap_id(enum bindsim_overlap o)
{
    static const char *const ids[] = { "same-address", "wildcard", "dual-stack" };
    return (size_t)o < sizeof ids / sizeof ids[0] ? ids[o] : "wildcard";
}

const char *bindsim_share_id(enum bindsim_share s)
{
    static const char *const ids[] = { "device", "reuseaddr", "reuseport" };
    return (size_t)s < sizeof ids / sizeof ids[0] ? ids[s] : "device";
}

const char *bindsim_warning_id(enum bindsim_warning_kind k)
{
    static const char *const ids[] = { "ephemeral", "privileged", "iana", "listen-race", "flags-unseen" };
    return (size_t)k < sizeof ids / sizeof ids[0] ? ids[k] : "unknown";
}

const char *bindsim_fix_id(enum bindsim_fix_kind k)
{
    static const char *const ids[] = { "stop-holder", "specific-address", "v6only", "set-reuseaddr",
                                       "set-reuseport", "same-user", "wait", "device", "capability",
                                       "unprivileged-port" };
    return (size_t)k < sizeof ids / sizeof ids[0] ? ids[k] : "unknown";
}

static const char *overlap_clause(enum bindsim_overlap o, const char *ours, const char *theirs)
{
    (void)ours;
    (void)theirs;
    switch (o) {
    case BINDSIM_OVERLAP_SAME_ADDRESS: return "both bind the same address and port";
    case BINDSIM_OVERLAP_WILDCARD: return "a wildcard address overlaps every address of its family";
    case BINDSIM_OVERLAP_DUAL_STACK:
        return "[::] without IPV6_V6ONLY (dual-stack) also takes every IPv4 address";
    }
    return "the addresses overlap";
}

const char *bindsim_conflict_sentence(const struct bindsim_plan *plan, const struct socket_entry *s,
                                      const struct bindsim_conflict *c, char *buf, size_t size)
{
    char ours[80], theirs[80];
    bindsim_plan_endpoint(plan, ours, sizeof ours);
    socket_endpoint(s, theirs, sizeof theirs);
    const char *overlap = overlap_clause(c->overlap, ours, theirs);
    const char *state = socket_state_name(s->proto, s->state);
    const char *device = c->device_unbound ? "; a socket without SO_BINDTODEVICE overlaps sockets on every device" : "";
    switch (c->rule) {
    case BINDSIM_RULE_IN_USE:
        snprintf(buf, size, "%s (%s) holds the port and %s; neither SO_REUSEADDR nor SO_REUSEPORT %s%s",
                 theirs, state, overlap,
                 plan->reuseaddr || plan->reuseport ? "applies to both sockets" : "is set on the new socket",
                 device);
        break;
    case BINDSIM_RULE_REUSEADDR_LISTENING:
        snprintf(buf, size, "%s listens and %s; SO_REUSEADDR never shares a port with a listening TCP "
                 "socket (only SO_REUSEPORT on both, same uid, does)%s", theirs, overlap, device);
        break;
    case BINDSIM_RULE_REUSEPORT_UID:
        snprintf(buf, size, "%s (%s) belongs to uid %u and %s; SO_REUSEPORT shares a port only between "
                 "sockets of the same effective uid, and the new one is uid %u%s", theirs, state, s->uid,
                 overlap, plan->uid, device);
        break;
    case BINDSIM_RULE_TIME_WAIT:
        snprintf(buf, size, "%s is in TIME-WAIT and still holds the port (%s); it blocks unless both "
                 "sockets set SO_REUSEADDR%s; whether the closed socket had it cannot be seen%s", theirs,
                 overlap, plan->reuseport ? " (or both SO_REUSEPORT)" : "", device);
        if (c->certain)
            snprintf(buf, size, "%s is in TIME-WAIT and still holds the port (%s); without SO_REUSEADDR "
                     "on the new socket it blocks until TIME-WAIT ends (up to 60 s)%s", theirs, overlap, device);
        break;
    case BINDSIM_RULE_CLOSING:
        snprintf(buf, size, "%s is closing (%s) and still holds the port (%s); %s%s", theirs, state, overlap,
                 c->certain ? "without SO_REUSEADDR on the new socket it blocks until it is gone"
                            : "it blocks unless it also had SO_REUSEADDR, which cannot be seen", device);
        break;
    case BINDSIM_RULE_FLAGS_UNKNOWN:
        snprintf(buf, size, "%s (%s, uid %u) %s; they share the port only if it %s, which the kernel "
                 "does not report%s", theirs, state, s->uid, overlap,
                 c->shares_if_reuseaddr && c->shares_if_reuseport ? "set SO_REUSEADDR or SO_REUSEPORT"
                 : c->shares_if_reuseport ? "set SO_REUSEPORT too"
                                          : "set SO_REUSEADDR too", device);
        break;
    }
    return buf;
}
