/* json_writer.c — streaming JSON output (see json_writer.h). Uses the unlocked stdio calls:
 * one thread writes one document. */
#include "util/json_writer.h"

#include <inttypes.h>
#include <string.h>

void json_writer_init(struct json_writer *w, FILE *out, bool pretty)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->pretty = pretty;
    w->first[0] = true;
}

static void newline_indent(struct json_writer *w)
{
    if (!w->pretty)
        return;
    putc_unlocked('\n', w->out);
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->out);
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
            putc_unlocked(',', w->out);
        newline_indent(w);
    }
    w->first[w->depth] = false;
}

static void open_container(struct json_writer *w, char c)
{
    before_value(w);
    putc_unlocked(c, w->out);
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
    putc_unlocked(c, w->out);
}

void json_writer_object_begin(struct json_writer *w) { open_container(w, '{'); }
void json_writer_object_end(struct json_writer *w) { close_container(w, '}'); }
void json_writer_array_begin(struct json_writer *w) { open_container(w, '['); }
void json_writer_array_end(struct json_writer *w) { close_container(w, ']'); }

static void write_escaped(FILE *out, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    putc_unlocked('"', out);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        fwrite(run, 1, (size_t)(s - run), out);
        run = s + 1;
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        case '\r': fputs("\\r", out); break;
        default:
            fputs("\\u00", out);
            putc_unlocked(hex[c >> 4], out);
            putc_unlocked(hex[c & 15], out);
        }
    }
    fwrite(run, 1, (size_t)(s - run), out);
    putc_unlocked('"', out);
}

void json_writer_key(struct json_writer *w, const char *key)
{
    before_value(w);
    write_escaped(w->out, key);
    putc_unlocked(':', w->out);
    if (w->pretty)
        putc_unlocked(' ', w->out);
    w->after_key = true;
}

void json_writer_string(struct json_writer *w, const char *s)
{
    before_value(w);
    if (s)
        write_escaped(w->out, s);
    else
        fputs("null", w->out);
}

void json_writer_int(struct json_writer *w, int64_t v)
{
    before_value(w);
    fprintf(w->out, "%" PRId64, v);
}

void json_writer_uint(struct json_writer *w, uint64_t v)
{
    before_value(w);
    /* hand-rolled: this runs a million times for a large listing, printf is the hot spot */
    char buf[24];
    int i = (int)sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fwrite(buf + i, 1, sizeof buf - (size_t)i, w->out);
}

void json_writer_bool(struct json_writer *w, bool v)
{
    before_value(w);
    fputs(v ? "true" : "false", w->out);
}

void json_writer_null(struct json_writer *w)
{
    before_value(w);
    fputs("null", w->out);
}

void json_writer_end_document(struct json_writer *w)
{
    putc_unlocked('\n', w->out);
    w->depth = 0;
    w->first[0] = true;
    w->after_key = false;
}
