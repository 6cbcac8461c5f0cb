/* test_text_scan.c — unit tests of the shared scanning helpers (util/text_scan.c, .h).
 * Every helper is covered: line reading (LF, CRLF, lone CR, missing final newline, BOM, NUL
 * rejection), blanks, tokens, comments, ports, positions (lines, columns, NUL place), token
 * excerpts (short, exactly at the cap, cut with "...") and error messages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "util/text_scan.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* Read every line of buf[0..len) and check it against expected[] (texts without line ends,
 * numbered from 1). */
static void expect_lines(const char *buf, size_t len, const char *const *expected, size_t count)
{
    struct text_line_reader reader;
    text_line_reader_init(&reader, buf, len);
    struct text_line line = { 0 };
    for (size_t i = 0; i < count; i++) {
        if (!text_line_reader_next(&reader, &line))
            fail_msg("line %zu missing", i + 1);
        size_t got_len = (size_t)(line.end - line.start);
        if (got_len != strlen(expected[i]) || memcmp(line.start, expected[i], got_len) != 0)
            fail_msg("line %zu: got \"%.*s\", want \"%s\"", i + 1, (int)got_len, line.start,
                     expected[i]);
        assert_int_equal(line.number, i + 1);
    }
    assert_false(text_line_reader_next(&reader, &line));
    assert_false(text_line_reader_next(&reader, &line));   /* stays at the end */
}

static void expect_token(const struct text_token *token, const char *text)
{
    size_t len = strlen(text);
    if (token->len != len || memcmp(token->start, text, len) != 0)
        fail_msg("token \"%.*s\", want \"%s\"", (int)token->len, token->start, text);
}

/* A text_line over the whole of text, as the reader would yield it as line `number`. */
static struct text_line whole_line(const char *text, unsigned number)
{
    return (struct text_line){ text, text + strlen(text), number };
}

/* ---- line reader ---------------------------------------------------------------------- */

static void lines_end_with_lf_or_crlf(void **state)
{
    (void)state;
    static const char *const expected[] = { "one", "two", "", "three" };
    const char *lf = "one\ntwo\n\nthree\n";
    expect_lines(lf, strlen(lf), expected, 4);
    const char *crlf = "one\r\ntwo\r\n\r\nthree\r\n";
    expect_lines(crlf, strlen(crlf), expected, 4);
    const char *mixed = "one\r\ntwo\n\r\nthree\n";
    expect_lines(mixed, strlen(mixed), expected, 4);
}

static void missing_final_newline_still_gives_the_last_line(void **state)
{
    (void)state;
    static const char *const expected[] = { "first", "last" };
    expect_lines("first\nlast", 10, expected, 2);
    expect_lines("first\r\nlast", 11, expected, 2);
    expect_lines("first\r\nlast\r", 12, expected, 2);   /* a CR right at the end goes too */
    static const char *const single[] = { "only" };
    expect_lines("only", 4, single, 1);
}

static void empty_buffers_and_empty_lines(void **state)
{
    (void)state;
    expect_lines(NULL, 0, NULL, 0);
    expect_lines("", 0, NULL, 0);
    static const char *const one_empty[] = { "" };
    expect_lines("\n", 1, one_empty, 1);
    expect_lines("\r\n", 2, one_empty, 1);
    expect_lines("\r", 1, one_empty, 1);
    static const char *const two_empty[] = { "", "" };
    expect_lines("\n\n", 2, two_empty, 2);
}

static void only_the_cr_before_a_line_end_is_dropped(void **state)
{
    (void)state;
    static const char *const expected[] = { "a\rb", "c\r", "d" };
    const char *text = "a\rb\nc\r\r\nd";
    expect_lines(text, strlen(text), expected, 3);
}

static void line_reader_stops_at_len_not_at_nul(void **state)
{
    (void)state;
    static const char text[] = "a\0b\nc\nnot read";
    struct text_line_reader reader;
    text_line_reader_init(&reader, text, 6);
    struct text_line line = { 0 };
    assert_true(text_line_reader_next(&reader, &line));
    assert_int_equal(line.end - line.start, 3);
    assert_memory_equal(line.start, "a\0b", 3);
    assert_true(text_line_reader_next(&reader, &line));
    assert_int_equal(line.end - line.start, 1);
    assert_int_equal(line.number, 2);
    assert_false(text_line_reader_next(&reader, &line));
}

