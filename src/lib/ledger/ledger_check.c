/* ledger_check.c — "would this request conflict?" without writing anything: the checks a
 * request's submission makes (hosts or group known, bind an address of each host, the policy,
 * the claims of other services) in a read transaction, for the web UI's request form that
 * answers as one types (GET /api/v1/check). */
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_body.h"
#include "ledger/ledger_internal.h"

int ledger_check_request(struct ledger *ledger, const json_t *body, json_t **out, struct ledger_error *lerr)
{
    *out = NULL;
    if (ledger_body_validate(LEDGER_BODY_REQUEST, body, lerr) < 0)
        return -1;
    const char *proto = store_row_text(body, "proto") ? store_row_text(body, "proto") : "tcp";
    const char *bind = store_row_text(body, "bind") ? store_row_text(body, "bind") : "any";
    const char *service = store_row_text(body, "service");
    const char *group = store_row_text(body, "group");
    unsigned lo, hi;
    bool is_auto;
    ledger_port_value(json_object_get(body, "port"), true, &lo, &hi, &is_auto);
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, false, &txn, lerr) < 0)
        return -1;
    json_t *names = NULL, *host_rows = NULL;
    const char *field = group ? "group" : "host";
    int r = 0;
    if (group) {
        r = ledger_group_hosts(&txn, group, "group", &names, lerr);
    } else {
        names = json_array();
        json_array_append_new(names, json_string(store_row_text(body, "host") ? store_row_text(body, "host") : ""));
    }
    if (r == 0)
        r = ledger_load_hosts(&txn, names, field, &host_rows, lerr);
    size_t i;
    json_t *host;
    json_array_foreach(host_rows, i, host) {
        struct bind_endpoint e[LEDGER_ENDPOINTS_MAX];
        if (r == 0 && ledger_bind_endpoints(bind, json_object_get(host, "addresses"), e) < 0)
            r = ledger_fail(lerr, LEDGER_BAD_REQUEST, "unknown-address", "bind",
                            "bind %s is not any, loopback, an address, or an address name of host %s", bind,
                            store_row_text(host, "name"));
    }
    /* a conflict or the policy's refusal is the answer, not an error */
    struct ledger_error refusal = { 0 };
    if (r == 0 && !is_auto && ledger_check_ports(&txn, host_rows, proto, lo, hi, service, bind, &refusal) < 0 &&
        refusal.kind != LEDGER_CONFLICT && refusal.kind != LEDGER_UNPROCESSABLE) {
        *lerr = refusal;
        refusal = (struct ledger_error){ 0 };
        r = -1;
    }
    if (r == 0) {
        bool free_now = refusal.kind == LEDGER_OK;
        *out = json_pack("{s:b, s:O, s:s, s:O, s:s}", "free", free_now, "hosts", names, "proto", proto, "port",
                         json_object_get(body, "port"), "bind", bind);
        if (!free_now) {
            json_t *why = json_pack("{s:s, s:s, s:s?}", "code", refusal.code, "message", refusal.message, "field",
                                    refusal.field[0] ? refusal.field : NULL);
            if (refusal.conflict) {
                json_object_set_new(why, "conflict", refusal.conflict);
                refusal.conflict = NULL;
            }
            json_object_set_new(*out, "refusal", why);
        }
    }
    ledger_error_clear(&refusal);
    json_decref(names);
    json_decref(host_rows);
    if (ledger_txn_end(&txn, r, lerr) < 0) {
        json_decref(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}
