/* server.c — libmicrohttpd daemons (internal polling thread, epoll, turbo, a thread pool of
 * one thread per core, one daemon per --listen socket), the request pipeline (route → auth →
 * content type and size → validated body → handler → JSON response with X-Request-ID and
 * ETag), the per-request log line, the registry reload on SIGHUP (server_registry.c), and the
 * drain on SIGTERM/SIGINT: stop accepting, wait for the requests in flight, stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "registry/registry_json.h"
#include "util/text_escape.h"
#include "server/server_http.h"
#include "server/server_metrics.h"
#include "server/server_log.h"
#include "server/server_offload.h"
#include "server/server_rate_limit.h"
#include "server/server_systemd.h"

#define SERVER_DRAIN_SECONDS 10
#define SERVER_TICK_MS 100           /* the main thread's tick: the request log is flushed */
#define SERVER_RECLAIM_TICKS 20      /* expired leases are reclaimed every 2 s */
#define SERVER_RELOAD_TICKS 10       /* the registry index file is looked at every second */
#define SERVER_RECLAIM_BATCH 64u
#define SERVER_RECLAIM_BATCHES 16u
#define SERVER_LEASE_WORKERS 64u     /* threads that wait on lease commits (server_offload.c) */

struct request_ctx {
    struct timespec start;
    char *body;
    size_t len, cap;
    bool too_large;
    size_t limit;            /* the route's body limit (SERVER_RAW_BODY_LIMIT for raw bodies) */
    char request_id[72];
    char actor[128];
    char method[16];
    char path[256];
    unsigned status;
    const struct server_route *route;        /* NULL: none matched (metrics) */
    unsigned retry_after;                    /* seconds, with a 429 */
    /* an offloaded request (server_offload.c): its answer, queued when MHD calls again after
     * the worker resumed the connection */
    struct MHD_Response *pending;
    struct MHD_Connection *connection;
    struct server_state *state;
    const char *mhd_url, *mhd_method;        /* MHD's, valid until the request completes */
    /* the registry index the handler saw, held until the answer is sent (server_registry.c) */
    struct server_registry_generation *registry_generation;
};

struct server_state {
    const struct server_options *opt;
    atomic_uint_fast64_t next_id;
    atomic_int in_flight;
    int64_t started;
    struct server_metrics *metrics;
    struct server_rate_limit *rate_limit;    /* NULL: no --rate-limit */
    struct server_log *log;                  /* the request log (server_log.c) */
    struct server_offload *offload;          /* workers for POST /api/v1/leases; NULL: none */
};

int server_parse_listen(const char *listen, int *family, unsigned char address[16], unsigned *port)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return -EINVAL;
    size_t len = (size_t)(colon - listen);
    if (listen[0] == '[') {
        if (len < 3 || listen[len - 1] != ']' || len - 2 >= sizeof host)
            return -EINVAL;
        memcpy(host, listen + 1, len - 2);
        host[len - 2] = '\0';
    } else {
        if (len >= sizeof host)
            return -EINVAL;
        memcpy(host, listen, len);
        host[len] = '\0';
    }
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end || p > 65535)
        return -EINVAL;
    memset(address, 0, 16);
    if (listen[0] != '[' && inet_pton(AF_INET, host, address) == 1)
        *family = AF_INET;
    else if (listen[0] == '[' && inet_pton(AF_INET6, host, address) == 1)
        *family = AF_INET6;
    else
        return -EINVAL;
    *port = (unsigned)p;
    return 0;
}

int server_listen_socket(const char *listen_text, int *fd_out, struct pr_error *err)
{
    int family;
    unsigned char address[16];
    unsigned port;
    if (server_parse_listen(listen_text, &family, address, &port) < 0)
        return pr_error_set(err, -EINVAL, "--listen %s: not ADDR:PORT or [IPV6]:PORT", listen_text);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return pr_error_set(err, -errno, "socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        memcpy(&in->sin_addr, address, 4);
        sl = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        memcpy(&in6->sin6_addr, address, 16);
        sl = sizeof *in6;
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        return pr_error_set(err, -e, "%s: %s", listen_text, strerror(e));
    }
    *fd_out = fd;
    return 0;
}

