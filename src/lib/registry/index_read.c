/* index_read.c — open and query a compiled registry index image (index_format.h).
 * Opening checks magic, format version, byte order, size, section bounds and the XXH3
 * checksum; queries bounds-check every offset, so a damaged image can never be read past. */
#include "registry/index.h"
#include "registry/index_format.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

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
    bool owns_image, image_mapped;
};

static bool section_fits(size_t image_size, uint32_t offset, uint64_t count, size_t item_size)
{
    if (offset % 8 != 0 || offset < sizeof(struct registry_index_header))
        return false;
    uint64_t bytes = count * item_size;
    return offset <= image_size && bytes <= image_size - offset;
}

int registry_index_open(const void *data, size_t size, struct registry_index **out,
                        struct pr_error *err)
{
    *out = NULL;
    const struct registry_index_header *h = data;
    if (size < sizeof *h || memcmp(h->magic, REGISTRY_INDEX_MAGIC, 8) != 0)
        return pr_error_set(err, -EINVAL, "not a portreg registry index (bad magic)");
    if (h->byte_order != REGISTRY_INDEX_BYTE_ORDER)
        return pr_error_set(err, -EINVAL, "registry index was written on a machine of another byte order");
    if (h->format_version != REGISTRY_INDEX_FORMAT_VERSION)
        return pr_error_set(err, -EINVAL,
                            "registry index has format version %u, this portreg reads version %u",
                            h->format_version, REGISTRY_INDEX_FORMAT_VERSION);
    if (h->file_size != size)
        return pr_error_set(err, -EINVAL, "registry index is truncated or padded (%zu bytes, header says %llu)",
                            size, (unsigned long long)h->file_size);
    if (!section_fits(size, h->off_sources, h->source_count, sizeof(struct registry_index_source)) ||
        !section_fits(size, h->off_records, h->record_count, sizeof(struct registry_index_record)) ||
        !section_fits(size, h->off_port_starts, 65537, sizeof(uint32_t)) ||
        !section_fits(size, h->off_port_entries, h->port_entry_count, sizeof(uint32_t)) ||
        !section_fits(size, h->off_names, h->name_entry_count, sizeof(struct registry_index_name)) ||
        !section_fits(size, h->off_frequencies, h->frequency_count, sizeof(struct registry_index_frequency)) ||
        !section_fits(size, h->off_frequency_rank, h->frequency_count, sizeof(uint32_t)) ||
        !section_fits(size, h->off_strings, h->string_bytes, 1) || h->string_bytes == 0)
        return pr_error_set(err, -EINVAL, "registry index is corrupted (a section lies outside the file)");
    const unsigned char *base = data;
    if (XXH3_64bits(base + sizeof *h, size - sizeof *h) != h->checksum)
        return pr_error_set(err, -EINVAL, "registry index is corrupted (checksum mismatch)");
    const char *strings = (const char *)base + h->off_strings;
    if (strings[h->string_bytes - 1] != '\0' || strings[0] != '\0')
        return pr_error_set(err, -EINVAL, "registry index is corrupted (string table)");
    const uint32_t *starts = (const uint32_t *)(base + h->off_port_starts);
    if (starts[65536] != h->port_entry_count)
        return pr_error_set(err, -EINVAL, "registry index is corrupted (port table)");

    struct registry_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return pr_error_set(err, -ENOMEM, "out of memory");
    ix->base = base;
    ix->size = size;
    ix->header = h;
    ix->sources = (const void *)(base + h->off_sources);
    ix->records = (const void *)(base + h->off_records);
    ix->port_starts = starts;
    ix->port_entries = (const void *)(base + h->off_port_entries);
    ix->names = (const void *)(base + h->off_names);
    ix->frequencies = (const void *)(base + h->off_frequencies);
    ix->frequency_rank = (const void *)(base + h->off_frequency_rank);
    ix->strings = strings;
    *out = ix;
    return 0;
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
    free(ix);
}

static const char *index_string(const struct registry_index *ix, uint32_t offset)
{
    return offset < ix->header->string_bytes ? ix->strings + offset : "";
}

int64_t registry_index_built_at(const struct registry_index *ix) { return ix->header->built_at; }
size_t registry_index_image_size(const struct registry_index *ix) { return ix->size; }
uint32_t registry_index_record_count(const struct registry_index *ix) { return ix->header->record_count; }

bool registry_index_record(const struct registry_index *ix, uint32_t id, struct registry_record *out)
{
    if (id >= ix->header->record_count)
        return false;
    const struct registry_index_record *r = &ix->records[id];
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
    return id < ix->header->record_count ? ix->records[id].source : 0;
}

const uint32_t *registry_index_port_records(const struct registry_index *ix, uint16_t port,
                                            size_t *count)
{
    uint32_t first = ix->port_starts[port], last = ix->port_starts[port + 1];
    if (first > last || last > ix->header->port_entry_count) {
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
        if (strcasecmp(index_string(ix, ix->names[mid].name), name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t matches = 0;
    for (size_t i = lo; i < ix->header->name_entry_count; i++) {
        if (strcasecmp(index_string(ix, ix->names[i].name), name) != 0)
            break;
        if (ix->names[i].record < ix->header->record_count) {
            if (visit)
                visit(ctx, ix->names[i].record);
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
        const struct registry_index_frequency *f = &ix->frequencies[mid];
        if (f->port < port || (f->port == port && f->proto < proto))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == ix->header->frequency_count || ix->frequencies[lo].port != port ||
        ix->frequencies[lo].proto != proto)
        return 0.0;
    const struct registry_index_frequency *found = &ix->frequencies[lo];
    if (nmap_name)
        *nmap_name = index_string(ix, found->name);
    if (rank) {
        uint32_t position = 0;
        for (uint32_t i = 0; i < ix->header->frequency_count; i++) {
            uint32_t k = ix->frequency_rank[i];
            if (k >= ix->header->frequency_count || ix->frequencies[k].proto != proto)
                continue;
            position++;
            if (k == lo) {
                *rank = position;
                break;
            }
        }
    }
    return found->frequency;
}

bool registry_index_top_port(const struct registry_index *ix, uint8_t proto, uint32_t n,
                             uint16_t *port)
{
    for (uint32_t i = 0; i < ix->header->frequency_count; i++) {
        uint32_t k = ix->frequency_rank[i];
        if (k >= ix->header->frequency_count || ix->frequencies[k].proto != proto)
            continue;
        if (n-- == 0) {
            *port = ix->frequencies[k].port;
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
