/* ledger_drift.c — drift per host: the registry (active assignments, quarantines, leases)
 * against what the host's agent reports and what scans saw, in `plan diff`'s columns
 * (present, absent, wrong-address, undeclared) plus the registry's own: unauthorized (a
 * listener on a port of another service, or on a quarantined port), lease-unused (nobody
 * listens on a lease's port after the grace time), filtered (an assigned port a scan found
 * filtered). ledger_drift_host is pure (tests/unit/test_drift.c); ledger_drift reads the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_fleet.h"
#include "ledger/ledger_internal.h"

const char *const ledger_drift_kinds[] = { "present", "absent", "wrong-address", "undeclared", "unauthorized",
                                           "lease-unused", "filtered", NULL };

static void add_item(json_t *items, json_t *counts, const char *kind, const char *source, const char *proto,
                     json_int_t port, const char *address, const json_t *assignment, const json_t *listener,
                     const char *explanation)
{
    json_t *item = json_pack("{s:s, s:s, s:s, s:I, s:s?}", "kind", kind, "source", source, "proto", proto, "port", port,
                             "address", address);
    if (assignment) {
        json_object_set(item, "service", json_object_get(assignment, "service"));
        json_object_set(item, "bind", json_object_get(assignment, "bind"));
        json_object_set(item, json_object_get(assignment, "expires_at") ? "lease" : "assignment",
                        json_object_get(assignment, "id"));
    }
    if (listener) {
        static const char *const keys[] = { "process", "pid", "user", "unit", "container", "netns", NULL };
        for (size_t i = 0; keys[i]; i++)
            json_object_set(item, keys[i], json_object_get(listener, keys[i]) ? json_object_get(listener, keys[i])
                                                                                   : json_null());
    }
    json_object_set_new(item, "explanation", json_string(explanation));
    json_array_append_new(items, item);
    json_object_set_new(counts, kind, json_integer(json_integer_value(json_object_get(counts, kind)) + 1));
}

/* Is a listener on address allowed by bind (the host's addresses)? A wildcard listener only
 * by a wildcard bind (declared loopback, bound to 0.0.0.0 is on the wrong address). */
static bool address_within_bind(const char *address, const char *bind, const json_t *host_row)
{
    struct bind_endpoint mine, theirs[LEDGER_ENDPOINTS_MAX];
    if (!bind_endpoint_from_text(address, &mine))
        return false;
    int n = ledger_bind_endpoints(bind, json_object_get(host_row, "addresses"), theirs);
    if (n < 0)
        return true;   /* an address name the host no longer has: cannot tell, not drift */
    for (int i = 0; i < n; i++) {
        if (theirs[i].wildcard && (theirs[i].family == 0 || theirs[i].family == mine.family))
            return true;
        if (!mine.wildcard && bind_endpoint_overlap(&mine, &theirs[i]))
            return true;
    }
    return false;
}

static bool port_in(const json_t *row, const char *proto, json_int_t port)
{
    const char *p = store_row_text(row, "proto");
    json_int_t lo = store_row_int(row, json_object_get(row, "port_lo") ? "port_lo" : "port", -1);
    json_int_t hi = store_row_int(row, json_object_get(row, "port_hi") ? "port_hi" : "port", -1);
    return p && strcmp(p, proto) == 0 && port >= lo && port <= hi;
}

static bool is_state(const json_t *row, const char *state)
{
    const char *s = store_row_text(row, "state");
    return s && strcmp(s, state) == 0;
}

/* The service a listener names: its unit without ".service", else its process. */
static bool listener_names_service(const json_t *listener, const json_t *services, const char *other)
{
    char unit[256] = "";
    const char *u = json_string_value(json_object_get(listener, "unit"));
    if (u) {
        snprintf(unit, sizeof unit, "%s", u);
        char *dot = strrchr(unit, '.');
        if (dot && strcmp(dot, ".service") == 0)
            *dot = '\0';
    }
    const char *process = json_string_value(json_object_get(listener, "process"));
    size_t i;
    json_t *s;
    json_array_foreach(services, i, s) {
        const char *name = json_string_value(s);
        if (!name || strcmp(name, other) == 0)
            continue;
        if ((unit[0] && strcmp(unit, name) == 0) || (process && strcmp(process, name) == 0))
            return true;
    }
    return false;
}

