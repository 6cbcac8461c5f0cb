/* server_metrics.c — /metrics in Prometheus' text format. Counters are kept in shards: each
 * request thread takes a shard of its own the first time it counts (a thread-local index, 16
 * shards, each on its own cache lines) and adds with relaxed atomics, so counting takes no
 * lock and threads do not share cache lines; a scrape sums the shards. Gauges (assignments,
 * leases and requests by state) are read from the ledger at scrape time. */
#include "ledger/ledger_fleet.h"
#include "server/server_metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_http.h"

#define METRICS_SHARDS 16u

static const unsigned metrics_statuses[] = { 200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422,
                                             429, 500, 503 };
#define METRICS_STATUS_COUNT (sizeof metrics_statuses / sizeof metrics_statuses[0])
#define METRICS_STATUS_SLOTS (METRICS_STATUS_COUNT + 1)   /* + other */

/* upper bounds in seconds; the last slot is +Inf */
static const double metrics_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                          5, 10 };
#define METRICS_BUCKET_COUNT (sizeof metrics_buckets / sizeof metrics_buckets[0])

/* methods of unmatched requests: others are counted as "other" (the label is text from outside) */
static const char *const metrics_methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other" };
#define METRICS_METHOD_COUNT (sizeof metrics_methods / sizeof metrics_methods[0])

struct metrics_row {
    atomic_uint_fast64_t status[METRICS_STATUS_SLOTS];
    atomic_uint_fast64_t bucket[METRICS_BUCKET_COUNT + 1];   /* not cumulative; summed at scrape */
    atomic_uint_fast64_t sum_ns;
};

struct server_metrics {
    int64_t start_time;
    size_t routes;           /* rows 0..routes-1: routes; then one row per method of unmatched requests */
    size_t rows;
    struct metrics_row *shards[METRICS_SHARDS];
};

static atomic_uint next_shard;
static _Thread_local unsigned thread_shard_plus_one;

struct server_metrics *server_metrics_create(int64_t start_time)
{
    struct server_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->start_time = start_time;
    m->routes = server_route_index(NULL);
    m->rows = m->routes + METRICS_METHOD_COUNT;
    size_t bytes = (m->rows * sizeof(struct metrics_row) + 63) & ~(size_t)63;
    for (unsigned s = 0; s < METRICS_SHARDS; s++) {
        m->shards[s] = aligned_alloc(64, bytes);
        if (!m->shards[s]) {
            server_metrics_free(m);
            return NULL;
        }
        memset(m->shards[s], 0, bytes);
    }
    return m;
}

void server_metrics_free(struct server_metrics *m)
{
    if (!m)
        return;
    for (unsigned s = 0; s < METRICS_SHARDS; s++)
        free(m->shards[s]);
    free(m);
}

void server_metrics_record(struct server_metrics *m, const struct server_route *route, const char *method,
                           unsigned status, double seconds)
{
    if (!thread_shard_plus_one)
        thread_shard_plus_one = atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % METRICS_SHARDS + 1;
    size_t row = route ? server_route_index(route) : m->routes;
    if (!route || row >= m->routes) {
        size_t k = 0;
        while (k + 1 < METRICS_METHOD_COUNT && strcmp(metrics_methods[k], method ? method : "") != 0)
            k++;
        row = m->routes + k;
    }
    struct metrics_row *r = &m->shards[thread_shard_plus_one - 1][row];
    size_t slot = 0;
    while (slot < METRICS_STATUS_COUNT && metrics_statuses[slot] != status)
        slot++;
    atomic_fetch_add_explicit(&r->status[slot], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < METRICS_BUCKET_COUNT && seconds > metrics_buckets[b])
        b++;
    atomic_fetch_add_explicit(&r->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_ns, (uint_fast64_t)(seconds > 0 ? seconds * 1e9 : 0), memory_order_relaxed);
}

/* A row's labels: method="GET",route="/api/v1/hosts/{id}" (route patterns need no escaping:
 * they are ours; unmatched requests are route="unmatched"). */
static void row_labels(const struct server_metrics *m, size_t row, char *buf, size_t size)
{
    if (row < m->routes) {
        const struct server_route *route = server_route_at(row);
        snprintf(buf, size, "method=\"%s\",route=\"%s\"", route->method, route->pattern);
    } else {
        snprintf(buf, size, "method=\"%s\",route=\"unmatched\"", metrics_methods[row - m->routes]);
    }
}

/* The fleet (ledger_drift.c): drift findings per host and kind (present not counted), agents
 * that stopped reporting, and the age of each host's last report. Host names are [A-Za-z0-9._-]
 * (ledger_name_valid): safe as label values. */
static void render_fleet(FILE *out, struct ledger *ledger)
{
    struct ledger_error lerr = { 0 };
    json_t *drift = NULL;
    if (ledger_drift(ledger, NULL, &drift, &lerr) < 0) {
        ledger_error_clear(&lerr);
        return;
    }
    fputs("# HELP portreg_drift Drift findings by host and kind (agents' reports and scans against the registry).\n"
          "# TYPE portreg_drift gauge\n", out);
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(drift, "hosts"), i, h) {
        const char *kind;
        json_t *n;
        bool watched = !json_is_null(json_object_get(h, "agent")) || !json_is_null(json_object_get(h, "scan"));
        json_object_foreach(json_object_get(h, "counts"), kind, n)
            if (watched && strcmp(kind, "present") != 0)
                fprintf(out, "portreg_drift{host=\"%s\",kind=\"%s\"} %lld\n", json_string_value(json_object_get(h, "host")),
                        kind, (long long)json_integer_value(n));
    }
    fprintf(out, "# HELP portreg_hosts_stale Hosts whose agent has not reported for 3 intervals.\n"
                 "# TYPE portreg_hosts_stale gauge\nportreg_hosts_stale %zu\n",
            json_array_size(json_object_get(drift, "stale")));
    fputs("# HELP portreg_agent_report_age_seconds Seconds since the host's agent last reported.\n"
          "# TYPE portreg_agent_report_age_seconds gauge\n", out);
    json_array_foreach(json_object_get(drift, "hosts"), i, h) {
        json_t *agent = json_object_get(h, "agent");
        if (json_is_object(agent))
            fprintf(out, "portreg_agent_report_age_seconds{host=\"%s\"} %lld\n",
                    json_string_value(json_object_get(h, "host")), (long long)json_integer_value(json_object_get(agent, "age_s")));
    }
    json_decref(drift);
}

