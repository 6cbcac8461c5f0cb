/* plan_check.c — the rules of `portreg plan check` over a loaded plan (see plan_check.h).
 * `auto` ports are resolved first, in plan order, by the suggest walk (suggest_start_port:
 * XXH3-64 of the lower-cased service name picks the start in the auto range); then every port
 * is checked on its own, and every service's exposure against its bind address and sources.
 * Bind conflicts need the same host, protocol and port: (protocol, port, host, service)
 * entries are sorted and only entries of one (protocol, port, host) group are compared, so a
 * plan of n services costs O(n log n), not O(n^2) (a registry server checks thousands of
 * assignments per host). Host port facts and IANA data come from the caller: no I/O here. */
#include "plan/plan_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "doctor/reserved_ports.h"
#include "net/bind_overlap.h"
#include "doctor/suggest.h"
#include "registry/index.h"
#include "registry/record.h"
#include "util/port_set.h"

#define IANA_NAMES_MAX 8u
#define HOST_LIST_TEXT 200u

size_t plan_iana_lookup_registry(void *user, uint16_t port, uint8_t proto, const char **names,
                                 size_t max)
{
    const struct registry_index *ix = user;
    size_t count = 0, stored = 0;
    const uint32_t *ids = registry_index_port_records(ix, port, &count);
    for (size_t i = 0; i < count && stored < max; i++) {
        struct registry_record rec;
        if (!registry_index_record(ix, ids[i], &rec) || !rec.has_port)
            continue;
        if (rec.status != REGISTRY_STATUS_ASSIGNED && rec.status != REGISTRY_STATUS_RESERVED)
            continue;
        if (rec.proto != REGISTRY_PROTO_ANY && rec.proto != proto)
            continue;
        const char *name = rec.service && rec.service[0] ? rec.service : "(reserved)";
        bool seen = false;
        for (size_t j = 0; j < stored && !seen; j++)
            seen = strcasecmp(names[j], name) == 0;
        if (!seen)
            names[stored++] = name;
    }
    return stored;
}

/* Whether the space-separated aliases list holds name (ASCII case-insensitive). */
static bool aliases_contain(const char *aliases, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = aliases; *p;) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        if ((size_t)(end - p) == len && len && strncasecmp(p, name, len) == 0)
            return true;
        p = end;
    }
    return false;
}

bool plan_iana_has_name_registry(void *user, uint16_t port, uint8_t proto, const char *name)
{
    const struct registry_index *ix = user;
    size_t count = 0;
    const uint32_t *ids = registry_index_port_records(ix, port, &count);
    for (size_t i = 0; i < count; i++) {
        struct registry_record rec;
        if (!registry_index_record(ix, ids[i], &rec) || !rec.has_port)
            continue;
        if (rec.status != REGISTRY_STATUS_ASSIGNED)
            continue;
        if (rec.proto != REGISTRY_PROTO_ANY && rec.proto != proto)
            continue;
        if ((rec.service[0] && strcasecmp(rec.service, name) == 0) ||
            aliases_contain(rec.aliases, name))
            return true;
    }
    return false;
}

bool plan_iana_unauthorized_registry(void *user, uint16_t port, uint8_t proto)
{
    const struct registry_index *ix = user;
    size_t count = 0;
    const uint32_t *ids = registry_index_port_records(ix, port, &count);
    for (size_t i = 0; i < count; i++) {
        struct registry_record rec;
        if (registry_index_record(ix, ids[i], &rec) && rec.has_port && rec.unauthorized_use[0] &&
            (rec.proto == REGISTRY_PROTO_ANY || rec.proto == proto))
            return true;
    }
    return false;
}

/* ---- the checker's state ---- */

struct host_facts {
    bool have_ephemeral;
    uint16_t first, last;
    const struct port_set *reserved;     /* NULL: nothing reserved known */
    struct port_set *own;                /* the host's `reserved:` (owned) */
};

struct checker {
    struct plan *plan;
    const struct plan_check_context *ctx;
    struct plan_diagnostics *diag;
    unsigned unprivileged_start;
    struct host_facts *facts;            /* per plan host */
    size_t **service_hosts;              /* per service: indices of its hosts, ascending */
    size_t *service_host_count;
    size_t *service_file_index;          /* per service: its index within its file */
    size_t *host_service_start;          /* per host h: host_services[start[h] .. start[h+1]) */
    size_t *host_services;               /* the services on each host, ascending */
    size_t *visit_stamp;                 /* per service: the last walk that visited it */
    size_t visit;
    char **reserved_fix;                 /* per host: the ip_local_reserved_ports value (lazy) */
    int failure;
};

__attribute__((format(printf, 8, 9)))
static void ck_report(struct checker *ck, enum plan_severity severity, const char *code,
                      const struct plan_pos *pos, const char *field,
                      const struct plan_pos *related, const char *fix, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (plan_diagnostics_add(ck->diag, severity, code, pos, field, related, fix, "%s",
                             message) < 0)
        ck->failure = -ENOMEM;
}

static const char *ck_service_field(const struct checker *ck, size_t s, const char *rest,
                                    char *buf, size_t size)
{
    snprintf(buf, size, "services[%zu]%s%s", ck->service_file_index[s], rest[0] ? "." : "",
             rest);
    return buf;
}

