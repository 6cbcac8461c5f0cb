/* fuzz_text_escape.c — libFuzzer harness for the escaper and the UTF-8 validator
 * (src/lib/util/text_escape.c) and the JSON writer's strings (json_writer.c). Checks the
 * promises: the escaped text is valid UTF-8 with no C0, DEL or C1 control, its length is what
 * text_escape_length says, unescaping it gives the input back (the escape is one-to-one), a
 * truncated escape is a prefix at a whole unit, and a JSON document holding the input parses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/json_writer.h"
#include "util/text_escape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undo text_escape; aborts on an escape it never writes. Returns the length. */
static size_t unescape(const char *e, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (e[i] != '\\') {
            out[o++] = e[i];
            continue;
        }
        if (++i >= len)
            abort();
        switch (e[i]) {
        case '\\': out[o++] = '\\'; break;
        case 'a': out[o++] = '\a'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'v': out[o++] = '\v'; break;
        case 'x': {
            if (i + 2 >= len)
                abort();
            int hi = hex_value(e[i + 1]), lo = hex_value(e[i + 2]);
            if (hi < 0 || lo < 0)
                abort();
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
            break;
        }
        default: abort();
        }
    }
    return o;
}

static void check_json_writer(const char *text)
{
    char *doc = NULL;
    size_t doc_size = 0;
    FILE *out = open_memstream(&doc, &doc_size);
    if (!out)
        return;
    static struct json_writer w;
    json_writer_init(&w, out, false);
    json_writer_object_begin(&w);
    json_writer_key(&w, "s");
    json_writer_string(&w, text);
    json_writer_object_end(&w);
    json_writer_end_document(&w);
    fclose(out);
    json_t *parsed = json_loads(doc, 0, NULL);
    if (!parsed || !json_is_string(json_object_get(parsed, "s")))
        abort();
    json_decref(parsed);
    free(doc);
    json_t *value = json_text(text);
    if (!value)
        abort();
    json_decref(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t need = text_escape_length(in, size);
    char *escaped = malloc(need + 1), *back = malloc(need + 1);
    if (!escaped || !back)
        abort();
    size_t n = text_escape(in, size, escaped, need + 1);
    if (n != need || escaped[n] != '\0' || !text_utf8_valid(escaped, n))
        abort();
    if (text_escape_needed(in, size) != (n != size || memcmp(in, escaped, n) != 0))
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)escaped[i];
        if (c < 0x20 || c == 0x7F || (c == 0xC2 && i + 1 < n && (unsigned char)escaped[i + 1] <= 0x9F))
            abort();
    }
    if (unescape(escaped, n, back) != size || memcmp(back, in, size) != 0)
        abort();
    /* valid input is escaped only for its controls: text_utf8_valid agrees with the decoder */
    bool valid = true;
    for (size_t i = 0; i < size;) {
        size_t step = text_utf8_sequence(in + i, size - i, NULL);
        if (step == 0) {
            valid = false;
            break;
        }
        i += step;
    }
    if (valid != text_utf8_valid(in, size))
        abort();
    size_t cut = text_utf8_cut(in, size);
    if (cut > size || (valid && cut != size))
        abort();
    /* a shorter buffer gives a prefix ending at a whole unit */
    size_t room = size % 17 + 1;
    char small[18];
    size_t m = text_escape(in, size, small, room);
    if (m >= room || memcmp(small, escaped, m) != 0 || text_escaped_prefix(escaped, n, m) != m)
        abort();
    size_t prefix = text_escaped_prefix(escaped, n, size);
    if (prefix > n || prefix > size || !text_utf8_valid(escaped, prefix))
        abort();
    /* the JSON writer takes NUL-terminated text */
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, in, size);
    text[size] = '\0';
    check_json_writer(text);
    free(text);
    free(escaped);
    free(back);
    return 0;
}
