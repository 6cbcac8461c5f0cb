/* server_registry.h — the server's registry index behind a swappable, reference-counted holder,
 * so SIGHUP can replace it while requests run: a request takes a generation at its start and
 * drops it when libmicrohttpd has sent its answer; a replaced index is closed (unmapped) when
 * its last reference goes. What is derived from one index (the registry map's bytes) lives in
 * its generation; caches elsewhere are keyed by the generation's id, never by its address. */
#ifndef PORTREG_SERVER_SERVER_REGISTRY_H
#define PORTREG_SERVER_SERVER_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/index.h"

#define SERVER_REGISTRY_MAP_BYTES 16384u

/* One loaded index and what is built from it. Fields other than the map's are read-only. */
struct server_registry_generation {
    struct registry_index *ix;           /* owned: closed with the last reference */
    uint64_t id;                         /* 1, 2, ...: a new one per load */
    uint32_t entries;                    /* registry_index_record_count */
    atomic_uint refs;
    /* the registry map (route_registry_map.c), built once under map_lock on first use */
    pthread_mutex_t map_lock;
    bool map_built;
    unsigned char map[SERVER_REGISTRY_MAP_BYTES];
    unsigned char *map_gzip;
    size_t map_gzip_len;
    char map_etag[48], map_gzip_etag[48];   /* of the bytes and of their gzip form */
};

struct server_registry;

/* A holder of ix (taken over; NULL: none yet, registry routes answer 503). NULL when out of memory
 * (ix is closed then). */
struct server_registry *server_registry_create(struct registry_index *ix);
/* Drop the holder's generation and free it (requests must have ended). */
void server_registry_free(struct server_registry *holder);

/* The current generation with a reference taken (NULL: no index); release it when done. */
struct server_registry_generation *server_registry_acquire(struct server_registry *holder);
void server_registry_release(struct server_registry_generation *generation);

/* Make ix (taken over) the current index; the old one goes when its last request ends. The new
 * generation's id in *id (may be NULL). false when out of memory (ix closed, the old one kept). */
bool server_registry_replace(struct server_registry *holder, struct registry_index *ix, uint64_t *id);

/* The generation of the request this thread runs (set by the server around a handler), so the
 * ledger's IANA lookups (names pointing into the index) use the index the request started with. */
void server_registry_pin(struct server_registry_generation *generation);

/* plan_iana_lookup_fn for ledger_set_iana_lookup: user is the holder. On a request thread it reads
 * the pinned generation; elsewhere (the main thread, which is the only one that replaces) the
 * current one, which cannot go away under it. */
size_t server_registry_iana_lookup(void *user, uint16_t port, uint8_t proto, const char **names, size_t max);

#endif
