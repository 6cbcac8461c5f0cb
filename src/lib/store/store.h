/* store.h — the registry server's storage interface: a struct of callbacks chosen by the
 * scheme of the --db URL ("sqlite:PATH"; PostgreSQL later), as the scan engines are chosen by
 * name. Rows are jansson objects whose keys are the columns of store_schema.c; the ledger
 * (src/lib/ledger) decides, the store only keeps. Write transactions are serialised by the
 * backend (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction advisory lock every instance
 * takes), which is what the ledger's conflict freedom relies on. */
#ifndef PORTREG_STORE_STORE_H
#define PORTREG_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

enum store_kind {
    STORE_HOSTS = 0,
    STORE_GROUPS,
    STORE_SERVICES,
    STORE_REQUESTS,
    STORE_ASSIGNMENTS,
    STORE_LEASES,
    STORE_TOKENS,
    STORE_EVENTS,
    STORE_OBSERVATIONS,   /* the latest agent report per host (migration 4) */
    STORE_SCANS,          /* the latest network scan per host (migration 4) */
    STORE_KIND_COUNT,
};

enum store_column_type { STORE_INT, STORE_TEXT, STORE_JSON };

struct store_column {
    const char *name;
    enum store_column_type type;
};

struct store_table {
    const char *name;                   /* table and resource name: "hosts" */
    const struct store_column *columns; /* after "id"; NULL-terminated */
};

/* The schema version every backend's migrations bring a database to (each backend checks at
 * compile time that it has that many migrations). */
#define STORE_SCHEMA_VERSION 7

/* The schema shared by every backend (store_schema.c). */
extern const struct store_table store_tables[STORE_KIND_COUNT];

/* A filter on a column: equal (value NULL: the column IS NULL), or at most / at least the
 * value (a range's port_lo <= p and port_hi >= p: the ranges holding port p). */
enum store_compare { STORE_EQUAL = 0, STORE_AT_MOST, STORE_AT_LEAST };
struct store_filter {
    const char *column;
    json_t *value;                      /* borrowed */
    enum store_compare compare;
};

/* The SQL operator of a comparison: "=", "<=", ">=". */
const char *store_compare_sql(enum store_compare compare);

#define STORE_LIST_MAX 1000u

/* One lease of a batch for lease_insert_batch. */
struct store_lease_insert {
    json_t *row;                  /* the leases table's columns; "id" is set when inserted */
    const char *actor;            /* its "lease.created" event's actor and request_id */
    const char *request_id;
    /* 0 inserted (with its event); -EADDRINUSE the port is claimed (the database refused it);
     * -EBUSY another transaction holds the port, not yet committed; -EEXIST its
     * idempotency_key has a lease already; -ENOENT its host does not exist; -EAGAIN not
     * tried (the policy changed) */
    int result;
};

struct store;        /* one database */
struct store_conn;   /* one connection, used by one thread at a time */