/* The client's address as text ("-" when unknown). */
static void client_address(struct MHD_Connection *c, char remote[INET6_ADDRSTRLEN])
{
    snprintf(remote, INET6_ADDRSTRLEN, "-");
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info && info->client_addr) {
        const struct sockaddr *sa = info->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, remote, INET6_ADDRSTRLEN);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, remote, INET6_ADDRSTRLEN);
    }
}

/* --rate-limit: take a request from the client's bucket (its token id, else its address);
 * false with a 429 when it is empty. */
static bool rate_allowed(struct server_state *state, struct MHD_Connection *c, struct request_ctx *ctx,
                         int64_t token_id, struct server_response *resp)
{
    if (!state->rate_limit)
        return true;
    char key[64];
    if (token_id > 0) {
        snprintf(key, sizeof key, "token:%lld", (long long)token_id);
    } else {
        char remote[INET6_ADDRSTRLEN];
        client_address(c, remote);
        snprintf(key, sizeof key, "address:%s", remote);
    }
    unsigned retry_after = 0;
    if (server_rate_limit_take(state->rate_limit, key, &retry_after))
        return true;
    ctx->retry_after = retry_after;
    char message[160];
    snprintf(message, sizeof message, "more than %g requests a second from this %s; retry after %u s",
             state->opt->rate_limit, token_id > 0 ? "token" : "address", retry_after);
    respond_error(resp, 429, "rate-limited", "", message);
    return false;
}

static bool request_id_sane(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':'))
            return false;
    }
    return true;
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    json_object_set_new(cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

static int64_t parse_if_match(const char *text)
{
    if (!text)
        return -1;
    if (text[0] == 'W' && text[1] == '/')
        text += 2;
    if (*text == '"')
        text++;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || (*end && *end != '"') || v < 0)
        return -2;
    return v;
}

