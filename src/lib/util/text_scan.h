/* text_scan.h — scanning helpers shared by the line-based parsers services_file.c and
 * nmap_services.c (iana_csv.c shares the NUL message): a line reader that drops "\n" / "\r\n",
 * blanks, tokens, '#' comments, ports, 1-based lines and columns, the NUL-byte check and short
 * token excerpts for error messages. All work on [start, end) byte ranges and never allocate;
 * those run for every line or token are static inline (the library is built without LTO). */
#ifndef PORTREG_UTIL_TEXT_SCAN_H
#define PORTREG_UTIL_TEXT_SCAN_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/error.h"

/* Message of the error for input holding a NUL byte (binary data, not a text file). */
#define TEXT_NUL_BYTE_MESSAGE "NUL byte: this is not a text file"

/* Longest token quoted in an error message; a longer one is cut there and "..." appended. */
#define TEXT_EXCERPT_MAX 64
/* Size of the buffer text_excerpt() fills: the cut token, "..." and the closing NUL. */
#define TEXT_EXCERPT_SIZE (TEXT_EXCERPT_MAX + sizeof "...")

/* One line as text_line_reader_next() yields it: [start, end) without "\n" or "\r\n". */
struct text_line {
    const char *start;
    const char *end;
    unsigned number;   /* 1-based (stays at UINT_MAX past it) */
};

/* Walks a buffer line by line. A final line without '\n' is still a line; an empty buffer has
 * none. Only a '\r' right before a '\n' (or right before the end of the buffer) is dropped. */
struct text_line_reader {
    const char *pos;   /* start of the next line */
    const char *end;
    unsigned number;   /* number of the line last yielded, 0 before the first */
};

/* A piece of a line: [start, start + len). */
struct text_token {
    const char *start;
    size_t len;
};

/* Walks the blank-separated tokens of a range (a line's content, comment cut off). */
struct text_token_reader {
    const char *pos;   /* just past the token last read */
    const char *end;
};

/* ---- reading a buffer ------------------------------------------------------------------ */

/* Read the lines of buf[0..len) as they are (buf may be NULL when len is 0). */
void text_line_reader_init(struct text_line_reader *reader, const char *buf, size_t len);
/* Read buf[0..len) as a text file: skip a UTF-8 byte order mark (line 1, column 1 is the byte
 * after it) and refuse a NUL byte. Returns 0, or -EINVAL with err (may be NULL) set to
 * TEXT_NUL_BYTE_MESSAGE at the NUL's line and column. */
int text_line_reader_open_text(struct text_line_reader *reader, const char *buf, size_t len,
                               struct pr_error *err);
/* p past a UTF-8 byte order mark (EF BB BF) at the start of [p, end); p when there is none. */
const char *text_skip_utf8_bom(const char *p, const char *end);

/* Everything after the token last read, without the blanks around it (len 0 when none). */
struct text_token text_token_reader_rest(const struct text_token_reader *reader);

/* ---- positions and error messages (the error path) ------------------------------------- */

/* 1-based byte column of `at` on the line starting at line_start (UINT_MAX at the most). */
unsigned text_column(const char *line_start, const char *at);
/* 1-based line of `at` in the text starting at text_begin (lines end with '\n'; UINT_MAX at the
 * most); sets *line_start to the first byte of that line. Counts from text_begin. */
unsigned text_locate_line(const char *text_begin, const char *at, const char **line_start);
/* Look for a NUL byte in buf[0..len). When there is one, set *line and *column (1-based; the
 * column in bytes) to its place and return true; false otherwise (line, column untouched). */
bool text_find_nul(const char *buf, size_t len, unsigned *line, unsigned *column);
/* token[0..len) for quoting in an error message: at most TEXT_EXCERPT_MAX bytes, "..." appended
 * when it was cut. Written to buf (TEXT_EXCERPT_SIZE bytes), which is returned. */
