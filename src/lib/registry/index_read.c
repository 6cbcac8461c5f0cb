/* index_read.c — open and query a compiled registry index image (index_format.h).
 * Opening checks magic, version, byte order, size, section bounds, the header and the block
 * checksum table. Every read goes through index_verify_range(), which hashes a 16 KiB block the
 * first time it is read and refuses it when it does not match: a damaged index is never read
 * past its bounds or believed, and a lookup pays for the blocks it touches only. */
#include "registry/index.h"
#include "registry/index_format.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <xxh_x86dispatch.h>   /* XXH3_64bits with AVX2 when the CPU has it */

struct index_block_verification {
    uint8_t *state;             /* per block: 0 not checked yet, 1 good, 2 damaged */
    char damage[160];           /* "" or what was found */
};

struct registry_index {
    const unsigned char *base;
    size_t size;
    const struct registry_index_header *header;
    const struct registry_index_source *sources;
    const struct registry_index_record *records;
    const uint32_t *port_starts;
    const uint32_t *port_entries;
    const struct registry_index_name *names;
    const struct registry_index_frequency *frequencies;
    const uint32_t *frequency_rank;
    const char *strings;
    const uint64_t *block_sums;
    struct index_block_verification *verify;   /* mutable cache behind a const index */
    bool owns_image, image_mapped;
};

enum { BLOCK_UNCHECKED = 0, BLOCK_GOOD = 1, BLOCK_DAMAGED = 2 };

/* Verify every block that holds a byte of [offset, offset + len). The first failure is kept
 * in ix->verify->damage; reads of damaged blocks fail from then on. */
static bool index_verify_range(const struct registry_index *ix, size_t offset, size_t len)
{
    const size_t data_start = sizeof(struct registry_index_header);
    const size_t data_end = ix->header->off_block_checksums;
    if (len == 0)
        return true;
    if (offset < data_start || offset > data_end || len > data_end - offset)
        return false;
    size_t first = (offset - data_start) / REGISTRY_INDEX_BLOCK_SIZE;
    size_t last = (offset + len - 1 - data_start) / REGISTRY_INDEX_BLOCK_SIZE;
    for (size_t b = first; b <= last; b++) {
        uint8_t *state = &ix->verify->state[b];
        if (*state == BLOCK_GOOD)
            continue;
        if (*state == BLOCK_UNCHECKED) {
            size_t start = data_start + b * REGISTRY_INDEX_BLOCK_SIZE;
            size_t block_len = data_end - start < REGISTRY_INDEX_BLOCK_SIZE ? data_end - start
                                                                             : REGISTRY_INDEX_BLOCK_SIZE;
            *state = XXH3_64bits(ix->base + start, block_len) == ix->block_sums[b] ? BLOCK_GOOD
                                                                                   : BLOCK_DAMAGED;
            if (*state == BLOCK_DAMAGED && !ix->verify->damage[0])
                snprintf(ix->verify->damage, sizeof ix->verify->damage,
                         "registry index is corrupted (checksum mismatch in block %zu at byte %zu)",
                         b, start);
        }
        if (*state == BLOCK_DAMAGED)
            return false;
    }
    return true;
}

static bool section_fits(size_t data_end, uint32_t offset, uint64_t count, size_t item_size)
{
    if (offset % 8 != 0 || offset < sizeof(struct registry_index_header))
        return false;
    uint64_t bytes = count * item_size;
    return offset <= data_end && bytes <= data_end - offset;
}

