/* engine.c — the job's probe order, the result sink and the engine table. */
#include "scan/engine.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void scan_job_rtt_bounds(const struct scan_job *job, uint32_t default_timeout_ms, uint32_t default_min_us,
                         uint32_t *min_us, uint32_t *initial_us, uint32_t *max_us)
{
    uint64_t cap = (uint64_t)(job->timeout_ms ? job->timeout_ms : default_timeout_ms) * 1000u;
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    uint64_t initial = job->initial_timeout_ms ? (uint64_t)job->initial_timeout_ms * 1000u : cap;
    uint64_t floor = job->min_timeout_ms ? (uint64_t)job->min_timeout_ms * 1000u : default_min_us;
    *max_us = (uint32_t)cap;
    *initial_us = (uint32_t)(initial < cap ? initial : cap);
    *min_us = (uint32_t)(floor < cap ? floor : cap);
}

int scan_job_prepare(struct scan_job *job, struct pr_error *err)
{
    if (!job->targets || !job->targets->finished || job->targets->total == 0)
        return pr_error_set(err, -EINVAL, "no targets to scan");
    if (job->port_count == 0)
        return pr_error_set(err, -EINVAL, "no ports to scan");
    if (job->shard_count == 0)
        job->shard_count = 1;
    if (job->shard_index >= job->shard_count)
        return pr_error_set(err, -EINVAL, "shard %u/%u: the index must be below the count",
                            job->shard_index + 1, job->shard_count);
    uint64_t total = job->targets->total;
    if (total > UINT64_MAX / job->port_count || total * job->port_count > (UINT64_C(1) << 62))
        return pr_error_set(err, -E2BIG, "%llu targets x %zu ports is too many probes",
                            (unsigned long long)total, job->port_count);
    uint64_t n = total * job->port_count;
    scan_permutation_init(&job->order, n, job->seed);
    job->probe_count = n / job->shard_count + (job->shard_index < n % job->shard_count ? 1 : 0);
    return 0;
}

void scan_job_probe(const struct scan_job *job, uint64_t k, struct scan_address *target,
                    uint16_t *port)
{
    uint64_t position = job->shard_index + k * job->shard_count;
    uint64_t element = scan_permutation_at(&job->order, position);
    target_set_get(job->targets, element / job->port_count, target);
    *port = job->ports[element % job->port_count];
}

void scan_sink_init(struct scan_sink *sink, scan_emit_fn emit, void *ctx,
                    struct scan_progress *progress)
{
    sink->emit = emit;
    sink->ctx = ctx;
    sink->progress = progress;
    pthread_mutex_init(&sink->lock, NULL);
}

void scan_sink_emit(struct scan_sink *sink, const struct scan_result *result)
{
    pthread_mutex_lock(&sink->lock);
    if (sink->emit)
        sink->emit(sink->ctx, result);
    pthread_mutex_unlock(&sink->lock);
    if (sink->progress) {
        atomic_fetch_add(&sink->progress->done, 1);
        if (result->state == SCAN_STATE_OPEN)
            atomic_fetch_add(&sink->progress->open, 1);
    }
}

void scan_sink_destroy(struct scan_sink *sink)
{
    pthread_mutex_destroy(&sink->lock);
}

static const struct scan_engine *const engines[] = {
    &scan_engine_connect, &scan_engine_syn, &scan_engine_udp,
};

const struct scan_engine *scan_engine_find(const char *name)
{
    for (size_t i = 0; i < sizeof engines / sizeof engines[0]; i++)
        if (strcmp(engines[i]->name, name) == 0)
            return engines[i];
    return NULL;
}

const struct scan_engine *scan_engine_default_tcp(void)
{
    if (scan_engine_syn.usable(NULL) == 0)
        return &scan_engine_syn;
    return &scan_engine_connect;
}

uint32_t scan_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (uint32_t)n;
}
