/* ledger_portmap.c — the state of all 65,536 ports of one (host, proto) in 16 KiB, from the
 * in-memory port maps (no SQL beyond the host's existence): 2 bits a port, port p in byte
 * p / 4 at bits 2 * (p % 4) (least significant first). 0 free, 1 assigned, 2 leased,
 * 3 unavailable: quarantined, or refused by the policy (the ephemeral range, an excluded
 * band, IANA's ports when iana_assigned_allowed is false; port 0 too). A port held twice shows the first of assigned, leased, unavailable. */
#include <string.h>

#include "ledger/ledger_body.h"
#include "ledger/ledger_internal.h"

int ledger_portmap(struct ledger *ledger, const char *host, const char *proto, uint8_t out[LEDGER_PORTMAP_BYTES],
                   unsigned counts[4], struct ledger_error *lerr)
{
    if (!ledger_proto_valid(proto))
        return ledger_fail(lerr, LEDGER_BAD_REQUEST, "bad-proto", "proto", "proto must be tcp, udp, sctp or dccp");
    /* the maps change under write_lock; a read transaction is enough to refresh ended
     * quarantines from the store (same lock order as writers: the mutex, then the store) */
    pthread_mutex_lock(&ledger->write_lock);
    struct ledger_txn txn;
    int r = ledger_txn_begin(ledger, false, &txn, lerr);
    if (r < 0) {
        pthread_mutex_unlock(&ledger->write_lock);
        return -1;
    }
    json_t *host_row = NULL;
    r = ledger_txn_find(&txn, STORE_HOSTS, "name", host, &host_row, lerr);
    if (r == 0 && !host_row)
        r = ledger_fail(lerr, LEDGER_NOT_FOUND, "not-found", "host", "no host %s", host);
    if (r == 0)
        r = ledger_quarantines_expire(ledger, &txn, lerr);
    struct port_map *map = r == 0 ? ledger_port_map(ledger, host, proto) : NULL;
    if (r == 0 && !map)
        r = ledger_fail(lerr, LEDGER_INTERNAL, "out-of-memory", "", "out of memory");
    if (r == 0) {
        memset(out, 0, LEDGER_PORTMAP_BYTES);
        memset(counts, 0, 4 * sizeof *counts);
        for (unsigned p = 0; p < 65536; p++) {
            uint16_t port = (uint16_t)p;
            unsigned v = port_set_has(&map->assigned, port) ? 1u
                       : port_set_has(&map->leased, port) ? 2u
                       : p == 0 || port_set_has(&map->quarantined, port) || port_set_has(&map->taken, port) ||
                         ledger_policy_refuses(&ledger->policy, p) || ledger_iana_refuses(ledger, p, proto, NULL)
                         ? 3u : 0u;
            out[p >> 2] = (uint8_t)(out[p >> 2] | (v << ((p & 3) * 2)));
            counts[v]++;
        }
    }
    json_decref(host_row);
    r = ledger_txn_end(&txn, r, lerr);
    pthread_mutex_unlock(&ledger->write_lock);
    return r;
}
