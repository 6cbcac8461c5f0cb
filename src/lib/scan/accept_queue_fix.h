/* accept_queue_fix.h — the correction every scan front end applies to results for this host's
 * own addresses: the kernel drops SYNs to a TCP listener whose accept queue is full, which
 * looks exactly like a firewall (filtered, timeout); the socket table says the port is open.
 * Reads listeners through sock_diag by default, or through a caller's dump (tests give a
 * synthetic socket table). Not thread-safe: one per result sink. */
#ifndef PORTREG_SCAN_ACCEPT_QUEUE_FIX_H
#define PORTREG_SCAN_ACCEPT_QUEUE_FIX_H

#include <stdbool.h>
#include <stdint.h>

#include "net/sockdiag.h"
#include "scan/local_view.h"
#include "scan/scan_result.h"
#include "util/error.h"
#include "util/port_set.h"

/* sockdiag_dump's contract: append the sockets matching q to out; -errno with err. */
typedef int (*accept_queue_dump_fn)(void *user, const struct sockdiag_query *q,
                                    struct socket_list *out, struct pr_error *err);

struct accept_queue_fix {
    const struct host_addresses *host;   /* results for these addresses are checked */
    accept_queue_dump_fn dump;           /* NULL: sockdiag_dump */
    void *dump_user;
    bool listening_loaded;               /* listening: TCP ports with a listener, read with */
    struct port_set listening;           /* one dump on first use (or every port if it failed) */
    uint64_t corrected;                  /* results turned from filtered into open */
};

/* host must outlive fix; dump NULL reads the live namespace. */
void accept_queue_fix_init(struct accept_queue_fix *fix, const struct host_addresses *host,
                           accept_queue_dump_fn dump, void *dump_user);

/* A TCP result "filtered, timeout" for one of host's addresses whose port has a listener that
 * accepts on the target with a full accept queue becomes "open, accept-queue-full" (and
 * fix->corrected counts it). Returns true when r was changed. Only results that can be
 * wrong cost a per-port sock_diag dump, and only for ports that had a listener. */
bool accept_queue_fix_apply(struct accept_queue_fix *fix, struct scan_result *r);

/* The server sockets (TCP LISTEN, unconnected UDP) of port/proto, judged for target, read
 * through fix's dump. -errno when the dump fails. */
int accept_queue_listener_find(const struct accept_queue_fix *fix,
                               const struct scan_address *target, uint16_t port, uint8_t proto,
                               struct local_listener *out, struct pr_error *err);

#endif
