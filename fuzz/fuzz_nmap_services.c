/* fuzz_nmap_services.c — libFuzzer harness for the nmap-services parser (nmap_services.c).
 * Parses arbitrary bytes into a list that already holds one record, checks the contract
 * (return value = records appended, frequencies in [0,1]; on error nothing appended, position
 * set) and frees. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "registry/nmap_services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    static const char seed[] = "seed\t1/tcp\t0.5\t# already in the list\n";
    if (nmap_services_parse(seed, sizeof seed - 1, &list, &err) != 1)
        __builtin_trap();

    long appended = nmap_services_parse((const char *)data, size, &list, &err);
    if (appended >= 0) {
        if (list.count != 1 + (size_t)appended)
            __builtin_trap();
        for (size_t i = 1; i < list.count; i++) {
            const struct registry_record *rec = &list.items[i];
            if (!rec->service[0] || rec->port_first != rec->port_last ||
                rec->proto == REGISTRY_PROTO_ANY || rec->line == 0 ||
                !(rec->frequency >= 0.0 && rec->frequency <= 1.0) ||
                strlen(rec->description) > size)
                __builtin_trap();
        }
    } else if (appended == -EINVAL) {
        if (list.count != 1 || err.line == 0 || err.column == 0 || !err.message[0])
            __builtin_trap();
    }
    if (strcmp(list.items[0].service, "seed") != 0)
        __builtin_trap();
    registry_records_free(&list);
    return 0;
}