static const char *ck_port_field(const struct checker *ck, size_t s, size_t p, char *buf,
                                 size_t size)
{
    char rest[32];
    if (ck->plan->services[s].port_singular)
        snprintf(rest, sizeof rest, "port");
    else
        snprintf(rest, sizeof rest, "ports[%zu]", p);
    return ck_service_field(ck, s, rest, buf, size);
}

static size_t ck_iana(const struct checker *ck, uint16_t port, uint8_t proto, const char **names)
{
    if (!ck->ctx || !ck->ctx->iana_lookup)
        return 0;
    size_t n = ck->ctx->iana_lookup(ck->ctx->iana_user, port, proto, names, IANA_NAMES_MAX);
    return n < IANA_NAMES_MAX ? n : IANA_NAMES_MAX;
}

/* Whether the service implements what IANA registered on the port: its own name or one it
 * declares in `iana:` is IANA's name for the port (or an alias of it), compared as IANA does,
 * case-insensitively (a service named ssh on 22/tcp is ssh). */
static bool ck_iana_is_own(const struct checker *ck, const struct plan_service *svc,
                           uint16_t port, uint8_t proto, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(names[i], svc->name) == 0)
            return true;
        for (size_t j = 0; j < svc->iana_count; j++)
            if (strcasecmp(names[i], svc->iana_names[j]) == 0)
                return true;
    }
    const struct plan_check_context *ctx = ck->ctx;
    if (!ctx || !ctx->iana_has_name)
        return false;
    if (ctx->iana_has_name(ctx->iana_user, port, proto, svc->name))
        return true;
    for (size_t j = 0; j < svc->iana_count; j++)
        if (ctx->iana_has_name(ctx->iana_user, port, proto, svc->iana_names[j]))
            return true;
    return false;
}

