/* store_sqlite.c — the SQLite backend of store.h: WAL, synchronous=FULL (a commit is on disk
 * when it returns; sqlite:PATH?synchronous=normal trades that for speed), a busy timeout, a pool of connections (one per server thread), the schema
 * versioned in schema_migrations and migrated at open inside one transaction.
 * Isolation relied on: SQLite has one writer at a time; BEGIN IMMEDIATE takes the write lock
 * when the transaction starts, so a write transaction's reads (the conflict checks) and its
 * writes see no other writer in between — two transactions can never both take one port. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

#define SQLITE_BUSY_TIMEOUT_MS 10000
#define SQLITE_CHECKPOINT_PAGES 1000   /* SQLite's own default for its automatic checkpoint */

/* Prepared statements kept per connection, by SQL text: a statement is parsed and planned
 * once, then reset and rebound (a lease runs about ten statements; preparing them each time
 * cost more than running them). Full, the least recently used one is finalised. */
#define STATEMENT_CACHE_SIZE 64

struct cached_statement {
    uint64_t hash;            /* of sql; 0: empty slot */
    char *sql;
    sqlite3_stmt *st;
    uint64_t last_used;
};

struct store_conn {
    sqlite3 *db;
    struct store *store;
    bool in_use;
    uint64_t uses;
    struct cached_statement statements[STATEMENT_CACHE_SIZE];
};

/* Group sync (synchronous=FULL, the default). SQLite's FULL is NORMAL plus a sync of the WAL
 * after each commit, made while the writer still holds the write lock, so commits are as many
 * as the disk does syncs. Here the connections run NORMAL and the store makes that sync
 * itself (sqlite_sync: fdatasync of the -wal file, as SQLite's own sync) after the writer has
 * let go of the locks and of its connection: a commit takes a number, and one sync covers
 * every commit numbered before it began; writers that arrive while a sync runs wait for it
 * and share the next. An answer is sent only after its sync, so every acknowledged change is
 * on disk, as with FULL. A reader may see a change whose writer still waits for the disk.
 * Writes go through one connection (conns[0], when there are two or more): SQLite empties a
 * connection's page cache whenever another connection wrote, so a single writer keeps its
 * cache; readers take the others. */
struct store {
    struct store_conn *conns;
    unsigned count;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char path[4096];
    bool group_sync;
    pthread_mutex_t sync_lock;
    pthread_cond_t synced_cond;
    uint64_t committed;       /* commits made (numbered in commit order, under SQLite's write lock) */
    uint64_t synced;          /* commits known to be on disk */
    bool syncing;
    int wal_fd;               /* the -wal file, opened at the first sync; -1 */
    _Atomic int wal_pages;    /* the WAL's size in pages after the last commit */
    int checkpoint_tried_at;  /* wal_pages when a checkpoint was last tried (under sync_lock) */
};

/* The calling thread's last commit, which sqlite_sync waits for. */
static _Thread_local struct {
    const struct store *store;
    uint64_t number;
} thread_commit;

/* Migrations in order; migration i brings the schema to version i + 1. Never edit one that
 * shipped: add the next. */
