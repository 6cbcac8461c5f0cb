/* nmap_services.c — nmap-services parser (see nmap_services.h).
 * Walks the buffer line by line with memchr and splits each line by hand into name,
 * "port/proto", open-frequency and a '#' comment. The frequency is parsed without the C
 * library's locale-dependent strtod (see nmap_parse_open_frequency). Relies on record.h
 * (model, protocol names) and error.h (positions). */
#include "registry/nmap_services.h"

#include <errno.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Longest token echoed back in an error message; longer ones are cut and marked with "...". */
#define NMAP_ERROR_TOKEN_MAX 64

/* Where the parser stands, for error positions, plus the lazily made C locale. */
struct nmap_cursor {
    const char *line_start;   /* first byte of the current line */
    unsigned line;            /* 1-based */
    struct pr_error *err;
    locale_t c_locale;        /* (locale_t)0 until a frequency needs strtod_l */
};

/* One line after validation, before its record is made. */
struct nmap_line {
    const char *name;
    size_t name_len;
    const char *comment;      /* trimmed text after the first '#' */
    size_t comment_len;
    double frequency;
    uint16_t port;
    uint8_t proto;
};

static bool nmap_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static const char *nmap_skip_blanks(const char *p, const char *end)
{
    while (p < end && nmap_is_blank(*p))
        p++;
    return p;
}

static const char *nmap_token_end(const char *p, const char *end)
{
    while (p < end && !nmap_is_blank(*p))
        p++;
    return p;
}

static unsigned nmap_column(const struct nmap_cursor *cur, const char *at)
{
    return (unsigned)(at - cur->line_start) + 1u;
}

static int nmap_token_print_len(size_t len)
{
    return (int)(len > NMAP_ERROR_TOKEN_MAX ? NMAP_ERROR_TOKEN_MAX : len);
}

static const char *nmap_token_ellipsis(size_t len)
{
    return len > NMAP_ERROR_TOKEN_MAX ? "..." : "";
}

/* Report a NUL byte: input containing one is binary, not an nmap-services file. */
static int nmap_report_nul_byte(const char *buf, const char *nul, struct pr_error *err)
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
    const char *slash = memchr(token, '/', (size_t)(token_end - token));
    if (!slash) {
        size_t len = (size_t)(token_end - token);
        return pr_error_set_at(cur->err, -EINVAL, cur->line, nmap_column(cur, token),
                               "expected port/protocol such as \"80/tcp\", found \"%.*s%s\"",
                               nmap_token_print_len(len), token, nmap_token_ellipsis(len));
    }

    uint32_t port = 0;
    bool too_big = false;
    const char *p = token;
    for (; p < slash && *p >= '0' && *p <= '9'; p++) {
        if (!too_big) {
            port = port * 10u + (uint32_t)(*p - '0');
            too_big = port > 65535u;
        }
    }
    size_t port_len = (size_t)(slash - token);
    if (p == token || p != slash)
        return pr_error_set_at(cur->err, -EINVAL, cur->line, nmap_column(cur, token),
                               "port \"%.*s%s\" is not a number", nmap_token_print_len(port_len),
                               token, nmap_token_ellipsis(port_len));
    if (too_big)
        return pr_error_set_at(cur->err, -EINVAL, cur->line, nmap_column(cur, token),
                               "port \"%.*s%s\" is out of range 0-65535",
                               nmap_token_print_len(port_len), token,
                               nmap_token_ellipsis(port_len));

    const char *proto = slash + 1;
    size_t proto_len = (size_t)(token_end - proto);
    if (proto_len == 0)
        return pr_error_set_at(cur->err, -EINVAL, cur->line, nmap_column(cur, proto),
                               "missing protocol after \"/\"");
    int value = registry_proto_parse(proto, proto_len);
    if (value < 0)
        return pr_error_set_at(cur->err, -EINVAL, cur->line, nmap_column(cur, proto),
                               "unknown protocol \"%.*s%s\"", nmap_token_print_len(proto_len),
                               proto, nmap_token_ellipsis(proto_len));
    line->port = (uint16_t)port;
    line->proto = (uint8_t)value;
    return 0;
}

