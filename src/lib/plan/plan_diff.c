/* plan_diff.c — drift between the plan and live sockets or a scan (plan_diff.h). For each
 * declared port of a host: which sockets / open ports match it, and whether their addresses are
 * ones the declared bind allows (any: the wildcard; loopback: 127/8 and ::1; a named or literal
 * address: exactly those). What matched nothing declared is undeclared. The scanner's JSON is
 * read with jansson and every bad value is reported with its field path. */
#include "plan/plan_diff.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "registry/record.h"
#include "scan/scan_result.h"
#include "util/portspec.h"

/* ---- the drift list ---- */

struct drift_fields {
    enum plan_drift_kind kind;
    size_t host_index;
    const char *host;
    const char *service;
    uint8_t proto;
    uint16_t port;
    const char *address;
    const char *declared;
    uint32_t pid;
    const char *process;
    const struct plan_pos *pos;
};

static const char *copy_or_null(struct arena *arena, const char *text, bool *failed)
{
    if (!text)
        return NULL;
    const char *copy = arena_strdup(arena, text);
    *failed |= copy == NULL;
    return copy;
}

__attribute__((format(printf, 3, 4)))
static int drift_add(struct plan_drift *d, const struct drift_fields *f, const char *fmt, ...)
{
    if (d->count == d->capacity) {
        size_t capacity = d->capacity ? d->capacity * 2 : 16;
        struct plan_drift_item *items = realloc(d->items, capacity * sizeof *items);
        if (!items)
            return -ENOMEM;
        d->items = items;
        d->capacity = capacity;
    }
    char explanation[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(explanation, sizeof explanation, fmt, ap);
    va_end(ap);
    bool failed = false;
    struct plan_drift_item item = {
        .kind = f->kind,
        .host_index = f->host ? f->host_index : SIZE_MAX,
        .host = copy_or_null(&d->arena, f->host, &failed),
        .service = copy_or_null(&d->arena, f->service, &failed),
        .proto = f->proto,
        .port = f->port,
        .address = copy_or_null(&d->arena, f->address ? f->address : "", &failed),
        .declared = copy_or_null(&d->arena, f->declared, &failed),
        .pid = f->pid,
        .process = copy_or_null(&d->arena, f->process, &failed),
        .explanation = copy_or_null(&d->arena, explanation, &failed),
    };
    if (f->pos) {
        item.pos = *f->pos;
        item.pos.file = copy_or_null(&d->arena, f->pos->file, &failed);
    }
    if (failed)
        return -ENOMEM;
    d->items[d->count++] = item;
    d->counts[f->kind]++;
    return 0;
}

static int drift_item_compare(const void *a, const void *b)
{
    const struct plan_drift_item *x = a, *y = b;
    if (x->host_index != y->host_index)
        return x->host_index < y->host_index ? -1 : 1;
    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    if (x->proto != y->proto)
        return x->proto < y->proto ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    int c = strcmp(x->address, y->address);
    if (c)
        return c;
    /* two services declaring one port: plan order is lost in qsort, names keep it stable */
    return strcmp(x->service ? x->service : "", y->service ? y->service : "");
}

static void drift_sort(struct plan_drift *d)
{
    if (d->count > 1)
        qsort(d->items, d->count, sizeof d->items[0], drift_item_compare);
}

void plan_drift_free(struct plan_drift *drift)
{
    free(drift->items);
    arena_free(&drift->arena);
    memset(drift, 0, sizeof *drift);
}

bool plan_drift_any(const struct plan_drift *drift)
{
    return drift->counts[PLAN_DRIFT_ABSENT] || drift->counts[PLAN_DRIFT_WRONG_ADDRESS] ||
           drift->counts[PLAN_DRIFT_UNDECLARED];
}

const char *plan_drift_kind_name(enum plan_drift_kind kind)
{
    switch (kind) {
    case PLAN_DRIFT_PRESENT: return "present";
    case PLAN_DRIFT_ABSENT: return "absent";
    case PLAN_DRIFT_WRONG_ADDRESS: return "wrong-address";
    case PLAN_DRIFT_UNDECLARED: return "undeclared";
    case PLAN_DRIFT_NOT_VISIBLE: return "not-visible";
    case PLAN_DRIFT_UNKNOWN: return "unknown";
    }
    return "?";
}

static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *plan_drift_json(const struct plan_drift *drift)
{
    json_t *doc = json_object();
    json_t *counts = json_object();
    json_t *items = json_array();
    if (!doc || !counts || !items) {
        json_decref(doc);
        json_decref(counts);
        json_decref(items);
        return NULL;
    }
    json_object_set_new(doc, "drift", json_boolean(plan_drift_any(drift)));
    for (int k = 0; k < PLAN_DRIFT_KIND_COUNT; k++)
        json_object_set_new(counts, plan_drift_kind_name((enum plan_drift_kind)k),
                            json_integer((json_int_t)drift->counts[k]));
    json_object_set_new(doc, "counts", counts);
    for (size_t i = 0; i < drift->count; i++) {
        const struct plan_drift_item *it = &drift->items[i];
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string(plan_drift_kind_name(it->kind)));
        json_object_set_new(o, "host", string_or_null(it->host));
        json_object_set_new(o, "service", string_or_null(it->service));
        json_object_set_new(o, "port", json_integer(it->port));
        json_object_set_new(o, "proto", json_string(plan_proto_name(it->proto)));
        json_object_set_new(o, "address", it->address[0] ? json_string(it->address) : json_null());
        json_object_set_new(o, "declared", string_or_null(it->declared));
        json_object_set_new(o, "pid", it->pid ? json_integer(it->pid) : json_null());
        json_object_set_new(o, "process", string_or_null(it->process));
        json_object_set_new(o, "explanation", json_string(it->explanation));
        json_object_set_new(o, "file", string_or_null(it->pos.file));
        json_object_set_new(o, "line", it->pos.line ? json_integer(it->pos.line) : json_null());
        json_object_set_new(o, "column", it->pos.line ? json_integer(it->pos.column) : json_null());
        json_array_append_new(items, o);
    }
    json_object_set_new(doc, "items", items);
    return doc;
}

