/* local_view.h — the scanner's view of this host: its own addresses (getifaddrs), so scans of
 * them run at full speed, and for a target that is one of them, the live server sockets
 * (sock_diag, filtered by port in the kernel) that explain a result: a listener whose accept
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
#include "util/port_set.h"

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

/* The TCP ports with a listener in this namespace, read with one dump on first use: a scan of
 * a firewalled local address can ask about thousands of silent ports, and only those with a
 * listener need local_listener_find(). */
struct local_listening_ports {
    bool loaded;
    struct port_set ports;
};

/* True when a TCP listener held port when the set was loaded (or it could not be read). */
bool local_listening_port(struct local_listening_ports *cache, uint16_t port);

/* The server sockets (TCP LISTEN, unconnected UDP) of this namespace on port/proto, judged for
 * target. -errno when sock_diag fails. */
int local_listener_find(const struct scan_address *target, uint16_t port, uint8_t proto,
                        struct local_listener *out, struct pr_error *err);

#endif
