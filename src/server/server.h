/* server.h — portreg serve's HTTP layer (libmicrohttpd): listening sockets, the route table,
 * JSON errors, X-Request-ID, body limits, Bearer auth by role, one log line per request, and
 * the drain on SIGTERM. Handlers (route_*.c) are thin over the ledger (src/lib/ledger). */
#ifndef PORTREG_SERVER_SERVER_H
#define PORTREG_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "ledger/ledger.h"
#include "net/local_ports.h"
#include "registry/index.h"
#include "server/server_registry.h"
#include "util/error.h"

enum server_log_format { SERVER_LOG_TEXT, SERVER_LOG_JSON };

#define SERVER_LISTEN_MAX 8
#define SERVER_BODY_LIMIT (64 * 1024)

struct server_options {
    const char *listen[SERVER_LISTEN_MAX];   /* "ADDR:PORT", "[V6]:PORT" */
    size_t listen_count;
    enum server_log_format log_format;
    unsigned threads;                        /* 0: one per core */
    size_t body_limit;                       /* bytes; 0: SERVER_BODY_LIMIT */
    const char *tls_cert_pem, *tls_key_pem;  /* both: HTTPS (server_tls.c); NULL: HTTP */
    bool anonymous_read;                     /* reader routes answer without a token */
    double rate_limit;                       /* requests/s per client (server_rate_limit.c); 0: off */
    unsigned rate_burst;                     /* the bucket's size; 0: 2 x rate_limit */
    struct ledger *ledger;
    struct server_registry *registry;        /* the index (server_registry.c); none: registry routes answer 503 */
    /* SIGHUP (signalled) and a once-a-second tick (not signalled) on the main thread: reload the
     * registry index into opt->registry (serve_command.c); NULL: nothing to reload */
    void (*reload_registry)(void *ctx, bool signalled);
    void *reload_ctx;
    const struct local_ports *host_ports;    /* for lookup answers; NULL = unknown */
};

/* Open a listening TCP socket on "ADDR:PORT" (with SO_REUSEADDR, as servers do): the fd, or
 * -EADDRINUSE etc. with err (the caller asks the doctor who holds the address). */
int server_listen_socket(const char *listen, int *fd, struct pr_error *err);
/* Parse "ADDR:PORT" / "[V6]:PORT": family, address bytes (16, IPv4 in the first 4), port. */
int server_parse_listen(const char *listen, int *family, unsigned char address[16], unsigned *port);

/* Serve on the already open sockets fds[0..count) until SIGTERM or SIGINT (which the caller
 * has blocked in every thread, with SIGHUP: opt->reload_registry), then stop accepting, let requests in flight finish, and
 * return 0. ready() is called once the daemons run (may be NULL). */
int server_run(const struct server_options *opt, const int *fds, size_t count, void (*ready)(void *), void *ready_ctx,
               struct pr_error *err);

#endif
