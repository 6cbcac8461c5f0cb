/* ledger_requests.c — requests (submitted → approved | rejected | withdrawn) and the
 * assignments approval creates (active → quarantined by deassign, or revoked), as IANA's
 * process (RFC 6335 §8). Approval re-checks every port inside its write transaction and
 * creates the assignments in it: two approvals can never both take one port. */
#include <stdlib.h>
#include <string.h>

#include "doctor/suggest.h"
#include "ledger/ledger_body.h"
#include "ledger/ledger_fleet.h"
#include "ledger/ledger_internal.h"

/* The request's host names as an array (owned): "hosts", "host", or the hosts of "group" now
 * (one of the three). *field is the one given. */
static json_t *request_hosts(struct ledger_txn *txn, const json_t *body, const char **field, struct ledger_error *lerr)
{
    json_t *hosts = json_object_get(body, "hosts"), *host = json_object_get(body, "host");
    const char *group = store_row_text(body, "group");
    if ((hosts != NULL) + (host != NULL) + (group != NULL) != 1) {
        ledger_fail(lerr, LEDGER_BAD_REQUEST, "missing-field", "hosts", "give one of host, hosts or group");
        return NULL;
    }
    *field = hosts ? "hosts" : host ? "host" : "group";
    if (group) {
        json_t *names = NULL;
        if (ledger_group_hosts(txn, group, "group", &names, lerr) < 0) {
            json_decref(names);
            return NULL;
        }
        return names;
    }
    return hosts ? json_incref(hosts) : json_pack("[O]", host);
}

static int conflict_error(struct ledger_error *lerr, json_t *conflict, const char *what, const char *host,
                          const char *proto, unsigned port)
{
    int64_t until = store_row_int(conflict, "quarantine_until", 0);
    if (strcmp(what, "quarantined") == 0)
        ledger_fail(lerr, LEDGER_CONFLICT, "quarantined", "port",
                    "port %u/%s on %s is quarantined until %lld (deassigned from %s)", port, proto, host,
                    (long long)until, store_row_text(conflict, "service"));
    else
        ledger_fail(lerr, LEDGER_CONFLICT, "port-taken", "port", "port %u/%s on %s is held by %s %lld of %s",
                    port, proto, host, what, (long long)store_row_int(conflict, "id", 0),
                    store_row_text(conflict, "service"));
    lerr->conflict = conflict;
    return -1;
}

static int policy_error(struct ledger *ledger, unsigned lo, unsigned hi, const char *proto, const char *service,
                        struct ledger_error *lerr)
{
    for (unsigned p = lo; p <= hi; p++) {
        const char *iana = ledger_iana_refuses(ledger, p, proto, service);
        if (iana)
            return ledger_fail(lerr, LEDGER_UNPROCESSABLE, "iana-assigned", "port", "port %u/%s is assigned by IANA "
                               "to %s and the policy keeps IANA's ports free (iana_assigned_allowed: false)", p,
                               proto, iana);
        const char *why = ledger_policy_refuses(&ledger->policy, p);
        if (why && strcmp(why, "ephemeral") == 0)
            return ledger_fail(lerr, LEDGER_UNPROCESSABLE, why, "port", "port %u is in the ephemeral range %u-%u "
                               "(policy): the kernel hands it to outgoing connections", p,
                               ledger->policy.ephemeral_lo, ledger->policy.ephemeral_hi);
        if (why)
            return ledger_fail(lerr, LEDGER_UNPROCESSABLE, why, "port", "port %u is in an excluded band (policy)", p);
    }
    return 0;
}

int ledger_load_hosts(struct ledger_txn *txn, const json_t *names, const char *field, json_t **rows,
                      struct ledger_error *lerr)
{
    *rows = json_array();
    size_t i;
    json_t *name;
    json_array_foreach(names, i, name) {
        json_t *row = NULL;
        if (ledger_txn_find(txn, STORE_HOSTS, "name", json_string_value(name), &row, lerr) < 0)
            return -1;
        if (!row)
            return ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-host", field, "unknown host %s: create it first",
                               json_string_value(name));
        json_array_append_new(*rows, row);
    }
    return 0;
}

/* Is [lo, hi] free on every host for service at bind (policy and claims)? 0 free, -1 with
 * lerr (conflict, policy) otherwise. */
