/* test_agent_duration.c — the agent's --interval parser (agent/agent_duration.c): the units a
 * user writes, compound forms, bare seconds, and every way to get it wrong with the column. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "agent/agent_duration.h"

static uint64_t parse_ok(const char *text)
{
    uint64_t ms = 12345;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(agent_duration_parse(text, &ms, &err), 0);
    return ms;
}

static void parse_fails(const char *text, int code, unsigned column)
{
    uint64_t ms = 777;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(agent_duration_parse(text, &ms, &err), code);
    assert_int_equal(err.code, code);
    assert_int_equal(err.column, column);
    assert_true(err.message[0] != '\0');
    assert_int_equal(ms, 777);   /* untouched on error */
}

static void test_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("30s"), 30000);
    assert_int_equal(parse_ok("2m"), 120000);
    assert_int_equal(parse_ok("500ms"), 500);
    assert_int_equal(parse_ok("1h"), 3600000);
    assert_int_equal(parse_ok("0s"), 0);
}

static void test_compound_and_bare(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1m30s"), 90000);
    assert_int_equal(parse_ok("1h2m3s4ms"), 3723004);
    assert_int_equal(parse_ok("45"), 45000);        /* a bare number is seconds */
    assert_int_equal(parse_ok("007s"), 7000);
}

static void test_errors(void **state)
{
    (void)state;
    parse_fails("", -EINVAL, 1);
    parse_fails("s", -EINVAL, 1);
    parse_fails("-5s", -EINVAL, 1);
    parse_fails(" 5s", -EINVAL, 1);
    parse_fails("5 s", -EINVAL, 2);
    parse_fails("5x", -EINVAL, 2);
    parse_fails("1.5s", -EINVAL, 2);
    parse_fails("1m30", -EINVAL, 5);     /* a bare number only alone */
    parse_fails("30s ", -EINVAL, 4);
    parse_fails("5sec", -EINVAL, 3);
}

static void test_range(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("168h"), AGENT_DURATION_MAX_MS);
    parse_fails("169h", -ERANGE, 1);
    parse_fails("167h61m", -ERANGE, 5);
    parse_fails("99999999999999999999999s", -ERANGE, 1);
    parse_fails("604800001ms", -ERANGE, 1);
}

static void test_format_round_trip(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(agent_duration_format(30000, buf, sizeof buf), "30s");
    assert_string_equal(agent_duration_format(90000, buf, sizeof buf), "1m30s");
    assert_string_equal(agent_duration_format(500, buf, sizeof buf), "500ms");
    assert_string_equal(agent_duration_format(0, buf, sizeof buf), "0s");
    assert_string_equal(agent_duration_format(1200, buf, sizeof buf), "1s200ms");
    static const uint64_t samples[] = { 1, 999, 1000, 61001, 3600000, 3723004, AGENT_DURATION_MAX_MS };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        assert_int_equal(parse_ok(agent_duration_format(samples[i], buf, sizeof buf)), samples[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_compound_and_bare),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
