/* ledger_internal.h — what the ledger's files share: the ledger itself, write transactions
 * (one process-wide writer at a time, on top of the store's own serialisation), events, the
 * policy in memory, and the per-(host, proto) port maps. Not for use outside src/lib/ledger. */
#ifndef PORTREG_LEDGER_LEDGER_INTERNAL_H
#define PORTREG_LEDGER_LEDGER_INTERNAL_H

#include <pthread.h>

#include "ledger/ledger.h"
#include "net/bind_overlap.h"
#include "plan/plan_check.h"
#include "util/port_set.h"

struct ledger_policy {
    unsigned ephemeral_lo, ephemeral_hi;
    unsigned auto_lo, auto_hi;
    unsigned lease_lo, lease_hi;
    struct port_set excluded;
    int64_t quarantine_days;
    int64_t lease_ttl_default, lease_ttl_max;
    bool iana_assigned_allowed;      /* false: ports IANA assigns to other services are refused */
};

/* Ports held on one host for one protocol, whatever the bind address (a lease binds every
 * address): the free-port search runs here, the store re-checks inside the transaction.
 * taken is the union of the three kinds the portmap route reports. */
#define LEASE_DETOURS 64u
struct port_map {
    char host[254];
    char proto[8];
    struct port_set taken;
    struct port_set assigned, leased, quarantined;
    /* detours (ledger_lease_shared.c): after another server took ports where the leases of
     * a service were walking, they walk from port on instead (0: none), so that two servers
     * do not keep meeting at one frontier; a slot per start port (start % LEASE_DETOURS) */
    struct lease_detour {
        uint16_t start, port;
    } detours[LEASE_DETOURS];
};

/* A quarantine the maps hold: freed in memory once until has passed (ledger_quarantines_expire). */
struct map_quarantine {
    char host[254];
    char proto[8];
    unsigned lo, hi;
    int64_t until;
};

/* A token recently found in the store (ledger_tokens.c): trusted for
 * LEDGER_TOKEN_CACHE_MS, so a busy client costs one store read a second, not one a request. */
#define LEDGER_TOKEN_CACHE_SLOTS 64u
#define LEDGER_TOKEN_CACHE_MS 1000
struct token_cache_entry {
    char hash[65];        /* "" when empty */
    char name[128];
    enum ledger_role role;
    char host[254];       /* an agent token's host */
    int64_t id, expires;  /* expires -1: never */
    int64_t last_used;
    int64_t read_ms;      /* CLOCK_MONOTONIC when read from the store */
};

struct ledger {
    const struct store_backend *backend;
    struct store *store;
    int64_t clock_offset;
    uint8_t secret[64];
    size_t secret_len;
    /* Held for a whole write transaction: writers of this process queue here instead of
     * spinning on SQLite's busy handler, and the port maps change in commit order. */
    pthread_mutex_t write_lock;
    json_t *policy_doc;
    struct ledger_policy policy;
    struct port_map *maps;
    size_t map_count, map_capacity;
    struct map_quarantine *quarantines;
    size_t quarantine_count, quarantine_capacity;
    /* IANA's assignments (the server's registry index), NULL when unknown */
    plan_iana_lookup_fn iana_lookup;
    void *iana_user;
    pthread_mutex_t token_cache_lock;
    struct token_cache_entry token_cache[LEDGER_TOKEN_CACHE_SLOTS];
    /* the store's claim_changes read so far (several servers on one database); -1 at open */
    int64_t change_seq;
};

struct ledger_txn {
    struct ledger *ledger;
    struct store_conn *conn;
    bool write;
};

int ledger_txn_begin(struct ledger *ledger, bool write, struct ledger_txn *txn, struct ledger_error *lerr);
/* At the start of a write transaction: the other servers' changes of claims and policy into
 * this one's maps and policy (ledger_changes.c; nothing when the store has no claim_changes). */
int ledger_changes_apply(struct ledger *ledger, struct ledger_txn *txn, struct ledger_error *lerr);
/* Apply changes as read by the store (claim_changes or a lease round): maps refreshed (all
 * rebuilt on gap), the policy read again when it changed (*policy_changed, when not NULL). */
int ledger_changes_mark(struct ledger *ledger, struct ledger_txn *txn, const json_t *changes, bool gap,
                        bool *policy_changed, struct ledger_error *lerr);
