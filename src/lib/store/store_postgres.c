/* store_postgres.c — the PostgreSQL backend of store.h (--db postgresql://..., or --db-file
 * with a libpq connection string), for several `portreg serve` instances on one database.
 * libpq is loaded with dlopen at the first open, so a SQLite server never maps it. A pool of
 * connections, each with its statements prepared once (PQprepare, cached by SQL text as the
 * SQLite backend caches its statements). Isolation relied on: a write transaction takes one
 * transaction-level advisory lock first, so writers of every instance run one at a time,
 * exactly as SQLite's BEGIN IMMEDIATE serialises them, and the ledger's check-then-write
 * holds across instances; the exclusion constraint of port_claims (store_postgres_schema.c)
 * makes PostgreSQL itself refuse a double claim besides. A broken connection (PostgreSQL
 * restarted or away) is reset when next used: requests get 503 meanwhile, never 500. */
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_postgres.h"
#include "util/dl_symbols.h"

/* pg_advisory_lock keys (any constant; other applications of the database must not use them):
 * one for the migrations, one for the writers. */
#define PG_LOCK_MIGRATE "7093010787599719"
#define PG_LOCK_WRITER "7093010787599720"
#define PG_STATEMENT_CACHE_SIZE 96
#define PG_PARAMS_MAX 24
#define PG_BEGIN_ATTEMPTS 5          /* serialisation failures and deadlocks retried at begin */
#define PG_CHANGES_KEEP 100000       /* claim_changes rows kept (older ones pruned) */
/* the window of claim_changes' seq read at once (the rest at the next transaction) */
#define PG_CHANGES_READ "4096"
#define PG_CHANGES_READ_N 4096

/* libpq's functions (types from libpq-fe.h, see util/dl_symbols.h). */
static struct {
    __typeof__(&PQconnectdb) connectdb;
    __typeof__(&PQstatus) status;
    __typeof__(&PQerrorMessage) error_message;
    __typeof__(&PQfinish) finish;
    __typeof__(&PQreset) reset;
    __typeof__(&PQexec) exec;
    __typeof__(&PQprepare) prepare;
    __typeof__(&PQexecPrepared) exec_prepared;
    __typeof__(&PQresultStatus) result_status;
    __typeof__(&PQresultErrorField) result_error_field;
    __typeof__(&PQresultErrorMessage) result_error_message;
    __typeof__(&PQclear) clear;
    __typeof__(&PQntuples) ntuples;
    __typeof__(&PQgetvalue) getvalue;
    __typeof__(&PQgetisnull) getisnull;
    __typeof__(&PQcmdTuples) cmd_tuples;
    __typeof__(&PQtransactionStatus) transaction_status;
    __typeof__(&PQsetNoticeProcessor) set_notice_processor;
    void *handle;
} pq;
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static struct pr_error pq_load_error;
static int pq_load_result;

static const char *const pq_sonames[] = { "libpq.so.5" };
static const struct dl_library pq_library = { "libpq", "libpq5", pq_sonames, 1 };

static void pq_load(void)
{
    const struct dl_symbol symbols[] = {
        DL_SYMBOL(&pq.connectdb, PQconnectdb),
        DL_SYMBOL(&pq.status, PQstatus),
        DL_SYMBOL(&pq.error_message, PQerrorMessage),
        DL_SYMBOL(&pq.finish, PQfinish),
        DL_SYMBOL(&pq.reset, PQreset),
        DL_SYMBOL(&pq.exec, PQexec),
        DL_SYMBOL(&pq.prepare, PQprepare),
        DL_SYMBOL(&pq.exec_prepared, PQexecPrepared),
        DL_SYMBOL(&pq.result_status, PQresultStatus),
        DL_SYMBOL(&pq.result_error_field, PQresultErrorField),
        DL_SYMBOL(&pq.result_error_message, PQresultErrorMessage),
        DL_SYMBOL(&pq.clear, PQclear),
        DL_SYMBOL(&pq.ntuples, PQntuples),
        DL_SYMBOL(&pq.getvalue, PQgetvalue),
        DL_SYMBOL(&pq.getisnull, PQgetisnull),
        DL_SYMBOL(&pq.cmd_tuples, PQcmdTuples),
        DL_SYMBOL(&pq.transaction_status, PQtransactionStatus),
        DL_SYMBOL(&pq.set_notice_processor, PQsetNoticeProcessor),
    };
    pr_error_clear(&pq_load_error);
    /* kept for the process's life: libpq registers OpenSSL state that dlclose would orphan */
    pq_load_result = dl_symbols_load(&pq_library, symbols, sizeof symbols / sizeof symbols[0], 0, &pq.handle,
                                     &pq_load_error);
}

struct pg_statement {
    uint64_t hash;            /* of sql; 0: empty slot */
    char *sql;
    char name[16];
    uint64_t last_used;
};

struct store_conn {
    PGconn *db;
    struct store *store;
    bool in_use;
    bool write;               /* in a write transaction */
    uint64_t uses;
    unsigned next_name;
    struct pg_statement statements[PG_STATEMENT_CACHE_SIZE];
};

/* Durability (see pg_sync): a write transaction commits with synchronous_commit off, so the
 * writer lock is let go as soon as its commit record is in PostgreSQL's WAL buffers; the
 * answer waits for pg_sync, a durable write whose commit flushes the WAL up to its own commit
 * record, which comes after every commit made before it began. Threads that need it at once
 * share one such write (group sync), numbered as store_sqlite.c numbers its commits. */
struct store {
    struct store_conn *conns;
    unsigned count;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char conninfo[4096];
    char origin[40];          /* this instance in claim_changes (its own changes are skipped) */
    int sync_slot;
    pthread_mutex_t sync_lock;
    pthread_cond_t synced_cond;
    uint64_t committed, synced;
    bool syncing;
    uint64_t writes;          /* write transactions begun (pruning claim_changes now and then) */
};

