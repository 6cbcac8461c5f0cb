/* route_registry_map.c — GET /api/v1/registry/map (reader): how densely the registry covers
 * each of the 65,536 ports, for the web UI's map without 65,536 lookups: 16,384 bytes, 2 bits
 * a port as the portmap's (port p is (byte[p / 4] >> (2 * (p % 4))) & 3), counting records of
 * status assigned (not reserved, unassigned or removed): 0 none, 1 one or two (a service on tcp
 * and udp), 2 three or four, 3 five or more. Built once per
 * registry index and kept with its gzip copy in the index's generation (server_registry.h),
 * which the request holds until the bytes are sent; ETag from the index's build time and the bytes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "registry/index.h"
#include "server/http_gzip.h"
#include "server/server_http.h"
#include "server/server_registry.h"
#include "server/server_static.h"

static unsigned density(size_t records)
{
    return records == 0 ? 0u : records <= 2 ? 1u : records <= 4 ? 2u : 3u;
}

/* Under g->map_lock: the map of g's index. */
static void registry_map_build(struct server_registry_generation *g)
{
    memset(g->map, 0, sizeof g->map);
    for (unsigned port = 0; port < 65536; port++) {
        size_t count = 0, assigned = 0;
        const uint32_t *ids = registry_index_port_records(g->ix, (uint16_t)port, &count);
        for (size_t i = 0; ids && i < count; i++) {
            struct registry_record record;
            if (registry_index_record(g->ix, ids[i], &record) && record.status == REGISTRY_STATUS_ASSIGNED)
                assigned++;
        }
        g->map[port / 4] |= (unsigned char)(density(assigned) << (2 * (port % 4)));
    }
    g->map_gzip_len = 0;
    g->map_gzip = http_gzip_bytes(g->map, sizeof g->map, Z_BEST_COMPRESSION, &g->map_gzip_len);
    unsigned long crc = crc32(0L, g->map, (uInt)sizeof g->map);
    snprintf(g->map_etag, sizeof g->map_etag, "\"r%llx-%08lx\"", (unsigned long long)registry_index_built_at(g->ix),
             crc);
    snprintf(g->map_gzip_etag, sizeof g->map_gzip_etag, "\"r%llx-%08lx-gz\"",
             (unsigned long long)registry_index_built_at(g->ix), crc);
    g->map_built = true;
}

static void get_registry_map(struct server_request *req, struct server_response *resp)
{
    struct server_registry_generation *g = req->registry_generation;
    if (!g) {
        respond_error(resp, 503, "no-registry", "", "the server has no registry index");
        return;
    }
    /* the request holds g until its answer is sent (server.c), so the bytes outlive it */
    pthread_mutex_lock(&g->map_lock);
    if (!g->map_built)
        registry_map_build(g);
    pthread_mutex_unlock(&g->map_lock);
    struct static_body body = {
        .bytes = g->map, .len = sizeof g->map, .gzip = g->map_gzip, .gzip_len = g->map_gzip_len,
        .etag = g->map_etag, .gzip_etag = g->map_gzip_etag, .content_type = "application/octet-stream", .cache_control = "no-cache",
    };
    respond_static_body(req, resp, &body);
}

const struct server_route route_registry_map[] = {
    { "GET", "/api/v1/registry/map", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_registry_map },
    { NULL, NULL, 0, 0, NULL },
};
