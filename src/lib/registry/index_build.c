/* index_build.c — compile parsed registry sources into one index image (index_format.h).
 * Steps: merge records (primary, then host services merged in), intern strings, build the
 * per-port table (counting sort), the sorted name table and the open-frequency tables, and
 * checksum the result. The string interning table is a small open-addressing hash written
 * here: no Debian C library offers one without pulling in a framework such as GLib. */
#include "registry/index.h"
#include "registry/index_format.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxh_x86dispatch.h>   /* XXH3_64bits with AVX2 when the CPU has it */

struct string_pool {
    char *data;
    size_t size, capacity;
    uint32_t *slots;          /* offset+1 of an interned string, 0 = empty */
    size_t slot_count;        /* power of two */
    size_t interned;
};

static int string_pool_init(struct string_pool *pool)
{
    memset(pool, 0, sizeof *pool);
    pool->capacity = 1u << 20;
    pool->data = malloc(pool->capacity);
    pool->slot_count = 1u << 16;
    pool->slots = calloc(pool->slot_count, sizeof *pool->slots);
    if (!pool->data || !pool->slots)
        return -ENOMEM;
    pool->data[0] = '\0';
    pool->size = 1;           /* offset 0 is "" */
    return 0;
}

static void string_pool_free(struct string_pool *pool)
{
    free(pool->data);
    free(pool->slots);
}

static int string_pool_grow_slots(struct string_pool *pool)
{
    size_t count = pool->slot_count * 2;
    uint32_t *slots = calloc(count, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < pool->slot_count; i++) {
        uint32_t stored = pool->slots[i];
        if (!stored)
            continue;
        const char *s = pool->data + stored - 1;
        size_t h = (size_t)XXH3_64bits(s, strlen(s)) & (count - 1);
        while (slots[h])
            h = (h + 1) & (count - 1);
        slots[h] = stored;
    }
    free(pool->slots);
    pool->slots = slots;
    pool->slot_count = count;
    return 0;
}

/* Intern text; *offset gets its offset in the string section. */
static int string_pool_intern(struct string_pool *pool, const char *text, uint32_t *offset)
{
    size_t len = strlen(text);
    if (len == 0) {
        *offset = 0;
        return 0;
    }
    if ((pool->interned + 1) * 2 > pool->slot_count && string_pool_grow_slots(pool) < 0)
        return -ENOMEM;
    size_t h = (size_t)XXH3_64bits(text, len) & (pool->slot_count - 1);
    while (pool->slots[h]) {
        const char *s = pool->data + pool->slots[h] - 1;
        if (strcmp(s, text) == 0) {
            *offset = pool->slots[h] - 1;
            return 0;
        }
        h = (h + 1) & (pool->slot_count - 1);
    }
    if (pool->size + len + 1 > pool->capacity) {
        size_t capacity = pool->capacity;
        while (pool->size + len + 1 > capacity)
            capacity *= 2;
        if (capacity > UINT32_MAX)
            return -E2BIG;
        char *data = realloc(pool->data, capacity);
        if (!data)
            return -ENOMEM;
        pool->data = data;
        pool->capacity = capacity;
    }
    memcpy(pool->data + pool->size, text, len + 1);
    *offset = (uint32_t)pool->size;
    pool->slots[h] = (uint32_t)pool->size + 1;
    pool->size += len + 1;
    pool->interned++;
    return 0;
}

/* A record chosen for the index, with where it came from and aliases merged in. */
struct merged_record {
    const struct registry_record *rec;
    uint32_t source;
    char *extra_aliases;      /* malloc'd, aliases from merged sources; NULL when none */
};

struct merged_list {
    struct merged_record *items;
    size_t count, capacity;
};

static int merged_list_push(struct merged_list *list, const struct registry_record *rec,
                            uint32_t source)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 4096;
        struct merged_record *items = realloc(list->items, capacity * sizeof *items);
        if (!items)
            return -ENOMEM;
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = (struct merged_record){ rec, source, NULL };
    return 0;
}