struct store_backend {
    const char *scheme;   /* "sqlite" */
    /* Open location (the URL without "scheme:"), apply the migrations (in a transaction) and
     * prepare a pool of connections. */
    int (*open)(const char *location, unsigned connections, struct store **out, struct pr_error *err);
    void (*close)(struct store *store);
    /* A connection of the pool (waits for one); give it back with release. */
    struct store_conn *(*acquire)(struct store *store);
    void (*release)(struct store *store, struct store_conn *conn);
    /* The connection for a write transaction (NULL: acquire): a backend may keep one for
     * writers, whose caches other writers would otherwise invalidate. */
    struct store_conn *(*acquire_writer)(struct store *store);
    /* write: the backend serialises writers from here (SQLite BEGIN IMMEDIATE, waiting up to
     * the busy timeout); the transaction sees every commit made before it began. */
    int (*begin)(struct store_conn *conn, bool write, struct pr_error *err);
    int (*commit)(struct store_conn *conn, struct pr_error *err);
    /* After a successful commit, once the caller has let other writers go and given its
     * connection back: wait until the calling thread's last commit is durable (a backend may
     * sync several commits at once). NULL: commit itself is durable. An answer that reports
     * the change is sent only after this returned 0. */
    int (*sync)(struct store *store, struct pr_error *err);
    void (*rollback)(struct store_conn *conn);
    /* Rows. insert fills *id (also set as "id" in row); get: -ENOENT when absent; update
     * replaces every column of the row with id; list: rows with id > after_id in id order,
     * at most limit (<= STORE_LIST_MAX), every filter an equality. -EEXIST on a unique column. */
    int (*insert)(struct store_conn *conn, enum store_kind kind, json_t *row, int64_t *id,
                  struct pr_error *err);
    /* insert keeping row's "id" (serve export-db: ids are referenced by events, requests'
     * assignments...); later inserts get ids after the largest once ids_copied ran. */
    int (*insert_with_id)(struct store_conn *conn, enum store_kind kind, json_t *row, struct pr_error *err);
    /* After the insert_with_id of every row of kind: later inserts get ids after the largest
     * (once per table, not per row). NULL: insert_with_id already ensures it (SQLite). */
    int (*ids_copied)(struct store_conn *conn, enum store_kind kind, struct pr_error *err);
    int (*get)(struct store_conn *conn, enum store_kind kind, int64_t id, json_t **row,
               struct pr_error *err);
    int (*update)(struct store_conn *conn, enum store_kind kind, int64_t id, const json_t *row,
                  struct pr_error *err);
    /* Delete the row with id (-ENOENT when absent); the events table refuses it. */
    int (*remove)(struct store_conn *conn, enum store_kind kind, int64_t id, struct pr_error *err);
    int (*list)(struct store_conn *conn, enum store_kind kind, const struct store_filter *filters,
                size_t filter_count, int64_t after_id, unsigned limit, json_t **rows,
                struct pr_error *err);
    /* Everything that holds a port of [lo, hi] on host/proto at time now: assignments active,
     * or quarantined with quarantine_until > now; leases active with expires_at > now. */
    int (*claims)(struct store_conn *conn, const char *host, const char *proto, unsigned lo,
                  unsigned hi, int64_t now, json_t **assignments, json_t **leases,
                  struct pr_error *err);
    /* Every claim of every host (the memory maps are rebuilt from it at start). */
    int (*all_claims)(struct store_conn *conn, int64_t now, json_t **assignments, json_t **leases,
                      struct pr_error *err);
    /* Active leases with expires_at <= now, at most limit (a bounded reclaim batch). */
    int (*expired_leases)(struct store_conn *conn, int64_t now, unsigned limit, json_t **rows,
                          struct pr_error *err);
    /* Policy: one JSON document (NULL when never set). */
    int (*policy_get)(struct store_conn *conn, json_t **policy, struct pr_error *err);
    int (*policy_set)(struct store_conn *conn, const json_t *policy, struct pr_error *err);
    /* 0 when the database answers (readiness). */
    int (*ping)(struct store *store, struct pr_error *err);
    /* How many rows of kind there are for each value of column (a column of the schema):
     * *counts an object value → count (the server's /metrics gauges). */
    int (*count_by)(struct store_conn *conn, enum store_kind kind, const char *column, json_t **counts,
                    struct pr_error *err);
    /* Several servers on one database (NULL when one server has it alone, as SQLite): the
     * claims other servers changed since *seq, read right after a write transaction began
     * (under the writers' lock, so in commit order); *changes an array of {host, proto, lo,
     * hi, taken} (proto "policy": the policy changed; taken: a lease was taken, nothing else
     * changed), *seq advanced. *seq < 0: only set *seq to now.
     * *gap: changes were pruned before they were read (rebuild every map). */
    int (*claim_changes)(struct store_conn *conn, int64_t *seq, json_t **changes, bool *gap, struct pr_error *err);
    /* Lease batches that run beside those of other servers on the database (NULL: the backend
     * has none, every lease runs in a write transaction). prepare_leases: the connection made
     * ready (again, when it broke); no transaction. lease_insert_batch: every item inserted
     * with its event in one round trip and one transaction of its own, beside other lease
     * batches but never beside a write transaction (which waits for it and which it waits
     * for); each item on its own (a refused one changes nothing), item->result telling
     * which; when it returns 0 the transaction committed durably (sync has nothing to add).
     * The database itself refuses a port claimed twice, so nothing read before is relied on. The same
     * round trip reads the claim changes since *seq, as claim_changes (after the inserts);
     * when other servers changed the policy, nothing is inserted (every result -EAGAIN): the
     * caller applies the changes and picks again. */
    int (*prepare_leases)(struct store_conn *conn, struct pr_error *err);
    int (*lease_insert_batch)(struct store_conn *conn, struct store_lease_insert *items, size_t count, int64_t now,
                              int64_t *seq, json_t **changes, bool *gap, struct pr_error *err);
};

/* The backend for url's scheme and, in *location, what follows "scheme:"; NULL when unknown. */
const struct store_backend *store_backend_find(const char *url, const char **location);

/* Whether name is "id" or a column of kind's table (its type in *type): what a backend checks
 * before it puts a column name into SQL text. */
bool store_column_known(enum store_kind kind, const char *name, enum store_column_type *type);

/* A row's integer / text column, with fallbacks. */
int64_t store_row_int(const json_t *row, const char *column, int64_t fallback);
const char *store_row_text(const json_t *row, const char *column);

#endif