/* ---- addresses and binds ---- */

struct addr {
    uint8_t family;
    uint8_t bytes[16];
};

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* ::ffff:a.b.c.d is the IPv4 address a.b.c.d. */
static struct addr addr_normal(uint8_t family, const uint8_t bytes[16])
{
    struct addr a = { .family = family };
    if (family == AF_INET6 && memcmp(bytes, v4_mapped_prefix, 12) == 0) {
        a.family = AF_INET;
        memcpy(a.bytes, bytes + 12, 4);
    } else {
        memcpy(a.bytes, bytes, family == AF_INET ? 4 : 16);
    }
    return a;
}

static bool addr_equal(const struct addr *a, uint8_t family, const uint8_t bytes[16])
{
    struct addr b = addr_normal(family, bytes);
    return a->family == b.family && memcmp(a->bytes, b.bytes, a->family == AF_INET ? 4 : 16) == 0;
}

static bool addr_is_any(const struct addr *a)
{
    static const uint8_t zero[16];
    return memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

static bool addr_is_loopback(const struct addr *a)
{
    static const uint8_t v6_loopback[16] = { [15] = 1 };
    return a->family == AF_INET ? a->bytes[0] == 127 : memcmp(a->bytes, v6_loopback, 16) == 0;
}

static const char *addr_text(const struct addr *a, char *buf, size_t size)
{
    if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->bytes, buf, (socklen_t)size))
        snprintf(buf, size, "?");
    return buf;
}

/* An address as explanations show it, the way `portreg ls` and `who` do: IPv6 in brackets
 * ("[::]", "[fd00::10]"), IPv4 as it is. JSON fields keep the bare address. */
static const char *address_shown(const char *text, char *buf, size_t size)
{
    snprintf(buf, size, strchr(text, ':') ? "[%s]" : "%s", text);
    return buf;
}

static const char *addr_shown(const struct addr *a, char *buf, size_t size)
{
    char text[INET6_ADDRSTRLEN];
    return address_shown(addr_text(a, text, sizeof text), buf, size);
}

/* The address as the explanation says it: "0.0.0.0 (every address)", "[::1] (loopback)". */
static const char *addr_described(const struct addr *a, char *buf, size_t size)
{
    char text[INET6_ADDRSTRLEN + 2];
    addr_shown(a, text, sizeof text);
    snprintf(buf, size, "%s%s", text,
             addr_is_any(a) ? " (every address)" : addr_is_loopback(a) ? " (loopback)" : "");
    return buf;
}

/* Whether the declared bind of a service on host allows a socket on address a. */
static bool bind_allows(const struct plan_service *s, const struct plan_host *host,
                        const struct addr *a)
{
    switch (s->bind.kind) {
    case PLAN_BIND_ANY: return addr_is_any(a);
    case PLAN_BIND_LOOPBACK: return addr_is_loopback(a);
    case PLAN_BIND_NAMED:
        for (size_t i = 0; i < host->address_count; i++) {
            const struct plan_named_address *n = &host->addresses[i];
            if (n->name && s->bind.name && strcmp(n->name, s->bind.name) == 0 &&
                addr_equal(a, n->family, n->bytes))
                return true;
        }
        return false;
    case PLAN_BIND_ADDRESS: return addr_equal(a, s->bind.family, s->bind.bytes);
    }
    return false;
}

