/* fuzz_common.h — the contract check shared by the libFuzzer harnesses of the line-based
 * parsers (fuzz_services_file.c, fuzz_nmap_services.c): parse arbitrary bytes into a list that
 * already holds one seed record; the return value must be the records appended, each passing
 * the harness's own check; on error nothing is appended and a position is set. Traps otherwise. */
#ifndef PORTREG_FUZZ_COMMON_H
#define PORTREG_FUZZ_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "registry/record.h"
#include "util/error.h"

/* services_file_parse, nmap_services_parse: buffer in, records appended to out. */
typedef long (*fuzz_text_parser)(const char *buf, size_t len, struct registry_records *out,
                                 struct pr_error *err);
/* Whether a record parsed from input_size bytes of input holds together. */
typedef bool (*fuzz_record_check)(const struct registry_record *rec, size_t input_size);

/* Parse seed (one record whose service is "seed"), then data[0..size) into the same list, and
 * check the contract. Returns 0, as LLVMFuzzerTestOneInput must. */
static inline int fuzz_check_text_parser(fuzz_text_parser parse, const char *seed,
                                         size_t seed_len, const uint8_t *data, size_t size,
                                         fuzz_record_check record_is_valid)
{
    struct registry_records list = { 0 };
    struct pr_error err = { 0 };
    if (parse(seed, seed_len, &list, &err) != 1)
        __builtin_trap();

    long appended = parse((const char *)data, size, &list, &err);
    if (appended >= 0) {
        if (list.count != 1 + (size_t)appended)
            __builtin_trap();
        for (size_t i = 1; i < list.count; i++)
            if (!record_is_valid(&list.items[i], size))
                __builtin_trap();
    } else if (appended == -EINVAL) {
        if (list.count != 1 || err.line == 0 || err.column == 0 || !err.message[0])
            __builtin_trap();
    }
    if (strcmp(list.items[0].service, "seed") != 0)
        __builtin_trap();
    registry_records_free(&list);
    return 0;
}

#endif
