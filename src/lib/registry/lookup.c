/* lookup.c — query parsing and execution for `portreg lookup` (see lookup.h).
 * Ports go through the O(1) per-port table, names through the sorted name table, keyword
 * search is a linear scan (14k records; microseconds, so no inverted index is kept). */
#include "registry/lookup.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry/record.h"

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '+' || c == '*';
}

/* Resolver for names inside port specs: every port of every record with that name. */
struct name_resolve_ctx {
    const struct registry_index *ix;
    struct portspec *out;
    uint8_t proto;
    int error;
};

static void name_resolve_visit(void *ctx_ptr, uint32_t id)
{
    struct name_resolve_ctx *ctx = ctx_ptr;
    struct registry_record rec;
    if (ctx->error || !registry_index_record(ctx->ix, id, &rec) || !rec.has_port)
        return;
    if (ctx->proto != REGISTRY_PROTO_ANY && rec.proto != REGISTRY_PROTO_ANY && rec.proto != ctx->proto)
        return;
    uint8_t proto = ctx->proto != REGISTRY_PROTO_ANY ? ctx->proto : rec.proto;
    ctx->error = portspec_add(ctx->out, rec.port_first, rec.port_last, proto);
}

static int resolve_name_through_index(void *ix_ptr, const char *name, size_t len, uint8_t proto,
                                      struct portspec *out)
{
    char buf[256];
    if (len >= sizeof buf)
        return -ENOENT;
    memcpy(buf, name, len);
    buf[len] = '\0';
    size_t before = out->count;
    struct name_resolve_ctx ctx = { ix_ptr, out, proto, 0 };
    registry_index_find_name(ix_ptr, buf, name_resolve_visit, &ctx);
    if (ctx.error)
        return ctx.error;
    return out->count > before ? 0 : -ENOENT;
}

int lookup_query_parse(const struct registry_index *ix, const char *text, uint8_t proto_filter,
                       struct lookup_query *query, struct pr_error *err)
{
    memset(query, 0, sizeof *query);
    query->text = text;
    query->proto = proto_filter;
    size_t len = strlen(text);
    if (len == 0)
        return pr_error_set(err, -EINVAL, "empty query: give a port, range or service name");

    /* a bare name, optionally "/proto": a name lookup */
    size_t name_len = 0;
    if (isalpha((unsigned char)text[0]))
        while (name_len < len && is_name_char(text[name_len]))
            name_len++;
    if (name_len > 0 && (name_len == len || text[name_len] == '/')) {
        if (name_len >= sizeof query->name)
            return pr_error_set_at(err, -EINVAL, 1, 1, "service name is too long");
        if (name_len < len) {
            const char *proto = text + name_len + 1;
            int p = registry_proto_parse(proto, strlen(proto));
            if (p < 0)
                return pr_error_set_at(err, -EINVAL, 1, (unsigned)name_len + 2,
                                       "unknown protocol \"%s\" (tcp, udp, sctp or dccp)", proto);
            query->proto = (uint8_t)p;
        }
        memcpy(query->name, text, name_len);
        query->name[name_len] = '\0';
        query->kind = LOOKUP_KIND_NAME;
        return 0;
    }

    query->kind = LOOKUP_KIND_PORTS;
    int r = portspec_parse(text, resolve_name_through_index, (void *)ix, &query->spec, err);
    if (r < 0)
        return r;
    if (proto_filter != REGISTRY_PROTO_ANY)
        for (size_t i = 0; i < query->spec.count; i++)
            if (query->spec.ranges[i].proto == REGISTRY_PROTO_ANY)
                query->spec.ranges[i].proto = proto_filter;
    query->single_port = query->spec.count == 1 &&
                         query->spec.ranges[0].first == query->spec.ranges[0].last;
    return 0;
}

int lookup_query_search(const char *words, uint8_t proto_filter, struct lookup_query *query,
                        struct pr_error *err)
{
    memset(query, 0, sizeof *query);
    query->text = words;
    query->proto = proto_filter;
    query->kind = LOOKUP_KIND_SEARCH;
    const char *p = words;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return pr_error_set(err, -EINVAL, "empty search: give one or more words");
    return 0;
}

void lookup_query_free(struct lookup_query *query)
{
    portspec_free(&query->spec);
}

static int result_push(struct lookup_result *res, uint32_t id)
{
    if (res->count == res->capacity) {
        size_t capacity = res->capacity ? res->capacity * 2 : 64;
        uint32_t *records = realloc(res->records, capacity * sizeof *records);
        if (!records)
            return -ENOMEM;
        res->records = records;
        res->capacity = capacity;
    }
    res->records[res->count++] = id;
    return 0;
}