/* Route, authenticate, validate, run. */
static void dispatch(struct server_state *state, struct MHD_Connection *c, struct request_ctx *ctx, const char *url,
                     const char *method, struct server_response *resp)
{
    struct server_request req = { .opt = state->opt, .method = method, .path = url, .if_match = -1,
                                  .metrics = state->metrics };
    req.actor.request_id = ctx->request_id;
    bool path_known;
    const struct server_route *route = server_route_find(method, url, &req, &path_known);
    ctx->route = route;
    if (!route) {
        respond_error(resp, path_known ? 405 : 404, path_known ? "method-not-allowed" : "not-found", "",
                      path_known ? "this path does not take that method" : "no such route (see docs/API.md)");
        return;
    }
    const char *auth = route->role != LEDGER_ROLE_NONE
                       ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION) : NULL;
    if (route->role == LEDGER_ROLE_READER && !auth && state->opt->anonymous_read) {
        /* --anonymous-read: a reader's route without a token (a token, if sent, is checked) */
        snprintf(req.actor.name, sizeof req.actor.name, "anonymous");
        snprintf(ctx->actor, sizeof ctx->actor, "anonymous");
        if (!rate_allowed(state, c, ctx, 0, resp))
            return;
    } else if (route->role != LEDGER_ROLE_NONE) {
        if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
            if (rate_allowed(state, c, ctx, 0, resp))
                respond_error(resp, 401, "unauthorized", "",
                              route->role == LEDGER_ROLE_READER || !state->opt->anonymous_read
                              ? "send Authorization: Bearer TOKEN (portreg serve token create)"
                              : "this route changes the registry: send Authorization: Bearer TOKEN");
            return;
        }
        struct ledger_error lerr = { 0 };
        if (ledger_token_authenticate(state->opt->ledger, auth + 7, &req.actor, &lerr) < 0) {
            if (rate_allowed(state, c, ctx, 0, resp))
                respond_result(resp, -1, 0, NULL, &lerr);
            else
                ledger_error_clear(&lerr);
            return;
        }
        snprintf(ctx->actor, sizeof ctx->actor, "%s", req.actor.name);
        if (!rate_allowed(state, c, ctx, req.actor.token_id, resp))
            return;
        if (req.actor.role < route->role) {
            char message[160];
            snprintf(message, sizeof message, "this needs the %s role; the token has %s", ledger_role_name(route->role),
                     ledger_role_name(req.actor.role));
            respond_error(resp, 403, "forbidden", "", message);
            return;
        }
    }
    if (ctx->too_large) {
        char message[96];
        snprintf(message, sizeof message, "the body is larger than %zu bytes", ctx->limit);
        respond_error(resp, 413, "too-large", "", message);
        return;
    }
    req.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    req.content_encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (route->body == ROUTE_RAW_BODY) {
        req.raw_body = ctx->body ? ctx->body : "";
        req.raw_len = ctx->len;
    } else if (route->body != ROUTE_NO_BODY) {
        const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        size_t type_len = type ? strcspn(type, "; ") : 0;
        if (ctx->len > 0 && !(type && type_len == 16 && strncasecmp(type, "application/json", 16) == 0)) {
            respond_error(resp, 415, "unsupported-media-type", "", "send the body as Content-Type: application/json");
            return;
        }
        struct ledger_error lerr = { 0 };
        if (ledger_body_parse((enum ledger_body_kind)route->body, ctx->body ? ctx->body : "", ctx->len, &req.body,
                              &lerr) < 0) {
            respond_result(resp, -1, 0, NULL, &lerr);
            return;
        }
    }
    req.if_match = parse_if_match(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH));
    if (req.if_match == -2) {
        respond_error(resp, 400, "bad-value", "If-Match", "If-Match must be the object's version as ETag sends it");
        json_decref(req.body);
        return;
    }
    req.idempotency_key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
    req.if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    req.accept_encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    req.query = json_object();
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, req.query);
    /* a reload may swap the index meanwhile: this request keeps the one it starts with */
    ctx->registry_generation = server_registry_acquire(state->opt->registry);
    req.registry_generation = ctx->registry_generation;
    req.registry = ctx->registry_generation ? ctx->registry_generation->ix : NULL;
    server_registry_pin(ctx->registry_generation);
    route->handler(&req, resp);
    server_registry_pin(NULL);
    json_decref(req.query);
    json_decref(req.body);
}

static enum MHD_Result build_response(struct server_state *state, struct MHD_Connection *c, struct request_ctx *ctx,
                                      const char *url, const char *method, struct MHD_Response **out);
