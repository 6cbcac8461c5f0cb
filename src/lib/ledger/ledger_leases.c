/* ledger_leases.c — dynamic ports: a lease is a free port at once (the walk of suggest from
 * the service name's hash, over the host's in-memory map, re-checked in the store inside the
 * write transaction), renewed, released, or reclaimed when it expires (bounded batches, as a
 * DHCP server reclaims). An Idempotency-Key makes a retried POST return the same lease. */
#include <pthread.h>
#include <string.h>

#include "doctor/suggest.h"
#include "ledger/ledger_body.h"
#include "ledger/ledger_internal.h"

#define LEASE_RECLAIM_BATCH 64u

/* Expired leases → expired (at most limit), with their events and ports freed in the maps. */
static int reclaim(struct ledger_txn *txn, unsigned limit, unsigned *count, struct ledger_error *lerr)
{
    struct ledger *ledger = txn->ledger;
    json_t *rows = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    *count = 0;
    if (ledger_quarantines_expire(ledger, txn, lerr) < 0)
        return -1;
    if (ledger->backend->expired_leases(txn->conn, ledger_now(ledger), limit, &rows, &err) < 0)
        return ledger_store_fail(lerr, &err, "leases");
    size_t i;
    json_t *row;
    int r = 0;
    struct ledger_actor server = { .name = "portreg-serve" };
    json_array_foreach(rows, i, row) {
        json_t *before = json_deep_copy(row);
        json_object_set_new(row, "state", json_string("expired"));
        r = ledger_txn_update(txn, STORE_LEASES, row, -1, lerr);
        if (r == 0)
            r = ledger_event(txn, &server, "lease.expired", "leases", store_row_int(row, "id", 0), before, row, lerr);
        json_decref(before);
        if (r == 0) {
            unsigned port = (unsigned)store_row_int(row, "port", 1);
            r = ledger_port_map_refresh(ledger, txn, store_row_text(row, "host"), store_row_text(row, "proto"), port,
                                        port, lerr);
        }
        if (r < 0)
            break;
        (*count)++;
    }
    json_decref(rows);
    return r;
}

int ledger_reclaim_leases(struct ledger *ledger, unsigned limit, unsigned *count, struct ledger_error *lerr)
{
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    return ledger_txn_end(&txn, reclaim(&txn, limit, count, lerr), lerr);
}

static bool idempotency_key_valid(const char *key)
{
    size_t len = strlen(key);
    if (len == 0 || len > 128)
        return false;
    for (size_t i = 0; i < len; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return false;
    return true;
}

unsigned ledger_lease_start(const struct ledger *ledger, const struct lease_params *params)
{
    struct local_port_range avoid = { (uint16_t)ledger->policy.ephemeral_lo, (uint16_t)ledger->policy.ephemeral_hi };
    return suggest_start_port(params->service, (uint16_t)params->lo, (uint16_t)params->hi,
                              ledger->policy.ephemeral_lo ? &avoid : NULL);
}

bool ledger_lease_walk(const struct ledger *ledger, const struct port_map *map, const struct lease_params *params,
                       unsigned *k, unsigned *port)
{
    unsigned size = params->hi - params->lo + 1;
    unsigned start = ledger_lease_start(ledger, params);
    const struct lease_detour *detour = &map->detours[start % LEASE_DETOURS];
    if (detour->port && detour->start == start && detour->port >= params->lo && detour->port <= params->hi)
        start = detour->port;
    for (; *k < size; (*k)++) {
        unsigned p = params->lo + (start - params->lo + *k) % size;
        if (port_set_has(&map->taken, (uint16_t)p) || ledger_policy_refuses(&ledger->policy, p) ||
            ledger_iana_refuses(ledger, p, params->proto, params->service))
            continue;
        (*k)++;
        *port = p;
        return true;
    }
    return false;
}

void ledger_lease_params(const struct ledger *ledger, const json_t *body, struct lease_params *params)
{
    params->service = store_row_text(body, "service");
    params->host = store_row_text(body, "host");
    params->proto = store_row_text(body, "proto") ? store_row_text(body, "proto") : "tcp";
    params->ttl = store_row_int(body, "ttl", ledger->policy.lease_ttl_default);
    params->lo = ledger->policy.lease_lo;
    params->hi = ledger->policy.lease_hi;
    bool is_auto;
    if (json_object_get(body, "range"))
        ledger_port_value(json_object_get(body, "range"), false, &params->lo, &params->hi, &is_auto);
}

json_t *ledger_lease_row(const struct lease_params *params, unsigned port, const char *idempotency_key,
                         const json_t *holder, const struct ledger_actor *actor, int64_t now)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:I, s:s?, s:s, s:O?, s:s, s:i, s:I, s:I}", "service", params->service,
                     "host", params->host, "proto", params->proto, "port", (int)port, "expires_at",
                     (json_int_t)(now + params->ttl), "idempotency_key", idempotency_key, "state", "active", "holder",
                     holder, "requested_by", actor->name, "version", 1, "created", (json_int_t)now, "updated",
                     (json_int_t)now);
}

