/* local_view.h — the scanner's view of this host: its own addresses (getifaddrs), so scans of
 * them run at full speed, and what a live server socket of this host says about a result for
 * one of them (struct local_listener, found by accept_queue_fix.h): a listener whose accept
 * queue is full (the kernel drops the SYN: it looks filtered but the port is open), a
 * listener bound to another address only (loopback), or an open port with no listener. */
#ifndef PORTREG_SCAN_LOCAL_VIEW_H
#define PORTREG_SCAN_LOCAL_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "net/socket_entry.h"
#include "scan/scan_result.h"
#include "scan/targets.h"
#include "util/error.h"

struct host_addresses {
    struct scan_address *items;
    size_t count;
};

int host_addresses_read(struct host_addresses *out, struct pr_error *err);
/* True for loopback addresses and the addresses of this host's interfaces. */
bool host_addresses_has(const struct host_addresses *host, const struct scan_address *address);
/* True when every target of a finished set is one of this host's addresses. */
bool host_addresses_cover(const struct host_addresses *host, const struct target_set *targets);
void host_addresses_free(struct host_addresses *host);

struct local_listener {
    bool accepts;              /* a server socket that accepts on the target address */
    bool queue_full;           /* TCP: its accept queue is full (more waiting than the backlog) */
    bool elsewhere;            /* only sockets bound to other addresses (e.g. 127.0.0.1) */
    struct socket_entry socket;/* the accepting socket, or one bound elsewhere */
};

#endif
