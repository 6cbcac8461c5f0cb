/* registry_json.h — the registry's JSON documents (jansson), shared by `--json` and the HTTP
 * API: a record, a lookup answer, and the registry's sources. Field names are stable and
 * documented in portreg-lookup(1) and portreg-registry(1). */
#ifndef PORTREG_REGISTRY_REGISTRY_JSON_H
#define PORTREG_REGISTRY_REGISTRY_JSON_H

#include <jansson.h>

#include "net/local_ports.h"
#include "registry/index.h"
#include "registry/lookup.h"
#include "registry/sources.h"

json_t *registry_record_json(const struct registry_index *ix, uint32_t id);
/* One query and its answer. host may be NULL (not Linux, or not asked). */
json_t *lookup_answer_json(const struct registry_index *ix, const struct lookup_query *query,
                           const struct lookup_result *result, const struct local_ports *host);
/* Sources, counts and index facts for `registry info`. */
json_t *registry_info_json(const struct registry_index *ix, const struct registry_paths *paths,
                           const struct registry_open_report *report);
/* "2026-11-27T13:36:33Z" for a time in seconds or nanoseconds since the epoch. */
void registry_format_time(int64_t seconds, char *buf, size_t size);

#endif