static void line_number_saturates_at_uint_max(void **state)
{
    (void)state;
    struct text_line_reader reader;
    text_line_reader_init(&reader, "a\nb\nc\n", 6);
    reader.number = UINT_MAX - 1;
    struct text_line line = { 0 };
    assert_true(text_line_reader_next(&reader, &line));
    assert_int_equal(line.number, UINT_MAX);
    assert_true(text_line_reader_next(&reader, &line));
    assert_int_equal(line.number, UINT_MAX);
}

static void open_text_skips_the_byte_order_mark(void **state)
{
    (void)state;
    const char *text = "\xEF\xBB\xBF" "first\r\nsecond";
    struct text_line_reader reader;
    struct pr_error err = { 0 };
    assert_int_equal(text_line_reader_open_text(&reader, text, strlen(text), &err), 0);
    struct text_line line = { 0 };
    assert_true(text_line_reader_next(&reader, &line));
    assert_int_equal(line.number, 1);
    assert_ptr_equal(line.start, text + 3);
    assert_int_equal(line.end - line.start, 5);
    assert_true(text_line_reader_next(&reader, &line));
    assert_int_equal(line.number, 2);
    assert_memory_equal(line.start, "second", 6);
    assert_false(text_line_reader_next(&reader, &line));

    /* a BOM alone, a cut BOM, no input at all */
    assert_int_equal(text_line_reader_open_text(&reader, "\xEF\xBB\xBF", 3, &err), 0);
    assert_false(text_line_reader_next(&reader, &line));
    assert_int_equal(text_line_reader_open_text(&reader, "\xEF\xBB", 2, &err), 0);
    assert_true(text_line_reader_next(&reader, &line));
    assert_int_equal(line.end - line.start, 2);
    assert_int_equal(text_line_reader_open_text(&reader, NULL, 0, &err), 0);
    assert_false(text_line_reader_next(&reader, &line));
    assert_int_equal(err.code, 0);
}

static void open_text_refuses_a_nul_byte_with_its_position(void **state)
{
    (void)state;
    struct text_line_reader reader;
    struct pr_error err = { 0 };
    static const char text[] = "ok\r\nfoo\0bar\n";
    assert_int_equal(text_line_reader_open_text(&reader, text, sizeof text - 1, &err), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 4);
    assert_string_equal(err.message, TEXT_NUL_BYTE_MESSAGE);
    assert_string_equal(err.message, "NUL byte: this is not a text file");

    /* columns count from after the BOM */
    static const char with_bom[] = "\xEF\xBB\xBF" "ab\0";
    memset(&err, 0, sizeof err);
    assert_int_equal(text_line_reader_open_text(&reader, with_bom, sizeof with_bom - 1, &err),
                     -EINVAL);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 3);

    assert_int_equal(text_line_reader_open_text(&reader, "\0", 1, NULL), -EINVAL);
}

/* ---- blanks, tokens, comments --------------------------------------------------------- */

static void blanks_are_space_and_tab_only(void **state)
{
    (void)state;
    assert_true(text_is_blank(' '));
    assert_true(text_is_blank('\t'));
    assert_false(text_is_blank('\r'));
    assert_false(text_is_blank('\n'));
    assert_false(text_is_blank('\v'));
    assert_false(text_is_blank('\0'));
    assert_false(text_is_blank('a'));
}

static void skip_blanks_token_end_and_trim(void **state)
{
    (void)state;
    const char *text = " \t ab\tcd  ";
    const char *end = text + strlen(text);
    const char *token = text_skip_blanks(text, end);
    assert_ptr_equal(token, text + 3);
    assert_ptr_equal(text_token_end(token, end), text + 5);
    assert_ptr_equal(text_skip_blanks(text + 5, end), text + 6);
    assert_ptr_equal(text_token_end(text + 6, end), text + 8);
    assert_ptr_equal(text_trim_trailing_blanks(text, end), text + 8);

    /* ranges that are empty, all blanks or without blanks */
    assert_ptr_equal(text_skip_blanks(end, end), end);
    assert_ptr_equal(text_token_end(end, end), end);
    assert_ptr_equal(text_skip_blanks(text + 8, end), end);
    assert_ptr_equal(text_trim_trailing_blanks(text, text + 3), text);
    assert_ptr_equal(text_token_end(text + 3, text + 5), text + 5);
    assert_ptr_equal(text_trim_trailing_blanks(text + 3, text + 5), text + 5);
}