static _Thread_local struct {
    const struct store *store;
    uint64_t number;
} thread_commit;

static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;   /* NOTICEs ("extension exists, skipping") are not the server's output */
}

/* The SQLSTATE of a failed result as an errno: a conflict is -EEXIST (the ledger's 409), a
 * serialisation failure or deadlock -EAGAIN (retried), PostgreSQL away -EBUSY (503). */
static int pg_code(const PGresult *res, PGconn *db)
{
    if (!db || pq.status(db) != CONNECTION_OK)
        return -EBUSY;
    const char *state = res ? pq.result_error_field(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return -EBUSY;   /* no answer at all: the connection broke */
    if (strcmp(state, "23505") == 0 || strcmp(state, "23P01") == 0)
        return -EEXIST;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return -EAGAIN;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 || strcmp(state, "53300") == 0)
        return -EBUSY;   /* connection exception, shutdown, too many connections */
    if (strncmp(state, "42", 2) == 0)
        return -EPROTO;
    return -EIO;
}

static int pg_fail(PGconn *db, PGresult *res, struct pr_error *err, const char *what)
{
    int code = pg_code(res, db);
    const char *message = res && pq.result_error_message(res)[0] ? pq.result_error_message(res)
                        : db ? pq.error_message(db) : "no connection";
    char text[512];
    snprintf(text, sizeof text, "%s", message);
    size_t len = strlen(text);
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
        text[--len] = '\0';
    if (res)
        pq.clear(res);
    if (code == -EBUSY)
        return pr_error_set(err, code, "%s: PostgreSQL is unreachable: %s", what, text);
    return pr_error_set(err, code, "%s: %s", what, text);
}

static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h ? h : 1;
}

static void statements_forget(struct store_conn *conn)
{
    for (size_t i = 0; i < PG_STATEMENT_CACHE_SIZE; i++) {
        free(conn->statements[i].sql);
        memset(&conn->statements[i], 0, sizeof conn->statements[i]);
    }
}

/* A simple-protocol command (several statements allowed); 0 or the error. */
static int pg_exec(PGconn *db, const char *sql, struct pr_error *err, const char *what)
{
    PGresult *res = pq.exec(db, sql);
    ExecStatusType st = res ? pq.result_status(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        pq.clear(res);
        return 0;
    }
    return pg_fail(db, res, err, what);
}

/* After a connection is made or reset: the session's settings. */
static int conn_setup(struct store_conn *conn, struct pr_error *err)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SET portreg.origin = '%s'", conn->store->origin);
    return pg_exec(conn->db, sql, err, "PostgreSQL");
}

/* A broken connection (PostgreSQL restarted or was away): connect again, statements to prepare
 * again. 0 when it works now. */
static int conn_ensure(struct store_conn *conn, struct pr_error *err)
{
    if (pq.status(conn->db) == CONNECTION_OK)
        return 0;
    statements_forget(conn);
    pq.reset(conn->db);
    if (pq.status(conn->db) != CONNECTION_OK)
        return pg_fail(conn->db, NULL, err, "database");
    return conn_setup(conn, err);
}

/* Run sql (prepared once per connection, then by name) with text parameters; *out the result
 * when it has rows (PQclear it), else NULL. */
static int pg_run(struct store_conn *conn, const char *sql, int count, const char *const *values, PGresult **out,
                  struct pr_error *err, const char *what)
{
    if (out)
        *out = NULL;
    uint64_t hash = sql_hash(sql);
    struct pg_statement *found = NULL, *victim = &conn->statements[0];
    conn->uses++;
    for (size_t i = 0; i < PG_STATEMENT_CACHE_SIZE && !found; i++) {
        struct pg_statement *s = &conn->statements[i];
        if (s->hash == hash && strcmp(s->sql, sql) == 0)
            found = s;
        else if (s->last_used < victim->last_used)
            victim = s;
    }
    if (!found) {
        if (victim->hash) {
            char dealloc[48];
            snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", victim->name);
            PGresult *gone = pq.exec(conn->db, dealloc);
            if (gone)
                pq.clear(gone);
            free(victim->sql);
            memset(victim, 0, sizeof *victim);
        }
        char name[16];
        snprintf(name, sizeof name, "s%u", conn->next_name++);
        PGresult *res = pq.prepare(conn->db, name, sql, 0, NULL);
        if (!res || pq.result_status(res) != PGRES_COMMAND_OK)
            return pg_fail(conn->db, res, err, what);
        pq.clear(res);
        char *copy = strdup(sql);
        if (!copy)
            return pr_error_set(err, -ENOMEM, "out of memory");
        *victim = (struct pg_statement){ hash, copy, "", 0 };
        snprintf(victim->name, sizeof victim->name, "%s", name);
        found = victim;
    }
    found->last_used = conn->uses;
    PGresult *res = pq.exec_prepared(conn->db, found->name, count, values, NULL, NULL, 0);
    ExecStatusType st = res ? pq.result_status(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK && out) {
        *out = res;
        return 0;
    }
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out)
            *out = res;
        else
            pq.clear(res);
        return 0;
    }
    if (res && pq.result_error_field(res, PG_DIAG_SQLSTATE) &&
        strcmp(pq.result_error_field(res, PG_DIAG_SQLSTATE), "26000") == 0)
        statements_forget(conn);   /* the server forgot our statements (a pooler?): prepare again */
    return pg_fail(conn->db, res, err, what);
}