static const char *ck_join(const char *const *names, size_t n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

/* ---- setup: host facts, service -> hosts, per-file indices ---- */

static int ck_setup(struct checker *ck)
{
    struct plan *plan = ck->plan;
    size_t hosts = plan->host_count, services = plan->service_count;
    ck->facts = calloc(hosts ? hosts : 1, sizeof *ck->facts);
    ck->service_hosts = calloc(services ? services : 1, sizeof *ck->service_hosts);
    ck->service_host_count = calloc(services ? services : 1, sizeof *ck->service_host_count);
    ck->service_file_index = calloc(services ? services : 1, sizeof *ck->service_file_index);
    ck->host_service_start = calloc(hosts + 1, sizeof *ck->host_service_start);
    ck->visit_stamp = calloc(services ? services : 1, sizeof *ck->visit_stamp);
    ck->reserved_fix = calloc(hosts ? hosts : 1, sizeof *ck->reserved_fix);
    if (!ck->facts || !ck->service_hosts || !ck->service_host_count ||
        !ck->service_file_index || !ck->host_service_start || !ck->visit_stamp ||
        !ck->reserved_fix)
        return -ENOMEM;
    if (!plan->names.built || plan->names.for_hosts != hosts ||
        plan->names.for_networks != plan->network_count)
        if (plan_index_names(plan) < 0)
            return -ENOMEM;

    const struct plan_check_context *ctx = ck->ctx;
    for (size_t h = 0; h < hosts; h++) {
        const struct plan_host *host = &plan->hosts[h];
        struct host_facts *f = &ck->facts[h];
        if (host->has_ephemeral) {
            f->have_ephemeral = true;
            f->first = host->ephemeral_first;
            f->last = host->ephemeral_last;
            if (host->reserved_count) {
                if (!(f->own = malloc(sizeof *f->own)))
                    return -ENOMEM;
                port_set_clear(f->own);
                for (size_t r = 0; r < host->reserved_count; r++)
                    port_set_add_range(f->own, host->reserved[r].first, host->reserved[r].last);
                f->reserved = f->own;
            }
            continue;
        }
        const struct local_ports *lp = NULL;
        if (ctx && ctx->host_ports)
            lp = ctx->host_ports(ctx->host_ports_user, host);
        if (!lp && ctx)
            lp = ctx->local;
        if (lp && lp->have_ephemeral) {
            f->have_ephemeral = true;
            f->first = lp->ephemeral.first;
            f->last = lp->ephemeral.last;
            f->reserved = lp->have_reserved ? &lp->reserved : NULL;
        }
    }
    /* service -> hosts through the plan's name index, then host -> services (counting sort) */
    size_t pairs = 0;
    for (size_t s = 0; s < services; s++) {
        if (plan_service_host_indices(plan, &plan->services[s], &ck->service_hosts[s],
                                      &ck->service_host_count[s]) < 0)
            return -ENOMEM;
        pairs += ck->service_host_count[s];
        for (size_t i = 0; i < ck->service_host_count[s]; i++)
            ck->host_service_start[ck->service_hosts[s][i] + 1]++;
    }
    for (size_t h = 0; h < hosts; h++)
        ck->host_service_start[h + 1] += ck->host_service_start[h];
    if (!(ck->host_services = malloc((pairs ? pairs : 1) * sizeof *ck->host_services)))
        return -ENOMEM;
    size_t *fill = malloc((hosts ? hosts : 1) * sizeof *fill);
    if (!fill)
        return -ENOMEM;
    memcpy(fill, ck->host_service_start, hosts * sizeof *fill);
    for (size_t s = 0; s < services; s++)
        for (size_t i = 0; i < ck->service_host_count[s]; i++)
            ck->host_services[fill[ck->service_hosts[s][i]]++] = s;
    free(fill);
    if (services)
        plan_positions_in_file(&plan->services[0].pos, sizeof *plan->services, services,
                               ck->service_file_index);
    return 0;
}

static void ck_teardown(struct checker *ck)
{
    for (size_t h = 0; ck->facts && h < ck->plan->host_count; h++)
        free(ck->facts[h].own);
    free(ck->facts);
    for (size_t s = 0; ck->service_hosts && s < ck->plan->service_count; s++)
        free(ck->service_hosts[s]);
    free(ck->service_hosts);
    free(ck->service_host_count);
    free(ck->service_file_index);
    free(ck->host_service_start);
    free(ck->host_services);
    free(ck->visit_stamp);
    for (size_t h = 0; ck->reserved_fix && h < ck->plan->host_count; h++)
        free(ck->reserved_fix[h]);
    free(ck->reserved_fix);
}

/* Call visit(ck, t, user) once for every service t that shares a host with s (s itself
 * included): through the host -> services lists, not over every service of the plan. */
static void ck_for_each_neighbour(struct checker *ck, size_t s,
                                  void (*visit)(struct checker *, size_t, void *), void *user)
{
    size_t stamp = ++ck->visit;
    ck->visit_stamp[s] = stamp;
    visit(ck, s, user);
    for (size_t i = 0; i < ck->service_host_count[s]; i++) {
        size_t h = ck->service_hosts[s][i];
        for (size_t k = ck->host_service_start[h]; k < ck->host_service_start[h + 1]; k++) {
            size_t t = ck->host_services[k];
            if (ck->visit_stamp[t] == stamp)
                continue;
            ck->visit_stamp[t] = stamp;
            visit(ck, t, user);
        }
    }
}

/* ---- auto ports ---- */

struct block_walk {
    struct port_set *blocked;
    uint8_t proto;
};

static void ck_block_ports(struct checker *ck, size_t t, void *user)
{
    struct block_walk *walk = user;
    const struct plan_service *svc = &ck->plan->services[t];
    for (size_t q = 0; q < svc->port_count; q++)
        if (svc->ports[q].port && svc->ports[q].proto == walk->proto)
            port_set_add(walk->blocked, svc->ports[q].port);
}

static void ck_resolve_auto(struct checker *ck, size_t s, size_t p, struct port_set *blocked)
{
    struct plan *plan = ck->plan;
    struct plan_service *svc = &plan->services[s];
    struct plan_port *port = &svc->ports[p];
    const struct plan_policy *policy = &plan->policy;

    port_set_clear(blocked);
    /* ports of every service on a common host (and of this one), same protocol */
    struct block_walk walk = { blocked, port->proto };
    ck_for_each_neighbour(ck, s, ck_block_ports, &walk);
    for (size_t e = 0; e < policy->excluded_count; e++)
        port_set_add_range(blocked, policy->excluded[e].first, policy->excluded[e].last);
    struct local_port_range avoid = { 0 };
    bool have_avoid = false;
    /* hosts of a group mostly share one ephemeral range: add each distinct range once (the
     * set is the same; port_set_add_range goes bit by bit) */
    struct local_port_range added[8];
    size_t added_count = 0;
    for (size_t i = 0; i < ck->service_host_count[s]; i++) {
        const struct host_facts *f = &ck->facts[ck->service_hosts[s][i]];
        if (!f->have_ephemeral || f->first > f->last)
            continue;
        bool seen = false;
        for (size_t a = 0; a < added_count && !seen; a++)
            seen = added[a].first == f->first && added[a].last == f->last;
        if (!seen) {
            port_set_add_range(blocked, f->first, f->last);
            if (added_count < sizeof added / sizeof added[0])
                added[added_count++] = (struct local_port_range){ f->first, f->last };
        }
        if (!have_avoid) {
            avoid = (struct local_port_range){ f->first, f->last };
            have_avoid = true;
        }
    }

    uint16_t first = policy->auto_range.first, last = policy->auto_range.last;
    if (first == 0)
        first = 1;
    char field[160];
    ck_port_field(ck, s, p, field, sizeof field);
    if (first > last) {
        ck_report(ck, PLAN_SEVERITY_ERROR, "auto-exhausted", &port->pos, field, NULL, NULL,
                  "the policy's auto range is empty");
        return;
    }
    uint16_t start = suggest_start_port(svc->name, first, last, have_avoid ? &avoid : NULL);
    uint32_t size = (uint32_t)last - first + 1u, offset = (uint32_t)start - first;
    bool check_iana = !policy->allow_iana_assigned;
    for (uint32_t step = 0; step < size; step++) {
        uint16_t candidate = (uint16_t)(first + (offset + step) % size);
        if (port_set_has(blocked, candidate))
            continue;
        const char *names[IANA_NAMES_MAX];
        size_t n = check_iana ? ck_iana(ck, candidate, port->proto, names) : 0;
        if (n && !ck_iana_is_own(ck, svc, candidate, port->proto, names, n))
            continue;
        if (ck->ctx && ck->ctx->iana_unauthorized &&
            ck->ctx->iana_unauthorized(ck->ctx->iana_user, candidate, port->proto))
            continue;
        port->port = candidate;
        ck_report(ck, PLAN_SEVERITY_INFO, "auto-port", &port->pos, field, NULL, NULL,
                  "auto resolved to %u/%s for %s", (unsigned)candidate,
                  plan_proto_name(port->proto), svc->name);
        return;
    }
    ck_report(ck, PLAN_SEVERITY_ERROR, "auto-exhausted", &port->pos, field, &policy->auto_range.pos,
              NULL, "no free %s port for %s in the auto range %u-%u (all excluded, ephemeral, "
              "IANA-assigned or used on its hosts)", plan_proto_name(port->proto), svc->name,
              (unsigned)first, (unsigned)last);
}

static int ck_resolve_autos(struct checker *ck)
{
    struct port_set *blocked = NULL;
    struct plan *plan = ck->plan;
    for (size_t s = 0; s < plan->service_count && !ck->failure; s++)
        for (size_t p = 0; p < plan->services[s].port_count; p++) {
            struct plan_port *port = &plan->services[s].ports[p];
            if (!port->automatic || port->port)
                continue;
            if (!blocked && !(blocked = malloc(sizeof *blocked)))
                return -ENOMEM;
            ck_resolve_auto(ck, s, p, blocked);
        }
    free(blocked);
    return 0;
}

/* ---- rules over one port ---- */

static void ck_port_policy(struct checker *ck, size_t s, size_t p, const char *field)
{
    const struct plan *plan = ck->plan;
    const struct plan_service *svc = &plan->services[s];
    const struct plan_port *port = &svc->ports[p];
    const struct plan_policy *policy = &plan->policy;
    const char *proto = plan_proto_name(port->proto);

    for (size_t e = 0; e < policy->excluded_count; e++) {
        const struct plan_range *range = &policy->excluded[e];
        if (port->port < range->first || port->port > range->last)
            continue;
        ck_report(ck, PLAN_SEVERITY_ERROR, "excluded-port", &port->pos, field, &range->pos, NULL,
                  "port %u/%s is inside the policy's excluded range %u-%u", (unsigned)port->port,
                  proto, (unsigned)range->first, (unsigned)range->last);
        break;
    }

    const char *names[IANA_NAMES_MAX];
    size_t n = ck_iana(ck, port->port, port->proto, names);
    bool own = n && ck_iana_is_own(ck, svc, port->port, port->proto, names, n);
    const struct plan_range *st = &policy->static_range;
    bool system_port = port->port < 1024 && port->port < st->first;
    if (!port->automatic && (port->port < st->first || port->port > st->last) && !system_port &&
        !own) {
        ck_report(ck, PLAN_SEVERITY_ERROR, "policy-range", &port->pos, field,
                  st->pos.file ? &st->pos : NULL, "use a port in the static range or `auto`",
                  "port %u/%s is outside the policy's static range %u-%u", (unsigned)port->port,
                  proto, (unsigned)st->first, (unsigned)st->last);
    }
    if (n && !own && !policy->allow_iana_assigned) {
        char list[256], fix[512];
        ck_join(names, n, list, sizeof list);
        bool reserved = n == 1 && strcmp(names[0], "(reserved)") == 0;
        snprintf(fix, sizeof fix, "%s, or pick another port (`auto`), or set "
                 "policy.allow_iana_assigned: true",
                 reserved ? "this port is not for use" : "declare `iana:` if the service is that "
                 "protocol");
        if (reserved)
            ck_report(ck, PLAN_SEVERITY_WARNING, "iana-assigned", &port->pos, field, NULL, fix,
                      "port %u/%s is reserved by IANA", (unsigned)port->port, proto);
        else
            ck_report(ck, PLAN_SEVERITY_WARNING, "iana-assigned", &port->pos, field, NULL, fix,
                      "port %u/%s is registered at IANA to %s, not to %s%s",
                      (unsigned)port->port, proto, list, svc->name,
                      svc->iana_count ? " (its iana: names differ)" : " (it declares no iana:)");
    }
    if (port->port < ck->unprivileged_start) {
        char fix[256];
        snprintf(fix, sizeof fix, "run it with CAP_NET_BIND_SERVICE (systemd: "
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE) or lower "
                 "net.ipv4.ip_unprivileged_port_start");
        ck_report(ck, PLAN_SEVERITY_WARNING, "privileged-port", &port->pos, field, NULL, fix,
                  "port %u/%s is privileged (below %u): binding it needs root or "
                  "CAP_NET_BIND_SERVICE", (unsigned)port->port, proto, ck->unprivileged_start);
    }
}

