/* lookup_facts.h — this host's ephemeral and reserved ports as the plain facts a lookup answer
 * carries (registry/registry_json.h's struct lookup_host_facts), so that `lookup --json` and
 * the server's registry route build the same document. Above registry/ and net/, which it joins. */
#ifndef PORTREG_DOCTOR_LOOKUP_FACTS_H
#define PORTREG_DOCTOR_LOOKUP_FACTS_H

#include <stdbool.h>

#include "net/local_ports.h"
#include "registry/lookup.h"
#include "registry/registry_json.h"

/* The host facts of a single-port query; false (out untouched) when the query is not one port
 * or host has no ephemeral range. */
bool lookup_host_facts_for_query(const struct local_ports *host, const struct lookup_query *query,
                                 struct lookup_host_facts *out);

#endif
