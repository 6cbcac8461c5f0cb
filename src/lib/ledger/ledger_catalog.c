/* ledger_catalog.c — the named objects around assignments: groups ({"name", "hosts": [...]},
 * the plan's groups: a request or an assignment may name one instead of hosts) and services
 * ({"name", "owner", "description"}: who runs what, for exports). Create, PATCH (If-Match) and
 * DELETE, each one write transaction with its event, as hosts are. */
#include <string.h>

#include "ledger/ledger_body.h"
#include "ledger/ledger_internal.h"

/* Insert row (kind) named name unless one of that name exists (409 exists). */
static int named_insert(struct ledger_txn *txn, const struct ledger_actor *actor, enum store_kind kind,
                        json_t *row, const char *event, struct ledger_error *lerr)
{
    const char *name = store_row_text(row, "name");
    json_t *existing = NULL;
    if (ledger_txn_find(txn, kind, "name", name, &existing, lerr) < 0)
        return -1;
    if (existing) {
        ledger_fail(lerr, LEDGER_CONFLICT, "exists", "name", "a %.*s named %s exists",
                    (int)strlen(store_tables[kind].name) - 1, store_tables[kind].name, name);
        lerr->conflict = existing;
        return -1;
    }
    int64_t id = 0;
    struct pr_error err;
    pr_error_clear(&err);
    if (txn->ledger->backend->insert(txn->conn, kind, row, &id, &err) < 0)
        return ledger_store_fail(lerr, &err, store_tables[kind].name);
    return ledger_event(txn, actor, event, store_tables[kind].name, id, NULL, row, lerr);
}

int ledger_hosts_exist(struct ledger_txn *txn, const json_t *names, const char *field, struct ledger_error *lerr)
{
    json_t *rows = NULL;
    int r = ledger_load_hosts(txn, names, field, &rows, lerr);
    json_decref(rows);
    return r;
}

int ledger_group_hosts(struct ledger_txn *txn, const char *group, const char *field, json_t **names,
                       struct ledger_error *lerr)
{
    json_t *row = NULL;
    *names = NULL;
    if (ledger_txn_find(txn, STORE_GROUPS, "name", group, &row, lerr) < 0)
        return -1;
    if (!row)
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-group", field, "unknown group %s: create it first", group);
    *names = json_incref(json_object_get(row, "hosts"));
    json_decref(row);
    if (!json_array_size(*names))
        return ledger_fail(lerr, LEDGER_UNPROCESSABLE, "empty-group", field, "group %s has no hosts", group);
    return 0;
}

int ledger_host_in_group(struct ledger_txn *txn, const char *host, json_t **group, struct ledger_error *lerr)
{
    /* groups are few (tens to hundreds): a scan of every page beats an index over JSON */
    *group = NULL;
    int64_t after = 0;
    for (;;) {
        json_t *rows = NULL;
        struct pr_error err;
        pr_error_clear(&err);
        if (txn->ledger->backend->list(txn->conn, STORE_GROUPS, NULL, 0, after, STORE_LIST_MAX, &rows, &err) < 0)
            return ledger_store_fail(lerr, &err, "groups");
        size_t i, j;
        json_t *row, *member;
        json_array_foreach(rows, i, row) {
            json_array_foreach(json_object_get(row, "hosts"), j, member)
                if (!*group && strcmp(json_string_value(member), host) == 0)
                    *group = json_incref(row);
            after = store_row_int(row, "id", after);
        }
        size_t n = json_array_size(rows);
        json_decref(rows);
        if (*group || n < STORE_LIST_MAX)
            return 0;
    }
}

/* Is name used by what must not lose it: an active or quarantined assignment, a submitted
 * request (column: "group" or "service")? *holder owned. */
static int name_in_use(struct ledger_txn *txn, const char *column, const char *name, json_t **holder,
                       struct ledger_error *lerr)
{
    static const char *const states[] = { "active", "quarantined" };
    *holder = NULL;
    for (size_t s = 0; s < 2 && !*holder; s++) {
        json_t *v = json_string(name), *state = json_string(states[s]), *rows = NULL;
        struct store_filter f[2] = { { column, v, STORE_EQUAL }, { "state", state, STORE_EQUAL } };
        struct pr_error err;
        pr_error_clear(&err);
        int r = txn->ledger->backend->list(txn->conn, STORE_ASSIGNMENTS, f, 2, 0, 1, &rows, &err);
        json_decref(v);
        json_decref(state);
        if (r < 0)
            return ledger_store_fail(lerr, &err, "assignments");
        if (json_array_size(rows))
            *holder = json_incref(json_array_get(rows, 0));
        json_decref(rows);
    }
    if (!*holder) {
        json_t *v = json_string(name), *state = json_string("submitted"), *rows = NULL;
        struct store_filter f[2] = { { column, v, STORE_EQUAL }, { "state", state, STORE_EQUAL } };
        struct pr_error err;
        pr_error_clear(&err);
        int r = txn->ledger->backend->list(txn->conn, STORE_REQUESTS, f, 2, 0, 1, &rows, &err);
        json_decref(v);
        json_decref(state);
        if (r < 0)
            return ledger_store_fail(lerr, &err, "requests");
        if (json_array_size(rows))
            *holder = json_incref(json_array_get(rows, 0));
        json_decref(rows);
    }
    return 0;
}

