/* permutation.h — a seeded pseudo-random bijection of [0, n): the scan visits probe
 * permutation(i) for i = 0, 1, 2... so load spreads over hosts and ports without keeping any
 * state per probe, and any position can be computed on its own (threads and --shard I/N split
 * the positions, not a list). A 4-round Feistel network over the next power of two (halves
 * one bit apart when the bit count is odd, so the domain is under 2n) with cycle-walking; n up
 * to 2^62. The struct is read-only after init, so threads share one. */
#ifndef PORTREG_SCAN_PERMUTATION_H
#define PORTREG_SCAN_PERMUTATION_H

#include <stdint.h>

struct scan_permutation {
    uint64_t n;
    unsigned half_bits;                /* bits of the low Feistel half */
    uint64_t half_mask;
    uint64_t keys[4];
    unsigned high_bits;                /* bits of the high half: half_bits or half_bits + 1 */
};

/* n >= 1. The same (n, seed) always gives the same order. */
void scan_permutation_init(struct scan_permutation *p, uint64_t n, uint64_t seed);
/* The element at position i (0 <= i < n): distinct positions give distinct elements. */
uint64_t scan_permutation_at(const struct scan_permutation *p, uint64_t i);

#endif
