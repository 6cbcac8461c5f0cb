/* fuzz_services_file.c — libFuzzer harness for the services(5) parser (services_file.c).
 * Parses arbitrary bytes into a list that already holds one record and checks the contract
 * (fuzz_common.h); each record needs a name, an ordered port range, one protocol, a line and
 * strings no longer than the input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "registry/services_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool services_record_is_valid(const struct registry_record *rec, size_t input_size)
{
    return rec->service[0] && rec->port_first <= rec->port_last &&
           rec->proto != REGISTRY_PROTO_ANY && rec->line != 0 &&
           strlen(rec->description) <= input_size && strlen(rec->aliases) <= input_size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char seed[] = "seed 1/tcp # already in the list\n";
    return fuzz_check_text_parser(services_file_parse, seed, sizeof seed - 1, data, size,
                                  services_record_is_valid);
}
