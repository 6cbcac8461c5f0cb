/* registry_json.h — the registry's JSON documents (jansson), shared by `--json` and the HTTP
 * API: a record, a lookup answer, and the registry's sources. Field names are stable and
 * documented in portreg-lookup(1) and portreg-registry(1). */
#ifndef PORTREG_REGISTRY_REGISTRY_JSON_H
#define PORTREG_REGISTRY_REGISTRY_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "registry/index.h"
#include "registry/lookup.h"
#include "registry/sources.h"

/* What this host's port sysctls say about the port of a single-port query: plain data the
 * caller fills (from net/local_ports.h), so the registry layer needs nothing of net/. */
struct lookup_host_facts {
    uint16_t ephemeral_first, ephemeral_last;   /* ip_local_port_range */
    bool ephemeral;                             /* the port is inside that range */
    bool have_reserved;                         /* ip_local_reserved_ports could be read */
    bool reserved;                              /* the port is in it */
};

json_t *registry_record_json(const struct registry_index *ix, uint32_t id);
/* The same, with the open-frequency of port when the record covers it (port 6003 of the
 * 6000-6063 block has its own frequency in nmap-services), else of its first port;
 * "open_frequency_port" says which. */
json_t *registry_record_json_at(const struct registry_index *ix, uint32_t id, uint16_t port);
/* Whether a record comes from the registry's primary source (the IANA CSV or the IANA-derived
 * services file): false for names only the host's services file (/etc/services) lists. */
bool registry_record_from_iana(const struct registry_index *ix, uint32_t id);
/* The port whose open-frequency describes a record for a query about port (0: none). */
uint16_t registry_record_frequency_port(const struct registry_record *rec, uint16_t port);
/* One query and its answer; a single-port query gets a "host" object from host. host may be
 * NULL (not Linux, or not asked). */
json_t *lookup_answer_json(const struct registry_index *ix, const struct lookup_query *query,
                           const struct lookup_result *result,
                           const struct lookup_host_facts *host);
/* Sources, counts and index facts for `registry info`. */
json_t *registry_info_json(const struct registry_index *ix, const struct registry_paths *paths,
                           const struct registry_open_report *report);
/* "2026-11-27T13:36:33Z" for a time in seconds or nanoseconds since the epoch. */
void registry_format_time(int64_t seconds, char *buf, size_t size);

#endif
