/* scan_output.h — how `portreg scan` shows its results: the per-host table, one JSON document,
 * NDJSON lines as results arrive, nmap's XML (scan_xml.c), and the --local comparison with
 * this host's live sockets. Field names are stable (portreg-scan(1)). */
#ifndef PORTREG_CLI_SCAN_OUTPUT_H
#define PORTREG_CLI_SCAN_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cli.h"
#include "scan/collect.h"
#include "scan/engine.h"
#include "scan/local_view.h"
#include "socket_view.h"

/* One protocol's share of a run: `-sS -sU` is a TCP pass with the syn engine, then a UDP
 * pass with the udp engine, into one collection. */
#define SCAN_PASSES_MAX 2
struct scan_pass {
    const struct scan_engine *engine;
    uint16_t *ports;                          /* the ports probed, ascending */
    size_t port_count;
    uint64_t probes;                          /* probes of this shard */
};

struct scan_cli_view {
    const struct socket_view_context *view;   /* registry for service names (may be NULL) */
    const struct scan_pass *passes;           /* TCP first */
    size_t pass_count;
    const struct scan_collect *collect;
};

struct scan_run_info {
    double elapsed;                 /* seconds */
    time_t started;
    uint64_t probes;                /* of every pass */
    uint32_t shard_index, shard_count;
    uint64_t seed;
    const char *args;               /* the command line, for the XML */
    uint64_t queue_full_corrected;
};

/* A difference between the scan of one of this host's addresses and its sockets. */
enum local_diff_kind {
    LOCAL_DIFF_OPEN_WITHOUT_LISTENER,  /* open, but no socket here accepts on it */
    LOCAL_DIFF_LISTENER_NOT_REACHED,   /* a socket accepts on it, but the probe was refused/dropped */
    LOCAL_DIFF_BOUND_ELSEWHERE,        /* closed here; a socket listens on another address */
};

struct local_diff {
    enum local_diff_kind kind;
    uint64_t target;
    uint16_t port;
    uint8_t proto, state, reason;
    char listener[160];             /* "127.0.0.1:8080 held by python3 (pid 42)" or "" */
    char explanation[256];
};

struct local_diffs {
    struct local_diff *items;
    size_t count, capacity;
    uint64_t compared;              /* (address, port) pairs of this host compared */
};

/* "1-3,7,9-10" from an ascending port list (malloc'd; NULL on out of memory). */
char *scan_ports_text(const uint16_t *ports, size_t count);
/* IANA service of port/proto, or NULL. */
const char *scan_cli_service(const struct scan_cli_view *v, uint16_t port, uint8_t proto);
/* "syn-ack", "icmp 3/3", "error EMFILE" into buf. */
const char *scan_cli_reason(uint8_t reason, uint8_t icmp_type, uint8_t icmp_code, int error,
                            char *buf, size_t size);

void scan_output_table(const struct cli_context *ctx, const struct scan_cli_view *v,
                       const struct scan_run_info *info, const struct local_diffs *diffs);
void scan_output_json(const struct cli_context *ctx, const struct scan_cli_view *v,
                      const struct scan_run_info *info, const struct local_diffs *diffs);
/* One line per result on stdout (called from the sink; flushed per line). */
void scan_output_ndjson_line(const struct scan_cli_view *v, const struct scan_result *r);
/* Write nmap's XML format to path (atomically: a temporary file, then rename). */
int scan_output_xml(const struct scan_cli_view *v, const struct scan_run_info *info, const char *path,
                    struct pr_error *err);

/* Compare the results for this host's own addresses with its live server sockets. */
int scan_local_compare(const struct scan_cli_view *v, const struct host_addresses *host,
                       struct local_diffs *out, struct pr_error *err);
void local_diffs_free(struct local_diffs *diffs);

#endif
