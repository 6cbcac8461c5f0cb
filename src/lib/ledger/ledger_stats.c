/* ledger_stats.c — counts for the server's /metrics gauges: assignments, leases and requests
 * by state (the submitted requests are the review queue), read in one read transaction. */
#include "ledger/ledger_internal.h"

static const struct {
    const char *name;
    enum store_kind kind;
    const char *const states[5];
} stats_tables[] = {
    { "assignments", STORE_ASSIGNMENTS, { "active", "quarantined", "deassigned", "revoked", NULL } },
    { "leases", STORE_LEASES, { "active", "released", "expired", NULL } },
    { "requests", STORE_REQUESTS, { "submitted", "approved", "rejected", "withdrawn", NULL } },
};

int ledger_stats(struct ledger *ledger, json_t **out, struct ledger_error *lerr)
{
    *out = NULL;
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, false, &txn, lerr) < 0)
        return -1;
    json_t *stats = json_object();
    int r = 0;
    for (size_t t = 0; t < sizeof stats_tables / sizeof stats_tables[0] && r == 0; t++) {
        json_t *counts = NULL;
        struct pr_error err;
        pr_error_clear(&err);
        if (ledger->backend->count_by(txn.conn, stats_tables[t].kind, "state", &counts, &err) < 0) {
            r = ledger_store_fail(lerr, &err, stats_tables[t].name);
            break;
        }
        /* every state, those without rows as 0: a gauge that disappears is read as unknown */
        json_t *by_state = json_object();
        for (size_t s = 0; stats_tables[t].states[s]; s++)
            json_object_set_new(by_state, stats_tables[t].states[s], json_integer(0));
        json_object_update(by_state, counts);
        json_decref(counts);
        json_object_set_new(stats, stats_tables[t].name, by_state);
    }
    if (r == 0)
        *out = stats;
    else
        json_decref(stats);
    return ledger_txn_end(&txn, r, lerr);
}