int ledger_check_ports(struct ledger_txn *txn, const json_t *host_rows, const char *proto, unsigned lo,
                       unsigned hi, const char *service, const char *bind, struct ledger_error *lerr)
{
    if (policy_error(txn->ledger, lo, hi, proto, service, lerr) < 0)
        return -1;
    size_t i;
    json_t *host;
    json_array_foreach(host_rows, i, host) {
        json_t *conflict = NULL;
        const char *what = NULL, *name = store_row_text(host, "name");
        if (ledger_find_conflict(txn, name, host, proto, lo, hi, service, bind, &conflict, &what, lerr) < 0)
            return -1;
        if (conflict) {
            unsigned at = (unsigned)store_row_int(conflict, "port_lo", store_row_int(conflict, "port", lo));
            return conflict_error(lerr, conflict, what, name, proto, at < lo ? lo : at);
        }
    }
    return 0;
}

/* An automatic port: the walk of suggest (start by the service name's hash, skip the ephemeral
 * range) over the policy's auto range, free in every host's map, re-checked in the store. */
int ledger_pick_auto_port(struct ledger_txn *txn, const json_t *host_rows, const char *proto,
                          const char *service, const char *bind, unsigned *port, struct ledger_error *lerr)
{
    struct ledger *ledger = txn->ledger;
    unsigned lo = ledger->policy.auto_lo, hi = ledger->policy.auto_hi, size = hi - lo + 1;
    struct local_port_range avoid = { (uint16_t)ledger->policy.ephemeral_lo, (uint16_t)ledger->policy.ephemeral_hi };
    unsigned start = suggest_start_port(service, (uint16_t)lo, (uint16_t)hi, ledger->policy.ephemeral_lo ? &avoid : NULL);
    for (unsigned k = 0; k < size; k++) {
        unsigned p = lo + (start - lo + k) % size;
        if (ledger_policy_refuses(&ledger->policy, p) || ledger_iana_refuses(ledger, p, proto, service))
            continue;
        bool taken = false;
        size_t i;
        json_t *host;
        json_array_foreach(host_rows, i, host) {
            struct port_map *map = ledger_port_map(ledger, store_row_text(host, "name"), proto);
            taken = taken || (map && port_set_has(&map->taken, (uint16_t)p));
        }
        if (taken)
            continue;
        struct ledger_error probe = { 0 };
        if (ledger_check_ports(txn, host_rows, proto, p, p, service, bind, &probe) == 0) {
            *port = p;
            return 0;
        }
        bool conflict = probe.kind == LEDGER_CONFLICT;
        ledger_error_clear(&probe);
        if (!conflict)
            return ledger_fail(lerr, LEDGER_UNAVAILABLE, "database", "", "the port search failed");
    }
    return ledger_fail(lerr, LEDGER_CONFLICT, "range-exhausted", "port", "no free port in the automatic range %u-%u",
                       lo, hi);
}

/* A request row (state) for body inside txn: hosts known (a group expanded now), bind an
 * address of each, a fixed port free and allowed now (approval checks again). */
static int request_row(struct ledger_txn *txn, const struct ledger_actor *actor, const json_t *body,
                       const char *state, json_t **out, struct ledger_error *lerr)
{
    *out = NULL;
    const char *field = "hosts";
    json_t *names = request_hosts(txn, body, &field, lerr);
    if (!names)
        return -1;
    const char *proto = store_row_text(body, "proto") ? store_row_text(body, "proto") : "tcp";
    const char *bind = store_row_text(body, "bind") ? store_row_text(body, "bind") : "any";
    const char *service = store_row_text(body, "service");
    unsigned lo, hi;
    bool is_auto;
    ledger_port_value(json_object_get(body, "port"), true, &lo, &hi, &is_auto);
    json_t *host_rows = NULL;
    int r = ledger_load_hosts(txn, names, field, &host_rows, lerr);
    size_t i;
    json_t *host;
    json_array_foreach(host_rows, i, host) {
        struct bind_endpoint e[LEDGER_ENDPOINTS_MAX];
        if (r == 0 && ledger_bind_endpoints(bind, json_object_get(host, "addresses"), e) < 0)
            r = ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-address", "bind",
                            "bind %s is not any, loopback, an address, or an address name of host %s", bind,
                            store_row_text(host, "name"));
    }
    /* a fixed port already taken is said now rather than at approval (approval checks again) */
    if (r == 0 && !is_auto)
        r = ledger_check_ports(txn, host_rows, proto, lo, hi, service, bind, lerr);
    int64_t now = ledger_now(txn->ledger);
    if (r == 0)
        *out = json_pack("{s:s, s:O, s:s?, s:s, s:O, s:s, s:O?, s:O?, s:O?, s:s, s:s, s:n, s:n, s:i, s:I, s:I}",
                         "service", service, "hosts", names, "group", store_row_text(body, "group"), "proto", proto,
                         "port", json_object_get(body, "port"), "bind", bind, "exposure",
                         json_object_get(body, "exposure"), "owner", json_object_get(body, "owner"), "reason",
                         json_object_get(body, "reason"), "state", state, "requested_by", actor->name,
                         "decided_by", "assignments", "version", 1, "created", (json_int_t)now, "updated",
                         (json_int_t)now);
    json_decref(names);
    json_decref(host_rows);
    return r;
}

