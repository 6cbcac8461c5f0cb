/* nmap_services.c — nmap-services parser (see nmap_services.h).
 * Reads the buffer line by line (text_scan.h: line reader, blanks, tokens, comments, ports)
 * and splits each line into name, "port/proto", open-frequency and a '#' comment. The
 * frequency is parsed without the C library's locale-dependent strtod (see
 * nmap_parse_open_frequency). Relies on record.h (model, protocols) and error.h (positions). */
#include "registry/nmap_services.h"

#include <errno.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/text_scan.h"

/* Where the parser stands, for error positions, plus the lazily made C locale. */
struct nmap_cursor {
    struct text_line line;    /* the current line, without its line end */
    struct pr_error *err;
    locale_t c_locale;        /* (locale_t)0 until a frequency needs strtod_l */
};

/* One line after validation, before its record is made. */
struct nmap_line {
    struct text_token name;
    struct text_token comment;   /* trimmed text after the first '#' */
    double frequency;
    uint16_t port;
    uint8_t proto;
};

/* Exact powers of ten: every 10^k with k <= 22 is representable in a double. */
static const double nmap_exact_powers_of_ten[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Parse an open-frequency: "digits[.digits]" or ".digits", nothing else (no sign, exponent,
 * "inf" or "nan"), whose value lies in [0, 1]. Returns 0, -EINVAL (not such a number) or
 * -ENOMEM.
 *
 * Why not plain strtod: it reads the decimal point of the current LC_NUMERIC locale, so a
 * program that called setlocale(LC_ALL, "") under de_DE would stop at the '.' of "0.001995".
 * The digits are therefore checked and accumulated by hand. When there are at most 15
 * significant digits and at most 22 after the point (every value nmap writes: six decimals),
 * mantissa / 10^k is exact: both operands are exactly representable doubles, and one IEEE
 * division rounds correctly, which is the same value strtod gives — and it is ~10x faster.
 * Longer texts fall back to strtod_l with a C locale made once per parse (glibc; _GNU_SOURCE). */
static int nmap_parse_open_frequency(struct nmap_cursor *cur, const char *text, size_t len,
                                     double *value)
{
    uint64_t mantissa = 0;
    unsigned significant_digits = 0, fraction_digits = 0, digits = 0;
    bool seen_point = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '.' && !seen_point) {
            seen_point = true;
            continue;
        }
        if (c < '0' || c > '9')
            return -EINVAL;
        digits++;
        if (seen_point)
            fraction_digits++;
        if (mantissa == 0 && c == '0')
            continue;   /* leading zeros are not significant */
        significant_digits++;
        if (significant_digits <= 15)
            mantissa = mantissa * 10u + (uint64_t)(c - '0');
    }
    if (digits == 0)
        return -EINVAL;

    double result;
    if (significant_digits <= 15 && fraction_digits <= 22) {
        result = (double)mantissa / nmap_exact_powers_of_ten[fraction_digits];
    } else {
        if (cur->c_locale == (locale_t)0) {
            cur->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
            if (cur->c_locale == (locale_t)0)
                return -ENOMEM;
        }
        char *copy = malloc(len + 1);   /* strtod_l needs a NUL-terminated string */
        if (!copy)
            return -ENOMEM;
        memcpy(copy, text, len);
        copy[len] = '\0';
        char *parse_end;
        result = strtod_l(copy, &parse_end, cur->c_locale);
        bool consumed_all = parse_end == copy + len;
        free(copy);
        if (!consumed_all)
            return -EINVAL;
    }
    if (!(result >= 0.0 && result <= 1.0))
        return -EINVAL;
    *value = result;
    return 0;
}