static const char *const sqlite_migrations[] = {
    "CREATE TABLE hosts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, addresses TEXT NOT NULL,"
    "  version INTEGER NOT NULL, created INTEGER, updated INTEGER);"
    "CREATE TABLE groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, hosts TEXT NOT NULL,"
    "  version INTEGER NOT NULL);"
    "CREATE TABLE services (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, owner TEXT,"
    "  version INTEGER NOT NULL);"
    "CREATE TABLE requests (id INTEGER PRIMARY KEY, service TEXT NOT NULL, hosts TEXT NOT NULL,"
    "  proto TEXT NOT NULL, port TEXT NOT NULL, bind TEXT NOT NULL, exposure TEXT, owner TEXT,"
    "  reason TEXT, state TEXT NOT NULL CHECK (state IN ('submitted','approved','rejected','withdrawn')),"
    "  requested_by TEXT, decided_by TEXT, assignments TEXT, version INTEGER NOT NULL,"
    "  created INTEGER, updated INTEGER);"
    "CREATE INDEX requests_state ON requests(state);"
    "CREATE TABLE assignments (id INTEGER PRIMARY KEY, service TEXT NOT NULL, host TEXT NOT NULL,"
    "  proto TEXT NOT NULL, port_lo INTEGER NOT NULL CHECK (port_lo BETWEEN 1 AND 65535),"
    "  port_hi INTEGER NOT NULL CHECK (port_hi BETWEEN port_lo AND 65535), bind TEXT NOT NULL,"
    "  owner TEXT, state TEXT NOT NULL CHECK (state IN ('active','quarantined','revoked','deassigned')),"
    "  quarantine_until INTEGER, request INTEGER REFERENCES requests(id), version INTEGER NOT NULL,"
    "  created INTEGER, updated INTEGER);"
    "CREATE INDEX assignments_claim ON assignments(host, proto, state, port_lo);"
    "CREATE TABLE leases (id INTEGER PRIMARY KEY, service TEXT NOT NULL, host TEXT NOT NULL,"
    "  proto TEXT NOT NULL, port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
    "  expires_at INTEGER NOT NULL, idempotency_key TEXT UNIQUE,"
    "  state TEXT NOT NULL CHECK (state IN ('active','released','expired')), holder TEXT,"
    "  version INTEGER NOT NULL, created INTEGER, updated INTEGER);"
    "CREATE INDEX leases_claim ON leases(host, proto, state, port);"
    "CREATE INDEX leases_expiry ON leases(state, expires_at);"
    "CREATE TABLE tokens (id INTEGER PRIMARY KEY, name TEXT, role TEXT NOT NULL"
    "  CHECK (role IN ('reader','requester','admin')), hash TEXT NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL, expires INTEGER, last_used INTEGER);"
    "CREATE TABLE events (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT,"
    "  request_id TEXT, kind TEXT NOT NULL, object_kind TEXT, object_id INTEGER, before TEXT,"
    "  after TEXT);"
    "CREATE INDEX events_request ON events(request_id);"
    "CREATE INDEX events_object ON events(object_kind, object_id);"
    "CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events"
    "  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    "CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events"
    "  BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    "CREATE TABLE policy (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    /* 2: groups and services as resources; the group a request or assignment was made for;
     * an assignment's exposure (for exports); who took a lease (only they release it) */
    "ALTER TABLE groups ADD COLUMN created INTEGER; ALTER TABLE groups ADD COLUMN updated INTEGER;"
    "ALTER TABLE services ADD COLUMN description TEXT; ALTER TABLE services ADD COLUMN created INTEGER;"
    "ALTER TABLE services ADD COLUMN updated INTEGER;"
    "ALTER TABLE requests ADD COLUMN \"group\" TEXT;"
    "ALTER TABLE assignments ADD COLUMN \"group\" TEXT; ALTER TABLE assignments ADD COLUMN exposure TEXT;"
    "CREATE INDEX assignments_group ON assignments(\"group\");"
    "ALTER TABLE leases ADD COLUMN requested_by TEXT;",
    /* 3: why a request was approved, rejected or withdrawn (the admin's or requester's words) */
    "ALTER TABLE requests ADD COLUMN decision_reason TEXT;",
    /* 4: agents and scans (issue 11): the agent role and the host an agent token reports for
     * (SQLite cannot change a CHECK: the tokens table is copied); the latest report per host;
     * the latest scan per host. Plain tables: JSON as TEXT, no triggers. */
    "CREATE TABLE tokens_4 (id INTEGER PRIMARY KEY, name TEXT, role TEXT NOT NULL"
    "  CHECK (role IN ('reader','agent','requester','admin')), hash TEXT NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL, expires INTEGER, last_used INTEGER, host TEXT);"
    "INSERT INTO tokens_4 (id, name, role, hash, created, expires, last_used)"
    "  SELECT id, name, role, hash, created, expires, last_used FROM tokens;"
    "DROP TABLE tokens; ALTER TABLE tokens_4 RENAME TO tokens;"
    "CREATE TABLE observations (id INTEGER PRIMARY KEY, host TEXT NOT NULL UNIQUE, seq INTEGER NOT NULL,"
    "  agent TEXT, interval_s INTEGER, ephemeral TEXT, reserved TEXT, listeners TEXT NOT NULL,"
    "  findings TEXT, quiet TEXT, reports INTEGER, last_seen INTEGER NOT NULL, version INTEGER NOT NULL,"
    "  created INTEGER, updated INTEGER);"
    "CREATE TABLE scans (id INTEGER PRIMARY KEY, host TEXT NOT NULL UNIQUE, time INTEGER NOT NULL,"
    "  scanner TEXT, addresses TEXT, open TEXT NOT NULL, filtered TEXT NOT NULL, version INTEGER NOT NULL,"
    "  created INTEGER, updated INTEGER);",
    /* 5: PostgreSQL's lease batch function; nothing here (one server has its SQLite file alone) */
    "",
    /* 6: PostgreSQL's claims in one address space; nothing here */
    "",
    /* 7: PostgreSQL's claims written again when a host's addresses change; nothing here (the
     * ledger checks such a change itself, ledger_check_host_addresses) */
    "",
};
#define SQLITE_MIGRATION_COUNT (sizeof sqlite_migrations / sizeof sqlite_migrations[0])
_Static_assert(SQLITE_MIGRATION_COUNT == STORE_SCHEMA_VERSION, "a migration of store.h's schema version is missing");

static int sqlite_fail(sqlite3 *db, int rc, struct pr_error *err, const char *what)
{
    int code = rc == SQLITE_CONSTRAINT ? -EEXIST : (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? -EBUSY
             : rc == SQLITE_NOMEM ? -ENOMEM : rc == SQLITE_CANTOPEN || rc == SQLITE_PERM ? -EACCES : -EIO;
    return pr_error_set(err, code, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int sqlite_exec(sqlite3 *db, const char *sql, struct pr_error *err)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sqlite_fail(db, rc, err, "sqlite");
}

static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

/* The prepared statement for sql on conn (from the cache, reset, or prepared now); give it
 * back with statement_put. SQLITE_OK or the prepare's error. */
static int statement_get(struct store_conn *conn, const char *sql, sqlite3_stmt **out)
{
    uint64_t hash = sql_hash(sql);
    struct cached_statement *victim = &conn->statements[0];
    conn->uses++;
    for (size_t i = 0; i < STATEMENT_CACHE_SIZE; i++) {
        struct cached_statement *c = &conn->statements[i];
        if (c->hash == hash && strcmp(c->sql, sql) == 0) {
            c->last_used = conn->uses;
            *out = c->st;
            return SQLITE_OK;
        }
        if (c->last_used < victim->last_used)
            victim = c;
    }
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v3(conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    char *copy = strdup(sql);
    if (!copy) {
        sqlite3_finalize(st);
        return SQLITE_NOMEM;
    }
    sqlite3_finalize(victim->st);
    free(victim->sql);
    *victim = (struct cached_statement){ hash, copy, st, conn->uses };
    *out = st;
    return SQLITE_OK;
}

/* Done with a statement of statement_get: reset, bindings cleared (JSON texts freed). */
static void statement_put(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Run a statement without rows (BEGIN, COMMIT...) through the cache. */
static int conn_exec(struct store_conn *conn, const char *sql, struct pr_error *err)
{
    sqlite3_stmt *st;
    int rc = statement_get(conn, sql, &st);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        statement_put(st);
    }
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sqlite_fail(conn->db, rc, err, "sqlite");
}

static void conn_close(struct store_conn *conn)
{
    for (size_t i = 0; i < STATEMENT_CACHE_SIZE; i++) {
        sqlite3_finalize(conn->statements[i].st);
        free(conn->statements[i].sql);
    }
    sqlite3_close(conn->db);
}

static int sqlite_user_version(sqlite3 *db, int64_t *version, struct pr_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(db, rc, err, "schema_migrations");
    rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : sqlite_fail(db, rc, err, "schema_migrations");
}

/* Every migration not yet applied, all in one transaction: a crash leaves the old schema. */
static int sqlite_migrate(sqlite3 *db, struct pr_error *err)
{
    if (sqlite_exec(db, "BEGIN IMMEDIATE", err) < 0)
        return err->code;
    int64_t version = 0;
    int r = sqlite_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                            " applied_at INTEGER NOT NULL)", err);
    if (r == 0)
        r = sqlite_user_version(db, &version, err);
    if (r == 0 && version > (int64_t)SQLITE_MIGRATION_COUNT)
        r = pr_error_set(err, -EPROTO, "the database has schema version %lld, newer than this portreg "
                         "knows (%zu)", (long long)version, SQLITE_MIGRATION_COUNT);
    for (size_t i = (size_t)version; r == 0 && i < SQLITE_MIGRATION_COUNT; i++) {
        r = sqlite_exec(db, sqlite_migrations[i], err);
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES (%zu, strftime('%%s','now'))", i + 1);
        if (r == 0)
            r = sqlite_exec(db, sql, err);
    }
    if (r < 0) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
    }
    return sqlite_exec(db, "COMMIT", err);
}

/* Every connection runs synchronous=NORMAL: with ?synchronous=normal a commit is durable only
 * at the next checkpoint (a power loss may lose the last commits, never corrupt the file);
 * by default sqlite_sync adds the commit's WAL sync, which makes it FULL (group sync). */
/* The WAL hook (instead of SQLite's automatic checkpoint, which would run inside the commit,
 * while every other writer waits): remember the size; sqlite_sync checkpoints. */
static int wal_grew(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    atomic_store(&((struct store *)arg)->wal_pages, pages);
    return SQLITE_OK;
}

static int sqlite_open_one(const char *path, struct store_conn *conn, struct pr_error *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int r = sqlite_fail(db, rc, err, path);
        sqlite3_close(db);
        return r;
    }
    sqlite3_busy_timeout(db, SQLITE_BUSY_TIMEOUT_MS);
    int r = sqlite_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", err);
    if (r < 0) {
        sqlite3_close(db);
        return r;
    }
    sqlite3_wal_hook(db, wal_grew, conn->store);
    conn->db = db;
    return 0;
}

static void sqlite_close(struct store *store)
{
    if (!store)
        return;
    for (unsigned i = 0; i < store->count; i++)
        conn_close(&store->conns[i]);
    pthread_mutex_destroy(&store->lock);
    pthread_cond_destroy(&store->freed);
    pthread_mutex_destroy(&store->sync_lock);
    pthread_cond_destroy(&store->synced_cond);
    if (store->wal_fd >= 0)
        close(store->wal_fd);
    free(store->conns);
    free(store);
}

static int sqlite_open(const char *location, unsigned connections, struct store **out, struct pr_error *err)
{
    if (!location || !location[0])
        return pr_error_set(err, -EINVAL, "sqlite: give a path: sqlite:PATH");
    /* sqlite:PATH?synchronous=full|normal: the one option of the URL */
    char path[4096];
    bool sync_normal = false;
    const char *query = strchr(location, '?');
    size_t path_len = query ? (size_t)(query - location) : strlen(location);
    if (path_len == 0 || path_len >= sizeof path)
        return pr_error_set(err, -EINVAL, "sqlite: give a path: sqlite:PATH");
    memcpy(path, location, path_len);
    path[path_len] = '\0';
    if (query) {
        if (strcmp(query, "?synchronous=normal") == 0)
            sync_normal = true;
        else if (strcmp(query, "?synchronous=full") != 0)
            return pr_error_set(err, -EINVAL, "sqlite:%s: the URL's option is synchronous=full or synchronous=normal",
                                location);
    }
    location = path;
    struct store *store = calloc(1, sizeof *store);
    if (!store || !(store->conns = calloc(connections ? connections : 1, sizeof *store->conns))) {
        free(store);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    pthread_mutex_init(&store->lock, NULL);
    pthread_cond_init(&store->freed, NULL);
    pthread_mutex_init(&store->sync_lock, NULL);
    pthread_cond_init(&store->synced_cond, NULL);
    store->group_sync = !sync_normal;
    store->wal_fd = -1;
    snprintf(store->path, sizeof store->path, "%s", location);
    int r = 0;
    for (unsigned i = 0; i < (connections ? connections : 1) && r == 0; i++) {
        store->conns[i].store = store;
        r = sqlite_open_one(location, &store->conns[i], err);
        if (r == 0)
            store->count++;
        if (r == 0 && i == 0)
            r = sqlite_migrate(store->conns[0].db, err);
    }
    if (r < 0) {
        pr_error_set_path(err, location);
        sqlite_close(store);
        return r;
    }
    *out = store;
    return 0;
}

/* A connection from conns[first..], waiting until one is free. */
static struct store_conn *acquire_from(struct store *store, unsigned first)
{
    pthread_mutex_lock(&store->lock);
    for (;;) {
        for (unsigned i = first; i < store->count; i++)
            if (!store->conns[i].in_use) {
                store->conns[i].in_use = true;
                pthread_mutex_unlock(&store->lock);
                return &store->conns[i];
            }
        pthread_cond_wait(&store->freed, &store->lock);
    }
}

static struct store_conn *sqlite_acquire(struct store *store)
{
    return acquire_from(store, store->count > 1 ? 1 : 0);
}

static struct store_conn *sqlite_acquire_writer(struct store *store)
{
    /* conns[0] alone: writers are one at a time anyway, and its page cache stays valid */
    pthread_mutex_lock(&store->lock);
    while (store->conns[0].in_use)
        pthread_cond_wait(&store->freed, &store->lock);
    store->conns[0].in_use = true;
    pthread_mutex_unlock(&store->lock);
    return &store->conns[0];
}

static void sqlite_release(struct store *store, struct store_conn *conn)
{
    pthread_mutex_lock(&store->lock);
    conn->in_use = false;
    pthread_cond_broadcast(&store->freed);   /* a writer waits for conns[0], readers for any */
    pthread_mutex_unlock(&store->lock);
}

static int sqlite_begin(struct store_conn *conn, bool write, struct pr_error *err)
{
    /* IMMEDIATE: the write lock is taken now, before the transaction reads anything, so the
     * checks it makes hold until COMMIT (SQLite serialises writers). */
    return conn_exec(conn, write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED", err);
}

static int sqlite_commit(struct store_conn *conn, struct pr_error *err)
{
    bool was_write = sqlite3_txn_state(conn->db, "main") == SQLITE_TXN_WRITE;
    int r = conn_exec(conn, "COMMIT", err);
    if (r == 0 && was_write) {
        /* still serialised by SQLite's write lock (and the ledger's): numbers follow commit order */
        pthread_mutex_lock(&conn->store->sync_lock);
        thread_commit.store = conn->store;
        thread_commit.number = ++conn->store->committed;
        pthread_mutex_unlock(&conn->store->sync_lock);
    }
    return r;
}

/* Sync the -wal file (as SQLite's own sync of it: fdatasync). The file is opened once, its
 * directory synced then (a new WAL's name is durable, as SQLite does at its first sync), and
 * opened again if another -wal file has taken its name. Under sync_lock with syncing set. */
static int sync_wal_file(struct store *store)
{
    char wal[4096 + 8];
    snprintf(wal, sizeof wal, "%s-wal", store->path);
    struct stat named, opened;
    if (stat(wal, &named) < 0)
        return errno == ENOENT ? 0 : -errno;   /* no WAL: every commit was checkpointed at close */
    if (store->wal_fd >= 0 && (fstat(store->wal_fd, &opened) < 0 || opened.st_ino != named.st_ino ||
                               opened.st_dev != named.st_dev)) {
        close(store->wal_fd);
        store->wal_fd = -1;
    }
    if (store->wal_fd < 0) {
        store->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
        if (store->wal_fd < 0)
            return -errno;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", store->path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *(slash == dir ? slash + 1 : slash) = '\0';
        int dir_fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd >= 0) {
            fsync(dir_fd);
            close(dir_fd);
        }
    }
    return fdatasync(store->wal_fd) < 0 ? -errno : 0;
}

/* After the writer let go of its locks and connection: checkpoint when the WAL has grown (as
 * SQLite's automatic checkpoint, PASSIVE at 1000 pages, but not inside the commit; tried
 * again only after 100 more pages when readers kept it from finishing), then wait until the
 * calling thread's last commit is on disk: one thread syncs for every commit numbered so far,
 * the others wait for it (group sync; see struct store). */
static int sqlite_sync(struct store *store, struct pr_error *err)
{
    int pages = atomic_load(&store->wal_pages);
    bool checkpoint = false;
    pthread_mutex_lock(&store->sync_lock);
    if (pages < store->checkpoint_tried_at)
        store->checkpoint_tried_at = 0;   /* the WAL started again */
    if (pages >= SQLITE_CHECKPOINT_PAGES && pages >= store->checkpoint_tried_at + 100) {
        store->checkpoint_tried_at = pages;
        checkpoint = true;
    }
    pthread_mutex_unlock(&store->sync_lock);
    if (checkpoint) {
        struct store_conn *conn = sqlite_acquire(store);
        sqlite3_wal_checkpoint_v2(conn->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        sqlite_release(store, conn);
    }
    if (!store->group_sync || thread_commit.store != store || thread_commit.number == 0)
        return 0;
    int r = 0;
    pthread_mutex_lock(&store->sync_lock);
    while (store->synced < thread_commit.number && r == 0) {
        if (store->syncing) {
            pthread_cond_wait(&store->synced_cond, &store->sync_lock);
            continue;
        }
        store->syncing = true;
        uint64_t covered = store->committed;   /* every commit numbered now has written its frames */
        pthread_mutex_unlock(&store->sync_lock);
        r = sync_wal_file(store);
        pthread_mutex_lock(&store->sync_lock);
        store->syncing = false;
        if (r == 0 && covered > store->synced)
            store->synced = covered;
        pthread_cond_broadcast(&store->synced_cond);
    }
    pthread_mutex_unlock(&store->sync_lock);
    thread_commit.number = 0;
    return r == 0 ? 0 : pr_error_set(err, r, "sync of the write-ahead log: %s", strerror(-r));
}

static void sqlite_rollback(struct store_conn *conn)
{
    struct pr_error ignored;
    conn_exec(conn, "ROLLBACK", &ignored);
}

static int bind_value(sqlite3_stmt *st, int index, enum store_column_type type, const json_t *v)
{
    if (!v || json_is_null(v))
        return sqlite3_bind_null(st, index);
    if (type == STORE_JSON) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        return text ? sqlite3_bind_text(st, index, text, -1, free) : SQLITE_NOMEM;
    }
    if (json_is_integer(v))
        return sqlite3_bind_int64(st, index, (sqlite3_int64)json_integer_value(v));
    if (json_is_string(v))
        return sqlite3_bind_text(st, index, json_string_value(v), (int)json_string_length(v), SQLITE_TRANSIENT);
    if (json_is_boolean(v))
        return sqlite3_bind_int(st, index, json_is_true(v));
    return SQLITE_MISMATCH;
}

static json_t *column_value(sqlite3_stmt *st, int index, enum store_column_type type)
{
    if (sqlite3_column_type(st, index) == SQLITE_NULL)
        return json_null();
    if (type == STORE_INT)
        return json_integer((json_int_t)sqlite3_column_int64(st, index));
    const char *text = (const char *)sqlite3_column_text(st, index);
    if (type == STORE_JSON) {
        json_t *v = json_loads(text ? text : "null", JSON_DECODE_ANY, NULL);
        return v ? v : json_null();
    }
    return json_string(text ? text : "");
}

static json_t *row_from_statement(sqlite3_stmt *st, enum store_kind kind)
{
    json_t *row = json_object();
    json_object_set_new(row, "id", json_integer((json_int_t)sqlite3_column_int64(st, 0)));
    int i = 1;
    for (const struct store_column *c = store_tables[kind].columns; c->name; c++, i++)
        json_object_set_new(row, c->name, column_value(st, i, c->type));
    return row;
}

static void select_columns(enum store_kind kind, char *sql, size_t size)
{
    size_t n = (size_t)snprintf(sql, size, "SELECT id");
    for (const struct store_column *c = store_tables[kind].columns; c->name && n < size; c++)
        n += (size_t)snprintf(sql + n, size - n, ", \"%s\"", c->name);
    if (n < size)
        snprintf(sql + n, size - n, " FROM \"%s\"", store_tables[kind].name);
}

/* INSERT of row's columns; keep_id: also its "id" (export-db copies rows with their ids). */
static int sqlite_insert_row(struct store_conn *conn, enum store_kind kind, json_t *row, bool keep_id, int64_t *id,
                             struct pr_error *err)
{
    char sql[1024], values[256];
    size_t n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO \"%s\" (%s", store_tables[kind].name, keep_id ? "id" : ""), v = 0;
    v += (size_t)snprintf(values, sizeof values, "%s", keep_id ? "?" : "");
    int count = keep_id ? 1 : 0;
    for (const struct store_column *c = store_tables[kind].columns; c->name; c++, count++) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\"", count ? ", " : "", c->name);
        v += (size_t)snprintf(values + v, sizeof values - v, "%s?", count ? ", " : "");
    }
    snprintf(sql + n, sizeof sql - n, ") VALUES (%s)", values);
    sqlite3_stmt *st;
    int rc = statement_get(conn, sql, &st);
    if (rc != SQLITE_OK)
        return sqlite_fail(conn->db, rc, err, store_tables[kind].name);
    int i = 1;
    if (keep_id)
        rc = bind_value(st, i++, STORE_INT, json_object_get(row, "id"));
    for (const struct store_column *c = store_tables[kind].columns; c->name && rc == SQLITE_OK; c++, i++)
        rc = bind_value(st, i, c->type, json_object_get(row, c->name));
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    statement_put(st);
    if (rc != SQLITE_DONE)
        return sqlite_fail(conn->db, rc, err, store_tables[kind].name);
    *id = (int64_t)sqlite3_last_insert_rowid(conn->db);
    json_object_set_new(row, "id", json_integer((json_int_t)*id));
    return 0;
}

