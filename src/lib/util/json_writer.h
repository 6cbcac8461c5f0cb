/* json_writer.h — a small streaming JSON writer for outputs too large to build as a jansson
 * tree first (`ls --json` of 100k sockets): values are written to a FILE* as they come, with
 * commas and nesting tracked here and strings escaped per RFC 8259. --ndjson writes one
 * compact document per line with the same writer. Output is gathered in the writer's own
 * buffer and handed to stdio in large blocks (stdio's per-call cost was the hot spot).
 * Strings are validated: text that is not UTF-8 is written in its text_escape form, never
 * dropped; json_text() is the same rule for documents built as jansson trees. */
#ifndef PORTREG_UTIL_JSON_WRITER_H
#define PORTREG_UTIL_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define JSON_WRITER_MAX_DEPTH 32

struct json_writer {
    FILE *out;
    bool pretty;
    int depth;
    bool first[JSON_WRITER_MAX_DEPTH];   /* no value written yet at this depth */
    bool after_key;
    size_t used;
    char buffer[1 << 16];
};

void json_writer_init(struct json_writer *w, FILE *out, bool pretty);
void json_writer_object_begin(struct json_writer *w);
void json_writer_object_end(struct json_writer *w);
void json_writer_array_begin(struct json_writer *w);
void json_writer_array_end(struct json_writer *w);
/* key must be plain ASCII without '"' or '\\' (the program's own field names). */
void json_writer_key(struct json_writer *w, const char *key);
/* The same for a string literal: the quoted key and colon are one copy. */
#define json_writer_key_literal(w, key) \
    json_writer_raw_key((w), "\"" key "\":", sizeof("\"" key "\":") - 1)
void json_writer_raw_key(struct json_writer *w, const char *quoted_key_colon, size_t len);
/* NULL writes null; text that is not valid UTF-8 is written as text_escape shows it. */
void json_writer_string(struct json_writer *w, const char *s);
void json_writer_int(struct json_writer *w, int64_t v);
void json_writer_uint(struct json_writer *w, uint64_t v);
void json_writer_bool(struct json_writer *w, bool v);
void json_writer_null(struct json_writer *w);
/* End a top-level document with a newline (for NDJSON, one document per line) and flush. */
void json_writer_end_document(struct json_writer *w);
/* Hand what is buffered to the FILE*. */
void json_writer_flush(struct json_writer *w);

/* A jansson string of s[0..len) that is never NULL for bad input: json_string() returns NULL on
 * text that is not UTF-8 and json_object_set_new() then drops the key without a word. Valid
 * UTF-8 is kept as it is (NUL bytes too, as \u0000); other text becomes its text_escape form.
 * A NULL s gives json null. */
json_t *json_textn(const char *s, size_t len);
json_t *json_text(const char *s);

#endif