int registry_index_open(const void *data, size_t size, struct registry_index **out,
                        struct pr_error *err)
{
    *out = NULL;
    struct registry_index_header h;
    if (size < sizeof h)
        return pr_error_set(err, -EINVAL, "not a portreg registry index (bad magic)");
    memcpy(&h, data, sizeof h);
    if (memcmp(h.magic, REGISTRY_INDEX_MAGIC, 8) != 0)
        return pr_error_set(err, -EINVAL, "not a portreg registry index (bad magic)");
    if (h.byte_order != REGISTRY_INDEX_BYTE_ORDER)
        return pr_error_set(err, -EINVAL, "registry index was written on a machine of another byte order");
    if (h.format_version != REGISTRY_INDEX_FORMAT_VERSION)
        return pr_error_set(err, -EINVAL,
                            "registry index has format version %u, this portreg reads version %u",
                            h.format_version, REGISTRY_INDEX_FORMAT_VERSION);
    uint64_t stored = h.header_checksum;
    h.header_checksum = 0;
    if (XXH3_64bits(&h, sizeof h) != stored)
        return pr_error_set(err, -EINVAL, "registry index is corrupted (header checksum mismatch)");
    if (h.file_size != size)
        return pr_error_set(err, -EINVAL, "registry index is truncated or padded (%zu bytes, header says %llu)",
                            size, (unsigned long long)h.file_size);
    size_t data_end = h.off_block_checksums;
    size_t data_bytes = data_end >= sizeof h ? data_end - sizeof h : 0;
    if (data_end < sizeof h || data_end % 8 != 0 ||
        h.block_count != (data_bytes + REGISTRY_INDEX_BLOCK_SIZE - 1) / REGISTRY_INDEX_BLOCK_SIZE ||
        (uint64_t)data_end + (uint64_t)h.block_count * sizeof(uint64_t) != size)
        return pr_error_set(err, -EINVAL, "registry index is corrupted (block table)");
    if (!section_fits(data_end, h.off_sources, h.source_count, sizeof(struct registry_index_source)) ||
        !section_fits(data_end, h.off_records, h.record_count, sizeof(struct registry_index_record)) ||
        !section_fits(data_end, h.off_port_starts, 65537, sizeof(uint32_t)) ||
        !section_fits(data_end, h.off_port_entries, h.port_entry_count, sizeof(uint32_t)) ||
        !section_fits(data_end, h.off_names, h.name_entry_count, sizeof(struct registry_index_name)) ||
        !section_fits(data_end, h.off_frequencies, h.frequency_count, sizeof(struct registry_index_frequency)) ||
        !section_fits(data_end, h.off_frequency_rank, h.frequency_count, sizeof(uint32_t)) ||
        !section_fits(data_end, h.off_strings, h.string_bytes, 1) || h.string_bytes == 0)
        return pr_error_set(err, -EINVAL, "registry index is corrupted (a section lies outside the file)");
    const unsigned char *base = data;
    const uint64_t *block_sums = (const uint64_t *)(base + data_end);
    if (XXH3_64bits(block_sums, h.block_count * sizeof(uint64_t)) != h.checksum)
        return pr_error_set(err, -EINVAL, "registry index is corrupted (checksum table mismatch)");

