/* plan.h — the organisation's port plan: hosts (names, named addresses, groups), networks
 * (named CIDR lists), services (ports with protocols or "auto", the address they bind, their
 * exposure, allowed sources, owner, notes, the IANA service they implement) and a policy
 * (static and automatic port ranges, excluded ranges, whether IANA-assigned ports may be used).
 * Parsed from one or more YAML files (plan_yaml.c, libfyaml); every element remembers the
 * file, line and column it came from so every error and finding can name it. */
#ifndef PORTREG_PLAN_PLAN_H
#define PORTREG_PLAN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"
#include "util/error.h"

struct plan_pos {
    const char *file;                /* in the plan's arena */
    unsigned line, column;           /* 1-based */
};

struct plan_cidr {
    uint8_t family;                  /* AF_INET or AF_INET6 */
    uint8_t bytes[16];
    uint8_t prefix;                  /* 0..32 or 0..128 */
};

struct plan_named_address {
    const char *name;                /* "public", "internal", "" for an unnamed one */
    uint8_t family;
    uint8_t bytes[16];
    struct plan_pos pos;
};

struct plan_host {
    const char *name;
    struct plan_named_address *addresses;
    size_t address_count;
    const char **groups;
    size_t group_count;
    struct plan_pos pos;
    /* Optional `ephemeral:` and `reserved:` of the host (its ip_local_port_range and
     * ip_local_reserved_ports); plan_check uses the caller's values when absent. */
    bool has_ephemeral;
    uint16_t ephemeral_first, ephemeral_last;
    struct plan_pos ephemeral_pos;
    struct plan_range *reserved;     /* struct plan_range is defined below */
    size_t reserved_count;
    /* Optional `local:` (has_local): whether the host is the machine plan check runs on, so
     * that the machine's own port sysctls apply to it; absent: decided by the caller (the
     * CLI compares the name with the host name). */
    bool has_local, local;
};

struct plan_network {
    const char *name;
    struct plan_cidr *cidrs;
    size_t cidr_count;
    struct plan_pos pos;
};

enum plan_exposure {
    PLAN_EXPOSURE_PUBLIC,            /* reachable from anywhere (or from the listed sources) */
    PLAN_EXPOSURE_INTERNAL,          /* only from the listed sources / internal networks */
    PLAN_EXPOSURE_LOOPBACK,          /* only from the host itself */
};

enum plan_bind_kind {
    PLAN_BIND_ANY,                   /* every address: 0.0.0.0 and [::] */
    PLAN_BIND_LOOPBACK,              /* 127.0.0.1 and ::1 */
    PLAN_BIND_NAMED,                 /* a named address of each host ("internal") */
    PLAN_BIND_ADDRESS,               /* a literal address */
};

struct plan_bind {
    enum plan_bind_kind kind;
    const char *name;                /* PLAN_BIND_NAMED */
    uint8_t family;                  /* PLAN_BIND_ADDRESS */
    uint8_t bytes[16];
    struct plan_pos pos;
};

struct plan_port {
    uint16_t port;                   /* 0 when automatic and not yet resolved */
    uint8_t proto;                   /* enum registry_proto: TCP or UDP */
    bool automatic;                  /* "auto" in the file */
    struct plan_pos pos;
    /* Where the 4 bytes "auto" are in the file (plan_write_resolved replaces exactly them);
     * 0/0 for a static port. */
    size_t auto_offset, auto_length;
    bool proto_written;              /* "80/tcp", "auto/udp": the protocol was spelled out */
};

/* A source allowed to reach a service: a CIDR, a network name, a host group or host, "any". */
enum plan_source_kind { PLAN_SOURCE_ANY, PLAN_SOURCE_CIDR, PLAN_SOURCE_NETWORK, PLAN_SOURCE_HOST };

