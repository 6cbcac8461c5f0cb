/* remote_client.h — the HTTP+JSON client of `portreg serve` (docs/API.md) that `portreg remote`
 * drives: where the server is (--server, PORTREG_SERVER, a default), the token and a private CA,
 * one call = one HTTP request with libcurl (loaded with dlopen), and the answer decoded: the
 * status, the JSON document, the server's error {code, message, field, conflict}. Never prints,
 * never exits; the token never appears in an error message. */
#ifndef PORTREG_REMOTE_REMOTE_CLIENT_H
#define PORTREG_REMOTE_REMOTE_CLIENT_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define REMOTE_DEFAULT_SERVER "http://127.0.0.1:7678"
/* the largest answer accepted (an export of a big registry fits many times) */
#define REMOTE_MAX_RESPONSE (64u * 1024u * 1024u)

struct remote_config {
    char server[1024];     /* scheme://host[:port][/prefix], no trailing '/' */
    char token[256];       /* "" when none */
    char cacert[1024];     /* "" when none: the system's CAs */
    const char *server_from;   /* "--server", "PORTREG_SERVER" or "the default", for messages */
    long timeout_seconds;      /* the whole exchange; connecting gets at most 10 s of it */
    /* non-zero ends an exchange under way within a second (a SIGTERM's flag: libcurl goes on
     * through EINTR, so a signal alone waits for the timeout); NULL: never */
    volatile sig_atomic_t *stop;
};

/* Fill cfg from the options (NULL when not given), else the environment's values (NULL when
 * unset or empty), else the default server. The server must be http:// or https:// (a bare
 * HOST[:PORT] means http://), with a host, without spaces, control bytes, user:password@, a
 * query or a fragment; the token must be printable ASCII without spaces. -EINVAL with err
 * naming the option or variable ("--server", "PORTREG_TOKEN") otherwise. */
int remote_config_init(struct remote_config *cfg, const char *server_option, const char *token_option,
                       const char *cacert_option, const char *server_env, const char *token_env,
                       const char *cacert_env, struct pr_error *err);

/* Percent-encode value (RFC 3986: everything but A-Z a-z 0-9 - . _ ~) and append
 * "?name=value" or "&name=value" to path[0..size). -ENAMETOOLONG when it does not fit. */
int remote_query_append(char *path, size_t size, const char *name, const char *value, struct pr_error *err);

/* The server's error document {"error":{"code","message","field","conflict"}}. */
struct remote_error {
    char code[64];
    char message[1024];
    char field[128];
    json_t *conflict;      /* the assignment or lease in the way (409), or NULL; owned */
    json_t *diagnostics;   /* "diagnostics" beside "error" (import's 422), or NULL; owned */
};

struct remote_response {
    long status;               /* HTTP status */
    char content_type[128];
    char request_id[80];       /* X-Request-ID of the answer, "" when none */
    char *body;                /* the raw body, NUL-terminated (may hold other NULs) */
    size_t body_len;
    json_t *json;              /* the body as JSON when it is JSON, else NULL */
    bool has_error;            /* status >= 400 and the body was an error document */
    struct remote_error error;
};

/* What an answer means to a caller, by status: OK 2xx; NO the answer is "no" (404 not found,
 * 409 conflict, 412 changed in between); BAD_INPUT what was sent is wrong (400, 405, 413, 415,
 * 422); AUTH the token (401, 403); FAILURE the server failed (5xx, anything else). */
enum remote_outcome {
    REMOTE_OK,
    REMOTE_NO,
    REMOTE_BAD_INPUT,
    REMOTE_AUTH,
    REMOTE_FAILURE,
};
enum remote_outcome remote_status_outcome(long status);

/* Decode an answer already received (body[0..len) with its status and content type) into resp:
 * JSON is parsed when the content type is application/json or the body starts with '{'; an
 * error status's error document is split into resp->error. The body is copied. -EBADMSG when
 * a JSON content type holds no JSON (err says where). Used by remote_call; public for tests. */
int remote_response_decode(long status, const char *content_type, const char *body, size_t len,
                           struct remote_response *resp, struct pr_error *err);
void remote_response_free(struct remote_response *resp);

struct remote_client;

/* Load libcurl and prepare a connection to cfg's server (kept alive across calls). */
int remote_client_open(struct remote_client **out, const struct remote_config *cfg, struct pr_error *err);
void remote_client_close(struct remote_client *client);

struct remote_request {
    const char *method;            /* "GET", "POST", ... */
    const char *path;              /* "/api/v1/requests?state=submitted" */
    const char *content_type;      /* of the body; NULL: application/json */
    const char *body;              /* NULL: no body */
    size_t body_len;
    const char *idempotency_key;   /* Idempotency-Key, or NULL */
    const char *content_encoding;  /* Content-Encoding of the body ("gzip"), or NULL */
};

/* Send one request and decode the answer into resp (every status is an answer: the caller
 * looks at resp->status). -errno when no answer came: -ECONNREFUSED (nobody listens),
 * -EHOSTUNREACH (name or route), -ETIMEDOUT, -EPROTO (TLS: certificate, handshake),
 * -EFBIG (answer over REMOTE_MAX_RESPONSE), -EBADMSG, -ENOPKG (libcurl missing), -EIO; err
 * names the server. */
int remote_call(struct remote_client *client, const struct remote_request *request,
                struct remote_response *resp, struct pr_error *err);

#endif
