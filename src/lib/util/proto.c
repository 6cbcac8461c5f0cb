/* proto.c — names of the transport protocols (see proto.h). */
#include "util/proto.h"

#include <string.h>
#include <strings.h>

static const char *const proto_names[REGISTRY_PROTO_COUNT] = { "any", "tcp", "udp", "sctp", "dccp" };

const char *registry_proto_name(enum registry_proto proto)
{
    return (unsigned)proto < REGISTRY_PROTO_COUNT ? proto_names[proto] : "?";
}

int registry_proto_parse(const char *name, size_t len)
{
    for (int p = REGISTRY_PROTO_TCP; p < REGISTRY_PROTO_COUNT; p++)
        if (strlen(proto_names[p]) == len && strncasecmp(proto_names[p], name, len) == 0)
            return p;
    return -1;
}