struct plan_source {
    enum plan_source_kind kind;
    struct plan_cidr cidr;           /* PLAN_SOURCE_CIDR */
    const char *name;                /* PLAN_SOURCE_NETWORK / _HOST (host or group name) */
    struct plan_pos pos;
};

struct plan_service {
    const char *name;
    const char **hosts;              /* host names or group names it runs on */
    size_t host_count;
    struct plan_port *ports;
    size_t port_count;
    struct plan_bind bind;
    enum plan_exposure exposure;
    struct plan_source *sources;
    size_t source_count;
    const char *owner, *notes, *iana;  /* NULL when absent */
    struct plan_pos pos;
    /* Every name of `iana:` (a name or a list; iana is the first); 0 when absent. */
    const char **iana_names;
    size_t iana_count;
    bool bind_given;                 /* false: bind was defaulted (loopback for exposure
                                      * loopback, otherwise any) */
    bool sources_given;              /* false: sources was absent (public gets one "any") */
    struct plan_pos *host_pos;       /* where each of hosts[] is written (host_count) */
    bool port_singular;              /* written as `port:` (field path "port", not "ports[0]") */
};

struct plan_range {
    uint16_t first, last;
    struct plan_pos pos;
};

struct plan_policy {
    struct plan_range static_range;  /* default 1024-49151 */
    struct plan_range auto_range;    /* default: static_range */
    struct plan_range *excluded;     /* e.g. Kubernetes NodePorts 30000-32767 */
    size_t excluded_count;
    bool allow_iana_assigned;        /* default false */
    struct plan_pos pos;
};

/* A by-name index of a finished plan (plan_index_names), so that lookups by name take
 * O(log n) and a plan of 100,000 services is checked in O(n log n). Each array is sorted by
 * (name, index); groups holds one entry per (group name, host index). malloc'd, not in the
 * arena: it is rebuilt when hosts or networks are added after it was built. */
struct plan_name_ref {
    const char *name;
    size_t index;                    /* into plan->hosts or plan->networks */
};

struct plan_names {
    struct plan_name_ref *hosts, *groups, *networks;
    size_t host_count, group_count, network_count;
    bool built;
    size_t for_hosts, for_networks;  /* plan->host_count, network_count when it was built */
};

struct plan {
    struct arena arena;              /* every string and array above */
    struct plan_host *hosts;
    size_t host_count;
    struct plan_network *networks;
    size_t network_count;
    struct plan_service *services;
    size_t service_count;
    struct plan_policy policy;
    const char **files;
    size_t file_count;
    /* Growth bookkeeping of the arrays above (plan.c); not part of the model. */
    size_t host_capacity, network_capacity, service_capacity, file_capacity;
    bool has_policy;                 /* a `policy:` was read (a second one is an error) */
    struct plan_names names;         /* plan_index_names; lookups scan linearly without it */
};

void plan_init(struct plan *plan);
void plan_free(struct plan *plan);

/* Append a host that no plan file defines (a registry server's, for an import that names it):
 * name, addresses (count of them) and groups copied into the plan's arena, at pos (whose file
 * must outlive the plan: one static name for all such hosts, so they count as one file). Call
 * between plan_parse_buffer and plan_load_finish. 0 or -ENOMEM. */
int plan_add_host(struct plan *plan, const char *name, const struct plan_named_address *addresses,
                  size_t address_count, const char *const *groups, size_t group_count, const struct plan_pos *pos);
/* Add group to host's groups unless it has it already. 0 or -ENOMEM. */
int plan_host_add_group(struct plan *plan, struct plan_host *host, const char *group);

/* Build (or rebuild) plan->names over the current hosts and networks; the loader does it
 * when a plan is complete (plan_load_finish). 0 or -ENOMEM (the lookups then stay linear). */
int plan_index_names(struct plan *plan);

/* Lookups by exact name (the first in plan order when a name is defined twice); NULL when
 * absent. O(log n) once plan_index_names ran on the plan as it is, linear before. */
