/* agent_backoff.c — capped exponential backoff with ±20% jitter (see agent_backoff.h). */
#include "agent/agent_backoff.h"

void agent_backoff_init(struct agent_backoff *b, uint64_t interval_ms)
{
    b->cap_ms = interval_ms < AGENT_BACKOFF_CAP_MS ? interval_ms : AGENT_BACKOFF_CAP_MS;
    if (b->cap_ms == 0)
        b->cap_ms = 1;
    b->base_ms = AGENT_BACKOFF_BASE_MS < b->cap_ms ? AGENT_BACKOFF_BASE_MS : b->cap_ms;
    b->failures = 0;
}

uint64_t agent_backoff_next(struct agent_backoff *b, uint32_t random)
{
    uint64_t d = b->base_ms;
    for (unsigned i = 0; i < b->failures && d < b->cap_ms; i++)
        d *= 2;
    if (d > b->cap_ms)
        d = b->cap_ms;
    if (b->failures < 64)
        b->failures++;
    /* factor in per mille: 800 + (random mod 401) → [800, 1200] */
    uint64_t span = 2 * AGENT_BACKOFF_JITTER_PERCENT * 10 + 1;
    uint64_t per_mille = 1000 - AGENT_BACKOFF_JITTER_PERCENT * 10 + (uint64_t)random % span;
    uint64_t wait = d * per_mille / 1000;
    if (wait > b->cap_ms)
        wait = b->cap_ms;
    return wait ? wait : 1;
}

void agent_backoff_reset(struct agent_backoff *b)
{
    b->failures = 0;
}