/* Every plan port (any service, any protocol) of host h inside its ephemeral range, plus what
 * the host already reserves: the value for ip_local_reserved_ports. malloc'd or NULL. */
static char *ck_reserved_fix_build(const struct checker *ck, size_t h)
{
    const struct host_facts *f = &ck->facts[h];
    struct port_set *add = malloc(sizeof *add), *merged = malloc(sizeof *merged);
    struct port_set *existing = calloc(1, sizeof *existing);
    char *list = NULL;
    if (!add || !merged || !existing)
        goto out;
    port_set_clear(add);
    if (f->reserved)
        *existing = *f->reserved;
    const struct plan *plan = ck->plan;
    for (size_t k = ck->host_service_start[h]; k < ck->host_service_start[h + 1]; k++) {
        size_t s = ck->host_services[k];
        for (size_t p = 0; p < plan->services[s].port_count; p++) {
            uint16_t port = plan->services[s].ports[p].port;
            if (port && port >= f->first && port <= f->last)
                port_set_add(add, port);
        }
    }
    reserved_ports_merge(existing, add, merged, NULL);
    list = reserved_ports_format(merged);
out:
    free(add);
    free(merged);
    free(existing);
    return list;
}

/* ck_reserved_fix_build once per host (every auto is resolved by then, so the value cannot
 * change); owned by the checker. NULL: out of memory. */
