/* targets.c — the scan's target list (see targets.h). A hand-written parser for the numeric
 * forms (to point at the offending character; inet_pton checks IPv6 text), getaddrinfo for host
 * names, and ranges kept as (family, first, last) with 128-bit arithmetic (unsigned __int128,
 * a GCC/Clang extension) for IPv6. finish() sorts, merges and subtracts with two-pointer sweeps;
 * get() and find() are binary searches over the merged ranges. */
#include "scan/targets.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/file_io.h"
#include "util/text_scan.h"

typedef unsigned __int128 u128;

/* ---- addresses as numbers ---------------------------------------------------------------- */

#define IPV4_MAX ((u128)UINT32_MAX)
/* ::ffff:0.0.0.0/96, the IPv4-mapped block, as IPv6 numbers. */
#define MAPPED_FIRST ((u128)0xffff << 32)
#define MAPPED_LAST (MAPPED_FIRST | IPV4_MAX)

static unsigned family_bits(uint8_t family)
{
    return family == AF_INET ? 32 : 128;
}

static u128 family_max(uint8_t family)
{
    return family == AF_INET ? IPV4_MAX : ~(u128)0;
}

static u128 address_value(const struct scan_address *address)
{
    if (address->family == AF_INET) {
        uint32_t v4;
        memcpy(&v4, address->bytes, 4);
        return ntohl(v4);
    }
    uint64_t high, low;
    memcpy(&high, address->bytes, 8);
    memcpy(&low, address->bytes + 8, 8);
    return ((u128)be64toh(high) << 64) | be64toh(low);
}

static void address_set(struct scan_address *out, uint8_t family, u128 value)
{
    memset(out, 0, sizeof *out);
    out->family = family;
    if (family == AF_INET) {
        uint32_t v4 = htonl((uint32_t)value);
        memcpy(out->bytes, &v4, 4);
        return;
    }
    uint64_t high = htobe64((uint64_t)(value >> 64)), low = htobe64((uint64_t)value);
    memcpy(out->bytes, &high, 8);
    memcpy(out->bytes + 8, &low, 8);
}

/* Order of (family, value) pairs: IPv4 before IPv6, then by number. */
static int address_compare(const struct scan_address *a, const struct scan_address *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    return memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
}

/* Decimal text of a 128-bit number (at most 39 digits). */
static const char *u128_format(u128 value, char buf[40])
{
    char *p = buf + 39;
    *p = '\0';
    do {
        *--p = (char)('0' + (unsigned)(value % 10));
        value /= 10;
    } while (value);
    return p;
}

/* ---- range arrays ------------------------------------------------------------------------ */

static int ranges_push(struct target_range **items, size_t *count, size_t *capacity,
                       uint8_t family, u128 first, u128 last)
{
    if (*count == *capacity) {
        size_t bigger = *capacity ? *capacity * 2 : 16;
        struct target_range *grown = realloc(*items, bigger * sizeof **items);
        if (!grown)
            return -ENOMEM;
        *items = grown;
        *capacity = bigger;
    }
    struct target_range *range = &(*items)[(*count)++];
    address_set(&range->first, family, first);
    address_set(&range->last, family, last);
    range->before = 0;
    return 0;
}

/* Append [first, last] to the targets or the exclusions. An IPv6 range inside the IPv4-mapped
 * block is stored as IPv4 (the same hosts, reached the same way); a wider IPv6 range leaves
 * that block out, so "--exclude ::/0" removes every IPv6 target and no IPv4 one. */
static int set_push_range(struct target_set *set, bool exclude, uint8_t family, u128 first,
                          u128 last)
{
    struct target_range **items = exclude ? &set->excluded : &set->ranges;
    size_t *count = exclude ? &set->excluded_count : &set->count;
    size_t *capacity = exclude ? &set->excluded_capacity : &set->capacity;
    if (family == AF_INET6 && first >= MAPPED_FIRST && last <= MAPPED_LAST)
        return ranges_push(items, count, capacity, AF_INET, first - MAPPED_FIRST,
                           last - MAPPED_FIRST);
    if (family == AF_INET6 && first <= MAPPED_LAST && last >= MAPPED_FIRST) {
        int r = 0;
        if (first < MAPPED_FIRST)
            r = ranges_push(items, count, capacity, AF_INET6, first, MAPPED_FIRST - 1);
        if (r == 0 && last > MAPPED_LAST)
            r = ranges_push(items, count, capacity, AF_INET6, MAPPED_LAST + 1, last);
        return r;
    }
    return ranges_push(items, count, capacity, family, first, last);
}