/* "any", "loopback", "internal (10.0.0.10, [fd00::10])", "10.0.0.5", "[fd00::5]". */
static const char *bind_described(const struct plan_service *s, const struct plan_host *host,
                                  char *buf, size_t size)
{
    plan_bind_format(&s->bind, buf, size);
    if (s->bind.kind == PLAN_BIND_ADDRESS) {
        char text[INET6_ADDRSTRLEN + 2];
        snprintf(text, sizeof text, "%s", buf);
        return address_shown(text, buf, size);
    }
    if (s->bind.kind != PLAN_BIND_NAMED)
        return buf;
    size_t used = strlen(buf);
    bool first = true;
    for (size_t i = 0; i < host->address_count && used + 4 < size; i++) {
        const struct plan_named_address *n = &host->addresses[i];
        if (!n->name || !s->bind.name || strcmp(n->name, s->bind.name) != 0)
            continue;
        char text[INET6_ADDRSTRLEN + 2];
        struct addr a = addr_normal(n->family, n->bytes);
        int w = snprintf(buf + used, size - used, "%s%s", first ? " (" : ", ",
                         addr_shown(&a, text, sizeof text));
        used += w > 0 ? (size_t)w : 0;
        first = false;
    }
    if (!first && used + 1 < size)
        snprintf(buf + used, size - used, ")");
    return buf;
}

static struct plan_pos port_pos(const struct plan_port *p)
{
    return p->pos;
}

static bool port_unresolved(const struct plan_port *p)
{
    return p->automatic && p->port == 0;
}

/* Whether a service of host declares port/proto (resolved). */
static bool host_declares(const struct plan *plan, const struct plan_host *host, uint16_t port,
                          uint8_t proto)
{
    for (size_t i = 0; i < plan->service_count; i++) {
        const struct plan_service *s = &plan->services[i];
        if (!plan_service_on_host(plan, s, host))
            continue;
        for (size_t j = 0; j < s->port_count; j++)
            if (s->ports[j].port == port && s->ports[j].proto == proto && !port_unresolved(&s->ports[j]))
                return true;
    }
    return false;
}

static int unresolved_item(struct plan_drift *out, size_t hi, const struct plan_host *host,
                           const struct plan_service *s, const struct plan_port *p,
                           const char *declared)
{
    struct plan_pos pos = port_pos(p);
    struct drift_fields f = { .kind = PLAN_DRIFT_UNKNOWN, .host_index = hi, .host = host->name,
                              .service = s->name, .proto = p->proto, .declared = declared,
                              .pos = &pos };
    return drift_add(out, &f, "port auto/%s has no number yet: run `portreg plan check` to "
                     "choose it", plan_proto_name(p->proto));
}

/* ---- live ---- */

struct live_view {
    const struct inspect_result *res;
    bool *counted;               /* per socket: a TCP listener / unconnected UDP socket of the
                                  * namespace looked at */
    bool *used;                  /* per socket: matched a declared port */
};

static bool live_socket_counts(const struct inspect_result *res, const struct socket_entry *s)
{
    if (res->netns_count > 0 && s->netns != res->netns[0].inode)
        return false;
    return (s->proto == REGISTRY_PROTO_TCP && s->state == SOCKET_STATE_LISTEN) ||
           (s->proto == REGISTRY_PROTO_UDP && s->state == SOCKET_STATE_CLOSE);
}

/* The first holder of socket i: its pid and comm (NULL when processes were not looked up). */
static const struct process_info *live_holder(const struct inspect_result *res, size_t i,
                                              uint32_t *pid)
{
    *pid = 0;
    if (!res->processes_looked_up || !res->holder_count || !res->holder_count[i])
        return NULL;
    *pid = res->holders[res->holder_start[i]].pid;
    return inspect_process(res, *pid);
}

/* " by nginx (pid 812)", "" when unknown. */
static const char *holder_text(const struct process_info *proc, uint32_t pid, char *buf,
                               size_t size)
{
    if (proc)
        snprintf(buf, size, " by %s (pid %u)", proc->comm, pid);
    else if (pid)
        snprintf(buf, size, " by pid %u", pid);
    else
        buf[0] = '\0';
    return buf;
}

