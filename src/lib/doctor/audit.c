/* audit.c — the rules of `portreg audit` over one namespace's socket table (see audit.h).
 * Each rule walks the table once; server sockets (TCP LISTEN, unconnected UDP) are grouped by
 * protocol and port through a sorted index so a host with 100k sockets stays linear-ish. */
#include "doctor/audit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "doctor/reserved_ports.h"
#include "registry/record.h"
#include "registry/service_match.h"
#include "util/text_escape.h"

/* ---- names ---- */

static const char *const kind_ids[AUDIT_KIND_COUNT] = {
    [AUDIT_EPHEMERAL_LISTENER] = "ephemeral-listener",
    [AUDIT_INTERNAL_EXPOSED] = "internal-exposed",
    [AUDIT_DUAL_STACK_SPLIT] = "dual-stack-split",
    [AUDIT_LOOPBACK_ONE_FAMILY] = "loopback-one-family",
    [AUDIT_REUSEPORT_MIXED] = "reuseport-mixed",
    [AUDIT_REGISTRY_MISMATCH] = "registry-mismatch",
    [AUDIT_TIME_WAIT_PILE] = "time-wait-pile",
    [AUDIT_RESERVED_UNUSED] = "reserved-unused",
};

static const char *const severity_names[AUDIT_SEVERITY_COUNT] = { "info", "low", "medium", "high" };

const char *audit_kind_id(enum audit_kind kind)
{
    return (unsigned)kind < AUDIT_KIND_COUNT ? kind_ids[kind] : "unknown";
}

const char *audit_severity_name(enum audit_severity severity)
{
    return (unsigned)severity < AUDIT_SEVERITY_COUNT ? severity_names[severity] : "unknown";
}

int audit_severity_parse(const char *text)
{
    for (int i = 0; i < AUDIT_SEVERITY_COUNT; i++)
        if (strcasecmp(text, severity_names[i]) == 0)
            return i;
    return -1;
}

/* ---- services that should not face the network ---- */

struct internal_service {
    const char *iana;          /* IANA service name, or NULL */
    const char *program;       /* command-name prefix, or NULL */
    const char *label;         /* what to call it */
    enum audit_severity severity;
    const char *how;           /* the configuration that binds it to loopback */
};

static const struct internal_service internal_services[] = {
    { "mysql", "mysqld", "MySQL", AUDIT_HIGH, "bind-address = 127.0.0.1 in my.cnf" },
    { NULL, "mariadbd", "MariaDB", AUDIT_HIGH, "bind-address = 127.0.0.1 in my.cnf" },
    { "postgresql", "postgres", "PostgreSQL", AUDIT_HIGH,
      "listen_addresses = 'localhost' in postgresql.conf" },
    { "ms-sql-s", "sqlservr", "SQL Server", AUDIT_HIGH, "mssql-conf set network.ipaddress 127.0.0.1" },
    { "redis", "redis-server", "Redis", AUDIT_HIGH, "bind 127.0.0.1 ::1 in redis.conf" },
    { "memcache", "memcached", "memcached", AUDIT_HIGH, "-l 127.0.0.1 in /etc/memcached.conf" },
    { "mongodb", "mongod", "MongoDB", AUDIT_HIGH, "net.bindIp: 127.0.0.1 in mongod.conf" },
    { "etcd-client", "etcd", "etcd", AUDIT_HIGH, "--listen-client-urls with an internal address" },
    { "etcd-server", NULL, "etcd peer", AUDIT_HIGH, "--listen-peer-urls with an internal address" },
    { "couchdb", NULL, "CouchDB", AUDIT_HIGH, "bind_address = 127.0.0.1 in local.ini" },
    { "epmd", "epmd", "the Erlang port mapper", AUDIT_MEDIUM, "ERL_EPMD_ADDRESS=127.0.0.1" },
    { "docker", "dockerd", "the Docker API", AUDIT_HIGH,
      "drop -H tcp://0.0.0.0:2375 (use the unix socket, or TLS on 2376 for remote access)" },
    { NULL, "influxd", "InfluxDB", AUDIT_HIGH, "bind-address = \"127.0.0.1:8086\"" },
    { NULL, "clickhouse", "ClickHouse", AUDIT_HIGH, "<listen_host>127.0.0.1</listen_host>" },
    { NULL, "kubelet", "the kubelet API", AUDIT_MEDIUM, "--address with an internal address" },
    { "rfb", "Xvnc", "VNC", AUDIT_HIGH, "-localhost (and an SSH tunnel)" },
    { "x11", "Xorg", "the X server", AUDIT_HIGH, "-nolisten tcp" },
    { "sunrpc", "rpcbind", "rpcbind", AUDIT_MEDIUM, "rpcbind -h with an internal address" },
    { "snmp", "snmpd", "SNMP", AUDIT_MEDIUM, "agentAddress udp:127.0.0.1:161 in snmpd.conf" },
    { "microsoft-ds", "smbd", "SMB", AUDIT_MEDIUM, "interfaces = lo and bind interfaces only = yes" },
    { "netbios-ssn", NULL, "NetBIOS session", AUDIT_MEDIUM,
      "interfaces = lo and bind interfaces only = yes" },
};

