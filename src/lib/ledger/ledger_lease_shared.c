/* ledger_lease_shared.c — lease batches beside other servers' (a backend with
 * lease_insert_batch: PostgreSQL). The leader picks each lease's port from the in-memory map
 * and sends the whole batch in one round trip, which is also its transaction (it commits
 * there) and brings back what other servers changed; the database's exclusion constraint
 * decides, so a port another server took meanwhile comes back refused, the map learns it and
 * the next round picks again. No lock is held against other servers' batches: what the write
 * transaction's reads decide (a fixed port's conflict, an Idempotency-Key's replay, an
 * unknown host, a full range) is left to it. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "ledger/ledger_internal.h"

/* rounds of picking again after the database refused ports (other servers' leases) */
#define LEASE_SHARED_ROUNDS 4

/* A job the shared batch can take: an automatic port on a host whose map exists. */
static bool shared_eligible(struct ledger *ledger, const struct lease_job *job, struct lease_params *params,
                            struct port_map **map)
{
    if (job->action || json_object_get(job->body, "port"))
        return false;   /* a renew or release, a fixed port: the write transaction */
    ledger_lease_params(ledger, job->body, params);
    if (params->ttl > ledger->policy.lease_ttl_max)
        return false;
    *map = ledger_port_map_existing(ledger, params->host, params->proto);
    return *map != NULL;
}

struct shared_lease {
    struct lease_job *job;
    struct lease_params params;
    struct port_map *map;
    unsigned walked;      /* how far its walk went */
    unsigned port;
    bool granted;
};

/* What other servers changed, as the round read it: into the maps and the policy. A policy
 * changed: every lease not granted is looked at again (its range, its TTL) and walks anew.
 * The maps may have been rebuilt (or grown): each lease finds its own again. */
static int shared_changes(struct ledger *ledger, struct store_conn *conn, struct shared_lease *leases, size_t count,
                          json_t *changes, bool gap, struct lease_job **rest, size_t *rest_n, size_t *todo,
                          struct pr_error *err)
{
    if (!gap && !json_array_size(changes)) {
        json_decref(changes);
        return 0;
    }
    struct ledger_txn txn = { .ledger = ledger, .conn = conn, .write = true };
    struct ledger_error lerr = { 0 };
    bool policy_changed = false;
    int r = ledger_changes_mark(ledger, &txn, changes, gap, &policy_changed, &lerr);
    json_decref(changes);
    if (r < 0) {
        pr_error_set(err, -EIO, "%s", lerr.message);
        ledger_error_clear(&lerr);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        struct shared_lease *lease = &leases[i];
        if (!lease->job || lease->granted)
            continue;
        bool eligible = true;
        if (policy_changed) {
            eligible = shared_eligible(ledger, lease->job, &lease->params, &lease->map);
            lease->walked = 0;
        } else {
            lease->map = ledger_port_map_existing(ledger, lease->params.host, lease->params.proto);
            eligible = lease->map != NULL;
        }
        if (!eligible) {   /* the write transaction answers */
            rest[(*rest_n)++] = lease->job;
            lease->job = NULL;
            (*todo)--;
        }
    }
    return 0;
}

/* Another server took the port where lease walked: the leases of its service on this map
 * walk from a detour 256-767 ports further on, and those of this batch walk anew from there.
 * Two servers refused at one frontier would otherwise meet there again every round (each
 * learns the other's ports only once they are committed), and the loser's batch goes one by
 * one each time; the random part keeps two servers that detour at once apart. No port is
 * lost: the walk from the detour still goes round the whole range. */
static void shared_detour(struct ledger *ledger, const struct shared_lease *lease, struct shared_lease *leases,
                          size_t count)
{
    unsigned size = lease->params.hi - lease->params.lo + 1;
    uint16_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint16_t)(lease->port * 40503u);
    unsigned start = ledger_lease_start(ledger, &lease->params);
    struct port_map *map = lease->map;
    map->detours[start % LEASE_DETOURS] = (struct lease_detour){
        (uint16_t)start, (uint16_t)(lease->params.lo + (lease->port - lease->params.lo + 256 + r % 512) % size) };
    for (size_t i = 0; i < count; i++)
        if (leases[i].job && !leases[i].granted && leases[i].map == map &&
            ledger_lease_start(ledger, &leases[i].params) == start)
            leases[i].walked = 0;
}

/* Rounds of pick and insert, each a transaction of its own (a round that failed took
 * nothing); returns 0, or a store failure (-1 with err). */
