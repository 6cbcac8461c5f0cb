/* test_text_escape.c — unit tests of the one escaping rule (util/text_escape.c) and of the JSON
 * writer's string validation (util/json_writer.c): UTF-8 quirks (overlongs, surrogates, beyond
 * U+10FFFF, truncated sequences at the end of the buffer, stray continuation bytes, embedded
 * NUL), C1 controls and bidi overrides, truncation at whole escapes, and JSON that stays valid
 * and keeps every key whatever bytes a string holds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/json_writer.h"
#include "util/text_escape.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* The escaped form of input[0..len) must be expected, with text_escape_length, text_escape_dup,
 * text_escape_needed agreeing, and the result itself valid UTF-8 with no control byte. */
static void expect_escape_n(const char *input, size_t len, const char *expected)
{
    char out[512];
    size_t n = text_escape(input, len, out, sizeof out);
    assert_string_equal(out, expected);
    assert_int_equal(n, strlen(expected));
    assert_int_equal(text_escape_length(input, len), strlen(expected));
    assert_int_equal(text_escape_needed(input, len), len != n || memcmp(input, out, n) != 0);
    char *dup = text_escape_dup(input, len);
    assert_non_null(dup);
    assert_string_equal(dup, expected);
    free(dup);
    assert_true(text_utf8_valid(out, n));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        assert_false(c < 0x20 || c == 0x7F);
        if (c == 0xC2 && i + 1 < n)
            assert_false((unsigned char)out[i + 1] <= 0x9F);   /* no C1 control */
    }
}

static void expect_escape(const char *input, const char *expected)
{
    expect_escape_n(input, strlen(input), expected);
}

/* ---- UTF-8 validation ---------------------------------------------------------------- */

