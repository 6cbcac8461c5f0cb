/* portspec.h — the port specs of the command line: "22", "22,80,443", "1000-2000", "-" (all),
 * "-1024" / "60000-" (open ends, as nmap), "T:80,U:53" (a protocol prefix applies to the items
 * after it until the next prefix, as nmap), "53/udp", and service names ("ssh,mysql") that a
 * caller-supplied resolver turns into ports. A pure parser: text in, ranges out. */
#ifndef PORTREG_UTIL_PORTSPEC_H
#define PORTREG_UTIL_PORTSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct portspec_range {
    uint16_t first, last;  /* inclusive */
    uint8_t proto;         /* enum registry_proto; REGISTRY_PROTO_ANY = every protocol */
};

struct portspec {
    struct portspec_range *ranges;
    size_t count, capacity;
};

/* Resolve a service name (not NUL-terminated: name[0..len)) for protocol proto (ANY when the
 * spec gave none) by appending ranges with portspec_add(); return 0, or -ENOENT when unknown. */
typedef int (*portspec_name_resolver)(void *ctx, const char *name, size_t len, uint8_t proto,
                                      struct portspec *out);

/* Parse text into out (appends). resolve may be NULL: names are then an error.
 * Errors: -EINVAL with err->column at the offending character and a message that names the
 * item ("port 70000 is out of range 0-65535", "unknown protocol \"xyz\"", "empty port spec"). */
int portspec_parse(const char *text, portspec_name_resolver resolve, void *ctx,
                   struct portspec *out, struct pr_error *err);
int portspec_add(struct portspec *spec, uint16_t first, uint16_t last, uint8_t proto);
/* True when port/proto is covered; a range with proto ANY covers every protocol, and a query
 * with proto ANY matches a range of any protocol. */
bool portspec_contains(const struct portspec *spec, uint16_t port, uint8_t proto);
void portspec_free(struct portspec *spec);

#endif