static int shared_rounds(struct ledger *ledger, struct store_conn *conn, struct shared_lease *leases, size_t count,
                         struct lease_job **rest, size_t *rest_n, struct pr_error *err)
{
    struct store_lease_insert items[LEASE_BATCH_MAX];
    struct shared_lease *sent[LEASE_BATCH_MAX];
    int64_t now = ledger_now(ledger);
    size_t todo = count;
    for (int round = 0; round < LEASE_SHARED_ROUNDS && todo; round++) {
        size_t k = 0;
        for (size_t i = 0; i < count; i++) {
            struct shared_lease *lease = &leases[i];
            if (!lease->job || lease->granted)
                continue;
            if (!ledger_lease_walk(ledger, lease->map, &lease->params, &lease->walked, &lease->port)) {
                rest[(*rest_n)++] = lease->job;   /* full, as far as the map knows: the write transaction says */
                lease->job = NULL;
                todo--;
                continue;
            }
            port_set_add(&lease->map->taken, (uint16_t)lease->port);   /* no other lease of the batch takes it */
            items[k] = (struct store_lease_insert){
                .row = ledger_lease_row(&lease->params, lease->port, lease->job->idempotency_key,
                                        json_object_get(lease->job->body, "holder"), lease->job->actor, now),
                .actor = lease->job->actor->name,
                .request_id = lease->job->actor->request_id,
            };
            sent[k++] = lease;
        }
        /* in port order: two batches that want the same ports meet at the lowest first */
        for (size_t i = 1; i < k; i++)
            for (size_t j = i; j > 0 && sent[j - 1]->port > sent[j]->port; j--) {
                struct store_lease_insert item = items[j];
                struct shared_lease *lease = sent[j];
                items[j] = items[j - 1];
                sent[j] = sent[j - 1];
                items[j - 1] = item;
                sent[j - 1] = lease;
            }
        json_t *changes = NULL;
        bool gap = false;
        int r = k ? ledger->backend->lease_insert_batch(conn, items, k, now, &ledger->change_seq, &changes, &gap, err)
                  : 0;
        const struct shared_lease *refused[LEASE_BATCH_MAX];   /* ports other servers took, in port order */
        size_t refused_n = 0;
        for (size_t i = 0; i < k; i++) {
            struct shared_lease *lease = sent[i];
            if (r == 0 && items[i].result == -EAGAIN) {   /* not tried: the policy changed */
                json_decref(items[i].row);
                port_set_remove(&lease->map->taken, (uint16_t)lease->port);
                continue;
            }
            if (r == 0 && items[i].result == 0) {
                lease->granted = true;
                port_set_add(&lease->map->leased, (uint16_t)lease->port);
                lease->job->out = items[i].row;
                todo--;
                continue;
            }
            json_decref(items[i].row);
            if (r == 0 && items[i].result == -EADDRINUSE) {
                refused[refused_n++] = lease;
                continue;   /* claimed by another server: the map keeps it taken, the walk goes on */
            }
            port_set_remove(&lease->map->taken, (uint16_t)lease->port);
            if (r == 0 && items[i].result == -EBUSY) {
                refused[refused_n++] = lease;
                continue;   /* another server's batch holds it, maybe not for long: the walk goes on */
            }
            if (r == 0) {   /* a key seen before, a host gone: the write transaction answers */
                rest[(*rest_n)++] = lease->job;
                lease->job = NULL;
                todo--;
            }
        }
        if (r < 0)
            return -1;
        for (size_t i = 0; i < refused_n; i++)   /* a service's last (highest) port sets its detour */
            shared_detour(ledger, refused[i], leases, count);
        if (shared_changes(ledger, conn, leases, count, changes, gap, rest, rest_n, &todo, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < count; i++)
        if (leases[i].job && !leases[i].granted) {
            rest[(*rest_n)++] = leases[i].job;   /* refused every round: the write transaction decides */
            leases[i].job = NULL;
        }
    return 0;
}

size_t ledger_lease_batch_shared(struct ledger *ledger, struct lease_job **batch, size_t n, struct lease_job **rest,
                                 bool *committed)
{
    *committed = false;
    size_t rest_n = 0, count = 0;
    struct shared_lease leases[LEASE_BATCH_MAX];
    pthread_mutex_lock(&ledger->write_lock);
    struct store_conn *conn = ledger->backend->acquire(ledger->store);
    struct pr_error err;
    pr_error_clear(&err);
    /* what other servers changed comes with each round's answer (a policy they changed
     * before is read before anything is inserted) */
    int r = ledger->backend->prepare_leases(conn, &err);
    for (size_t i = 0; i < n; i++) {
        struct shared_lease *lease = &leases[count];
        memset(lease, 0, sizeof *lease);
        if (r == 0 && shared_eligible(ledger, batch[i], &lease->params, &lease->map)) {
            lease->job = batch[i];
            count++;
        } else {
            rest[rest_n++] = batch[i];
        }
    }
    /* each round commits by itself: what a failed round did not grant goes to the write
     * transaction, which reports the failure */
    if (count && shared_rounds(ledger, conn, leases, count, rest, &rest_n, &err) < 0)
        for (size_t i = 0; i < count; i++)
            if (leases[i].job && !leases[i].granted) {
                rest[rest_n++] = leases[i].job;
                leases[i].job = NULL;
            }
    for (size_t i = 0; i < count; i++)
        if (leases[i].job && leases[i].granted) {
            leases[i].job->r = 0;
            *committed = true;
        }
    ledger->backend->release(ledger->store, conn);
    pthread_mutex_unlock(&ledger->write_lock);
    return rest_n;
}
