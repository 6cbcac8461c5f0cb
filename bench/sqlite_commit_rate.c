/* sqlite_commit_rate.c — the peer of bench/serve_leases.sh: how many durable single-row
 * transactions this SQLite makes per second on this file system. One connection, WAL,
 * synchronous=FULL (or NORMAL), each transaction BEGIN IMMEDIATE, one INSERT of a row the size
 * of a lease row (prepared once), COMMIT; for SECONDS seconds. Prints one line:
 *   COMMIT_REPORT commits=N seconds=S rate=R
 * Usage: sqlite_commit_rate PATH SECONDS [full|normal]   (PATH is created; remove it after) */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exec_or_die(sqlite3 *db, const char *sql)
{
    char *message = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
        fprintf(stderr, "sqlite_commit_rate: %s: %s\n", sql, message ? message : "?");
        sqlite3_free(message);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: sqlite_commit_rate PATH SECONDS [full|normal]\n");
        return 2;
    }
    double seconds = strtod(argv[2], NULL);
    const char *sync = argc == 4 && strcmp(argv[3], "normal") == 0 ? "NORMAL" : "FULL";
    sqlite3 *db;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        fprintf(stderr, "sqlite_commit_rate: %s: %s\n", argv[1], sqlite3_errmsg(db));
        return 1;
    }
    char pragmas[128];
    snprintf(pragmas, sizeof pragmas, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;", sync);
    if (exec_or_die(db, pragmas) < 0 ||
        exec_or_die(db, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, service TEXT, host TEXT,"
                        " port INTEGER, expires_at INTEGER, state TEXT, version INTEGER)") < 0)
        return 1;
    sqlite3_stmt *insert;
    if (sqlite3_prepare_v2(db, "INSERT INTO t (service, host, port, expires_at, state, version)"
                               " VALUES ('bench-service-7', 'bench-host', ?, 1900000000, 'active', 1)",
                           -1, &insert, NULL) != SQLITE_OK)
        return 1;
    unsigned long commits = 0;
    double start = now_s(), elapsed = 0;
    while (elapsed < seconds) {
        if (exec_or_die(db, "BEGIN IMMEDIATE") < 0)
            return 1;
        sqlite3_bind_int(insert, 1, (int)(commits % 65535) + 1);
        if (sqlite3_step(insert) != SQLITE_DONE) {
            fprintf(stderr, "sqlite_commit_rate: insert: %s\n", sqlite3_errmsg(db));
            return 1;
        }
        sqlite3_reset(insert);
        if (exec_or_die(db, "COMMIT") < 0)
            return 1;
        commits++;
        elapsed = now_s() - start;
    }
    printf("COMMIT_REPORT commits=%lu seconds=%.3f rate=%.1f\n", commits, elapsed, (double)commits / elapsed);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    return 0;
}
