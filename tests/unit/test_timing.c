/* test_timing.c — unit tests for the scanner's timing model (src/lib/scan/timing.c).
 * RFC 6298 estimates: the first sample, convergence to a steady RTT, the variance term, the
 * clamp to [min, max]; per-host estimates with the global one as fallback for hosts never
 * sampled; the token bucket over simulated time (tokens granted per second, burst after
 * idle, the wait until the next token); and the monotonic clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "scan/engine.h"
#include "scan/timing.h"

#define MS 1000u                      /* microseconds */
#define NS_PER_S UINT64_C(1000000000)

static struct scan_address v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct scan_address address = { .family = AF_INET, .bytes = { a, b, c, d } };
    return address;
}

static struct scan_address v6_last(uint8_t last)
{
    struct scan_address address = { .family = AF_INET6, .bytes = { 0x20, 0x01, 0x0d, 0xb8 } };
    address.bytes[15] = last;
    return address;
}

static struct scan_rtt *new_rtt(uint32_t min_us, uint32_t initial_us, uint32_t max_us)
{
    static struct scan_rtt rtt;        /* 32 KiB: not on the stack */
    scan_rtt_init(&rtt, min_us, initial_us, max_us);
    return &rtt;
}

static void rtt_before_any_sample_uses_initial(void **state)
{
    (void)state;
    struct scan_rtt *rtt = new_rtt(100 * MS, 1000 * MS, 1000 * MS);
    struct scan_address host = v4(10, 0, 0, 1);
    assert_int_equal(scan_rtt_timeout(rtt, &host), 1000 * MS);
    /* The initial value is clamped too: an initial above the cap gives the cap. */
    rtt = new_rtt(100 * MS, 5000 * MS, 2000 * MS);
    assert_int_equal(scan_rtt_timeout(rtt, &host), 2000 * MS);
}

static void rtt_first_sample_follows_rfc6298(void **state)
{
    (void)state;
    struct scan_rtt *rtt = new_rtt(1, 1000 * MS, 10000 * MS);
    struct scan_address host = v4(10, 0, 0, 1);
    scan_rtt_sample(rtt, &host, 200 * MS);
    /* SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 * RTTVAR = 3R. */
    assert_int_equal(rtt->global.srtt_us, 200 * MS);
    assert_int_equal(rtt->global.rttvar_us, 100 * MS);
    assert_int_equal(scan_rtt_timeout(rtt, &host), 600 * MS);
    /* Second sample of 100 ms: RTTVAR = 3/4*100 + 1/4*|200-100| = 100, SRTT = 7/8*200 + 1/8*100. */
    scan_rtt_sample(rtt, &host, 100 * MS);
    assert_int_equal(rtt->global.rttvar_us, 100 * MS);
    assert_int_equal(rtt->global.srtt_us, 187500);
    assert_int_equal(scan_rtt_timeout(rtt, &host), 587500);
}

static void rtt_converges_to_a_steady_rtt(void **state)
{
    (void)state;
    struct scan_rtt *rtt = new_rtt(1, 1000 * MS, 10000 * MS);
    struct scan_address host = v4(192, 0, 2, 7);
    scan_rtt_sample(rtt, &host, 900 * MS);       /* one slow outlier first */
    for (int i = 0; i < 200; i++)
        scan_rtt_sample(rtt, &host, 50 * MS);
    uint32_t timeout = scan_rtt_timeout(rtt, &host);
    /* SRTT -> 50 ms and RTTVAR -> 0: the timeout ends just above the RTT. */
    assert_in_range(rtt->global.srtt_us, 50 * MS - 100, 50 * MS + 100);
    assert_true(rtt->global.rttvar_us < 1 * MS);
    assert_in_range(timeout, 50 * MS, 55 * MS);
}

static void rtt_variance_widens_the_timeout(void **state)
{
    (void)state;
    struct scan_rtt *rtt = new_rtt(1, 1000 * MS, 10000 * MS);
    struct scan_address steady = v4(10, 0, 0, 1), jittery = v4(10, 0, 0, 2);
    for (int i = 0; i < 100; i++) {
        scan_rtt_sample(rtt, &steady, 100 * MS);
        scan_rtt_sample(rtt, &jittery, i % 2 ? 20 * MS : 180 * MS);
    }
    uint32_t steady_timeout = scan_rtt_timeout(rtt, &steady);
    uint32_t jittery_timeout = scan_rtt_timeout(rtt, &jittery);
    /* Both average 100 ms, but the jittery host's variance (~80 ms) adds ~4 x 80 ms. */
    assert_in_range(steady_timeout, 100 * MS, 105 * MS);
    assert_in_range(jittery_timeout, 350 * MS, 450 * MS);
}