/* A free port of the range on host: the walk over the in-memory map, each candidate confirmed
 * in the store. */
static int pick_lease_port(struct ledger_txn *txn, const json_t *host_row, const struct lease_params *params,
                           unsigned *port, struct ledger_error *lerr)
{
    struct ledger *ledger = txn->ledger;
    struct port_map *map = ledger_port_map(ledger, params->host, params->proto);
    if (!map)
        return ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
    unsigned k = 0, p;
    while (ledger_lease_walk(ledger, map, params, &k, &p)) {
        json_t *conflict = NULL;
        const char *what;
        if (ledger_find_conflict(txn, params->host, host_row, params->proto, p, p, NULL, "any", &conflict, &what,
                                 lerr) < 0)
            return -1;
        if (!conflict) {
            *port = p;
            return 0;
        }
        /* another writer of the same database (a second server) took it: the map learns */
        port_set_add(&map->taken, (uint16_t)p);
        json_decref(conflict);
    }
    return ledger_fail(lerr, LEDGER_CONFLICT, "range-exhausted", "range", "no free port in %u-%u on %s/%s", params->lo,
                       params->hi, params->host, params->proto);
}

/* One lease of a batch, inside the batch's write transaction. Every refusal (400, 409, 422)
 * is found by reads before this lease writes anything, so a refused lease leaves the
 * transaction as it found it and the batch goes on; a store failure after a write fails the
 * whole batch (returned as -2). */
static int lease_in_txn(struct ledger_txn *txn_ptr, const struct ledger_actor *actor, const json_t *body,
                        const char *idempotency_key, json_t **out, bool *replayed, struct ledger_error *lerr)
{
    struct ledger_txn txn = *txn_ptr;
    struct ledger *ledger = txn.ledger;
    struct lease_params params;
    ledger_lease_params(ledger, body, &params);
    const char *service = params.service, *host = params.host, *proto = params.proto;
    int64_t ttl = params.ttl;
    unsigned port = 0;
    json_t *host_row = NULL, *row = NULL;
    int r = 0;
    if (ttl > ledger->policy.lease_ttl_max)
        r = ledger_fail(lerr, LEDGER_BAD_REQUEST, "out-of-range", "ttl", "ttl is above the policy's lease_ttl_max %lld",
                        (long long)ledger->policy.lease_ttl_max);
    if (r == 0 && idempotency_key) {
        r = ledger_txn_find(&txn, STORE_LEASES, "idempotency_key", idempotency_key, &row, lerr);
        if (r == 0 && row) {
            if (strcmp(store_row_text(row, "service"), service) != 0 || strcmp(store_row_text(row, "host"), host) != 0 ||
                strcmp(store_row_text(row, "proto"), proto) != 0) {
                r = ledger_fail(lerr, LEDGER_UNPROCESSABLE, "idempotency-key-reused", "Idempotency-Key",
                                "this Idempotency-Key was used for another lease");
                json_decref(row);
                row = NULL;
            } else {
                *replayed = true;
                *out = row;
                return 0;
            }
        }
    }
    if (r == 0)
        r = ledger_txn_find(&txn, STORE_HOSTS, "name", host, &host_row, lerr);
    if (r == 0 && !host_row)
        r = ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-host", "host", "unknown host %s: create it first", host);
    if (r == 0 && json_object_get(body, "port")) {
        port = (unsigned)store_row_int(body, "port", 0);
        const char *why = ledger_policy_refuses(&ledger->policy, port);
        if (!why && ledger_iana_refuses(ledger, port, proto, service))
            why = "iana-assigned";
        json_t *conflict = NULL;
        const char *what = NULL;
        if (why)
            r = ledger_fail(lerr, LEDGER_UNPROCESSABLE, why, "port", "port %u is %s (policy)", port,
                            strcmp(why, "ephemeral") == 0 ? "in the ephemeral range"
                            : strcmp(why, "excluded") == 0 ? "in an excluded band" : "assigned by IANA to another service");
        else if ((r = ledger_find_conflict(&txn, host, host_row, proto, port, port, NULL, "any", &conflict, &what, lerr)) == 0 &&
                 conflict) {
            r = ledger_fail(lerr, LEDGER_CONFLICT, strcmp(what, "quarantined") == 0 ? "quarantined" : "port-taken", "port",
                            "port %u/%s on %s is held by %s %lld of %s", port, proto, host, what,
                            (long long)store_row_int(conflict, "id", 0), store_row_text(conflict, "service"));
            lerr->conflict = conflict;
        }
    } else if (r == 0) {
        r = pick_lease_port(&txn, host_row, &params, &port, lerr);
    }
    int64_t now = ledger_now(ledger), id = 0;
    if (r == 0) {
        row = ledger_lease_row(&params, port, idempotency_key, json_object_get(body, "holder"), actor, now);
        struct pr_error err;
        pr_error_clear(&err);
        if (ledger->backend->insert(txn.conn, STORE_LEASES, row, &id, &err) < 0) {
            ledger_store_fail(lerr, &err, "leases");
            r = -2;
        }
    }
    if (r == 0 && ledger_event(&txn, actor, "lease.created", "leases", id, NULL, row, lerr) < 0)
        r = -2;
    if (r == 0) {
        struct port_map *map = ledger_port_map(ledger, host, proto);
        if (map) {
            port_set_add(&map->taken, (uint16_t)port);
            port_set_add(&map->leased, (uint16_t)port);
        }
    }
    json_decref(host_row);
    if (r == 0)
        *out = row;
    else
        json_decref(row);
    return r;
}