static const struct internal_service *internal_service_of(const char *service, const char *comm)
{
    for (size_t i = 0; i < sizeof internal_services / sizeof internal_services[0]; i++) {
        const struct internal_service *s = &internal_services[i];
        if (s->iana && service && strcasecmp(service, s->iana) == 0)
            return s;
        if (s->program && comm && comm[0] && strncmp(comm, s->program, strlen(s->program)) == 0)
            return s;
    }
    return NULL;
}

/* ---- the socket table ---- */

struct audit_context {
    const struct inspect_result *res;
    const struct local_ports *ports;
    const struct audit_options *opt;
    struct audit_report *out;
    uint32_t *servers;          /* indexes of server sockets, sorted by (proto, port, family) */
    size_t server_count;
    char service_text[256];     /* service_of's answer, escaped */
};

static bool is_server_socket(const struct socket_entry *s)
{
    if (s->proto == REGISTRY_PROTO_TCP)
        return s->state == SOCKET_STATE_LISTEN;
    if (s->proto == REGISTRY_PROTO_UDP)
        return s->state == SOCKET_STATE_CLOSE;
    return false;
}

static bool is_wildcard(const struct socket_entry *s)
{
    static const uint8_t zero[16];
    return memcmp(s->local_addr, zero, s->family == AF_INET ? 4 : 16) == 0;
}

static bool is_loopback_address(const struct socket_entry *s, bool exact)
{
    if (s->family == AF_INET)
        return exact ? (s->local_addr[0] == 127 && s->local_addr[1] == 0 && s->local_addr[2] == 0 &&
                        s->local_addr[3] == 1)
                     : s->local_addr[0] == 127;
    static const uint8_t loopback6[16] = { [15] = 1 };
    return memcmp(s->local_addr, loopback6, 16) == 0;
}

static const char *address_text(const struct socket_entry *s, char *buf, size_t size)
{
    char plain[64];
    socket_address_text(s->family, s->local_addr, plain, sizeof plain);
    snprintf(buf, size, s->family == AF_INET6 ? "[%s]" : "%s", plain);
    return buf;
}

/* The first holder's process, or NULL when processes were not looked up / none was found. */
static const struct process_info *holder_of(const struct inspect_result *res, uint32_t i)
{
    if (!res->processes_looked_up || !res->holder_count || res->holder_count[i] == 0)
        return NULL;
    return inspect_process(res, res->holders[res->holder_start[i]].pid);
}

static const char *comm_of(const struct inspect_result *res, uint32_t i)
{
    const struct process_info *p = holder_of(res, i);
    return p ? p->comm : "";
}

