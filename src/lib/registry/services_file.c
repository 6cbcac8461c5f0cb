/* services_file.c — services(5) parser (see services_file.h).
 * Reads the buffer line by line (text_scan.h: line reader, blanks, tokens, comments, ports).
 * Each line is split into a name, one "port[-port]/proto[/proto...]" token, aliases and a '#'
 * comment and validated whole before one record per protocol is appended, its strings copied
 * into the list's arena. Relies on record.h (model, protocol names) and error.h (positions). */
#include "registry/services_file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/text_scan.h"

/* Where the parser stands, for error positions. */
struct services_cursor {
    struct text_line line;    /* the current line, without its line end */
    struct pr_error *err;
};

/* One line after validation, before its records are made. */
struct services_line {
    struct text_token name;
    struct text_token aliases;   /* from the first alias to the end of the last one */
    struct text_token comment;   /* trimmed text after '#' */
    uint16_t port_first, port_last;
    uint8_t protos[REGISTRY_PROTO_COUNT];   /* in the order the file lists them */
    size_t proto_count;
};

/* Parse the decimal port in [start, end). Returns 0, or -EINVAL with the error filled
 * (not a number / out of range). whole_start..whole_end is the text quoted when it is not a
 * number, so "6000-x" is reported as a whole. */
static int services_parse_port_number(const struct services_cursor *cur, const char *start,
                                      const char *end, const char *whole_start,
                                      const char *whole_end, uint16_t *port)
{
    char shown[TEXT_EXCERPT_SIZE];
    int rc = text_parse_port(start, end, port);
    if (rc == -EINVAL)
        return text_error_at(cur->err, &cur->line, whole_start,
                             "port \"%s\" is not a number or a range like 6000-6063",
                             text_excerpt(whole_start, (size_t)(whole_end - whole_start), shown));
    if (rc == -ERANGE)
        return text_error_at(cur->err, &cur->line, start, "port \"%s\" is out of range 0-65535",
                             text_excerpt(start, (size_t)(end - start), shown));
    return 0;
}

/* Parse "port[-port]/proto[/proto...]" in [token, token_end) into line. AppleTalk "ddp"
 * (Debian's /etc/services lists rtmp, nbp, echo and zip on it) is not an IP protocol and has
 * no place in the model: it is skipped, so "1/ddp" alone yields no record. */
static int services_parse_port_token(const struct services_cursor *cur, const char *token,
                                     const char *token_end, struct services_line *line)
{
    char shown[TEXT_EXCERPT_SIZE];
    const char *slash = memchr(token, '/', (size_t)(token_end - token));
    if (!slash)
        return text_error_at(cur->err, &cur->line, token,
                             "expected port/protocol such as \"22/tcp\", found \"%s\"",
                             text_excerpt(token, (size_t)(token_end - token), shown));

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
            return text_error_at(cur->err, &cur->line, token, "range %.*s is reversed",
                                 (int)(slash - token), token);
    }

    line->proto_count = 0;
    const char *proto = slash + 1;
    for (;;) {
        const char *proto_end = memchr(proto, '/', (size_t)(token_end - proto));
        if (!proto_end)
            proto_end = token_end;
        size_t proto_len = (size_t)(proto_end - proto);
        if (proto_len == 0)
            return text_error_at(cur->err, &cur->line, proto, "missing protocol after \"/\"");
        int value = registry_proto_parse(proto, proto_len);
        if (value < 0) {
            if (!(proto_len == 3 && strncasecmp(proto, "ddp", 3) == 0))
                return text_error_at(cur->err, &cur->line, proto, "unknown protocol \"%s\"",
                                     text_excerpt(proto, proto_len, shown));
        } else {
            for (size_t i = 0; i < line->proto_count; i++)
                if (line->protos[i] == value)
                    return text_error_at(cur->err, &cur->line, proto,
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

/* Parse the current line of cur. Returns 1 when it holds a service, 0 for a blank or
 * comment-only line, -EINVAL on a syntax error. */
static int services_parse_line(const struct services_cursor *cur, struct services_line *line)
{
    struct text_token_reader tokens;
    text_token_reader_init(&tokens, cur->line.start,
                           text_cut_comment(cur->line.start, cur->line.end, &line->comment));
    if (!text_token_reader_next(&tokens, &line->name))
        return 0;
    struct text_token port;
    int rc = text_token_reader_require(&tokens, &port, &cur->line, cur->err,
                                       "missing port/protocol after service name");
    if (rc < 0)
        return rc;
    rc = services_parse_port_token(cur, port.start, port.start + port.len, line);
    if (rc < 0)
        return rc;
    line->aliases = text_token_reader_rest(&tokens);
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
        if (text_is_blank(aliases[i])) {
            if (!text_is_blank(aliases[i - 1]))   /* aliases[0] is never blank */
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
    const char *service = arena_strndup(&out->arena, line->name.start, line->name.len);
    const char *description = line->comment.len
        ? arena_strndup(&out->arena, line->comment.start, line->comment.len) : "";
    const char *aliases =
        services_join_aliases(&out->arena, line->aliases.start, line->aliases.len);
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
    const size_t count_before = out->count;
    struct text_line_reader lines;
    int rc = text_line_reader_open_text(&lines, buf, len, err);
    if (rc < 0)
        return rc;

    struct services_cursor cur = { .err = err };
    while (text_line_reader_next(&lines, &cur.line)) {
        struct services_line line = { 0 };
        rc = services_parse_line(&cur, &line);
        if (rc > 0) {
            rc = services_append_line(out, &line, cur.line.number);
            if (rc < 0)
                pr_error_set_at(err, rc, cur.line.number, 0, "out of memory");
        }
        if (rc < 0) {
            out->count = count_before;   /* strings already copied stay in the arena, unused */
            return rc;
        }
    }
    return (long)(out->count - count_before);
}