static void rtt_timeout_is_clamped(void **state)
{
    (void)state;
    struct scan_rtt *rtt = new_rtt(100 * MS, 1000 * MS, 1000 * MS);
    struct scan_address fast = v4(127, 0, 0, 1), slow = v4(203, 0, 113, 9);
    for (int i = 0; i < 50; i++) {
        scan_rtt_sample(rtt, &fast, 30);            /* 30 us: loopback */
        scan_rtt_sample(rtt, &slow, 5000 * MS);     /* 5 s */
    }
    assert_int_equal(scan_rtt_timeout(rtt, &fast), 100 * MS);
    assert_int_equal(scan_rtt_timeout(rtt, &slow), 1000 * MS);
    /* A zero sample is still a sample (1 us), never "no estimate yet". */
    struct scan_address zero = v4(127, 0, 0, 2);
    rtt = new_rtt(1, 777 * MS, 1000 * MS);
    scan_rtt_sample(rtt, &zero, 0);
    assert_int_not_equal(scan_rtt_timeout(rtt, &zero), 777 * MS);
    assert_true(scan_rtt_timeout(rtt, &zero) < 10);
}

static void rtt_per_host_with_global_fallback(void **state)
{
    (void)state;
    struct scan_rtt *rtt = new_rtt(1, 1000 * MS, 10000 * MS);
    struct scan_address near = v4(10, 0, 0, 1), far = v6_last(1), unseen = v4(10, 0, 0, 3);
    for (int i = 0; i < 100; i++)
        scan_rtt_sample(rtt, &near, 10 * MS);
    for (int i = 0; i < 100; i++)
        scan_rtt_sample(rtt, &far, 300 * MS);
    /* Each sampled host keeps its own estimate... */
    assert_in_range(scan_rtt_timeout(rtt, &near), 10 * MS, 11 * MS);
    assert_in_range(scan_rtt_timeout(rtt, &far), 300 * MS, 310 * MS);
    /* ...and a host never sampled uses the global one (here dominated by the last samples,
     * 300 ms), not the initial 1000 ms. */
    uint32_t fallback = scan_rtt_timeout(rtt, &unseen);
    assert_int_not_equal(fallback, 1000 * MS);
    assert_int_equal(fallback, (uint32_t)(rtt->global.srtt_us + 4 * rtt->global.rttvar_us));
    /* The same bytes in another family are another host. */
    struct scan_address near_as_v6 = { .family = AF_INET6, .bytes = { 10, 0, 0, 1 } };
    assert_int_equal(scan_rtt_timeout(rtt, &near_as_v6), fallback);
}

static void rtt_neighbouring_hosts_spread_over_slots(void **state)
{
    (void)state;
    /* A /20 of consecutive addresses: each sample lands in a slot; count the slots used. */
    struct scan_rtt *rtt = new_rtt(1, 1000 * MS, 10000 * MS);
    for (unsigned i = 0; i < 4096; i++) {
        struct scan_address host = v4(10, 1, (uint8_t)(i >> 8), (uint8_t)i);
        scan_rtt_sample(rtt, &host, 1000);
    }
    unsigned used = 0;
    for (unsigned i = 0; i < SCAN_RTT_SLOTS; i++)
        used += rtt->slots[i].srtt_us != 0;
    /* 4096 balls into 4096 bins: about 1 - 1/e = 63 % if the hash is uniform. */
    assert_in_range(used, 2400, 2800);
}

static void rate_unlimited_grants_everything(void **state)
{
    (void)state;
    struct scan_rate rate;
    scan_rate_init(&rate, 0, 0);
    assert_int_equal(scan_rate_take(&rate, 1000000, 0), 1000000);
    assert_int_equal(scan_rate_wait_ns(&rate, 0), 0);
}

static void rate_grants_the_rate_over_simulated_time(void **state)
{
    (void)state;
    const double rates[] = { 10, 1000, 2000, 100000, 0.5 };
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        struct scan_rate rate;
        uint64_t start = 5 * NS_PER_S;
        scan_rate_init(&rate, rates[r], start);
        uint64_t granted = 0;
        /* Ask every 100 us for 10 s, always wanting more than allowed. */
        const uint64_t seconds = 10;
        for (uint64_t t = start; t <= start + seconds * NS_PER_S; t += 100000)
            granted += scan_rate_take(&rate, 1000000, t);
        double expected = rates[r] * (double)seconds + rate.burst;   /* plus the first bucket */
        assert_true((double)granted <= expected + 1);
        assert_true((double)granted >= expected - 2);
    }
}

static void rate_burst_after_idle_is_bounded(void **state)
{
    (void)state;
    struct scan_rate rate;
    scan_rate_init(&rate, 10000, 0);
    /* The bucket starts full: 10 ms worth. */
    assert_true(rate.burst >= 1.0);
    assert_int_equal(scan_rate_take(&rate, 1000000, 0), 100);
    assert_int_equal(scan_rate_take(&rate, 1000000, 0), 0);
    /* An hour idle does not save up an hour of tokens. */
    assert_int_equal(scan_rate_take(&rate, 1000000, 3600 * NS_PER_S), 100);
    /* 1 ms later: 10 more. */
    assert_int_equal(scan_rate_take(&rate, 1000000, 3600 * NS_PER_S + 1000000), 10);
    /* Asking for fewer than available takes only those. */
    assert_int_equal(scan_rate_take(&rate, 3, 3600 * NS_PER_S + 2000000), 3);
    assert_int_equal(scan_rate_take(&rate, 1000, 3600 * NS_PER_S + 2000000), 7);
    /* A slow rate still has a bucket of one token. */
    scan_rate_init(&rate, 2, 0);
    assert_int_equal(scan_rate_take(&rate, 10, 0), 1);
    assert_int_equal(scan_rate_take(&rate, 10, 10 * NS_PER_S), 1);
}

