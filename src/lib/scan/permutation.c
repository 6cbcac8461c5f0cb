/* permutation.c — the probe order (see permutation.h): a 4-round Feistel network over the
 * smallest power of two covering n, made a bijection of [0, n) by cycle-walking (re-encrypt
 * until the value falls below n). When the bit count is odd the two halves differ by one bit
 * and swap sizes each round (an unbalanced Feistel), so the domain stays under 2n and the walk
 * under 2 passes on average. Round keys come from the seed through splitmix64. */
#include "scan/permutation.h"

/* splitmix64 (Steele, Lea, Flood): a good stream of 64-bit values from any seed, even 0. */
static uint64_t splitmix64_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void scan_permutation_init(struct scan_permutation *p, uint64_t n, uint64_t seed)
{
    unsigned bits = 0;
    while (bits < 64 && (UINT64_C(1) << bits) < n)
        bits++;
    p->n = n;
    p->half_bits = bits / 2;
    p->half_mask = (UINT64_C(1) << p->half_bits) - 1;
    p->high_bits = bits - p->half_bits;
    uint64_t state = seed;
    for (unsigned i = 0; i < 4; i++)
        p->keys[i] = splitmix64_next(&state);
}

/* The round function: a multiplicative hash of (half ^ key) whose top out_bits bits depend on
 * every input bit. One multiply: the probe order needs spread, not cryptographic strength. */
static inline uint64_t feistel_round(uint64_t half, uint64_t key, unsigned out_bits)
{
    uint64_t z = (half ^ key) * UINT64_C(0x9E3779B97F4A7C15);
    return z >> (63 - out_bits) >> 1;               /* two shifts: out_bits may be 0 */
}

/* One pass of the network over [0, 2^(high_bits + half_bits)). Each round maps (left, right)
 * to (right, left ^ F(right)); the halves swap sizes, and after 4 rounds they are back. */
static inline uint64_t feistel_encrypt(const struct scan_permutation *p, uint64_t x)
{
    unsigned high = p->high_bits, low = p->half_bits;
    uint64_t left = x >> low, right = x & p->half_mask, next;
    next = left ^ feistel_round(right, p->keys[0], high);   /* (high, low) -> (low, high) */
    left = right;
    right = next;
    next = left ^ feistel_round(right, p->keys[1], low);    /* (low, high) -> (high, low) */
    left = right;
    right = next;
    next = left ^ feistel_round(right, p->keys[2], high);
    left = right;
    right = next;
    next = left ^ feistel_round(right, p->keys[3], low);
    left = right;
    right = next;
    return (left << low) | right;
}

uint64_t scan_permutation_at(const struct scan_permutation *p, uint64_t i)
{
    /* Cycle-walking: i < n starts the walk and the orbit of i must come back below n; the
     * domain is under 2n, so fewer than 2 passes are expected. */
    uint64_t x = feistel_encrypt(p, i);
    while (x >= p->n)
        x = feistel_encrypt(p, x);
    return x;
}
