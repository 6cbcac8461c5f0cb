/* agent_backoff.h — how long the agent waits before it tries again after the server failed:
 * capped exponential backoff with jitter. The first wait is base, each failure doubles it up
 * to cap, and every wait is the doubled value times a random factor in [0.8, 1.2], never above
 * cap, so that 1,000 agents cut off together do not come back in the same second. Pure: the
 * caller passes the random number (tests pin it). */
#ifndef PORTREG_AGENT_AGENT_BACKOFF_H
#define PORTREG_AGENT_AGENT_BACKOFF_H

#include <stdint.h>

#define AGENT_BACKOFF_BASE_MS 1000u
#define AGENT_BACKOFF_CAP_MS (5u * 60u * 1000u)
#define AGENT_BACKOFF_JITTER_PERCENT 20u

struct agent_backoff {
    uint64_t base_ms;      /* first wait, > 0 */
    uint64_t cap_ms;       /* longest wait, >= base_ms */
    unsigned failures;     /* consecutive failures so far */
};

/* The agent's policy for an interval: cap = the interval, at most 5 minutes (a failing
 * agent never waits longer than a healthy one would); base = 1 s, at most the cap. */
void agent_backoff_init(struct agent_backoff *b, uint64_t interval_ms);
/* One more failure: the wait before the next try, in [0.8 d, min(1.2 d, cap)] where
 * d = min(base * 2^failures, cap); random is any 32-bit value (uniform). */
uint64_t agent_backoff_next(struct agent_backoff *b, uint32_t random);
/* A success: the next failure starts again from base. */
void agent_backoff_reset(struct agent_backoff *b);

#endif
