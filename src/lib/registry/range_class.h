/* range_class.h — IANA's three port ranges (RFC 6335 §6): system 0–1023, user (registered)
 * 1024–49151, dynamic/private 49152–65535. Pure functions, no state. */
#ifndef PORTREG_REGISTRY_RANGE_CLASS_H
#define PORTREG_REGISTRY_RANGE_CLASS_H

#include <stdint.h>

enum port_range_class {
    PORT_RANGE_SYSTEM = 0,
    PORT_RANGE_USER = 1,
    PORT_RANGE_DYNAMIC = 2,
};

enum port_range_class port_range_class_of(uint16_t port);
/* "system", "user", "dynamic" — the JSON value. */
const char *port_range_class_id(enum port_range_class cls);
/* "system port 0–1023", "user (registered) port 1024–49151", "dynamic/private 49152–65535". */
const char *port_range_class_label(enum port_range_class cls);
uint16_t port_range_class_first(enum port_range_class cls);
uint16_t port_range_class_last(enum port_range_class cls);

#endif
