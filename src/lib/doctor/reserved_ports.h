/* reserved_ports.h — keep ports out of the ephemeral pool: add them to the kernel's
 * net.ipv4.ip_local_reserved_ports (per network namespace) and to a sysctl.d drop-in, always
 * merging with the list already there and reporting the list before and after.
 * The list syntax ("1000-1002,8080") and the drop-in are handled by pure functions; the two
 * writers are the I/O edge and take their paths as parameters (tests use temporary trees). */
#ifndef PORTREG_DOCTOR_RESERVED_PORTS_H
#define PORTREG_DOCTOR_RESERVED_PORTS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"
#include "util/port_set.h"

#define RESERVED_PORTS_SYSCTL_KEY "net.ipv4.ip_local_reserved_ports"
/* Default directory and file name of the drop-in. The name sorts late so that the whole list
 * it holds is what systemd-sysctl applies last at boot. */
#define RESERVED_PORTS_DROPIN_DIR "/etc/sysctl.d"
#define RESERVED_PORTS_DROPIN_NAME "99-portreg-reserved-ports.conf"

/* What one writer did. The lists are in kernel syntax, "" when empty. */
struct reserved_ports_change {
    char path[PATH_MAX];        /* the file read and (when changed) written */
    char *before;               /* the list as it was */
    char *after;                /* the list as it is now (read back from the kernel) */
    char *added;                /* ports that were not in before */
    unsigned added_count;
    bool changed;               /* false: every port was already there, nothing written */
    bool created;               /* the drop-in did not exist before */
};

void reserved_ports_change_free(struct reserved_ports_change *change);

/* The set in kernel list syntax: runs of consecutive ports as "A-B", single ports as "N",
 * joined by ','; "" for the empty set. malloc'd; NULL on out of memory. */
char *reserved_ports_format(const struct port_set *set);

/* merged = existing ∪ add; added = add ∖ existing (either output may be NULL).
 * Returns the number of ports added. */
unsigned reserved_ports_merge(const struct port_set *existing, const struct port_set *add,
                              struct port_set *merged, struct port_set *added);

/* Read PROC_ROOT/sys/net/ipv4/ip_local_reserved_ports (proc_root NULL = "/proc"), merge add
 * into it, write the merged list back when something is new, and read it back to verify.
 * -EACCES / -EPERM when not allowed (needs root or CAP_NET_ADMIN in the namespace's owner),
 * -ENOENT when the sysctl does not exist, -EIO when the kernel did not keep the ports. */
int reserved_ports_reserve(const char *proc_root, const struct port_set *add,
                           struct reserved_ports_change *change, struct pr_error *err);

/* Parse a sysctl.d file (sysctl.d(5): "key = value", '#' or ';' comments, '-' before a key,
 * '/' or '.' in keys): the union of every net.ipv4.ip_local_reserved_ports value into *ports
 * (cleared first), *found says whether the key occurs. -EINVAL with line:column on a line
 * without '=' or a value that is not a port list. */
int reserved_ports_dropin_parse(const char *text, size_t len, struct port_set *ports,
                                bool *found, struct pr_error *err);

/* The drop-in text with the key set to list: other lines kept as they are, the last line
 * setting the key replaced (earlier ones dropped), or the key appended (with a header comment
 * when the file was empty). malloc'd, NUL-terminated; NULL on out of memory. */
char *reserved_ports_dropin_render(const char *text, size_t len, const char *list);

/* Merge add (and base, when not NULL: the running kernel's list, which the drop-in's value
 * replaces at boot) into the drop-in at path and write it atomically when the value changes.
 * A missing file is created (its directory must exist); a file that does not parse is an
 * error and is left alone. */
int reserved_ports_persist(const char *path, const struct port_set *add,
                           const struct port_set *base, struct reserved_ports_change *change,
                           struct pr_error *err);

#endif