/* Parameters as text: integers formatted here, JSON dumped (freed by params_free). */
struct pg_params {
    int count;
    const char *values[PG_PARAMS_MAX];
    char *owned[PG_PARAMS_MAX];
    char numbers[PG_PARAMS_MAX][24];
};

static void params_free(struct pg_params *p)
{
    for (int i = 0; i < p->count; i++)
        free(p->owned[i]);
    p->count = 0;
}

static void param_int(struct pg_params *p, int64_t v)
{
    snprintf(p->numbers[p->count], sizeof p->numbers[0], "%lld", (long long)v);
    p->owned[p->count] = NULL;
    p->values[p->count] = p->numbers[p->count];
    p->count++;
}

static void param_text(struct pg_params *p, const char *text)
{
    p->owned[p->count] = NULL;
    p->values[p->count++] = text;
}

static int param_value(struct pg_params *p, enum store_column_type type, const json_t *v)
{
    if (!v || json_is_null(v)) {
        param_text(p, NULL);
        return 0;
    }
    if (type == STORE_JSON) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            return -ENOMEM;
        p->owned[p->count] = text;
        p->values[p->count++] = text;
        return 0;
    }
    if (json_is_integer(v))
        param_int(p, (int64_t)json_integer_value(v));
    else if (json_is_string(v))
        param_text(p, json_string_value(v));
    else if (json_is_boolean(v))
        param_int(p, json_is_true(v) ? 1 : 0);
    else if (json_is_real(v))
        param_int(p, (int64_t)json_real_value(v));
    else
        return -EINVAL;
    return 0;
}

static json_t *column_value(const PGresult *res, int row, int col, enum store_column_type type)
{
    if (pq.getisnull(res, row, col))
        return json_null();
    const char *text = pq.getvalue(res, row, col);
    if (type == STORE_INT)
        return json_integer((json_int_t)strtoll(text, NULL, 10));
    if (type == STORE_JSON) {
        json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
        return v ? v : json_null();
    }
    return json_string(text);
}

static json_t *rows_from_result(const PGresult *res, enum store_kind kind, json_t *rows)
{
    if (!rows)
        rows = json_array();
    for (int r = 0; r < pq.ntuples(res); r++) {
        json_t *row = json_object();
        json_object_set_new(row, "id", json_integer((json_int_t)strtoll(pq.getvalue(res, r, 0), NULL, 10)));
        int i = 1;
        for (const struct store_column *c = store_tables[kind].columns; c->name; c++, i++)
            json_object_set_new(row, c->name, column_value(res, r, i, c->type));
        json_array_append_new(rows, row);
    }
    return rows;
}

static void select_columns(enum store_kind kind, char *sql, size_t size)
{
    size_t n = (size_t)snprintf(sql, size, "SELECT id");
    for (const struct store_column *c = store_tables[kind].columns; c->name && n < size; c++)
        n += (size_t)snprintf(sql + n, size - n, ", \"%s\"", c->name);
    if (n < size)
        snprintf(sql + n, size - n, " FROM \"%s\"", store_tables[kind].name);
}

/* ---- open, migrations, pool ---- */

