/* test_server_rate_limit.c — the token buckets of `portreg serve --rate-limit`
 * (src/server/server_rate_limit.c): a full bucket lets the burst through, then says how long
 * to wait; clients have buckets of their own; a bucket refills at the rate; the default burst
 * is twice the rate; many clients past the table's size do not crash or share a bucket. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <time.h>

#include "server/server_rate_limit.h"

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void test_burst_then_retry_after(void **state)
{
    (void)state;
    struct server_rate_limit *limit = server_rate_limit_create(0.5, 3);
    assert_non_null(limit);
    unsigned retry = 0;
    for (int i = 0; i < 3; i++)
        assert_true(server_rate_limit_take(limit, "token:1", &retry));
    assert_false(server_rate_limit_take(limit, "token:1", &retry));
    assert_int_equal(retry, 2);   /* one request every 2 s */
    /* another client is not affected */
    assert_true(server_rate_limit_take(limit, "token:2", &retry));
    assert_true(server_rate_limit_take(limit, "address:127.0.0.1", &retry));
    server_rate_limit_free(limit);
}

static void test_refill_and_default_burst(void **state)
{
    (void)state;
    struct server_rate_limit *limit = server_rate_limit_create(50, 0);   /* burst 100 */
    unsigned retry = 0;
    int passed = 0;
    for (int i = 0; i < 130; i++)
        passed += server_rate_limit_take(limit, "k", &retry);
    assert_in_range(passed, 100, 102);   /* the burst, and what refilled meanwhile */
    assert_int_equal(retry, 1);
    sleep_ms(100);                      /* 5 more at 50/s */
    passed = 0;
    for (int i = 0; i < 20; i++)
        passed += server_rate_limit_take(limit, "k", &retry);
    assert_in_range(passed, 4, 8);
    server_rate_limit_free(limit);
}

static void test_many_clients(void **state)
{
    (void)state;
    struct server_rate_limit *limit = server_rate_limit_create(1, 1);
    unsigned retry = 0;
    char key[32];
    /* more clients than the table holds: each new one starts with a full bucket */
    for (int i = 0; i < 40000; i++) {
        snprintf(key, sizeof key, "address:10.0.%d.%d", i / 256, i % 256);
        assert_true(server_rate_limit_take(limit, key, &retry));
    }
    /* a client just seen is still remembered: its bucket is empty */
    assert_false(server_rate_limit_take(limit, key, &retry));
    server_rate_limit_free(limit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_retry_after),
        cmocka_unit_test(test_refill_and_default_burst),
        cmocka_unit_test(test_many_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