static bool proto_matches(uint8_t wanted, uint8_t record_proto)
{
    return wanted == REGISTRY_PROTO_ANY || record_proto == REGISTRY_PROTO_ANY ||
           wanted == record_proto;
}

/* Does every whitespace-separated word of 'words' occur in one of the record's texts? */
static bool record_matches_words(const struct registry_record *rec, const char *words)
{
    const char *p = words;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return true;
        const char *end = p;
        while (*end && *end != ' ' && *end != '\t')
            end++;
        char word[128];
        size_t len = (size_t)(end - p) < sizeof word - 1 ? (size_t)(end - p) : sizeof word - 1;
        memcpy(word, p, len);
        word[len] = '\0';
        if (!strcasestr(rec->service, word) && !strcasestr(rec->description, word) &&
            !strcasestr(rec->aliases, word) && !strcasestr(rec->assignment_notes, word))
            return false;
        p = end;
    }
}

struct name_collect_ctx {
    const struct registry_index *ix;
    struct lookup_result *res;
    uint8_t proto;
    int error;
};

static void name_collect_visit(void *ctx_ptr, uint32_t id)
{
    struct name_collect_ctx *ctx = ctx_ptr;
    struct registry_record rec;
    if (ctx->error || !registry_index_record(ctx->ix, id, &rec))
        return;
    for (size_t i = 0; i < ctx->res->count; i++)
        if (ctx->res->records[i] == id)
            return;   /* a name and its alias on one record */
    if (proto_matches(ctx->proto, rec.proto))
        ctx->error = result_push(ctx->res, id);
}


static int compare_by_port(const void *a, const void *b, void *ix_ptr)
{
    const struct registry_index *ix = ix_ptr;
    struct registry_record x, y;
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    registry_index_record(ix, ia, &x);
    registry_index_record(ix, ib, &y);
    if (x.has_port != y.has_port)
        return x.has_port ? -1 : 1;
    if (x.port_first != y.port_first)
        return x.port_first < y.port_first ? -1 : 1;
    unsigned px = x.proto == REGISTRY_PROTO_ANY ? 9u : x.proto;
    unsigned py = y.proto == REGISTRY_PROTO_ANY ? 9u : y.proto;
    if (px != py)
        return px < py ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

int lookup_run(const struct registry_index *ix, const struct lookup_query *query,
               struct lookup_result *res)
{
    memset(res, 0, sizeof *res);
    int r = 0;
    uint32_t record_count = registry_index_record_count(ix);
    if (query->kind == LOOKUP_KIND_NAME) {
        struct name_collect_ctx ctx = { ix, res, query->proto, 0 };
        registry_index_find_name(ix, query->name, name_collect_visit, &ctx);
        r = ctx.error;
    } else if (query->kind == LOOKUP_KIND_SEARCH) {
        for (uint32_t id = 0; id < record_count && r == 0; id++) {
            struct registry_record rec;
            registry_index_record(ix, id, &rec);
            if (proto_matches(query->proto, rec.proto) && record_matches_words(&rec, query->text))
                r = result_push(res, id);
        }
    } else {
        /* a record can cover many ports of a range: a bitmap of seen ids removes repeats */
        uint64_t *seen = calloc(record_count / 64 + 1, sizeof *seen);
        if (!seen)
            return -ENOMEM;
        for (size_t i = 0; i < query->spec.count && r == 0; i++) {
            const struct portspec_range *range = &query->spec.ranges[i];
            for (uint32_t port = range->first; port <= range->last && r == 0; port++) {
                size_t n;
                const uint32_t *ids = registry_index_port_records(ix, (uint16_t)port, &n);
                for (size_t k = 0; k < n && r == 0; k++) {
                    struct registry_record rec;
                    uint32_t id = ids[k];
                    if ((seen[id / 64] >> (id % 64)) & 1u)
                        continue;
                    registry_index_record(ix, id, &rec);
                    if (!proto_matches(range->proto, rec.proto))
                        continue;
                    seen[id / 64] |= UINT64_C(1) << (id % 64);
                    r = result_push(res, id);
                }
            }
        }
        free(seen);
    }
    if (r < 0) {
        lookup_result_free(res);
        return r;
    }
    if (res->count > 1 && (query->kind != LOOKUP_KIND_PORTS || query->spec.count > 1))
        qsort_r(res->records, res->count, sizeof *res->records, compare_by_port, (void *)ix);
    for (size_t i = 0; i < res->count && !res->found; i++) {
        struct registry_record rec;
        registry_index_record(ix, res->records[i], &rec);
        res->found = rec.status == REGISTRY_STATUS_ASSIGNED;
    }
    return 0;
}

void lookup_result_free(struct lookup_result *res)
{
    free(res->records);
    memset(res, 0, sizeof *res);
}