json_t *ledger_drift_host(const json_t *host_row, const json_t *assignments, const json_t *leases,
                          const json_t *observation, const json_t *scan, const json_t *services, int64_t now)
{
    const char *host = store_row_text(host_row, "name");
    json_t *items = json_array(), *counts = json_object();
    for (size_t k = 0; ledger_drift_kinds[k]; k++)
        json_object_set_new(counts, ledger_drift_kinds[k], json_integer(0));
    json_t *listeners = observation ? json_object_get(observation, "listeners") : NULL;
    int64_t interval = store_row_int(observation, "interval_s", LEDGER_DEFAULT_INTERVAL);
    size_t i, j;
    json_t *a, *l;
    char text[256];
    if (observation) {
        /* assignments: present, absent, wrong-address; another service's listener: unauthorized */
        json_array_foreach(assignments, i, a) {
            if (!is_state(a, "active"))
                continue;
            const char *proto = store_row_text(a, "proto");
            json_int_t lo = store_row_int(a, "port_lo", 0);
            bool any = false, right = false;
            const json_t *first_wrong = NULL;
            json_array_foreach(listeners, j, l) {
                json_int_t port = json_integer_value(json_object_get(l, "local_port"));
                if (!port_in(a, json_string_value(json_object_get(l, "proto")), port))
                    continue;
                any = true;
                const char *address = json_string_value(json_object_get(l, "local_address"));
                if (listener_names_service(l, services, store_row_text(a, "service"))) {
                    snprintf(text, sizeof text, "assigned to %s, but another registered service listens",
                             store_row_text(a, "service"));
                    add_item(items, counts, "unauthorized", "agent", proto, port, address, a, l, text);
                } else if (address_within_bind(address, store_row_text(a, "bind"), host_row)) {
                    if (!right)
                        add_item(items, counts, "present", "agent", proto, port, address, a, l, "assigned and listening");
                    right = true;
                } else if (!first_wrong) {
                    first_wrong = l;
                }
            }
            if (!right && first_wrong) {
                snprintf(text, sizeof text, "assigned with bind %s, listening on another address",
                         store_row_text(a, "bind"));
                add_item(items, counts, "wrong-address", "agent", proto,
                         json_integer_value(json_object_get(first_wrong, "local_port")),
                         json_string_value(json_object_get(first_wrong, "local_address")), a, first_wrong, text);
            } else if (!any) {
                add_item(items, counts, "absent", "agent", proto, lo, "", a, NULL, "assigned, nothing listens");
            }
        }
        /* listeners of no assignment or lease: undeclared; on a quarantined port: unauthorized */
        json_array_foreach(listeners, j, l) {
            const char *proto = json_string_value(json_object_get(l, "proto"));
            json_int_t port = json_integer_value(json_object_get(l, "local_port"));
            const char *address = json_string_value(json_object_get(l, "local_address"));
            bool held = false;
            const json_t *quarantined = NULL;
            json_array_foreach(assignments, i, a)
                if (port_in(a, proto, port)) {
                    if (is_state(a, "active"))
                        held = true;
                    else if (is_state(a, "quarantined"))
                        quarantined = a;
                }
            json_array_foreach(leases, i, a)
                if (is_state(a, "active") && port_in(a, proto, port))
                    held = true;
            if (held)
                continue;
            if (quarantined)
                add_item(items, counts, "unauthorized", "agent", proto, port, address, quarantined, l,
                         "listening on a quarantined port (deassigned, not yet free)");
            else
                add_item(items, counts, "undeclared", "agent", proto, port, address, NULL, l,
                         "listening, but nothing is assigned or leased on this port");
        }
        /* leases nobody listens on after the grace time */
        json_array_foreach(leases, i, a) {
            if (!is_state(a, "active") || now - store_row_int(a, "updated", store_row_int(a, "created", now)) <
                                              LEDGER_LEASE_GRACE_INTERVALS * interval)
                continue;
            if (now - store_row_int(observation, "created", now) < LEDGER_LEASE_GRACE_INTERVALS * interval)
                continue;
            const char *proto = store_row_text(a, "proto");
            json_int_t port = store_row_int(a, "port", 0);
            bool heard = false;
            json_array_foreach(listeners, j, l)
                if (port_in(a, json_string_value(json_object_get(l, "proto")),
                            json_integer_value(json_object_get(l, "local_port"))))
                    heard = true;
            if (!heard)
                add_item(items, counts, "lease-unused", "agent", proto, port, "", a, NULL,
                         "leased, nothing has listened on it for two report intervals");
        }
    }
    if (scan) {
        json_array_foreach(json_object_get(scan, "open"), j, l) {
            const char *proto = json_string_value(json_object_get(l, "proto"));
            json_int_t port = json_integer_value(json_object_get(l, "port"));
            bool held = false;
            json_array_foreach(assignments, i, a)
                if (is_state(a, "active") && port_in(a, proto, port))
                    held = true;
            json_array_foreach(leases, i, a)
                if (is_state(a, "active") && port_in(a, proto, port))
                    held = true;
            if (!held)
                add_item(items, counts, "undeclared", "scan", proto, port,
                         json_string_value(json_object_get(l, "address")), NULL, NULL,
                         "open from the network, but nothing is assigned or leased on this port");
        }
        json_array_foreach(json_object_get(scan, "filtered"), j, l) {
            const char *proto = json_string_value(json_object_get(l, "proto"));
            json_int_t port = json_integer_value(json_object_get(l, "port"));
            json_array_foreach(assignments, i, a)
                if (is_state(a, "active") && port_in(a, proto, port)) {
                    add_item(items, counts, "filtered", "scan", proto, port,
                             json_string_value(json_object_get(l, "address")), a, NULL,
                             "assigned, but a scan found it filtered");
                    break;
                }
        }
    }
    json_t *agent = json_null();
    if (observation)
        agent = json_pack("{s:I, s:I, s:I, s:b, s:I}", "seq", (json_int_t)store_row_int(observation, "seq", 0),
                          "last_seen", (json_int_t)store_row_int(observation, "last_seen", 0), "age_s",
                          (json_int_t)(now - store_row_int(observation, "last_seen", now)), "stale",
                          ledger_observation_stale(observation, now), "interval_s", (json_int_t)interval);
    json_t *scan_info = scan ? json_pack("{s:I, s:O}", "time", (json_int_t)store_row_int(scan, "time", 0), "scanner",
                                         json_object_get(scan, "scanner")) : json_null();
    json_int_t drift = 0;
    const char *kind;
    json_t *n;
    json_object_foreach(counts, kind, n)
        if (strcmp(kind, "present") != 0)
            drift += json_integer_value(n);
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:I}", "host", host ? host : "", "agent", agent, "scan", scan_info,
                     "items", items, "counts", counts, "drift", drift);
}