/* A renew or release of a batch, inside the batch's write transaction: -1 refused (nothing
 * written), -2 a store failure after a write (the batch fails), 0 with *out. */
static int lease_action_in_txn(struct ledger_txn *txn, const struct ledger_actor *actor, int64_t id,
                               const char *action, const json_t *body, json_t **out, struct ledger_error *lerr)
{
    struct ledger *ledger = txn->ledger;
    bool renew = strcmp(action, "renew") == 0;
    json_t *row = NULL, *before = NULL;
    int r = ledger_txn_get(txn, STORE_LEASES, id, &row, lerr);
    int64_t now = ledger_now(ledger);
    int64_t ttl = store_row_int(body, "ttl", ledger->policy.lease_ttl_default);
    /* a requester renews and releases only the leases it took (requested_by); an admin any */
    if (r == 0 && actor->role < LEDGER_ROLE_ADMIN &&
        strcmp(store_row_text(row, "requested_by") ? store_row_text(row, "requested_by") : "", actor->name) != 0)
        r = ledger_fail(lerr, LEDGER_FORBIDDEN, "not-yours", "", "lease %lld was taken by another token: only it or an "
                        "admin may %s it", (long long)id, action);
    if (r == 0 && (strcmp(store_row_text(row, "state"), "active") != 0 || store_row_int(row, "expires_at", 0) <= now)) {
        r = ledger_fail(lerr, LEDGER_CONFLICT, "not-active", "", "lease %lld is %s", (long long)id,
                        strcmp(store_row_text(row, "state"), "active") == 0 ? "expired" : store_row_text(row, "state"));
        lerr->conflict = json_incref(row);
    }
    if (r == 0 && renew && ttl > ledger->policy.lease_ttl_max)
        r = ledger_fail(lerr, LEDGER_BAD_REQUEST, "out-of-range", "ttl", "ttl is above the policy's lease_ttl_max %lld",
                        (long long)ledger->policy.lease_ttl_max);
    if (r == 0) {
        before = json_deep_copy(row);
        if (renew)
            json_object_set_new(row, "expires_at", json_integer((json_int_t)(now + ttl)));
        else
            json_object_set_new(row, "state", json_string("released"));
        if (ledger_txn_update(txn, STORE_LEASES, row, -1, lerr) < 0)
            r = -2;
    }
    if (r == 0 && ledger_event(txn, actor, renew ? "lease.renewed" : "lease.released", "leases", id, before, row,
                               lerr) < 0)
        r = -2;
    if (r == 0 && !renew) {
        unsigned port = (unsigned)store_row_int(row, "port", 1);
        if (ledger_port_map_refresh(ledger, txn, store_row_text(row, "host"), store_row_text(row, "proto"), port, port,
                                    lerr) < 0)
            r = -2;
    }
    json_decref(before);
    if (r == 0)
        *out = row;
    else
        json_decref(row);
    return r;
}

