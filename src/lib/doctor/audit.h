/* audit.h — `portreg audit`: one report of a host's port health from the inspector's data
 * (every socket of the namespace with its holders) and the port sysctls. Each finding has a
 * severity, the socket(s) it is about, evidence and a fix. Pure: the caller passes the socket
 * table and a registry lookup, so the rules are tested on synthetic tables.
 * Findings: listeners in the unreserved ephemeral range, internal services on every address,
 * dual-stack surprises, SO_REUSEPORT groups of different programs, registry mismatches,
 * TIME_WAIT piles on a server port, reserved ports nobody listens on. */
#ifndef PORTREG_DOCTOR_AUDIT_H
#define PORTREG_DOCTOR_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/inspect.h"
#include "net/local_ports.h"
#include "util/error.h"

enum audit_severity {
    AUDIT_INFO = 0,
    AUDIT_LOW = 1,
    AUDIT_MEDIUM = 2,
    AUDIT_HIGH = 3,
};
#define AUDIT_SEVERITY_COUNT 4

enum audit_kind {
    AUDIT_EPHEMERAL_LISTENER,     /* "ephemeral-listener" */
    AUDIT_INTERNAL_EXPOSED,       /* "internal-exposed" */
    AUDIT_DUAL_STACK_SPLIT,       /* "dual-stack-split": IPv4 and IPv6 reach different programs */
    AUDIT_LOOPBACK_ONE_FAMILY,    /* "loopback-one-family": 127.0.0.1 but not ::1, or the reverse */
    AUDIT_REUSEPORT_MIXED,        /* "reuseport-mixed" */
    AUDIT_REGISTRY_MISMATCH,      /* "registry-mismatch" */
    AUDIT_TIME_WAIT_PILE,         /* "time-wait-pile" */
    AUDIT_RESERVED_UNUSED,        /* "reserved-unused" */
    AUDIT_KIND_COUNT
};

struct audit_finding {
    enum audit_kind kind;
    enum audit_severity severity;
    uint8_t proto;                /* enum registry_proto; 0 for host-wide findings */
    uint16_t port, port_last;     /* port_last > port for a range (reserved-unused) */
    char address[64];             /* "0.0.0.0", "[::]", "" */
    uint32_t sockets[8];          /* indexes into the inspected sockets this is about */
    size_t socket_count;
    char title[192];              /* one line */
    char evidence[512];
    char fix[512];
};

struct audit_report {
    struct audit_finding *items;  /* by severity (highest first), then port */
    size_t count, capacity;
    size_t by_severity[AUDIT_SEVERITY_COUNT];
    size_t sockets_examined, listeners_examined;
};

/* The IANA service registered for port/proto, or NULL (the caller's registry; may be NULL). */
typedef const char *(*audit_service_fn)(void *ctx, uint16_t port, uint8_t proto);

struct audit_options {
    uint32_t time_wait_threshold; /* TIME_WAIT sockets on one server port that make a pile;
                                     0 = default 1000 */
    audit_service_fn service;     /* may be NULL */
    void *service_ctx;
};

/* Examine res (one namespace's sockets, every state, with processes if looked up) against
 * the host's port sysctls. Findings go to out (zeroed by the call). */
int audit_run(const struct inspect_result *res, const struct local_ports *ports,
              const struct audit_options *opt, struct audit_report *out, struct pr_error *err);
void audit_report_free(struct audit_report *report);

const char *audit_kind_id(enum audit_kind kind);                /* "internal-exposed" */
const char *audit_severity_name(enum audit_severity severity);  /* "high" */
/* "info", "low", "medium", "high" (case-insensitive); -1 when unknown. */
int audit_severity_parse(const char *text);

#endif
