/* fuzz_iana_csv.c — libFuzzer harness for iana_csv_parse() (src/lib/registry/iana_csv.c).
 * Parses each input twice: as given, and after a valid IANA header so the fuzzer reaches the
 * row parser quickly. Both parses append to a list that already holds records, so the
 * rollback promise is checked too; any broken invariant traps. Everything is freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/iana_csv.h"

#define FUZZ_IANA_HEADER                                                                       \
    "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,"               \
    "Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,"   \
    "Assignment Notes\r\n"
#define FUZZ_IANA_SEED_ROWS FUZZ_IANA_HEADER "seed,1,tcp,Seed,,,,,,,,\"two\nlines\"\r\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_record_invariants(const struct registry_record *rec)
{
    const char *strings[] = { rec->service, rec->description, rec->assignee, rec->contact,
                              rec->registration_date, rec->modification_date, rec->reference,
                              rec->service_code, rec->unauthorized_use, rec->assignment_notes,
                              rec->aliases };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (!strings[i])
            __builtin_trap();
    if (rec->port_first > rec->port_last || rec->proto >= REGISTRY_PROTO_COUNT || rec->line < 1)
        __builtin_trap();
    if (!rec->has_port && (rec->port_first != 0 || rec->port_last != 0))
        __builtin_trap();
    (void)strlen(rec->description);   /* NUL-terminated, readable */
    (void)strlen(rec->assignment_notes);
}

static void fuzz_parse_after_seed_records(const char *text, size_t len)
{
    struct registry_records list = { 0 };
    long seeded = iana_csv_parse(FUZZ_IANA_SEED_ROWS, strlen(FUZZ_IANA_SEED_ROWS), &list, NULL);
    if (seeded != 1)
        __builtin_trap();

    struct pr_error err;
    pr_error_clear(&err);
    long n = iana_csv_parse(text, len, &list, &err);
    if (n >= 0) {
        if (list.count != 1 + (size_t)n || err.code != 0)
            __builtin_trap();
    } else {
        if (list.count != 1 || err.code != n || err.line < 1 || err.column < 1 ||
            err.message[0] == '\0' || memchr(err.message, '\0', sizeof err.message) == NULL)
            __builtin_trap();
    }
    for (size_t i = 0; i < list.count; i++)
        fuzz_check_record_invariants(&list.items[i]);
    registry_records_free(&list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parse_after_seed_records((const char *)data, size);

    size_t header_len = strlen(FUZZ_IANA_HEADER);
    char *with_header = malloc(header_len + size + 1);
    if (!with_header)
        return 0;
    memcpy(with_header, FUZZ_IANA_HEADER, header_len);
    if (size)
        memcpy(with_header + header_len, data, size);
    fuzz_parse_after_seed_records(with_header, header_len + size);
    free(with_header);
    return 0;
}
