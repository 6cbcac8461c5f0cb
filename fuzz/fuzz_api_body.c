/* fuzz_api_body.c — libFuzzer harness for the registry server's request bodies
 * (ledger_body_parse, src/lib/ledger/ledger_body.c): the first byte picks the body kind, the
 * rest is the body as the HTTP layer hands it over (every kind: hosts, groups, services,
 * requests and direct assignments, leases, actions, policy). Checks the contract: success
 * gives an object that validates again, whose names (a group's hosts, a request's group) are
 * names; failure gives no object, a kind, a code and a message, and a 400 names its field
 * (or none for JSON that does not parse). The import's YAML body is fuzz_plan_yaml's. */
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum ledger_body_kind kind = (enum ledger_body_kind)(data[0] % LEDGER_BODY_KIND_COUNT);
    struct ledger_error lerr = { 0 };
    json_t *body = NULL;
    int r = ledger_body_parse(kind, (const char *)data + 1, size - 1, &body, &lerr);
    if (r == 0) {
        if (!json_is_object(body) || lerr.kind != LEDGER_OK)
            abort();
        struct ledger_error again = { 0 };
        if (ledger_body_validate(kind, body, &again) != 0)
            abort();
        /* what the ledger reads from a valid body must be readable */
        unsigned lo, hi;
        bool is_auto;
        json_t *port = json_object_get(body, kind == LEDGER_BODY_LEASE ? "range" : "port");
        if (port && kind != LEDGER_BODY_LEASE && kind != LEDGER_BODY_REQUEST)
            abort();
        if (port && ledger_port_value(port, kind == LEDGER_BODY_REQUEST, &lo, &hi, &is_auto) != 0)
            abort();
        if (port && !is_auto && (lo < 1 || hi > 65535 || lo > hi))
            abort();
        size_t i;
        json_t *name;
        json_array_foreach(json_object_get(body, "hosts"), i, name)
            if (!ledger_name_valid(json_string_value(name)))
                abort();
        json_t *group = json_object_get(body, "group");
        if (group && !ledger_name_valid(json_string_value(group)))
            abort();
        json_t *flag = json_object_get(body, "iana_assigned_allowed");
        if (flag && !json_is_boolean(flag))
            abort();
        json_decref(body);
    } else {
        if (r != -1 || body || lerr.kind != LEDGER_BAD_REQUEST || !lerr.code[0] || !lerr.message[0])
            abort();
        if (strcmp(lerr.code, "bad-json") != 0 && strcmp(lerr.code, "not-an-object") != 0 && !lerr.field[0])
            abort();
        ledger_error_clear(&lerr);
    }
    return 0;
}
