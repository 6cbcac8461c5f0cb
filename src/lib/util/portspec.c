/* portspec.c — parser for the command line's port specs (see portspec.h): a hand-written
 * scanner over comma-separated items, each an optional nmap-style "T:"/"U:"/"S:" (or "tcp:")
 * prefix that persists, then "N", "N-M", "-N" (1-N), "N-" (N-65535), "-" (1-65535) or a service
 * name (a run of [A-Za-z0-9-_.+*] with a letter, not led by '-') for the caller's resolver, then
 * an optional "/proto" for that item alone. Errors: line and 1-based byte column; rolled back. */
#include "util/portspec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/proto.h"

#define PORTSPEC_PORT_MAX 65535u
#define PORTSPEC_ECHO_MAX 64   /* longest piece of input quoted back in a message */

/* The scanner's state over one call of portspec_parse(). */
struct portspec_scanner {
    const char *text;
    const char *pos;
    struct pr_error *err;
};

/* What one item's value turned out to be before its suffix is known. */
struct portspec_item_value {
    bool is_name;
    const char *name;      /* is_name: start of the name inside the text */
    size_t name_len;
    uint16_t first, last;  /* !is_name: the inclusive range */
};

static bool portspec_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool portspec_is_digit(char c) { return c >= '0' && c <= '9'; }

static bool portspec_is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Characters of a service name after its first: IANA uses letters, digits and '-'; services(5)
 * and nmap-services add '_' and '.'; '+' and '*' are passed through for resolvers that use them
 * (a '*' may be a wildcard to the resolver, as in nmap). */
static bool portspec_is_name_char(char c)
{
    return portspec_is_alpha(c) || portspec_is_digit(c) || c == '-' || c == '_' || c == '.' ||
           c == '+' || c == '*';
}

static void portspec_skip_space(struct portspec_scanner *scanner)
{
    while (portspec_is_space(*scanner->pos))
        scanner->pos++;
}