char *server_metrics_render(struct server_metrics *m, struct ledger *ledger)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    fputs("# HELP portreg_http_requests_total Requests answered, by route pattern, method and status.\n"
          "# TYPE portreg_http_requests_total counter\n", out);
    struct metrics_row *sums = calloc(m->rows, sizeof *sums);
    if (!sums) {
        fclose(out);
        free(text);
        return NULL;
    }
    for (size_t row = 0; row < m->rows; row++)
        for (unsigned s = 0; s < METRICS_SHARDS; s++) {
            const struct metrics_row *r = &m->shards[s][row];
            for (size_t k = 0; k < METRICS_STATUS_SLOTS; k++)
                atomic_fetch_add_explicit(&sums[row].status[k], atomic_load_explicit(&r->status[k], memory_order_relaxed),
                                          memory_order_relaxed);
            for (size_t k = 0; k <= METRICS_BUCKET_COUNT; k++)
                atomic_fetch_add_explicit(&sums[row].bucket[k], atomic_load_explicit(&r->bucket[k], memory_order_relaxed),
                                          memory_order_relaxed);
            atomic_fetch_add_explicit(&sums[row].sum_ns, atomic_load_explicit(&r->sum_ns, memory_order_relaxed),
                                      memory_order_relaxed);
        }
    char labels[400];
    for (size_t row = 0; row < m->rows; row++) {
        row_labels(m, row, labels, sizeof labels);
        for (size_t k = 0; k < METRICS_STATUS_SLOTS; k++) {
            uint64_t n = atomic_load(&sums[row].status[k]);
            if (!n)
                continue;
            if (k < METRICS_STATUS_COUNT)
                fprintf(out, "portreg_http_requests_total{%s,status=\"%u\"} %llu\n", labels, metrics_statuses[k],
                        (unsigned long long)n);
            else
                fprintf(out, "portreg_http_requests_total{%s,status=\"other\"} %llu\n", labels, (unsigned long long)n);
        }
    }
    fputs("# HELP portreg_http_request_duration_seconds Time from a request's first byte to its answer.\n"
          "# TYPE portreg_http_request_duration_seconds histogram\n", out);
    for (size_t row = 0; row < m->rows; row++) {
        uint64_t count = 0;
        for (size_t k = 0; k <= METRICS_BUCKET_COUNT; k++)
            count += atomic_load(&sums[row].bucket[k]);
        if (!count)
            continue;
        row_labels(m, row, labels, sizeof labels);
        uint64_t cumulative = 0;
        for (size_t k = 0; k < METRICS_BUCKET_COUNT; k++) {
            cumulative += atomic_load(&sums[row].bucket[k]);
            fprintf(out, "portreg_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", labels,
                    metrics_buckets[k], (unsigned long long)cumulative);
        }
        fprintf(out, "portreg_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", labels,
                (unsigned long long)count);
        fprintf(out, "portreg_http_request_duration_seconds_sum{%s} %.9f\n", labels,
                (double)atomic_load(&sums[row].sum_ns) / 1e9);
        fprintf(out, "portreg_http_request_duration_seconds_count{%s} %llu\n", labels, (unsigned long long)count);
    }
    free(sums);

    struct ledger_error lerr = { 0 };
    json_t *stats = NULL;
    bool up = ledger && ledger_stats(ledger, &stats, &lerr) == 0;
    ledger_error_clear(&lerr);
    static const struct {
        const char *key, *metric, *help;
    } gauges[] = {
        { "assignments", "portreg_assignments", "Assignments by state." },
        { "leases", "portreg_leases", "Leases by state (active: held now or expired and not yet reclaimed)." },
        { "requests", "portreg_requests", "Requests by state (submitted: the review queue)." },
    };
    for (size_t g = 0; up && g < sizeof gauges / sizeof gauges[0]; g++) {
        fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", gauges[g].metric, gauges[g].help, gauges[g].metric);
        const char *state;
        json_t *n;
        json_object_foreach(json_object_get(stats, gauges[g].key), state, n)
            fprintf(out, "%s{state=\"%s\"} %lld\n", gauges[g].metric, state, (long long)json_integer_value(n));
    }
    if (up)
        fprintf(out, "# HELP portreg_requests_submitted Requests waiting for review.\n"
                     "# TYPE portreg_requests_submitted gauge\nportreg_requests_submitted %lld\n",
                (long long)json_integer_value(json_object_get(json_object_get(stats, "requests"), "submitted")));
    json_decref(stats);
    if (up)
        render_fleet(out, ledger);
    fprintf(out, "# HELP portreg_database_up 1 when the database answered this scrape.\n"
                 "# TYPE portreg_database_up gauge\nportreg_database_up %d\n", up ? 1 : 0);
    fprintf(out, "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n"
                 "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %lld\n",
            (long long)m->start_time);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
