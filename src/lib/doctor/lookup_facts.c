/* lookup_facts.c — a single-port query's host facts (see lookup_facts.h). */
#include "doctor/lookup_facts.h"

bool lookup_host_facts_for_query(const struct local_ports *host, const struct lookup_query *query,
                                 struct lookup_host_facts *out)
{
    if (!host || !host->have_ephemeral || query->kind != LOOKUP_KIND_PORTS || !query->single_port)
        return false;
    uint16_t port = query->spec.ranges[0].first;
    *out = (struct lookup_host_facts){
        .ephemeral_first = host->ephemeral.first,
        .ephemeral_last = host->ephemeral.last,
        .ephemeral = local_ports_is_ephemeral(host, port),
        .have_reserved = host->have_reserved,
        .reserved = host->have_reserved && local_ports_is_reserved(host, port),
    };
    return true;
}
