/* fuzz_nmap_services.c — libFuzzer harness for the nmap-services parser (nmap_services.c).
 * Parses arbitrary bytes into a list that already holds one record and checks the contract
 * (fuzz_common.h); each record needs a name, a single port, one protocol, a line, a frequency
 * in [0,1] and a description no longer than the input. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "registry/nmap_services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool nmap_record_is_valid(const struct registry_record *rec, size_t input_size)
{
    return rec->service[0] && rec->port_first == rec->port_last &&
           rec->proto != REGISTRY_PROTO_ANY && rec->line != 0 &&
           rec->frequency >= 0.0 && rec->frequency <= 1.0 &&
           strlen(rec->description) <= input_size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char seed[] = "seed\t1/tcp\t0.5\t# already in the list\n";
    return fuzz_check_text_parser(nmap_services_parse, seed, sizeof seed - 1, data, size,
                                  nmap_record_is_valid);
}