static const char *ck_reserved_fix(struct checker *ck, size_t h)
{
    if (!ck->reserved_fix[h])
        ck->reserved_fix[h] = ck_reserved_fix_build(ck, h);
    return ck->reserved_fix[h];
}

static void ck_port_ephemeral(struct checker *ck, size_t s, size_t p, const char *field)
{
    const struct plan_service *svc = &ck->plan->services[s];
    const struct plan_port *port = &svc->ports[p];
    char hosts[HOST_LIST_TEXT] = "";
    size_t affected = 0, first_host = 0;
    const struct host_facts *first_facts = NULL;
    for (size_t i = 0; i < ck->service_host_count[s]; i++) {
        size_t h = ck->service_hosts[s][i];
        const struct host_facts *f = &ck->facts[h];
        if (!f->have_ephemeral || port->port < f->first || port->port > f->last)
            continue;
        if (f->reserved && port_set_has(f->reserved, port->port))
            continue;
        if (!first_facts) {
            first_facts = f;
            first_host = h;
        }
        size_t used = strlen(hosts);
        if (affected < 4 && used < sizeof hosts)
            snprintf(hosts + used, sizeof hosts - used, "%s%s", affected ? ", " : "",
                     ck->plan->hosts[h].name);
        else if (affected == 4 && used < sizeof hosts)
            snprintf(hosts + used, sizeof hosts - used, ", ...");
        affected++;
    }
    if (!first_facts)
        return;
    const char *list = ck_reserved_fix(ck, first_host);
    if (!list) {
        ck->failure = -ENOMEM;
        return;
    }
    size_t fix_size = strlen(list) + 256;
    char *fix = malloc(fix_size);
    if (!fix) {
        ck->failure = -ENOMEM;
        return;
    }
    snprintf(fix, fix_size, "sysctl -w %s=%s (and the same line in %s/%s to keep it)",
             RESERVED_PORTS_SYSCTL_KEY, list, RESERVED_PORTS_DROPIN_DIR,
             RESERVED_PORTS_DROPIN_NAME);
    ck_report(ck, PLAN_SEVERITY_WARNING, "ephemeral-port", &port->pos, field, NULL, fix,
              "port %u/%s is inside the ephemeral range %u-%u of %s and not reserved: an "
              "outgoing connection can take it first", (unsigned)port->port,
              plan_proto_name(port->proto), (unsigned)first_facts->first,
              (unsigned)first_facts->last, hosts);
    free(fix);
}

/* ---- bind conflicts ---- */

#define ENDPOINTS_MAX BIND_ENDPOINTS_MAX

static bool bytes_zero(const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bytes[i])
            return false;
    return true;
}

/* The addresses service s binds on host h. */
static size_t ck_endpoints(const struct checker *ck, size_t s, size_t h, struct bind_endpoint *out)
{
    const struct plan_bind *bind = &ck->plan->services[s].bind;
    const struct plan_host *host = &ck->plan->hosts[h];
    size_t n = 0;
    switch (bind->kind) {
    case PLAN_BIND_ANY:
        n = bind_endpoints_any(out);
        break;
    case PLAN_BIND_LOOPBACK:
        n = bind_endpoints_loopback(out);
        break;
    case PLAN_BIND_NAMED:
        for (size_t a = 0; a < host->address_count && n < ENDPOINTS_MAX; a++) {
            const struct plan_named_address *addr = &host->addresses[a];
            if (!bind->name || strcmp(addr->name, bind->name) != 0)
                continue;
            out[n] = (struct bind_endpoint){ .family = addr->family };
            memcpy(out[n].bytes, addr->bytes, 16);
            out[n].wildcard = bytes_zero(addr->bytes, 16);
            n++;
        }
        break;
    case PLAN_BIND_ADDRESS:
        out[n] = (struct bind_endpoint){ .family = bind->family };
        memcpy(out[n].bytes, bind->bytes, 16);
        out[n].wildcard = bytes_zero(bind->bytes, 16);
        n++;
        break;
    }
    return n;
}

static bool ck_bind_overlap(const struct checker *ck, size_t s, size_t t, size_t h)
{
    struct bind_endpoint a[ENDPOINTS_MAX], b[ENDPOINTS_MAX];
    size_t na = ck_endpoints(ck, s, h, a), nb = ck_endpoints(ck, t, h, b);
    /* the rule shared with the registry server (net/bind_overlap.c) */
    return bind_endpoints_overlap(a, na, b, nb);
}

struct port_ref {
    uint16_t port;
    uint8_t proto;
    size_t service, index;
};