static int live_declared_port(struct plan_drift *out, struct live_view *v, size_t hi,
                              const struct plan_host *host, const struct plan_service *s,
                              const struct plan_port *p)
{
    char declared[256];
    bind_described(s, host, declared, sizeof declared);
    if (port_unresolved(p))
        return unresolved_item(out, hi, host, s, p, declared);
    const struct socket_list *list = &v->res->sockets;
    size_t allowed = SIZE_MAX, disallowed = SIZE_MAX;
    for (size_t i = 0; i < list->count; i++) {
        const struct socket_entry *e = &list->items[i];
        if (!v->counted[i] || e->proto != p->proto || e->local_port != p->port)
            continue;
        v->used[i] = true;
        struct addr a = addr_normal(e->family, e->local_addr);
        if (bind_allows(s, host, &a)) {
            if (allowed == SIZE_MAX)
                allowed = i;
        } else if (disallowed == SIZE_MAX) {
            disallowed = i;
        }
    }
    struct plan_pos pos = port_pos(p);
    struct drift_fields f = { .host_index = hi, .host = host->name, .service = s->name,
                              .proto = p->proto, .port = p->port, .declared = declared,
                              .pos = &pos };
    const char *proto = plan_proto_name(p->proto);
    if (allowed == SIZE_MAX && disallowed == SIZE_MAX) {
        f.kind = PLAN_DRIFT_ABSENT;
        return drift_add(out, &f, p->proto == REGISTRY_PROTO_TCP
                                      ? "nothing listens on %u/%s"
                                      : "no socket is bound to %u/%s", p->port, proto);
    }
    size_t shown = disallowed != SIZE_MAX ? disallowed : allowed;
    const struct socket_entry *e = &list->items[shown];
    struct addr a = addr_normal(e->family, e->local_addr);
    char address[INET6_ADDRSTRLEN], described[INET6_ADDRSTRLEN + 26], by[128];
    const struct process_info *proc = live_holder(v->res, shown, &f.pid);
    f.process = proc ? proc->comm : NULL;
    f.address = addr_text(&a, address, sizeof address);
    holder_text(proc, f.pid, by, sizeof by);
    addr_described(&a, described, sizeof described);
    if (disallowed == SIZE_MAX) {
        f.kind = PLAN_DRIFT_PRESENT;
        return drift_add(out, &f, "held on %s%s, as declared (bind %s)", described, by, declared);
    }
    f.kind = PLAN_DRIFT_WRONG_ADDRESS;
    const char *consequence = "";
    if (s->bind.kind == PLAN_BIND_ANY && addr_is_loopback(&a))
        consequence = ": other hosts cannot reach it";
    else if (s->bind.kind != PLAN_BIND_ANY && addr_is_any(&a))
        consequence = ": reachable on every address of the host";
    else if (s->bind.kind == PLAN_BIND_LOOPBACK)
        consequence = ": reachable from other hosts";
    return drift_add(out, &f, "declared bind %s, but held on %s%s%s", declared, described, by,
                     consequence);
}

/* Whether the ", "-separated list holds exactly text. */
static bool list_has(const char *list, const char *text)
{
    size_t n = strlen(text);
    for (const char *p = list; (p = strstr(p, text)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ','))
            return true;
    return false;
}

/* Sockets that matched no declared port, one item per port/protocol (IPv4 and IPv6 sockets
 * and SO_REUSEPORT groups of one port together). */
