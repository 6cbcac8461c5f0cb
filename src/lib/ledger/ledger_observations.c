/* ledger_observations.c — agent reports and network scans into the store (issue 11): the
 * latest observation per host (full reports replace it, deltas apply on the seq they name,
 * heartbeats only refresh last_seen), each listener that appears or goes an event
 * (observation.added / observation.removed), the count of clean reports that lets a
 * quarantined port go, and the latest scan per host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_body.h"
#include "ledger/ledger_fleet.h"
#include "ledger/ledger_internal.h"

bool ledger_observation_stale(const json_t *observation, int64_t now)
{
    int64_t interval = store_row_int(observation, "interval_s", LEDGER_DEFAULT_INTERVAL);
    return now - store_row_int(observation, "last_seen", 0) > LEDGER_STALE_INTERVALS * interval;
}

/* listeners array → object key → listener (borrowed values, incref'd) */
static json_t *listeners_by_key(const json_t *listeners)
{
    json_t *map = json_object();
    size_t i;
    json_t *l;
    json_array_foreach(listeners, i, l) {
        char key[320];
        json_object_set(map, ledger_listener_key(l, key, sizeof key), l);
    }
    return map;
}

static bool listening_on(const json_t *listeners, const char *proto, unsigned lo, unsigned hi)
{
    size_t i;
    json_t *l;
    json_array_foreach(listeners, i, l) {
        json_int_t port = json_integer_value(json_object_get(l, "local_port"));
        const char *p = json_string_value(json_object_get(l, "proto"));
        if (p && strcmp(p, proto) == 0 && port >= lo && port <= hi)
            return true;
    }
    return false;
}

/* Move the in-memory quarantine of an assignment to its new end. */
static void map_quarantine_move(struct ledger *ledger, const json_t *a, int64_t until)
{
    for (size_t i = 0; i < ledger->quarantine_count; i++) {
        struct map_quarantine *q = &ledger->quarantines[i];
        if (strcmp(q->host, store_row_text(a, "host")) == 0 && strcmp(q->proto, store_row_text(a, "proto")) == 0 &&
            q->lo == (unsigned)store_row_int(a, "port_lo", 0) && q->hi == (unsigned)store_row_int(a, "port_hi", 0))
            q->until = until;
    }
}

/* After a report: count the clean reports of each quarantined assignment of the host; hold
 * the quarantine until LEDGER_QUIET_REPORTS of them have come (never shorter than its date),
 * then let it end at its date (or now, when that has passed). quiet: "id" → {"count","until"}. */
static int update_quarantine_holds(struct ledger_txn *txn, const struct ledger_actor *actor, const char *host,
                                   json_t *observation, struct ledger_error *lerr)
{
    struct ledger *ledger = txn->ledger;
    int64_t now = ledger_now(ledger), interval = store_row_int(observation, "interval_s", LEDGER_DEFAULT_INTERVAL);
    json_t *assignments = NULL;
    if (ledger_txn_list_all(txn, STORE_ASSIGNMENTS, "host", host, &assignments, lerr) < 0)
        return -1;
    json_t *old_quiet = json_object_get(observation, "quiet"), *quiet = json_object();
    json_t *listeners = json_object_get(observation, "listeners");
    size_t i;
    json_t *a;
    int r = 0;
    json_array_foreach(assignments, i, a) {
        if (r < 0 || strcmp(store_row_text(a, "state") ? store_row_text(a, "state") : "", "quarantined") != 0)
            continue;
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)store_row_int(a, "id", 0));
        json_t *entry = json_object_get(old_quiet, id);
        int64_t count = store_row_int(entry, "count", 0);
        int64_t date = store_row_int(entry, "until", store_row_int(a, "quarantine_until", now));
        int64_t until = store_row_int(a, "quarantine_until", now);
        if (until <= now && !entry)
            continue;   /* ended before this host's agent knew of it */
        count = listening_on(listeners, store_row_text(a, "proto"), (unsigned)store_row_int(a, "port_lo", 0),
                             (unsigned)store_row_int(a, "port_hi", 0)) ? 0 : count + 1;
        int64_t want = count < LEDGER_QUIET_REPORTS ? now + (LEDGER_QUIET_REPORTS - count + 1) * interval : now;
        if (want < date)
            want = date;
        if (count < LEDGER_QUIET_REPORTS || date > now)
            json_object_set_new(quiet, id, json_pack("{s:I, s:I}", "count", (json_int_t)count, "until", (json_int_t)date));
        if (want != until) {
            json_t *before = json_deep_copy(a);
            json_object_set_new(a, "quarantine_until", json_integer((json_int_t)want));
            r = ledger_txn_update(txn, STORE_ASSIGNMENTS, a, -1, lerr);
            if (r == 0 && want > until && until <= now + interval * (LEDGER_QUIET_REPORTS + 1) && !entry)
                r = ledger_event(txn, actor, "assignment.quarantine-held", "assignments", store_row_int(a, "id", 0),
                                 before, a, lerr);
            json_decref(before);
            if (r == 0) {
                map_quarantine_move(ledger, a, want);
                if (want <= now)
                    r = ledger_port_map_refresh(ledger, txn, host, store_row_text(a, "proto"),
                                                (unsigned)store_row_int(a, "port_lo", 1),
                                                (unsigned)store_row_int(a, "port_hi", 1), lerr);
            }
        }
    }
    json_decref(assignments);
    json_object_set_new(observation, "quiet", quiet);
    return r;
}