/* Leader/follower batching (as a group commit): a lease request queues itself; whoever finds
 * no leader becomes it, takes up to LEASE_BATCH_MAX queued requests of its ledger, runs them
 * in ONE write transaction, commits once, hands the leadership on (the next batch runs while
 * this one syncs: the store's group sync covers both), waits until the commit is durable and
 * only then wakes the requests of its batch with their results. One queue per process: a
 * leader takes only the requests of its own ledger (tests open several). Each
 * request waits on a condition of its own and is woken once, when its result is there or
 * when it is to lead: a shared condition broadcast at every hand-over and every batch woke
 * every waiting request twice a batch, which cost more CPU than the lease itself. */
static pthread_mutex_t lease_queue_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lease_job *lease_queue_head;
static bool lease_leader_active;

/* The leader lets go: the first queued request (not taken: still in the queue) leads next. */
static void lease_leader_hand_over(void)
{
    pthread_mutex_lock(&lease_queue_lock);
    lease_leader_active = false;
    if (lease_queue_head)
        pthread_cond_signal(&lease_queue_head->wake);
    pthread_mutex_unlock(&lease_queue_lock);
}

/* The batch's results are in: each request is woken (under the lock: it may return and end
 * the job as soon as it has the lock). */
static void lease_batch_wake(struct lease_job **batch, size_t n)
{
    pthread_mutex_lock(&lease_queue_lock);
    for (size_t i = 0; i < n; i++) {
        batch[i]->done = true;
        pthread_cond_signal(&batch[i]->wake);
    }
    pthread_mutex_unlock(&lease_queue_lock);
}

/* Unlink up to LEASE_BATCH_MAX jobs of ledger from the queue (under lease_queue_lock). */
static size_t lease_batch_take(struct ledger *ledger, struct lease_job **batch)
{
    size_t n = 0;
    struct lease_job **link = &lease_queue_head;
    while (*link && n < LEASE_BATCH_MAX) {
        struct lease_job *job = *link;
        if (job->ledger != ledger) {
            link = &job->next;
            continue;
        }
        *link = job->next;
        job->taken = true;
        batch[n++] = job;
    }
    return n;
}

/* The leader's work; called without lease_queue_lock, which it takes to hand over. A backend
 * with lease batches of its own (PostgreSQL) grants what it can there first, beside other
 * servers' batches; the rest runs in one write transaction, alone. */