static void cut_comment_splits_at_the_first_hash(void **state)
{
    (void)state;
    struct text_token comment;
    const char *text = "ssh 22/tcp   #  Secure  Shell \t";
    const char *end = text + strlen(text);
    assert_ptr_equal(text_cut_comment(text, end, &comment), text + 13);
    expect_token(&comment, "Secure  Shell");

    text = "a 1/tcp #x # y";
    assert_ptr_equal(text_cut_comment(text, text + strlen(text), &comment), text + 8);
    expect_token(&comment, "x # y");

    text = "no comment here";
    end = text + strlen(text);
    assert_ptr_equal(text_cut_comment(text, end, &comment), end);
    assert_string_equal(comment.start, "");
    assert_int_equal(comment.len, 0);

    text = "b 2/udp #  ";   /* '#' with nothing after it */
    assert_ptr_equal(text_cut_comment(text, text + strlen(text), &comment), text + 8);
    assert_int_equal(comment.len, 0);

    text = "#only";
    assert_ptr_equal(text_cut_comment(text, text + 5, &comment), text);
    expect_token(&comment, "only");

    /* the range ends before the '#': no comment */
    text = "abc#def";
    assert_ptr_equal(text_cut_comment(text, text + 3, &comment), text + 3);
    assert_int_equal(comment.len, 0);
}

static void token_reader_reads_tokens_then_reports_where_one_is_missing(void **state)
{
    (void)state;
    const char *text = "\thttp  80/tcp\t0.5  ";
    const char *end = text + strlen(text);
    struct text_token_reader reader;
    text_token_reader_init(&reader, text, end);
    struct text_token token;
    assert_true(text_token_reader_next(&reader, &token));
    expect_token(&token, "http");
    assert_ptr_equal(token.start, text + 1);
    assert_true(text_token_reader_next(&reader, &token));
    expect_token(&token, "80/tcp");
    assert_true(text_token_reader_next(&reader, &token));
    expect_token(&token, "0.5");
    assert_false(text_token_reader_next(&reader, &token));
    assert_ptr_equal(token.start, end);
    assert_int_equal(token.len, 0);
    assert_false(text_token_reader_next(&reader, &token));

    text_token_reader_init(&reader, end, end);
    assert_false(text_token_reader_next(&reader, &token));
    assert_ptr_equal(token.start, end);
}

static void token_reader_require_fills_the_error(void **state)
{
    (void)state;
    struct text_line line = whole_line("http   # comment", 3);
    struct text_token comment;
    struct text_token_reader reader;
    text_token_reader_init(&reader, line.start, text_cut_comment(line.start, line.end, &comment));
    struct text_token name, port;
    struct pr_error err = { 0 };
    assert_int_equal(text_token_reader_require(&reader, &name, &line, &err, "missing name"), 0);
    expect_token(&name, "http");
    assert_int_equal(err.code, 0);
    assert_int_equal(text_token_reader_require(&reader, &port, &line, &err,
                                               "missing port/protocol after service name"),
                     -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 8);
    assert_string_equal(err.message, "missing port/protocol after service name");

    /* a '%' in the message is plain text, and err may be NULL */
    memset(&err, 0, sizeof err);
    assert_int_equal(text_token_reader_require(&reader, &port, &line, &err, "100% missing"),
                     -EINVAL);
    assert_string_equal(err.message, "100% missing");
    assert_int_equal(text_token_reader_require(&reader, &port, &line, NULL, "x"), -EINVAL);
}

static void token_reader_rest_is_trimmed(void **state)
{
    (void)state;
    const char *text = "kerberos 88/tcp  kerberos5\tkrb5 kerberos-sec \t";
    struct text_token_reader reader;
    text_token_reader_init(&reader, text, text + strlen(text));
    struct text_token token;
    assert_true(text_token_reader_next(&reader, &token));
    assert_true(text_token_reader_next(&reader, &token));
    struct text_token rest = text_token_reader_rest(&reader);
    expect_token(&rest, "kerberos5\tkrb5 kerberos-sec");
    assert_true(text_token_reader_next(&reader, &token));   /* rest does not move the reader */
    expect_token(&token, "kerberos5");

    text = "ssh 22/tcp   ";
    text_token_reader_init(&reader, text, text + strlen(text));
    assert_true(text_token_reader_next(&reader, &token));
    assert_true(text_token_reader_next(&reader, &token));
    rest = text_token_reader_rest(&reader);
    assert_int_equal(rest.len, 0);
}

/* ---- ports ----------------------------------------------------------------------------- */

static int parse_port_text(const char *text, uint16_t *port)
{
    return text_parse_port(text, text + strlen(text), port);
}