static void offloaded_request(void *cls);

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct server_state *state = cls;
    struct request_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &ctx->start);
        const char *given = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-ID");
        if (request_id_sane(given))
            snprintf(ctx->request_id, sizeof ctx->request_id, "%s", given);
        else
            snprintf(ctx->request_id, sizeof ctx->request_id, "%llx-%llu", (unsigned long long)state->started,
                     (unsigned long long)atomic_fetch_add(&state->next_id, 1));
        snprintf(ctx->method, sizeof ctx->method, "%s", method);
        /* the path is text from outside: logged escaped (util/text_escape.c) */
        snprintf(ctx->path, sizeof ctx->path, "%s", url);
        text_escape_in_place(ctx->path, sizeof ctx->path);
        /* raw bodies (POST /import) have a limit of their own: find the route before the body */
        ctx->limit = state->opt->body_limit;
        if (strcmp(method, "POST") == 0) {
            struct server_request probe = { 0 };
            bool path_known;
            const struct server_route *route = server_route_find(method, url, &probe, &path_known);
            if (route && route->body == ROUTE_RAW_BODY)
                ctx->limit = SERVER_RAW_BODY_LIMIT;
        }
        atomic_fetch_add(&state->in_flight, 1);
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!ctx->too_large && ctx->len + *upload_size <= ctx->limit) {
            if (ctx->len + *upload_size > ctx->cap) {
                size_t cap = ctx->cap ? ctx->cap * 2 : 4096;
                while (cap < ctx->len + *upload_size)
                    cap *= 2;
                char *grown = realloc(ctx->body, cap);
                if (!grown)
                    return MHD_NO;
                ctx->body = grown;
                ctx->cap = cap;
            }
            memcpy(ctx->body + ctx->len, upload_data, *upload_size);
            ctx->len += *upload_size;
        } else {
            ctx->too_large = true;   /* the rest is read and dropped; the answer is 413 */
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (ctx->pending) {
        enum MHD_Result queued = MHD_queue_response(c, ctx->status, ctx->pending);
        MHD_destroy_response(ctx->pending);
        ctx->pending = NULL;
        return queued;
    }
    /* a lease (renew, release) waits for its batch's commit and sync: park the connection and let a worker
     * wait, so this thread serves others and many leases share one commit (ledger_leases.c) */
    if (state->offload && strcmp(method, "POST") == 0 && strncmp(url, "/api/v1/leases", 14) == 0 &&
        (url[14] == '\0' || (url[14] == '/' && strchr(url + 15, '/')))) {   /* a lease, a renew, a release */
        ctx->connection = c;
        ctx->state = state;
        ctx->mhd_url = url;
        ctx->mhd_method = method;
        MHD_suspend_connection(c);
        if (server_offload_submit(state->offload, offloaded_request, ctx) == 0)
            return MHD_YES;
        MHD_resume_connection(c);
        return MHD_NO;
    }
    enum MHD_Result built = build_response(state, c, ctx, url, method, &ctx->pending);
    if (built != MHD_YES)
        return built;
    enum MHD_Result result = MHD_queue_response(c, ctx->status, ctx->pending);
    MHD_destroy_response(ctx->pending);
    ctx->pending = NULL;
    return result;
}

/* Route the request and make its answer (*out; ctx->status). */
static enum MHD_Result build_response(struct server_state *state, struct MHD_Connection *c, struct request_ctx *ctx,
                                      const char *url, const char *method, struct MHD_Response **out)
{
    struct server_response resp = { 0 };
    dispatch(state, c, ctx, url, method, &resp);
    /* a JSON document, or a route's own bytes (portmap, exports, metrics, cached registry
     * answers) with their content type */
    char *text = NULL;
    size_t len = 0;
    const char *content_type = NULL;
    if (resp.body) {
        text = server_json_text(resp.body, &len);
        content_type = text ? "application/json" : NULL;
        free(resp.raw);
    } else if (resp.raw) {
        text = resp.raw;
        len = resp.raw_len;
        content_type = resp.content_type;
    }
    json_decref(resp.body);
    struct MHD_Response *response;
    if (!text && resp.static_bytes) {   /* the web UI's assets: sent from the binary's memory */
        response = MHD_create_response_from_buffer(resp.raw_len, (void *)(uintptr_t)resp.static_bytes,
                                                   MHD_RESPMEM_PERSISTENT);
        content_type = resp.content_type;
    } else {
        response = MHD_create_response_from_buffer(len, text ? text : (char *)"",
                                                   text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    }
    if (!response) {
        free(text);
        return MHD_NO;
    }
    if (content_type)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (resp.status == 429 && ctx->retry_after) {
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%u", ctx->retry_after);
        MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
    }
    MHD_add_response_header(response, "X-Request-ID", ctx->request_id);
    for (size_t h = 0; h < resp.header_count; h++)
        MHD_add_response_header(response, resp.headers[h][0], resp.headers[h][1]);
    if (resp.version > 0) {
        char etag[32];
        snprintf(etag, sizeof etag, "\"%lld\"", (long long)resp.version);
        MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG, etag);
    }
    if (resp.status == 401)
        MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"portreg\"");
    ctx->status = resp.status ? resp.status : 500;
    *out = response;
    return MHD_YES;
}

/* A worker's part of an offloaded request: the answer, then the connection back to MHD. */
static void offloaded_request(void *cls)
{
    struct request_ctx *ctx = cls;
    struct MHD_Response *response = NULL;
    if (build_response(ctx->state, ctx->connection, ctx, ctx->mhd_url, ctx->mhd_method, &response) != MHD_YES) {
        ctx->status = 500;
        response = MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    }
    ctx->pending = response;
    MHD_resume_connection(ctx->connection);
}

