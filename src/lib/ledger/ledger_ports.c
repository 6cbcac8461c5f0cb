/* ledger_ports.c — who holds a port: bind scopes as addresses of a host, the overlap rule of
 * plan check (net/bind_overlap.c, the one function both use), the conflict search inside a
 * transaction (also for a host whose addresses change under its assignments), and the
 * per-(host, proto) 65,536-bit maps the free-port search walks (rebuilt from the store at
 * start, kept in step after commits). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_internal.h"

int ledger_bind_endpoints(const char *bind, const json_t *addresses, struct bind_endpoint *out)
{
    if (!bind || strcmp(bind, "any") == 0)
        return (int)bind_endpoints_any(out);
    if (strcmp(bind, "loopback") == 0)
        return (int)bind_endpoints_loopback(out);
    if (bind_endpoint_from_text(bind, &out[0]))
        return 1;
    const char *address = json_string_value(json_object_get(addresses, bind));
    if (address && bind_endpoint_from_text(address, &out[0]))
        return 1;
    return -1;
}

/* The search of ledger_find_conflict. self: an existing assignment checked where it is (its
 * host's addresses changing); it is not in its own way, and when it is quarantined no
 * assignment of its service is either (as PostgreSQL's port_claims: one owner). */
static int find_conflict(struct ledger_txn *txn, const char *host, const json_t *host_row, const char *proto,
                         unsigned lo, unsigned hi, const char *service, const char *bind, const json_t *self,
                         json_t **conflict, const char **what, struct ledger_error *lerr)
{
    *conflict = NULL;
    json_t *assignments = NULL, *leases = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    if (txn->ledger->backend->claims(txn->conn, host, proto, lo, hi, ledger_now(txn->ledger), &assignments,
                                     &leases, &err) < 0) {
        json_decref(assignments);
        json_decref(leases);
        return ledger_store_fail(lerr, &err, "claims");
    }
    const json_t *addresses = json_object_get(host_row, "addresses");
    struct bind_endpoint mine[LEDGER_ENDPOINTS_MAX], theirs[LEDGER_ENDPOINTS_MAX];
    int n_mine = ledger_bind_endpoints(bind, addresses, mine);
    const char *self_state = self ? store_row_text(self, "state") : NULL;
    bool self_quarantined = self_state && strcmp(self_state, "quarantined") == 0;
    size_t i;
    json_t *row;
    json_array_foreach(assignments, i, row) {
        if (self && store_row_int(row, "id", -1) == store_row_int(self, "id", 0))
            continue;
        const char *state = store_row_text(row, "state");
        bool quarantined = state && strcmp(state, "quarantined") == 0;
        if ((quarantined || self_quarantined) && service &&
            strcmp(store_row_text(row, "service") ? store_row_text(row, "service") : "", service) == 0)
            continue;
        int n_theirs = ledger_bind_endpoints(store_row_text(row, "bind"), addresses, theirs);
        /* an address name the host no longer has: count it as every address (never too lax) */
        if (n_theirs < 0)
            n_theirs = ledger_bind_endpoints("any", NULL, theirs);
        if (n_mine < 0 || bind_endpoints_overlap(mine, (size_t)n_mine, theirs, (size_t)n_theirs)) {
            *conflict = json_incref(row);
            *what = quarantined ? "quarantined" : "assignment";
            break;
        }
    }
    if (!*conflict && json_array_size(leases)) {
        *conflict = json_incref(json_array_get(leases, 0));
        *what = "lease";
    }
    json_decref(assignments);
    json_decref(leases);
    return 0;
}

int ledger_find_conflict(struct ledger_txn *txn, const char *host, const json_t *host_row, const char *proto,
                         unsigned lo, unsigned hi, const char *service, const char *bind, json_t **conflict,
                         const char **what, struct ledger_error *lerr)
{
    return find_conflict(txn, host, host_row, proto, lo, hi, service, bind, NULL, conflict, what, lerr);
}

/* Whether bind means other addresses under after than under before (a name moved, came or went). */
static bool bind_moves(const char *bind, const json_t *before, const json_t *after)
{
    struct bind_endpoint old_endpoints[LEDGER_ENDPOINTS_MAX], new_endpoints[LEDGER_ENDPOINTS_MAX];
    memset(old_endpoints, 0, sizeof old_endpoints);
    memset(new_endpoints, 0, sizeof new_endpoints);
    int n_old = ledger_bind_endpoints(bind, before, old_endpoints);
    int n_new = ledger_bind_endpoints(bind, after, new_endpoints);
    return n_old != n_new || (n_new > 0 && memcmp(old_endpoints, new_endpoints, (size_t)n_new * sizeof *new_endpoints) != 0);
}

