/* range_class.c — RFC 6335 §6 port range classes (see range_class.h). */
#include "registry/range_class.h"

enum port_range_class port_range_class_of(uint16_t port)
{
    if (port <= 1023)
        return PORT_RANGE_SYSTEM;
    if (port <= 49151)
        return PORT_RANGE_USER;
    return PORT_RANGE_DYNAMIC;
}

const char *port_range_class_id(enum port_range_class cls)
{
    switch (cls) {
    case PORT_RANGE_SYSTEM: return "system";
    case PORT_RANGE_USER: return "user";
    case PORT_RANGE_DYNAMIC: return "dynamic";
    }
    return "?";
}

const char *port_range_class_label(enum port_range_class cls)
{
    switch (cls) {
    case PORT_RANGE_SYSTEM: return "system port 0\u20131023";
    case PORT_RANGE_USER: return "user (registered) port 1024\u201349151";
    case PORT_RANGE_DYNAMIC: return "dynamic/private 49152\u201365535";
    }
    return "?";
}

uint16_t port_range_class_first(enum port_range_class cls)
{
    return cls == PORT_RANGE_SYSTEM ? 0 : cls == PORT_RANGE_USER ? 1024 : 49152;
}

uint16_t port_range_class_last(enum port_range_class cls)
{
    return cls == PORT_RANGE_SYSTEM ? 1023 : cls == PORT_RANGE_USER ? 49151 : 65535;
}