static void log_request(struct server_state *state, struct MHD_Connection *c, struct request_ctx *ctx, double ms)
{
    char remote[INET6_ADDRSTRLEN];
    client_address(c, remote);
    /* the time text changes once a second: formatted once a second per thread */
    static _Thread_local int64_t when_second = -1;
    static _Thread_local char when[32];
    int64_t second = (int64_t)time(NULL);
    if (second != when_second) {
        registry_format_time(second, when, sizeof when);
        when_second = second;
    }
    /* whole lines to the log's writer: written at once, or gathered under load */
    char line[2048];
    int len;
    if (state->opt->log_format == SERVER_LOG_JSON) {
        json_t *object = json_pack("{s:s, s:s, s:s, s:s, s:i, s:f, s:s, s:s?}", "time", when, "remote", remote,
                                   "method", ctx->method, "path", ctx->path, "status",
                                   (int)ctx->status, "duration_ms", ms, "request_id", ctx->request_id, "actor",
                                   ctx->actor[0] ? ctx->actor : NULL);
        char *text = object ? json_dumps(object, JSON_COMPACT) : NULL;
        len = text ? snprintf(line, sizeof line, "%s\n", text) : -1;
        free(text);
        json_decref(object);
    } else {
        len = snprintf(line, sizeof line, "%s %s %s %s %u %.2fms request_id=%s actor=%s\n", when, remote, ctx->method,
                       ctx->path, ctx->status, ms, ctx->request_id, ctx->actor[0] ? ctx->actor : "-");
    }
    if (len > 0) {
        size_t n = (size_t)len < sizeof line ? (size_t)len : sizeof line - 1;
        line[n - 1] = '\n';
        server_log_line(state->log, line, n);
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    struct server_state *state = cls;
    struct request_ctx *ctx = *con_cls;
    if (!ctx)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double ms = (double)(now.tv_sec - ctx->start.tv_sec) * 1e3 + (double)(now.tv_nsec - ctx->start.tv_nsec) / 1e6;
    if (ctx->status)
        server_metrics_record(state->metrics, ctx->route, ctx->method, ctx->status, ms / 1e3);
    log_request(state, c, ctx, ms);
    if (ctx->pending)
        MHD_destroy_response(ctx->pending);
    server_registry_release(ctx->registry_generation);   /* its bytes were sent */
    free(ctx->body);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&state->in_flight, 1);
}

/* Expired leases → expired: batches of SERVER_RECLAIM_BATCH, at most SERVER_RECLAIM_BATCHES
 * of them a tick, so one tick never holds the write lock long. A failure (database busy or
 * away) is left for the next tick. */
static void reclaim_expired_leases(struct ledger *ledger)
{
    for (unsigned batch = 0; ledger && batch < SERVER_RECLAIM_BATCHES; batch++) {
        struct ledger_error lerr = { 0 };
        unsigned reclaimed = 0;
        int r = ledger_reclaim_leases(ledger, SERVER_RECLAIM_BATCH, &reclaimed, &lerr);
        ledger_error_clear(&lerr);
        if (r < 0 || reclaimed < SERVER_RECLAIM_BATCH)
            return;
    }
}

