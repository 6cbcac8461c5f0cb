/* timing.h — the scanner's timing model.
 * - Round-trip estimates as TCP does (RFC 6298: smoothed RTT and variance, timeout =
 *   srtt + 4 * rttvar, clamped to [min, max]), one global estimate plus one per host kept in a
 *   fixed-size table (hosts hash into slots; a collision only shares an estimate), so memory
 *   does not grow with the number of targets.
 * - A token-bucket rate limiter for --rate (probes per second; 0 = unlimited).
 * Neither is thread-safe: each engine thread owns its own. */
#ifndef PORTREG_SCAN_TIMING_H
#define PORTREG_SCAN_TIMING_H

#include <stdbool.h>
#include <stdint.h>

#include "scan/scan_result.h"

#define SCAN_RTT_SLOTS 4096

struct scan_rtt_estimate {
    uint32_t srtt_us, rttvar_us;       /* 0 srtt = no sample yet */
};

struct scan_rtt {
    uint32_t min_timeout_us, max_timeout_us, initial_timeout_us;
    struct scan_rtt_estimate global;
    struct scan_rtt_estimate slots[SCAN_RTT_SLOTS];
};

/* initial: the timeout before any sample; max: the cap (--timeout). */
void scan_rtt_init(struct scan_rtt *rtt, uint32_t min_timeout_us, uint32_t initial_timeout_us,
                   uint32_t max_timeout_us);
void scan_rtt_sample(struct scan_rtt *rtt, const struct scan_address *host, uint32_t rtt_us);
/* The timeout for the next probe of host (per-host estimate if any, else the global one). */
uint32_t scan_rtt_timeout(const struct scan_rtt *rtt, const struct scan_address *host);

struct scan_rate {
    double rate;                       /* tokens per second; 0 = unlimited */
    double burst;                      /* bucket size */
    double tokens;
    uint64_t last_ns;
};

void scan_rate_init(struct scan_rate *rate, double per_second, uint64_t now_ns);
/* How many probes may be sent now (at most want); takes them from the bucket. */
uint32_t scan_rate_take(struct scan_rate *rate, uint32_t want, uint64_t now_ns);
/* Nanoseconds until one more token is available (0 when one is). */
uint64_t scan_rate_wait_ns(const struct scan_rate *rate, uint64_t now_ns);

uint64_t scan_now_ns(void);            /* CLOCK_MONOTONIC */

#endif
