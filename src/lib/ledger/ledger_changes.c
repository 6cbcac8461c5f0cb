/* ledger_changes.c — several servers on one database (PostgreSQL): what the other servers
 * changed reaches this one's in-memory port maps and policy at the start of each of its write
 * transactions (under the writers' lock, so nothing changes while it decides), and after each
 * round of a lease batch (which reads them in its own round trip). The store lists the (host,
 * proto, ports) whose claims changed; their ports are read again, except a lease taken, which
 * is marked as it is. */
#include <string.h>

#include "ledger/ledger_internal.h"

int ledger_changes_apply(struct ledger *ledger, struct ledger_txn *txn, struct ledger_error *lerr)
{
    if (!ledger->backend->claim_changes)
        return 0;
    json_t *changes = NULL;
    bool gap = false;
    struct pr_error err;
    pr_error_clear(&err);
    if (ledger->backend->claim_changes(txn->conn, &ledger->change_seq, &changes, &gap, &err) < 0)
        return ledger_store_fail(lerr, &err, "claim changes");
    int r = ledger_changes_mark(ledger, txn, changes, gap, NULL, lerr);
    json_decref(changes);
    return r;
}

int ledger_changes_mark(struct ledger *ledger, struct ledger_txn *txn, const json_t *changes, bool gap,
                        bool *policy_changed_out, struct ledger_error *lerr)
{
    struct pr_error err;
    pr_error_clear(&err);
    int r = 0;
    bool policy_changed = false;
    size_t i;
    json_t *change;
    if (gap)
        r = ledger_port_maps_rebuild(ledger, txn, lerr);
    json_array_foreach(changes, i, change) {
        const char *proto = store_row_text(change, "proto");
        if (proto && strcmp(proto, "policy") == 0) {
            policy_changed = true;
            continue;
        }
        if (r == 0 && !gap && json_is_true(json_object_get(change, "taken"))) {
            /* a lease taken: marked as it is, without reading the claims again */
            struct port_map *map = ledger_port_map(ledger, store_row_text(change, "host"), proto);
            unsigned port = (unsigned)store_row_int(change, "lo", 0);
            if (!map)
                r = ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
            else if (port >= 1 && port <= 65535) {
                port_set_add(&map->taken, (uint16_t)port);
                port_set_add(&map->leased, (uint16_t)port);
            }
        } else if (r == 0 && !gap)
            r = ledger_port_map_refresh(ledger, txn, store_row_text(change, "host"), proto,
                                        (unsigned)store_row_int(change, "lo", 1), (unsigned)store_row_int(change, "hi", 1),
                                        lerr);
    }
    if (policy_changed_out)
        *policy_changed_out = policy_changed;
    if (r == 0 && policy_changed) {
        json_t *doc = NULL;
        if (ledger->backend->policy_get(txn->conn, &doc, &err) < 0)
            return ledger_store_fail(lerr, &err, "policy");
        json_t *merged = ledger_policy_default();
        if (doc)
            json_object_update(merged, doc);
        json_decref(doc);
        json_decref(ledger->policy_doc);
        ledger->policy_doc = merged;
        ledger_policy_apply(&ledger->policy, merged);
    }
    return r;
}