int ledger_check_host_addresses(struct ledger_txn *txn, const json_t *before, const json_t *after,
                                struct ledger_error *lerr)
{
    const char *host = store_row_text(after, "name");
    const json_t *old_addresses = json_object_get(before, "addresses"), *new_addresses = json_object_get(after, "addresses");
    json_t *rows = NULL;
    if (ledger_txn_list_all(txn, STORE_ASSIGNMENTS, "host", host, &rows, lerr) < 0)
        return -1;
    int64_t now = ledger_now(txn->ledger);
    int r = 0;
    size_t i;
    json_t *a;
    json_array_foreach(rows, i, a) {
        const char *state = store_row_text(a, "state") ? store_row_text(a, "state") : "";
        bool holds = strcmp(state, "active") == 0 ||
                     (strcmp(state, "quarantined") == 0 && store_row_int(a, "quarantine_until", 0) > now);
        const char *bind = store_row_text(a, "bind");
        if (!holds || !bind_moves(bind, old_addresses, new_addresses))
            continue;
        /* a pair of which neither moves was checked when the later one was made */
        unsigned lo = (unsigned)store_row_int(a, "port_lo", 0), hi = (unsigned)store_row_int(a, "port_hi", 0);
        const char *proto = store_row_text(a, "proto"), *service = store_row_text(a, "service"), *what = NULL;
        json_t *conflict = NULL;
        if ((r = find_conflict(txn, host, after, proto, lo, hi, service, bind, a, &conflict, &what, lerr)) < 0)
            break;
        if (conflict) {
            unsigned at = (unsigned)store_row_int(conflict, "port_lo", store_row_int(conflict, "port", lo));
            bool quarantine = strcmp(what, "quarantined") == 0;
            r = ledger_fail(lerr, LEDGER_CONFLICT, quarantine ? "quarantined" : "port-taken", "addresses",
                            "with these addresses assignment %lld of %s (bind %s) would overlap %s %lld "
                            "of %s on port %u/%s of %s", (long long)store_row_int(a, "id", 0), service, bind,
                            quarantine ? "quarantined assignment" : what,
                            (long long)store_row_int(conflict, "id", 0), store_row_text(conflict, "service"),
                            at < lo ? lo : at, proto, host);
            lerr->conflict = conflict;
            break;
        }
    }
    json_decref(rows);
    return r;
}

/* ---- port maps ---- */

struct port_map *ledger_port_map_existing(struct ledger *ledger, const char *host, const char *proto)
{
    /* a linear search: fine for hundreds of hosts; a hash table when thousands come */
    for (size_t i = 0; i < ledger->map_count; i++)
        if (strcmp(ledger->maps[i].host, host) == 0 && strcmp(ledger->maps[i].proto, proto) == 0)
            return &ledger->maps[i];
    return NULL;
}

struct port_map *ledger_port_map(struct ledger *ledger, const char *host, const char *proto)
{
    struct port_map *existing = ledger_port_map_existing(ledger, host, proto);
    if (existing)
        return existing;
    if (ledger->map_count == ledger->map_capacity) {
        size_t capacity = ledger->map_capacity ? ledger->map_capacity * 2 : 8;
        struct port_map *maps = realloc(ledger->maps, capacity * sizeof *maps);
        if (!maps)
            return NULL;
        ledger->maps = maps;
        ledger->map_capacity = capacity;
    }
    struct port_map *map = &ledger->maps[ledger->map_count++];
    memset(map, 0, sizeof *map);
    snprintf(map->host, sizeof map->host, "%s", host);
    snprintf(map->proto, sizeof map->proto, "%s", proto);
    return map;
}

