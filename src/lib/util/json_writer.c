/* json_writer.c — streaming JSON output (see json_writer.h): bytes are appended to the
 * writer's buffer and flushed with one fwrite per 64 KiB. */
#include "util/json_writer.h"

#include <stdlib.h>
#include <string.h>

#include "util/text_escape.h"

void json_writer_flush(struct json_writer *w)
{
    if (w->used)
        fwrite(w->buffer, 1, w->used, w->out);
    w->used = 0;
}

static inline void put_bytes(struct json_writer *w, const char *bytes, size_t len)
{
    if (__builtin_expect(w->used + len > sizeof w->buffer, 0)) {
        json_writer_flush(w);
        if (len > sizeof w->buffer) {
            fwrite(bytes, 1, len, w->out);
            return;
        }
    }
    memcpy(w->buffer + w->used, bytes, len);
    w->used += len;
}

static inline void put_char(struct json_writer *w, char c)
{
    if (__builtin_expect(w->used == sizeof w->buffer, 0))
        json_writer_flush(w);
    w->buffer[w->used++] = c;
}

static void put_text(struct json_writer *w, const char *text)
{
    put_bytes(w, text, strlen(text));
}

void json_writer_init(struct json_writer *w, FILE *out, bool pretty)
{
    w->used = 0;
    w->depth = 0;
    w->after_key = false;
    memset(w->first, 0, sizeof w->first);
    w->out = out;
    w->pretty = pretty;
    w->first[0] = true;
}

static void newline_indent(struct json_writer *w)
{
    if (!w->pretty)
        return;
    put_char(w, '\n');
    for (int i = 0; i < w->depth; i++)
        put_bytes(w, "  ", 2);
}

/* Before any value: the comma and indentation that separate it from the previous one. */
static void before_value(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (!w->first[w->depth])
            put_char(w, ',');
        newline_indent(w);
    }
    w->first[w->depth] = false;
}

static void open_container(struct json_writer *w, char c)
{
    before_value(w);
    put_char(w, c);
    if (w->depth + 1 < JSON_WRITER_MAX_DEPTH)
        w->depth++;
    w->first[w->depth] = true;
}

static void close_container(struct json_writer *w, char c)
{
    bool empty = w->first[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (!empty)
        newline_indent(w);
    put_char(w, c);
}

void json_writer_object_begin(struct json_writer *w) { open_container(w, '{'); }
void json_writer_object_end(struct json_writer *w) { close_container(w, '}'); }
void json_writer_array_begin(struct json_writer *w) { open_container(w, '['); }
void json_writer_array_end(struct json_writer *w) { close_container(w, ']'); }

/* JSON-escape valid UTF-8: '"', '\\', C0 controls, DEL and C1 controls (U+007F-U+009F are valid
 * JSON, but a terminal acts on them when the document is shown). */
static void write_escaped_valid(struct json_writer *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s, *end = s + len;
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        unsigned code = c;
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
            continue;
        if (c >= 0x80) {
            if (c != 0xC2 || s + 1 >= end || (unsigned char)s[1] > 0x9F)
                continue;
            code = (unsigned char)s[1];   /* U+0080-U+009F */
        }
        put_bytes(w, run, (size_t)(s - run));
        switch (c) {
        case '"': put_bytes(w, "\\\"", 2); break;
        case '\\': put_bytes(w, "\\\\", 2); break;
        case '\n': put_bytes(w, "\\n", 2); break;
        case '\t': put_bytes(w, "\\t", 2); break;
        case '\r': put_bytes(w, "\\r", 2); break;
        default: {
            char esc[6] = { '\\', 'u', '0', '0', hex[code >> 4], hex[code & 15] };
            put_bytes(w, esc, sizeof esc);
        }
        }
        if (c >= 0x80)
            s++;
        run = s + 1;
    }
    put_bytes(w, run, (size_t)(s - run));
}

/* A JSON string of s. Text that is not valid UTF-8 (JSON must be) is written in its
 * text_escape form, the same text the table shows; the key is never dropped. */
static void write_escaped(struct json_writer *w, const char *s)
{
    size_t len = strlen(s);
    put_char(w, '"');
    if (text_utf8_valid(s, len)) {
        write_escaped_valid(w, s, len);
    } else {
        /* in slices, so no allocation: a slice never ends inside a character */
        char escaped[256 * 4 + 1];
        while (len > 0) {
            size_t take = len < 256 ? len : text_utf8_cut(s, 256);
            if (take == 0)
                take = len < 256 ? len : 256;
            size_t n = text_escape(s, take, escaped, sizeof escaped);
            write_escaped_valid(w, escaped, n);
            s += take;
            len -= take;
        }
    }
    put_char(w, '"');
}

void json_writer_key(struct json_writer *w, const char *key)
{
    before_value(w);
    /* keys are the program's own ASCII names: no escaping to look for */
    put_char(w, '"');
    put_text(w, key);
    put_bytes(w, "\":", 2);
    if (w->pretty)
        put_char(w, ' ');
    w->after_key = true;
}

void json_writer_raw_key(struct json_writer *w, const char *quoted_key_colon, size_t len)
{
    before_value(w);
    put_bytes(w, quoted_key_colon, len);
    if (w->pretty)
        put_char(w, ' ');
    w->after_key = true;
}

void json_writer_string(struct json_writer *w, const char *s)
{
    before_value(w);
    if (s)
        write_escaped(w, s);
    else
        put_bytes(w, "null", 4);
}

static void put_unsigned(struct json_writer *w, uint64_t v)
{
    char buf[24];
    int i = (int)sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_bytes(w, buf + i, sizeof buf - (size_t)i);
}

void json_writer_int(struct json_writer *w, int64_t v)
{
    before_value(w);
    if (v < 0) {
        put_char(w, '-');
        put_unsigned(w, (uint64_t)0 - (uint64_t)v);
    } else {
        put_unsigned(w, (uint64_t)v);
    }
}

void json_writer_uint(struct json_writer *w, uint64_t v)
{
    before_value(w);
    put_unsigned(w, v);
}

void json_writer_bool(struct json_writer *w, bool v)
{
    before_value(w);
    put_text(w, v ? "true" : "false");
}

void json_writer_null(struct json_writer *w)
{
    before_value(w);
    put_bytes(w, "null", 4);
}

void json_writer_end_document(struct json_writer *w)
{
    put_char(w, '\n');
    json_writer_flush(w);
    w->depth = 0;
    w->first[0] = true;
    w->after_key = false;
}

json_t *json_textn(const char *s, size_t len)
{
    if (!s)
        return json_null();
    if (text_utf8_valid(s, len))
        return json_stringn_nocheck(s, len);
    char *escaped = text_escape_dup(s, len);
    json_t *value = escaped ? json_string_nocheck(escaped) : NULL;
    free(escaped);
    return value;
}

json_t *json_text(const char *s)
{
    return json_textn(s, s ? strlen(s) : 0);
}