static int port_ref_compare(const void *x, const void *y)
{
    const struct port_ref *a = x, *b = y;
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    if (a->port != b->port)
        return a->port < b->port ? -1 : 1;
    if (a->service != b->service)
        return a->service < b->service ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static void ck_conflict_pair(struct checker *ck, const struct port_ref *a,
                             const struct port_ref *b)
{
    const struct plan *plan = ck->plan;
    const struct plan_service *sa = &plan->services[a->service], *sb = &plan->services[b->service];
    const struct plan_port *pa = &sa->ports[a->index], *pb = &sb->ports[b->index];
    char field[160];
    ck_port_field(ck, b->service, b->index, field, sizeof field);
    if (a->service == b->service) {
        ck_report(ck, PLAN_SEVERITY_ERROR, "duplicate-port", &pb->pos, field, &pa->pos, NULL,
                  "%u/%s is listed twice for %s (also at line %u, column %u)",
                  (unsigned)pb->port, plan_proto_name(pb->proto), sb->name, pa->pos.line,
                  pa->pos.column);
        return;
    }
    char hosts[HOST_LIST_TEXT] = "";
    size_t count = 0;
    /* the shared hosts, ascending: a merge of the two ascending host lists */
    const size_t *ha = ck->service_hosts[a->service], *hb = ck->service_hosts[b->service];
    size_t na = ck->service_host_count[a->service], nb = ck->service_host_count[b->service];
    for (size_t i = 0, j = 0; i < na; i++) {
        size_t h = ha[i];
        while (j < nb && hb[j] < h)
            j++;
        if (j == nb || hb[j] != h || !ck_bind_overlap(ck, a->service, b->service, h))
            continue;
        size_t used = strlen(hosts);
        if (count < 4 && used < sizeof hosts)
            snprintf(hosts + used, sizeof hosts - used, "%s%s", count ? ", " : "",
                     plan->hosts[h].name);
        else if (count == 4 && used < sizeof hosts)
            snprintf(hosts + used, sizeof hosts - used, ", ...");
        count++;
    }
    if (!count)
        return;
    char bind_a[64], bind_b[64];
    plan_bind_format(&sa->bind, bind_a, sizeof bind_a);
    plan_bind_format(&sb->bind, bind_b, sizeof bind_b);
    ck_report(ck, PLAN_SEVERITY_ERROR, "bind-conflict", &pb->pos, field, &pa->pos,
              "give one of them another port, or bind them to different specific addresses",
              "%u/%s: %s (bind %s) and %s (bind %s, %s:%u:%u) would both bind it on %s %s; the "
              "second bind fails with \"Address already in use\"", (unsigned)pb->port,
              plan_proto_name(pb->proto), sb->name, bind_b, sa->name, bind_a, pa->pos.file,
              pa->pos.line, pa->pos.column, count == 1 ? "host" : "hosts", hosts);
}

/* One (protocol, port) bound by one service on one host: ref indexes the sorted port_refs. */
struct host_ref {
    uint16_t port;
    uint8_t proto;
    size_t host, ref;
};

static int host_ref_compare(const void *x, const void *y)
{
    const struct host_ref *a = x, *b = y;
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    if (a->port != b->port)
        return a->port < b->port ? -1 : 1;
    if (a->host != b->host)
        return a->host < b->host ? -1 : 1;
    return a->ref < b->ref ? -1 : a->ref > b->ref;
}

/* A pair of port_refs to compare: earlier < later; reported at later. */
struct ref_pair {
    size_t later, earlier;
};

static int ref_pair_compare(const void *x, const void *y)
{
    const struct ref_pair *a = x, *b = y;
    if (a->later != b->later)
        return a->later < b->later ? -1 : 1;
    return a->earlier < b->earlier ? -1 : a->earlier > b->earlier;
}

struct pair_list {
    struct ref_pair *items;
    size_t count, capacity;
};

static int pair_list_add(struct pair_list *list, size_t earlier, size_t later)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 256;
        struct ref_pair *grown = realloc(list->items, capacity * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->count++] = (struct ref_pair){ later, earlier };
    return 0;
}

/* The pairs that can conflict: the same service twice on one (protocol, port) — reported as
 * duplicate-port whatever its hosts — and two services with that (protocol, port) on a common
 * host. Found by sorting (protocol, port, host) entries, so only entries of one group meet. */
static int ck_conflict_candidates(const struct checker *ck, const struct port_ref *refs, size_t n,
                                  struct pair_list *pairs)
{
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && refs[end].service == refs[start].service &&
               refs[end].port == refs[start].port && refs[end].proto == refs[start].proto)
            end++;
        for (size_t j = start + 1; j < end; j++)
            for (size_t i = start; i < j; i++)
                if (pair_list_add(pairs, i, j) < 0)
                    return -ENOMEM;
        start = end;
    }
    size_t total = 0;
    for (size_t r = 0; r < n; r++)
        total += ck->service_host_count[refs[r].service];
    struct host_ref *entries = malloc((total ? total : 1) * sizeof *entries);
    if (!entries)
        return -ENOMEM;
    size_t m = 0;
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < ck->service_host_count[refs[r].service]; i++)
            entries[m++] = (struct host_ref){ refs[r].port, refs[r].proto,
                                              ck->service_hosts[refs[r].service][i], r };
    qsort(entries, m, sizeof *entries, host_ref_compare);
    int result = 0;
    for (size_t start = 0; start < m && result == 0;) {
        size_t end = start + 1;
        while (end < m && entries[end].host == entries[start].host &&
               entries[end].port == entries[start].port &&
               entries[end].proto == entries[start].proto)
            end++;
        for (size_t j = start + 1; j < end && result == 0; j++)
            for (size_t i = start; i < j && result == 0; i++)
                if (refs[entries[i].ref].service != refs[entries[j].ref].service)
                    result = pair_list_add(pairs, entries[i].ref, entries[j].ref);
        start = end;
    }
    free(entries);
    return result;
}

