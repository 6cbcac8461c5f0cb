/* plan_check.h — `portreg plan check`: the rules over a loaded plan. `auto` ports are resolved
 * first (deterministically, as `portreg suggest` picks: XXH3 of the service name chooses where
 * the walk starts in the policy's auto range) and stored in the plan; then every port is checked
 * for bind conflicts on shared hosts, the policy's ranges, IANA assignments, the hosts' ephemeral
 * ranges and privileged ports, and every service for exposures that contradict its bind address
 * or sources. Pure: the caller supplies IANA data and host port facts; no I/O. */
#ifndef PORTREG_PLAN_PLAN_CHECK_H
#define PORTREG_PLAN_PLAN_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/local_ports.h"
#include "plan/plan.h"
#include "util/error.h"

/* IANA's assignments of port/proto (enum registry_proto TCP or UDP): store up to max service
 * names in names (a reserved port gives "(reserved)") and return how many were stored; 0 when
 * the port is unassigned. Names must stay valid until plan_check returns. */
typedef size_t (*plan_iana_lookup_fn)(void *user, uint16_t port, uint8_t proto,
                                      const char **names, size_t max);
/* Whether name is, compared as IANA does (ASCII case-insensitive), the service name or one of
 * the aliases of an assignment of port/proto. */
typedef bool (*plan_iana_has_name_fn)(void *user, uint16_t port, uint8_t proto,
                                      const char *name);
/* Whether IANA notes unauthorized use of port/proto (its "Unauthorized Use Reported" column,
 * e.g. 2194-2196): the auto walk skips such ports, as suggest does. */
typedef bool (*plan_iana_unauthorized_fn)(void *user, uint16_t port, uint8_t proto);

/* Port facts of one plan host (its ephemeral range and reserved ports); NULL: use ctx->local.
 * A host that declares `ephemeral:` in the plan uses that (and its `reserved:`) instead. */
typedef const struct local_ports *(*plan_host_ports_fn)(void *user,
                                                        const struct plan_host *host);

struct plan_check_context {
    plan_iana_lookup_fn iana_lookup;        /* NULL: no IANA rule, autos skip nothing for it */
    void *iana_user;
    plan_iana_unauthorized_fn iana_unauthorized; /* NULL: no port is skipped for it */
    plan_iana_has_name_fn iana_has_name;    /* NULL: a service implements the port's protocol
                                             * when its name or an `iana:` name equals one of
                                             * iana_lookup's names; else also its aliases */
    const struct local_ports *local;        /* hosts without facts of their own and for which
                                             * host_ports gives NULL: the CLI passes the kernel's
                                             * defaults (local_ports_kernel_default) and gives
                                             * this machine's facts only to the plan host that is
                                             * this machine; NULL or have_* false: no ephemeral
                                             * rule for those hosts */
    plan_host_ports_fn host_ports;          /* NULL: every host uses local */
    void *host_ports_user;
    unsigned unprivileged_port_start;       /* net.ipv4.ip_unprivileged_port_start; 0 means
                                             * the default 1024, so pass 1 when the sysctl
                                             * reads 0 (no port is privileged then) */
};

/* plan_iana_lookup_fn over a compiled registry index: user is a const struct registry_index *.
 * Assigned and IANA-reserved records for that protocol (or for every protocol) count. */
size_t plan_iana_lookup_registry(void *user, uint16_t port, uint8_t proto, const char **names,
                                 size_t max);
/* plan_iana_has_name_fn over a compiled registry index: the service name or a services(5)
 * alias of one of the records plan_iana_lookup_registry counts. */
bool plan_iana_has_name_registry(void *user, uint16_t port, uint8_t proto, const char *name);
/* plan_iana_unauthorized_fn over a compiled registry index (a record of that protocol or of
 * every protocol, whatever its status, with the column filled). */
bool plan_iana_unauthorized_registry(void *user, uint16_t port, uint8_t proto);

/* Resolve `auto` ports (plan->services[i].ports[j].port is set; an info diagnostic "auto-port"
 * says which) and run every rule; findings go to diag. ctx may be NULL (no IANA data, no host
 * facts, 1024). Returns 0 — diag->errors says whether the plan is wrong — or -ENOMEM.
 * Diagnostic codes: auto-port (info), auto-exhausted, bind-conflict, duplicate-port,
 * excluded-port, policy-range, iana-assigned (warning), ephemeral-port (warning, with a fix),
 * privileged-port (warning), exposure-bind, exposure-sources, exposure-private-address
 * (warning), internal-on-public (warning), internal-no-sources (warning),
 * bind-address-not-on-host (warning). */
int plan_check(struct plan *plan, const struct plan_check_context *ctx,
               struct plan_diagnostics *diag, struct pr_error *err);

#endif
