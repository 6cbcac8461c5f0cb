/* record.h — the registry's data model: one record per (service, port range, protocol).
 * Every parser (IANA CSV, services(5), nmap-services) produces a struct registry_records; the
 * index compiler merges them. Strings are never NULL ("" when absent) and live in the list's
 * arena. A source row listing several protocols becomes one record per protocol. */
#ifndef PORTREG_REGISTRY_RECORD_H
#define PORTREG_REGISTRY_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"
#include "util/proto.h"   /* enum registry_proto, registry_proto_name/parse */

enum registry_status {
    REGISTRY_STATUS_ASSIGNED = 0,
    REGISTRY_STATUS_RESERVED = 1,     /* "Reserved", "IANA Reserved" */
    REGISTRY_STATUS_UNASSIGNED = 2,   /* "Unassigned" */
    REGISTRY_STATUS_REMOVED = 3,      /* "De-registered", "Removed" */
};

struct registry_record {
    const char *service;            /* service name; "" for Reserved/Unassigned blocks */
    const char *description;
    const char *assignee;           /* IANA only: "[Jon_Postel]" */
    const char *contact;
    const char *registration_date;  /* "YYYY-MM-DD" or "" */
    const char *modification_date;
    const char *reference;          /* "[RFC6335][RFC7605]" kept as IANA writes it */
    const char *service_code;
    const char *unauthorized_use;   /* "Unauthorized Use Reported" column */
    const char *assignment_notes;
    const char *aliases;            /* services(5) aliases, space-separated; "" when none */
    double frequency;               /* nmap-services open-frequency; 0 when unknown */
    uint32_t line;                  /* 1-based line where the record starts in its source */
    uint16_t port_first;            /* equal to port_last for a single port */
    uint16_t port_last;
    bool has_port;                  /* false: IANA service name without a port number */
    uint8_t proto;                  /* enum registry_proto */
    uint8_t status;                 /* enum registry_status */
};

struct registry_records {
    struct registry_record *items;
    size_t count, capacity;
    struct arena arena;             /* owns every string of every record */
};

/* Append a zeroed record (strings set to ""); NULL on out of memory. */
struct registry_record *registry_records_append(struct registry_records *list);
void registry_records_free(struct registry_records *list);

/* "assigned", "reserved", "unassigned", "removed". */
const char *registry_status_name(enum registry_status status);
/* Classify an IANA row: rows without a service name whose description is Reserved,
 * Unassigned, De-registered or Removed are not assignments. */
enum registry_status registry_status_classify(const char *service, const char *description);

#endif