static void ports_from_0_to_65535(void **state)
{
    (void)state;
    uint16_t port = 1;
    assert_int_equal(parse_port_text("0", &port), 0);
    assert_int_equal(port, 0);
    assert_int_equal(parse_port_text("22", &port), 0);
    assert_int_equal(port, 22);
    assert_int_equal(parse_port_text("65535", &port), 0);
    assert_int_equal(port, 65535);
    assert_int_equal(parse_port_text("000080", &port), 0);
    assert_int_equal(port, 80);

    port = 7;   /* untouched on every error */
    assert_int_equal(parse_port_text("65536", &port), -ERANGE);
    assert_int_equal(parse_port_text("99999999999999999999999999999999", &port), -ERANGE);
    assert_int_equal(parse_port_text("", &port), -EINVAL);
    assert_int_equal(parse_port_text("-5", &port), -EINVAL);
    assert_int_equal(parse_port_text("+5", &port), -EINVAL);
    assert_int_equal(parse_port_text("12a", &port), -EINVAL);
    assert_int_equal(parse_port_text("6000-6063", &port), -EINVAL);
    assert_int_equal(parse_port_text("99999x", &port), -EINVAL);   /* not a number first */
    assert_int_equal(parse_port_text(" 1", &port), -EINVAL);
    assert_int_equal(port, 7);

    const char *range = "6000-6063";   /* the range's ends, as services_file.c parses them */
    assert_int_equal(text_parse_port(range, range + 4, &port), 0);
    assert_int_equal(port, 6000);
    assert_int_equal(text_parse_port(range + 5, range + 9, &port), 0);
    assert_int_equal(port, 6063);
}

/* ---- positions ------------------------------------------------------------------------- */

static void columns_are_one_based_bytes(void **state)
{
    (void)state;
    const char *line = "h\xC3\xA9llo x";
    assert_int_equal(text_column(line, line), 1);
    assert_int_equal(text_column(line, line + 1), 2);
    assert_int_equal(text_column(line, line + 7), 8);   /* é is two bytes */
}

static void byte_order_mark_is_skipped_only_when_whole(void **state)
{
    (void)state;
    const char *bom = "\xEF\xBB\xBFx";
    assert_ptr_equal(text_skip_utf8_bom(bom, bom + 4), bom + 3);
    assert_ptr_equal(text_skip_utf8_bom(bom, bom + 3), bom + 3);
    assert_ptr_equal(text_skip_utf8_bom(bom, bom + 2), bom);
    assert_ptr_equal(text_skip_utf8_bom(bom, bom), bom);
    const char *plain = "\xEF\xBB" "x";
    assert_ptr_equal(text_skip_utf8_bom(plain, plain + 3), plain);
    const char *twice = "\xEF\xBB\xBF\xEF\xBB\xBF";
    assert_ptr_equal(text_skip_utf8_bom(twice, twice + 6), twice + 3);
}

static void locate_line_counts_newlines_before_the_byte(void **state)
{
    (void)state;
    const char *text = "one\r\ntwo\n\nfour";
    const char *line_start = NULL;
    assert_int_equal(text_locate_line(text, text, &line_start), 1);
    assert_ptr_equal(line_start, text);
    assert_int_equal(text_locate_line(text, text + 3, &line_start), 1);   /* the '\r' */
    assert_int_equal(text_locate_line(text, text + 4, &line_start), 1);   /* the '\n' */
    assert_ptr_equal(line_start, text);
    assert_int_equal(text_locate_line(text, text + 5, &line_start), 2);
    assert_ptr_equal(line_start, text + 5);
    assert_int_equal(text_locate_line(text, text + 9, &line_start), 3);   /* empty line */
    assert_ptr_equal(line_start, text + 9);
    assert_int_equal(text_locate_line(text, text + 12, &line_start), 4);
    assert_ptr_equal(line_start, text + 10);
    assert_int_equal(text_column(line_start, text + 12), 3);
}

static void find_nul_gives_line_and_column(void **state)
{
    (void)state;
    unsigned line = 99, column = 99;
    assert_false(text_find_nul("no nul\nhere", 11, &line, &column));
    assert_false(text_find_nul(NULL, 0, &line, &column));
    assert_false(text_find_nul("abc", 3, &line, &column));
    assert_int_equal(line, 99);   /* untouched */
    assert_int_equal(column, 99);

    assert_true(text_find_nul("\0", 1, &line, &column));
    assert_int_equal(line, 1);
    assert_int_equal(column, 1);

    static const char lf[] = "ssh 22/tcp\nfoo\0bar 1/tcp\n";
    assert_true(text_find_nul(lf, sizeof lf - 1, &line, &column));
    assert_int_equal(line, 2);
    assert_int_equal(column, 4);

    static const char crlf[] = "a\r\nb\r\n\r\n\t\0";   /* CR counts as a byte of its line */
    assert_true(text_find_nul(crlf, sizeof crlf - 1, &line, &column));
    assert_int_equal(line, 4);
    assert_int_equal(column, 2);

    static const char after_last_newline[] = "x\n\0";
    assert_true(text_find_nul(after_last_newline, 3, &line, &column));
    assert_int_equal(line, 2);
    assert_int_equal(column, 1);

    static const char two[] = "a\0b\0";   /* the first one counts */
    assert_true(text_find_nul(two, 4, &line, &column));
    assert_int_equal(column, 2);

    static const char beyond_len[] = "abc\0";
    assert_false(text_find_nul(beyond_len, 3, &line, &column));
}

