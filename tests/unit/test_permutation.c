/* test_permutation.c — unit tests for the probe order (src/lib/scan/permutation.c): a bijection
 * of [0, n) checked exhaustively for many n, determinism per seed, different seeds giving
 * different orders, positions spread over targets (the engine maps element / ports to a
 * target), and a timing sanity print (ns per call; not asserted tightly). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scan/permutation.h"

/* Every position gives an element below n and no element twice. */
static void assert_bijection(uint64_t n, uint64_t seed)
{
    struct scan_permutation p;
    scan_permutation_init(&p, n, seed);
    size_t words = (size_t)((n + 63) / 64);
    uint64_t *seen = calloc(words, sizeof *seen);
    assert_non_null(seen);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t element = scan_permutation_at(&p, i);
        if (element >= n)
            fail_msg("n=%llu seed=%llu: position %llu gave %llu, out of range",
                     (unsigned long long)n, (unsigned long long)seed, (unsigned long long)i,
                     (unsigned long long)element);
        uint64_t bit = UINT64_C(1) << (element % 64);
        if (seen[element / 64] & bit)
            fail_msg("n=%llu seed=%llu: element %llu given twice", (unsigned long long)n,
                     (unsigned long long)seed, (unsigned long long)element);
        seen[element / 64] |= bit;
    }
    free(seen);
}

static void test_bijection_small_and_boundary_sizes(void **state)
{
    (void)state;
    static const uint64_t sizes[] = { 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 255, 256, 257,
                                      1023, 1024, 1025, 4095, 65535, 65536, 65537,
                                      65536 * 3 + 1 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (uint64_t seed = 0; seed < 3; seed++)
            assert_bijection(sizes[i], seed * 0x1234567 + 1);
}

static void test_bijection_random_sizes(void **state)
{
    (void)state;
    uint64_t x = 0x2545F4914F6CDD1DULL;
    for (int round = 0; round < 8; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t n = 1 + x % (UINT64_C(1) << 20);
        assert_bijection(n, x);
    }
}

/* The domain is the smallest power of two covering n: under 2n, so the walk is short. */
static void test_domain_is_under_two_n(void **state)
{
    (void)state;
    static const uint64_t sizes[] = { 1, 2, 3, 5, 17, 1000, 65537, UINT64_C(1) << 40,
                                      (UINT64_C(1) << 61) + 1, UINT64_C(1) << 62 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct scan_permutation p;
        scan_permutation_init(&p, sizes[i], 7);
        unsigned bits = p.high_bits + p.half_bits;
        assert_true(bits <= 62);
        assert_true(p.high_bits == p.half_bits || p.high_bits == p.half_bits + 1);
        assert_true((UINT64_C(1) << bits) >= sizes[i]);
        assert_true((UINT64_C(1) << bits) / 2 < sizes[i] || sizes[i] == 1);
    }
}

static void test_same_seed_same_order(void **state)
{
    (void)state;
    struct scan_permutation a, b;
    scan_permutation_init(&a, 100000, 42);
    scan_permutation_init(&b, 100000, 42);
    for (uint64_t i = 0; i < 100000; i++)
        assert_int_equal(scan_permutation_at(&a, i), scan_permutation_at(&b, i));
}

static void test_different_seed_different_order(void **state)
{
    (void)state;
    struct scan_permutation a, b;
    scan_permutation_init(&a, 100000, 42);
    scan_permutation_init(&b, 100000, 43);
    uint64_t same = 0;
    for (uint64_t i = 0; i < 100000; i++)
        same += scan_permutation_at(&a, i) == scan_permutation_at(&b, i);
    /* Two random orders agree at about one position in total. */
    assert_true(same < 50);
    /* Nor is the order the identity or a shift of it. */
    uint64_t in_place = 0, ascending = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        in_place += scan_permutation_at(&a, i) == i;
        ascending += scan_permutation_at(&a, i + 1) == scan_permutation_at(&a, i) + 1;
    }
    assert_true(in_place < 10);
    assert_true(ascending < 10);
}

/* 256 targets x 65536 ports: the first 256 probes hit many targets, not one host's ports. */
static void test_positions_spread_over_targets(void **state)
{
    (void)state;
    const uint64_t ports = 65536, targets = 256;
    struct scan_permutation p;
    scan_permutation_init(&p, ports * targets, 1);
    bool hit[256] = { false };
    unsigned distinct = 0;
    for (uint64_t i = 0; i < 256; i++) {
        uint64_t target = scan_permutation_at(&p, i) / ports;
        assert_true(target < targets);
        if (!hit[target]) {
            hit[target] = true;
            distinct++;
        }
    }
    /* 256 random draws from 256 give about 162 distinct values. */
    printf("# first 256 probes of 256x65536 touch %u targets\n", distinct);
    assert_true(distinct > 120);

    /* And the ports of one position window are spread too (no runs of adjacent ports). */
    unsigned adjacent = 0;
    for (uint64_t i = 0; i + 1 < 4096; i++) {
        uint64_t a = scan_permutation_at(&p, i), b = scan_permutation_at(&p, i + 1);
        adjacent += a / ports == b / ports && (a % ports) + 1 == b % ports;
    }
    assert_true(adjacent < 5);
}

/* A large n works with positions near the top (no overflow in the walk). */
static void test_large_n_positions_in_range(void **state)
{
    (void)state;
    const uint64_t n = (UINT64_C(1) << 62) - 12345;
    struct scan_permutation p;
    scan_permutation_init(&p, n, 99);
    uint64_t previous = UINT64_MAX;
    for (uint64_t i = n - 1000; i < n; i++) {
        uint64_t element = scan_permutation_at(&p, i);
        assert_true(element < n);
        assert_true(element != previous);
        previous = element;
    }
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Print ns per call for a friendly n and a worst-case n (just above a power of two, where the
 * domain is nearly 2n and cycle-walking takes the most passes). */
static void test_timing_sanity(void **state)
{
    (void)state;
    static const uint64_t sizes[] = { UINT64_C(1) << 24, (UINT64_C(1) << 24) + 1,
                                      (UINT64_C(1) << 32) * 1000 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        struct scan_permutation p;
        scan_permutation_init(&p, sizes[s], 5);
        const uint64_t calls = 2000000;
        uint64_t sink = 0;
        double start = now_ns();
        for (uint64_t i = 0; i < calls; i++)
            sink += scan_permutation_at(&p, i);
        double per_call = (now_ns() - start) / (double)calls;
        printf("# n=%llu: %.1f ns per call (checksum %llu)\n", (unsigned long long)sizes[s],
               per_call, (unsigned long long)(sink & 0xff));
        /* Loose: catches an accidental O(n) or a broken walk, not a slow machine. */
        assert_true(per_call < 2000.0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bijection_small_and_boundary_sizes),
        cmocka_unit_test(test_bijection_random_sizes),
        cmocka_unit_test(test_domain_is_under_two_n),
        cmocka_unit_test(test_same_seed_same_order),
        cmocka_unit_test(test_different_seed_different_order),
        cmocka_unit_test(test_positions_spread_over_targets),
        cmocka_unit_test(test_large_n_positions_in_range),
        cmocka_unit_test(test_timing_sanity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