static int sqlite_insert(struct store_conn *conn, enum store_kind kind, json_t *row, int64_t *id,
                         struct pr_error *err)
{
    return sqlite_insert_row(conn, kind, row, false, id, err);
}

/* An INTEGER PRIMARY KEY takes the id given, and the next rowid is max(id) + 1: no sequence to
 * move afterwards. */
static int sqlite_insert_with_id(struct store_conn *conn, enum store_kind kind, json_t *row, struct pr_error *err)
{
    int64_t id;
    return sqlite_insert_row(conn, kind, row, true, &id, err);
}

static int sqlite_update(struct store_conn *conn, enum store_kind kind, int64_t id, const json_t *row,
                         struct pr_error *err)
{
    char sql[1024];
    size_t n = (size_t)snprintf(sql, sizeof sql, "UPDATE \"%s\" SET ", store_tables[kind].name);
    int count = 0;
    for (const struct store_column *c = store_tables[kind].columns; c->name; c++, count++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\" = ?", count ? ", " : "", c->name);
    snprintf(sql + n, sizeof sql - n, " WHERE id = ?");
    sqlite3_stmt *st;
    int rc = statement_get(conn, sql, &st);
    if (rc != SQLITE_OK)
        return sqlite_fail(conn->db, rc, err, store_tables[kind].name);
    int i = 1;
    for (const struct store_column *c = store_tables[kind].columns; c->name && rc == SQLITE_OK; c++, i++)
        rc = bind_value(st, i, c->type, json_object_get(row, c->name));
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, i, (sqlite3_int64)id);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    statement_put(st);
    if (rc != SQLITE_DONE)
        return sqlite_fail(conn->db, rc, err, store_tables[kind].name);
    return sqlite3_changes(conn->db) ? 0 : pr_error_set(err, -ENOENT, "no %s %lld", store_tables[kind].name, (long long)id);
}