/* Parse the content of one line (CR already removed). Returns 1 when it holds a service,
 * 0 for a blank or comment-only line, -EINVAL on a syntax error, -ENOMEM. */
static int nmap_parse_line(struct nmap_cursor *cur, const char *line_end, struct nmap_line *line)
{
    const char *content_end = memchr(cur->line_start, '#', (size_t)(line_end - cur->line_start));
    line->comment = "";
    line->comment_len = 0;
    if (content_end) {
        const char *comment = nmap_skip_blanks(content_end + 1, line_end);
        const char *comment_end = line_end;
        while (comment_end > comment && nmap_is_blank(comment_end[-1]))
            comment_end--;
        line->comment = comment;
        line->comment_len = (size_t)(comment_end - comment);
    } else {
        content_end = line_end;
    }

    const char *name = nmap_skip_blanks(cur->line_start, content_end);
    if (name == content_end)
        return 0;
    const char *name_end = nmap_token_end(name, content_end);
    line->name = name;
    line->name_len = (size_t)(name_end - name);

    const char *port = nmap_skip_blanks(name_end, content_end);
    if (port == content_end)
        return pr_error_set_at(cur->err, -EINVAL, cur->line, nmap_column(cur, port),
                               "missing port/protocol after service name");
    const char *port_end = nmap_token_end(port, content_end);
    int rc = nmap_parse_port_token(cur, port, port_end, line);
    if (rc < 0)
        return rc;

    const char *frequency = nmap_skip_blanks(port_end, content_end);
    if (frequency == content_end)
        return pr_error_set_at(cur->err, -EINVAL, cur->line, nmap_column(cur, frequency),
                               "missing open-frequency after port/protocol");
    const char *frequency_end = nmap_token_end(frequency, content_end);
    size_t frequency_len = (size_t)(frequency_end - frequency);
    rc = nmap_parse_open_frequency(cur, frequency, frequency_len, &line->frequency);
    if (rc == -EINVAL)
        return pr_error_set_at(cur->err, -EINVAL, cur->line, nmap_column(cur, frequency),
                               "open-frequency \"%.*s%s\" is not a number between 0 and 1",
                               nmap_token_print_len(frequency_len), frequency,
                               nmap_token_ellipsis(frequency_len));
    if (rc < 0)
        return rc;

    const char *extra = nmap_skip_blanks(frequency_end, content_end);
    if (extra != content_end) {
        size_t extra_len = (size_t)(nmap_token_end(extra, content_end) - extra);
        return pr_error_set_at(cur->err, -EINVAL, cur->line, nmap_column(cur, extra),
                               "unexpected \"%.*s%s\" after open-frequency "
                               "(comments start with '#')",
                               nmap_token_print_len(extra_len), extra,
                               nmap_token_ellipsis(extra_len));
    }
    return 1;
}

/* Append the record of a validated line. Returns 0 or -ENOMEM. */
static int nmap_append_line(struct registry_records *out, const struct nmap_line *line,
                            unsigned line_number)
{
    const char *service = arena_strndup(&out->arena, line->name, line->name_len);
    const char *description = line->comment_len
        ? arena_strndup(&out->arena, line->comment, line->comment_len) : "";
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
    if (len == 0)
        return 0;
    const size_t count_before = out->count;
    const char *end = buf + len;
    const char *p = buf;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)   /* UTF-8 byte order mark */
        p += 3;
    const char *nul = memchr(p, '\0', (size_t)(end - p));
    if (nul)
        return nmap_report_nul_byte(p, nul, err);

    struct nmap_cursor cur = { .line_start = p, .line = 0, .err = err,
                               .c_locale = (locale_t)0 };
    int rc = 0;
    while (p < end) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = newline ? newline : end;
        cur.line_start = p;
        cur.line++;
        p = newline ? newline + 1 : end;
        if (line_end > cur.line_start && line_end[-1] == '\r')
            line_end--;

        struct nmap_line line = { 0 };
        rc = nmap_parse_line(&cur, line_end, &line);
        if (rc > 0)
            rc = nmap_append_line(out, &line, cur.line);
        if (rc == -ENOMEM)
            pr_error_set_at(err, rc, cur.line, 0, "out of memory");
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