static void valid_sequences_of_every_length(void **state)
{
    (void)state;
    uint32_t cp = 0;
    assert_int_equal(text_utf8_sequence("A", 1, &cp), 1);
    assert_int_equal(cp, 0x41);
    assert_int_equal(text_utf8_sequence("\xc3\xa9", 2, &cp), 2);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(text_utf8_sequence("\xe2\x82\xac", 3, &cp), 3);
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(text_utf8_sequence("\xf0\x9f\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
    assert_int_equal(text_utf8_sequence("\xf4\x8f\xbf\xbf", 4, &cp), 4);
    assert_int_equal(cp, 0x10FFFF);
    assert_int_equal(text_utf8_sequence("\xed\x9f\xbf", 3, &cp), 3);   /* U+D7FF */
    assert_int_equal(text_utf8_sequence("\xee\x80\x80", 3, &cp), 3);   /* U+E000 */
    assert_true(text_utf8_valid("", 0));
    assert_true(text_utf8_valid("caf\xc3\xa9 \xe2\x82\xac", 9));
}

static void invalid_sequences_are_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        { "\x80", 1 },                   /* lone continuation */
        { "\xbf", 1 },
        { "\xc0\xaf", 2 },               /* overlong '/' */
        { "\xc1\xbf", 2 },               /* overlong */
        { "\xe0\x80\xaf", 3 },           /* overlong, 3 bytes */
        { "\xe0\x9f\xbf", 3 },           /* overlong U+07FF */
        { "\xf0\x80\x80\xaf", 4 },       /* overlong, 4 bytes */
        { "\xf0\x8f\xbf\xbf", 4 },       /* overlong U+FFFF */
        { "\xed\xa0\x80", 3 },           /* surrogate U+D800 */
        { "\xed\xbf\xbf", 3 },           /* surrogate U+DFFF */
        { "\xf4\x90\x80\x80", 4 },       /* U+110000 */
        { "\xf5\x80\x80\x80", 4 },       /* lead beyond F4 */
        { "\xff", 1 },
        { "\xfe", 1 },
        { "\xc3", 1 },                   /* truncated at the end */
        { "\xe2\x82", 2 },
        { "\xf0\x9f\x98", 3 },
        { "\xc3(", 2 },                  /* lead without its continuation */
        { "\xe2\x28\xa1", 3 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(text_utf8_sequence(bad[i].bytes, bad[i].len, NULL), 0);
        assert_false(text_utf8_valid(bad[i].bytes, bad[i].len));
    }
    /* a valid sequence is not read past the length given */
    assert_int_equal(text_utf8_sequence("\xc3\xa9", 1, NULL), 0);
    assert_int_equal(text_utf8_sequence("", 0, NULL), 0);
}

static void utf8_cut_never_ends_inside_a_character(void **state)
{
    (void)state;
    assert_int_equal(text_utf8_cut("abc", 3), 3);
    assert_int_equal(text_utf8_cut("ab\xc3", 3), 2);
    assert_int_equal(text_utf8_cut("ab\xc3\xa9", 4), 4);
    assert_int_equal(text_utf8_cut("a\xe2\x82", 3), 1);
    assert_int_equal(text_utf8_cut("a\xe2\x82\xac", 4), 4);
    assert_int_equal(text_utf8_cut("\xf0\x9f\x98", 3), 0);
    assert_int_equal(text_utf8_cut("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(text_utf8_cut("", 0), 0);
    /* stray continuation bytes are not a character to protect: left for the escaper */
    assert_int_equal(text_utf8_cut("a\x80\x80\x80\x80", 5), 5);
}

/* ---- escaping -------------------------------------------------------------------------- */

static void printable_text_is_kept(void **state)
{
    (void)state;
    expect_escape("nginx", "nginx");
    expect_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    expect_escape("a \"quoted\" 'name'", "a \"quoted\" 'name'");
    expect_escape("", "");
    char out[4];
    assert_false(text_escape_needed("plain", 5));
    assert_int_equal(text_escape("", 0, out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void controls_use_c_escapes(void **state)
{
    (void)state;
    expect_escape("a\\b", "a\\\\b");
    expect_escape("\a\b\f\n\r\t\v", "\\a\\b\\f\\n\\r\\t\\v");
    expect_escape("\x1b[2J\x1b]0;X\a", "\\x1b[2J\\x1b]0;X\\a");
    expect_escape("\x01\x1f\x7f", "\\x01\\x1f\\x7f");
    expect_escape("col1\tcol2\nrow2", "col1\\tcol2\\nrow2");
}

static void invalid_utf8_is_escaped_byte_by_byte(void **state)
{
    (void)state;
    expect_escape("abc\xff\xfe" "def\r\n", "abc\\xff\\xfedef\\r\\n");
    expect_escape("\xc0\xaf", "\\xc0\\xaf");                    /* overlong */
    expect_escape("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
    expect_escape("\xed\xa0\x80", "\\xed\\xa0\\x80");           /* surrogate */
    expect_escape("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");  /* > U+10FFFF */
    expect_escape("ok\xe2\x82", "ok\\xe2\\x82");                 /* truncated at the end */
    expect_escape("\xc3(", "\\xc3(");                            /* lead, then ASCII */
    expect_escape("\x80\xc3\xa9", "\\x80\xc3\xa9");              /* stray, then valid */
}

static void embedded_nul_is_escaped_when_the_length_is_given(void **state)
{
    (void)state;
    expect_escape_n("a\0b", 3, "a\\x00b");
    expect_escape_n("\0", 1, "\\x00");
}

static void c1_controls_and_bidi_overrides_are_escaped(void **state)
{
    (void)state;
    expect_escape("\xc2\x80", "\\xc2\\x80");          /* U+0080 */
    expect_escape("\xc2\x9b" "2J", "\\xc2\\x9b" "2J"); /* U+009B, CSI */
    expect_escape("\xc2\x9f", "\\xc2\\x9f");
    expect_escape("\xc2\xa0", "\xc2\xa0");            /* U+00A0 is printable: kept */
    expect_escape("a\xe2\x80\xae" "b", "a\\xe2\\x80\\xae" "b");   /* U+202E RIGHT-TO-LEFT OVERRIDE */
    expect_escape("\xe2\x81\xa6", "\\xe2\\x81\\xa6");  /* U+2066 */
    expect_escape("\xe2\x80\x94", "\xe2\x80\x94");     /* U+2014 em dash: kept */
}

static void escaping_stops_at_the_last_whole_unit_that_fits(void **state)
{
    (void)state;
    char out[6];
    /* "ab\x1b" → "ab\\x1b" is 6 bytes: with 5 of room the escape is left out, not cut */
    assert_int_equal(text_escape("ab\x1b", 3, out, sizeof out), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(text_escape("abcdefgh", 8, out, sizeof out), 5);
    assert_string_equal(out, "abcde");
    assert_int_equal(text_escape("abcd\xc3\xa9", 6, out, sizeof out), 4);   /* é needs 2 */
    assert_string_equal(out, "abcd");
    assert_int_equal(text_escape("\\\\\\", 3, out, sizeof out), 4);
    assert_string_equal(out, "\\\\\\\\");
    char one[1];
    assert_int_equal(text_escape("x", 1, one, sizeof one), 0);
    assert_string_equal(one, "");
}

static void escape_in_place_fills_a_fixed_field(void **state)
{
    (void)state;
    /* the longest comm the kernel keeps, 15 bytes, all escaped, fits comm[64] */
    char comm[64] = "\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b\x1b";
    text_escape_in_place(comm, sizeof comm);
    assert_int_equal(strlen(comm), 60);
    assert_memory_equal(comm, "\\x1b\\x1b", 8);
    char name[16] = "\x1b[2J\x1b]0;X\a\xff\xfe";
    text_escape_in_place(name, sizeof name);
    assert_string_equal(name, "\\x1b[2J\\x1b]0;X");   /* cut before the escape of \a */
    char plain[8] = "sshd";
    text_escape_in_place(plain, sizeof plain);
    assert_string_equal(plain, "sshd");
}

static void escaped_prefix_cuts_between_units(void **state)
{
    (void)state;
    const char *e = "ab\\x1bcd\\n\xc3\xa9";
    size_t len = strlen(e);
    assert_int_equal(text_escaped_prefix(e, len, 2), 2);
    assert_int_equal(text_escaped_prefix(e, len, 3), 2);
    assert_int_equal(text_escaped_prefix(e, len, 5), 2);
    assert_int_equal(text_escaped_prefix(e, len, 6), 6);
    assert_int_equal(text_escaped_prefix(e, len, 9), 8);
    assert_int_equal(text_escaped_prefix(e, len, 10), 10);
    assert_int_equal(text_escaped_prefix(e, len, 11), 10);
    assert_int_equal(text_escaped_prefix(e, len, 12), 12);
    assert_int_equal(text_escaped_prefix(e, len, 100), 12);
}

/* ---- the JSON writer ----------------------------------------------------------------- */

/* Write {"name": s, "next": 1} with the streaming writer; the document must parse, keep both
 * keys, and give name's value. Returns the value (caller frees). */
static char *json_writer_roundtrip(const char *s, bool pretty)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    struct json_writer *w = malloc(sizeof *w);
    assert_non_null(w);
    json_writer_init(w, out, pretty);
    json_writer_object_begin(w);
    json_writer_key(w, "name");
    json_writer_string(w, s);
    json_writer_key(w, "next");
    json_writer_int(w, 1);
    json_writer_object_end(w);
    json_writer_end_document(w);
    free(w);
    fclose(out);
    json_error_t error;
    json_t *doc = json_loads(text, 0, &error);
    if (!doc)
        fail_msg("not JSON (%s): %s", error.text, text);
    assert_true(text_utf8_valid(text, strlen(text)));
    for (const char *p = text; *p; p++)
        assert_false((unsigned char)*p < 0x20 && *p != '\n' && *p != ' ');
    assert_int_equal(json_integer_value(json_object_get(doc, "next")), 1);
    json_t *name = json_object_get(doc, "name");
    assert_non_null(name);
    char *value = strdup(json_string_value(name));
    json_decref(doc);
    free(text);
    return value;
}

static void json_writer_keeps_valid_text(void **state)
{
    (void)state;
    const char *cases[] = { "nginx", "caf\xc3\xa9", "tab\there", "quote\" back\\slash", "\x1b[2J", "" };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *value = json_writer_roundtrip(cases[i], i % 2);
        assert_string_equal(value, cases[i]);
        free(value);
    }
}

static void json_writer_escapes_invalid_utf8_and_keeps_the_key(void **state)
{
    (void)state;
    char *value = json_writer_roundtrip("abc\xff\xfe" "def\r\n", false);
    assert_string_equal(value, "abc\\xff\\xfedef\\r\\n");
    free(value);
    value = json_writer_roundtrip("\xed\xa0\x80 and \\ \xc3", true);
    assert_string_equal(value, "\\xed\\xa0\\x80 and \\\\ \\xc3");
    free(value);
    /* longer than one 256-byte slice, a character across the slice border */
    char long_text[600];
    memset(long_text, 'a', sizeof long_text);
    long_text[255] = '\xc3';
    long_text[256] = '\xa9';
    long_text[400] = '\xff';
    long_text[sizeof long_text - 1] = '\0';
    value = json_writer_roundtrip(long_text, false);
    assert_int_equal(strlen(value), sizeof long_text - 1 + 3);
    assert_memory_equal(value + 255, "\xc3\xa9", 2);
    assert_memory_equal(value + 400, "\\xff", 4);
    free(value);
}

static void json_writer_escapes_c1_and_del(void **state)
{
    (void)state;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    struct json_writer *w = malloc(sizeof *w);
    json_writer_init(w, out, false);
    json_writer_string(w, "a\xc2\x9b" "b\x7f\xc2\xa0");
    json_writer_end_document(w);
    free(w);
    fclose(out);
    assert_string_equal(text, "\"a\\u009bb\\u007f\xc2\xa0\"\n");
    free(text);
}

static void json_text_never_returns_null_for_bad_input(void **state)
{
    (void)state;
    json_t *o = json_object();
    assert_int_equal(json_object_set_new(o, "good", json_text("caf\xc3\xa9")), 0);
    assert_int_equal(json_object_set_new(o, "bad", json_text("\x1b\xff")), 0);
    assert_int_equal(json_object_set_new(o, "nul", json_textn("a\0b", 3)), 0);
    assert_int_equal(json_object_set_new(o, "none", json_text(NULL)), 0);
    assert_int_equal(json_object_size(o), 4);
    assert_string_equal(json_string_value(json_object_get(o, "good")), "caf\xc3\xa9");
    assert_string_equal(json_string_value(json_object_get(o, "bad")), "\\x1b\\xff");
    assert_int_equal(json_string_length(json_object_get(o, "nul")), 3);
    assert_true(json_is_null(json_object_get(o, "none")));
    char *dumped = json_dumps(o, JSON_COMPACT);
    assert_non_null(dumped);
    free(dumped);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_sequences_of_every_length),
        cmocka_unit_test(invalid_sequences_are_rejected),
        cmocka_unit_test(utf8_cut_never_ends_inside_a_character),
        cmocka_unit_test(printable_text_is_kept),
        cmocka_unit_test(controls_use_c_escapes),
        cmocka_unit_test(invalid_utf8_is_escaped_byte_by_byte),
        cmocka_unit_test(embedded_nul_is_escaped_when_the_length_is_given),
        cmocka_unit_test(c1_controls_and_bidi_overrides_are_escaped),
        cmocka_unit_test(escaping_stops_at_the_last_whole_unit_that_fits),
        cmocka_unit_test(escape_in_place_fills_a_fixed_field),
        cmocka_unit_test(escaped_prefix_cuts_between_units),
        cmocka_unit_test(json_writer_keeps_valid_text),
        cmocka_unit_test(json_writer_escapes_invalid_utf8_and_keeps_the_key),
        cmocka_unit_test(json_writer_escapes_c1_and_del),
        cmocka_unit_test(json_text_never_returns_null_for_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