static int ck_bind_conflicts(struct checker *ck)
{
    const struct plan *plan = ck->plan;
    size_t total = 0;
    for (size_t s = 0; s < plan->service_count; s++)
        total += plan->services[s].port_count;
    struct port_ref *refs = malloc((total ? total : 1) * sizeof *refs);
    if (!refs)
        return -ENOMEM;
    size_t n = 0;
    for (size_t s = 0; s < plan->service_count; s++)
        for (size_t p = 0; p < plan->services[s].port_count; p++) {
            const struct plan_port *port = &plan->services[s].ports[p];
            if (port->port)
                refs[n++] = (struct port_ref){ port->port, port->proto, s, p };
        }
    qsort(refs, n, sizeof *refs, port_ref_compare);
    struct pair_list pairs = { 0 };
    if (ck_conflict_candidates(ck, refs, n, &pairs) < 0) {
        free(pairs.items);
        free(refs);
        return -ENOMEM;
    }
    /* in the order of a pairwise pass over each run of equal (protocol, port): by the later
     * ref, then the earlier; a pair sharing several hosts was found once per host */
    if (pairs.count)
        qsort(pairs.items, pairs.count, sizeof *pairs.items, ref_pair_compare);
    for (size_t k = 0; k < pairs.count && !ck->failure; k++) {
        if (k && ref_pair_compare(&pairs.items[k - 1], &pairs.items[k]) == 0)
            continue;
        ck_conflict_pair(ck, &refs[pairs.items[k].earlier], &refs[pairs.items[k].later]);
    }
    free(pairs.items);
    free(refs);
    return 0;
}

/* ---- exposure ---- */

static bool address_is_loopback(uint8_t family, const uint8_t *b)
{
    if (family == AF_INET)
        return b[0] == 127;
    static const uint8_t one[16] = { [15] = 1 };
    return memcmp(b, one, 16) == 0 ||
           (bytes_zero(b, 10) && b[10] == 0xff && b[11] == 0xff && b[12] == 127);
}

/* RFC 1918, CGNAT, link-local, ULA: not reachable from the Internet. */
static bool address_is_private(uint8_t family, const uint8_t *b)
{
    if (family == AF_INET)
        return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
               (b[0] == 192 && b[1] == 168) || (b[0] == 100 && (b[1] & 0xc0) == 64) ||
               (b[0] == 169 && b[1] == 254);
    return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

static void ck_address_text(uint8_t family, const uint8_t *bytes, char *buf, size_t size)
{
    if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, bytes, buf, (socklen_t)size))
        snprintf(buf, size, "?");
}