static void merged_list_free(struct merged_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].extra_aliases);
    free(list->items);
}

static bool alias_list_contains(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = list; *p;) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        if ((size_t)(end - p) == len && strncasecmp(p, word, len) == 0)
            return true;
        p = end;
    }
    return false;
}

/* Add each alias of 'aliases' (and 'name' itself when different from the target's service)
 * to target->extra_aliases, skipping duplicates. */
static int merged_record_add_aliases(struct merged_record *target, const char *name,
                                     const char *aliases)
{
    const char *words[64];
    size_t word_count = 0;
    if (strcasecmp(name, target->rec->service) != 0)
        words[word_count++] = name;
    char *copy = strdup(aliases);
    if (!copy)
        return -ENOMEM;
    for (char *save = NULL, *w = strtok_r(copy, " ", &save); w && word_count < 64;
         w = strtok_r(NULL, " ", &save))
        words[word_count++] = w;
    int r = 0;
    for (size_t i = 0; i < word_count; i++) {
        const char *w = words[i];
        if (strcasecmp(w, target->rec->service) == 0 || alias_list_contains(target->rec->aliases, w) ||
            (target->extra_aliases && alias_list_contains(target->extra_aliases, w)))
            continue;
        size_t old = target->extra_aliases ? strlen(target->extra_aliases) : 0;
        char *grown = realloc(target->extra_aliases, old + strlen(w) + 2);
        if (!grown) {
            r = -ENOMEM;
            break;
        }
        if (old)
            grown[old++] = ' ';
        strcpy(grown + old, w);
        target->extra_aliases = grown;
    }
    free(copy);
    return r;
}

/* Index of primary records by (port, proto) for merging: a sorted array of positions. */
static int compare_merged_by_port(const void *a, const void *b, void *ctx)
{
    const struct merged_list *list = ctx;
    const struct registry_record *x = list->items[*(const uint32_t *)a].rec;
    const struct registry_record *y = list->items[*(const uint32_t *)b].rec;
    if (x->port_first != y->port_first)
        return x->port_first < y->port_first ? -1 : 1;
    if (x->proto != y->proto)
        return x->proto < y->proto ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Merge a host services file into the primary records. A host entry whose port and protocol
 * match a primary record of the same name (or whose name is one of its aliases) adds its
 * aliases there; an entry that names something new becomes a record of its own. */
static int merge_host_services(struct merged_list *list, size_t primary_count,
                               const struct registry_records *host, uint32_t source)
{
    uint32_t *by_port = malloc((primary_count ? primary_count : 1) * sizeof *by_port);
    if (!by_port)
        return -ENOMEM;
    for (uint32_t i = 0; i < primary_count; i++)
        by_port[i] = i;
    qsort_r(by_port, primary_count, sizeof *by_port, compare_merged_by_port, list);

    int r = 0;
    for (size_t h = 0; h < host->count && r == 0; h++) {
        const struct registry_record *rec = &host->items[h];
        /* binary search the first primary record at rec's port */
        size_t lo = 0, hi = primary_count;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            const struct registry_record *m = list->items[by_port[mid]].rec;
            if (m->port_first < rec->port_first ||
                (m->port_first == rec->port_first && m->proto < rec->proto))
                lo = mid + 1;
            else
                hi = mid;
        }
        struct merged_record *match = NULL;
        for (size_t i = lo; i < primary_count; i++) {
            struct merged_record *m = &list->items[by_port[i]];
            if (m->rec->port_first != rec->port_first || m->rec->proto != rec->proto)
                break;
            if (!m->rec->service[0])
                continue;
            if (strcasecmp(m->rec->service, rec->service) == 0 ||
                alias_list_contains(m->rec->aliases, rec->service) ||
                alias_list_contains(rec->aliases, m->rec->service)) {
                match = m;
                break;
            }
        }
        if (match)
            r = merged_record_add_aliases(match, rec->service, rec->aliases);
        else
            r = merged_list_push(list, rec, source);
    }
    free(by_port);
    return r;
}

