/* proto.h — transport protocols as every layer names them: the enum that records, port specs,
 * socket entries and scan results store, and its names. In util (the bottom layer) so that
 * port specs and sockets need nothing of the registry; registry/record.h includes it, so the
 * names are the same everywhere. */
#ifndef PORTREG_UTIL_PROTO_H
#define PORTREG_UTIL_PROTO_H

#include <stddef.h>

enum registry_proto {
    REGISTRY_PROTO_ANY = 0,   /* IANA row with an empty Transport Protocol: every protocol */
    REGISTRY_PROTO_TCP = 1,
    REGISTRY_PROTO_UDP = 2,
    REGISTRY_PROTO_SCTP = 3,
    REGISTRY_PROTO_DCCP = 4,
};
#define REGISTRY_PROTO_COUNT 5

/* "tcp", "udp", "sctp", "dccp", "any". */
const char *registry_proto_name(enum registry_proto proto);
/* Parse a protocol name (case-insensitive); returns the enum value or -1. "any" is not accepted. */
int registry_proto_parse(const char *name, size_t len);

#endif