static int listener_event(struct ledger_txn *txn, const struct ledger_actor *actor, int64_t id, const char *kind,
                          json_t *listener, const char *host, struct ledger_error *lerr)
{
    json_t *shown = json_deep_copy(listener);
    json_object_set_new(shown, "host", json_string(host));
    int r = ledger_event(txn, actor, kind, "observations", id, strcmp(kind, "observation.removed") == 0 ? shown : NULL,
                         strcmp(kind, "observation.added") == 0 ? shown : NULL, lerr);
    json_decref(shown);
    return r;
}

int ledger_observation_report(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                              json_t **out, struct ledger_error *lerr)
{
    if (ledger_observation_validate(body, lerr) < 0)
        return -1;
    const char *host = json_string_value(json_object_get(body, "host"));
    if (actor->role == LEDGER_ROLE_AGENT ? strcmp(actor->host, host) != 0 : actor->role != LEDGER_ROLE_ADMIN)
        return ledger_fail(lerr, LEDGER_FORBIDDEN, "forbidden", "host", actor->role == LEDGER_ROLE_AGENT
                           ? "this agent token reports for host %s only" : "observations come from agent tokens (or admin)%s",
                           actor->role == LEDGER_ROLE_AGENT ? actor->host : "");
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    int64_t now = ledger_now(ledger);
    json_t *host_row = NULL, *row = NULL, *added = json_array(), *removed = json_array();
    int r = ledger_txn_find(&txn, STORE_HOSTS, "name", host, &host_row, lerr);
    if (r == 0 && !host_row)
        r = ledger_fail(lerr, LEDGER_NOT_FOUND, "unknown-host", "host", "host %s is not in the registry", host);
    if (r == 0)
        r = ledger_txn_find(&txn, STORE_OBSERVATIONS, "host", host, &row, lerr);
    bool full = json_is_true(json_object_get(body, "full"));
    if (r == 0 && !full && (!row || store_row_int(row, "seq", -1) != (int64_t)json_integer_value(json_object_get(body, "base"))))
        r = ledger_fail(lerr, LEDGER_CONFLICT, "resync", "base",
                        row ? "base %lld is not the last report the server has (%lld): send a full report"
                            : "base %lld: the server has no report of this host: send a full report",
                        (long long)json_integer_value(json_object_get(body, "base")),
                        (long long)store_row_int(row, "seq", 0));
    json_t *old = r == 0 && row ? json_object_get(row, "listeners") : NULL;
    json_t *current = listeners_by_key(json_is_array(old) ? old : NULL);
    if (r == 0 && full) {
        json_t *fresh = listeners_by_key(json_object_get(body, "listeners"));
        const char *key;
        json_t *l;
        json_object_foreach(current, key, l)
            if (!json_object_get(fresh, key))
                json_array_append(removed, l);
        json_object_foreach(fresh, key, l)
            if (!json_object_get(current, key) || !json_equal(json_object_get(current, key), l))
                json_array_append(added, l);
        json_decref(current);
        current = fresh;
    } else if (r == 0) {
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(body, "removed"), i, l) {
            char key[320];
            json_t *had = json_object_get(current, ledger_listener_key(l, key, sizeof key));
            if (had) {
                json_array_append(removed, had);
                json_object_del(current, key);
            }
        }
        json_array_foreach(json_object_get(body, "added"), i, l) {
            char key[320];
            ledger_listener_key(l, key, sizeof key);
            if (!json_equal(json_object_get(current, key), l)) {
                json_array_append(added, l);
                json_object_set(current, key, l);
            }
        }
    }
    if (r == 0) {
        bool fresh_row = !row;
        if (fresh_row)
            row = json_pack("{s:s, s:I, s:I, s:I}", "host", host, "version", (json_int_t)0, "created", (json_int_t)now,
                            "reports", (json_int_t)0);
        json_t *list = json_array();
        const char *key;
        json_t *l;
        json_object_foreach(current, key, l)
            json_array_append(list, l);
        json_object_set_new(row, "listeners", list);
        json_object_set(row, "seq", json_object_get(body, "seq"));
        static const char *const carried[] = { "agent", "ephemeral", "reserved", "findings", NULL };
        for (size_t k = 0; carried[k]; k++)
            if (json_object_get(body, carried[k]))
                json_object_set(row, carried[k], json_object_get(body, carried[k]));
        json_t *interval = json_object_get(json_object_get(body, "agent"), "interval_s");
        if (interval)
            json_object_set(row, "interval_s", interval);
        else if (!json_is_integer(json_object_get(row, "interval_s")))
            json_object_set_new(row, "interval_s", json_integer(LEDGER_DEFAULT_INTERVAL));
        json_object_set_new(row, "last_seen", json_integer((json_int_t)now));
        json_object_set_new(row, "updated", json_integer((json_int_t)now));
        json_object_set_new(row, "reports", json_integer((json_int_t)(store_row_int(row, "reports", 0) + 1)));
        r = update_quarantine_holds(&txn, actor, host, row, lerr);
        if (r == 0 && fresh_row) {
            int64_t id;
            struct pr_error err;
            pr_error_clear(&err);
            json_object_set_new(row, "version", json_integer(1));
            if (ledger->backend->insert(txn.conn, STORE_OBSERVATIONS, row, &id, &err) < 0)
                r = ledger_store_fail(lerr, &err, "observations");
        } else if (r == 0) {
            r = ledger_txn_update(&txn, STORE_OBSERVATIONS, row, -1, lerr);
        }
        int64_t id = store_row_int(row, "id", 0);
        size_t i;
        json_array_foreach(removed, i, l)
            if (r == 0)
                r = listener_event(&txn, actor, id, "observation.removed", l, host, lerr);
        json_array_foreach(added, i, l)
            if (r == 0)
                r = listener_event(&txn, actor, id, "observation.added", l, host, lerr);
    }
    json_t *answer = r == 0 ? json_pack("{s:s, s:O, s:I}", "host", host, "seq", json_object_get(body, "seq"), "listeners",
                                        (json_int_t)json_object_size(current)) : NULL;
    json_decref(current);
    json_decref(added);
    json_decref(removed);
    json_decref(host_row);
    json_decref(row);
    return ledger_txn_end_with_row(&txn, r, answer, out, lerr);
}

