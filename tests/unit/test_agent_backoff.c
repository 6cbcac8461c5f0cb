/* test_agent_backoff.c — the agent's retry waits (agent/agent_backoff.c): they start at 1 s,
 * double, stop at the cap (the interval, at most 5 minutes), stay within ±20% jitter and
 * never above the cap, and start again from 1 s after a success. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/agent_backoff.h"

static void test_doubling_without_jitter(void **state)
{
    (void)state;
    struct agent_backoff b;
    agent_backoff_init(&b, 30000);
    /* random 200 → factor exactly 1.000 (800 + 200 per mille) */
    assert_int_equal(agent_backoff_next(&b, 200), 1000);
    assert_int_equal(agent_backoff_next(&b, 200), 2000);
    assert_int_equal(agent_backoff_next(&b, 200), 4000);
    assert_int_equal(agent_backoff_next(&b, 200), 8000);
    assert_int_equal(agent_backoff_next(&b, 200), 16000);
    assert_int_equal(agent_backoff_next(&b, 200), 30000);   /* capped at the interval */
    for (int i = 0; i < 100; i++)
        assert_int_equal(agent_backoff_next(&b, 200), 30000);
    agent_backoff_reset(&b);
    assert_int_equal(agent_backoff_next(&b, 200), 1000);
}

static void test_jitter_bounds(void **state)
{
    (void)state;
    struct agent_backoff b;
    for (uint32_t r = 0; r < 5000; r += 7) {
        agent_backoff_init(&b, 30000);
        uint64_t first = agent_backoff_next(&b, r * 2654435761u);
        assert_true(first >= 800 && first <= 1200);
        for (int k = 0; k < 12; k++) {
            uint64_t w = agent_backoff_next(&b, r * 40503u + (uint32_t)k);
            assert_true(w <= 30000);
        }
        uint64_t capped = agent_backoff_next(&b, r);
        assert_true(capped >= 24000 && capped <= 30000);
    }
    /* the extremes of the random number */
    agent_backoff_init(&b, 300000);
    assert_int_equal(agent_backoff_next(&b, 0), 800);
    agent_backoff_init(&b, 300000);
    assert_int_equal(agent_backoff_next(&b, 400), 1200);
    agent_backoff_init(&b, 300000);
    assert_int_equal(agent_backoff_next(&b, UINT32_MAX), 1000 * (800 + UINT32_MAX % 401) / 1000);
}

static void test_cap_is_five_minutes(void **state)
{
    (void)state;
    struct agent_backoff b;
    agent_backoff_init(&b, 3600000);   /* an hour's interval: still at most 5 minutes */
    assert_int_equal(b.cap_ms, AGENT_BACKOFF_CAP_MS);
    uint64_t w = 0;
    for (int i = 0; i < 40; i++)
        w = agent_backoff_next(&b, 400);
    assert_int_equal(w, AGENT_BACKOFF_CAP_MS);
}

static void test_short_interval(void **state)
{
    (void)state;
    struct agent_backoff b;
    agent_backoff_init(&b, 300);       /* under the base: the base shrinks to the interval */
    assert_int_equal(b.base_ms, 300);
    for (int i = 0; i < 10; i++) {
        uint64_t w = agent_backoff_next(&b, (uint32_t)i * 97u);
        assert_true(w >= 240 && w <= 300);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubling_without_jitter),
        cmocka_unit_test(test_jitter_bounds),
        cmocka_unit_test(test_cap_is_five_minutes),
        cmocka_unit_test(test_short_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
