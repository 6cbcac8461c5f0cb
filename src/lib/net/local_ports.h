/* local_ports.h — this host's port sysctls: the ephemeral range
 * (/proc/sys/net/ipv4/ip_local_port_range, "32768\t60999") and the reserved list
 * (/proc/sys/net/ipv4/ip_local_reserved_ports, "1000-1002,8080" or empty).
 * Parsers take text; local_ports_read() is the I/O edge and takes a proc root for tests. */
#ifndef PORTREG_NET_LOCAL_PORTS_H
#define PORTREG_NET_LOCAL_PORTS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"
#include "util/port_set.h"

struct local_port_range {
    uint16_t first, last;
};

struct local_ports {
    struct local_port_range ephemeral;
    struct port_set reserved;
    bool have_ephemeral;   /* false when the sysctl could not be read (not Linux, no /proc) */
    bool have_reserved;
};

/* "32768\t60999\n" (any whitespace between, optional trailing newline). -EINVAL on anything else,
 * including first > last and values above 65535. */
int local_port_range_parse(const char *text, struct local_port_range *out, struct pr_error *err);
/* "" or "\n" (empty set), "8080", "1000-1002,8080\n". -EINVAL with err->column on bad input. */
int reserved_ports_parse(const char *text, struct port_set *out, struct pr_error *err);
/* Read both sysctls under proc_root (NULL means "/proc"). Missing files are not an error: the
 * have_* flags say what was read. A file that exists but does not parse is -EINVAL. */
int local_ports_read(const char *proc_root, struct local_ports *out, struct pr_error *err);
/* Linux's defaults: ip_local_port_range 32768 60999, ip_local_reserved_ports empty. */
#define LOCAL_PORTS_KERNEL_FIRST 32768u
#define LOCAL_PORTS_KERNEL_LAST 60999u
/* The facts of a host that has never changed the two sysctls (have_* true). */
void local_ports_kernel_default(struct local_ports *out);
bool local_ports_is_ephemeral(const struct local_ports *lp, uint16_t port);
bool local_ports_is_reserved(const struct local_ports *lp, uint16_t port);

#endif