const char *text_excerpt(const char *token, size_t len, char buf[TEXT_EXCERPT_SIZE]);
/* Fill err (may be NULL) with -EINVAL at line->number and the column of `at` on that line, and
 * the printf-style message; returns -EINVAL. For syntax errors found on a line. */
int text_error_at(struct pr_error *err, const struct text_line *line, const char *at,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- per line and per token (static inline) -------------------------------------------- */

/* Set *line to the next line and return true, or return false at the end of the buffer. */
static inline bool text_line_reader_next(struct text_line_reader *reader,
                                         struct text_line *line)
{
    const char *start = reader->pos, *end = reader->end;
    if (start >= end)
        return false;
    const char *newline = memchr(start, '\n', (size_t)(end - start));
    const char *line_end = newline ? newline : end;
    reader->pos = newline ? newline + 1 : end;
    if (line_end > start && line_end[-1] == '\r')
        line_end--;
    if (reader->number < UINT_MAX)
        reader->number++;
    line->start = start;
    line->end = line_end;
    line->number = reader->number;
    return true;
}

/* ' ' or '\t': what separates the tokens of a line. */
static inline bool text_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* First byte in [p, end) that is not a blank, or end. */
static inline const char *text_skip_blanks(const char *p, const char *end)
{
    while (p < end && text_is_blank(*p))
        p++;
    return p;
}

/* First blank in [p, end) (the end of the token starting at p), or end. */
static inline const char *text_token_end(const char *p, const char *end)
{
    while (p < end && !text_is_blank(*p))
        p++;
    return p;
}

/* end moved back over the blanks that close [start, end); never before start. */
static inline const char *text_trim_trailing_blanks(const char *start, const char *end)
{
    while (end > start && text_is_blank(end[-1]))
        end--;
    return end;
}

/* Split a line [start, end) at its first '#'. Returns where the content ends (the '#', or end)
 * and sets *comment to the text after the '#' without the blanks around it (len 0 when it is
 * empty; start "" when the line has no '#'). */
static inline const char *text_cut_comment(const char *start, const char *end,
                                           struct text_token *comment)
{
    const char *hash = memchr(start, '#', (size_t)(end - start));
    if (!hash) {
        *comment = (struct text_token){ "", 0 };
        return end;
    }
    const char *text = text_skip_blanks(hash + 1, end);
    *comment = (struct text_token){ text, (size_t)(text_trim_trailing_blanks(text, end) - text) };
    return hash;
}

static inline void text_token_reader_init(struct text_token_reader *reader, const char *start,
                                          const char *end)
{
    reader->pos = start;
    reader->end = end;
}

/* Set *token to the next token and return true; at the end return false with token->start at
 * the end of the range (where a missing token is reported) and token->len 0. */
static inline bool text_token_reader_next(struct text_token_reader *reader,
                                          struct text_token *token)
{
    const char *start = text_skip_blanks(reader->pos, reader->end);
    reader->pos = text_token_end(start, reader->end);
    token->start = start;
    token->len = (size_t)(reader->pos - start);
    return token->len > 0;
}

/* Same, but a missing token is an error: returns -EINVAL with err (may be NULL) set to
 * missing_message (plain text) at the end of the range on line; 0 otherwise. */
static inline int text_token_reader_require(struct text_token_reader *reader,
                                            struct text_token *token,
                                            const struct text_line *line, struct pr_error *err,
                                            const char *missing_message)
{
    if (text_token_reader_next(reader, token))
        return 0;
    return text_error_at(err, line, token->start, "%s", missing_message);
}

/* Parse [start, end) as a decimal port 0-65535. Returns 0 with *port set, -EINVAL when the
 * range is empty or holds a non-digit, -ERANGE when the number is above 65535 (any length). */
static inline int text_parse_port(const char *start, const char *end, uint16_t *port)
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
    if (p == start || p != end)
        return -EINVAL;
    if (too_big)
        return -ERANGE;
    *port = (uint16_t)value;
    return 0;
}

#endif