static void rate_wait_says_when_the_next_token_comes(void **state)
{
    (void)state;
    struct scan_rate rate;
    scan_rate_init(&rate, 1000, 0);            /* a token every 1 ms, bucket of 10 */
    assert_int_equal(scan_rate_wait_ns(&rate, 0), 0);
    assert_int_equal(scan_rate_take(&rate, 100, 0), 10);
    uint64_t wait = scan_rate_wait_ns(&rate, 0);
    assert_in_range(wait, 999000, 1001000);
    assert_in_range(scan_rate_wait_ns(&rate, 400000), 599000, 601000);
    /* Waiting exactly that long gives exactly one token. */
    assert_int_equal(scan_rate_take(&rate, 100, wait), 1);
    /* Waiting does not take anything. */
    assert_int_equal(scan_rate_wait_ns(&rate, 10 * NS_PER_S), 0);
    assert_int_equal(scan_rate_wait_ns(&rate, 10 * NS_PER_S), 0);
    assert_int_equal(scan_rate_take(&rate, 100, 10 * NS_PER_S), 10);
}

static void rate_follows_the_real_clock(void **state)
{
    (void)state;
    /* Sending as fast as allowed for 200 ms of real time at 5000/s: about 1000 + burst. */
    struct scan_rate rate;
    uint64_t start = scan_now_ns();
    scan_rate_init(&rate, 5000, start);
    uint64_t sent = 0, now;
    while ((now = scan_now_ns()) - start < 200000000) {
        sent += scan_rate_take(&rate, 1, now);
        uint64_t wait = scan_rate_wait_ns(&rate, now);
        if (wait) {
            struct timespec ts = { .tv_nsec = (long)wait };
            nanosleep(&ts, NULL);
        }
    }
    assert_in_range(sent, 950, 1060);
}

static void now_is_monotonic(void **state)
{
    (void)state;
    uint64_t a = scan_now_ns();
    struct timespec ts = { .tv_nsec = 2000000 };
    nanosleep(&ts, NULL);
    uint64_t b = scan_now_ns();
    assert_true(b >= a + 2000000);
    assert_true(b - a < 2 * NS_PER_S);
}

/* -T4's initial 500 ms, floor 100 ms and cap 1250 ms reach the RTT table; without them the
 * first timeout is the cap and the floor the engine's; neither passes the cap. */
static void test_job_rtt_bounds(void **state)
{
    (void)state;
    uint32_t min_us, initial_us, max_us;
    struct scan_job job = { 0 };
    scan_job_rtt_bounds(&job, 1000, 100000, &min_us, &initial_us, &max_us);
    assert_int_equal(min_us, 100000);
    assert_int_equal(initial_us, 1000000);
    assert_int_equal(max_us, 1000000);
    job.timeout_ms = 1250;
    job.initial_timeout_ms = 500;
    job.min_timeout_ms = 100;
    scan_job_rtt_bounds(&job, 1000, 100000, &min_us, &initial_us, &max_us);
    assert_int_equal(min_us, 100000);
    assert_int_equal(initial_us, 500000);
    assert_int_equal(max_us, 1250000);
    job.timeout_ms = 50;   /* --timeout below the template's floor and first timeout */
    scan_job_rtt_bounds(&job, 1000, 100000, &min_us, &initial_us, &max_us);
    assert_int_equal(min_us, 50000);
    assert_int_equal(initial_us, 50000);
    assert_int_equal(max_us, 50000);
    job.timeout_ms = 3600000;   /* the largest --timeout fits */
    job.initial_timeout_ms = 0;
    scan_job_rtt_bounds(&job, 1000, 100000, &min_us, &initial_us, &max_us);
    assert_int_equal(max_us, 3600000000u);
    assert_int_equal(initial_us, 3600000000u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_rtt_bounds),
        cmocka_unit_test(rtt_before_any_sample_uses_initial),
        cmocka_unit_test(rtt_first_sample_follows_rfc6298),
        cmocka_unit_test(rtt_converges_to_a_steady_rtt),
        cmocka_unit_test(rtt_variance_widens_the_timeout),
        cmocka_unit_test(rtt_timeout_is_clamped),
        cmocka_unit_test(rtt_per_host_with_global_fallback),
        cmocka_unit_test(rtt_neighbouring_hosts_spread_over_slots),
        cmocka_unit_test(rate_unlimited_grants_everything),
        cmocka_unit_test(rate_grants_the_rate_over_simulated_time),
        cmocka_unit_test(rate_burst_after_idle_is_bounded),
        cmocka_unit_test(rate_wait_says_when_the_next_token_comes),
        cmocka_unit_test(rate_follows_the_real_clock),
        cmocka_unit_test(now_is_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
