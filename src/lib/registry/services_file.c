/* services_file.c — services(5) parser (see services_file.h).
 * Walks the buffer line by line with memchr. Each line is split by hand into a name, one
 * "port[-port]/proto[/proto...]" token, aliases and a '#' comment; the whole line is validated
 * before any record is made, then one record per protocol is appended, its strings copied into
 * the list's arena. Relies on record.h (model, protocol names) and error.h (positions). */
#include "registry/services_file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Longest token echoed back in an error message; longer ones are cut and marked with "...". */
#define SERVICES_ERROR_TOKEN_MAX 64

/* Where the parser stands, for error positions. */
struct services_cursor {
    const char *line_start;   /* first byte of the current line */
    unsigned line;            /* 1-based */
    struct pr_error *err;
};

/* One line after validation, before its records are made. */
struct services_line {
    const char *name;
    size_t name_len;
    const char *aliases;      /* from the first alias to the end of the last one */
    size_t aliases_len;
    const char *comment;      /* trimmed text after '#' */
    size_t comment_len;
    uint16_t port_first, port_last;
    uint8_t protos[REGISTRY_PROTO_COUNT];   /* in the order the file lists them */
    size_t proto_count;
};

static bool services_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static const char *services_skip_blanks(const char *p, const char *end)
{
    while (p < end && services_is_blank(*p))
        p++;
    return p;
}

static const char *services_token_end(const char *p, const char *end)
{
    while (p < end && !services_is_blank(*p))
        p++;
    return p;
}

static unsigned services_column(const struct services_cursor *cur, const char *at)
{
    return (unsigned)(at - cur->line_start) + 1u;
}

static int services_token_print_len(size_t len)
{
    return (int)(len > SERVICES_ERROR_TOKEN_MAX ? SERVICES_ERROR_TOKEN_MAX : len);
}

static const char *services_token_ellipsis(size_t len)
{
    return len > SERVICES_ERROR_TOKEN_MAX ? "..." : "";
}

/* Report a NUL byte: input containing one is binary, not a services file. */
static int services_report_nul_byte(const char *buf, const char *nul, struct pr_error *err)
{
    unsigned line = 1;
    const char *line_start = buf;
    const char *newline;
    while ((newline = memchr(line_start, '\n', (size_t)(nul - line_start))) != NULL) {
        line++;
        line_start = newline + 1;
    }
    return pr_error_set_at(err, -EINVAL, line, (unsigned)(nul - line_start) + 1u,
                           "NUL byte: this is not a text file");
}

/* Parse the decimal port in [start, end). Returns 0, or -EINVAL with the error filled
 * (not a number / out of range). whole_start..whole_end is the text quoted when it is not a
 * number, so "6000-x" is reported as a whole. */
static int services_parse_port_number(const struct services_cursor *cur, const char *start,
                                      const char *end, const char *whole_start,
                                      const char *whole_end, uint16_t *port)
{
    uint32_t value = 0;
    bool too_big = false;
    const char *p = start;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (!too_big) {
            value = value * 10u + (uint32_t)(*p - '0');
            too_big = value > 65535u;
        }
    }
    size_t whole_len = (size_t)(whole_end - whole_start);
    if (p == start || p != end)
        return pr_error_set_at(cur->err, -EINVAL, cur->line, services_column(cur, whole_start),
                               "port \"%.*s%s\" is not a number or a range like 6000-6063",
                               services_token_print_len(whole_len), whole_start,
                               services_token_ellipsis(whole_len));
    size_t len = (size_t)(end - start);
    if (too_big)
        return pr_error_set_at(cur->err, -EINVAL, cur->line, services_column(cur, start),
                               "port \"%.*s%s\" is out of range 0-65535",
                               services_token_print_len(len), start, services_token_ellipsis(len));
    *port = (uint16_t)value;
    return 0;
}

/* Parse "port[-port]/proto[/proto...]" in [token, token_end) into line. AppleTalk "ddp"
 * (Debian's /etc/services lists rtmp, nbp, echo and zip on it) is not an IP protocol and has
 * no place in the model: it is skipped, so "1/ddp" alone yields no record. */
static int services_parse_port_token(const struct services_cursor *cur, const char *token,
                                     const char *token_end, struct services_line *line)
{
    const char *slash = memchr(token, '/', (size_t)(token_end - token));
    if (!slash) {
        size_t len = (size_t)(token_end - token);
        return pr_error_set_at(cur->err, -EINVAL, cur->line, services_column(cur, token),
                               "expected port/protocol such as \"22/tcp\", found \"%.*s%s\"",
                               services_token_print_len(len), token,
                               services_token_ellipsis(len));
    }

    const char *dash = memchr(token, '-', (size_t)(slash - token));
    int rc;
    if (!dash) {
        rc = services_parse_port_number(cur, token, slash, token, slash, &line->port_first);
        if (rc < 0)
            return rc;
        line->port_last = line->port_first;
    } else {
        rc = services_parse_port_number(cur, token, dash, token, slash, &line->port_first);
        if (rc < 0)
            return rc;
        rc = services_parse_port_number(cur, dash + 1, slash, token, slash, &line->port_last);
        if (rc < 0)
            return rc;
        if (line->port_last < line->port_first)
            return pr_error_set_at(cur->err, -EINVAL, cur->line, services_column(cur, token),
                                   "range %.*s is reversed", (int)(slash - token), token);
    }

    line->proto_count = 0;
    const char *proto = slash + 1;
    for (;;) {
        const char *proto_end = memchr(proto, '/', (size_t)(token_end - proto));
        if (!proto_end)
            proto_end = token_end;
        size_t proto_len = (size_t)(proto_end - proto);
        if (proto_len == 0)
            return pr_error_set_at(cur->err, -EINVAL, cur->line, services_column(cur, proto),
                                   "missing protocol after \"/\"");
        int value = registry_proto_parse(proto, proto_len);
        if (value < 0) {
            if (!(proto_len == 3 && strncasecmp(proto, "ddp", 3) == 0))
                return pr_error_set_at(cur->err, -EINVAL, cur->line,
                                       services_column(cur, proto), "unknown protocol \"%.*s%s\"",
                                       services_token_print_len(proto_len), proto,
                                       services_token_ellipsis(proto_len));
        } else {
            for (size_t i = 0; i < line->proto_count; i++)
                if (line->protos[i] == value)
                    return pr_error_set_at(cur->err, -EINVAL, cur->line,
                                           services_column(cur, proto),
                                           "protocol \"%.*s\" is listed twice", (int)proto_len,
                                           proto);
            /* At most four distinct protocols exist, so protos[] cannot overflow. */
            line->protos[line->proto_count++] = (uint8_t)value;
        }
        if (proto_end == token_end)
            return 0;
        proto = proto_end + 1;
    }
}