static void add_liveness(json_t *row, int64_t now)
{
    json_object_set_new(row, "age_s", json_integer((json_int_t)(now - store_row_int(row, "last_seen", now))));
    json_object_set_new(row, "stale", json_boolean(ledger_observation_stale(row, now)));
    json_object_del(row, "quiet");
}

int ledger_observations_get(struct ledger *ledger, const char *host, json_t **out, struct ledger_error *lerr)
{
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, false, &txn, lerr) < 0)
        return -1;
    json_t *rows = NULL;
    int r;
    int64_t now = ledger_now(ledger);
    if (host) {
        r = ledger_txn_find(&txn, STORE_OBSERVATIONS, "host", host, &rows, lerr);
        if (r == 0 && !rows)
            r = ledger_fail(lerr, LEDGER_NOT_FOUND, "not-found", "host", "no agent has reported for host %s", host);
        if (r == 0)
            add_liveness(rows, now);
    } else {
        r = ledger_txn_list_all(&txn, STORE_OBSERVATIONS, NULL, NULL, &rows, lerr);
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
            add_liveness(row, now);
        if (r == 0)
            rows = json_pack("{s:o}", "items", rows);
    }
    return ledger_txn_end_with_row(&txn, r, rows, out, lerr);
}

int ledger_observed_listeners(struct ledger_txn *txn, const char *host, const char *proto, unsigned lo, unsigned hi,
                              json_t **listeners, int64_t *hold_until, struct ledger_error *lerr)
{
    json_t *row = NULL;
    *listeners = NULL;
    *hold_until = 0;
    if (ledger_txn_find(txn, STORE_OBSERVATIONS, "host", host, &row, lerr) < 0)
        return -1;
    *listeners = json_array();
    if (!row)
        return 0;
    int64_t now = ledger_now(txn->ledger);
    if (ledger_observation_stale(row, now)) {
        /* an agent that stopped reporting neither blocks a deassign nor holds a quarantine */
        json_decref(row);
        return 0;
    }
    *hold_until = now + (LEDGER_QUIET_REPORTS + 1) * store_row_int(row, "interval_s", LEDGER_DEFAULT_INTERVAL);
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(row, "listeners"), i, l) {
        json_int_t port = json_integer_value(json_object_get(l, "local_port"));
        const char *p = json_string_value(json_object_get(l, "proto"));
        if (p && strcmp(p, proto) == 0 && port >= lo && port <= hi)
            json_array_append(*listeners, l);
    }
    json_decref(row);
    return 0;
}