/* Parse "port/proto" in [token, token_end). */
static int nmap_parse_port_token(const struct nmap_cursor *cur, const char *token,
                                 const char *token_end, struct nmap_line *line)
{
    char shown[TEXT_EXCERPT_SIZE];
    const char *slash = memchr(token, '/', (size_t)(token_end - token));
    if (!slash)
        return text_error_at(cur->err, &cur->line, token,
                             "expected port/protocol such as \"80/tcp\", found \"%s\"",
                             text_excerpt(token, (size_t)(token_end - token), shown));

    uint16_t port;
    int rc = text_parse_port(token, slash, &port);
    if (rc == -EINVAL)
        return text_error_at(cur->err, &cur->line, token, "port \"%s\" is not a number",
                             text_excerpt(token, (size_t)(slash - token), shown));
    if (rc == -ERANGE)
        return text_error_at(cur->err, &cur->line, token, "port \"%s\" is out of range 0-65535",
                             text_excerpt(token, (size_t)(slash - token), shown));

    const char *proto = slash + 1;
    size_t proto_len = (size_t)(token_end - proto);
    if (proto_len == 0)
        return text_error_at(cur->err, &cur->line, proto, "missing protocol after \"/\"");
    int value = registry_proto_parse(proto, proto_len);
    if (value < 0)
        return text_error_at(cur->err, &cur->line, proto, "unknown protocol \"%s\"",
                             text_excerpt(proto, proto_len, shown));
    line->port = port;
    line->proto = (uint8_t)value;
    return 0;
}

/* Parse the current line of cur. Returns 1 when it holds a service, 0 for a blank or
 * comment-only line, -EINVAL on a syntax error, -ENOMEM. */
static int nmap_parse_line(struct nmap_cursor *cur, struct nmap_line *line)
{
    struct text_token_reader tokens;
    text_token_reader_init(&tokens, cur->line.start,
                           text_cut_comment(cur->line.start, cur->line.end, &line->comment));
    if (!text_token_reader_next(&tokens, &line->name))
        return 0;
    struct text_token port, frequency, extra;
    int rc = text_token_reader_require(&tokens, &port, &cur->line, cur->err,
                                       "missing port/protocol after service name");
    if (rc < 0)
        return rc;
    rc = nmap_parse_port_token(cur, port.start, port.start + port.len, line);
    if (rc < 0)
        return rc;
    rc = text_token_reader_require(&tokens, &frequency, &cur->line, cur->err,
                                   "missing open-frequency after port/protocol");
    if (rc < 0)
        return rc;

    char shown[TEXT_EXCERPT_SIZE];
    rc = nmap_parse_open_frequency(cur, frequency.start, frequency.len, &line->frequency);
    if (rc == -EINVAL)
        return text_error_at(cur->err, &cur->line, frequency.start,
                             "open-frequency \"%s\" is not a number between 0 and 1",
                             text_excerpt(frequency.start, frequency.len, shown));
    if (rc < 0)
        return rc;
    if (text_token_reader_next(&tokens, &extra))
        return text_error_at(cur->err, &cur->line, extra.start,
                             "unexpected \"%s\" after open-frequency (comments start with '#')",
                             text_excerpt(extra.start, extra.len, shown));
    return 1;
}

/* Append the record of a validated line. Returns 0 or -ENOMEM. */
static int nmap_append_line(struct registry_records *out, const struct nmap_line *line,
                            unsigned line_number)
{
    const char *service = arena_strndup(&out->arena, line->name.start, line->name.len);
    const char *description = line->comment.len
        ? arena_strndup(&out->arena, line->comment.start, line->comment.len) : "";
    if (!service || !description)
        return -ENOMEM;
    struct registry_record *rec = registry_records_append(out);
    if (!rec)
        return -ENOMEM;
    rec->service = service;
    rec->description = description;
    rec->frequency = line->frequency;
    rec->line = line_number;
    rec->port_first = rec->port_last = line->port;
    rec->has_port = true;
    rec->proto = line->proto;
    rec->status = (uint8_t)registry_status_classify(service, description);
    return 0;
}

long nmap_services_parse(const char *buf, size_t len, struct registry_records *out,
                         struct pr_error *err)
{
    const size_t count_before = out->count;
    struct text_line_reader lines;
    int rc = text_line_reader_open_text(&lines, buf, len, err);
    if (rc < 0)
        return rc;

    struct nmap_cursor cur = { .err = err, .c_locale = (locale_t)0 };
    while (text_line_reader_next(&lines, &cur.line)) {
        struct nmap_line line = { 0 };
        rc = nmap_parse_line(&cur, &line);
        if (rc > 0)
            rc = nmap_append_line(out, &line, cur.line.number);
        if (rc == -ENOMEM)
            pr_error_set_at(err, rc, cur.line.number, 0, "out of memory");
        if (rc < 0)
            break;
    }
    if (cur.c_locale != (locale_t)0)
        freelocale(cur.c_locale);
    if (rc < 0) {
        out->count = count_before;   /* strings already copied stay in the arena, unused */
        return rc;
    }
    return (long)(out->count - count_before);
}