static int named_delete(struct ledger *ledger, const struct ledger_actor *actor, enum store_kind kind, int64_t id,
                        int64_t if_match, struct ledger_error *lerr)
{
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *row = NULL, *holder = NULL;
    const char *column = kind == STORE_GROUPS ? "group" : "service";
    int r = ledger_txn_get(&txn, kind, id, &row, lerr);
    if (r == 0)
        r = ledger_check_version(row, if_match, lerr);
    if (r == 0)
        r = name_in_use(&txn, column, store_row_text(row, "name"), &holder, lerr);
    if (r == 0 && holder) {
        r = ledger_fail(lerr, LEDGER_CONFLICT, kind == STORE_GROUPS ? "group-in-use" : "service-in-use", "",
                        "%s %s has active or quarantined assignments or submitted requests", column,
                        store_row_text(row, "name"));
        lerr->conflict = holder;
        holder = NULL;
    }
    struct pr_error err;
    pr_error_clear(&err);
    if (r == 0 && ledger->backend->remove(txn.conn, kind, id, &err) < 0)
        r = ledger_store_fail(lerr, &err, store_tables[kind].name);
    char event[32];
    snprintf(event, sizeof event, "%s.deleted", column);
    if (r == 0)
        r = ledger_event(&txn, actor, event, store_tables[kind].name, id, row, NULL, lerr);
    json_decref(row);
    return ledger_txn_end(&txn, r, lerr);
}

/* ---- groups ---- */

int ledger_group_create(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body, json_t **out,
                        struct ledger_error *lerr)
{
    if (ledger_body_validate(LEDGER_BODY_GROUP, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    int64_t now = ledger_now(ledger);
    json_t *row = json_pack("{s:s, s:O, s:i, s:I, s:I}", "name", store_row_text(body, "name"), "hosts",
                            json_object_get(body, "hosts"), "version", 1, "created", (json_int_t)now, "updated",
                            (json_int_t)now);
    int r = ledger_hosts_exist(&txn, json_object_get(body, "hosts"), "hosts", lerr);
    if (r == 0)
        r = named_insert(&txn, actor, STORE_GROUPS, row, "group.created", lerr);
    return ledger_txn_end_with_row(&txn, r, row, out, lerr);
}

int ledger_group_update(struct ledger *ledger, const struct ledger_actor *actor, int64_t id, const json_t *body,
                        int64_t if_match, json_t **out, struct ledger_error *lerr)
{
    if (ledger_body_validate(LEDGER_BODY_GROUP_PATCH, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *row = NULL, *before = NULL;
    int r = ledger_txn_get(&txn, STORE_GROUPS, id, &row, lerr);
    if (r == 0)
        r = ledger_hosts_exist(&txn, json_object_get(body, "hosts"), "hosts", lerr);
    if (r == 0) {
        before = json_deep_copy(row);
        json_object_set(row, "hosts", json_object_get(body, "hosts"));
        r = ledger_txn_update(&txn, STORE_GROUPS, row, if_match, lerr);
    }
    if (r == 0)
        r = ledger_event(&txn, actor, "group.updated", "groups", id, before, row, lerr);
    json_decref(before);
    return ledger_txn_end_with_row(&txn, r, row, out, lerr);
}

int ledger_group_delete(struct ledger *ledger, const struct ledger_actor *actor, int64_t id, int64_t if_match,
                        struct ledger_error *lerr)
{
    return named_delete(ledger, actor, STORE_GROUPS, id, if_match, lerr);
}

/* ---- services ---- */

int ledger_service_create(struct ledger *ledger, const struct ledger_actor *actor, const json_t *body, json_t **out,
                          struct ledger_error *lerr)
{
    if (ledger_body_validate(LEDGER_BODY_SERVICE, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    int64_t now = ledger_now(ledger);
    json_t *row = json_pack("{s:s, s:O?, s:O?, s:i, s:I, s:I}", "name", store_row_text(body, "name"), "owner",
                            json_object_get(body, "owner"), "description", json_object_get(body, "description"),
                            "version", 1, "created", (json_int_t)now, "updated", (json_int_t)now);
    int r = named_insert(&txn, actor, STORE_SERVICES, row, "service.created", lerr);
    return ledger_txn_end_with_row(&txn, r, row, out, lerr);
}

int ledger_service_update(struct ledger *ledger, const struct ledger_actor *actor, int64_t id, const json_t *body,
                          int64_t if_match, json_t **out, struct ledger_error *lerr)
{
    if (ledger_body_validate(LEDGER_BODY_SERVICE_PATCH, body, lerr) < 0)
        return -1;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, true, &txn, lerr) < 0)
        return -1;
    json_t *row = NULL, *before = NULL;
    int r = ledger_txn_get(&txn, STORE_SERVICES, id, &row, lerr);
    if (r == 0) {
        before = json_deep_copy(row);
        json_object_update_existing(row, (json_t *)body);
        r = ledger_txn_update(&txn, STORE_SERVICES, row, if_match, lerr);
    }
    if (r == 0)
        r = ledger_event(&txn, actor, "service.updated", "services", id, before, row, lerr);
    json_decref(before);
    return ledger_txn_end_with_row(&txn, r, row, out, lerr);
}

int ledger_service_delete(struct ledger *ledger, const struct ledger_actor *actor, int64_t id, int64_t if_match,
                          struct ledger_error *lerr)
{
    return named_delete(ledger, actor, STORE_SERVICES, id, if_match, lerr);
}
