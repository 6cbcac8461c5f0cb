/* timing.c — the scanner's timing model: RFC 6298 round-trip estimates (one global, one per
 * host slot; a host hashes into a fixed table, so memory never grows with the targets) and a
 * token bucket for --rate. All integer microseconds except the bucket, which counts fractional
 * tokens so low per-thread rates (rate / threads) stay exact. */
#include "scan/timing.h"

#include <string.h>
#include <sys/socket.h>
#include <time.h>

void scan_rtt_init(struct scan_rtt *rtt, uint32_t min_timeout_us, uint32_t initial_timeout_us,
                   uint32_t max_timeout_us)
{
    memset(rtt, 0, sizeof *rtt);
    if (max_timeout_us == 0)
        max_timeout_us = 1;
    if (min_timeout_us > max_timeout_us)
        min_timeout_us = max_timeout_us;
    rtt->min_timeout_us = min_timeout_us;
    rtt->max_timeout_us = max_timeout_us;
    rtt->initial_timeout_us = initial_timeout_us;
}

/* FNV-1a over the family and the address bytes, then a final mix so that neighbouring
 * addresses (10.0.0.1, 10.0.0.2...) land in unrelated slots. */
static size_t host_slot(const struct scan_address *host)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    size_t len = host->family == AF_INET ? 4 : 16;
    h = (h ^ host->family) * UINT64_C(0x100000001b3);
    for (size_t i = 0; i < len; i++)
        h = (h ^ host->bytes[i]) * UINT64_C(0x100000001b3);
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return (size_t)(h % SCAN_RTT_SLOTS);
}

/* RFC 6298 section 2: the first sample sets SRTT = R, RTTVAR = R / 2; later ones use
 * alpha = 1/8 and beta = 1/4. A zero sample is counted as 1 us so "no sample yet" stays 0. */
static void estimate_update(struct scan_rtt_estimate *e, uint32_t rtt_us)
{
    if (rtt_us == 0)
        rtt_us = 1;
    if (e->srtt_us == 0) {
        e->srtt_us = rtt_us;
        e->rttvar_us = rtt_us / 2;
        return;
    }
    uint32_t delta = e->srtt_us > rtt_us ? e->srtt_us - rtt_us : rtt_us - e->srtt_us;
    e->rttvar_us = (uint32_t)(((uint64_t)e->rttvar_us * 3 + delta) / 4);
    e->srtt_us = (uint32_t)(((uint64_t)e->srtt_us * 7 + rtt_us) / 8);
    if (e->srtt_us == 0)
        e->srtt_us = 1;
}

void scan_rtt_sample(struct scan_rtt *rtt, const struct scan_address *host, uint32_t rtt_us)
{
    estimate_update(&rtt->global, rtt_us);
    estimate_update(&rtt->slots[host_slot(host)], rtt_us);
}

static uint32_t clamp_timeout(const struct scan_rtt *rtt, uint64_t timeout_us)
{
    if (timeout_us < rtt->min_timeout_us)
        return rtt->min_timeout_us;
    if (timeout_us > rtt->max_timeout_us)
        return rtt->max_timeout_us;
    return (uint32_t)timeout_us;
}

uint32_t scan_rtt_timeout(const struct scan_rtt *rtt, const struct scan_address *host)
{
    const struct scan_rtt_estimate *e = &rtt->slots[host_slot(host)];
    if (e->srtt_us == 0)
        e = &rtt->global;
    if (e->srtt_us == 0)
        return clamp_timeout(rtt, rtt->initial_timeout_us);
    return clamp_timeout(rtt, (uint64_t)e->srtt_us + 4 * (uint64_t)e->rttvar_us);
}

/* The bucket holds 10 ms of tokens (at least one): enough to absorb a late wake-up without
 * sending in bursts the network would see as a flood. It starts full. */
void scan_rate_init(struct scan_rate *rate, double per_second, uint64_t now_ns)
{
    rate->rate = per_second > 0 ? per_second : 0;
    rate->burst = rate->rate / 100.0;
    if (rate->burst < 1.0)
        rate->burst = 1.0;
    rate->tokens = rate->burst;
    rate->last_ns = now_ns;
}

static double tokens_at(const struct scan_rate *rate, uint64_t now_ns)
{
    double tokens = rate->tokens;
    if (now_ns > rate->last_ns)
        tokens += (double)(now_ns - rate->last_ns) * rate->rate / 1e9;
    return tokens > rate->burst ? rate->burst : tokens;
}

uint32_t scan_rate_take(struct scan_rate *rate, uint32_t want, uint64_t now_ns)
{
    if (rate->rate <= 0)
        return want;
    rate->tokens = tokens_at(rate, now_ns);
    if (now_ns > rate->last_ns)
        rate->last_ns = now_ns;
    uint32_t granted = want;
    if (rate->tokens < (double)want)
        granted = (uint32_t)rate->tokens;
    rate->tokens -= granted;
    return granted;
}

uint64_t scan_rate_wait_ns(const struct scan_rate *rate, uint64_t now_ns)
{
    if (rate->rate <= 0)
        return 0;
    double tokens = tokens_at(rate, now_ns);
    if (tokens >= 1.0)
        return 0;
    double wait = (1.0 - tokens) * 1e9 / rate->rate;
    return (uint64_t)wait + 1;
}

uint64_t scan_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}