static int live_undeclared(struct plan_drift *out, struct live_view *v, size_t hi,
                           const struct plan_host *host, const struct plan_diff_options *opt)
{
    const struct socket_list *list = &v->res->sockets;
    for (size_t i = 0; i < list->count; i++) {
        if (!v->counted[i] || v->used[i])
            continue;
        const struct socket_entry *e = &list->items[i];
        char addresses[256] = "";
        size_t used = 0;
        bool all_loopback = true;
        for (size_t k = i; k < list->count; k++) {
            const struct socket_entry *o = &list->items[k];
            if (!v->counted[k] || v->used[k] || o->proto != e->proto || o->local_port != e->local_port)
                continue;
            v->used[k] = true;
            struct addr a = addr_normal(o->family, o->local_addr);
            all_loopback &= addr_is_loopback(&a);
            char text[INET6_ADDRSTRLEN + 2];
            addr_shown(&a, text, sizeof text);
            if (!list_has(addresses, text) && used + strlen(text) + 3 < sizeof addresses)
                used += (size_t)snprintf(addresses + used, sizeof addresses - used, "%s%s",
                                         used ? ", " : "", text);
        }
        if (all_loopback && opt->ignore_loopback_undeclared)
            continue;
        struct addr a = addr_normal(e->family, e->local_addr);
        char address[INET6_ADDRSTRLEN], by[128];
        struct drift_fields f = { .kind = PLAN_DRIFT_UNDECLARED, .host_index = hi,
                                  .host = host->name, .proto = e->proto, .port = e->local_port,
                                  .address = addr_text(&a, address, sizeof address) };
        const struct process_info *proc = live_holder(v->res, i, &f.pid);
        f.process = proc ? proc->comm : NULL;
        holder_text(proc, f.pid, by, sizeof by);
        int rc = drift_add(out, &f, "held on %s%s; no service of %s declares %u/%s", addresses,
                           by, host->name, e->local_port, plan_proto_name(e->proto));
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int plan_hosts_text(const struct plan *plan, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < plan->host_count && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", plan->hosts[i].name);
        used += n > 0 ? (size_t)n : 0;
    }
    return 0;
}

int plan_diff_live(const struct plan *plan, const struct inspect_result *live,
                   const struct plan_diff_options *opt, struct plan_drift *out,
                   struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    if (!opt || !opt->host)
        return pr_error_set(err, -EINVAL, "which plan host is this machine? (no host given)");
    const struct plan_host *host = plan_find_host(plan, opt->host);
    if (!host) {
        char names[400];
        plan_hosts_text(plan, names, sizeof names);
        return pr_error_set(err, -ENOENT, "host '%s' is not in the plan (its hosts: %s)",
                            opt->host, names[0] ? names : "none");
    }
    size_t hi = (size_t)(host - plan->hosts);
    size_t n = live->sockets.count;
    struct live_view v = { .res = live, .counted = calloc(n ? n : 1, sizeof(bool)),
                           .used = calloc(n ? n : 1, sizeof(bool)) };
    int rc = 0;
    if (!v.counted || !v.used) {
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        v.counted[i] = live_socket_counts(live, &live->sockets.items[i]);
    for (size_t i = 0; i < plan->service_count && rc == 0; i++) {
        const struct plan_service *s = &plan->services[i];
        if (!plan_service_on_host(plan, s, host))
            continue;
        for (size_t j = 0; j < s->port_count && rc == 0; j++)
            rc = live_declared_port(out, &v, hi, host, s, &s->ports[j]);
    }
    if (rc == 0)
        rc = live_undeclared(out, &v, hi, host, opt);
    if (rc == 0)
        drift_sort(out);
done:
    free(v.counted);
    free(v.used);
    return rc < 0 ? pr_error_set(err, rc, "out of memory") : 0;
}

/* ---- the scanner's JSON ---- */

/* An error in the scan document, named by its field path: -EINVAL. */
#define field_error(err, ...) pr_error_set((err), -EINVAL, __VA_ARGS__)

static int parse_state(const char *name)
{
    for (int s = 0; s < SCAN_STATE_COUNT; s++)
        if (strcmp(scan_state_name((enum scan_state)s), name) == 0)
            return s;
    return -1;
}

static int parse_proto(const char *name)
{
    int proto = registry_proto_parse(name, strlen(name));
    return proto == REGISTRY_PROTO_TCP || proto == REGISTRY_PROTO_UDP ? proto : -1;
}

static int parse_port_entry(json_t *o, size_t h, size_t k, struct plan_scan_port *out,
                            struct pr_error *err)
{
    if (!json_is_object(o))
        return field_error(err, "hosts[%zu].ports[%zu]: expected an object", h, k);
    json_t *port = json_object_get(o, "port");
    if (!json_is_integer(port))
        return field_error(err, "hosts[%zu].ports[%zu].port: %s", h, k,
                           port ? "expected an integer" : "missing");
    json_int_t value = json_integer_value(port);
    if (value < 0 || value > 65535)
        return field_error(err, "hosts[%zu].ports[%zu].port: %lld is not a port (0-65535)", h,
                           k, (long long)value);
    json_t *proto = json_object_get(o, "proto");
    int proto_value = json_is_string(proto) ? parse_proto(json_string_value(proto)) : -1;
    if (proto_value < 0)
        return field_error(err, "hosts[%zu].ports[%zu].proto: %s", h, k,
                           proto ? "expected \"tcp\" or \"udp\"" : "missing");
    json_t *state = json_object_get(o, "state");
    int state_value = json_is_string(state) ? parse_state(json_string_value(state)) : -1;
    if (state_value < 0)
        return field_error(err, "hosts[%zu].ports[%zu].state: %s", h, k,
                           state ? "expected open, closed, filtered, open|filtered or error"
                                 : "missing");
    *out = (struct plan_scan_port){ .port = (uint16_t)value, .proto = (uint8_t)proto_value,
                                    .state = (uint8_t)state_value };
    return 0;
}

static int parse_host(struct plan_scan *scan, json_t *o, size_t h, struct pr_error *err)
{
    struct plan_scan_host *host = &scan->hosts[h];
    if (!json_is_object(o))
        return field_error(err, "hosts[%zu]: expected an object", h);
    json_t *address = json_object_get(o, "address");
    if (!json_is_string(address))
        return field_error(err, "hosts[%zu].address: %s", h,
                           address ? "expected a string" : "missing");
    const char *text = json_string_value(address);
    if (inet_pton(AF_INET, text, host->bytes) == 1)
        host->family = AF_INET;
    else if (inet_pton(AF_INET6, text, host->bytes) == 1)
        host->family = AF_INET6;
    else
        return field_error(err, "hosts[%zu].address: '%s' is not an IP address", h, text);
    if (!(host->address = arena_strdup(&scan->arena, text)))
        return pr_error_set(err, -ENOMEM, "out of memory");
    json_t *ports = json_object_get(o, "ports");
    if (!json_is_array(ports))
        return field_error(err, "hosts[%zu].ports: %s", h, ports ? "expected an array" : "missing");
    size_t count = json_array_size(ports);
    host->ports = arena_alloc(&scan->arena, (count ? count : 1) * sizeof *host->ports);
    if (!host->ports)
        return pr_error_set(err, -ENOMEM, "out of memory");
    for (size_t k = 0; k < count; k++) {
        int rc = parse_port_entry(json_array_get(ports, k), h, k, &host->ports[k], err);
        if (rc < 0)
            return rc;
    }
    host->port_count = count;
    return 0;
}

static int parse_scan_object(struct plan_scan *scan, json_t *root, struct pr_error *err)
{
    json_t *info = json_object_get(root, "scan");
    if (!info)
        return 0;
    if (!json_is_object(info))
        return field_error(err, "scan: expected an object");
    json_t *proto = json_object_get(info, "proto");
    if (proto) {
        int value = json_is_string(proto) ? parse_proto(json_string_value(proto)) : -1;
        if (value < 0)
            return field_error(err, "scan.proto: expected \"tcp\" or \"udp\"");
        scan->proto = (uint8_t)value;
    }
    json_t *ports = json_object_get(info, "ports");
    if (ports) {
        if (!json_is_integer(ports) || json_integer_value(ports) < 0)
            return field_error(err, "scan.ports: expected a count (an integer)");
        scan->ports_probed = (uint64_t)json_integer_value(ports);
    }
    json_t *list = json_object_get(info, "port_list");
    if (list) {
        if (!json_is_string(list))
            return field_error(err, "scan.port_list: expected a port list (\"1-1024,3306\")");
        struct portspec spec = { 0 };
        struct pr_error spec_err;
        if (portspec_parse(json_string_value(list), NULL, NULL, &spec, &spec_err) < 0) {
            portspec_free(&spec);
            return field_error(err, "scan.port_list: column %u: %s", spec_err.column, spec_err.message);
        }
        port_set_clear(&scan->port_list);
        for (size_t i = 0; i < spec.count; i++)
            port_set_add_range(&scan->port_list, spec.ranges[i].first, spec.ranges[i].last);
        portspec_free(&spec);
        scan->has_port_list = true;
    }
    return 0;
}

int plan_scan_parse(const char *text, size_t len, struct plan_scan *scan, struct pr_error *err)
{
    memset(scan, 0, sizeof *scan);
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root)
        return pr_error_set_at(err, -EINVAL, (unsigned)(je.line > 0 ? je.line : 0),
                               (unsigned)(je.column > 0 ? je.column : 0), "not valid JSON: %s",
                               je.text);
    int rc = 0;
    json_t *hosts = json_object_get(root, "hosts");
    if (!json_is_object(root))
        rc = field_error(err, "expected a JSON object (the output of portreg scan --json)");
    else if (!hosts)
        rc = field_error(err, "hosts: missing (is this the output of portreg scan --json?)");
    else if (!json_is_array(hosts))
        rc = field_error(err, "hosts: expected an array");
    else
        rc = parse_scan_object(scan, root, err);
    if (rc == 0) {
        size_t count = json_array_size(hosts);
        scan->hosts = arena_alloc(&scan->arena, (count ? count : 1) * sizeof *scan->hosts);
        if (!scan->hosts)
            rc = pr_error_set(err, -ENOMEM, "out of memory");
        else
            memset(scan->hosts, 0, (count ? count : 1) * sizeof *scan->hosts);
        for (size_t h = 0; h < count && rc == 0; h++)
            rc = parse_host(scan, json_array_get(hosts, h), h, err);
        if (rc == 0)
            scan->host_count = count;
    }
    json_decref(root);
    if (rc < 0)
        plan_scan_free(scan);
    return rc;
}

void plan_scan_free(struct plan_scan *scan)
{
    arena_free(&scan->arena);
    memset(scan, 0, sizeof *scan);
}

/* ---- scan ---- */

struct scan_view {
    const struct plan_scan *scan;
    size_t *host_of;             /* per scanned host: plan host index, SIZE_MAX for none */
    bool *used;                  /* per scanned port entry (flat): matched a declared port */
    size_t *used_start;          /* per scanned host: first index into used */
};

static bool scan_covers_proto(const struct plan_scan *scan, uint8_t proto)
{
    if (scan->proto != REGISTRY_PROTO_ANY)
        return scan->proto == proto;
    for (size_t h = 0; h < scan->host_count; h++)
        for (size_t k = 0; k < scan->hosts[h].port_count; k++)
            if (scan->hosts[h].ports[k].proto == proto)
                return true;
    return false;
}

/* The state of port/proto on scanned host h: its entry's index in *entry (SIZE_MAX when not
 * listed: the scanner leaves closed ports out). */
static uint8_t scan_state_of(const struct plan_scan_host *sh, uint16_t port, uint8_t proto,
                             size_t *entry)
{
    for (size_t k = 0; k < sh->port_count; k++)
        if (sh->ports[k].port == port && sh->ports[k].proto == proto) {
            *entry = k;
            return sh->ports[k].state;
        }
    *entry = SIZE_MAX;
    return SCAN_STATE_CLOSED;
}

static int scan_declared_port(struct plan_drift *out, struct scan_view *v, size_t hi,
                              const struct plan_host *host, const struct plan_service *s,
                              const struct plan_port *p, const struct plan_diff_options *opt)
{
    char declared[256];
    bind_described(s, host, declared, sizeof declared);
    if (port_unresolved(p))
        return unresolved_item(out, hi, host, s, p, declared);
    const struct plan_scan *scan = v->scan;
    const char *proto = plan_proto_name(p->proto);
    struct plan_pos pos = port_pos(p);
    struct drift_fields f = { .host_index = hi, .host = host->name, .service = s->name,
                              .proto = p->proto, .port = p->port, .declared = declared,
                              .pos = &pos };
    size_t scanned = 0, allowed_scanned = 0;
    size_t open_allowed = SIZE_MAX, open_disallowed = SIZE_MAX, first_allowed = SIZE_MAX;
    uint8_t first_allowed_state = SCAN_STATE_CLOSED;
    bool first_allowed_listed = false;
    for (size_t h = 0; h < scan->host_count; h++) {
        if (v->host_of[h] != hi)
            continue;
        const struct plan_scan_host *sh = &scan->hosts[h];
        scanned++;
        size_t entry;
        uint8_t state = scan_state_of(sh, p->port, p->proto, &entry);
        struct addr a = addr_normal(sh->family, sh->bytes);
        /* a scanned address is a specific address: bind any allows each one of the host */
        bool allowed = s->bind.kind == PLAN_BIND_ANY ? true
                       : s->bind.kind == PLAN_BIND_LOOPBACK ? false
                                                            : bind_allows(s, host, &a);
        if (state == SCAN_STATE_OPEN) {
            v->used[v->used_start[h] + entry] = true;
            if (allowed && open_allowed == SIZE_MAX)
                open_allowed = h;
            if (!allowed && open_disallowed == SIZE_MAX)
                open_disallowed = h;
        }
        if (allowed) {
            allowed_scanned++;
            /* the most telling state of the allowed addresses: a reply beats silence */
            if (first_allowed == SIZE_MAX ||
                (first_allowed_state != SCAN_STATE_CLOSED && state == SCAN_STATE_CLOSED)) {
                first_allowed = h;
                first_allowed_state = state;
                first_allowed_listed = entry != SIZE_MAX;
            }
        }
    }
    char shown[INET6_ADDRSTRLEN + 2 + 64];
    if (open_disallowed != SIZE_MAX) {
        f.kind = PLAN_DRIFT_WRONG_ADDRESS;
        f.address = scan->hosts[open_disallowed].address;
        return drift_add(out, &f, "declared bind %s, but open on %s%s", declared,
                         address_shown(f.address, shown, sizeof shown),
                         s->bind.kind == PLAN_BIND_LOOPBACK ? ": reachable from other hosts"
                                                            : "");
    }
    if (open_allowed != SIZE_MAX) {
        f.kind = PLAN_DRIFT_PRESENT;
        f.address = scan->hosts[open_allowed].address;
        return drift_add(out, &f, "open on %s", address_shown(f.address, shown, sizeof shown));
    }
    if (s->bind.kind == PLAN_BIND_LOOPBACK) {
        f.kind = PLAN_DRIFT_NOT_VISIBLE;
        return drift_add(out, &f, "bound to loopback: a scan from another host cannot see it");
    }
    if (!scan_covers_proto(scan, p->proto)) {
        f.kind = PLAN_DRIFT_UNKNOWN;
        return drift_add(out, &f, "the scan probed no %s ports", proto);
    }
    if (scan->has_port_list && !port_set_has(&scan->port_list, p->port)) {
        f.kind = PLAN_DRIFT_UNKNOWN;
        return drift_add(out, &f, "%u/%s was not among the scanned ports", p->port, proto);
    }
    if (scanned == 0 && scan->has_port_list) {
        f.kind = PLAN_DRIFT_UNKNOWN;   /* such a scan lists every host it probed */
        return drift_add(out, &f, "no address of %s was scanned", host->name);
    }
    if (scanned == 0 && !opt->missing_hosts_closed) {
        f.kind = PLAN_DRIFT_UNKNOWN;
        return drift_add(out, &f, "no address of %s is in the scan (not scanned, or every "
                         "scanned port closed)", host->name);
    }
    if (scanned == 0) {
        f.kind = PLAN_DRIFT_ABSENT;
        return drift_add(out, &f, "%s is not in the scan: every scanned port was closed",
                         host->name);
    }
    if (allowed_scanned == 0) {
        f.kind = PLAN_DRIFT_UNKNOWN;
        return drift_add(out, &f, "declared bind %s: the scan did not probe that address",
                         declared);
    }
    f.address = scan->hosts[first_allowed].address;
    address_shown(f.address, shown, sizeof shown);
    switch (first_allowed_state) {
    case SCAN_STATE_FILTERED:
        f.kind = PLAN_DRIFT_ABSENT;
        return drift_add(out, &f, "filtered on %s: no reply (a firewall drops the probes, or the "
                         "host is down)", shown);
    case SCAN_STATE_OPEN_FILTERED:
        f.kind = PLAN_DRIFT_UNKNOWN;
        return drift_add(out, &f, "open|filtered on %s: no reply, which a %s service may also "
                         "give", shown, proto);
    case SCAN_STATE_ERROR:
        f.kind = PLAN_DRIFT_UNKNOWN;
        return drift_add(out, &f, "the probe of %s failed locally (error)", shown);
    default:
        f.kind = PLAN_DRIFT_ABSENT;
        if (first_allowed_listed || scan->has_port_list)
            return drift_add(out, &f, "closed on %s", shown);
        return drift_add(out, &f, "not open on %s (closed, or not among the %llu scanned ports)",
                         shown, (unsigned long long)scan->ports_probed);
    }
}

/* Open ports that matched no declared port: one item per address and port. */
static int scan_undeclared(struct plan_drift *out, struct scan_view *v,
                           const struct plan *plan, const struct plan_diff_options *opt)
{
    const struct plan_scan *scan = v->scan;
    for (size_t h = 0; h < scan->host_count; h++) {
        const struct plan_scan_host *sh = &scan->hosts[h];
        size_t hi = v->host_of[h];
        if (hi == SIZE_MAX && opt->ignore_unknown_addresses)
            continue;
        const struct plan_host *host = hi == SIZE_MAX ? NULL : &plan->hosts[hi];
        for (size_t k = 0; k < sh->port_count; k++) {
            const struct plan_scan_port *sp = &sh->ports[k];
            if (sp->state != SCAN_STATE_OPEN || v->used[v->used_start[h] + k])
                continue;
            /* declared with an unresolved port is still undeclared; declared elsewhere on the
             * host was matched above */
            if (host && host_declares(plan, host, sp->port, sp->proto))
                continue;
            struct drift_fields f = { .kind = PLAN_DRIFT_UNDECLARED, .host_index = hi,
                                      .host = host ? host->name : NULL, .proto = sp->proto,
                                      .port = sp->port, .address = sh->address };
            char shown[INET6_ADDRSTRLEN + 2 + 64];
            address_shown(sh->address, shown, sizeof shown);
            int rc = host ? drift_add(out, &f, "open on %s; no service of %s declares %u/%s",
                                      shown, host->name, sp->port,
                                      plan_proto_name(sp->proto))
                          : drift_add(out, &f, "open on %s, which is no address of a plan host",
                                      shown);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static size_t plan_host_of(const struct plan *plan, const struct plan_scan_host *sh)
{
    for (size_t i = 0; i < plan->host_count; i++)
        for (size_t k = 0; k < plan->hosts[i].address_count; k++) {
            const struct plan_named_address *n = &plan->hosts[i].addresses[k];
            struct addr a = addr_normal(n->family, n->bytes);
            if (addr_equal(&a, sh->family, sh->bytes))
                return i;
        }
    return SIZE_MAX;
}

int plan_diff_scan(const struct plan *plan, const struct plan_scan *scan,
                   const struct plan_diff_options *opt, struct plan_drift *out,
                   struct pr_error *err)
{
    static const struct plan_diff_options defaults;
    memset(out, 0, sizeof *out);
    if (!opt)
        opt = &defaults;
    size_t entries = 0;
    for (size_t h = 0; h < scan->host_count; h++)
        entries += scan->hosts[h].port_count;
    size_t hosts = scan->host_count ? scan->host_count : 1;
    struct scan_view v = { .scan = scan, .host_of = calloc(hosts, sizeof(size_t)),
                           .used = calloc(entries ? entries : 1, sizeof(bool)),
                           .used_start = calloc(hosts, sizeof(size_t)) };
    int rc = 0;
    if (!v.host_of || !v.used || !v.used_start) {
        rc = -ENOMEM;
        goto done;
    }
    for (size_t h = 0, start = 0; h < scan->host_count; h++) {
        v.host_of[h] = plan_host_of(plan, &scan->hosts[h]);
        v.used_start[h] = start;
        start += scan->hosts[h].port_count;
    }
    for (size_t hi = 0; hi < plan->host_count && rc == 0; hi++) {
        const struct plan_host *host = &plan->hosts[hi];
        for (size_t i = 0; i < plan->service_count && rc == 0; i++) {
            const struct plan_service *s = &plan->services[i];
            if (!plan_service_on_host(plan, s, host))
                continue;
            for (size_t j = 0; j < s->port_count && rc == 0; j++)
                rc = scan_declared_port(out, &v, hi, host, s, &s->ports[j], opt);
        }
    }
    if (rc == 0)
        rc = scan_undeclared(out, &v, plan, opt);
    if (rc == 0)
        drift_sort(out);
done:
    free(v.host_of);
    free(v.used);
    free(v.used_start);
    return rc < 0 ? pr_error_set(err, rc, "out of memory") : 0;
}