/* Report an error at position at: line counted from newlines before it, 1-based byte column. */
static int portspec_fail_at(struct portspec_scanner *scanner, const char *at, int code,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int portspec_fail_at(struct portspec_scanner *scanner, const char *at, int code,
                            const char *fmt, ...)
{
    unsigned line = 1;
    const char *line_start = scanner->text;
    for (const char *p = scanner->text; p < at; p++)
        if (*p == '\n') {
            line++;
            line_start = p + 1;
        }
    char message[sizeof scanner->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return pr_error_set_at(scanner->err, code, line, (unsigned)(at - line_start) + 1, "%s",
                           message);
}

static int portspec_fail_unexpected(struct portspec_scanner *scanner, const char *at)
{
    unsigned char c = (unsigned char)*at;
    if (c >= 0x20 && c < 0x7f)
        return portspec_fail_at(scanner, at, -EINVAL, "unexpected character '%c'", c);
    return portspec_fail_at(scanner, at, -EINVAL, "unexpected character '\\x%02x'", c);
}

static int portspec_echo_len(size_t len)
{
    return len > PORTSPEC_ECHO_MAX ? PORTSPEC_ECHO_MAX : (int)len;
}

/* Scan a decimal port number at the cursor (a digit is known to be there). */
static int portspec_scan_port(struct portspec_scanner *scanner, uint16_t *port)
{
    const char *start = scanner->pos;
    uint32_t value = 0;
    while (portspec_is_digit(*scanner->pos)) {
        if (value <= PORTSPEC_PORT_MAX)
            value = value * 10 + (uint32_t)(*scanner->pos - '0');
        scanner->pos++;
    }
    if (value > PORTSPEC_PORT_MAX) {
        size_t len = (size_t)(scanner->pos - start);
        return portspec_fail_at(scanner, start, -EINVAL, "port \"%.*s%s\" is out of range 0-65535",
                                portspec_echo_len(len), start,
                                len > PORTSPEC_ECHO_MAX ? "..." : "");
    }
    *port = (uint16_t)value;
    return 0;
}

/* The run of name characters starting at p; a run that holds a letter and does not start with
 * '-' is a service name (RFC 6335 names may start with a digit: "9pfs", "3com-tsmux"). */
static size_t portspec_name_run(const char *p, bool *has_letter)
{
    size_t len = 0;
    *has_letter = false;
    while (portspec_is_name_char(p[len])) {
        if (portspec_is_alpha(p[len]))
            *has_letter = true;
        len++;
    }
    return len;
}

/* A protocol prefix "T:", "U:", "S:" (nmap) or a full name "tcp:"; absent when the item does
 * not start with letters followed by ':'. */
static int portspec_scan_prefix(struct portspec_scanner *scanner, uint8_t *proto)
{
    const char *start = scanner->pos;
    size_t len = 0;
    while (portspec_is_alpha(start[len]))
        len++;
    if (len == 0 || start[len] != ':')
        return 0;
    int parsed = -1;
    if (len == 1) {
        switch (start[0]) {
        case 'T': case 't': parsed = REGISTRY_PROTO_TCP; break;
        case 'U': case 'u': parsed = REGISTRY_PROTO_UDP; break;
        case 'S': case 's': parsed = REGISTRY_PROTO_SCTP; break;
        default: break;
        }
    } else {
        parsed = registry_proto_parse(start, len);
    }
    if (parsed < 0)
        return portspec_fail_at(scanner, start, -EINVAL, "unknown protocol \"%.*s\"",
                                portspec_echo_len(len), start);
    *proto = (uint8_t)parsed;
    scanner->pos = start + len + 1;
    return 0;
}

/* The value of an item: a number, a range with optional open ends, "-", or a service name. */
static int portspec_scan_value(struct portspec_scanner *scanner, struct portspec_item_value *value)
{
    const char *start = scanner->pos;
    bool has_letter;
    size_t run = portspec_name_run(start, &has_letter);
    if (has_letter && start[0] != '-') {
        value->is_name = true;
        value->name = start;
        value->name_len = run;
        scanner->pos = start + run;
        return 0;
    }

    value->is_name = false;
    int r;
    if (*start == '-') {
        /* "-" alone is every port, "-N" is 1-N (nmap). */
        scanner->pos++;
        value->first = 1;
        value->last = (uint16_t)PORTSPEC_PORT_MAX;
        if (portspec_is_digit(*scanner->pos)) {
            if ((r = portspec_scan_port(scanner, &value->last)) < 0)
                return r;
            if (value->last < value->first)
                return portspec_fail_at(scanner, start, -EINVAL,
                                        "range -%u is reversed (an open range starts at 1)",
                                        (unsigned)value->last);
        }
        return 0;
    }
    if (!portspec_is_digit(*start))
        return portspec_fail_unexpected(scanner, start);

    if ((r = portspec_scan_port(scanner, &value->first)) < 0)
        return r;
    value->last = value->first;
    if (*scanner->pos != '-')
        return 0;
    scanner->pos++;
    if (!portspec_is_digit(*scanner->pos)) {
        value->last = (uint16_t)PORTSPEC_PORT_MAX;   /* "N-" runs to the top */
        return 0;
    }
    if ((r = portspec_scan_port(scanner, &value->last)) < 0)
        return r;
    if (value->last < value->first)
        return portspec_fail_at(scanner, start, -EINVAL, "range %u-%u is reversed",
                                (unsigned)value->first, (unsigned)value->last);
    return 0;
}

/* An optional "/proto" suffix; sets *proto only when present. */
static int portspec_scan_suffix(struct portspec_scanner *scanner, uint8_t *proto)
{
    if (*scanner->pos != '/')
        return 0;
    const char *start = ++scanner->pos;
    size_t len = 0;
    while (portspec_is_alpha(start[len]) || portspec_is_digit(start[len]))
        len++;
    if (len == 0) {
        if (*start == '\0' || *start == ',' || portspec_is_space(*start))
            return portspec_fail_at(scanner, start, -EINVAL, "missing protocol after '/'");
        return portspec_fail_unexpected(scanner, start);
    }
    int parsed = registry_proto_parse(start, len);
    if (parsed < 0)
        return portspec_fail_at(scanner, start, -EINVAL, "unknown protocol \"%.*s\"",
                                portspec_echo_len(len), start);
    *proto = (uint8_t)parsed;
    scanner->pos = start + len;
    return 0;
}

static int portspec_resolve_name(struct portspec_scanner *scanner,
                                 const struct portspec_item_value *value, uint8_t proto,
                                 portspec_name_resolver resolve, void *ctx, struct portspec *out)
{
    int name_len = portspec_echo_len(value->name_len);
    if (!resolve)
        return portspec_fail_at(scanner, value->name, -EINVAL,
                                "service names need a registry (\"%.*s\")", name_len,
                                value->name);
    size_t count_before = out->count;
    int r = resolve(ctx, value->name, value->name_len, proto, out);
    /* A resolver that succeeds without adding a range found nothing either. */
    if (r == -ENOENT || (r >= 0 && out->count == count_before)) {
        if (proto == REGISTRY_PROTO_ANY)
            return portspec_fail_at(scanner, value->name, -EINVAL,
                                    "unknown service name \"%.*s\"", name_len, value->name);
        return portspec_fail_at(scanner, value->name, -EINVAL,
                                "unknown service name \"%.*s\" for %s", name_len, value->name,
                                registry_proto_name((enum registry_proto)proto));
    }
    if (r < 0)
        return portspec_fail_at(scanner, value->name, r,
                                "cannot resolve service name \"%.*s\": %s", name_len,
                                value->name, strerror(-r));
    return 0;
}

/* One item starting at the cursor; leaves the cursor on the ',' or the end after it. */
static int portspec_parse_item(struct portspec_scanner *scanner, uint8_t *prefix_proto,
                               portspec_name_resolver resolve, void *ctx, struct portspec *out)
{
    int r;
    portspec_skip_space(scanner);
    if ((r = portspec_scan_prefix(scanner, prefix_proto)) < 0)
        return r;
    portspec_skip_space(scanner);
    if (*scanner->pos == ',' || *scanner->pos == '\0')
        return portspec_fail_at(scanner, scanner->pos, -EINVAL, "empty item");

    struct portspec_item_value value;
    if ((r = portspec_scan_value(scanner, &value)) < 0)
        return r;
    uint8_t proto = *prefix_proto;
    if ((r = portspec_scan_suffix(scanner, &proto)) < 0)
        return r;
    portspec_skip_space(scanner);
    if (*scanner->pos != ',' && *scanner->pos != '\0')
        return portspec_fail_unexpected(scanner, scanner->pos);

    if (value.is_name)
        return portspec_resolve_name(scanner, &value, proto, resolve, ctx, out);
    if ((r = portspec_add(out, value.first, value.last, proto)) < 0)
        return portspec_fail_at(scanner, scanner->pos, r, "out of memory");
    return 0;
}

int portspec_parse(const char *text, portspec_name_resolver resolve, void *ctx,
                   struct portspec *out, struct pr_error *err)
{
    if (!text)
        text = "";
    struct portspec_scanner scanner = { .text = text, .pos = text, .err = err };
    portspec_skip_space(&scanner);
    if (*scanner.pos == '\0')
        return pr_error_set_at(err, -EINVAL, 1, 1, "empty port spec");
    scanner.pos = text;

    size_t count_before = out->count;
    uint8_t prefix_proto = REGISTRY_PROTO_ANY;
    for (;;) {
        int r = portspec_parse_item(&scanner, &prefix_proto, resolve, ctx, out);
        if (r < 0) {
            out->count = count_before;
            return r;
        }
        if (*scanner.pos == '\0')
            return 0;
        scanner.pos++;   /* the ',' */
    }
}

int portspec_add(struct portspec *spec, uint16_t first, uint16_t last, uint8_t proto)
{
    if (first > last || proto >= REGISTRY_PROTO_COUNT)
        return -EINVAL;
    if (spec->count == spec->capacity) {
        size_t capacity = spec->capacity ? spec->capacity * 2 : 8;
        if (capacity > SIZE_MAX / sizeof *spec->ranges)
            return -ENOMEM;
        struct portspec_range *ranges = realloc(spec->ranges, capacity * sizeof *ranges);
        if (!ranges)
            return -ENOMEM;
        spec->ranges = ranges;
        spec->capacity = capacity;
    }
    spec->ranges[spec->count++] = (struct portspec_range){ first, last, proto };
    return 0;
}

bool portspec_contains(const struct portspec *spec, uint16_t port, uint8_t proto)
{
    for (size_t i = 0; i < spec->count; i++) {
        const struct portspec_range *range = &spec->ranges[i];
        if (port < range->first || port > range->last)
            continue;
        if (range->proto == REGISTRY_PROTO_ANY || proto == REGISTRY_PROTO_ANY ||
            range->proto == proto)
            return true;
    }
    return false;
}

void portspec_free(struct portspec *spec)
{
    free(spec->ranges);
    spec->ranges = NULL;
    spec->count = spec->capacity = 0;
}