/* Commit when r == 0, else roll back; returns r, or -1 when the commit failed. */
int ledger_txn_end(struct ledger_txn *txn, int r, struct ledger_error *lerr);
/* After a commit (committed: it was a write), its connection given back and write_lock let
 * go: wait until the store says the commit is durable (its group sync); returns r, or -1 when
 * that failed. */
int ledger_txn_durable(struct ledger_txn *txn, bool committed, int r, struct ledger_error *lerr);
/* ledger_txn_end for an operation that answers with row: on success *out takes it, else it is
 * freed (every create, update and action ends this way). */
int ledger_txn_end_with_row(struct ledger_txn *txn, int r, json_t *row, json_t **out, struct ledger_error *lerr);
/* A store failure as a ledger error (-ENOENT → not found, -EBUSY → unavailable...). */
int ledger_store_fail(struct ledger_error *lerr, const struct pr_error *err, const char *what);
/* Append an event (before, after borrowed; may be NULL). */
int ledger_event(struct ledger_txn *txn, const struct ledger_actor *actor, const char *kind,
                 const char *object_kind, int64_t object_id, const json_t *before, const json_t *after,
                 struct ledger_error *lerr);
/* A row by id; not found as LEDGER_NOT_FOUND naming what. */
int ledger_txn_get(struct ledger_txn *txn, enum store_kind kind, int64_t id, json_t **row,
                   struct ledger_error *lerr);
/* The first row whose column equals value, or NULL (*row). */
int ledger_txn_find(struct ledger_txn *txn, enum store_kind kind, const char *column, const char *value,
                    json_t **row, struct ledger_error *lerr);
/* Update a row, bumping its version, after checking if_match (>= 0). */
int ledger_txn_update(struct ledger_txn *txn, enum store_kind kind, json_t *row, int64_t if_match,
                      struct ledger_error *lerr);
int ledger_check_version(const json_t *row, int64_t if_match, struct ledger_error *lerr);

/* Policy: defaults, a document parsed into struct ledger_policy. */
json_t *ledger_policy_default(void);
void ledger_policy_apply(struct ledger_policy *policy, const json_t *doc);
/* Why port p cannot be handed out by policy: "ephemeral", "excluded" or NULL. */
const char *ledger_policy_refuses(const struct ledger_policy *policy, unsigned port);

/* When the policy keeps IANA's ports free (iana_assigned_allowed false) and port/proto is
 * assigned by IANA to another service than service (NULL: any): the IANA name; else NULL. */
const char *ledger_iana_refuses(const struct ledger *ledger, unsigned port, const char *proto, const char *service);

/* Port maps (under write_lock). ledger_port_map makes the host's map when it has none;
 * ledger_port_map_existing answers NULL then. */
struct port_map *ledger_port_map(struct ledger *ledger, const char *host, const char *proto);
struct port_map *ledger_port_map_existing(struct ledger *ledger, const char *host, const char *proto);
int ledger_port_maps_rebuild(struct ledger *ledger, struct ledger_txn *txn, struct ledger_error *lerr);
/* Recompute ports [lo, hi] of host/proto from the store (after a claim was given up). */
int ledger_port_map_refresh(struct ledger *ledger, struct ledger_txn *txn, const char *host,
                            const char *proto, unsigned lo, unsigned hi, struct ledger_error *lerr);

/* Quarantines whose end has passed: their ports recomputed from the store (free unless
 * something else holds them). Called under write_lock before every port search and portmap. */
int ledger_quarantines_expire(struct ledger *ledger, struct ledger_txn *txn, struct ledger_error *lerr);

/* Bind scopes: "any", "loopback", an address name of the host, or an address literal, as
 * endpoints of net/bind_overlap.h (the overlap rule plan check uses). */
#define LEDGER_ENDPOINTS_MAX BIND_ENDPOINTS_MAX
/* The addresses bind means on a host (addresses: the host's object); -1 when the name is not
 * one of the host's addresses. */
int ledger_bind_endpoints(const char *bind, const json_t *addresses, struct bind_endpoint *out);
/* What holds any port of [lo, hi] on host/proto for service bound at bind: NULL when free,
 * else the first conflicting assignment or lease (owned), and its kind in *what. A
 * quarantined assignment of the same service is not in its own way. */
int ledger_find_conflict(struct ledger_txn *txn, const char *host, const json_t *host_row, const char *proto,
                         unsigned lo, unsigned hi, const char *service, const char *bind, json_t **conflict,
                         const char **what, struct ledger_error *lerr);

