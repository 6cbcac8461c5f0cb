/* server_metrics.h — the counters behind GET /metrics (server_metrics.c): requests by route
 * pattern, method and status, and their latency histogram, counted per thread. */
#ifndef PORTREG_SERVER_SERVER_METRICS_H
#define PORTREG_SERVER_SERVER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/ledger.h"

struct server_route;
struct server_metrics;

struct server_metrics *server_metrics_create(int64_t start_time);
void server_metrics_free(struct server_metrics *metrics);
/* One answered request (route NULL: no route matched; method then as sent). Lock-free. */
void server_metrics_record(struct server_metrics *metrics, const struct server_route *route, const char *method,
                           unsigned status, double seconds);
/* Prometheus' text exposition format (version 0.0.4): the counters, the gauges read from the
 * ledger (NULL or a failing database: portreg_database_up 0 and no row gauges). malloc'ed. */
char *server_metrics_render(struct server_metrics *metrics, struct ledger *ledger);

#endif