static void lease_batch_run(struct ledger *ledger, struct lease_job **all, size_t all_n)
{
    struct lease_job *rest[LEASE_BATCH_MAX], **batch = all;
    size_t n = all_n;
    bool shared_committed = false;
    if (ledger->backend->lease_insert_batch) {
        n = ledger_lease_batch_shared(ledger, all, all_n, rest, &shared_committed);
        batch = rest;
    }
    struct ledger_txn txn = { .ledger = ledger };
    struct ledger_error begin_err = { 0 };
    int batch_r = n ? ledger_txn_begin(ledger, true, &txn, &begin_err) : 0;
    bool began = n && batch_r == 0;
    unsigned reclaimed;
    if (began)
        batch_r = reclaim(&txn, LEASE_RECLAIM_BATCH, &reclaimed, &begin_err);
    for (size_t i = 0; batch_r == 0 && i < n; i++) {
        struct lease_job *job = batch[i];
        job->r = job->action ? lease_action_in_txn(&txn, job->actor, job->action_id, job->action, job->body, &job->out,
                                                   job->lerr)
                             : lease_in_txn(&txn, job->actor, job->body, job->idempotency_key, &job->out,
                                            &job->replayed, job->lerr);
        if (job->r == -2) {
            batch_r = -1;
            ledger_error_clear(&begin_err);
            begin_err = *job->lerr;
            memset(job->lerr, 0, sizeof *job->lerr);
        }
    }
    bool committed = false;
    if (began) {
        struct pr_error err;
        pr_error_clear(&err);
        if (batch_r == 0 && ledger->backend->commit(txn.conn, &err) < 0) {
            ledger->backend->rollback(txn.conn);
            batch_r = ledger_store_fail(&begin_err, &err, "commit");
        } else if (batch_r != 0) {
            ledger->backend->rollback(txn.conn);
        } else {
            committed = true;
        }
        ledger->backend->release(ledger->store, txn.conn);
        pthread_mutex_unlock(&ledger->write_lock);
    }
    /* the next leader may begin while this batch's commits reach the disk */
    lease_leader_hand_over();
    /* one sync covers both commits (the later one's number) */
    struct ledger_error sync_err = { 0 };
    int sync_r = ledger_txn_durable(&txn, committed || shared_committed, 0, &sync_err);
    for (size_t i = 0; i < all_n; i++) {
        struct lease_job *job = all[i];
        bool slow = false;
        for (size_t j = 0; j < n && !slow; j++)
            slow = batch[j] == job;
        const struct ledger_error *failed = slow && batch_r != 0 ? &begin_err
                                            : job->r == 0 && sync_r != 0 ? &sync_err : NULL;
        if (failed) {
            json_decref(job->out);
            job->out = NULL;
            job->replayed = false;
            ledger_error_clear(job->lerr);
            *job->lerr = *failed;
            json_incref(failed->conflict);
            job->r = -1;
        }
    }
    ledger_error_clear(&begin_err);
    ledger_error_clear(&sync_err);
    lease_batch_wake(all, all_n);
}

/* Queue a job and wait until a leader (maybe this thread) has run it. */
static int lease_job_run(struct lease_job *job, json_t **out, bool *replayed)
{
    struct ledger *ledger = job->ledger;
    pthread_cond_init(&job->wake, NULL);
    pthread_mutex_lock(&lease_queue_lock);
    job->next = lease_queue_head;
    lease_queue_head = job;
    while (!job->done) {
        if (!lease_leader_active && !job->taken) {
            struct lease_job *batch[LEASE_BATCH_MAX];
            lease_leader_active = true;
            size_t n = lease_batch_take(ledger, batch);
            pthread_mutex_unlock(&lease_queue_lock);
            lease_batch_run(ledger, batch, n);
            pthread_mutex_lock(&lease_queue_lock);
        } else {
            pthread_cond_wait(&job->wake, &lease_queue_lock);
        }
    }
    pthread_mutex_unlock(&lease_queue_lock);
    pthread_cond_destroy(&job->wake);
    if (replayed)
        *replayed = job->replayed;
    if (job->r == 0)
        *out = job->out;
    return job->r;
}

int ledger_lease_create(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body,
                        const char *idempotency_key, json_t **out, bool *replayed, struct ledger_error *lerr)
{
    *replayed = false;
    if (ledger_body_validate(LEDGER_BODY_LEASE, body, lerr) < 0)
        return -1;
    if (idempotency_key && !idempotency_key_valid(idempotency_key))
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-value", "Idempotency-Key",
                           "Idempotency-Key must be 1-128 printable ASCII characters");
    struct lease_job job = { .ledger = ledger, .actor = actor, .body = body, .idempotency_key = idempotency_key,
                             .lerr = lerr };
    return lease_job_run(&job, out, replayed);
}

int ledger_lease_action(struct ledger *ledger, const struct ledger_actor *actor, int64_t id, const char *action,
                        const json_t *body, json_t **out, struct ledger_error *lerr)
{
    bool renew = strcmp(action, "renew") == 0;
    if (!renew && strcmp(action, "release") != 0)
        return ledger_fail(lerr, LEDGER_NOT_FOUND, "unknown-action", "", "leases have no action %s", action);
    if (ledger_body_validate(renew ? LEDGER_BODY_RENEW : LEDGER_BODY_EMPTY, body, lerr) < 0)
        return -1;
    /* batched with the lease requests: many renewals and releases share one commit */
    struct lease_job job = { .ledger = ledger, .actor = actor, .body = body, .action = renew ? "renew" : "release",
                             .action_id = id, .lerr = lerr };
    return lease_job_run(&job, out, NULL);
}
