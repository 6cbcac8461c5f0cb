/* socket_filter.h — the values of the socket filters of the command line (ls, who, check,
 * scan): a user given by name or uid, and a port spec whose service names resolve through the
 * registry ("ssh", "mysql/udp", "22,ssh"). Moved out of the CLI so the quirks are tested;
 * errors are returned in struct pr_error, nothing is printed. */
#ifndef PORTREG_NET_SOCKET_FILTER_H
#define PORTREG_NET_SOCKET_FILTER_H

#include <stdint.h>

#include "registry/index.h"
#include "util/error.h"
#include "util/portspec.h"

/* A uid: all digits (0..4294967295) are a uid, even when no user has it; anything else is a
 * user name looked up with getpwnam_r. -EINVAL for an empty text, -ENOENT "no such user". */
int socket_filter_parse_user(const char *text, uint32_t *uid, struct pr_error *err);

/* Where service names are looked up. The registry is opened only when the spec names a
 * service: open() is called once, at the first name, when ix is NULL (0 and *ix set, or
 * -errno); the caller closes ix afterwards. open may be NULL when ix is given. */
struct socket_filter_registry {
    int (*open)(void *user, struct registry_index **ix);
    void *user;
    struct registry_index *ix;
};

/* Parse a port spec (util/portspec.h) into spec (appends). A service name becomes the ports
 * of its records (a range record is the whole range; records without a port are skipped),
 * for the protocol it was given with ("mysql/udp") or each record's own. Errors: -EINVAL with
 * err->column (bad spec, unknown name, a name with no port), or the -errno of open(). */
int socket_filter_parse_ports(const char *text, struct socket_filter_registry *registry,
                              struct portspec *spec, struct pr_error *err);

#endif
