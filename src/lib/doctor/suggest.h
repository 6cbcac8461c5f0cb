/* suggest.h — `portreg suggest`: conflict-free ports by a policy. A pure search over inputs the
 * caller gathers (registry index, ephemeral/reserved sysctls, socket table, exclude list): a hash
 * of the service name picks the starting point in the range, then the walk goes forward,
 * wrapping, so the same name gets the same ports on every host with the same policy.
 * Also the parser of the exclude file (port specs, '#' comments) with line:column errors. */
#ifndef PORTREG_DOCTOR_SUGGEST_H
#define PORTREG_DOCTOR_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/local_ports.h"
#include "net/socket_entry.h"
#include "registry/index.h"
#include "util/error.h"
#include "util/portspec.h"

/* The default user range (IANA "registered" ports, RFC 6335). */
#define SUGGEST_DEFAULT_FIRST 1024u
#define SUGGEST_DEFAULT_LAST 49151u
/* Where the CLI looks for the exclude file when neither --exclude-file nor
 * $PORTREG_SUGGEST_EXCLUDE names one; a missing default file is not an error. */
#define SUGGEST_DEFAULT_EXCLUDE_PATH "/etc/portreg/suggest.conf"

/* Protocol bits of a request. */
#define SUGGEST_PROTO_TCP (1u << 0)
#define SUGGEST_PROTO_UDP (1u << 1)
#define SUGGEST_PROTO_BOTH (SUGGEST_PROTO_TCP | SUGGEST_PROTO_UDP)

/* Why a candidate was passed over, in the order they are tested. */
enum suggest_skip_reason {
    SUGGEST_SKIP_EXCLUDED = 0,    /* listed in the exclude file */
    SUGGEST_SKIP_EPHEMERAL = 1,   /* inside ip_local_port_range */
    SUGGEST_SKIP_RESERVED = 2,    /* already in ip_local_reserved_ports */
    SUGGEST_SKIP_ASSIGNED = 3,    /* assigned (or reserved) at IANA */
    SUGGEST_SKIP_IN_USE = 4,      /* a socket (any state, any namespace given) holds it */
    SUGGEST_SKIP_UNAUTHORIZED = 5,   /* IANA notes unauthorized use of it ("Unauthorized Use
                                      * Known on ports 2194-2196"), assigned or not */
};

struct suggest_policy {
    uint16_t range_first, range_last;     /* inclusive; range_first >= 1 */
    unsigned count;                       /* ports wanted, >= 1 */
    unsigned protos;                      /* SUGGEST_PROTO_* bits, not 0 */
    const char *name;                     /* service name; NULL or "" = start at range_first */
    bool allow_assigned;                  /* do not skip ports IANA assigned or reserved (ports
                                           * with unauthorized use known are still skipped) */
    const struct registry_index *registry;   /* NULL: no IANA check */
    const struct local_ports *host;       /* NULL, or have_* false: that check is off */
    const struct socket_list *sockets;    /* NULL: no socket check */
    const struct portspec *exclude;       /* NULL: nothing excluded */
};

/* Consecutive skipped candidates (in walk order) with the same reason and detail. */
struct suggest_skip_run {
    uint16_t first, last;
    uint8_t reason;                       /* enum suggest_skip_reason */
    uint8_t proto;                        /* ASSIGNED / IN_USE: enum registry_proto */
    uint32_t record;                      /* ASSIGNED, UNAUTHORIZED: registry record id */
    size_t socket;                        /* IN_USE: index into policy->sockets */
};

struct suggest_result {
    uint16_t start;                       /* where the walk began */
    uint16_t *ports;                      /* found, in walk order */
    size_t count;
    struct suggest_skip_run *skipped;     /* every candidate passed over before the walk ended */
    size_t skipped_count, skipped_capacity;
    uint32_t examined;                    /* candidates looked at */
};

/* The walk's starting port for name in [first, last]: the ASCII-lowercased name is hashed with
 * XXH3-64, and the hash modulo the number of candidates picks one, counting the ports of the
 * range outside avoid (the host's ephemeral range; NULL = none) so that names spread over the
 * ports that can be suggested instead of piling up after the ephemeral range. first when name
 * is NULL or "" (and when avoid covers the whole range the whole range counts). */
uint16_t suggest_start_port(const char *name, uint16_t first, uint16_t last,
                            const struct local_port_range *avoid);

/* Search. Returns 0 (result->count may be below policy->count: the range ran out), -EINVAL
 * with err for a bad policy, -ENOMEM. result is zeroed first; free it with suggest_result_free. */
int suggest_run(const struct suggest_policy *policy, struct suggest_result *result,
                struct pr_error *err);
void suggest_result_free(struct suggest_result *result);

/* "excluded", "ephemeral", "reserved", "assigned", "in-use", "unauthorized-use". */
const char *suggest_skip_reason_name(enum suggest_skip_reason reason);

/* Parse an exclude file: one or more port specs per line separated by blanks ("8080",
 * "9000-9100", "T:5000,U:5353", "7000/udp"), '#' starts a comment, blank lines are ignored.
 * Appends to out; on error appends nothing and returns -EINVAL with err->line and err->column
 * (1-based, in the file). Names are not accepted (the file must mean the same on every host). */
int suggest_exclude_parse(const char *text, size_t len, struct portspec *out,
                          struct pr_error *err);

#endif