const struct plan_host *plan_find_host(const struct plan *plan, const char *name);
const struct plan_network *plan_find_network(const struct plan *plan, const char *name);
/* Whether some host lists name among its groups. */
bool plan_is_group(const struct plan *plan, const char *name);
/* The first host (in plan order) that has group name, or NULL. */
const struct plan_host *plan_group_first_host(const struct plan *plan, const char *name);
/* Whether service runs on host: its `hosts:` names the host or one of the host's groups. */
bool plan_service_on_host(const struct plan *plan, const struct plan_service *service,
                          const struct plan_host *host);
/* The indices of every host service runs on (as plan_service_on_host decides), ascending and
 * unique, into *out (malloc'd, free it; NULL when *count is 0). 0 or -ENOMEM. */
int plan_service_host_indices(const struct plan *plan, const struct plan_service *service,
                              size_t **out, size_t *count);
/* For each of count elements (stride bytes apart, each with its struct plan_pos at
 * positions_of + i * stride): its index among the elements of the same file, into out
 * ("services[3]" counts per file). O(count x files). */
void plan_positions_in_file(const struct plan_pos *positions_of, size_t stride, size_t count,
                            size_t *out);
/* Whether cidr contains the address family/bytes. */
bool plan_cidr_contains(const struct plan_cidr *cidr, uint8_t family, const uint8_t bytes[16]);
/* "tcp" / "udp". */
const char *plan_proto_name(uint8_t proto);
const char *plan_exposure_name(enum plan_exposure exposure);
/* "any", "loopback", the name, or the literal address, into buf. */
const char *plan_bind_format(const struct plan_bind *bind, char *buf, size_t size);

/* ---- diagnostics: everything the loader and the checker find, all of it, with places ---- */

enum plan_severity {
    PLAN_SEVERITY_ERROR,             /* the plan is wrong: `plan check` fails */
    PLAN_SEVERITY_WARNING,           /* likely a mistake or a risk */
    PLAN_SEVERITY_INFO,              /* what was done: an `auto` port that was chosen */
};

struct plan_diagnostic {
    enum plan_severity severity;
    const char *code;                /* stable name of the rule: "unknown-key", "bind-conflict" */
    struct plan_pos pos;             /* file NULL / line 0 when the finding has no place */
    const char *field;               /* "services[2].ports[1]" (0-based, per file); "" = none */
    const char *message;
    struct plan_pos related;         /* the other place (first definition, other service);
                                      * file NULL when there is none */
    const char *fix;                 /* what to do (a command or an edit); NULL when none */
};

/* Strings are copied into the list's own arena: it outlives the plan. */
struct plan_diagnostics {
    struct plan_diagnostic *items;
    size_t count, capacity;
    size_t errors, warnings, infos;
    struct arena arena;
};

void plan_diagnostics_init(struct plan_diagnostics *diag);
void plan_diagnostics_free(struct plan_diagnostics *diag);
/* Append one; pos, related, field and fix may be NULL. -ENOMEM only. */
int plan_diagnostics_add(struct plan_diagnostics *diag, enum plan_severity severity,
                         const char *code, const struct plan_pos *pos, const char *field,
                         const struct plan_pos *related, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
/* Order by file name, line, column; equal places keep their order. */
void plan_diagnostics_sort(struct plan_diagnostics *diag);
/* "error", "warning", "info". */
const char *plan_severity_name(enum plan_severity severity);
/* "FILE:LINE:COLUMN: SEVERITY: FIELD: MESSAGE" (parts omitted when absent) into buf. */
const char *plan_diagnostic_format(const struct plan_diagnostic *d, char *buf, size_t size);

/* Whether host is the machine called hostname (gethostname's answer): its `local:` when it
 * declares one, else whether its name equals hostname or hostname's first label, or its first
 * label equals hostname (ASCII case-insensitive, as DNS names compare). */
bool plan_host_is_local(const struct plan_host *host, const char *hostname);

#endif
