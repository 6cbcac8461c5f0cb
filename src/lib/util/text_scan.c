/* text_scan.c — the out-of-line part of text_scan.h: opening a buffer as text, positions and
 * error messages. Positions (lines, columns) are only computed on the error path, by counting
 * from the start of the text; the per-line and per-token helpers are inline in the header. */
#include "util/text_scan.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void text_line_reader_init(struct text_line_reader *reader, const char *buf, size_t len)
{
    reader->pos = buf;
    reader->end = len ? buf + len : buf;
    reader->number = 0;
}

int text_line_reader_open_text(struct text_line_reader *reader, const char *buf, size_t len,
                               struct pr_error *err)
{
    text_line_reader_init(reader, buf, len);
    if (len == 0)
        return 0;
    reader->pos = text_skip_utf8_bom(reader->pos, reader->end);
    unsigned line, column;
    if (text_find_nul(reader->pos, (size_t)(reader->end - reader->pos), &line, &column))
        return pr_error_set_at(err, -EINVAL, line, column, TEXT_NUL_BYTE_MESSAGE);
    return 0;
}

const char *text_skip_utf8_bom(const char *p, const char *end)
{
    if (end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        return p + 3;
    return p;
}

struct text_token text_token_reader_rest(const struct text_token_reader *reader)
{
    const char *start = text_skip_blanks(reader->pos, reader->end);
    return (struct text_token){ start, (size_t)(text_trim_trailing_blanks(start, reader->end) -
                                                start) };
}

unsigned text_column(const char *line_start, const char *at)
{
    size_t offset = (size_t)(at - line_start);
    return offset >= UINT_MAX ? UINT_MAX : (unsigned)offset + 1u;
}

unsigned text_locate_line(const char *text_begin, const char *at, const char **line_start)
{
    unsigned line = 1;
    const char *start = text_begin, *newline;
    while ((newline = memchr(start, '\n', (size_t)(at - start))) != NULL) {
        if (line < UINT_MAX)
            line++;
        start = newline + 1;
    }
    *line_start = start;
    return line;
}

bool text_find_nul(const char *buf, size_t len, unsigned *line, unsigned *column)
{
    if (len == 0)
        return false;
    const char *nul = memchr(buf, '\0', len);
    if (!nul)
        return false;
    const char *line_start;
    *line = text_locate_line(buf, nul, &line_start);
    *column = text_column(line_start, nul);
    return true;
}

const char *text_excerpt(const char *token, size_t len, char buf[TEXT_EXCERPT_SIZE])
{
    size_t shown = len > TEXT_EXCERPT_MAX ? TEXT_EXCERPT_MAX : len;
    memcpy(buf, token, shown);
    if (shown < len) {
        memcpy(buf + shown, "...", sizeof "...");
    } else {
        buf[shown] = '\0';
    }
    return buf;
}

int text_error_at(struct pr_error *err, const struct text_line *line, const char *at,
                  const char *fmt, ...)
{
    if (!err)
        return -EINVAL;
    char message[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return pr_error_set_at(err, -EINVAL, line->number, text_column(line->start, at), "%s",
                           message);
}
