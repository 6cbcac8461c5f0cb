/* agent_send.h — one report to the server: the JSON document gzip-compressed (zlib) and
 * POSTed to /api/v1/observations with Content-Encoding: gzip through the remote client
 * (remote/remote_client.h: libcurl, TLS, the token, a private CA), and the answer classified
 * the way the agent acts on it: accepted (with the server's seq), resync, refused, unavailable. */
#ifndef PORTREG_AGENT_AGENT_SEND_H
#define PORTREG_AGENT_AGENT_SEND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "remote/remote_client.h"
#include "util/error.h"

#define AGENT_OBSERVATIONS_PATH "/api/v1/observations"

enum agent_answer_kind {
    AGENT_ANSWER_ACCEPTED,      /* 2xx: seq is the next base */
    AGENT_ANSWER_RESYNC,        /* 409 resync: send a full report */
    AGENT_ANSWER_REFUSED,       /* 4xx: the token, the host or the body; trying again will not help soon */
    AGENT_ANSWER_UNAVAILABLE,   /* no answer, or 5xx: try again after a backoff */
};

struct agent_answer {
    enum agent_answer_kind kind;
    long status;                /* 0 when no answer came */
    uint64_t seq;               /* ACCEPTED: the server's seq (the one sent when it gave none) */
    long long listeners;        /* ACCEPTED: the server's count, -1 when it gave none */
    char message[700];          /* why, escaped (util/text_escape.h): the server's error or the transport's */
    size_t body_bytes, sent_bytes;   /* JSON and gzip sizes */
};

/* gzip (RFC 1952) of data[0..len) into a malloc()ed *out; zlib's deflate with a gzip header. */
int agent_gzip(const void *data, size_t len, unsigned char **out, size_t *out_len, struct pr_error *err);

/* Send doc (whose "seq" is sent_seq) and classify the answer. Fails (-errno) only for local
 * trouble (memory, libcurl missing); a server that cannot be reached is an answer
 * (UNAVAILABLE). */
int agent_send_report(struct remote_client *client, const json_t *doc, uint64_t sent_seq, struct agent_answer *answer,
                      struct pr_error *err);

#endif
