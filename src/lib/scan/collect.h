/* collect.h — what a finished scan keeps for its report: every result that is not "closed" in
 * a compact form (24 bytes plus the banner), and per-host counts of every state. Closed ports
 * are only counted, so memory grows with what is found, not with what is probed; --ndjson
 * streams every result instead. */
#ifndef PORTREG_SCAN_COLLECT_H
#define PORTREG_SCAN_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#include "scan/scan_result.h"
#include "scan/targets.h"

struct scan_kept {
    uint64_t target;                  /* index in the target set */
    uint32_t rtt_us;
    uint32_t banner_offset;           /* into scan_collect.banners: the banner in its
                                         util/text_escape.h form (not NUL-terminated) */
    uint16_t port;
    uint16_t banner_len;
    uint8_t proto, state, reason, icmp_type, icmp_code, reply_ttl;
    int16_t error;
};

struct scan_host_counts {
    uint32_t state[SCAN_STATE_COUNT];   /* every protocol */
    uint32_t closed_udp;                /* of state[SCAN_STATE_CLOSED], the UDP ports (-sS -sU:
                                           nmap's XML says closed per protocol) */
};

/* Per-host counts are kept for at most this many targets; beyond, only totals. */
#define SCAN_COLLECT_MAX_HOSTS (UINT64_C(1) << 22)

struct scan_collect {
    const struct target_set *targets;
    struct scan_kept *kept;
    size_t kept_count, kept_capacity;
    char *banners;
    size_t banners_len, banners_capacity;
    struct scan_host_counts *hosts;   /* per target index; NULL past SCAN_COLLECT_MAX_HOSTS */
    uint64_t totals[SCAN_STATE_COUNT];
    uint64_t results;
};

int scan_collect_init(struct scan_collect *c, const struct target_set *targets);
/* Record one result (not thread-safe: call from the sink, which serialises). */
int scan_collect_add(struct scan_collect *c, const struct scan_result *result);
/* Sort what was kept by target, then port, then protocol. */
void scan_collect_sort(struct scan_collect *c);
void scan_collect_free(struct scan_collect *c);

#endif