/* "redis-server (pid 42, redis.service)" or "an unknown process". */
static const char *holder_text(const struct inspect_result *res, uint32_t i, char *buf, size_t size)
{
    const struct process_info *p = holder_of(res, i);
    if (!p) {
        snprintf(buf, size, "%s", res->processes_looked_up ? "a process portreg could not see"
                                                           : "an unknown process");
        return buf;
    }
    const char *where = p->cgroup.unit[0] ? p->cgroup.unit
                      : p->cgroup.container_id[0] ? p->cgroup.container_id : NULL;
    if (where)   /* at most 60 bytes of the unit, cut between characters and escapes */
        snprintf(buf, size, "%s (pid %u, %.*s)", p->comm, p->pid,
                 (int)text_escaped_prefix(where, strlen(where), 60), where);
    else
        snprintf(buf, size, "%s (pid %u)", p->comm, p->pid);
    return buf;
}

/* The registered name of a port, escaped (util/text_escape.h): registry files are text from
 * outside (a downloaded CSV). Valid until the next call. */
static const char *service_of(struct audit_context *c, uint16_t port, uint8_t proto)
{
    const char *name = c->opt && c->opt->service ? c->opt->service(c->opt->service_ctx, port, proto) : NULL;
    if (!name)
        return NULL;
    text_escape(name, strlen(name), c->service_text, sizeof c->service_text);
    return c->service_text;
}

__attribute__((format(printf, 3, 4)))
static void set_text(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    /* cut short: never in the middle of a character (the text must stay UTF-8 for JSON) */
    if (n >= 0 && (size_t)n >= size)
        dst[text_utf8_cut(dst, strlen(dst))] = '\0';
}