    struct registry_index *ix = calloc(1, sizeof *ix);
    struct index_block_verification *verify = calloc(1, sizeof *verify);
    uint8_t *state = calloc(h.block_count ? h.block_count : 1, 1);
    if (!ix || !verify || !state) {
        free(ix);
        free(verify);
        free(state);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    verify->state = state;
    ix->verify = verify;
    ix->base = base;
    ix->size = size;
    ix->header = (const struct registry_index_header *)base;
    ix->sources = (const void *)(base + h.off_sources);
    ix->records = (const void *)(base + h.off_records);
    ix->port_starts = (const void *)(base + h.off_port_starts);
    ix->port_entries = (const void *)(base + h.off_port_entries);
    ix->names = (const void *)(base + h.off_names);
    ix->frequencies = (const void *)(base + h.off_frequencies);
    ix->frequency_rank = (const void *)(base + h.off_frequency_rank);
    ix->strings = (const char *)(base + h.off_strings);
    ix->block_sums = block_sums;

    /* what every query relies on is verified now: sources, the end of the port table, the
     * first and last string bytes */
    const char *problem = NULL;
    if (!index_verify_range(ix, h.off_sources, h.source_count * sizeof(struct registry_index_source)) ||
        !index_verify_range(ix, h.off_port_starts + 65536 * sizeof(uint32_t), sizeof(uint32_t)) ||
        !index_verify_range(ix, h.off_strings, 1) ||
        !index_verify_range(ix, h.off_strings + h.string_bytes - 1, 1))
        problem = ix->verify->damage;
    else if (ix->strings[h.string_bytes - 1] != '\0' || ix->strings[0] != '\0')
        problem = "registry index is corrupted (string table)";
    else if (ix->port_starts[65536] != h.port_entry_count)
        problem = "registry index is corrupted (port table)";
    if (problem) {
        int r = pr_error_set(err, -EINVAL, "%s", problem);
        registry_index_close(ix);
        return r;
    }
    *out = ix;
    return 0;
}

int registry_index_verify_all(const struct registry_index *ix, struct pr_error *err)
{
    size_t data_start = sizeof(struct registry_index_header);
    if (!index_verify_range(ix, data_start, ix->header->off_block_checksums - data_start))
        return pr_error_set(err, -EINVAL, "%s", ix->verify->damage);
    return 0;
}

const char *registry_index_damage(const struct registry_index *ix)
{
    return ix->verify->damage[0] ? ix->verify->damage : NULL;
}

void registry_index_adopt_image(struct registry_index *ix, bool mapped)
{
    ix->owns_image = true;
    ix->image_mapped = mapped;
}

void registry_index_close(struct registry_index *ix)
{
    if (!ix)
        return;
    if (ix->owns_image) {
        if (ix->image_mapped)
            munmap((void *)ix->base, ix->size);
        else
            free((void *)ix->base);
    }
    free(ix->verify->state);
    free(ix->verify);
    free(ix);
}

static const char *index_string(const struct registry_index *ix, uint32_t offset)
{
    size_t base = ix->header->off_strings;
    if (offset >= ix->header->string_bytes || !index_verify_range(ix, base + offset, 1))
        return "";
    const char *s = ix->strings + offset;
    size_t len = strnlen(s, ix->header->string_bytes - offset);
    return index_verify_range(ix, base + offset, len + 1) ? s : "";
}

/* Pointer to item i of a section after verifying its bytes; NULL when damaged. */
static const void *index_item(const struct registry_index *ix, uint32_t section_offset,
                              size_t item_size, size_t i)
{
    size_t offset = section_offset + i * item_size;
    return index_verify_range(ix, offset, item_size) ? ix->base + offset : NULL;
}

int64_t registry_index_built_at(const struct registry_index *ix) { return ix->header->built_at; }
size_t registry_index_image_size(const struct registry_index *ix) { return ix->size; }
uint32_t registry_index_record_count(const struct registry_index *ix) { return ix->header->record_count; }

bool registry_index_record(const struct registry_index *ix, uint32_t id, struct registry_record *out)
{
    const struct registry_index_record *r =
        id < ix->header->record_count ? index_item(ix, ix->header->off_records, sizeof *r, id) : NULL;
    if (!r)
        return false;
    const char **fields[REGISTRY_FIELD_COUNT] = {
        &out->service, &out->description, &out->assignee, &out->contact,
        &out->registration_date, &out->modification_date, &out->reference, &out->service_code,
        &out->unauthorized_use, &out->assignment_notes, &out->aliases,
    };
    for (int f = 0; f < REGISTRY_FIELD_COUNT; f++)
        *fields[f] = index_string(ix, r->field[f]);
    out->line = r->line;
    out->port_first = r->port_first;
    out->port_last = r->port_last;
    out->has_port = r->has_port != 0;
    out->proto = r->proto < REGISTRY_PROTO_COUNT ? r->proto : REGISTRY_PROTO_ANY;
    out->status = r->status <= REGISTRY_STATUS_REMOVED ? r->status : REGISTRY_STATUS_ASSIGNED;
    out->frequency = out->has_port && out->proto != REGISTRY_PROTO_ANY
                         ? registry_index_frequency(ix, r->port_first, out->proto, NULL, NULL)
                         : 0.0;
    return true;
}

uint32_t registry_index_record_source(const struct registry_index *ix, uint32_t id)
{
    const struct registry_index_record *r =
        id < ix->header->record_count ? index_item(ix, ix->header->off_records, sizeof *r, id) : NULL;
    return r ? r->source : 0;
}

const uint32_t *registry_index_port_records(const struct registry_index *ix, uint16_t port,
                                            size_t *count)
{
    *count = 0;
    if (!index_verify_range(ix, ix->header->off_port_starts + (size_t)port * sizeof(uint32_t),
                            2 * sizeof(uint32_t)))
        return NULL;
    uint32_t first = ix->port_starts[port], last = ix->port_starts[port + 1];
    if (first > last || last > ix->header->port_entry_count ||
        !index_verify_range(ix, ix->header->off_port_entries + (size_t)first * sizeof(uint32_t),
                            (size_t)(last - first) * sizeof(uint32_t))) {
        *count = 0;
        return NULL;
    }
    *count = last - first;
    return ix->port_entries + first;
}

size_t registry_index_find_name(const struct registry_index *ix, const char *name,
                                void (*visit)(void *ctx, uint32_t record), void *ctx)
{
    size_t lo = 0, hi = ix->header->name_entry_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct registry_index_name *entry = index_item(ix, ix->header->off_names, sizeof *entry, mid);
        if (!entry)
            return 0;
        if (strcasecmp(index_string(ix, entry->name), name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t matches = 0;
    for (size_t i = lo; i < ix->header->name_entry_count; i++) {
        const struct registry_index_name *entry = index_item(ix, ix->header->off_names, sizeof *entry, i);
        if (!entry || strcasecmp(index_string(ix, entry->name), name) != 0)
            break;
        if (entry->record < ix->header->record_count) {
            if (visit)
                visit(ctx, entry->record);
            matches++;
        }
    }
    return matches;
}

double registry_index_frequency(const struct registry_index *ix, uint16_t port, uint8_t proto,
                                const char **nmap_name, uint32_t *rank)
{
    if (nmap_name)
        *nmap_name = "";
    if (rank)
        *rank = 0;
    size_t lo = 0, hi = ix->header->frequency_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct registry_index_frequency *f =
            index_item(ix, ix->header->off_frequencies, sizeof *f, mid);
        if (!f)
            return 0.0;
        if (f->port < port || (f->port == port && f->proto < proto))
            lo = mid + 1;
        else
            hi = mid;
    }
    const struct registry_index_frequency *found =
        lo < ix->header->frequency_count ? index_item(ix, ix->header->off_frequencies, sizeof *found, lo) : NULL;
    if (!found || found->port != port || found->proto != proto)
        return 0.0;
    if (nmap_name)
        *nmap_name = index_string(ix, found->name);
    if (rank)
        *rank = found->rank;
    return found->frequency;
}

bool registry_index_top_port(const struct registry_index *ix, uint8_t proto, uint32_t n,
                             uint16_t *port)
{
    for (uint32_t i = 0; i < ix->header->frequency_count; i++) {
        const uint32_t *k = index_item(ix, ix->header->off_frequency_rank, sizeof *k, i);
        if (!k || *k >= ix->header->frequency_count)
            return false;
        const struct registry_index_frequency *f =
            index_item(ix, ix->header->off_frequencies, sizeof *f, *k);
        if (!f)
            return false;
        if (!(f->frequency > 0))
            return false;   /* the rest are ports nmap never found open */
        if (f->proto != proto)
            continue;
        if (n-- == 0) {
            *port = f->port;
            return true;
        }
    }
    return false;
}

uint32_t registry_index_source_count(const struct registry_index *ix) { return ix->header->source_count; }

bool registry_index_source(const struct registry_index *ix, uint32_t id,
                           struct registry_source_info *out)
{
    if (id >= ix->header->source_count)
        return false;
    const struct registry_index_source *s = &ix->sources[id];
    out->kind = (enum registry_source_kind)s->kind;
    out->role = (enum registry_source_role)s->role;
    out->path = index_string(ix, s->path);
    out->note = index_string(ix, s->note);
    out->newest_date = index_string(ix, s->newest_date);
    out->record_count = s->record_count;
    memcpy(out->per_proto, s->per_proto, sizeof out->per_proto);
    out->mtime_ns = s->mtime_ns;
    out->size = s->size;
    return true;
}

const char *registry_source_kind_name(enum registry_source_kind kind)
{
    switch (kind) {
    case REGISTRY_SOURCE_IANA_CSV: return "iana-csv";
    case REGISTRY_SOURCE_SERVICES: return "services";
    case REGISTRY_SOURCE_NMAP: return "nmap-services";
    }
    return "?";
}

const char *registry_source_role_name(enum registry_source_role role)
{
    switch (role) {
    case REGISTRY_ROLE_PRIMARY: return "primary";
    case REGISTRY_ROLE_MERGED: return "merged";
    case REGISTRY_ROLE_FREQUENCY: return "frequency";
    case REGISTRY_ROLE_SUPERSEDED: return "superseded";
    case REGISTRY_ROLE_ABSENT: return "absent";
    case REGISTRY_ROLE_FAILED: return "failed";
    }
    return "?";
}