/* Before a host's addresses change from before's to after's (host rows): 0 when every active
 * or quarantined assignment of the host whose bind then means other addresses overlaps
 * nothing it did not overlap (ledger_find_conflict's rule, the new addresses on both sides);
 * else -1 with a 409 (field "addresses") naming both assignments and the port, the other in
 * lerr->conflict. The port maps need nothing: they are per port, whatever the address. */
int ledger_check_host_addresses(struct ledger_txn *txn, const json_t *before, const json_t *after,
                                struct ledger_error *lerr);

/* Ports (ledger_requests.c): is [lo, hi] free on every host row for service at bind, and
 * allowed by the policy (0; else -1 with a 409 holding the conflict or a 422)? An automatic
 * port free on every host (the walk of suggest over the auto range), or 409 range-exhausted. */
int ledger_check_ports(struct ledger_txn *txn, const json_t *host_rows, const char *proto, unsigned lo,
                       unsigned hi, const char *service, const char *bind, struct ledger_error *lerr);
int ledger_pick_auto_port(struct ledger_txn *txn, const json_t *host_rows, const char *proto,
                          const char *service, const char *bind, unsigned *port, struct ledger_error *lerr);

/* Every row of kind, all pages (column = value when column is not NULL). *rows owned. */
int ledger_txn_list_all(struct ledger_txn *txn, enum store_kind kind, const char *column, const char *value,
                        json_t **rows, struct ledger_error *lerr);

/* Catalog (ledger_catalog.c): every name of names is a host (else 400 naming field); a
 * group's hosts now (owned; unknown group 400, empty 422); the first group naming host. */
int ledger_hosts_exist(struct ledger_txn *txn, const json_t *names, const char *field, struct ledger_error *lerr);
/* Host rows for names (owned array, same order); unknown host: 400 naming field. */
int ledger_load_hosts(struct ledger_txn *txn, const json_t *names, const char *field, json_t **rows,
                      struct ledger_error *lerr);
int ledger_group_hosts(struct ledger_txn *txn, const char *group, const char *field, json_t **names,
                       struct ledger_error *lerr);
int ledger_host_in_group(struct ledger_txn *txn, const char *host, json_t **group, struct ledger_error *lerr);

/* ---- leases (ledger_leases.c, ledger_lease_shared.c) ---- */

/* One POST /leases (or a renew or release) waiting in the batch queue; r and out (or lerr)
 * once done. */
struct lease_job {
    struct ledger *ledger;
    const struct ledger_actor *actor;
    const json_t *body;
    const char *idempotency_key;
    const char *action;       /* NULL: a new lease; "renew" or "release" of lease action_id */
    int64_t action_id;
    json_t *out;
    bool replayed, done, taken;
    int r;
    struct ledger_error *lerr;
    struct lease_job *next;
    pthread_cond_t wake;      /* signalled when done, or when it is to lead */
};
#define LEASE_BATCH_MAX 64u

/* What a lease body asks for, the policy's defaults filled in. */
struct lease_params {
    const char *service, *host, *proto;
    int64_t ttl;
    unsigned lo, hi;
};
void ledger_lease_params(const struct ledger *ledger, const json_t *body, struct lease_params *params);
/* The leases row of a new lease (no id yet). */
json_t *ledger_lease_row(const struct lease_params *params, unsigned port, const char *idempotency_key,
                         const json_t *holder, const struct ledger_actor *actor, int64_t now);
/* Where the walk of suggest over [lo, hi] starts for the service name (the map's detour aside). */
unsigned ledger_lease_start(const struct ledger *ledger, const struct lease_params *params);
/* The walk over [lo, hi] from the service name's start (or the map's detour for it): the first
 * port from step *k on that neither the map nor the policy refuses (*k moves past it); false
 * when none is left. Every port of the range is a step of the walk, whatever the start. */
bool ledger_lease_walk(const struct ledger *ledger, const struct port_map *map, const struct lease_params *params,
                       unsigned *k, unsigned *port);
/* The jobs of a batch granted in one lease transaction of a backend with lease_insert_batch
 * (ledger_lease_shared.c), done with r = 0 and out; the others (a fixed port, a host without
 * a map, an Idempotency-Key seen before, a range the map finds full, any failure) are put in
 * rest, untouched, for the write transaction; their count is returned. *committed: a commit
 * was made, to be made durable (ledger_txn_durable) before the answers go. */
size_t ledger_lease_batch_shared(struct ledger *ledger, struct lease_job **batch, size_t n, struct lease_job **rest,
                                 bool *committed);

#endif