static struct audit_finding *add_finding(struct audit_context *c, enum audit_kind kind,
                                         enum audit_severity severity, uint8_t proto, uint16_t port)
{
    struct audit_report *r = c->out;
    if (r->count == r->capacity) {
        size_t capacity = r->capacity ? r->capacity * 2 : 16;
        struct audit_finding *items = realloc(r->items, capacity * sizeof *items);
        if (!items)
            return NULL;
        r->items = items;
        r->capacity = capacity;
    }
    struct audit_finding *f = &r->items[r->count++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->severity = severity;
    f->proto = proto;
    f->port = f->port_last = port;
    return f;
}

static void finding_add_socket(struct audit_finding *f, uint32_t i)
{
    if (f->socket_count < sizeof f->sockets / sizeof f->sockets[0])
        f->sockets[f->socket_count++] = i;
}

/* ---- the server-socket index ---- */

static int compare_servers(const void *a, const void *b, void *context)
{
    const struct inspect_result *res = context;
    const struct socket_entry *x = &res->sockets.items[*(const uint32_t *)a];
    const struct socket_entry *y = &res->sockets.items[*(const uint32_t *)b];
    if (x->proto != y->proto)
        return x->proto - y->proto;
    if (x->local_port != y->local_port)
        return x->local_port - y->local_port;
    if (x->family != y->family)
        return x->family - y->family;
    int m = memcmp(x->local_addr, y->local_addr, 16);
    if (m)
        return m;
    return (x->bound_ifindex > y->bound_ifindex) - (x->bound_ifindex < y->bound_ifindex);
}

static int build_server_index(struct audit_context *c)
{
    const struct socket_list *list = &c->res->sockets;
    c->servers = malloc((list->count ? list->count : 1) * sizeof *c->servers);
    if (!c->servers)
        return -ENOMEM;
    for (size_t i = 0; i < list->count; i++)
        if (is_server_socket(&list->items[i]))
            c->servers[c->server_count++] = (uint32_t)i;
    qsort_r(c->servers, c->server_count, sizeof *c->servers, compare_servers, (void *)c->res);
    return 0;
}

/* [*first, *end) of c->servers with the same proto and port as servers[start]. */
static size_t port_group_end(const struct audit_context *c, size_t start)
{
    const struct socket_entry *s = &c->res->sockets.items[c->servers[start]];
    size_t end = start + 1;
    while (end < c->server_count) {
        const struct socket_entry *t = &c->res->sockets.items[c->servers[end]];
        if (t->proto != s->proto || t->local_port != s->local_port)
            break;
        end++;
    }
    return end;
}

/* ---- rules ---- */

static int rule_ephemeral_listener(struct audit_context *c, size_t start, size_t end)
{
    const struct socket_entry *s = &c->res->sockets.items[c->servers[start]];
    const struct local_ports *lp = c->ports;
    if (!lp || !lp->have_ephemeral || !local_ports_is_ephemeral(lp, s->local_port) ||
        local_ports_is_reserved(lp, s->local_port))
        return 0;
    /* UDP: an unconnected socket on an ephemeral port is usually a client the kernel gave it */
    bool tcp = s->proto == REGISTRY_PROTO_TCP;
    struct audit_finding *f = add_finding(c, AUDIT_EPHEMERAL_LISTENER, tcp ? AUDIT_MEDIUM : AUDIT_INFO,
                                          s->proto, s->local_port);
    if (!f)
        return -ENOMEM;
    for (size_t k = start; k < end; k++)
        finding_add_socket(f, c->servers[k]);
    char who[160], addr[64];
    address_text(s, addr, sizeof addr);
    snprintf(f->address, sizeof f->address, "%s", addr);
    struct port_set with = lp->reserved;
    port_set_add(&with, s->local_port);
    char *list = reserved_ports_format(&with);
    set_text(f->title, sizeof f->title, "%s port %u is inside the ephemeral range and not reserved",
             registry_proto_name(s->proto), s->local_port);
    set_text(f->evidence, sizeof f->evidence,
             "%s %s %s:%u; net.ipv4.ip_local_port_range is %u-%u and "
             "net.ipv4.ip_local_reserved_ports does not hold %u, so any outgoing connection may "
             "take the port while the service is down and keep it from starting again%s",
             holder_text(c->res, c->servers[start], who, sizeof who), tcp ? "listens on" : "is bound to",
             addr, s->local_port, lp->ephemeral.first, lp->ephemeral.last, s->local_port,
             tcp ? "" : " (an unconnected UDP socket on an ephemeral port is often a client)");
    set_text(f->fix, sizeof f->fix,
             "reserve it: sysctl -w net.ipv4.ip_local_reserved_ports=%s and the same line in "
             "/etc/sysctl.d/ (portreg suggest --reserve --persist does both), or move the service "
             "below %u (portreg suggest NAME)",
             list ? list : "?", lp->ephemeral.first);
    free(list);
    return 0;
}

static int rule_internal_exposed(struct audit_context *c, size_t start, size_t end)
{
    for (size_t k = start; k < end; k++) {
        uint32_t i = c->servers[k];
        const struct socket_entry *s = &c->res->sockets.items[i];
        if (!is_wildcard(s) || s->bound_ifindex)
            continue;
        const char *service = service_of(c, s->local_port, s->proto);
        const struct internal_service *kind = internal_service_of(service, comm_of(c->res, i));
        if (!kind)
            continue;
        struct audit_finding *f = add_finding(c, AUDIT_INTERNAL_EXPOSED, kind->severity, s->proto,
                                              s->local_port);
        if (!f)
            return -ENOMEM;
        finding_add_socket(f, i);
        char who[160], addr[64];
        address_text(s, addr, sizeof addr);
        snprintf(f->address, sizeof f->address, "%s", addr);
        const char *scope = s->family == AF_INET ? "every IPv4 address"
                          : s->v6only ? "every IPv6 address" : "every IPv4 and IPv6 address";
        set_text(f->title, sizeof f->title, "%s listens on %s (%s:%u)", kind->label, scope, addr,
                 s->local_port);
        set_text(f->evidence, sizeof f->evidence, "%s holds %s %s:%u%s%s%s; %s is meant for "
                 "internal clients, and a wildcard bind answers on every interface",
                 holder_text(c->res, i, who, sizeof who), registry_proto_name(s->proto), addr,
                 s->local_port, service ? " (IANA: " : "", service ? service : "", service ? ")" : "",
                 kind->label);
        set_text(f->fix, sizeof f->fix, "bind it to loopback or an internal address (%s), or let "
                 "only internal sources reach %u in the firewall", kind->how, s->local_port);
    }
    return 0;
}

static bool same_binding(const struct socket_entry *a, const struct socket_entry *b)
{
    return a->family == b->family && memcmp(a->local_addr, b->local_addr, 16) == 0 &&
           a->bound_ifindex == b->bound_ifindex;
}

static int rule_reuseport_mixed(struct audit_context *c, size_t start, size_t end)
{
    const struct socket_entry *items = c->res->sockets.items;
    for (size_t k = start; k < end;) {
        /* sockets with the same address and device in a row (the index sorts them together) */
        size_t same = k + 1;
        while (same < end && same_binding(&items[c->servers[same]], &items[c->servers[k]]))
            same++;
        bool mixed = false;
        const char *first = comm_of(c->res, c->servers[k]);
        for (size_t m = k + 1; m < same; m++) {
            const char *other = comm_of(c->res, c->servers[m]);
            if (first[0] && other[0] && strcmp(first, other) != 0)
                mixed = true;
        }
        if (mixed) {
            const struct socket_entry *s = &items[c->servers[k]];
            struct audit_finding *f = add_finding(c, AUDIT_REUSEPORT_MIXED, AUDIT_HIGH, s->proto,
                                                  s->local_port);
            if (!f)
                return -ENOMEM;
            char addr[64], programs[256] = "", who[160];
            address_text(s, addr, sizeof addr);
            snprintf(f->address, sizeof f->address, "%s", addr);
            for (size_t m = k; m < same; m++) {
                finding_add_socket(f, c->servers[m]);
                size_t used = strlen(programs);
                snprintf(programs + used, sizeof programs - used, "%s%s", used ? ", " : "",
                         holder_text(c->res, c->servers[m], who, sizeof who));
            }
            set_text(f->title, sizeof f->title, "%s %s:%u is shared by different programs",
                     registry_proto_name(s->proto), addr, s->local_port);
            set_text(f->evidence, sizeof f->evidence, "%zu sockets are bound to the same address "
                     "and port (SO_REUSEPORT%s): %s; the kernel spreads %s between them",
                     same - k, s->proto == REGISTRY_PROTO_UDP ? " or SO_REUSEADDR" : "", programs,
                     s->proto == REGISTRY_PROTO_TCP ? "connections" : "datagrams");
            set_text(f->fix, sizeof f->fix, "stop the program that should not be there (often an "
                     "old instance left running after a restart, or a second service configured "
                     "with the same port), or give each its own port");
        }
        k = same;
    }
    return 0;
}

/* IPv4 clients and IPv6 clients of one port reach different programs. */
static int rule_dual_stack_split(struct audit_context *c, size_t start, size_t end)
{
    const struct socket_entry *items = c->res->sockets.items;
    for (size_t a = start; a < end; a++) {
        const struct socket_entry *v4 = &items[c->servers[a]];
        if (v4->family != AF_INET)
            continue;
        for (size_t b = start; b < end; b++) {
            const struct socket_entry *v6 = &items[c->servers[b]];
            if (v6->family != AF_INET6)
                continue;
            /* the pairs a client mixes up: both wildcards, or 127.0.0.1 and ::1 ("localhost") */
            bool wild = is_wildcard(v4) && is_wildcard(v6);
            bool local = is_loopback_address(v4, true) && is_loopback_address(v6, true);
            if (!wild && !local)
                continue;
            const char *p4 = comm_of(c->res, c->servers[a]), *p6 = comm_of(c->res, c->servers[b]);
            if (!p4[0] || !p6[0] || strcmp(p4, p6) == 0)
                continue;
            struct audit_finding *f = add_finding(c, AUDIT_DUAL_STACK_SPLIT, AUDIT_MEDIUM, v4->proto,
                                                  v4->local_port);
            if (!f)
                return -ENOMEM;
            finding_add_socket(f, c->servers[a]);
            finding_add_socket(f, c->servers[b]);
            char w4[160], w6[160], a4[64], a6[64];
            address_text(v4, a4, sizeof a4);
            address_text(v6, a6, sizeof a6);
            snprintf(f->address, sizeof f->address, "%s", wild ? "*" : "localhost");
            set_text(f->title, sizeof f->title, "IPv4 and IPv6 clients of %s port %u reach different "
                     "programs", registry_proto_name(v4->proto), v4->local_port);
            set_text(f->evidence, sizeof f->evidence, "%s:%u is held by %s, %s:%u by %s%s",
                     a4, v4->local_port, holder_text(c->res, c->servers[a], w4, sizeof w4), a6,
                     v6->local_port, holder_text(c->res, c->servers[b], w6, sizeof w6),
                     local ? "; \"localhost\" resolves to both, so the program a client reaches "
                             "depends on which address it tries first" : "");
            set_text(f->fix, sizeof f->fix, "run one program on both families (one [::] socket "
                     "without IPV6_V6ONLY, or two sockets in the same program), or move one of "
                     "them to another port");
        }
    }
    return 0;
}

/* TCP listener on 127.0.0.1 but not ::1 (or the reverse): clients of "localhost" that try the
 * other family first are refused. */
static int rule_loopback_one_family(struct audit_context *c, size_t start, size_t end)
{
    const struct socket_entry *items = c->res->sockets.items;
    if (items[c->servers[start]].proto != REGISTRY_PROTO_TCP)
        return 0;
    ssize_t only4 = -1, only6 = -1;
    bool reach4 = false, reach6 = false;
    for (size_t k = start; k < end; k++) {
        const struct socket_entry *s = &items[c->servers[k]];
        if (s->bound_ifindex)
            continue;
        if (s->family == AF_INET) {
            if (is_wildcard(s))
                reach4 = true;
            else if (is_loopback_address(s, true))
                reach4 = true, only4 = (ssize_t)k;
        } else {
            if (is_wildcard(s)) {
                reach6 = true;
                if (!s->v6only)
                    reach4 = true;
            } else if (is_loopback_address(s, true)) {
                reach6 = true, only6 = (ssize_t)k;
            }
        }
    }
    ssize_t k = reach4 && !reach6 ? only4 : reach6 && !reach4 ? only6 : -1;
    if (k < 0)
        return 0;
    const struct socket_entry *s = &items[c->servers[k]];
    struct audit_finding *f = add_finding(c, AUDIT_LOOPBACK_ONE_FAMILY, AUDIT_INFO, s->proto, s->local_port);
    if (!f)
        return -ENOMEM;
    finding_add_socket(f, c->servers[k]);
    char who[160], addr[64];
    address_text(s, addr, sizeof addr);
    snprintf(f->address, sizeof f->address, "%s", addr);
    const char *other = s->family == AF_INET ? "[::1]" : "127.0.0.1";
    set_text(f->title, sizeof f->title, "localhost:%u answers only on %s", s->local_port, addr);
    set_text(f->evidence, sizeof f->evidence, "%s listens on %s:%u and nothing on %s:%u; "
             "\"localhost\" resolves to both, and a client that tries %s first is refused "
             "(some never fall back)", holder_text(c->res, c->servers[k], who, sizeof who), addr,
             s->local_port, other, s->local_port, other);
    set_text(f->fix, sizeof f->fix, "also listen on %s, or have clients connect to %s "
             "instead of localhost", other, addr);
    return 0;
}

static int rule_registry_mismatch(struct audit_context *c, size_t start, size_t end)
{
    const struct socket_entry *s = &c->res->sockets.items[c->servers[start]];
    /* a real signal only on system ports, for a protocol that is not served by any program */
    if (s->local_port >= 1024)
        return 0;
    const char *service = service_of(c, s->local_port, s->proto);
    if (!service || service_is_generic(service))
        return 0;
    for (size_t k = start; k < end; k++) {
        uint32_t i = c->servers[k];
        const char *comm = comm_of(c->res, i);
        if (!comm[0] || service_matches_command(service, comm))
            continue;
        struct audit_finding *f = add_finding(c, AUDIT_REGISTRY_MISMATCH, AUDIT_LOW, s->proto,
                                              s->local_port);
        if (!f)
            return -ENOMEM;
        finding_add_socket(f, i);
        char who[160], addr[64];
        address_text(&c->res->sockets.items[i], addr, sizeof addr);
        snprintf(f->address, sizeof f->address, "%s", addr);
        set_text(f->title, sizeof f->title, "%s port %u is registered to %s but held by %s",
                 registry_proto_name(s->proto), s->local_port, service, comm);
        set_text(f->evidence, sizeof f->evidence, "IANA assigns %u/%s to %s; %s holds %s:%u, and "
                 "clients and scanners that expect %s will talk to it", s->local_port,
                 registry_proto_name(s->proto), service, holder_text(c->res, i, who, sizeof who),
                 addr, s->local_port, service);
        set_text(f->fix, sizeof f->fix, "if this is intended, document it in the port plan; "
                 "otherwise move the program to an unassigned port (portreg suggest NAME)");
        break;   /* one finding per port */
    }
    return 0;
}

static int rule_time_wait_piles(struct audit_context *c)
{
    uint32_t threshold = c->opt && c->opt->time_wait_threshold ? c->opt->time_wait_threshold : 1000;
    uint32_t *counts = calloc(65536, sizeof *counts);
    if (!counts)
        return -ENOMEM;
    const struct socket_list *list = &c->res->sockets;
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].proto == REGISTRY_PROTO_TCP && list->items[i].state == SOCKET_STATE_TIME_WAIT)
            counts[list->items[i].local_port]++;
    int rc = 0;
    for (size_t k = 0; k < c->server_count; k++) {
        const struct socket_entry *s = &list->items[c->servers[k]];
        if (s->proto != REGISTRY_PROTO_TCP || counts[s->local_port] < threshold)
            continue;
        uint32_t n = counts[s->local_port];
        counts[s->local_port] = 0;   /* one finding per port */
        struct audit_finding *f = add_finding(c, AUDIT_TIME_WAIT_PILE, AUDIT_MEDIUM, s->proto, s->local_port);
        if (!f) {
            rc = -ENOMEM;
            break;
        }
        finding_add_socket(f, c->servers[k]);
        char who[160];
        set_text(f->title, sizeof f->title, "%u connection%s in TIME_WAIT on server port %u", n,
                 n == 1 ? "" : "s", s->local_port);
        set_text(f->evidence, sizeof f->evidence, "%s serves port %u and closed %u connection%s "
                 "first, each kept in TIME_WAIT for 60 s (threshold %u); they cost memory and, with "
                 "many clients behind one address, new SYNs that reuse a 4-tuple can be refused",
                 holder_text(c->res, c->servers[k], who, sizeof who), s->local_port, n,
                 n == 1 ? "" : "s", threshold);
        set_text(f->fix, sizeof f->fix, "let clients close first or keep connections open "
                 "(HTTP keep-alive, connection pools); net.ipv4.tcp_tw_reuse only helps outgoing "
                 "connections");
    }
    free(counts);
    return rc;
}