/* Parse the content of one line (CR already removed). Returns 1 when it holds a service,
 * 0 for a blank or comment-only line, -EINVAL on a syntax error. */
static int services_parse_line(const struct services_cursor *cur, const char *line_end,
                               struct services_line *line)
{
    const char *content_end = memchr(cur->line_start, '#', (size_t)(line_end - cur->line_start));
    line->comment = "";
    line->comment_len = 0;
    if (content_end) {
        const char *comment = services_skip_blanks(content_end + 1, line_end);
        const char *comment_end = line_end;
        while (comment_end > comment && services_is_blank(comment_end[-1]))
            comment_end--;
        line->comment = comment;
        line->comment_len = (size_t)(comment_end - comment);
    } else {
        content_end = line_end;
    }

    const char *name = services_skip_blanks(cur->line_start, content_end);
    if (name == content_end)
        return 0;
    const char *name_end = services_token_end(name, content_end);
    line->name = name;
    line->name_len = (size_t)(name_end - name);

    const char *port = services_skip_blanks(name_end, content_end);
    if (port == content_end)
        return pr_error_set_at(cur->err, -EINVAL, cur->line, services_column(cur, port),
                               "missing port/protocol after service name");
    const char *port_end = services_token_end(port, content_end);
    int rc = services_parse_port_token(cur, port, port_end, line);
    if (rc < 0)
        return rc;

    const char *aliases = services_skip_blanks(port_end, content_end);
    const char *aliases_end = content_end;
    while (aliases_end > aliases && services_is_blank(aliases_end[-1]))
        aliases_end--;
    line->aliases = aliases;
    line->aliases_len = (size_t)(aliases_end - aliases);
    return 1;
}

/* Copy the aliases into the arena with every run of blanks turned into one space. */
static const char *services_join_aliases(struct arena *arena, const char *aliases, size_t len)
{
    if (len == 0)
        return "";
    char *joined = arena_alloc(arena, len + 1);
    if (!joined)
        return NULL;
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        if (services_is_blank(aliases[i])) {
            if (!services_is_blank(aliases[i - 1]))   /* aliases[0] is never blank */
                joined[used++] = ' ';
        } else {
            joined[used++] = aliases[i];
        }
    }
    joined[used] = '\0';
    return joined;
}

/* Append one record per protocol of a validated line. Returns 0 or -ENOMEM. */
static int services_append_line(struct registry_records *out, const struct services_line *line,
                                unsigned line_number)
{
    if (line->proto_count == 0)
        return 0;
    const char *service = arena_strndup(&out->arena, line->name, line->name_len);
    const char *description = line->comment_len
        ? arena_strndup(&out->arena, line->comment, line->comment_len) : "";
    const char *aliases = services_join_aliases(&out->arena, line->aliases, line->aliases_len);
    if (!service || !description || !aliases)
        return -ENOMEM;
    uint8_t status = (uint8_t)registry_status_classify(service, description);
    for (size_t i = 0; i < line->proto_count; i++) {
        struct registry_record *rec = registry_records_append(out);
        if (!rec)
            return -ENOMEM;
        rec->service = service;
        rec->description = description;
        rec->aliases = aliases;
        rec->line = line_number;
        rec->port_first = line->port_first;
        rec->port_last = line->port_last;
        rec->has_port = true;
        rec->proto = line->protos[i];
        rec->status = status;
    }
    return 0;
}

long services_file_parse(const char *buf, size_t len, struct registry_records *out,
                         struct pr_error *err)
{
    if (len == 0)
        return 0;
    const size_t count_before = out->count;
    const char *end = buf + len;
    const char *p = buf;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)   /* UTF-8 byte order mark */
        p += 3;
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    if (nul)
        return services_report_nul_byte(p, nul, err);

    struct services_cursor cur = { .line_start = p, .line = 0, .err = err };
    while (p < end) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = newline ? newline : end;
        cur.line_start = p;
        cur.line++;
        p = newline ? newline + 1 : end;
        if (line_end > cur.line_start && line_end[-1] == '\r')
            line_end--;

        struct services_line line = { 0 };
        int rc = services_parse_line(&cur, line_end, &line);
        if (rc > 0) {
            rc = services_append_line(out, &line, cur.line);
            if (rc < 0)
                pr_error_set_at(err, rc, cur.line, 0, "out of memory");
        }
        if (rc < 0) {
            out->count = count_before;   /* strings already copied stay in the arena, unused */
            return rc;
        }
    }
    return (long)(out->count - count_before);
}