int server_run(const struct server_options *opt_in, const int *fds, size_t count, void (*ready)(void *),
               void *ready_ctx, struct pr_error *err)
{
    struct server_options opt = *opt_in;
    if (!opt.body_limit)
        opt.body_limit = SERVER_BODY_LIMIT;
    if (!opt.threads) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        opt.threads = cores > 0 ? (unsigned)cores : 1;
    }
    /* every connection takes MHD's 32 KiB memory pool from malloc and gives it back at close:
     * with glibc's default trim threshold each thread's heap was shrunk (madvise) and grown
     * again (fresh pages to fault in) per connection, a fifth of a Connection: close request's
     * CPU; freed memory up to 64 MiB stays in the process instead */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    struct server_state state = { .opt = &opt, .started = (int64_t)time(NULL) };
    state.metrics = server_metrics_create(state.started);
    if (!state.metrics)
        return pr_error_set(err, -ENOMEM, "out of memory");
    /* a slot for every request thread of every daemon */
    state.log = server_log_create(opt.threads * (unsigned)count + 1, STDERR_FILENO);
    /* lease workers: enough that a batch gathers what the clients send at once */
    state.offload = server_offload_create(SERVER_LEASE_WORKERS);
    if (!state.log || !state.offload ||
        (opt.rate_limit > 0 && !(state.rate_limit = server_rate_limit_create(opt.rate_limit, opt.rate_burst)))) {
        server_offload_free(state.offload);
        server_log_free(state.log);
        server_metrics_free(state.metrics);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    bool tls = opt.tls_cert_pem && opt.tls_key_pem;
    struct MHD_Daemon *daemons[SERVER_LISTEN_MAX] = { 0 };
    int r = 0;
    for (size_t i = 0; i < count && r == 0; i++) {
        /* HTTPS: the certificate and key as PEM text (server_tls.c checked them); without
         * TLS the array is empty */
        struct MHD_OptionItem tls_options[] = {
            { tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)(uintptr_t)opt.tls_cert_pem },
            { MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)opt.tls_key_pem },
            { MHD_OPTION_END, 0, NULL },
        };
        /* turbo: fewer system calls per connection (no fcntl after accept4, no shutdown) */
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TURBO |
                         MHD_ALLOW_SUSPEND_RESUME | (tls ? MHD_USE_TLS : 0);
        daemons[i] = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &state, MHD_OPTION_ARRAY, tls_options,
                                      MHD_OPTION_LISTEN_SOCKET, fds[i],
                                      MHD_OPTION_THREAD_POOL_SIZE, opt.threads, MHD_OPTION_NOTIFY_COMPLETED,
                                      on_completed, &state, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                      MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_END);
        if (!daemons[i])
            r = pr_error_set(err, -EIO, "libmicrohttpd could not start on %s", opt.listen[i]);
    }
    if (r == 0) {
        if (ready)
            ready(ready_ctx);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        /* the main thread waits for the signal and meanwhile reclaims expired leases, a
         * bounded batch at a time, so they end (and their ports free) with no lease request;
         * SIGHUP reloads the registry index, as does a change of its file (looked at each second) */
        const struct timespec tick = { .tv_nsec = SERVER_TICK_MS * 1000000L };
        for (unsigned ticks = 1;; ticks++) {
            int sig = sigtimedwait(&set, NULL, &tick);
            if (sig == SIGTERM || sig == SIGINT)
                break;
            if (opt.reload_registry && (sig == SIGHUP || ticks % SERVER_RELOAD_TICKS == 0)) {
                opt.reload_registry(opt.reload_ctx, sig == SIGHUP);
            }
            server_log_flush(state.log);
            if (ticks % SERVER_RECLAIM_TICKS == 0)
                reclaim_expired_leases(opt.ledger);
        }
        /* drain: no new connections, the requests in flight finish (SERVER_DRAIN_SECONDS at most);
         * systemd hears of it (Type=notify; nothing to do outside systemd) */
        server_systemd_notify("STOPPING=1", NULL);
        for (size_t i = 0; i < count; i++)
            if (daemons[i]) {
                MHD_socket fd = MHD_quiesce_daemon(daemons[i]);
                if (fd != MHD_INVALID_SOCKET)
                    close(fd);
            }
        for (int waited = 0; atomic_load(&state.in_flight) > 0 && waited < SERVER_DRAIN_SECONDS * 100; waited++)
            usleep(10000);
    }
    /* the workers finish (and resume) what they hold before the daemons stop */
    server_offload_free(state.offload);
    for (size_t i = 0; i < count; i++)
        if (daemons[i])
            MHD_stop_daemon(daemons[i]);
    server_rate_limit_free(state.rate_limit);
    server_metrics_free(state.metrics);
    server_log_free(state.log);   /* the lines still gathered */
    return r;
}