struct build_state {
    struct string_pool pool;
    struct merged_list merged;
    struct registry_index_source *sources;
    struct registry_index_record *records;
    uint32_t *port_starts;
    uint32_t *port_entries;
    struct registry_index_name *names;
    size_t name_count;
    struct registry_index_frequency *frequencies;
    size_t frequency_count;
    uint32_t *frequency_rank;
};

static void build_state_free(struct build_state *st)
{
    string_pool_free(&st->pool);
    merged_list_free(&st->merged);
    free(st->sources);
    free(st->records);
    free(st->port_starts);
    free(st->port_entries);
    free(st->names);
    free(st->frequencies);
    free(st->frequency_rank);
}

static int compare_names(const void *a, const void *b, void *ctx)
{
    const char *strings = ctx;
    const struct registry_index_name *x = a, *y = b;
    int c = strcasecmp(strings + x->name, strings + y->name);
    if (c)
        return c;
    return x->record < y->record ? -1 : x->record > y->record;
}

static int compare_frequency_by_port(const void *a, const void *b)
{
    const struct registry_index_frequency *x = a, *y = b;
    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    if (x->proto != y->proto)
        return x->proto < y->proto ? -1 : 1;
    return 0;
}

static int compare_frequency_rank(const void *a, const void *b, void *ctx)
{
    const struct registry_index_frequency *f = ctx;
    const struct registry_index_frequency *x = &f[*(const uint32_t *)a];
    const struct registry_index_frequency *y = &f[*(const uint32_t *)b];
    if (x->frequency != y->frequency)
        return x->frequency > y->frequency ? -1 : 1;
    return compare_frequency_by_port(x, y);
}

