/* fuzz_observation_body.c — libFuzzer harness for the agent report's parser
 * (ledger_observation_parse, src/lib/ledger/ledger_observation_body.c) and its gzip path
 * (ledger_gunzip): the first byte picks plain or gzip. Checks the contract: success gives an
 * object that validates again and whose listeners have keys; failure gives no object, a
 * kind and a message. */
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger_fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct ledger_error lerr = { 0 };
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char *inflated = NULL;
    if (data[0] & 1) {
        if (ledger_gunzip(text, len, 1u << 20, &inflated, &len, &lerr) < 0) {
            if (lerr.kind == LEDGER_OK || !lerr.message[0] || inflated)
                abort();
            ledger_error_clear(&lerr);
            return 0;
        }
        if (len > (1u << 20))
            abort();
        text = inflated;
    }
    json_t *body = NULL;
    int r = ledger_observation_parse(text, len, &body, &lerr);
    if (r == 0) {
        struct ledger_error again = { 0 };
        if (!json_is_object(body) || ledger_observation_validate(body, &again) != 0)
            abort();
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(body, "listeners"), i, l) {
            char key[320];
            if (!ledger_listener_key(l, key, sizeof key)[0])
                abort();
        }
        json_decref(body);
    } else if (body || lerr.kind == LEDGER_OK || !lerr.message[0]) {
        abort();
    }
    ledger_error_clear(&lerr);
    free(inflated);
    return 0;
}
