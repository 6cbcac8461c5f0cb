/* scan_output.h — how `portreg scan` shows its results: the per-host table on a terminal (plain
 * tab-separated rows when piped), one JSON document, NDJSON lines as results arrive, nmap's
 * XML (scan_xml.c), normal (scan_normal.c) and grepable (scan_grepable.c) formats, and the
 * --local comparison with this host's live sockets. Field names are stable (portreg-scan(1)). */
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
    bool only_open;                           /* --open: open and open|filtered ports only */
    bool reason;                              /* --reason: nmap's REASON column in -oN */
    bool banners;                             /* --banners: a BANNER column when piped */
};

/* The timing a run used, every default resolved (JSON "timing", -v). */
struct scan_timing_info {
    const char *template_name;      /* "aggressive" (-T4), or NULL without -T */
    int template_level;             /* 0..5, -1 without -T */
    double rate_pps;                /* 0 = unlimited */
    uint32_t max_inflight;          /* 0 = the engine's own (from the file and port limits) */
    uint32_t threads;               /* 0 = one per core */
    uint32_t timeout_ms, initial_timeout_ms, min_timeout_ms;
    uint32_t retries;
};

struct scan_run_info {
    double elapsed;                 /* seconds */
    time_t started;
    uint64_t probes;                /* of every pass */
    uint32_t shard_index, shard_count;
    uint64_t seed;
    const char *args;               /* the command line, for the XML */
    uint64_t queue_full_corrected;
    uint64_t resent;                /* probes sent again after silence */
    int verbose;                    /* -v count (nmap's <verbose level>) */
    struct scan_timing_info timing;
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

/* Walking the hosts of a report in target order: every host with a result (and, with
 * every_target, each target with per-host counts, as the JSON lists them); with only_open
 * (--open) only hosts with a port open or open|filtered. kept[from, to) are the host's
 * results that are not closed. */
struct scan_host_cursor {
    uint64_t next_target;
    size_t next_kept;
};
bool scan_next_host(const struct scan_cli_view *v, struct scan_host_cursor *cursor, bool every_target,
                    uint64_t *target, size_t *from, size_t *to);
/* Whether a kept result is shown (--open hides filtered and error results). */
bool scan_port_shown(const struct scan_cli_view *v, const struct scan_kept *k);
/* The target's address, and the name it was typed as (NULL for a numeric target). */
const char *scan_host_address(const struct scan_cli_view *v, uint64_t target, char *buf, size_t size);
const char *scan_host_name(const struct scan_cli_view *v, uint64_t target);
/* The service name nmap writes with method "table" (nmap-services; "unknown" where it lists
 * none), or NULL without a registry. */
const char *scan_cli_nmap_service(const struct scan_cli_view *v, uint16_t port, uint8_t proto);
/* nmap's reason names: "syn-ack", "reset", "conn-refused", "no-response", "port-unreach"... */
const char *scan_cli_nmap_reason(uint8_t reason, uint8_t icmp_type, uint8_t icmp_code, char *buf,
                                 size_t size);
/* nmap's extrareasons of closed ports of a pass: "reset", "conn-refused" or "port-unreach". */
const char *scan_cli_closed_reason(const struct scan_engine *engine);
/* nmap's "# Nmap ... scan initiated DATE as: ARGS" time format ("Fri Dec  4 08:22:41 2026"). */
void scan_cli_time_text(time_t when, char *buf, size_t size);

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
/* nmap's normal output (-oN) and grepable output (-oG) into a memory stream (open_memstream),
 * then to path through util/file_io.h as -oX (scan_output_text_file). */
void scan_output_normal(const struct scan_cli_view *v, const struct scan_run_info *info, FILE *out);
/* The frame both share: nmap's "# ... scan initiated" line, write_host for every host shown
 * (its results from..to), and the "# ... done at" line with the hosts up. */
void scan_output_nmap_report(const struct scan_cli_view *v, const struct scan_run_info *info, FILE *out,
                             void (*write_host)(const struct scan_cli_view *, uint64_t, size_t, size_t, FILE *));
void scan_output_grepable(const struct scan_cli_view *v, const struct scan_run_info *info, FILE *out);
int scan_output_text_file(const struct scan_cli_view *v, const struct scan_run_info *info, const char *path,
                          void (*writer)(const struct scan_cli_view *, const struct scan_run_info *, FILE *),
                          struct pr_error *err);

/* Compare the results for this host's own addresses with its live server sockets. */
int scan_local_compare(const struct scan_cli_view *v, const struct host_addresses *host,
                       struct local_diffs *out, struct pr_error *err);
void local_diffs_free(struct local_diffs *diffs);

#endif