int ledger_observation_quarantined(struct ledger_txn *txn, const json_t *assignment, int64_t until,
                                   struct ledger_error *lerr)
{
    json_t *row = NULL;
    if (ledger_txn_find(txn, STORE_OBSERVATIONS, "host", store_row_text(assignment, "host"), &row, lerr) < 0)
        return -1;
    if (!row)
        return 0;
    json_t *quiet = json_object_get(row, "quiet");
    if (!json_is_object(quiet)) {
        quiet = json_object();
        json_object_set_new(row, "quiet", quiet);
    }
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)store_row_int(assignment, "id", 0));
    json_object_set_new(quiet, id, json_pack("{s:i, s:I}", "count", 0, "until", (json_int_t)until));
    int r = ledger_txn_update(txn, STORE_OBSERVATIONS, row, -1, lerr);
    json_decref(row);
    return r;
}

/* ---- scans ---- */

static bool host_has_address(const json_t *host_row, const char *address, const char *name)
{
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(host_row, "addresses"), key, v)
        if (json_is_string(v) && (strcmp(json_string_value(v), address) == 0 ||
                                  (name && strcmp(json_string_value(v), name) == 0)))
            return true;
    const char *host = store_row_text(host_row, "name");
    return host && (strcmp(host, address) == 0 || (name && strcmp(host, name) == 0));
}

