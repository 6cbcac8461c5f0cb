/* store_copy.c — `portreg serve export-db`: every row of every table of one database (ids
 * kept, so events and requests still point at their objects) and the policy, into an empty
 * database of any backend, in one write transaction of the target: an organisation starts on
 * SQLite and moves to PostgreSQL without losing history. The source is only read. */
#include "store/store_copy.h"

#include <errno.h>

/* Whether any table of the target has a row (the copy refuses to merge two histories). */
static int target_first_table_with_rows(const struct store_backend *backend, struct store_conn *conn,
                                        const char **table, struct pr_error *err)
{
    *table = NULL;
    for (int kind = 0; kind < STORE_KIND_COUNT && !*table; kind++) {
        json_t *rows = NULL;
        int r = backend->list(conn, (enum store_kind)kind, NULL, 0, 0, 1, &rows, err);
        if (r < 0)
            return r;
        if (json_array_size(rows))
            *table = store_tables[kind].name;
        json_decref(rows);
    }
    return 0;
}

/* Every row of kind, page by page, into the target; *copied counts them. */
static int copy_table(const struct store_backend *from_backend, struct store_conn *from,
                      const struct store_backend *to_backend, struct store_conn *to, enum store_kind kind,
                      size_t *copied, struct pr_error *err)
{
    int64_t after = 0;
    *copied = 0;
    for (;;) {
        json_t *rows = NULL;
        int r = from_backend->list(from, kind, NULL, 0, after, STORE_LIST_MAX, &rows, err);
        if (r < 0)
            return r;
        size_t i, count = json_array_size(rows);
        json_t *row;
        json_array_foreach(rows, i, row) {
            if (r == 0)
                r = to_backend->insert_with_id(to, kind, row, err);
            after = store_row_int(row, "id", after);
        }
        json_decref(rows);
        if (r < 0)
            return r;
        *copied += count;
        if (count < STORE_LIST_MAX)
            break;
    }
    /* the id sequence moved once for the table, not once a row */
    return *copied && to_backend->ids_copied ? to_backend->ids_copied(to, kind, err) : 0;
}

int store_copy(const struct store_backend *from_backend, struct store *from_store,
               const struct store_backend *to_backend, struct store *to_store, json_t **counts,
               struct pr_error *err)
{
    *counts = NULL;
    struct store_conn *from = from_backend->acquire(from_store);
    struct store_conn *to = to_backend->acquire_writer ? to_backend->acquire_writer(to_store)
                                                       : to_backend->acquire(to_store);
    int r = from_backend->begin(from, false, err);
    if (r == 0) {
        r = to_backend->begin(to, true, err);
        if (r < 0)
            from_backend->rollback(from);
    }
    if (r < 0) {
        from_backend->release(from_store, from);
        to_backend->release(to_store, to);
        return r;
    }
    const char *busy_table = NULL;
    r = target_first_table_with_rows(to_backend, to, &busy_table, err);
    if (r == 0 && busy_table)
        r = pr_error_set(err, -EEXIST, "the target database is not empty (its %s table has rows): "
                         "export-db copies into a new database only", busy_table);
    json_t *result = json_object();
    for (int kind = 0; kind < STORE_KIND_COUNT && r == 0; kind++) {
        size_t copied = 0;
        r = copy_table(from_backend, from, to_backend, to, (enum store_kind)kind, &copied, err);
        json_object_set_new(result, store_tables[kind].name, json_integer((json_int_t)copied));
    }
    json_t *policy = NULL;
    if (r == 0)
        r = from_backend->policy_get(from, &policy, err);
    if (r == 0 && policy)
        r = to_backend->policy_set(to, policy, err);
    json_object_set_new(result, "policy", json_boolean(policy != NULL));
    json_decref(policy);
    from_backend->rollback(from);   /* only read */
    if (r == 0)
        r = to_backend->commit(to, err);
    else
        to_backend->rollback(to);
    from_backend->release(from_store, from);
    to_backend->release(to_store, to);
    if (r == 0 && to_backend->sync)
        r = to_backend->sync(to_store, err);
    if (r < 0) {
        json_decref(result);
        return r;
    }
    *counts = result;
    return 0;
}