/* Records at a port: by protocol (tcp, udp, sctp, dccp, then any), source, line. */
static int compare_port_entry(const void *a, const void *b, void *ctx)
{
    const struct registry_index_record *records = ctx;
    const struct registry_index_record *x = &records[*(const uint32_t *)a];
    const struct registry_index_record *y = &records[*(const uint32_t *)b];
    unsigned px = x->proto == REGISTRY_PROTO_ANY ? 9u : x->proto;
    unsigned py = y->proto == REGISTRY_PROTO_ANY ? 9u : y->proto;
    if (px != py)
        return px < py ? -1 : 1;
    if (x->source != y->source)
        return x->source < y->source ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static void newest_date_update(const char **newest, const char *date)
{
    if (date[0] && strcmp(date, *newest) > 0)
        *newest = date;
}

static int build_sources_and_merge(struct build_state *st, const struct registry_build_source *src,
                                   size_t n)
{
    st->sources = calloc(n ? n : 1, sizeof *st->sources);
    if (!st->sources)
        return -ENOMEM;
    size_t primary_count = 0;
    for (size_t i = 0; i < n; i++) {
        struct registry_index_source *out = &st->sources[i];
        out->kind = src[i].kind;
        out->role = src[i].role;
        out->mtime_ns = src[i].mtime_ns;
        out->size = src[i].size;
        const char *newest = "";
        if (src[i].records) {
            const struct registry_records *recs = src[i].records;
            out->record_count = (uint32_t)recs->count;
            for (size_t r = 0; r < recs->count; r++) {
                out->per_proto[recs->items[r].proto]++;
                newest_date_update(&newest, recs->items[r].registration_date);
                newest_date_update(&newest, recs->items[r].modification_date);
            }
        }
        if (string_pool_intern(&st->pool, src[i].path ? src[i].path : "", &out->path) < 0 ||
            string_pool_intern(&st->pool, src[i].note ? src[i].note : "", &out->note) < 0 ||
            string_pool_intern(&st->pool, newest, &out->newest_date) < 0)
            return -ENOMEM;
        if (src[i].role == REGISTRY_ROLE_PRIMARY && src[i].records) {
            for (size_t r = 0; r < src[i].records->count; r++)
                if (merged_list_push(&st->merged, &src[i].records->items[r], (uint32_t)i) < 0)
                    return -ENOMEM;
            primary_count = st->merged.count;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (src[i].role == REGISTRY_ROLE_MERGED && src[i].records) {
            int r = merge_host_services(&st->merged, primary_count, src[i].records, (uint32_t)i);
            if (r < 0)
                return r;
        }
    return 0;
}

static int build_records_and_names(struct build_state *st)
{
    size_t count = st->merged.count;
    st->records = calloc(count ? count : 1, sizeof *st->records);
    st->names = calloc(count * 4 + 1, sizeof *st->names);
    if (!st->records || !st->names)
        return -ENOMEM;
    size_t name_capacity = count * 4 + 1;
    for (size_t i = 0; i < count; i++) {
        const struct merged_record *m = &st->merged.items[i];
        const struct registry_record *rec = m->rec;
        struct registry_index_record *out = &st->records[i];
        const char *aliases = rec->aliases;
        char *joined = NULL;
        if (m->extra_aliases) {
            size_t len = strlen(rec->aliases) + strlen(m->extra_aliases) + 2;
            joined = malloc(len);
            if (!joined)
                return -ENOMEM;
            snprintf(joined, len, "%s%s%s", rec->aliases, rec->aliases[0] ? " " : "",
                     m->extra_aliases);
            aliases = joined;
        }
        const char *fields[REGISTRY_FIELD_COUNT] = {
            rec->service, rec->description, rec->assignee, rec->contact,
            rec->registration_date, rec->modification_date, rec->reference, rec->service_code,
            rec->unauthorized_use, rec->assignment_notes, aliases,
        };
        int r = 0;
        for (int f = 0; f < REGISTRY_FIELD_COUNT && r == 0; f++)
            r = string_pool_intern(&st->pool, fields[f], &out->field[f]);
        free(joined);
        if (r < 0)
            return r;
        out->line = rec->line;
        out->port_first = rec->port_first;
        out->port_last = rec->port_last;
        out->proto = rec->proto;
        out->status = rec->status;
        out->source = (uint8_t)m->source;
        out->has_port = rec->has_port;
    }
    /* names and aliases; offsets are stable, the pool data may still move */
    for (size_t i = 0; i < count; i++) {
        const struct registry_index_record *rec = &st->records[i];
        if (rec->field[REGISTRY_FIELD_SERVICE])
            st->names[st->name_count++] =
                (struct registry_index_name){ rec->field[REGISTRY_FIELD_SERVICE], (uint32_t)i };
        char *copy = strdup(st->pool.data + rec->field[REGISTRY_FIELD_ALIASES]);
        if (!copy)
            return -ENOMEM;
        int r = 0;
        for (char *save = NULL, *w = strtok_r(copy, " ", &save); w && r == 0;
             w = strtok_r(NULL, " ", &save)) {
            uint32_t off;
            r = string_pool_intern(&st->pool, w, &off);
            if (r == 0 && st->name_count == name_capacity) {
                name_capacity *= 2;
                struct registry_index_name *grown =
                    realloc(st->names, name_capacity * sizeof *grown);
                if (!grown)
                    r = -ENOMEM;
                else
                    st->names = grown;
            }
            if (r == 0)
                st->names[st->name_count++] = (struct registry_index_name){ off, (uint32_t)i };
        }
        free(copy);
        if (r < 0)
            return r;
    }
    qsort_r(st->names, st->name_count, sizeof *st->names, compare_names, st->pool.data);
    return 0;
}

static int build_port_table(struct build_state *st, size_t *entry_count)
{
    size_t count = st->merged.count;
    st->port_starts = calloc(65537, sizeof *st->port_starts);
    if (!st->port_starts)
        return -ENOMEM;
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++)
        if (st->records[i].has_port)
            total += (uint64_t)st->records[i].port_last - st->records[i].port_first + 1;
    if (total > UINT32_MAX / 4)
        return -E2BIG;
    /* counting sort: count per port, prefix sums, fill */
    for (size_t i = 0; i < count; i++)
        if (st->records[i].has_port)
            for (uint32_t p = st->records[i].port_first; p <= st->records[i].port_last; p++)
                st->port_starts[p + 1]++;
    for (uint32_t p = 1; p <= 65536; p++)
        st->port_starts[p] += st->port_starts[p - 1];
    st->port_entries = malloc((total ? total : 1) * sizeof *st->port_entries);
    uint32_t *fill = malloc(65536 * sizeof *fill);
    if (!st->port_entries || !fill) {
        free(fill);
        return -ENOMEM;
    }
    memcpy(fill, st->port_starts, 65536 * sizeof *fill);
    for (size_t i = 0; i < count; i++)
        if (st->records[i].has_port)
            for (uint32_t p = st->records[i].port_first; p <= st->records[i].port_last; p++)
                st->port_entries[fill[p]++] = (uint32_t)i;
    free(fill);
    for (uint32_t p = 0; p < 65536; p++) {
        uint32_t n = st->port_starts[p + 1] - st->port_starts[p];
        if (n > 1)
            qsort_r(st->port_entries + st->port_starts[p], n, sizeof(uint32_t),
                    compare_port_entry, st->records);
    }
    *entry_count = (size_t)total;
    return 0;
}

static int build_frequency_tables(struct build_state *st, const struct registry_build_source *src,
                                  size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (src[i].role == REGISTRY_ROLE_FREQUENCY && src[i].records)
            total += src[i].records->count;
    st->frequencies = calloc(total ? total : 1, sizeof *st->frequencies);
    st->frequency_rank = calloc(total ? total : 1, sizeof *st->frequency_rank);
    if (!st->frequencies || !st->frequency_rank)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (src[i].role != REGISTRY_ROLE_FREQUENCY || !src[i].records)
            continue;
        for (size_t r = 0; r < src[i].records->count; r++) {
            const struct registry_record *rec = &src[i].records->items[r];
            /* nmap lists most ports with frequency 0: they have no rank to give, but they have
             * nmap's name, which scan -oX writes as nmap does */
            if (!rec->has_port || rec->proto == REGISTRY_PROTO_ANY || !(rec->frequency >= 0))
                continue;
            struct registry_index_frequency *f = &st->frequencies[st->frequency_count++];
            f->port = rec->port_first;
            f->proto = rec->proto;
            f->frequency = (float)rec->frequency;
            if (string_pool_intern(&st->pool, rec->service, &f->name) < 0)
                return -ENOMEM;
        }
    }
    qsort(st->frequencies, st->frequency_count, sizeof *st->frequencies, compare_frequency_by_port);
    /* keep the first of duplicate (port, proto) pairs */
    size_t kept = 0;
    for (size_t i = 0; i < st->frequency_count; i++)
        if (kept == 0 || compare_frequency_by_port(&st->frequencies[kept - 1], &st->frequencies[i]))
            st->frequencies[kept++] = st->frequencies[i];
    st->frequency_count = kept;
    for (size_t i = 0; i < kept; i++)
        st->frequency_rank[i] = (uint32_t)i;
    qsort_r(st->frequency_rank, kept, sizeof(uint32_t), compare_frequency_rank, st->frequencies);
    uint32_t next_rank[REGISTRY_PROTO_COUNT] = { 0 };
    for (size_t i = 0; i < kept; i++) {
        struct registry_index_frequency *f = &st->frequencies[st->frequency_rank[i]];
        if (f->frequency > 0)
            f->rank = ++next_rank[f->proto < REGISTRY_PROTO_COUNT ? f->proto : 0];
    }
    return 0;
}

static size_t align8(size_t x) { return (x + 7u) & ~(size_t)7u; }

int registry_index_build(const struct registry_build_source *sources, size_t source_count,
                         int64_t built_at, void **out, size_t *out_size, struct pr_error *err)
{
    struct build_state st;
    memset(&st, 0, sizeof st);
    *out = NULL;
    *out_size = 0;
    size_t port_entry_count = 0;
    int r = string_pool_init(&st.pool);
    if (r == 0)
        r = build_sources_and_merge(&st, sources, source_count);
    if (r == 0)
        r = build_records_and_names(&st);
    if (r == 0)
        r = build_port_table(&st, &port_entry_count);
    if (r == 0)
        r = build_frequency_tables(&st, sources, source_count);
    if (r < 0) {
        build_state_free(&st);
        return pr_error_set(err, r, "cannot compile the registry index: %s", strerror(-r));
    }

    struct registry_index_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, REGISTRY_INDEX_MAGIC, 8);
    h.format_version = REGISTRY_INDEX_FORMAT_VERSION;
    h.byte_order = REGISTRY_INDEX_BYTE_ORDER;
    h.built_at = built_at;
    h.source_count = (uint32_t)source_count;
    h.record_count = (uint32_t)st.merged.count;
    h.port_entry_count = (uint32_t)port_entry_count;
    h.name_entry_count = (uint32_t)st.name_count;
    h.frequency_count = (uint32_t)st.frequency_count;
    h.string_bytes = (uint32_t)st.pool.size;

    size_t off = align8(sizeof h);
    struct { uint32_t *field; const void *data; size_t bytes; } sections[] = {
        { &h.off_sources, st.sources, source_count * sizeof *st.sources },
        { &h.off_records, st.records, st.merged.count * sizeof *st.records },
        { &h.off_port_starts, st.port_starts, 65537 * sizeof *st.port_starts },
        { &h.off_port_entries, st.port_entries, port_entry_count * sizeof *st.port_entries },
        { &h.off_names, st.names, st.name_count * sizeof *st.names },
        { &h.off_frequencies, st.frequencies, st.frequency_count * sizeof *st.frequencies },
        { &h.off_frequency_rank, st.frequency_rank, st.frequency_count * sizeof(uint32_t) },
        { &h.off_strings, st.pool.data, st.pool.size },
    };
    size_t section_count = sizeof sections / sizeof sections[0];
    for (size_t i = 0; i < section_count; i++) {
        *sections[i].field = (uint32_t)off;
        off = align8(off + sections[i].bytes);
    }
    /* the block checksum table follows the sections */
    size_t data_bytes = off - sizeof h;
    size_t block_count = (data_bytes + REGISTRY_INDEX_BLOCK_SIZE - 1) / REGISTRY_INDEX_BLOCK_SIZE;
    h.off_block_checksums = (uint32_t)off;
    h.block_count = (uint32_t)block_count;
    off += block_count * sizeof(uint64_t);
    if (off > UINT32_MAX) {
        build_state_free(&st);
        return pr_error_set(err, -E2BIG, "registry index would exceed 4 GiB");
    }
    unsigned char *image = calloc(1, off);
    if (!image) {
        build_state_free(&st);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < section_count; i++)
        if (sections[i].bytes)
            memcpy(image + *sections[i].field, sections[i].data, sections[i].bytes);
    uint64_t *block_sums = (uint64_t *)(image + h.off_block_checksums);
    for (size_t b = 0; b < block_count; b++) {
        size_t start = sizeof h + b * REGISTRY_INDEX_BLOCK_SIZE;
        size_t len = data_bytes - b * REGISTRY_INDEX_BLOCK_SIZE;
        if (len > REGISTRY_INDEX_BLOCK_SIZE)
            len = REGISTRY_INDEX_BLOCK_SIZE;
        block_sums[b] = XXH3_64bits(image + start, len);
    }
    h.file_size = off;
    h.checksum = XXH3_64bits(block_sums, block_count * sizeof(uint64_t));
    h.header_checksum = 0;
    h.header_checksum = XXH3_64bits(&h, sizeof h);
    memcpy(image, &h, sizeof h);
    build_state_free(&st);
    *out = image;
    *out_size = off;
    return 0;
}