static void ck_exposure(struct checker *ck, size_t s)
{
    const struct plan *plan = ck->plan;
    const struct plan_service *svc = &plan->services[s];
    const struct plan_bind *bind = &svc->bind;
    char field[160], bind_text[64], addr[INET6_ADDRSTRLEN];
    plan_bind_format(bind, bind_text, sizeof bind_text);
    const char *exposure = plan_exposure_name(svc->exposure);
    bool loopback_bind = bind->kind == PLAN_BIND_LOOPBACK ||
                         (bind->kind == PLAN_BIND_ADDRESS &&
                          address_is_loopback(bind->family, bind->bytes));

    /* the bind address on each host, against the exposure */
    bool reported = false;
    for (size_t i = 0; i < ck->service_host_count[s] && !reported; i++) {
        size_t h = ck->service_hosts[s][i];
        const struct plan_host *host = &plan->hosts[h];
        struct bind_endpoint ep[ENDPOINTS_MAX];
        size_t n = ck_endpoints(ck, s, h, ep);
        for (size_t e = 0; e < n && !reported; e++) {
            bool lo = !ep[e].wildcard && address_is_loopback(ep[e].family, ep[e].bytes);
            if (svc->exposure == PLAN_EXPOSURE_LOOPBACK && !lo) {
                ck_service_field(ck, s, "bind", field, sizeof field);
                if (ep[e].wildcard)
                    ck_report(ck, PLAN_SEVERITY_ERROR, "exposure-bind", &bind->pos, field, NULL,
                              "bind: loopback", "exposure loopback, but bind %s listens on every "
                              "address: other hosts can reach it", bind_text);
                else {
                    ck_address_text(ep[e].family, ep[e].bytes, addr, sizeof addr);
                    ck_report(ck, PLAN_SEVERITY_ERROR, "exposure-bind", &bind->pos, field, NULL,
                              "bind: loopback", "exposure loopback, but bind %s is %s on %s, "
                              "not a loopback address", bind_text, addr, host->name);
                }
                reported = true;
            } else if (svc->exposure != PLAN_EXPOSURE_LOOPBACK && !ep[e].wildcard && !lo &&
                       svc->exposure == PLAN_EXPOSURE_PUBLIC &&
                       address_is_private(ep[e].family, ep[e].bytes)) {
                ck_address_text(ep[e].family, ep[e].bytes, addr, sizeof addr);
                ck_service_field(ck, s, "bind", field, sizeof field);
                ck_report(ck, PLAN_SEVERITY_WARNING, "exposure-private-address", &bind->pos,
                          field, NULL, NULL, "exposure public, but bind %s is the private "
                          "address %s on %s: the Internet cannot reach it", bind_text, addr,
                          host->name);
                reported = true;
            }
        }
        /* internal, listening on every address of a host that has a public one */
        if (!reported && svc->exposure == PLAN_EXPOSURE_INTERNAL && bind->kind == PLAN_BIND_ANY) {
            for (size_t a = 0; a < host->address_count; a++) {
                const struct plan_named_address *na = &host->addresses[a];
                if (address_is_private(na->family, na->bytes) ||
                    address_is_loopback(na->family, na->bytes) || bytes_zero(na->bytes, 16))
                    continue;
                ck_address_text(na->family, na->bytes, addr, sizeof addr);
                ck_service_field(ck, s, "bind", field, sizeof field);
                ck_report(ck, PLAN_SEVERITY_WARNING, "internal-on-public", &bind->pos, field,
                          NULL, "bind it to the host's internal address name",
                          "exposure internal, but bind any also listens on %s's public address "
                          "%s: only the firewall keeps it internal", host->name, addr);
                reported = true;
                break;
            }
        }
    }
    if (loopback_bind && svc->exposure != PLAN_EXPOSURE_LOOPBACK) {
        ck_service_field(ck, s, "bind", field, sizeof field);
        ck_report(ck, PLAN_SEVERITY_ERROR, "exposure-bind", &bind->pos, field, NULL,
                  "bind: any (or an address name), or exposure: loopback",
                  "exposure %s, but bind %s: only the host itself can reach it", exposure,
                  bind_text);
    }

    if (svc->exposure == PLAN_EXPOSURE_INTERNAL) {
        bool any = false;
        const struct plan_pos *any_pos = &svc->pos;
        size_t any_index = 0;
        for (size_t i = 0; i < svc->source_count && !any; i++)
            if (svc->sources[i].kind == PLAN_SOURCE_ANY) {
                any = true;
                any_pos = &svc->sources[i].pos;
                any_index = i;
            }
        if (any) {
            char rest[32];
            snprintf(rest, sizeof rest, "sources[%zu]", any_index);
            ck_service_field(ck, s, rest, field, sizeof field);
            ck_report(ck, PLAN_SEVERITY_ERROR, "exposure-sources", any_pos, field, NULL,
                      "list the internal networks, or exposure: public",
                      "exposure internal, but sources allow any address");
        } else if (svc->source_count == 0) {
            ck_service_field(ck, s, "sources", field, sizeof field);
            ck_report(ck, PLAN_SEVERITY_WARNING, "internal-no-sources", &svc->pos, field, NULL,
                      "add sources: [NETWORK, ...]", "exposure internal without sources: the "
                      "firewall will admit nobody");
        }
    }

    /* a literal bind address the host does not have */
    if (bind->kind == PLAN_BIND_ADDRESS && !loopback_bind && !bytes_zero(bind->bytes, 16)) {
        for (size_t i = 0; i < ck->service_host_count[s]; i++) {
            const struct plan_host *host = &plan->hosts[ck->service_hosts[s][i]];
            bool found = host->address_count == 0;   /* nothing declared: nothing to compare */
            for (size_t a = 0; a < host->address_count && !found; a++)
                found = host->addresses[a].family == bind->family &&
                        memcmp(host->addresses[a].bytes, bind->bytes, 16) == 0;
            if (found)
                continue;
            ck_service_field(ck, s, "bind", field, sizeof field);
            ck_report(ck, PLAN_SEVERITY_WARNING, "bind-address-not-on-host", &bind->pos, field,
                      &host->pos, NULL, "bind %s is not an address of host %s: the bind fails "
                      "with \"Cannot assign requested address\"", bind_text, host->name);
            break;
        }
    }
}

int plan_check(struct plan *plan, const struct plan_check_context *ctx,
               struct plan_diagnostics *diag, struct pr_error *err)
{
    struct checker ck = { .plan = plan, .ctx = ctx, .diag = diag };
    ck.unprivileged_start = ctx && ctx->unprivileged_port_start ? ctx->unprivileged_port_start
                                                                 : 1024u;
    int r = ck_setup(&ck);
    if (r == 0)
        r = ck_resolve_autos(&ck);
    for (size_t s = 0; r == 0 && s < plan->service_count && !ck.failure; s++) {
        for (size_t p = 0; p < plan->services[s].port_count; p++) {
            if (!plan->services[s].ports[p].port)
                continue;   /* an auto that found nothing: reported */
            char field[160];
            ck_port_field(&ck, s, p, field, sizeof field);
            ck_port_policy(&ck, s, p, field);
            ck_port_ephemeral(&ck, s, p, field);
        }
        ck_exposure(&ck, s);
    }
    if (r == 0 && !ck.failure)
        r = ck_bind_conflicts(&ck);
    ck_teardown(&ck);
    if (r == 0)
        r = ck.failure;
    if (r < 0)
        return pr_error_set(err, r, "out of memory");
    return 0;
}
