/* test_http_conditional.c — the request headers of the web UI's cacheable answers
 * (src/server/http_conditional.c): If-None-Match lists, W/ forms and "*" against a strong
 * ETag; Accept-Encoding's gzip, "*", q=0 refusals and an explicit entry over "*". */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/http_conditional.h"

static void test_if_none_match(void **state)
{
    (void)state;
    const char *etag = "\"abc123\"";
    assert_true(http_etag_matches("\"abc123\"", etag));
    assert_true(http_etag_matches("W/\"abc123\"", etag));
    assert_true(http_etag_matches("\"zzz\", \"abc123\"", etag));
    assert_true(http_etag_matches("\"zzz\",W/\"abc123\" ", etag));
    assert_true(http_etag_matches("*", etag));
    assert_false(http_etag_matches(NULL, etag));
    assert_false(http_etag_matches("", etag));
    assert_false(http_etag_matches("\"abc12\"", etag));
    assert_false(http_etag_matches("\"abc1234\"", etag));
    assert_false(http_etag_matches("abc123", etag));
    assert_false(http_etag_matches("\"abc123\"x", etag));
    assert_false(http_etag_matches(",,, ,", etag));
}

static void test_accept_encoding(void **state)
{
    (void)state;
    assert_true(http_accepts_gzip("gzip"));
    assert_true(http_accepts_gzip("gzip, deflate, br"));
    assert_true(http_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
    assert_true(http_accepts_gzip("*"));
    assert_true(http_accepts_gzip("gzip;q=1"));
    assert_true(http_accepts_gzip("gzip; q=0.001"));
    assert_false(http_accepts_gzip(NULL));
    assert_false(http_accepts_gzip(""));
    assert_false(http_accepts_gzip("identity"));
    assert_false(http_accepts_gzip("br, deflate"));
    assert_false(http_accepts_gzip("gzip;q=0"));
    assert_false(http_accepts_gzip("gzip;q=0.000"));
    assert_false(http_accepts_gzip("x-gzip2"));
    assert_false(http_accepts_gzip("gzipx"));
    /* an explicit entry wins over "*" either way */
    assert_true(http_accepts_gzip("*;q=0, gzip"));
    assert_false(http_accepts_gzip("*, gzip;q=0"));
    assert_false(http_accepts_gzip("*;q=0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_if_none_match),
        cmocka_unit_test(test_accept_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