static int sqlite_remove(struct store_conn *conn, enum store_kind kind, int64_t id, struct pr_error *err)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE id = ?", store_tables[kind].name);
    sqlite3_stmt *st;
    int rc = statement_get(conn, sql, &st);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
        rc = sqlite3_step(st);
        statement_put(st);
    }
    if (rc != SQLITE_DONE)
        return sqlite_fail(conn->db, rc, err, store_tables[kind].name);
    return sqlite3_changes(conn->db) ? 0 : pr_error_set(err, -ENOENT, "no %s %lld", store_tables[kind].name, (long long)id);
}

/* Run a prepared SELECT of kind's columns; rows appended to *rows (created when NULL). */
static int collect_rows(sqlite3 *db, sqlite3_stmt *st, enum store_kind kind, json_t **rows, struct pr_error *err)
{
    if (!*rows)
        *rows = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(*rows, row_from_statement(st, kind));
    statement_put(st);
    return rc == SQLITE_DONE ? 0 : sqlite_fail(db, rc, err, store_tables[kind].name);
}

static int sqlite_list(struct store_conn *conn, enum store_kind kind, const struct store_filter *filters,
                       size_t filter_count, int64_t after_id, unsigned limit, json_t **rows,
                       struct pr_error *err)
{
    char sql[2048];
    select_columns(kind, sql, sizeof sql);
    size_t n = strlen(sql);
    n += (size_t)snprintf(sql + n, sizeof sql - n, " WHERE id > ?");
    for (size_t f = 0; f < filter_count; f++) {
        enum store_column_type type;
        if (!store_column_known(kind, filters[f].column, &type))
            return pr_error_set(err, -EINVAL, "%s has no column %s", store_tables[kind].name, filters[f].column);
        if (json_is_null(filters[f].value) || !filters[f].value)
            n += (size_t)snprintf(sql + n, sizeof sql - n, " AND \"%s\" IS NULL", filters[f].column);
        else
            n += (size_t)snprintf(sql + n, sizeof sql - n, " AND \"%s\" %s ?", filters[f].column,
                                  store_compare_sql(filters[f].compare));
    }
    snprintf(sql + n, sizeof sql - n, " ORDER BY id LIMIT ?");
    sqlite3_stmt *st;
    int rc = statement_get(conn, sql, &st);
    if (rc != SQLITE_OK)
        return sqlite_fail(conn->db, rc, err, store_tables[kind].name);
    int i = 1;
    rc = sqlite3_bind_int64(st, i++, (sqlite3_int64)after_id);
    for (size_t f = 0; f < filter_count && rc == SQLITE_OK; f++) {
        enum store_column_type type = STORE_TEXT;
        store_column_known(kind, filters[f].column, &type);
        if (filters[f].value && !json_is_null(filters[f].value))
            rc = bind_value(st, i++, type, filters[f].value);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(st, i, (int)(limit && limit <= STORE_LIST_MAX ? limit : STORE_LIST_MAX));
    if (rc != SQLITE_OK) {
        statement_put(st);
        return sqlite_fail(conn->db, rc, err, store_tables[kind].name);
    }
    *rows = NULL;
    return collect_rows(conn->db, st, kind, rows, err);
}

static int sqlite_get(struct store_conn *conn, enum store_kind kind, int64_t id, json_t **row,
                      struct pr_error *err)
{
    json_t *rows = NULL;
    json_t *value = json_integer((json_int_t)id);
    struct store_filter f = { "id", value, STORE_EQUAL };
    int r = sqlite_list(conn, kind, &f, 1, 0, 1, &rows, err);
    json_decref(value);
    if (r < 0)
        return r;
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return pr_error_set(err, -ENOENT, "no %s %lld", store_tables[kind].name, (long long)id);
    }
    *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return 0;
}

