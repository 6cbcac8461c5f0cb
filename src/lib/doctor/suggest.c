/* suggest.c — the port suggestion search and the exclude-file parser (see suggest.h).
 * Relies on XXH3 (libxxhash) for the name hash, the registry index for IANA assignments,
 * port_set bitmaps for sockets and reserved ports, and portspec_parse for exclude lines.
 * Everything here is pure: inputs in, result out; file I/O stays in the CLI. */
#include "doctor/suggest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxh_x86dispatch.h>

#include "registry/record.h"
#include "util/text_scan.h"

#define SUGGEST_NAME_MAX 1024u   /* longer names are hashed on their first 1024 bytes */

uint16_t suggest_start_port(const char *name, uint16_t first, uint16_t last,
                            const struct local_port_range *avoid)
{
    if (!name || !name[0] || first >= last)
        return first;
    char folded[SUGGEST_NAME_MAX];
    size_t len = strnlen(name, sizeof folded);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        folded[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    uint64_t hash = XXH3_64bits(folded, len);

    /* the candidates: [first, last] without the overlap with avoid (lo..hi) */
    uint32_t size = (uint32_t)last - first + 1u;
    uint32_t lo = 0, hi = 0, hole = 0;
    if (avoid && avoid->first <= last && avoid->last >= first) {
        lo = avoid->first > first ? avoid->first : first;
        hi = avoid->last < last ? avoid->last : last;
        hole = hi - lo + 1u;
        if (hole == size)
            hole = 0;   /* everything is avoided: count the whole range */
    }
    uint32_t pick = (uint32_t)(hash % (size - hole));
    uint32_t port = first + pick;
    if (hole && port >= lo)
        port += hole;
    return (uint16_t)port;
}

const char *suggest_skip_reason_name(enum suggest_skip_reason reason)
{
    switch (reason) {
    case SUGGEST_SKIP_EXCLUDED: return "excluded";
    case SUGGEST_SKIP_EPHEMERAL: return "ephemeral";
    case SUGGEST_SKIP_RESERVED: return "reserved";
    case SUGGEST_SKIP_ASSIGNED: return "assigned";
    case SUGGEST_SKIP_IN_USE: return "in-use";
    case SUGGEST_SKIP_UNAUTHORIZED: return "unauthorized-use";
    }
    return "?";
}

/* Per protocol bit, the ports some socket holds, and for each the first socket's index. */
struct suggest_socket_map {
    struct port_set held[2];          /* [0] tcp, [1] udp */
};

static uint8_t suggest_proto_of_bit(unsigned bit)
{
    return bit == 0 ? REGISTRY_PROTO_TCP : REGISTRY_PROTO_UDP;
}

static void suggest_socket_map_build(const struct socket_list *sockets, unsigned protos,
                                     struct suggest_socket_map *map)
{
    port_set_clear(&map->held[0]);
    port_set_clear(&map->held[1]);
    if (!sockets)
        return;
    for (size_t i = 0; i < sockets->count; i++) {
        const struct socket_entry *s = &sockets->items[i];
        if (s->proto == REGISTRY_PROTO_TCP && (protos & SUGGEST_PROTO_TCP))
            port_set_add(&map->held[0], s->local_port);
        else if (s->proto == REGISTRY_PROTO_UDP && (protos & SUGGEST_PROTO_UDP))
            port_set_add(&map->held[1], s->local_port);
    }
}

/* The first socket of a wanted protocol on port (only called for ports known to be held). */
static size_t suggest_find_socket(const struct socket_list *sockets, unsigned protos,
                                  uint16_t port)
{
    for (size_t i = 0; i < sockets->count; i++) {
        const struct socket_entry *s = &sockets->items[i];
        if (s->local_port != port)
            continue;
        if ((s->proto == REGISTRY_PROTO_TCP && (protos & SUGGEST_PROTO_TCP)) ||
            (s->proto == REGISTRY_PROTO_UDP && (protos & SUGGEST_PROTO_UDP)))
            return i;
    }
    return 0;
}

/* An IANA record that rules port out for one of protos: assigned or IANA-reserved, for that
 * protocol or for every protocol. Returns true and sets *record and *proto. */
static bool suggest_find_assignment(const struct registry_index *ix, unsigned protos,
                                    uint16_t port, uint32_t *record, uint8_t *proto)
{
    size_t count = 0;
    const uint32_t *ids = registry_index_port_records(ix, port, &count);
    for (size_t i = 0; i < count; i++) {
        struct registry_record rec;
        if (!registry_index_record(ix, ids[i], &rec) || !rec.has_port)
            continue;
        if (rec.status != REGISTRY_STATUS_ASSIGNED && rec.status != REGISTRY_STATUS_RESERVED)
            continue;
        bool wanted = rec.proto == REGISTRY_PROTO_ANY ||
                      (rec.proto == REGISTRY_PROTO_TCP && (protos & SUGGEST_PROTO_TCP)) ||
                      (rec.proto == REGISTRY_PROTO_UDP && (protos & SUGGEST_PROTO_UDP));
        if (wanted) {
            *record = ids[i];
            *proto = rec.proto;
            return true;
        }
    }
    return false;
}

/* A record on port, of a wanted protocol or of every protocol, whose "Unauthorized Use
 * Reported" column is filled (IANA's 2194-2196 block is Unassigned with "Unauthorized Use
 * Known on ports 2194-2196": software squats there). */
static bool suggest_find_unauthorized(const struct registry_index *ix, unsigned protos,
                                      uint16_t port, uint32_t *record, uint8_t *proto)
{
    size_t count = 0;
    const uint32_t *ids = registry_index_port_records(ix, port, &count);
    for (size_t i = 0; i < count; i++) {
        struct registry_record rec;
        if (!registry_index_record(ix, ids[i], &rec) || !rec.has_port || !rec.unauthorized_use[0])
            continue;
        bool wanted = rec.proto == REGISTRY_PROTO_ANY ||
                      (rec.proto == REGISTRY_PROTO_TCP && (protos & SUGGEST_PROTO_TCP)) ||
                      (rec.proto == REGISTRY_PROTO_UDP && (protos & SUGGEST_PROTO_UDP));
        if (wanted) {
            *record = ids[i];
            *proto = rec.proto;
            return true;
        }
    }
    return false;
}

static bool suggest_is_excluded(const struct portspec *exclude, unsigned protos, uint16_t port)
{
    if (!exclude)
        return false;
    if ((protos & SUGGEST_PROTO_TCP) && portspec_contains(exclude, port, REGISTRY_PROTO_TCP))
        return true;
    return (protos & SUGGEST_PROTO_UDP) && portspec_contains(exclude, port, REGISTRY_PROTO_UDP);
}

/* Append a skipped candidate, extending the last run when it continues it. */
static int suggest_note_skip(struct suggest_result *result, const struct suggest_skip_run *skip)
{
    if (result->skipped_count) {
        struct suggest_skip_run *last = &result->skipped[result->skipped_count - 1];
        bool by_record = skip->reason == SUGGEST_SKIP_ASSIGNED ||
                         skip->reason == SUGGEST_SKIP_UNAUTHORIZED;
        bool same_detail = skip->reason != SUGGEST_SKIP_IN_USE &&
                           (!by_record || skip->record == last->record);
        if (last->reason == skip->reason && same_detail && last->last != UINT16_MAX &&
            (uint16_t)(last->last + 1) == skip->first) {
            last->last = skip->first;
            return 0;
        }
    }
    if (result->skipped_count == result->skipped_capacity) {
        size_t capacity = result->skipped_capacity ? result->skipped_capacity * 2 : 16;
        struct suggest_skip_run *grown = realloc(result->skipped, capacity * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        result->skipped = grown;
        result->skipped_capacity = capacity;
    }
    result->skipped[result->skipped_count++] = *skip;
    return 0;
}

/* Why port cannot be suggested; false when it can. */
static bool suggest_reject(const struct suggest_policy *policy,
                           const struct suggest_socket_map *map, uint16_t port,
                           struct suggest_skip_run *skip)
{
    *skip = (struct suggest_skip_run){ .first = port, .last = port };
    const struct local_ports *host = policy->host;
    if (suggest_is_excluded(policy->exclude, policy->protos, port)) {
        skip->reason = SUGGEST_SKIP_EXCLUDED;
        return true;
    }
    if (host && host->have_ephemeral && local_ports_is_ephemeral(host, port)) {
        skip->reason = SUGGEST_SKIP_EPHEMERAL;
        return true;
    }
    if (host && host->have_reserved && local_ports_is_reserved(host, port)) {
        skip->reason = SUGGEST_SKIP_RESERVED;
        return true;
    }
    if (policy->registry && !policy->allow_assigned &&
        suggest_find_assignment(policy->registry, policy->protos, port, &skip->record,
                                &skip->proto)) {
        skip->reason = SUGGEST_SKIP_ASSIGNED;
        return true;
    }
    if (policy->registry &&
        suggest_find_unauthorized(policy->registry, policy->protos, port, &skip->record,
                                  &skip->proto)) {
        skip->reason = SUGGEST_SKIP_UNAUTHORIZED;
        return true;
    }
    for (unsigned bit = 0; bit < 2; bit++) {
        if ((policy->protos & (1u << bit)) && port_set_has(&map->held[bit], port)) {
            skip->reason = SUGGEST_SKIP_IN_USE;
            skip->proto = suggest_proto_of_bit(bit);
            skip->socket = suggest_find_socket(policy->sockets, 1u << bit, port);
            return true;
        }
    }
    return false;
}

int suggest_run(const struct suggest_policy *policy, struct suggest_result *result,
                struct pr_error *err)
{
    memset(result, 0, sizeof *result);
    if (policy->range_first == 0 || policy->range_first > policy->range_last)
        return pr_error_set(err, -EINVAL, "range %u-%u: give A-B with 1 <= A <= B <= 65535",
                            (unsigned)policy->range_first, (unsigned)policy->range_last);
    if (policy->count == 0 || policy->count > 65535u)
        return pr_error_set(err, -EINVAL, "count %u: give 1 to 65535", policy->count);
    if ((policy->protos & SUGGEST_PROTO_BOTH) == 0 || (policy->protos & ~SUGGEST_PROTO_BOTH))
        return pr_error_set(err, -EINVAL, "protocol must be tcp, udp or both");

    struct suggest_socket_map *map = malloc(sizeof *map);
    uint32_t size = (uint32_t)policy->range_last - policy->range_first + 1u;
    unsigned wanted = policy->count < size ? policy->count : size;
    result->ports = malloc(wanted * sizeof *result->ports);
    if (!map || !result->ports) {
        free(map);
        suggest_result_free(result);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    suggest_socket_map_build(policy->sockets, policy->protos, map);
    const struct local_ports *host = policy->host;
    result->start = suggest_start_port(policy->name, policy->range_first, policy->range_last,
                                       host && host->have_ephemeral ? &host->ephemeral : NULL);

    uint32_t offset = (uint32_t)result->start - policy->range_first;
    for (uint32_t step = 0; step < size && result->count < wanted; step++) {
        uint16_t port = (uint16_t)(policy->range_first + (offset + step) % size);
        result->examined++;
        struct suggest_skip_run skip;
        if (!suggest_reject(policy, map, port, &skip)) {
            result->ports[result->count++] = port;
            continue;
        }
        if (suggest_note_skip(result, &skip) < 0) {
            free(map);
            suggest_result_free(result);
            return pr_error_set(err, -ENOMEM, "out of memory");
        }
    }
    free(map);
    return 0;
}

void suggest_result_free(struct suggest_result *result)
{
    free(result->ports);
    free(result->skipped);
    memset(result, 0, sizeof *result);
}

int suggest_exclude_parse(const char *text, size_t len, struct portspec *out,
                          struct pr_error *err)
{
    struct text_line_reader reader;
    int r = text_line_reader_open_text(&reader, text, len, err);
    if (r < 0)
        return r;
    struct portspec parsed = { 0 };   /* built aside: an error appends nothing to out */
    struct text_line line;
    char item[256];
    while (text_line_reader_next(&reader, &line)) {
        struct text_token comment;
        const char *content_end = text_cut_comment(line.start, line.end, &comment);
        struct text_token_reader tokens;
        text_token_reader_init(&tokens, line.start, content_end);
        struct text_token token;
        while (text_token_reader_next(&tokens, &token)) {
            if (token.len >= sizeof item) {
                char excerpt[TEXT_EXCERPT_SIZE];
                r = text_error_at(err, &line, token.start, "port spec \"%s\" is too long",
                                  text_excerpt(token.start, token.len, excerpt));
                goto fail;
            }
            memcpy(item, token.start, token.len);
            item[token.len] = '\0';
            struct pr_error item_err;
            pr_error_clear(&item_err);
            r = portspec_parse(item, NULL, NULL, &parsed, &item_err);
            if (r < 0) {
                unsigned column = item_err.column ? item_err.column : 1;
                const char *at = token.start + (column - 1 < token.len ? column - 1 : token.len);
                r = text_error_at(err, &line, at, "%s", item_err.message);
                goto fail;
            }
        }
    }
    size_t old_count = out->count;
    for (size_t i = 0; i < parsed.count; i++) {
        const struct portspec_range *range = &parsed.ranges[i];
        if ((r = portspec_add(out, range->first, range->last, range->proto)) < 0) {
            out->count = old_count;
            pr_error_set(err, r, "out of memory");
            goto fail;
        }
    }
    portspec_free(&parsed);
    return 0;
fail:
    portspec_free(&parsed);
    return r;
}