static int rule_reserved_unused(struct audit_context *c)
{
    const struct local_ports *lp = c->ports;
    if (!lp || !lp->have_reserved)
        return 0;
    struct port_set used;
    port_set_clear(&used);
    for (size_t k = 0; k < c->server_count; k++)
        port_set_add(&used, c->res->sockets.items[c->servers[k]].local_port);
    for (uint32_t p = 0; p < 65536; p++) {
        if (!port_set_has(&lp->reserved, (uint16_t)p) || port_set_has(&used, (uint16_t)p))
            continue;
        uint32_t last = p;
        while (last + 1 < 65536 && port_set_has(&lp->reserved, (uint16_t)(last + 1)) &&
               !port_set_has(&used, (uint16_t)(last + 1)))
            last++;
        struct audit_finding *f = add_finding(c, AUDIT_RESERVED_UNUSED, AUDIT_LOW, 0, (uint16_t)p);
        if (!f)
            return -ENOMEM;
        f->port_last = (uint16_t)last;
        struct port_set without = lp->reserved;
        for (uint32_t q = p; q <= last; q++)
            without.bits[q >> 6] &= ~(UINT64_C(1) << (q & 63));
        char *list = reserved_ports_format(&without);
        char ports[32];
        if (last > p)
            snprintf(ports, sizeof ports, "ports %u-%u are", p, last);
        else
            snprintf(ports, sizeof ports, "port %u is", p);
        set_text(f->title, sizeof f->title, "reserved %s not used by any listener", ports);
        set_text(f->evidence, sizeof f->evidence, "net.ipv4.ip_local_reserved_ports keeps %s out "
                 "of the ephemeral pool, but no TCP listener or bound UDP socket uses %s in this "
                 "network namespace: the service is down or gone", ports[0] == 'p' && last > p ?
                 "them" : "it", last > p ? "them" : "it");
        set_text(f->fix, sizeof f->fix, "start the service, or if it is gone release the "
                 "reservation: sysctl -w net.ipv4.ip_local_reserved_ports=%s (and remove it from "
                 "/etc/sysctl.d/)", list && list[0] ? list : "\"\"");
        free(list);
        p = last;
    }
    return 0;
}

