/* route_registry_map.c — GET /api/v1/registry/map (reader): how densely the registry covers
 * each of the 65,536 ports, for the web UI's map without 65,536 lookups: 16,384 bytes, 2 bits
 * a port as the portmap's (port p is (byte[p / 4] >> (2 * (p % 4))) & 3), counting records of
 * status assigned (not reserved, unassigned or removed): 0 none, 1 one or two (a service on tcp
 * and udp), 2 three or four, 3 five or more. Built once per
 * registry index and kept with its gzip copy; ETag from the index's build time and the bytes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "registry/index.h"
#include "server/server_http.h"
#include "server/server_static.h"

#define REGISTRY_MAP_BYTES 16384u

static struct {
    pthread_mutex_t lock;
    const struct registry_index *ix;   /* the index the map was built from */
    unsigned char map[REGISTRY_MAP_BYTES];
    unsigned char *gzip;
    size_t gzip_len;
    char etag[48];
} registry_map = { .lock = PTHREAD_MUTEX_INITIALIZER };

static unsigned density(size_t records)
{
    return records == 0 ? 0u : records <= 2 ? 1u : records <= 4 ? 2u : 3u;
}

/* The gzip form (zlib's deflate with the gzip wrapper); NULL when out of memory. */
static unsigned char *gzip_bytes(const unsigned char *in, size_t len, size_t *out_len)
{
    z_stream z = { 0 };
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong bound = deflateBound(&z, (uLong)len) + 32;
    unsigned char *out = malloc(bound);
    if (out) {
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)bound;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
            free(out);
            out = NULL;
        } else {
            *out_len = z.total_out;
        }
    }
    deflateEnd(&z);
    return out;
}

/* Under the lock: the map of ix. */
static void registry_map_build(const struct registry_index *ix)
{
    memset(registry_map.map, 0, sizeof registry_map.map);
    for (unsigned port = 0; port < 65536; port++) {
        size_t count = 0, assigned = 0;
        const uint32_t *ids = registry_index_port_records(ix, (uint16_t)port, &count);
        for (size_t i = 0; ids && i < count; i++) {
            struct registry_record record;
            if (registry_index_record(ix, ids[i], &record) && record.status == REGISTRY_STATUS_ASSIGNED)
                assigned++;
        }
        registry_map.map[port / 4] |= (unsigned char)(density(assigned) << (2 * (port % 4)));
    }
    free(registry_map.gzip);
    registry_map.gzip_len = 0;
    registry_map.gzip = gzip_bytes(registry_map.map, sizeof registry_map.map, &registry_map.gzip_len);
    unsigned long crc = crc32(0L, registry_map.map, (uInt)sizeof registry_map.map);
    snprintf(registry_map.etag, sizeof registry_map.etag, "\"r%llx-%08lx\"",
             (unsigned long long)registry_index_built_at(ix), crc);
    registry_map.ix = ix;
}

static void get_registry_map(struct server_request *req, struct server_response *resp)
{
    const struct registry_index *ix = req->opt->registry;
    if (!ix) {
        respond_error(resp, 503, "no-registry", "", "the server has no registry index");
        return;
    }
    /* the index lives as long as the server (serve_command.c), so the bytes do too */
    pthread_mutex_lock(&registry_map.lock);
    if (registry_map.ix != ix)
        registry_map_build(ix);
    struct static_body body = {
        .bytes = registry_map.map, .len = sizeof registry_map.map, .gzip = registry_map.gzip,
        .gzip_len = registry_map.gzip_len, .etag = registry_map.etag, .content_type = "application/octet-stream",
        .cache_control = "no-cache",
    };
    pthread_mutex_unlock(&registry_map.lock);
    respond_static_body(req, resp, &body);
}

const struct server_route route_registry_map[] = {
    { "GET", "/api/v1/registry/map", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_registry_map },
    { NULL, NULL, 0, 0, NULL },
};