/* ---- error messages ------------------------------------------------------------------- */

static void excerpts_are_cut_at_64_bytes(void **state)
{
    (void)state;
    char buf[TEXT_EXCERPT_SIZE];
    assert_int_equal(TEXT_EXCERPT_SIZE, 68);
    assert_string_equal(text_excerpt("22/tcp extra", 6, buf), "22/tcp");
    assert_ptr_equal(text_excerpt("x", 0, buf), buf);
    assert_string_equal(buf, "");

    char long_token[200];
    for (size_t i = 0; i < sizeof long_token; i++)
        long_token[i] = (char)('0' + i % 10);
    char want[TEXT_EXCERPT_SIZE];
    memcpy(want, long_token, 64);
    want[64] = '\0';
    assert_string_equal(text_excerpt(long_token, 64, buf), want);   /* exactly the cap */
    memcpy(want + 64, "...", 4);
    assert_string_equal(text_excerpt(long_token, 65, buf), want);   /* one byte over */
    assert_string_equal(text_excerpt(long_token, sizeof long_token, buf), want);
    assert_int_equal(strlen(buf), TEXT_EXCERPT_SIZE - 1);
}

static void error_at_puts_line_column_and_message(void **state)
{
    (void)state;
    struct text_line line = whole_line("foo 22/xyz", 7);
    struct pr_error err = { 0 };
    char shown[TEXT_EXCERPT_SIZE];
    assert_int_equal(text_error_at(&err, &line, line.start + 7, "unknown protocol \"%s\"",
                                   text_excerpt(line.start + 7, 3, shown)),
                     -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_int_equal(err.line, 7);
    assert_int_equal(err.column, 8);
    assert_string_equal(err.message, "unknown protocol \"xyz\"");
    assert_string_equal(err.path, "");

    /* at the end of the line (a missing token), and with err NULL */
    assert_int_equal(text_error_at(&err, &line, line.end, "range %.*s is reversed", 5, "20-10"),
                     -EINVAL);
    assert_int_equal(err.column, 11);
    assert_string_equal(err.message, "range 20-10 is reversed");
    assert_int_equal(text_error_at(NULL, &line, line.start, "%s", "ignored"), -EINVAL);

    /* a message longer than err->message is cut like pr_error_set_at cuts it */
    char long_text[1000];
    memset(long_text, 'm', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    assert_int_equal(text_error_at(&err, &line, line.start, "%s", long_text), -EINVAL);
    assert_int_equal(strlen(err.message), sizeof err.message - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_end_with_lf_or_crlf),
        cmocka_unit_test(missing_final_newline_still_gives_the_last_line),
        cmocka_unit_test(empty_buffers_and_empty_lines),
        cmocka_unit_test(only_the_cr_before_a_line_end_is_dropped),
        cmocka_unit_test(line_reader_stops_at_len_not_at_nul),
        cmocka_unit_test(line_number_saturates_at_uint_max),
        cmocka_unit_test(open_text_skips_the_byte_order_mark),
        cmocka_unit_test(open_text_refuses_a_nul_byte_with_its_position),
        cmocka_unit_test(blanks_are_space_and_tab_only),
        cmocka_unit_test(skip_blanks_token_end_and_trim),
        cmocka_unit_test(cut_comment_splits_at_the_first_hash),
        cmocka_unit_test(token_reader_reads_tokens_then_reports_where_one_is_missing),
        cmocka_unit_test(token_reader_require_fills_the_error),
        cmocka_unit_test(token_reader_rest_is_trimmed),
        cmocka_unit_test(ports_from_0_to_65535),
        cmocka_unit_test(columns_are_one_based_bytes),
        cmocka_unit_test(byte_order_mark_is_skipped_only_when_whole),
        cmocka_unit_test(locate_line_counts_newlines_before_the_byte),
        cmocka_unit_test(find_nul_gives_line_and_column),
        cmocka_unit_test(excerpts_are_cut_at_64_bytes),
        cmocka_unit_test(error_at_puts_line_column_and_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
