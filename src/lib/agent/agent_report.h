/* agent_report.h — what an agent reports about its host (docs/API.md, the agent contract):
 * the listening sockets reduced to the contract's LISTENER keys (proto, address, port, netns,
 * process, pid, user, unit, container, exposure), the ephemeral range, the reserved ports and
 * the audit's findings. Built from the inspector's result (agent_report_build, pure, tested
 * on fixed socket tables) or from this host (agent_report_collect, the I/O edge); to and from
 * the JSON of a full report (the state file keeps the last acknowledged one). */
#ifndef PORTREG_AGENT_AGENT_REPORT_H
#define PORTREG_AGENT_AGENT_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "doctor/audit.h"
#include "net/inspect.h"
#include "net/local_ports.h"
#include "util/error.h"

/* Strings are in their util/text_escape.h form (names other users choose); "" is JSON null,
 * pid 0 is null. The key is (proto, local_address, local_port, netns). */
struct agent_listener {
    uint8_t proto;                 /* enum registry_proto: TCP or UDP */
    uint16_t local_port;
    uint32_t pid;
    char local_address[64];        /* "0.0.0.0", "::", "127.0.0.1" */
    char netns[64];                /* "host", a /run/netns name, or the namespace's inode */
    char process[64];
    char user[64];
    char unit[256];
    char container[128];           /* "docker:ID", "pod:UID", "" */
    char exposure[16];             /* socket_exposure_id() */
};

struct agent_finding {
    uint8_t proto;                 /* 0: host-wide (JSON null) */
    uint16_t port;
    char severity[16];             /* audit_severity_name() */
    char code[48];                 /* audit_kind_id() */
    char message[192];             /* the finding's title */
};

struct agent_report {
    struct agent_listener *listeners;   /* sorted by key, one per key */
    size_t listener_count;
    struct agent_finding *findings;     /* in the audit's order */
    size_t finding_count;
    bool have_ephemeral;
    uint16_t ephemeral_lo, ephemeral_hi;
    char reserved[4096];                /* ip_local_reserved_ports as the kernel prints it, "" */
};

/* Order of two listeners by key (proto, address, port, netns); 0 when they share a key. */
int agent_listener_compare_key(const struct agent_listener *a, const struct agent_listener *b);
/* Whether two listeners with one key also agree on everything else. */
bool agent_listener_equal(const struct agent_listener *a, const struct agent_listener *b);

/* The report of res: its listening TCP sockets and unconnected bound UDP sockets (each key
 * once: of an SO_REUSEPORT group, the socket whose first holder has the lowest pid), the
 * host's ports (may be NULL: no ephemeral, no reserved), reserved_text (NULL: "") and the
 * findings of audit at or above AUDIT_LOW (may be NULL). */
int agent_report_build(const struct inspect_result *res, const struct local_ports *ports,
                       const char *reserved_text, const struct audit_report *audit,
                       struct agent_report *out, struct pr_error *err);

struct agent_collect_options {
    bool all_netns;                /* listeners of every network namespace */
    const char *proc_root;         /* NULL: /proc */
    audit_service_fn service;      /* the registry's service of a port, for the audit; may be NULL */
    void *service_ctx;
};
/* Inspect this host (sockets, processes, sysctls), audit its own namespace, build the report. */
int agent_report_collect(const struct agent_collect_options *opt, struct agent_report *out,
                         struct pr_error *err);
void agent_report_free(struct agent_report *report);

/* One LISTENER object of the contract, and its key only ({"proto","local_address",
 * "local_port","netns"}). */
json_t *agent_listener_json(const struct agent_listener *l);
json_t *agent_listener_key_json(const struct agent_listener *l);
json_t *agent_findings_json(const struct agent_report *report);
json_t *agent_ephemeral_json(const struct agent_report *report);   /* {"lo","hi"} or null */

struct agent_identity {
    const char *host;              /* the host's name */
    const char *version;           /* the agent's version */
    uint64_t interval_ms;
};
/* The full report {"host","seq","full":true,"agent","ephemeral","reserved","listeners",
 * "findings"}. */
json_t *agent_report_full_json(const struct agent_report *report, const struct agent_identity *id,
                               uint64_t seq);
/* Read back what agent_report_full_json wrote (the state file): -EINVAL with err->path
 * naming the JSON field that is missing or wrong. */
int agent_report_from_json(const json_t *doc, struct agent_report *out, struct pr_error *err);

#endif