static int select_where(struct store_conn *conn, enum store_kind kind, const char *where,
                        const char *host, const char *proto, int64_t a, int64_t b, int64_t c,
                        json_t **rows, struct pr_error *err)
{
    char sql[2048];
    select_columns(kind, sql, sizeof sql);
    size_t n = strlen(sql);
    snprintf(sql + n, sizeof sql - n, " WHERE %s ORDER BY id", where);
    sqlite3_stmt *st;
    int rc = statement_get(conn, sql, &st);
    if (rc != SQLITE_OK)
        return sqlite_fail(conn->db, rc, err, store_tables[kind].name);
    int count = sqlite3_bind_parameter_count(st);
    int i = 1;
    if (host && i <= count)
        sqlite3_bind_text(st, i++, host, -1, SQLITE_TRANSIENT);
    if (proto && i <= count)
        sqlite3_bind_text(st, i++, proto, -1, SQLITE_TRANSIENT);
    int64_t numbers[3] = { a, b, c };
    for (int k = 0; k < 3 && i <= count; k++)
        sqlite3_bind_int64(st, i++, (sqlite3_int64)numbers[k]);
    return collect_rows(conn->db, st, kind, rows, err);
}

static int sqlite_claims(struct store_conn *conn, const char *host, const char *proto, unsigned lo,
                         unsigned hi, int64_t now, json_t **assignments, json_t **leases,
                         struct pr_error *err)
{
    *assignments = *leases = NULL;
    int r;
    r = select_where(conn, STORE_ASSIGNMENTS,
                     "host = ?1 AND proto = ?2 AND port_lo <= ?4 AND port_hi >= ?3 AND"
                     " (state = 'active' OR (state = 'quarantined' AND quarantine_until > ?5))",
                     host, proto, (int64_t)lo, (int64_t)hi, now, assignments, err);
    if (r == 0)
        r = select_where(conn, STORE_LEASES,
                         "host = ?1 AND proto = ?2 AND port BETWEEN ?3 AND ?4 AND state = 'active'"
                         " AND expires_at > ?5", host, proto, (int64_t)lo, (int64_t)hi, now, leases, err);
    return r;
}