int ledger_scan_report(struct ledger *ledger, const struct ledger_actor *actor, const json_t *scan, json_t **out,
                       struct ledger_error *lerr)
{
    json_t *hosts = json_object_get(scan, "hosts");
    if (!json_is_object(scan) || !json_is_array(hosts))
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-value", "hosts",
                           "hosts: the body must be what `portreg scan --json` prints");
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h) {
        char field[64];
        snprintf(field, sizeof field, "hosts[%zu]", i);
        if (!json_is_string(json_object_get(h, "address")) || !json_is_array(json_object_get(h, "ports")))
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-value", field, "%s: needs address and ports", field);
        size_t k;
        json_t *p;
        json_array_foreach(json_object_get(h, "ports"), k, p) {
            json_t *port = json_object_get(p, "port");
            const char *proto = json_string_value(json_object_get(p, "proto"));
            if (!json_is_integer(port) || json_integer_value(port) < 0 || json_integer_value(port) > 65535 || !proto ||
                !ledger_proto_valid(proto) || !json_is_string(json_object_get(p, "state"))) {
                snprintf(field, sizeof field, "hosts[%zu].ports[%zu]", i, k);
                return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-value", field,
                                   "%s: needs port, proto (tcp, udp...) and state", field);
            }
        }
    }
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    int64_t now = ledger_now(ledger);
    json_t *registry_hosts = NULL, *matched = json_object(), *unmatched = json_array();
    int r = ledger_txn_list_all(&txn, STORE_HOSTS, NULL, NULL, &registry_hosts, lerr);
    json_array_foreach(hosts, i, h) {
        const char *address = json_string_value(json_object_get(h, "address"));
        const char *name = json_string_value(json_object_get(h, "name"));
        bool found = false;
        size_t k;
        json_t *hr;
        json_array_foreach(registry_hosts, k, hr) {
            if (!host_has_address(hr, address, name))
                continue;
            found = true;
            const char *host = store_row_text(hr, "name");
            json_t *m = json_object_get(matched, host);
            if (!m) {
                m = json_pack("{s:[], s:[], s:[]}", "addresses", "open", "filtered");
                json_object_set_new(matched, host, m);
            }
            json_array_append_new(json_object_get(m, "addresses"), json_string(address));
            size_t j;
            json_t *p;
            json_array_foreach(json_object_get(h, "ports"), j, p) {
                const char *state = json_string_value(json_object_get(p, "state"));
                const char *bucket = strcmp(state, "open") == 0 ? "open"
                                     : strcmp(state, "filtered") == 0 ? "filtered" : NULL;
                if (bucket)
                    json_array_append_new(json_object_get(m, bucket),
                                          json_pack("{s:O, s:O, s:s}", "proto", json_object_get(p, "proto"), "port",
                                                    json_object_get(p, "port"), "address", address));
            }
        }
        if (!found)
            json_array_append_new(unmatched, json_string(address));
    }
    const char *scanner = json_string_value(json_object_get(json_object_get(scan, "scan"), "source"));
    const char *host;
    json_t *m;
    json_object_foreach(matched, host, m) {
        if (r < 0)
            break;
        json_t *row = NULL;
        r = ledger_txn_find(&txn, STORE_SCANS, "host", host, &row, lerr);
        bool fresh = !row;
        if (r == 0 && fresh)
            row = json_pack("{s:s, s:I, s:I}", "host", host, "version", (json_int_t)1, "created", (json_int_t)now);
        if (r == 0) {
            json_object_set_new(row, "time", json_integer((json_int_t)now));
            json_object_set_new(row, "scanner", json_string(scanner ? scanner : actor->name));
            json_object_update(row, m);
            json_object_set_new(row, "updated", json_integer((json_int_t)now));
            if (fresh) {
                int64_t id;
                struct pr_error err;
                pr_error_clear(&err);
                if (ledger->backend->insert(txn.conn, STORE_SCANS, row, &id, &err) < 0)
                    r = ledger_store_fail(lerr, &err, "scans");
            } else {
                r = ledger_txn_update(&txn, STORE_SCANS, row, -1, lerr);
            }
            if (r == 0)
                r = ledger_event(&txn, actor, "scan.recorded", "scans", store_row_int(row, "id", 0), NULL, row, lerr);
        }
        json_decref(row);
    }
    json_t *names = json_array();
    json_object_foreach(matched, host, m)
        json_array_append_new(names, json_string(host));
    json_t *answer = json_pack("{s:o, s:o}", "hosts", names, "unmatched", unmatched);
    json_decref(matched);
    json_decref(registry_hosts);
    return ledger_txn_end_with_row(&txn, r, answer, out, lerr);
}
