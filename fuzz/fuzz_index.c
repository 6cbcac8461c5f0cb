/* fuzz_index.c — libFuzzer harness for the compiled index reader (index_read.c).
 * The input is an index image. Random bytes would never pass the checksums, so when the input
 * is large enough the harness rewrites the header's block table, table checksum and header
 * checksum to match: the structural checks and every bounds-checked read are what get fuzzed.
 * Then it runs the queries a lookup runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxh_x86dispatch.h>

#include "registry/index.h"
#include "registry/index_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fix_checksums(unsigned char *image, size_t size)
{
    struct registry_index_header h;
    if (size < sizeof h)
        return;
    memcpy(&h, image, sizeof h);
    if (h.off_block_checksums < sizeof h || h.off_block_checksums > size)
        return;
    size_t data_bytes = h.off_block_checksums - sizeof h;
    size_t blocks = (data_bytes + REGISTRY_INDEX_BLOCK_SIZE - 1) / REGISTRY_INDEX_BLOCK_SIZE;
    if (blocks * sizeof(uint64_t) != size - h.off_block_checksums)
        return;
    uint64_t *sums = (uint64_t *)(image + h.off_block_checksums);
    for (size_t b = 0; b < blocks; b++) {
        size_t len = data_bytes - b * REGISTRY_INDEX_BLOCK_SIZE;
        sums[b] = XXH3_64bits(image + sizeof h + b * REGISTRY_INDEX_BLOCK_SIZE,
                              len < REGISTRY_INDEX_BLOCK_SIZE ? len : REGISTRY_INDEX_BLOCK_SIZE);
    }
    h.block_count = (uint32_t)blocks;
    h.file_size = size;
    h.checksum = XXH3_64bits(sums, blocks * sizeof(uint64_t));
    h.header_checksum = 0;
    h.header_checksum = XXH3_64bits(&h, sizeof h);
    memcpy(image, &h, sizeof h);
}

static void count_record(void *ctx, uint32_t id)
{
    (void)id;
    (*(size_t *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the reader needs 8-byte alignment, which a malloc'd copy gives */
    unsigned char *image = malloc(size ? size : 1);
    if (!image)
        return 0;
    memcpy(image, data, size);
    fix_checksums(image, size);
    struct registry_index *ix = NULL;
    if (registry_index_open(image, size, &ix, NULL) == 0) {
        static const uint16_t ports[] = { 0, 22, 1433, 2049, 6000, 49151, 65535 };
        for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
            size_t n;
            const uint32_t *ids = registry_index_port_records(ix, ports[i], &n);
            for (size_t k = 0; ids && k < n; k++) {
                struct registry_record rec;
                if (registry_index_record(ix, ids[k], &rec))
                    (void)strlen(rec.description);
            }
            uint32_t rank;
            registry_index_frequency(ix, ports[i], REGISTRY_PROTO_TCP, NULL, &rank);
        }
        size_t found = 0;
        registry_index_find_name(ix, "ssh", count_record, &found);
        uint16_t port;
        for (uint32_t n = 0; n < 4; n++)
            registry_index_top_port(ix, REGISTRY_PROTO_TCP, n, &port);
        for (uint32_t s = 0; s < registry_index_source_count(ix); s++) {
            struct registry_source_info info;
            registry_index_source(ix, s, &info);
        }
        registry_index_verify_all(ix, NULL);
        registry_index_close(ix);
    }
    free(image);
    return 0;
}