static int sqlite_all_claims(struct store_conn *conn, int64_t now, json_t **assignments, json_t **leases,
                             struct pr_error *err)
{
    *assignments = *leases = NULL;
    int r = select_where(conn, STORE_ASSIGNMENTS,
                         "state = 'active' OR (state = 'quarantined' AND quarantine_until > ?1)",
                         NULL, NULL, now, 0, 0, assignments, err);
    if (r == 0)
        r = select_where(conn, STORE_LEASES, "state = 'active' AND expires_at > ?1", NULL, NULL, now, 0, 0,
                         leases, err);
    return r;
}

static int sqlite_expired_leases(struct store_conn *conn, int64_t now, unsigned limit, json_t **rows,
                                 struct pr_error *err)
{
    *rows = NULL;
    return select_where(conn, STORE_LEASES, "id IN (SELECT id FROM leases WHERE state = 'active' AND expires_at <= ?1"
                        " ORDER BY expires_at LIMIT ?2)", NULL, NULL,
                        now, (int64_t)limit, 0, rows, err);
}

static int sqlite_policy_get(struct store_conn *conn, json_t **policy, struct pr_error *err)
{
    sqlite3_stmt *st;
    *policy = NULL;
    int rc = statement_get(conn, "SELECT value FROM policy WHERE key = 'policy'", &st);
    if (rc != SQLITE_OK)
        return sqlite_fail(conn->db, rc, err, "policy");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *policy = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    statement_put(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sqlite_fail(conn->db, rc, err, "policy");
}

static int sqlite_policy_set(struct store_conn *conn, const json_t *policy, struct pr_error *err)
{
    sqlite3_stmt *st;
    int rc = statement_get(conn, "INSERT OR REPLACE INTO policy (key, value) VALUES ('policy', ?)", &st);
    if (rc != SQLITE_OK)
        return sqlite_fail(conn->db, rc, err, "policy");
    rc = bind_value(st, 1, STORE_JSON, policy);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    statement_put(st);
    return rc == SQLITE_DONE ? 0 : sqlite_fail(conn->db, rc, err, "policy");
}

static int sqlite_ping(struct store *store, struct pr_error *err)
{
    struct store_conn *conn = sqlite_acquire(store);
    int64_t version = 0;
    int r = sqlite_user_version(conn->db, &version, err);
    sqlite_release(store, conn);
    return r;
}

static int sqlite_count_by(struct store_conn *conn, enum store_kind kind, const char *column, json_t **counts,
                           struct pr_error *err)
{
    enum store_column_type type;
    *counts = NULL;
    if (!store_column_known(kind, column, &type))
        return pr_error_set(err, -EINVAL, "%s has no column %s", store_tables[kind].name, column);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT \"%s\", COUNT(*) FROM %s GROUP BY 1", column, store_tables[kind].name);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(conn->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlite_fail(conn->db, rc, err, store_tables[kind].name);
    *counts = json_object();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *value = (const char *)sqlite3_column_text(st, 0);
        json_object_set_new(*counts, value ? value : "", json_integer((json_int_t)sqlite3_column_int64(st, 1)));
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    json_decref(*counts);
    *counts = NULL;
    return sqlite_fail(conn->db, rc, err, store_tables[kind].name);
}

const struct store_backend store_backend_sqlite = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .acquire = sqlite_acquire,
    .acquire_writer = sqlite_acquire_writer,
    .release = sqlite_release,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .sync = sqlite_sync,
    .rollback = sqlite_rollback,
    .insert = sqlite_insert,
    .insert_with_id = sqlite_insert_with_id,
    .get = sqlite_get,
    .update = sqlite_update,
    .remove = sqlite_remove,
    .list = sqlite_list,
    .claims = sqlite_claims,
    .all_claims = sqlite_all_claims,
    .expired_leases = sqlite_expired_leases,
    .policy_get = sqlite_policy_get,
    .policy_set = sqlite_policy_set,
    .ping = sqlite_ping,
    .count_by = sqlite_count_by,
};
