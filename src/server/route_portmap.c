/* route_portmap.c — GET /api/v1/portmap/{host}/{proto} (reader): every port of a host and
 * protocol in one answer, from the ledger's in-memory maps (ledger_portmap): 16,384 bytes of
 * application/octet-stream, 2 bits a port (port p in byte p / 4 at bits 2 * (p % 4), least
 * significant first; 0 free, 1 assigned, 2 leased, 3 quarantined or refused by the policy), or
 * with ?format=json the same bytes in base64 with a legend and counts. The binary form is
 * gzip'd when Accept-Encoding takes it (the web UI fetches one per host). */
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "server/http_conditional.h"
#include "server/http_gzip.h"
#include "server/server_http.h"

/* The binary form (map taken over): gzip'd when the client takes it (level 1: it is made for
 * each answer, and long runs of free or unavailable ports shrink as well at any level). No
 * ETag: the map changes with every lease. */
static void respond_binary_map(const struct server_request *req, struct server_response *resp, uint8_t *map)
{
    size_t gzip_len = 0;
    unsigned char *gzip = http_accepts_gzip(req->accept_encoding)
                              ? http_gzip_bytes(map, LEDGER_PORTMAP_BYTES, Z_BEST_SPEED, &gzip_len)
                              : NULL;
    if (gzip) {
        free(map);
        respond_raw(resp, (char *)gzip, gzip_len, "application/octet-stream");
        respond_header(resp, "Content-Encoding", "gzip");
    } else {   /* not taken, or out of memory: the bytes as they are */
        respond_raw(resp, (char *)map, LEDGER_PORTMAP_BYTES, "application/octet-stream");
    }
    respond_header(resp, "Vary", "Accept-Encoding");
}

static void get_portmap(struct server_request *req, struct server_response *resp)
{
    const char *format = json_string_value(json_object_get(req->query, "format"));
    if (format && strcmp(format, "json") != 0 && strcmp(format, "binary") != 0) {
        respond_error(resp, 400, "bad-value", "format", "format must be binary (default) or json");
        return;
    }
    uint8_t *map = malloc(LEDGER_PORTMAP_BYTES);
    if (!map) {
        respond_error(resp, 500, "out-of-memory", "", "out of memory");
        return;
    }
    unsigned counts[4];
    struct ledger_error lerr = { 0 };
    if (ledger_portmap(req->opt->ledger, req->params[0], req->params[1], map, counts, &lerr) < 0) {
        free(map);
        respond_result(resp, -1, 0, NULL, &lerr);
        return;
    }
    if (!format || strcmp(format, "binary") == 0) {
        respond_binary_map(req, resp, map);
        return;
    }
    /* base64 by GnuTLS, which the server links already (the tokens' HMAC) */
    gnutls_datum_t raw = { map, LEDGER_PORTMAP_BYTES }, encoded = { NULL, 0 };
    if (gnutls_base64_encode2(&raw, &encoded) < 0) {
        free(map);
        respond_error(resp, 500, "internal", "", "base64 encoding failed");
        return;
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:i, s:i, s:i, s:i}, s:s#}", "host",
                            req->params[0], "proto", req->params[1], "encoding",
                            "base64 of 16384 bytes; 2 bits a port: port p is (byte[p / 4] >> (2 * (p % 4))) & 3",
                            "legend", "0", "free", "1", "assigned", "2", "leased", "3",
                            "quarantined, ephemeral, excluded or port 0", "counts", "free", (int)counts[0], "assigned",
                            (int)counts[1], "leased", (int)counts[2], "unavailable", (int)counts[3], "map",
                            (const char *)encoded.data, (size_t)encoded.size);
    gnutls_free(encoded.data);
    free(map);
    respond_json(resp, 200, doc);
}

const struct server_route route_portmap[] = {
    { "GET", "/api/v1/portmap/{host}/{proto}", LEDGER_ROLE_READER, ROUTE_NO_BODY, get_portmap },
    { NULL, NULL, 0, 0, NULL },
};