int ledger_request_submit(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                          json_t **out, struct ledger_error *lerr)
{
    if (ledger_body_validate(LEDGER_BODY_REQUEST, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *row = NULL;
    int64_t id = 0;
    int r = request_row(&txn, actor, body, "submitted", &row, lerr);
    if (r == 0) {
        struct pr_error err;
        pr_error_clear(&err);
        if (ledger->backend->insert(txn.conn, STORE_REQUESTS, row, &id, &err) < 0)
            r = ledger_store_fail(lerr, &err, "requests");
    }
    if (r == 0)
        r = ledger_event(&txn, actor, "request.submitted", "requests", id, NULL, row, lerr);
    return ledger_txn_end_with_row(&txn, r, row, out, lerr);
}

/* Approve inside txn: ports decided and checked, one assignment per host. */
static int approve(struct ledger_txn *txn, const struct ledger_actor *actor, json_t *request, json_t *created,
                   struct ledger_error *lerr)
{
    struct ledger *ledger = txn->ledger;
    const char *proto = store_row_text(request, "proto"), *bind = store_row_text(request, "bind");
    const char *service = store_row_text(request, "service");
    unsigned lo, hi;
    bool is_auto;
    if (ledger_port_value(json_object_get(request, "port"), true, &lo, &hi, &is_auto) < 0)
        return ledger_fail(lerr, LEDGER_INTERNAL, "bad-row", "", "request %lld has a bad port",
                           (long long)store_row_int(request, "id", 0));
    json_t *host_rows = NULL;
    const char *group = store_row_text(request, "group");
    int r = 0;
    if (group) {
        /* a group is expanded at approval: its hosts now, recorded on the request */
        json_t *names = NULL;
        r = ledger_group_hosts(txn, group, "group", &names, lerr);
        if (r == 0)
            json_object_set(request, "hosts", names);
        json_decref(names);
    }
    if (r == 0)
        r = ledger_load_hosts(txn, json_object_get(request, "hosts"), "hosts", &host_rows, lerr);
    if (r == 0)   /* ended quarantines free their ports before the search */
        r = ledger_quarantines_expire(ledger, txn, lerr);
    if (r == 0 && lerr->kind == LEDGER_OK && is_auto) {
        r = ledger_pick_auto_port(txn, host_rows, proto, service, bind, &lo, lerr);
        hi = lo;
    } else if (r == 0) {
        r = ledger_check_ports(txn, host_rows, proto, lo, hi, service, bind, lerr);
    }
    json_t *ids = json_array();
    size_t i;
    json_t *host;
    int64_t now = ledger_now(ledger);
    json_array_foreach(host_rows, i, host) {
        if (r < 0)
            break;
        json_t *row = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:O?, s:s, s:n, s:I, s:s?, s:O?, s:i, s:I, s:I}",
                                "service", service, "host", store_row_text(host, "name"), "proto", proto, "port_lo",
                                (int)lo, "port_hi", (int)hi, "bind", bind, "owner", json_object_get(request, "owner"),
                                "state", "active", "quarantine_until", "request",
                                (json_int_t)store_row_int(request, "id", 0), "group", group, "exposure",
                                json_object_get(request, "exposure"), "version", 1, "created", (json_int_t)now,
                                "updated", (json_int_t)now);
        int64_t id = 0;
        struct pr_error err;
        pr_error_clear(&err);
        if (ledger->backend->insert(txn->conn, STORE_ASSIGNMENTS, row, &id, &err) < 0)
            r = ledger_store_fail(lerr, &err, "assignments");
        if (r == 0)
            r = ledger_event(txn, actor, "assignment.created", "assignments", id, NULL, row, lerr);
        if (r == 0) {
            struct port_map *map = ledger_port_map(ledger, store_row_text(host, "name"), proto);
            if (map) { /* marked before commit: a rollback leaves it marked, never wrongly free */
                port_set_add_range(&map->taken, (uint16_t)lo, (uint16_t)hi);
                port_set_add_range(&map->assigned, (uint16_t)lo, (uint16_t)hi);
            }
        }
        json_array_append_new(ids, json_integer((json_int_t)id));
        if (created)
            json_array_append(created, row);
        json_decref(row);
    }
    json_decref(host_rows);
    if (r == 0) {
        json_object_set_new(request, "assignments", ids);
        if (is_auto)
            json_object_set_new(request, "port", json_integer((json_int_t)lo));
    } else {
        json_decref(ids);
    }
    return r;
}