/* rows of kind whose host is host */
static json_t *rows_of(const json_t *rows, const char *host)
{
    json_t *out = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
        if (store_row_text(row, "host") && strcmp(store_row_text(row, "host"), host) == 0)
            json_array_append(out, row);
    return out;
}

static json_t *row_of(const json_t *rows, const char *host)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
        if (store_row_text(row, "host") && strcmp(store_row_text(row, "host"), host) == 0)
            return row;
    return NULL;
}

int ledger_drift(struct ledger *ledger, const char *host, json_t **out, struct ledger_error *lerr)
{
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, false, &txn, lerr) < 0)
        return -1;
    json_t *hosts = NULL, *assignments = NULL, *leases = NULL, *observations = NULL, *scans = NULL, *services = NULL;
    json_t *service_names = json_array();
    int r = ledger_txn_list_all(&txn, STORE_HOSTS, host ? "name" : NULL, host, &hosts, lerr);
    if (r == 0 && host && json_array_size(hosts) == 0)
        r = ledger_fail(lerr, LEDGER_NOT_FOUND, "not-found", "host", "host %s is not in the registry", host);
    if (r == 0)
        r = ledger_txn_list_all(&txn, STORE_ASSIGNMENTS, host ? "host" : NULL, host, &assignments, lerr);
    if (r == 0)
        r = ledger_txn_list_all(&txn, STORE_LEASES, host ? "host" : NULL, host, &leases, lerr);
    if (r == 0)
        r = ledger_txn_list_all(&txn, STORE_OBSERVATIONS, host ? "host" : NULL, host, &observations, lerr);
    if (r == 0)
        r = ledger_txn_list_all(&txn, STORE_SCANS, host ? "host" : NULL, host, &scans, lerr);
    if (r == 0)
        r = ledger_txn_list_all(&txn, STORE_SERVICES, NULL, NULL, &services, lerr);
    json_t *result = NULL;
    if (r == 0) {
        size_t i;
        json_t *row;
        json_array_foreach(services, i, row)
            json_array_append_new(service_names, json_string(store_row_text(row, "name")));
        json_array_foreach(assignments, i, row)
            json_array_append_new(service_names, json_string(store_row_text(row, "service")));
        int64_t now = ledger_now(ledger);
        json_t *per_host = json_array(), *totals = json_object(), *stale = json_array();
        for (size_t k = 0; ledger_drift_kinds[k]; k++)
            json_object_set_new(totals, ledger_drift_kinds[k], json_integer(0));
        json_int_t drift = 0;
        json_array_foreach(hosts, i, row) {
            const char *name = store_row_text(row, "name");
            json_t *mine_a = rows_of(assignments, name), *mine_l = rows_of(leases, name);
            json_t *observation = row_of(observations, name);
            json_t *h = ledger_drift_host(row, mine_a, mine_l, observation, row_of(scans, name), service_names, now);
            json_decref(mine_a);
            json_decref(mine_l);
            const char *kind;
            json_t *n;
            json_object_foreach(json_object_get(h, "counts"), kind, n)
                json_object_set_new(totals, kind, json_integer(json_integer_value(json_object_get(totals, kind)) +
                                                               json_integer_value(n)));
            drift += json_integer_value(json_object_get(h, "drift"));
            if (observation && ledger_observation_stale(observation, now))
                json_array_append_new(stale, json_string(name));
            json_array_append_new(per_host, h);
        }
        result = json_pack("{s:o, s:o, s:I, s:o}", "hosts", per_host, "counts", totals, "drift", drift, "stale", stale);
    }
    json_decref(hosts);
    json_decref(assignments);
    json_decref(leases);
    json_decref(observations);
    json_decref(scans);
    json_decref(services);
    json_decref(service_names);
    return ledger_txn_end_with_row(&txn, r, result, out, lerr);
}