/* ---- the report ---- */

static int compare_findings(const void *a, const void *b)
{
    const struct audit_finding *x = a, *y = b;
    if (x->severity != y->severity)
        return (int)y->severity - (int)x->severity;
    if (x->port != y->port)
        return x->port - y->port;
    if (x->kind != y->kind)
        return (int)x->kind - (int)y->kind;
    return x->proto - y->proto;
}

int audit_run(const struct inspect_result *res, const struct local_ports *ports,
              const struct audit_options *opt, struct audit_report *out, struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    struct audit_context c = { .res = res, .ports = ports, .opt = opt, .out = out };
    int rc = build_server_index(&c);
    for (size_t start = 0; rc == 0 && start < c.server_count;) {
        size_t end = port_group_end(&c, start);
        rc = rule_ephemeral_listener(&c, start, end);
        if (rc == 0)
            rc = rule_internal_exposed(&c, start, end);
        if (rc == 0)
            rc = rule_reuseport_mixed(&c, start, end);
        if (rc == 0)
            rc = rule_dual_stack_split(&c, start, end);
        if (rc == 0)
            rc = rule_loopback_one_family(&c, start, end);
        if (rc == 0)
            rc = rule_registry_mismatch(&c, start, end);
        start = end;
    }
    if (rc == 0)
        rc = rule_time_wait_piles(&c);
    if (rc == 0)
        rc = rule_reserved_unused(&c);
    out->sockets_examined = res->sockets.count;
    out->listeners_examined = c.server_count;
    free(c.servers);
    if (rc < 0) {
        audit_report_free(out);
        return pr_error_set(err, rc, "audit: out of memory");
    }
    if (out->count)   /* qsort(NULL, 0) is undefined behaviour */
        qsort(out->items, out->count, sizeof *out->items, compare_findings);
    for (size_t i = 0; i < out->count; i++)
        out->by_severity[out->items[i].severity]++;
    return 0;
}

void audit_report_free(struct audit_report *report)
{
    free(report->items);
    memset(report, 0, sizeof *report);
}
