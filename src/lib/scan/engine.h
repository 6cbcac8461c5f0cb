/* engine.h — one interface for every scan engine (connect, syn, udp), chosen by name, as
 * zmap's probe modules are: an engine gets a job (targets x ports in permuted order, this
 * shard's share of it, timing limits) and reports exactly one struct scan_result per probe
 * through a sink. Engines never print; a local error is retried or reported as
 * SCAN_STATE_ERROR, never as closed. */
#ifndef PORTREG_SCAN_ENGINE_H
#define PORTREG_SCAN_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/permutation.h"
#include "scan/scan_result.h"
#include "scan/targets.h"
#include "util/error.h"

#define SCAN_RETRIES_NONE UINT32_MAX

/* The resends a job asks for: job->retries with its default and sentinel applied. */
#define SCAN_JOB_RETRIES(job) \
    ((job)->retries == SCAN_RETRIES_NONE ? 0u : (job)->retries == 0 ? 1u : (job)->retries)

/* Counters the CLI reads from another thread for the progress bar. */
struct scan_progress {
    _Atomic uint64_t total;            /* probes in this shard (the caller sets it) */
    _Atomic uint64_t sent;             /* probes sent at least once */
    _Atomic uint64_t done;             /* results reported */
    _Atomic uint64_t open;
    _Atomic uint64_t retries;
};

typedef void (*scan_emit_fn)(void *ctx, const struct scan_result *result);

/* Where results go: emit is called with the lock held, so never twice at once. */
struct scan_sink {
    scan_emit_fn emit;
    void *ctx;
    pthread_mutex_t lock;
    struct scan_progress *progress;    /* may be NULL */
};

struct scan_job {
    /* what */
    const struct target_set *targets;  /* finished */
    const uint16_t *ports;
    size_t port_count;
    /* order and share */
    uint64_t seed;
    uint32_t shard_index, shard_count; /* --shard I/N, 0-based index; count 1 = everything */
    /* timing; 0 means "the engine's default" */
    double rate_pps;                   /* 0 = unlimited */
    uint32_t max_inflight;
    uint32_t timeout_ms;               /* cap on one probe's timeout (nmap's max-rtt-timeout) */
    uint32_t initial_timeout_ms;       /* before any round trip is measured (nmap's
                                          initial-rtt-timeout); 0 = the cap */
    uint32_t min_timeout_ms;           /* floor of the adaptive timeout (min-rtt-timeout);
                                          0 = the engine's (100 ms) */
    uint32_t retries;                  /* extra attempts after silence: 0 = the default (1),
                                          SCAN_RETRIES_NONE = none (--retries 0) */
    uint32_t threads;                  /* 0 = one per online core */
    /* extras */
    bool banners;
    uint32_t banner_timeout_ms;        /* default 500 */
    /* filled by scan_job_prepare() */
    struct scan_permutation order;
    uint64_t probe_count;              /* probes in this shard */
};

/* The RTT table's bounds for a job (scan_rtt_init's arguments, microseconds): the cap is
 * job->timeout_ms or default_timeout_ms, the first timeout job->initial_timeout_ms (at most the
 * cap) or the cap, the floor job->min_timeout_ms or default_min_us (at most the cap). */
void scan_job_rtt_bounds(const struct scan_job *job, uint32_t default_timeout_ms, uint32_t default_min_us,
                         uint32_t *min_us, uint32_t *initial_us, uint32_t *max_us);

/* Check the job and compute the order: -EINVAL for a bad shard or an empty port list. */
int scan_job_prepare(struct scan_job *job, struct pr_error *err);
/* The k-th probe of this shard (0 <= k < job->probe_count): target address and port.
 * Positions shard_index, shard_index + shard_count, ... of the permutation of
 * targets x ports; k can be computed by any thread independently. */
void scan_job_probe(const struct scan_job *job, uint64_t k, struct scan_address *target,
                    uint16_t *port);

void scan_sink_init(struct scan_sink *sink, scan_emit_fn emit, void *ctx,
                    struct scan_progress *progress);
void scan_sink_emit(struct scan_sink *sink, const struct scan_result *result);
void scan_sink_destroy(struct scan_sink *sink);

struct scan_engine {
    const char *name;                  /* "connect", "syn", "udp" */
    uint8_t proto;                     /* REGISTRY_PROTO_TCP or _UDP */
    const char *summary;               /* one line for --help */
    /* 0 when the engine can run here (e.g. syn needs CAP_NET_RAW), else -EPERM etc. with why. */
    int (*usable)(struct pr_error *err);
    /* Scan the job; one result per probe into sink. Returns 0, or a negative code when the
     * scan could not run at all (results already emitted stay valid). */
    int (*run)(const struct scan_job *job, struct scan_sink *sink, struct pr_error *err);
};

extern const struct scan_engine scan_engine_connect;
extern const struct scan_engine scan_engine_syn;
extern const struct scan_engine scan_engine_udp;

/* By name; NULL when unknown. */
const struct scan_engine *scan_engine_find(const char *name);
/* "syn" when usable here, else "connect". */
const struct scan_engine *scan_engine_default_tcp(void);

/* Online cores, at least 1. */
uint32_t scan_cpu_count(void);

#endif
