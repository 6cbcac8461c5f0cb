/* plan_diff.h — `portreg plan diff`: drift between the port plan and reality, in three columns
 * (declared and present; declared but absent or on the wrong address; present but undeclared)
 * against this host's live sockets (an inspect_result) or a scan of many hosts (the scanner's
 * --json document). Pure functions over their inputs: the CLI gathers the sockets or reads the
 * file; the same drift list feeds the table, --json and the exit code. */
#ifndef PORTREG_PLAN_PLAN_DIFF_H
#define PORTREG_PLAN_PLAN_DIFF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/inspect.h"
#include "plan/plan.h"
#include "util/arena.h"
#include "util/error.h"
#include "util/port_set.h"

enum plan_drift_kind {
    PLAN_DRIFT_PRESENT,          /* declared, and held / open where the bind allows */
    PLAN_DRIFT_ABSENT,           /* declared, nothing holds it (scan: not open) */
    PLAN_DRIFT_WRONG_ADDRESS,    /* declared, held on an address the bind does not allow
                                  * (declared loopback, bound to 0.0.0.0; declared internal,
                                  * bound to any; scan: open on another address of the host) */
    PLAN_DRIFT_UNDECLARED,       /* held / open, but no service of that host declares it */
    PLAN_DRIFT_NOT_VISIBLE,      /* scan: declared loopback and not seen; a scan cannot see it */
    PLAN_DRIFT_UNKNOWN,          /* cannot tell: `auto` port not resolved, protocol or address
                                  * not covered by the scan, probe error, UDP silence */
};
#define PLAN_DRIFT_KIND_COUNT 6

struct plan_drift_item {
    enum plan_drift_kind kind;
    const char *host;            /* plan host name; NULL: a scanned address of no plan host */
    size_t host_index;           /* into plan->hosts; SIZE_MAX with host NULL */
    const char *service;         /* the declaring service; NULL for undeclared */
    uint8_t proto;               /* enum registry_proto: TCP or UDP */
    uint16_t port;               /* 0 for an unresolved `auto` port */
    const char *address;         /* where it is held / was probed ("0.0.0.0", "10.0.0.10");
                                  * "" when there is none (absent live) */
    const char *declared;        /* the declared bind ("loopback", "internal (10.0.0.10)");
                                  * NULL for undeclared */
    uint32_t pid;                /* live: a holder; 0 when unknown or for scans */
    const char *process;         /* live: its comm; NULL when unknown */
    const char *explanation;     /* one line, for humans */
    struct plan_pos pos;         /* where the port is declared; file NULL for undeclared */
};

/* Every string of the items lives in the drift's arena: it outlives plan and inputs. Items are
 * sorted by host (plan order; unknown addresses last), port, protocol, kind. */
struct plan_drift {
    struct plan_drift_item *items;
    size_t count, capacity;
    size_t counts[PLAN_DRIFT_KIND_COUNT];
    struct arena arena;
};

struct plan_diff_options {
    /* live: the plan host this machine is (the CLI: --host NAME, default the hostname) */
    const char *host;
    /* undeclared sockets bound to loopback only are not reported (live) */
    bool ignore_loopback_undeclared;
    /* scan: addresses that belong to no plan host are not reported (default: their open
     * ports are undeclared with host NULL) */
    bool ignore_unknown_addresses;
    /* scan: a plan host none of whose addresses is in the scan's hosts[] was scanned and had
     * every port closed (the scanner leaves such hosts out); default: unknown, not absent */
    bool missing_hosts_closed;
};

/* The scanner's --json document (src/cli/scan_output.c scan_output_json), as plan_diff_scan
 * reads it: {"scan": {"proto": "tcp", "ports": N, ...}, "hosts": [{"address": "10.0.0.1",
 * "ports": [{"port": 22, "proto": "tcp", "state": "open", ...}]}]}. */
struct plan_scan_port {
    uint16_t port;
    uint8_t proto;               /* enum registry_proto */
    uint8_t state;               /* enum scan_state */
};

struct plan_scan_host {
    const char *address;         /* as written */
    uint8_t family;
    uint8_t bytes[16];
    struct plan_scan_port *ports;
    size_t port_count;
};

struct plan_scan {
    struct plan_scan_host *hosts;
    size_t host_count;
    uint8_t proto;               /* scan.proto; REGISTRY_PROTO_ANY when absent: every protocol
                                  * seen in the ports counts as scanned */
    uint64_t ports_probed;       /* scan.ports, 0 when absent */
    struct arena arena;
    /* scan.port_list ("1-1024,3306"): exactly which ports were probed. A scan that has it
     * also lists every host it scanned in hosts[], those with every port closed included. */
    bool has_port_list;
    struct port_set port_list;
};

/* Parse the document. -EINVAL with err's message naming the JSON field path
 * ("hosts[3].ports[0].port: expected an integer") or, for bad JSON, err->line/column; -ENOMEM.
 * Unknown fields are ignored (the scanner adds some). */
int plan_scan_parse(const char *text, size_t len, struct plan_scan *scan, struct pr_error *err);
void plan_scan_free(struct plan_scan *scan);

/* Drift of opt->host against live sockets: TCP LISTEN and unconnected UDP sockets of live's
 * own namespace (netns[0] when netns_count > 0) count, everything else is ignored. Processes
 * are named when live->processes_looked_up. -EINVAL when opt->host is NULL, -ENOENT when it is
 * no host of the plan (err names the plan's hosts), -ENOMEM. *out is filled on success and
 * must be freed with plan_drift_free either way. */
int plan_diff_live(const struct plan *plan, const struct inspect_result *live,
                   const struct plan_diff_options *opt, struct plan_drift *out,
                   struct pr_error *err);

/* Drift of every plan host against a scan: scanned addresses map to plan hosts through the
 * hosts' addresses. Only "open" counts as present/held; "open|filtered" confirms nothing
 * (declared: unknown; not declared: not reported). opt may be NULL. */
int plan_diff_scan(const struct plan *plan, const struct plan_scan *scan,
                   const struct plan_diff_options *opt, struct plan_drift *out,
                   struct pr_error *err);

void plan_drift_free(struct plan_drift *drift);

/* Drift that makes `plan diff` exit 1: anything absent, on the wrong address or undeclared. */
bool plan_drift_any(const struct plan_drift *drift);

/* "present", "absent", "wrong-address", "undeclared", "not-visible", "unknown". */
const char *plan_drift_kind_name(enum plan_drift_kind kind);

/* {"drift": bool, "counts": {"present": N, ...}, "items": [{"kind", "host", "service",
 * "port", "proto", "address", "declared", "pid", "process", "explanation", "file", "line",
 * "column"}]} — null for absent values. NULL on out of memory. */
json_t *plan_drift_json(const struct plan_drift *drift);

#endif
