/* make_index_seed.c — writes a small valid index image (built from a few hand-written records)
 * to the path given, as a seed for fuzz_index. Run by scripts/fuzz.sh before fuzzing, so no
 * binary blob is kept in the repository. */
#include <stdio.h>
#include <stdlib.h>

#include "registry/index.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    struct registry_records primary = { 0 }, nmap = { 0 };
    static const struct { const char *name; uint16_t port; uint8_t proto; } rows[] = {
        { "ssh", 22, REGISTRY_PROTO_TCP }, { "ssh", 22, REGISTRY_PROTO_UDP },
        { "ms-sql-s", 1433, REGISTRY_PROTO_TCP }, { "nfs", 2049, REGISTRY_PROTO_SCTP },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct registry_record *r = registry_records_append(&primary);
        r->service = rows[i].name;
        r->description = "seed";
        r->port_first = r->port_last = rows[i].port;
        r->has_port = true;
        r->proto = rows[i].proto;
        struct registry_record *f = registry_records_append(&nmap);
        *f = *r;
        f->frequency = 0.1 * (double)(i + 1);
    }
    struct registry_build_source sources[] = {
        { REGISTRY_SOURCE_IANA_CSV, REGISTRY_ROLE_PRIMARY, "/seed/iana.csv", "", 1, 1, &primary },
        { REGISTRY_SOURCE_NMAP, REGISTRY_ROLE_FREQUENCY, "/seed/nmap-services", "", 1, 1, &nmap },
    };
    void *image;
    size_t size;
    if (registry_index_build(sources, 2, 0, &image, &size, NULL) < 0)
        return 3;
    FILE *out = fopen(argv[1], "wb");
    int ok = out && fwrite(image, 1, size, out) == size;
    if (out)
        fclose(out);
    free(image);
    registry_records_free(&primary);
    registry_records_free(&nmap);
    return ok ? 0 : 3;
}