/* ---- parsing one spec -------------------------------------------------------------------- */

/* What an error message needs: which list, the item being parsed, where columns count from. */
struct spec_parser {
    struct target_set *set;
    bool exclude;
    struct pr_error *err;
    unsigned line;                     /* 1-based */
    const char *line_start;            /* column 1 */
    const char *item, *item_end;       /* the item being parsed */
};

/* "bad target \"ITEM\": why" at the column of `at`. */
__attribute__((format(printf, 4, 5)))
static int spec_fail(const struct spec_parser *parser, int code, const char *at,
                     const char *fmt, ...)
{
    char why[256], excerpt[TEXT_EXCERPT_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    text_excerpt(parser->item, (size_t)(parser->item_end - parser->item), excerpt);
    return pr_error_set_at(parser->err, code, parser->line, text_column(parser->line_start, at),
                           "bad %s \"%s\": %s", parser->exclude ? "exclusion" : "target",
                           excerpt, why);
}

/* The character at p for a message: "'x'", or "byte 0x07" when it is not printable. */
static const char *char_describe(const char *p, const char *end, char buf[16])
{
    if (p >= end)
        return "the end";
    unsigned char c = (unsigned char)*p;
    if (c > ' ' && c < 127)
        snprintf(buf, 16, "'%c'", c);
    else
        snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_digit_value(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A decimal octet 0-255 at *pos (no leading zero: "010" is octal to inet_aton). */
static int parse_octet(const struct spec_parser *parser, const char **pos, const char *end,
                       uint32_t *out)
{
    const char *start = *pos, *p = start;
    uint32_t value = 0;
    char what[16];
    for (; p < end && is_digit(*p); p++)
        if (value <= 255)
            value = value * 10 + (uint32_t)(*p - '0');
    if (p == start)
        return spec_fail(parser, -EINVAL, start, "expected a number 0-255, found %s",
                         char_describe(start, end, what));
    if (value > 255)
        return spec_fail(parser, -EINVAL, start, "octet %.*s is out of range",
                         (int)((size_t)(p - start) > 20 ? 20 : (size_t)(p - start)), start);
    if (*start == '0' && p - start > 1)
        return spec_fail(parser, -EINVAL, start,
                         "octet %.*s has a leading zero (octal or decimal?)", (int)(p - start),
                         start);
    *out = value;
    *pos = p;
    return 0;
}

/* A dotted quad a.b.c.d at *pos; *pos is left on the first character after it. */
static int parse_ipv4_address(const struct spec_parser *parser, const char **pos,
                              const char *end, u128 *out)
{
    const char *p = *pos;
    uint32_t value = 0;
    char what[16];
    for (int octet = 0; octet < 4; octet++) {
        if (octet > 0) {
            if (p >= end || *p != '.')
                return spec_fail(parser, -EINVAL, p,
                                 "an IPv4 address has 4 octets (a.b.c.d), found %s after %d",
                                 char_describe(p, end, what), octet);
            p++;
        }
        uint32_t byte;
        int r = parse_octet(parser, &p, end, &byte);
        if (r < 0)
            return r;
        value = value << 8 | byte;
    }
    *pos = p;
    *out = value;
    return 0;
}

/* A prefix length "/N" body at *pos (after the '/'), 0..max_bits, ending the item. */
static int parse_prefix(const struct spec_parser *parser, const char *p, const char *end,
                        unsigned max_bits, unsigned *out)
{
    const char *start = p;
    unsigned value = 0;
    char what[16];
    for (; p < end && is_digit(*p); p++)
        if (value <= 1000)
            value = value * 10 + (unsigned)(*p - '0');
    if (p == start)
        return spec_fail(parser, -EINVAL, start, "expected a prefix length after '/', found %s",
                         char_describe(start, end, what));
    if (p < end)
        return spec_fail(parser, -EINVAL, p, "unexpected %s after the prefix length",
                         char_describe(p, end, what));
    if (value > max_bits)
        return spec_fail(parser, -EINVAL, start, "prefix /%.*s is longer than the %u bits of %s",
                         (int)((size_t)(p - start) > 20 ? 20 : (size_t)(p - start)), start,
                         max_bits, max_bits == 32 ? "an IPv4 address" : "an IPv6 address");
    *out = value;
    return 0;
}

/* [first, last] of the block of `value` with `bits` of prefix (host bits may be set). */
static void cidr_block(uint8_t family, u128 value, unsigned bits, u128 *first, u128 *last)
{
    u128 host_mask = bits >= family_bits(family) ? 0 : family_max(family) >> bits;
    *first = value & ~host_mask & family_max(family);
    *last = *first | host_mask;
}

/* An IPv6 address in [start, end) (the whole range must be it), with inet_pton. */
static int parse_ipv6_address(const struct spec_parser *parser, const char *start,
                              const char *end, u128 *out)
{
    char text[INET6_ADDRSTRLEN + 1], what[16];
    struct scan_address address = { .family = AF_INET6 };
    size_t len = (size_t)(end - start);
    for (const char *p = start; p < end; p++) {
        if (*p == '%')
            return spec_fail(parser, -EINVAL, p, "zone indexes (%%eth0) are not supported");
        if (hex_digit_value(*p) < 0 && *p != ':' && *p != '.')
            return spec_fail(parser, -EINVAL, p, "unexpected %s in an IPv6 address",
                             char_describe(p, end, what));
    }
    if (len == 0)
        return spec_fail(parser, -EINVAL, start, "expected an IPv6 address, found %s",
                         char_describe(start, end, what));
    if (len >= sizeof text)
        return spec_fail(parser, -EINVAL, start, "not an IPv6 address (too long)");
    memcpy(text, start, len);
    text[len] = '\0';
    if (inet_pton(AF_INET6, text, address.bytes) != 1)
        return spec_fail(parser, -EINVAL, start, "not an IPv6 address");
    *out = address_value(&address);
    return 0;
}

/* The end of a range "A-END" whose start A was given as an IPv6 address: a full address
 * (contains ':'), the last octet when A ended in dotted IPv4 form ("::ffff:10.0.0.1-20"), else
 * the last 16-bit group in hex ("2001:db8::1-ff"). */
static int parse_ipv6_range_end(const struct spec_parser *parser, const char *p,
                                const char *end, u128 first, bool dotted, u128 *last)
{
    char what[16];
    if (memchr(p, ':', (size_t)(end - p)))
        return parse_ipv6_address(parser, p, end, last);
    if (dotted) {
        uint32_t octet;
        int r = parse_octet(parser, &p, end, &octet);
        if (r < 0)
            return r;
        if (p < end)
            return spec_fail(parser, -EINVAL, p, "unexpected %s after the range end",
                             char_describe(p, end, what));
        *last = (first & ~(u128)0xff) | octet;
        return 0;
    }
    const char *start = p;
    unsigned group = 0;
    for (; p < end && hex_digit_value(*p) >= 0 && p - start < 4; p++)
        group = group << 4 | (unsigned)hex_digit_value(*p);
    if (p == start || p < end)
        return spec_fail(parser, -EINVAL, p,
                         "expected the last group (1-4 hex digits) or an address after '-', "
                         "found %s", char_describe(p, end, what));
    *last = (first & ~(u128)0xffff) | group;
    return 0;
}

/* A numeric item of one family in [start, end): address, address/prefix or a range. */
static int parse_numeric_item(const struct spec_parser *parser, uint8_t family,
                              const char *start, const char *end, u128 *first, u128 *last)
{
    char what[16];
    const char *p = start;
    bool dotted = false;
    int r;
    if (family == AF_INET) {
        r = parse_ipv4_address(parser, &p, end, first);
    } else {
        while (p < end && *p != '/' && *p != '-')
            p++;
        dotted = memchr(start, '.', (size_t)(p - start)) != NULL;
        r = parse_ipv6_address(parser, start, p, first);
    }
    if (r < 0)
        return r;
    if (p == end) {
        *last = *first;
        return 0;
    }
    if (*p == '/') {
        unsigned bits;
        r = parse_prefix(parser, p + 1, end, family_bits(family), &bits);
        if (r < 0)
            return r;
        cidr_block(family, *first, bits, first, last);
        return 0;
    }
    if (*p == '.')
        return spec_fail(parser, -EINVAL, p, "an IPv4 address has 4 octets, found more");
    if (*p != '-')
        return spec_fail(parser, -EINVAL, p, "unexpected %s after the address",
                         char_describe(p, end, what));
    const char *range_end = p + 1;
    if (family == AF_INET && memchr(range_end, '.', (size_t)(end - range_end))) {
        p = range_end;
        r = parse_ipv4_address(parser, &p, end, last);
        if (r == 0 && p < end)
            r = spec_fail(parser, -EINVAL, p, "unexpected %s after the range end",
                          char_describe(p, end, what));
    } else if (family == AF_INET) {
        uint32_t octet;
        p = range_end;
        r = parse_octet(parser, &p, end, &octet);
        if (r == 0 && p < end)
            r = spec_fail(parser, -EINVAL, p, "unexpected %s after the range end",
                          char_describe(p, end, what));
        *last = (*first & ~(u128)0xff) | octet;
    } else {
        r = parse_ipv6_range_end(parser, range_end, end, *first, dotted, last);
    }
    if (r < 0)
        return r;
    if (*last < *first)
        return spec_fail(parser, -EINVAL, range_end, "the range ends before it starts");
    return 0;
}

/* Store [first, last]; a target (not an exclusion) of more than the maximum is refused. */
static int parser_store(const struct spec_parser *parser, uint8_t family, u128 first,
                        u128 last)
{
    if (!parser->exclude && last - first >= TARGET_SET_MAX_ADDRESSES) {
        char count[40];
        const char *text = last - first == ~(u128)0 ? "340282366920938463463374607431768211456"
                                                    : u128_format(last - first + 1, count);
        return spec_fail(parser, -E2BIG, parser->item,
                         "%s addresses, more than the %llu one scan may hold", text,
                         (unsigned long long)TARGET_SET_MAX_ADDRESSES);
    }
    return set_push_range(parser->set, parser->exclude, family, first, last);
}

/* Remember that address was typed as name (the report shows "name (address)"). */
static int names_push(struct target_set *set, const struct scan_address *address, const char *name)
{
    if (set->name_count == set->name_capacity) {
        size_t capacity = set->name_capacity ? set->name_capacity * 2 : 8;
        struct target_name *names = realloc(set->names, capacity * sizeof *names);
        if (!names)
            return -ENOMEM;
        set->names = names;
        set->name_capacity = capacity;
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    set->names[set->name_count] = (struct target_name){ *address, (uint32_t)set->name_count, copy };
    set->name_count++;
    return 0;
}

static void names_truncate(struct target_set *set, size_t count)
{
    while (set->name_count > count)
        free(set->names[--set->name_count].name);
}

/* A host name, optionally "/N": every address getaddrinfo gives for the family filter. */
static int parse_name_item(const struct spec_parser *parser, const char *start, const char *end)
{
    char what[16], host[256];
    const char *p = start;
    for (; p < end && *p != '/'; p++) {
        char c = *p;
        bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                  c == '.' || c == '_';
        if (!ok)
            return spec_fail(parser, -EINVAL, p, "unexpected %s (not an address or host name)",
                             char_describe(p, end, what));
    }
    size_t len = (size_t)(p - start);
    if (len == 0)
        return spec_fail(parser, -EINVAL, start, "expected an address or host name");
    if (len >= sizeof host - 2)
        return spec_fail(parser, -EINVAL, start + 253, "host name longer than 253 characters");
    unsigned bits = 128;
    bool has_prefix = p < end;
    int r;
    if (has_prefix && (r = parse_prefix(parser, p + 1, end, 128, &bits)) < 0)
        return r;
    if (parser->set->numeric_only)
        return spec_fail(parser, -EINVAL, start,
                         "not a numeric address (host names are not resolved here)");
    memcpy(host, start, len);
    host[len] = '\0';

    struct addrinfo hints = { .ai_family = parser->set->family_filter,
                              .ai_socktype = SOCK_STREAM };
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &found);
    if (rc != 0) {
        int code = rc == EAI_MEMORY ? -ENOMEM : -ENOENT;
        const char *family = parser->set->family_filter == AF_INET    ? " (IPv4 only)"
                             : parser->set->family_filter == AF_INET6 ? " (IPv6 only)"
                                                                      : "";
        return pr_error_set_at(parser->err, code, parser->line,
                               text_column(parser->line_start, start),
                               "cannot resolve \"%s\"%s: %s", host, family, gai_strerror(rc));
    }
    r = 0;
    for (struct addrinfo *ai = found; ai && r == 0; ai = ai->ai_next) {
        struct scan_address address = { 0 };
        if (ai->ai_family == AF_INET) {
            address.family = AF_INET;
            memcpy(address.bytes, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
        } else if (ai->ai_family == AF_INET6) {
            address.family = AF_INET6;
            memcpy(address.bytes, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        unsigned width = family_bits(address.family);
        if (has_prefix && bits > width) {
            r = spec_fail(parser, -EINVAL, p + 1,
                          "prefix /%u is longer than the %u bits of %s's address", bits, width,
                          host);
            break;
        }
        u128 first, last;
        cidr_block(address.family, address_value(&address), has_prefix ? bits : width, &first,
                   &last);
        r = parser_store(parser, address.family, first, last);
        if (r == 0 && !parser->exclude)
            r = names_push(parser->set, &address, host);
    }
    freeaddrinfo(found);
    return r;
}

/* One item: IPv6 when it holds a ':', IPv4 when it holds only digits, '.', '/' and '-'
 * (so "10.0.0.300" is a bad address, not a name to look up), otherwise a host name. */
static int parse_item(struct spec_parser *parser, const char *start, const char *end)
{
    parser->item = start;
    parser->item_end = end;
    bool colon = false, numeric = true;
    for (const char *p = start; p < end; p++) {
        colon |= *p == ':';
        numeric &= is_digit(*p) || *p == '.' || *p == '/' || *p == '-';
    }
    if (!colon && !numeric)
        return parse_name_item(parser, start, end);
    uint8_t family = colon ? AF_INET6 : AF_INET;
    u128 first, last;
    int r = parse_numeric_item(parser, family, start, end, &first, &last);
    if (r < 0)
        return r;
    return parser_store(parser, family, first, last);
}

static bool is_separator(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',';
}

/* Every item of [start, end), separated by blanks, newlines or commas. */
static int parse_list(struct spec_parser *parser, const char *start, const char *end,
                      size_t *items)
{
    const char *p = start;
    for (;;) {
        while (p < end && is_separator(*p))
            p++;
        if (p == end)
            return 0;
        const char *item = p;
        while (p < end && !is_separator(*p))
            p++;
        int r = parse_item(parser, item, p);
        if (r < 0)
            return r;
        (*items)++;
    }
}

/* ---- the public API ---------------------------------------------------------------------- */

void target_set_init(struct target_set *set)
{
    memset(set, 0, sizeof *set);
    set->family_filter = AF_UNSPEC;
}

/* Roll back what a failed call appended. */
static void set_truncate(struct target_set *set, bool exclude, size_t count)
{
    if (exclude)
        set->excluded_count = count;
    else
        set->count = count;
}

static int set_add_spec(struct target_set *set, const char *spec, bool exclude,
                        struct pr_error *err)
{
    size_t saved = exclude ? set->excluded_count : set->count, items = 0;
    size_t saved_names = set->name_count;
    struct spec_parser parser = { .set = set, .exclude = exclude, .err = err, .line = 1,
                                  .line_start = spec };
    int r = parse_list(&parser, spec, spec + strlen(spec), &items);
    if (r == 0 && items == 0)
        r = pr_error_set_at(err, -EINVAL, 1, 1, "empty %s spec",
                            exclude ? "exclusion" : "target");
    if (r < 0) {
        set_truncate(set, exclude, saved);
        names_truncate(set, saved_names);
        return r;
    }
    set->finished = false;
    return 0;
}

int target_set_add(struct target_set *set, const char *spec, struct pr_error *err)
{
    return set_add_spec(set, spec, false, err);
}

int target_set_exclude(struct target_set *set, const char *spec, struct pr_error *err)
{
    return set_add_spec(set, spec, true, err);
}

int target_set_add_text(struct target_set *set, const char *text, size_t len,
                        struct pr_error *err)
{
    size_t saved = set->count, items = 0, saved_names = set->name_count;
    struct text_line_reader reader;
    int r = text_line_reader_open_text(&reader, text, len, err);
    if (r < 0)
        return r;
    struct spec_parser parser = { .set = set, .err = err };
    struct text_line line;
    while (r == 0 && text_line_reader_next(&reader, &line)) {
        struct text_token comment;
        const char *content_end = text_cut_comment(line.start, line.end, &comment);
        parser.line = line.number;
        parser.line_start = line.start;
        r = parse_list(&parser, line.start, content_end, &items);
    }
    if (r < 0) {
        set_truncate(set, false, saved);
        names_truncate(set, saved_names);
        return r;
    }
    set->finished = false;
    return 0;
}

int target_set_add_file(struct target_set *set, const char *path, struct pr_error *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    struct file_buffer buffer;
    int r = file_read_all(is_stdin ? "/dev/stdin" : path, &buffer, err);
    if (r < 0)
        return r;
    r = target_set_add_text(set, buffer.data, buffer.size, err);
    if (r < 0)
        pr_error_set_path(err, is_stdin ? "(stdin)" : path);
    file_buffer_free(&buffer);
    return r;
}

static int range_compare(const void *a, const void *b)
{
    const struct target_range *x = a, *y = b;
    return address_compare(&x->first, &y->first);
}

/* Sort and merge overlapping or adjacent ranges in place; returns the new count. */
static size_t ranges_sort_merge(struct target_range *items, size_t count)
{
    if (count == 0)
        return 0;
    qsort(items, count, sizeof *items, range_compare);
    size_t out = 0;
    for (size_t i = 1; i < count; i++) {
        struct target_range *last = &items[out];
        uint8_t family = last->first.family;
        u128 last_end = address_value(&last->last);
        if (items[i].first.family == family &&
            (last_end == family_max(family) || address_value(&items[i].first) <= last_end + 1)) {
            if (address_compare(&items[i].last, &last->last) > 0)
                last->last = items[i].last;
        } else {
            items[++out] = items[i];
        }
    }
    return out + 1;
}

/* targets minus exclusions (both sorted and merged) into a new array. */
static int ranges_subtract(struct target_set *set)
{
    size_t capacity = set->count + set->excluded_count, count = 0;
    struct target_range *result = malloc((capacity ? capacity : 1) * sizeof *result);
    if (!result)
        return -ENOMEM;
    const struct target_range *excluded = set->excluded;
    size_t j = 0;
    for (size_t i = 0; i < set->count; i++) {
        const struct target_range *range = &set->ranges[i];
        uint8_t family = range->first.family;
        u128 current = address_value(&range->first), end = address_value(&range->last);
        /* Skip exclusions wholly before this range (ranges ascend, so for good). */
        while (j < set->excluded_count &&
               (excluded[j].first.family < family ||
                (excluded[j].first.family == family &&
                 address_value(&excluded[j].last) < current)))
            j++;
        bool covered = false;
        for (size_t k = j; k < set->excluded_count && excluded[k].first.family == family; k++) {
            u128 cut_first = address_value(&excluded[k].first);
            u128 cut_last = address_value(&excluded[k].last);
            if (cut_first > end)
                break;
            if (cut_first > current &&
                ranges_push(&result, &count, &capacity, family, current, cut_first - 1) < 0)
                goto out_of_memory;
            if (cut_last >= end) {
                covered = true;
                break;
            }
            current = cut_last + 1;
        }
        if (!covered && ranges_push(&result, &count, &capacity, family, current, end) < 0)
            goto out_of_memory;
    }
    free(set->ranges);
    set->ranges = result;
    set->count = count;
    set->capacity = capacity;
    return 0;

out_of_memory:
    free(result);
    return -ENOMEM;
}

static int name_compare(const void *a, const void *b)
{
    const struct target_name *x = a, *y = b;
    int c = address_compare(&x->address, &y->address);
    return c ? c : x->sequence < y->sequence ? -1 : x->sequence > y->sequence;
}

int target_set_finish(struct target_set *set, struct pr_error *err)
{
    set->finished = false;
    set->total = 0;
    size_t given = set->count, kept = 0;
    for (size_t i = 0; i < set->count; i++)
        if (set->family_filter == AF_UNSPEC || set->ranges[i].first.family == set->family_filter)
            set->ranges[kept++] = set->ranges[i];
    set->count = ranges_sort_merge(set->ranges, kept);
    set->excluded_count = ranges_sort_merge(set->excluded, set->excluded_count);
    int r = ranges_subtract(set);
    if (r < 0)
        return pr_error_set(err, r, "out of memory");

    u128 total = 0;
    for (size_t i = 0; i < set->count; i++) {
        struct target_range *range = &set->ranges[i];
        range->before = (uint64_t)total;
        total += address_value(&range->last) - address_value(&range->first) + 1;
        if (total > TARGET_SET_MAX_ADDRESSES) {
            char count[40];
            u128 all = total;
            for (size_t k = i + 1; k < set->count; k++)
                all += address_value(&set->ranges[k].last) -
                       address_value(&set->ranges[k].first) + 1;
            return pr_error_set(err, -E2BIG,
                                "the targets add up to %s addresses, more than the %llu one "
                                "scan may hold", u128_format(all, count),
                                (unsigned long long)TARGET_SET_MAX_ADDRESSES);
        }
    }
    if (total == 0) {
        if (given == 0)
            return pr_error_set(err, -ENOENT, "no targets given");
        if (kept == 0)
            return pr_error_set(err, -ENOENT, "no %s targets given",
                                set->family_filter == AF_INET ? "IPv4" : "IPv6");
        return pr_error_set(err, -ENOENT, "no targets left after exclusions");
    }
    set->total = (uint64_t)total;
    if (set->name_count)
        qsort(set->names, set->name_count, sizeof *set->names, name_compare);
    set->finished = true;
    return 0;
}

const char *target_set_name(const struct target_set *set, const struct scan_address *address)
{
    size_t lo = 0, hi = set->name_count;
    while (lo < hi) {   /* the first entry of address: its earliest name */
        size_t mid = lo + (hi - lo) / 2;
        if (address_compare(&set->names[mid].address, address) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < set->name_count && address_compare(&set->names[lo].address, address) == 0
           ? set->names[lo].name : NULL;
}

void target_set_get(const struct target_set *set, uint64_t index, struct scan_address *out)
{
    /* The last range whose `before` is <= index: a branchless binary search (called once per
     * probe; the compiler turns the select into a conditional move). */
    const struct target_range *range = set->ranges;
    for (size_t n = set->count; n > 1; n -= n / 2)
        range = range[n / 2].before <= index ? range + n / 2 : range;
    uint64_t offset = index - range->before;
    if (range->first.family == AF_INET) {
        uint32_t first;
        memcpy(&first, range->first.bytes, 4);
        uint32_t value = htonl(ntohl(first) + (uint32_t)offset);
        memset(out, 0, sizeof *out);
        out->family = AF_INET;
        memcpy(out->bytes, &value, 4);
        return;
    }
    address_set(out, AF_INET6, address_value(&range->first) + offset);
}

/* (family, first) of range <= (family, value)? */
static inline bool range_starts_at_or_before(const struct target_range *range, uint8_t family,
                                             u128 value)
{
    return range->first.family < family ||
           (range->first.family == family && address_value(&range->first) <= value);
}

bool target_set_find(const struct target_set *set, const struct scan_address *address,
                     uint64_t *index)
{
    uint8_t family = address->family;
    if ((family != AF_INET && family != AF_INET6) || set->count == 0)
        return false;
    u128 value = address_value(address);
    if (family == AF_INET6 && value >= MAPPED_FIRST && value <= MAPPED_LAST) {
        family = AF_INET;                             /* ::ffff:a.b.c.d is stored as IPv4 */
        value -= MAPPED_FIRST;
    }
    /* The last range starting at or before the address (branchless, as in get). */
    const struct target_range *range = set->ranges;
    for (size_t n = set->count; n > 1; n -= n / 2)
        range = range_starts_at_or_before(&range[n / 2], family, value) ? range + n / 2 : range;
    if (range->first.family != family || address_value(&range->first) > value ||
        address_value(&range->last) < value)
        return false;
    if (index)
        *index = range->before + (uint64_t)(value - address_value(&range->first));
    return true;
}

void target_set_free(struct target_set *set)
{
    free(set->ranges);
    free(set->excluded);
    names_truncate(set, 0);
    free(set->names);
    target_set_init(set);
}