static int pg_migrate(struct store_conn *conn, struct pr_error *err)
{
    /* a session lock: a second server starting at once waits here, then finds nothing to do */
    int r = pg_exec(conn->db, "SELECT pg_advisory_lock(" PG_LOCK_MIGRATE ")", err, "migrations");
    if (r < 0)
        return r;
    size_t count;
    const char *const *migrations = store_postgres_migrations(&count);
    r = pg_exec(conn->db, "BEGIN; CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY,"
                          " applied_at bigint NOT NULL)", err, "schema_migrations");
    PGresult *res = NULL;
    int64_t version = 0;
    if (r == 0) {
        res = pq.exec(conn->db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
        if (!res || pq.result_status(res) != PGRES_TUPLES_OK)
            r = pg_fail(conn->db, res, err, "schema_migrations");
        else {
            version = strtoll(pq.getvalue(res, 0, 0), NULL, 10);
            pq.clear(res);
        }
    }
    if (r == 0 && version > (int64_t)count)
        r = pr_error_set(err, -EPROTO, "the database has schema version %lld, newer than this portreg knows (%zu)",
                         (long long)version, count);
    for (size_t i = (size_t)version; r == 0 && i < count; i++) {
        r = pg_exec(conn->db, migrations[i], err, "migration");
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES (%zu, extract(epoch from now())::bigint)", i + 1);
        if (r == 0)
            r = pg_exec(conn->db, sql, err, "schema_migrations");
    }
    if (r == 0)
        r = pg_exec(conn->db, "COMMIT", err, "migrations");
    else
        pg_exec(conn->db, "ROLLBACK", &(struct pr_error){ 0 }, "migrations");
    struct pr_error ignored;
    pg_exec(conn->db, "SELECT pg_advisory_unlock(" PG_LOCK_MIGRATE ")", &ignored, "migrations");
    return r;
}

static void pg_close(struct store *store)
{
    if (!store)
        return;
    for (unsigned i = 0; i < store->count; i++) {
        statements_forget(&store->conns[i]);
        if (store->conns[i].db)
            pq.finish(store->conns[i].db);
    }
    pthread_mutex_destroy(&store->lock);
    pthread_cond_destroy(&store->freed);
    pthread_mutex_destroy(&store->sync_lock);
    pthread_cond_destroy(&store->synced_cond);
    free(store->conns);
    free(store);
}

static int pg_connect(struct store *store, struct store_conn *conn, struct pr_error *err)
{
    conn->store = store;
    conn->db = pq.connectdb(store->conninfo);
    if (!conn->db)
        return pr_error_set(err, -ENOMEM, "out of memory");
    pq.set_notice_processor(conn->db, pg_quiet, NULL);
    if (pq.status(conn->db) != CONNECTION_OK)
        return pg_fail(conn->db, NULL, err, "PostgreSQL");
    return conn_setup(conn, err);
}

/* location: what follows "postgresql:" ("//user@host/db?..."), or "file:PATH" for --db-file (a
 * libpq connection string read from PATH, so that a password need not be on the command line). */
static int conninfo_from(const char *location, char *out, size_t size, struct pr_error *err)
{
    if (strncmp(location, "file:", 5) == 0) {
        FILE *f = fopen(location + 5, "re");
        if (!f)
            return pr_error_set(err, -errno, "%s: %s", location + 5, strerror(errno));
        size_t n = fread(out, 1, size - 1, f);
        fclose(f);
        out[n] = '\0';
        while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
            out[--n] = '\0';
        if (n == 0)
            return pr_error_set(err, -EINVAL, "%s: no connection string", location + 5);
        return 0;
    }
    if (strncmp(location, "//", 2) != 0)
        return pr_error_set(err, -EINVAL, "postgresql: give a URL: postgresql://USER@HOST:PORT/DB");
    if ((size_t)snprintf(out, size, "postgresql:%s", location) >= size)
        return pr_error_set(err, -EINVAL, "postgresql: the URL is too long");
    return 0;
}

static int pg_open(const char *location, unsigned connections, struct store **out, struct pr_error *err)
{
    pthread_once(&pq_once, pq_load);
    if (pq_load_result < 0) {
        *err = pq_load_error;
        return pq_load_result;
    }
    struct store *store = calloc(1, sizeof *store);
    if (!store || !(store->conns = calloc(connections ? connections : 1, sizeof *store->conns))) {
        free(store);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    pthread_mutex_init(&store->lock, NULL);
    pthread_cond_init(&store->freed, NULL);
    pthread_mutex_init(&store->sync_lock, NULL);
    pthread_cond_init(&store->synced_cond, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(store->origin, sizeof store->origin, "%ld.%ld.%ld", (long)getpid(), (long)ts.tv_sec, (long)ts.tv_nsec);
    store->sync_slot = (int)(((unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec) & 0x7fffffff);
    int r = conninfo_from(location, store->conninfo, sizeof store->conninfo, err);
    for (unsigned i = 0; r == 0 && i < (connections ? connections : 1); i++) {
        r = pg_connect(store, &store->conns[i], err);
        store->count++;
        if (r == 0 && i == 0)
            r = pg_migrate(&store->conns[0], err);
    }
    if (r < 0) {
        pg_close(store);
        return r;
    }
    *out = store;
    return 0;
}

static struct store_conn *pg_acquire(struct store *store)
{
    pthread_mutex_lock(&store->lock);
    for (;;) {
        for (unsigned i = 0; i < store->count; i++)
            if (!store->conns[i].in_use) {
                store->conns[i].in_use = true;
                pthread_mutex_unlock(&store->lock);
                return &store->conns[i];
            }
        pthread_cond_wait(&store->freed, &store->lock);
    }
}

static void pg_release(struct store *store, struct store_conn *conn)
{
    pthread_mutex_lock(&store->lock);
    conn->in_use = false;
    pthread_cond_signal(&store->freed);
    pthread_mutex_unlock(&store->lock);
}

/* ---- transactions ---- */

/* BEGIN (sql: with what follows it), made again on a dead connection first: nothing was done
 * yet. write: a commit of it is numbered for pg_sync. */
static int pg_begin_with(struct store_conn *conn, const char *sql, bool write, struct pr_error *err)
{
    int r = 0;
    for (int attempt = 0; attempt < PG_BEGIN_ATTEMPTS; attempt++) {
        r = conn_ensure(conn, err);
        if (r == 0)
            r = pg_exec(conn->db, sql, err, "begin");
        if (r == 0) {
            conn->write = write;
            if (write)
                conn->store->writes++;
            return 0;
        }
        if (pq.status(conn->db) == CONNECTION_OK && pq.transaction_status(conn->db) != PQTRANS_IDLE) {
            PGresult *res = pq.exec(conn->db, "ROLLBACK");
            if (res)
                pq.clear(res);
        }
        if (r != -EAGAIN && !(r == -EBUSY && attempt == 0))
            break;   /* a connection broken while idle gets one more try, made again */
    }
    return r;
}

static int pg_begin(struct store_conn *conn, bool write, struct pr_error *err)
{
    /* write: every writer of every instance takes the same transaction lock first (one
     * round trip with BEGIN), so a write transaction's checks hold until its COMMIT;
     * synchronous_commit off lets the lock go at COMMIT without waiting for the disk (pg_sync
     * waits for it, after). */
    static const char write_begin[] = "BEGIN; SET LOCAL synchronous_commit = off;"
                                      " SELECT pg_advisory_xact_lock(" PG_LOCK_WRITER ")";
    return pg_begin_with(conn, write ? write_begin : "BEGIN", write, err);
}

/* Lease batches are transactions of their own (portreg_lease_round takes the writers' lock
 * shared: lease batches of every instance run side by side, the exclusion constraint decides
 * between them; a write transaction, which takes it exclusive and whose checks read before
 * they write, runs alone): only the connection is made ready here. */
static int pg_prepare_leases(struct store_conn *conn, struct pr_error *err)
{
    return conn_ensure(conn, err);
}

/* A transaction committed on conn: numbered for pg_sync. A number taken after the commit
 * returned is covered only by a sync that began later, whose write comes later in the WAL. */
static void pg_committed(struct store_conn *conn)
{
    pthread_mutex_lock(&conn->store->sync_lock);
    thread_commit.store = conn->store;
    thread_commit.number = ++conn->store->committed;
    pthread_mutex_unlock(&conn->store->sync_lock);
}

static int pg_commit(struct store_conn *conn, struct pr_error *err)
{
    int r = pg_exec(conn->db, "COMMIT", err, "commit");
    if (r == 0 && conn->write)
        pg_committed(conn);
    conn->write = false;
    return r;
}

static void pg_rollback(struct store_conn *conn)
{
    conn->write = false;
    if (pq.status(conn->db) != CONNECTION_OK || pq.transaction_status(conn->db) == PQTRANS_IDLE)
        return;
    PGresult *res = pq.exec(conn->db, "ROLLBACK");
    if (res)
        pq.clear(res);
}

/* Why an acknowledged write survives a crash of PostgreSQL: its transaction committed with
 * synchronous_commit off, i.e. its commit record is in the WAL but maybe not yet on disk. This
 * then commits a write of its own with synchronous_commit on (the session's default), which
 * returns only once the WAL is flushed up to that commit record. The WAL is one sequence, and
 * this write began after the write transaction committed, so its record comes later: the flush
 * covers the earlier commit. The answer is sent after this returned 0. A thread arriving while
 * another syncs waits for it and, if its commit came after that sync began, for the next one
 * (group sync: one flush for every commit numbered before it began). */
static int pg_sync(struct store *store, struct pr_error *err)
{
    if (thread_commit.store != store || thread_commit.number == 0)
        return 0;
    int r = 0;
    pthread_mutex_lock(&store->sync_lock);
    while (store->synced < thread_commit.number && r == 0) {
        if (store->syncing) {
            pthread_cond_wait(&store->synced_cond, &store->sync_lock);
            continue;
        }
        store->syncing = true;
        uint64_t covered = store->committed;
        pthread_mutex_unlock(&store->sync_lock);
        struct store_conn *conn = pg_acquire(store);
        struct pg_params p = { 0 };
        param_int(&p, store->sync_slot);
        r = conn_ensure(conn, err);
        if (r == 0)
            r = pg_run(conn, "INSERT INTO portreg_sync (slot, n) VALUES ($1, 1) ON CONFLICT (slot)"
                             " DO UPDATE SET n = portreg_sync.n + 1", p.count, p.values, NULL, err, "sync");
        params_free(&p);
        pg_release(store, conn);
        pthread_mutex_lock(&store->sync_lock);
        store->syncing = false;
        if (r == 0 && covered > store->synced)
            store->synced = covered;
        pthread_cond_broadcast(&store->synced_cond);
    }
    pthread_mutex_unlock(&store->sync_lock);
    thread_commit.number = 0;
    return r;
}

/* ---- rows ---- */

/* INSERT of row's columns; keep_id: also its "id" (export-db copies rows with their ids). */
static int pg_insert_row(struct store_conn *conn, enum store_kind kind, json_t *row, bool keep_id, int64_t *id,
                         struct pr_error *err)
{
    char sql[1024];
    size_t n = (size_t)snprintf(sql, sizeof sql, "INSERT INTO \"%s\" (%s", store_tables[kind].name, keep_id ? "id" : "");
    int count = keep_id ? 1 : 0;
    for (const struct store_column *c = store_tables[kind].columns; c->name; c++, count++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\"", count ? ", " : "", c->name);
    n += (size_t)snprintf(sql + n, sizeof sql - n, ") VALUES (");
    for (int i = 1; i <= count; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s$%d", i > 1 ? ", " : "", i);
    snprintf(sql + n, sizeof sql - n, ") RETURNING id");
    struct pg_params p = { 0 };
    int r = keep_id ? param_value(&p, STORE_INT, json_object_get(row, "id")) : 0;
    for (const struct store_column *c = store_tables[kind].columns; c->name && r == 0; c++)
        r = param_value(&p, c->type, json_object_get(row, c->name));
    PGresult *res = NULL;
    if (r < 0)
        r = pr_error_set(err, r, "%s: a value of the wrong type", store_tables[kind].name);
    else
        r = pg_run(conn, sql, p.count, p.values, &res, err, store_tables[kind].name);
    params_free(&p);
    if (r < 0)
        return r;
    *id = pq.ntuples(res) ? strtoll(pq.getvalue(res, 0, 0), NULL, 10) : 0;
    pq.clear(res);
    json_object_set_new(row, "id", json_integer((json_int_t)*id));
    return 0;
}

static int pg_insert(struct store_conn *conn, enum store_kind kind, json_t *row, int64_t *id, struct pr_error *err)
{
    return pg_insert_row(conn, kind, row, false, id, err);
}

/* The row with its id; the table's sequence is then moved past it (setval to the largest id),
 * so the next insert of the server does not take an id the copy used. */
static int pg_insert_with_id(struct store_conn *conn, enum store_kind kind, json_t *row, struct pr_error *err)
{
    int64_t id;
    return pg_insert_row(conn, kind, row, true, &id, err);
}

/* The table's id sequence moved past its largest id, once after a copy (export-db) rather
 * than after each row: a row inserted with its id does not advance the sequence. */
static int pg_ids_copied(struct store_conn *conn, enum store_kind kind, struct pr_error *err)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT setval(pg_get_serial_sequence('\"%s\"', 'id'), "
             "(SELECT max(id) FROM \"%s\"))", store_tables[kind].name, store_tables[kind].name);
    PGresult *res = NULL;
    int r = pg_run(conn, sql, 0, NULL, &res, err, store_tables[kind].name);
    if (res)
        pq.clear(res);
    return r;
}

static int affected(PGresult *res)
{
    int n = res ? atoi(pq.cmd_tuples(res)) : 0;
    if (res)
        pq.clear(res);
    return n;
}

static int pg_update(struct store_conn *conn, enum store_kind kind, int64_t id, const json_t *row,
                     struct pr_error *err)
{
    char sql[1024];
    size_t n = (size_t)snprintf(sql, sizeof sql, "UPDATE \"%s\" SET ", store_tables[kind].name);
    int i = 1;
    for (const struct store_column *c = store_tables[kind].columns; c->name; c++, i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\" = $%d", i > 1 ? ", " : "", c->name, i);
    snprintf(sql + n, sizeof sql - n, " WHERE id = $%d", i);
    struct pg_params p = { 0 };
    int r = 0;
    for (const struct store_column *c = store_tables[kind].columns; c->name && r == 0; c++)
        r = param_value(&p, c->type, json_object_get(row, c->name));
    param_int(&p, id);
    PGresult *res = NULL;
    if (r < 0)
        r = pr_error_set(err, r, "%s: a value of the wrong type", store_tables[kind].name);
    else
        r = pg_run(conn, sql, p.count, p.values, &res, err, store_tables[kind].name);
    params_free(&p);
    if (r < 0)
        return r;
    return affected(res) ? 0 : pr_error_set(err, -ENOENT, "no %s %lld", store_tables[kind].name, (long long)id);
}

static int pg_remove(struct store_conn *conn, enum store_kind kind, int64_t id, struct pr_error *err)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE id = $1", store_tables[kind].name);
    struct pg_params p = { 0 };
    param_int(&p, id);
    PGresult *res = NULL;
    int r = pg_run(conn, sql, p.count, p.values, &res, err, store_tables[kind].name);
    if (r < 0)
        return r;
    return affected(res) ? 0 : pr_error_set(err, -ENOENT, "no %s %lld", store_tables[kind].name, (long long)id);
}

/* SELECT kind's columns WHERE where ORDER BY id, with parameters p; rows appended to *rows. */
static int select_rows(struct store_conn *conn, enum store_kind kind, const char *where, struct pg_params *p,
                       json_t **rows, struct pr_error *err)
{
    char sql[2048];
    select_columns(kind, sql, sizeof sql);
    size_t n = strlen(sql);
    snprintf(sql + n, sizeof sql - n, " WHERE %s", where);
    PGresult *res = NULL;
    int r = pg_run(conn, sql, p->count, p->values, &res, err, store_tables[kind].name);
    params_free(p);
    if (r < 0)
        return r;
    *rows = rows_from_result(res, kind, *rows);
    pq.clear(res);
    return 0;
}

static int pg_list(struct store_conn *conn, enum store_kind kind, const struct store_filter *filters,
                   size_t filter_count, int64_t after_id, unsigned limit, json_t **rows, struct pr_error *err)
{
    char where[1024];
    struct pg_params p = { 0 };
    param_int(&p, after_id);
    size_t n = (size_t)snprintf(where, sizeof where, "id > $1");
    for (size_t f = 0; f < filter_count; f++) {
        enum store_column_type type;
        if (!store_column_known(kind, filters[f].column, &type) || p.count >= PG_PARAMS_MAX - 1) {
            params_free(&p);
            return pr_error_set(err, -EINVAL, "%s has no column %s", store_tables[kind].name, filters[f].column);
        }
        if (!filters[f].value || json_is_null(filters[f].value)) {
            n += (size_t)snprintf(where + n, sizeof where - n, " AND \"%s\" IS NULL", filters[f].column);
            continue;
        }
        if (param_value(&p, type, filters[f].value) < 0) {
            params_free(&p);
            return pr_error_set(err, -EINVAL, "%s: a filter of the wrong type", store_tables[kind].name);
        }
        n += (size_t)snprintf(where + n, sizeof where - n, " AND \"%s\" %s $%d", filters[f].column,
                              store_compare_sql(filters[f].compare), p.count);
    }
    param_int(&p, limit && limit <= STORE_LIST_MAX ? limit : STORE_LIST_MAX);
    snprintf(where + n, sizeof where - n, " ORDER BY id LIMIT $%d", p.count);
    *rows = NULL;
    return select_rows(conn, kind, where, &p, rows, err);
}

static int pg_get(struct store_conn *conn, enum store_kind kind, int64_t id, json_t **row, struct pr_error *err)
{
    struct pg_params p = { 0 };
    param_int(&p, id);
    json_t *rows = NULL;
    int r = select_rows(conn, kind, "id = $1", &p, &rows, err);
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

static int pg_claims(struct store_conn *conn, const char *host, const char *proto, unsigned lo, unsigned hi,
                     int64_t now, json_t **assignments, json_t **leases, struct pr_error *err)
{
    *assignments = *leases = NULL;
    struct pg_params p = { 0 };
    param_text(&p, host);
    param_text(&p, proto);
    param_int(&p, lo);
    param_int(&p, hi);
    param_int(&p, now);
    int r = select_rows(conn, STORE_ASSIGNMENTS,
                        "host = $1 AND proto = $2 AND port_lo <= $4 AND port_hi >= $3 AND"
                        " (state = 'active' OR (state = 'quarantined' AND quarantine_until > $5)) ORDER BY id",
                        &p, assignments, err);
    if (r < 0)
        return r;
    param_text(&p, host);
    param_text(&p, proto);
    param_int(&p, lo);
    param_int(&p, hi);
    param_int(&p, now);
    return select_rows(conn, STORE_LEASES,
                       "host = $1 AND proto = $2 AND port BETWEEN $3 AND $4 AND state = 'active'"
                       " AND expires_at > $5 ORDER BY id", &p, leases, err);
}

static int pg_all_claims(struct store_conn *conn, int64_t now, json_t **assignments, json_t **leases,
                         struct pr_error *err)
{
    *assignments = *leases = NULL;
    struct pg_params p = { 0 };
    param_int(&p, now);
    int r = select_rows(conn, STORE_ASSIGNMENTS,
                        "state = 'active' OR (state = 'quarantined' AND quarantine_until > $1) ORDER BY id", &p,
                        assignments, err);
    if (r < 0)
        return r;
    param_int(&p, now);
    return select_rows(conn, STORE_LEASES, "state = 'active' AND expires_at > $1 ORDER BY id", &p, leases, err);
}

static int pg_expired_leases(struct store_conn *conn, int64_t now, unsigned limit, json_t **rows,
                             struct pr_error *err)
{
    /* in a write transaction, under the writer lock: one instance reclaims at a time, and a
     * lease marked expired is no longer active for the next one (never twice) */
    *rows = NULL;
    struct pg_params p = { 0 };
    param_int(&p, now);
    param_int(&p, limit);
    return select_rows(conn, STORE_LEASES, "id IN (SELECT id FROM leases WHERE state = 'active' AND expires_at <= $1"
                       " ORDER BY expires_at LIMIT $2) ORDER BY id", &p, rows, err);
}

static int pg_policy_get(struct store_conn *conn, json_t **policy, struct pr_error *err)
{
    *policy = NULL;
    PGresult *res = NULL;
    int r = pg_run(conn, "SELECT value FROM policy WHERE key = 'policy'", 0, NULL, &res, err, "policy");
    if (r < 0)
        return r;
    if (pq.ntuples(res))
        *policy = json_loads(pq.getvalue(res, 0, 0), 0, NULL);
    pq.clear(res);
    return 0;
}

static int pg_policy_set(struct store_conn *conn, const json_t *policy, struct pr_error *err)
{
    struct pg_params p = { 0 };
    if (param_value(&p, STORE_JSON, policy) < 0)
        return pr_error_set(err, -ENOMEM, "out of memory");
    int r = pg_run(conn, "INSERT INTO policy (key, value) VALUES ('policy', $1)"
                         " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", p.count, p.values, NULL, err, "policy");
    params_free(&p);
    return r;
}

static int pg_ping(struct store *store, struct pr_error *err)
{
    struct store_conn *conn = pg_acquire(store);
    int r = conn_ensure(conn, err);
    if (r == 0)
        r = pg_exec(conn->db, "SELECT 1", err, "database");
    if (r < 0 && conn_ensure(conn, err) == 0)   /* it broke while idle: made again */
        r = pg_exec(conn->db, "SELECT 1", err, "database");
    pg_release(store, conn);
    return r;
}

static int pg_count_by(struct store_conn *conn, enum store_kind kind, const char *column, json_t **counts,
                       struct pr_error *err)
{
    enum store_column_type type;
    *counts = NULL;
    if (!store_column_known(kind, column, &type))
        return pr_error_set(err, -EINVAL, "%s has no column %s", store_tables[kind].name, column);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT \"%s\"::text, COUNT(*) FROM \"%s\" GROUP BY 1", column, store_tables[kind].name);
    PGresult *res = NULL;
    int r = pg_run(conn, sql, 0, NULL, &res, err, store_tables[kind].name);
    if (r < 0)
        return r;
    *counts = json_object();
    for (int i = 0; i < pq.ntuples(res); i++)
        json_object_set_new(*counts, pq.getisnull(res, i, 0) ? "" : pq.getvalue(res, i, 0),
                            json_integer((json_int_t)strtoll(pq.getvalue(res, i, 1), NULL, 10)));
    pq.clear(res);
    return 0;
}

/* The claim_changes rows of res from row first on, their columns from col on: seq, host,
 * proto, lo, hi, mine, first, lease_taken, last (the window of CHANGES_WINDOW_SQL). */
static void changes_from_result(PGresult *res, int first, int col, int64_t *seq, json_t *changes, bool *gap)
{
    int64_t from = *seq;
    for (int i = first; i < pq.ntuples(res); i++) {
        if (i == first && !pq.getisnull(res, i, col + 6) && strtoll(pq.getvalue(res, i, col + 6), NULL, 10) > from + 1 &&
            from > 0)
            *gap = true;
        if (pq.getisnull(res, i, col)) {   /* nothing in the window */
            if (!pq.getisnull(res, i, col + 8) && strtoll(pq.getvalue(res, i, col + 8), NULL, 10) > from + PG_CHANGES_READ_N)
                *seq = from + PG_CHANGES_READ_N;
            continue;
        }
        int64_t s = strtoll(pq.getvalue(res, i, col), NULL, 10);
        if (s > *seq)
            *seq = s;
        if (strcmp(pq.getvalue(res, i, col + 5), "t") == 0)
            continue;
        json_array_append_new(changes, json_pack("{s:s, s:s, s:I, s:I, s:b}", "host", pq.getvalue(res, i, col + 1),
                                                 "proto", pq.getvalue(res, i, col + 2), "lo",
                                                 (json_int_t)strtoll(pq.getvalue(res, i, col + 3), NULL, 10), "hi",
                                                 (json_int_t)strtoll(pq.getvalue(res, i, col + 4), NULL, 10), "taken",
                                                 strcmp(pq.getvalue(res, i, col + 7), "t") == 0));
    }
}

/* Now and then (every 4096 write transactions or lease rounds of this instance) the
 * claim_changes rows older than the last PG_CHANGES_KEEP go; an instance that had not read
 * that far gets a gap and rebuilds its maps. */
static int changes_prune(struct store_conn *conn, struct pr_error *err)
{
    if (conn->store->writes % 4096 != 0)
        return 0;
    struct pg_params p = { 0 };
    param_int(&p, PG_CHANGES_KEEP);
    int r = pg_run(conn, "DELETE FROM claim_changes WHERE seq < (SELECT max(seq) FROM claim_changes) - $1", p.count,
                   p.values, NULL, err, "claim_changes");
    params_free(&p);
    return r;
}

/* Claims other instances changed since *seq (this instance's own are skipped: its maps are
 * up to date). *seq < 0: only learn where the sequence is. */
static int pg_claim_changes(struct store_conn *conn, int64_t *seq, json_t **changes, bool *gap, struct pr_error *err)
{
    *changes = NULL;
    *gap = false;
    PGresult *res = NULL;
    struct pg_params p = { 0 };
    if (*seq < 0) {
        int r = pg_run(conn, "SELECT coalesce(max(seq), 0) FROM claim_changes", 0, NULL, &res, err, "claim_changes");
        if (r < 0)
            return r;
        *seq = strtoll(pq.getvalue(res, 0, 0), NULL, 10);
        pq.clear(res);
        return 0;
    }
    int r = changes_prune(conn, err);
    if (r < 0)
        return r;
    param_int(&p, *seq);
    param_text(&p, conn->store->origin);
    /* a window of seq (both bounds: the generic plan of the prepared statement then walks
     * the primary key; "seq > $1" alone, estimated a third of the table, scanned all of it),
     * joined to the table's first and last seq so that one row comes back even when the
     * window is empty (the next read starts after it when later changes exist); the same
     * query is in portreg_lease_round (migration 6) */
    r = pg_run(conn, "SELECT c.seq, c.host, c.proto, c.lo, c.hi, c.origin IS NOT DISTINCT FROM $2, m.first,"
                     " c.lease_taken, m.last FROM (SELECT min(seq) AS first, max(seq) AS last FROM claim_changes) m"
                     " LEFT JOIN claim_changes c ON c.seq > $1 AND c.seq <= $1 + " PG_CHANGES_READ " ORDER BY c.seq",
               p.count, p.values, &res, err, "claim_changes");
    params_free(&p);
    if (r < 0)
        return r;
    *changes = json_array();
    changes_from_result(res, 0, 0, seq, *changes, gap);
    pq.clear(res);
    return 0;
}

/* Every item in one call of portreg_lease_round (migration 6): one round trip and one
 * transaction for the batch, committed durably (synchronous_commit on), so pg_sync has
 * nothing to wait for. */
static int pg_lease_insert_batch(struct store_conn *conn, struct store_lease_insert *items, size_t count, int64_t now,
                                 int64_t *seq, json_t **changes, bool *gap, struct pr_error *err)
{
    *changes = NULL;
    *gap = false;
    int pruned = changes_prune(conn, err);
    if (pruned < 0)
        return pruned;
    json_t *batch = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(batch, json_pack("{s:O, s:s?, s:s?}", "row", items[i].row, "actor", items[i].actor,
                                               "request_id", items[i].request_id));
    char *text = json_dumps(batch, JSON_COMPACT);
    json_decref(batch);
    if (!text)
        return pr_error_set(err, -ENOMEM, "out of memory");
    struct pg_params p = { 0 };
    param_text(&p, text);
    param_int(&p, now);
    param_int(&p, *seq);
    param_text(&p, conn->store->origin);
    PGresult *res = NULL;
    int r = pg_run(conn, "SELECT * FROM portreg_lease_round($1::json, $2, " PG_LOCK_WRITER ", $3, $4, " PG_CHANGES_READ ")",
                   p.count, p.values, &res, err, "leases");
    params_free(&p);
    free(text);
    if (r < 0)
        return r;
    conn->store->writes++;
    /* the items' rows first (none when the policy changed), then the changes' */
    int answered = 0;
    while (answered < pq.ntuples(res) && !pq.getisnull(res, answered, 0))
        answered++;
    if (answered != 0 && (size_t)answered != count) {
        pq.clear(res);
        return pr_error_set(err, -EPROTO, "leases: portreg_lease_round answered %d rows for %zu", answered, count);
    }
    for (size_t i = 0; i < count; i++)
        items[i].result = -EAGAIN;
    for (int i = 0; i < answered; i++) {
        long item = strtol(pq.getvalue(res, i, 0), NULL, 10);
        if (item < 1 || (size_t)item > count)
            continue;
        struct store_lease_insert *it = &items[item - 1];
        const char *status = pq.getvalue(res, i, 2);
        it->result = strcmp(status, "ok") == 0             ? 0
                     : strcmp(status, "taken") == 0        ? -EADDRINUSE
                     : strcmp(status, "busy") == 0         ? -EBUSY
                     : strcmp(status, "key-exists") == 0   ? -EEXIST
                                                           : -ENOENT;
        if (it->result == 0)
            json_object_set_new(it->row, "id", json_integer((json_int_t)strtoll(pq.getvalue(res, i, 1), NULL, 10)));
    }
    *changes = json_array();
    changes_from_result(res, answered, 3, seq, *changes, gap);
    pq.clear(res);
    return 0;
}

const struct store_backend store_backend_postgres = {
    .scheme = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .acquire = pg_acquire,
    .acquire_writer = NULL,
    .release = pg_release,
    .begin = pg_begin,
    .commit = pg_commit,
    .sync = pg_sync,
    .rollback = pg_rollback,
    .insert = pg_insert,
    .insert_with_id = pg_insert_with_id,
    .ids_copied = pg_ids_copied,
    .get = pg_get,
    .update = pg_update,
    .remove = pg_remove,
    .list = pg_list,
    .claims = pg_claims,
    .all_claims = pg_all_claims,
    .expired_leases = pg_expired_leases,
    .policy_get = pg_policy_get,
    .policy_set = pg_policy_set,
    .ping = pg_ping,
    .count_by = pg_count_by,
    .claim_changes = pg_claim_changes,
    .prepare_leases = pg_prepare_leases,
    .lease_insert_batch = pg_lease_insert_batch,
};
