/* capabilities.h — which capabilities a process has (the CapEff line of PROC/PID/status, under
 * a proc root so tests use fixture trees) and whether a planned service user would have one.
 * Consumers: check (privileged ports) and plan. */
#ifndef PORTREG_UTIL_CAPABILITIES_H
#define PORTREG_UTIL_CAPABILITIES_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

#define CAPABILITY_NET_BIND_SERVICE 10

/* The effective set from the text of a status file ("CapEff:\t0000003fffffffff"). -EINVAL
 * (with line) when the line is missing or not hex. */
int capabilities_parse_status(const char *status_text, uint64_t *effective, struct pr_error *err);
/* The effective set of pid (0 = the calling process, "self") under proc_root (NULL = "/proc"). */
int capabilities_read_effective(const char *proc_root, uint32_t pid, uint64_t *effective,
                                struct pr_error *err);
bool capabilities_has(uint64_t set, unsigned capability);
/* Would a service running as planned_uid have capability? uid 0 has every capability; the
 * caller's own uid has what the caller has (self_effective); any other uid starts without
 * capabilities (unless its service manager grants some: systemd AmbientCapabilities=). */
bool capabilities_planned_user_has(uint32_t planned_uid, uint32_t self_euid, uint64_t self_effective,
                                   unsigned capability);

#endif