int ledger_request_action(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                          const char *action, const json_t *body, int64_t if_match, json_t **out,
                          struct ledger_error *lerr)
{
    const char *new_state = strcmp(action, "approve") == 0 ? "approved" : strcmp(action, "reject") == 0 ? "rejected"
                          : strcmp(action, "withdraw") == 0 ? "withdrawn" : NULL;
    if (!new_state)
        return ledger_fail(lerr, LEDGER_NOT_FOUND, "unknown-action", "", "requests have no action %s", action);
    if (body && ledger_body_validate(LEDGER_BODY_DECISION, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *row = NULL, *before = NULL;
    int r = ledger_txn_get(&txn, STORE_REQUESTS, id, &row, lerr);
    if (r == 0)
        r = ledger_check_version(row, if_match, lerr);
    if (r == 0 && strcmp(store_row_text(row, "state"), "submitted") != 0) {
        r = ledger_fail(lerr, LEDGER_CONFLICT, "wrong-state", "", "request %lld is %s, not submitted",
                        (long long)id, store_row_text(row, "state"));
        lerr->conflict = json_incref(row);
    }
    if (r == 0 && strcmp(action, "withdraw") == 0 && actor->role < LEDGER_ROLE_ADMIN &&
        strcmp(store_row_text(row, "requested_by") ? store_row_text(row, "requested_by") : "", actor->name) != 0)
        r = ledger_fail(lerr, LEDGER_FORBIDDEN, "not-yours", "", "only its requester or an admin withdraws a request");
    if (r == 0) {
        before = json_deep_copy(row);
        if (strcmp(action, "approve") == 0)
            r = approve(&txn, actor, row, NULL, lerr);
    }
    if (r == 0) {
        json_object_set_new(row, "state", json_string(new_state));
        json_object_set_new(row, "decided_by", json_string(actor->name));
        const json_t *reason = body ? json_object_get(body, "reason") : NULL;
        if (reason)
            json_object_set(row, "decision_reason", (json_t *)reason);
        r = ledger_txn_update(&txn, STORE_REQUESTS, row, -1, lerr);
    }
    if (r == 0) {
        char kind[32];
        snprintf(kind, sizeof kind, "request.%s", new_state);
        r = ledger_event(&txn, actor, kind, "requests", id, before, row, lerr);
    }
    json_decref(before);
    return ledger_txn_end_with_row(&txn, r, row, out, lerr);
}

int ledger_assignment_create(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                             json_t **out, struct ledger_error *lerr)
{
    /* a request approved at once by the admin who makes it: the same checks, the same
     * history (the request row keeps the reason, decided_by the admin) */
    if (ledger_body_validate(LEDGER_BODY_REQUEST, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *request = NULL, *created = json_array(), *result = NULL;
    int64_t id = 0;
    int r = request_row(&txn, actor, body, "approved", &request, lerr);
    if (r == 0) {
        json_object_set_new(request, "decided_by", json_string(actor->name));
        struct pr_error err;
        pr_error_clear(&err);
        if (ledger->backend->insert(txn.conn, STORE_REQUESTS, request, &id, &err) < 0)
            r = ledger_store_fail(lerr, &err, "requests");
    }
    if (r == 0)
        r = approve(&txn, actor, request, created, lerr);
    if (r == 0)
        r = ledger_txn_update(&txn, STORE_REQUESTS, request, -1, lerr);
    if (r == 0)
        r = ledger_event(&txn, actor, "request.approved", "requests", id, NULL, request, lerr);
    if (r == 0) {
        /* one host named by "host": the assignment; "hosts" or "group": every one, as a list */
        if (json_object_get(body, "host"))
            result = json_incref(json_array_get(created, 0));
        else
            result = json_pack("{s:O, s:I}", "items", created, "request", (json_int_t)id);
    }
    json_decref(request);
    json_decref(created);
    return ledger_txn_end_with_row(&txn, r, result, out, lerr);
}

int ledger_assignment_action(struct ledger *ledger, const struct ledger_actor *actor, int64_t id,
                             const char *action, const json_t *body, int64_t if_match, json_t **out,
                             struct ledger_error *lerr)
{
    bool deassign = strcmp(action, "deassign") == 0;
    if (!deassign && strcmp(action, "revoke") != 0)
        return ledger_fail(lerr, LEDGER_NOT_FOUND, "unknown-action", "", "assignments have no action %s", action);
    if (ledger_body_validate(deassign ? LEDGER_BODY_DEASSIGN : LEDGER_BODY_EMPTY, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *row = NULL, *before = NULL;
    int r = ledger_txn_get(&txn, STORE_ASSIGNMENTS, id, &row, lerr);
    if (r == 0)
        r = ledger_check_version(row, if_match, lerr);
    const char *state = r == 0 ? store_row_text(row, "state") : "";
    if (r == 0 && (deassign ? strcmp(state, "active") != 0
                            : strcmp(state, "active") != 0 && strcmp(state, "quarantined") != 0)) {
        r = ledger_fail(lerr, LEDGER_CONFLICT, "wrong-state", "", "assignment %lld is %s", (long long)id, state);
        lerr->conflict = json_incref(row);
    }
    if (r == 0) {
        before = json_deep_copy(row);
        if (deassign) {
            /* reality first: a port the host's agent still sees listening is not given up
             * unless forced; with an agent, the quarantine lasts until its clean reports
             * (ledger_observations.c) */
            json_t *listening = NULL;
            int64_t hold_until = 0;
            r = ledger_observed_listeners(&txn, store_row_text(row, "host"), store_row_text(row, "proto"),
                                          (unsigned)store_row_int(row, "port_lo", 1),
                                          (unsigned)store_row_int(row, "port_hi", 1), &listening, &hold_until, lerr);
            if (r == 0 && json_array_size(listening) && !json_is_true(json_object_get(body, "force"))) {
                json_t *first = json_array_get(listening, 0);
                r = ledger_fail(lerr, LEDGER_CONFLICT, "still-listening", "force",
                                "port %lld/%s on %s: the agent still sees %s (pid %lld) listening; stop it first, "
                                "or deassign with {\"force\":true}",
                                (long long)json_integer_value(json_object_get(first, "local_port")),
                                store_row_text(row, "proto"), store_row_text(row, "host"),
                                json_string_value(json_object_get(first, "process"))
                                ? json_string_value(json_object_get(first, "process")) : "a process",
                                (long long)json_integer_value(json_object_get(first, "pid")));
                lerr->conflict = json_pack("{s:O}", "listeners", listening);
            }
            json_decref(listening);
            int64_t days = store_row_int(body, "days", ledger->policy.quarantine_days);
            int64_t until = ledger_now(ledger) + days * 86400;
            json_object_set_new(row, "state", json_string("quarantined"));
            json_object_set_new(row, "quarantine_until", json_integer((json_int_t)(until > hold_until ? until : hold_until)));
            if (r == 0 && hold_until)
                r = ledger_observation_quarantined(&txn, row, until, lerr);
        } else {
            json_object_set_new(row, "state", json_string("revoked"));
        }
        if (r == 0)
            r = ledger_txn_update(&txn, STORE_ASSIGNMENTS, row, -1, lerr);
    }
    if (r == 0)
        r = ledger_event(&txn, actor, deassign ? "assignment.quarantined" : "assignment.revoked", "assignments", id,
                         before, row, lerr);
    /* deassign: the ports move to quarantined in the map (and are freed when it ends) */
    if (r == 0)
        r = ledger_port_map_refresh(ledger, &txn, store_row_text(row, "host"), store_row_text(row, "proto"),
                                    (unsigned)store_row_int(row, "port_lo", 1), (unsigned)store_row_int(row, "port_hi", 1), lerr);
    json_decref(before);
    return ledger_txn_end_with_row(&txn, r, row, out, lerr);
}