/* Remember a quarantine (once) so that its end frees its ports in memory. */
static void quarantine_remember(struct ledger *ledger, const char *host, const char *proto, unsigned lo, unsigned hi,
                                int64_t until)
{
    for (size_t i = 0; i < ledger->quarantine_count; i++) {
        struct map_quarantine *q = &ledger->quarantines[i];
        if (q->lo == lo && q->hi == hi && q->until == until && strcmp(q->host, host) == 0 && strcmp(q->proto, proto) == 0)
            return;
    }
    if (ledger->quarantine_count == ledger->quarantine_capacity) {
        size_t capacity = ledger->quarantine_capacity ? ledger->quarantine_capacity * 2 : 16;
        struct map_quarantine *grown = realloc(ledger->quarantines, capacity * sizeof *grown);
        if (!grown)
            return;   /* not remembered: the port stays marked (never wrongly free) until restart */
        ledger->quarantines = grown;
        ledger->quarantine_capacity = capacity;
    }
    struct map_quarantine *q = &ledger->quarantines[ledger->quarantine_count++];
    snprintf(q->host, sizeof q->host, "%s", host);
    snprintf(q->proto, sizeof q->proto, "%s", proto);
    q->lo = lo;
    q->hi = hi;
    q->until = until;
}

static void mark_claims(struct ledger *ledger, const json_t *assignments, const json_t *leases)
{
    size_t i;
    json_t *row;
    json_array_foreach(assignments, i, row) {
        const char *host = store_row_text(row, "host"), *proto = store_row_text(row, "proto");
        struct port_map *map = ledger_port_map(ledger, host, proto);
        if (!map)
            continue;
        uint16_t lo = (uint16_t)store_row_int(row, "port_lo", 0), hi = (uint16_t)store_row_int(row, "port_hi", 0);
        bool quarantined = strcmp(store_row_text(row, "state") ? store_row_text(row, "state") : "", "quarantined") == 0;
        port_set_add_range(&map->taken, lo, hi);
        port_set_add_range(quarantined ? &map->quarantined : &map->assigned, lo, hi);
        if (quarantined)
            quarantine_remember(ledger, host, proto, lo, hi, store_row_int(row, "quarantine_until", 0));
    }
    json_array_foreach(leases, i, row) {
        struct port_map *map = ledger_port_map(ledger, store_row_text(row, "host"), store_row_text(row, "proto"));
        if (!map)
            continue;
        port_set_add(&map->taken, (uint16_t)store_row_int(row, "port", 0));
        port_set_add(&map->leased, (uint16_t)store_row_int(row, "port", 0));
    }
}

int ledger_quarantines_expire(struct ledger *ledger, struct ledger_txn *txn, struct ledger_error *lerr)
{
    int64_t now = ledger_now(ledger);
    size_t i = 0;
    while (i < ledger->quarantine_count) {
        struct map_quarantine q = ledger->quarantines[i];
        if (q.until > now) {
            i++;
            continue;
        }
        ledger->quarantines[i] = ledger->quarantines[--ledger->quarantine_count];
        if (ledger_port_map_refresh(ledger, txn, q.host, q.proto, q.lo, q.hi, lerr) < 0)
            return -1;
    }
    return 0;
}

int ledger_port_maps_rebuild(struct ledger *ledger, struct ledger_txn *txn, struct ledger_error *lerr)
{
    ledger->map_count = 0;
    ledger->quarantine_count = 0;
    json_t *assignments = NULL, *leases = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    int r = ledger->backend->all_claims(txn->conn, ledger_now(ledger), &assignments, &leases, &err);
    if (r < 0)
        r = ledger_store_fail(lerr, &err, "claims");
    else
        mark_claims(ledger, assignments, leases);
    json_decref(assignments);
    json_decref(leases);
    return r;
}

int ledger_port_map_refresh(struct ledger *ledger, struct ledger_txn *txn, const char *host, const char *proto,
                            unsigned lo, unsigned hi, struct ledger_error *lerr)
{
    struct port_map *map = ledger_port_map(ledger, host, proto);
    if (!map)
        return ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
    json_t *assignments = NULL, *leases = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    if (ledger->backend->claims(txn->conn, host, proto, lo, hi, ledger_now(ledger), &assignments, &leases, &err) < 0)
        return ledger_store_fail(lerr, &err, "claims");
    for (unsigned p = lo; p <= hi; p++) {
        uint64_t keep = ~(UINT64_C(1) << (p & 63));
        map->taken.bits[p >> 6] &= keep;
        map->assigned.bits[p >> 6] &= keep;
        map->leased.bits[p >> 6] &= keep;
        map->quarantined.bits[p >> 6] &= keep;
    }
    /* claims of the range may reach outside it: they are marked already, marking again is harmless */
    mark_claims(ledger, assignments, leases);
    json_decref(assignments);
    json_decref(leases);
    return 0;
}
