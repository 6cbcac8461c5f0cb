/* engine_connect.c — the connect() scan: non-blocking connects driven by one epoll loop per
 * thread; threads take probe indexes from a shared counter in chunks. A connect is asked for
 * its outcome by calling connect() again (0 = connected, ECONNREFUSED, EALREADY = still
 * pending), which on loopback answers at once and leaves a refused socket reusable, so most
 * closed ports cost two system calls. A loopback connection that may have reached one of our
 * own sockets (self-connect, or two probes in a simultaneous open) is checked against the
 * namespace's listeners. Open sockets are closed with an RST (SO_LINGER 0); local errors back
 * off and retry, and are reported as SCAN_STATE_ERROR only when they persist. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/local_ports.h"
#include "net/sockdiag.h"
#include "registry/record.h"
#include "scan/engine.h"
#include "scan/timing.h"

#define DEFAULT_TIMEOUT_MS 1000u
#define DEFAULT_BANNER_TIMEOUT_MS 500u
#define MIN_TIMEOUT_US 100000u          /* as nmap's --min-rtt-timeout */
#define DEFAULT_MAX_INFLIGHT 8192u
#define POOL_MAX 4                      /* reusable refused sockets kept per family */
#define LAUNCH_BATCH 256u               /* connects between two looks at the event queue */
#define EVENT_BATCH 256
#define LOCAL_GIVE_UP_STREAK 50u        /* consecutive local failures before reporting errors */
#define LOCAL_BACKOFF_STEP_NS 2000000u  /* backoff grows 2 ms per failure... */
#define LOCAL_BACKOFF_MAX_NS 100000000u /* ...up to 100 ms: 50 failures span ~2.5 s */

enum slot_phase { SLOT_FREE, SLOT_CONNECTING, SLOT_BANNER };

/* A probe not yet in flight: new, a retry after silence, or after a local error. */
struct pending_probe {
    struct scan_address target;
    uint16_t port;
    uint8_t attempt;                    /* attempts that timed out so far */
    bool sent;                          /* counted in progress->sent already */
};

struct probe_slot {
    int fd;
    uint32_t generation;                /* bumped on free: stale events and deadlines miss */
    uint8_t phase;
    struct pending_probe probe;
    uint64_t sent_ns;
    uint32_t rtt_us;                    /* of the handshake, kept during the banner read */
    uint16_t banner_len;
    char banner[SCAN_BANNER_MAX];
};

struct deadline {
    uint64_t at_ns;
    uint32_t slot, generation;
};

/* Binary min-heap of deadlines; entries of finished probes are skipped when they surface. */
struct deadline_heap {
    struct deadline *items;
    size_t count, capacity;
};

/* Double-ended ring of probes waiting to be (re)sent. */
struct probe_queue {
    struct pending_probe *items;
    size_t head, count, capacity;       /* capacity is a power of two */
};

struct connect_shared {
    const struct scan_job *job;
    struct scan_sink *sink;
    _Atomic uint64_t next_k;
    uint64_t chunk;
    uint32_t retries;
    uint32_t timeout_us;
    uint32_t banner_timeout_us;
    double rate_per_thread;
    struct local_port_range ephemeral;  /* where the kernel picks our source ports */
    bool have_ephemeral;
    /* Listening TCP sockets of this namespace, dumped once when first needed. */
    pthread_mutex_t listeners_lock;
    bool listeners_loaded;
    int listeners_error;                /* the dump failed: confirm by reconnecting */
    struct socket_list listeners;
    struct port_set listener_ports;
};

struct connect_worker {
    struct connect_shared *shared;
    int epfd;
    struct probe_slot *slots;
    uint32_t slot_count;
    uint32_t *free_slots;
    uint32_t free_count;
    uint32_t inflight, cap, cap_max;
    int pool[2][POOL_MAX];
    unsigned pooled[2];
    uint64_t chunk_next, chunk_end;
    bool exhausted;
    struct probe_queue queue;
    struct deadline_heap deadlines;
    struct scan_rtt *rtt;
    struct scan_rate rate;
    uint32_t fail_streak;               /* consecutive local failures, 0 after any success */
    uint64_t launch_after_ns;           /* backoff after a local failure */
    int fatal;                          /* negative errno when the loop itself broke */
};

/* ---- the deadline heap ---- */

static bool deadline_push(struct deadline_heap *heap, struct deadline item)
{
    if (heap->count == heap->capacity) {
        size_t capacity = heap->capacity ? heap->capacity * 2 : 1024;
        struct deadline *items = realloc(heap->items, capacity * sizeof *items);
        if (!items)
            return false;
        heap->items = items;
        heap->capacity = capacity;
    }
    size_t i = heap->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (heap->items[parent].at_ns <= item.at_ns)
            break;
        heap->items[i] = heap->items[parent];
        i = parent;
    }
    heap->items[i] = item;
    return true;
}

static void deadline_pop(struct deadline_heap *heap)
{
    struct deadline last = heap->items[--heap->count];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= heap->count)
            break;
        if (child + 1 < heap->count && heap->items[child + 1].at_ns < heap->items[child].at_ns)
            child++;
        if (last.at_ns <= heap->items[child].at_ns)
            break;
        heap->items[i] = heap->items[child];
        i = child;
    }
    if (heap->count > 0)
        heap->items[i] = last;
}

/* ---- the probe queue ---- */

static bool queue_grow(struct probe_queue *q)
{
    if (q->count < q->capacity)
        return true;
    size_t capacity = q->capacity ? q->capacity * 2 : 256;
    struct pending_probe *items = malloc(capacity * sizeof *items);
    if (!items)
        return false;
    for (size_t i = 0; i < q->count; i++)
        items[i] = q->items[(q->head + i) & (q->capacity - 1)];
    free(q->items);
    q->items = items;
    q->head = 0;
    q->capacity = capacity;
    return true;
}

static bool queue_push_back(struct probe_queue *q, const struct pending_probe *p)
{
    if (!queue_grow(q))
        return false;
    q->items[(q->head + q->count) & (q->capacity - 1)] = *p;
    q->count++;
    return true;
}

static bool queue_push_front(struct probe_queue *q, const struct pending_probe *p)
{
    if (!queue_grow(q))
        return false;
    q->head = (q->head + q->capacity - 1) & (q->capacity - 1);
    q->items[q->head] = *p;
    q->count++;
    return true;
}

static struct pending_probe queue_pop_front(struct probe_queue *q)
{
    struct pending_probe p = q->items[q->head];
    q->head = (q->head + 1) & (q->capacity - 1);
    q->count--;
    return p;
}

/* ---- results ---- */

static void emit(struct connect_worker *w, const struct pending_probe *probe,
                 enum scan_state state, enum scan_reason reason, uint32_t rtt_us, int error,
                 const char *banner, uint16_t banner_len)
{
    struct scan_result result;
    memset(&result, 0, offsetof(struct scan_result, banner));
    result.target = probe->target;
    result.port = probe->port;
    result.proto = REGISTRY_PROTO_TCP;
    result.state = (uint8_t)state;
    result.reason = (uint8_t)reason;
    result.rtt_us = rtt_us;
    result.error = error;
    result.banner_len = banner_len;
    if (banner_len)
        memcpy(result.banner, banner, banner_len);
    scan_sink_emit(w->shared->sink, &result);
}

/* An RST instead of a FIN: the port is not left in TIME_WAIT, and thousands of open results
 * do not use up the ephemeral range. */
static void close_with_reset(int fd)
{
    struct linger linger = { .l_onoff = 1, .l_linger = 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    close(fd);
}

static int family_index(const struct scan_address *target)
{
    return target->family == AF_INET6 ? 1 : 0;
}

/* A refused connect left its socket unconnected and reusable: keep a few. */
static void pool_put(struct connect_worker *w, int family, int fd)
{
    if (w->pooled[family] < POOL_MAX)
        w->pool[family][w->pooled[family]++] = fd;
    else
        close(fd);
}

/* Our socket connected to itself (TCP simultaneous open: the kernel picked the target port
 * as the source port of a connect to a local address). */
static bool is_self_connect(int fd, const struct pending_probe *probe, bool *target_is_ours)
{
    struct sockaddr_storage local, peer;
    socklen_t local_len = sizeof local;
    if (target_is_ours)
        *target_is_ours = false;
    if (getsockname(fd, (struct sockaddr *)&local, &local_len) < 0)
        return false;
    socklen_t peer_len = scan_address_to_sockaddr(&probe->target, probe->port, &peer);
    if (local_len != peer_len)
        return false;
    /* The kernel took the target as our source address: the target is this host. */
    if (target_is_ours)
        *target_is_ours =
            probe->target.family == AF_INET
                ? memcmp(&((struct sockaddr_in *)&local)->sin_addr, probe->target.bytes, 4) == 0
                : memcmp(&((struct sockaddr_in6 *)&local)->sin6_addr, probe->target.bytes,
                         16) == 0;
    return memcmp(&local, &peer, peer_len) == 0;
}

/* Is address one of this host's own? Binding to it says so (EADDRNOTAVAIL when not). */
static bool address_is_ours(const struct scan_address *address)
{
    int fd = socket(address->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_storage ss;
    socklen_t len = scan_address_to_sockaddr(address, 0, &ss);
    bool ours = bind(fd, (struct sockaddr *)&ss, len) == 0;
    close(fd);
    return ours;
}

/* Another of our own probes can be the peer: probe A (source port a) to port b and probe B
 * (source port b) to port a, both waiting at once, meet in a simultaneous open and both see
 * "connected". Only to a local address, only on a port the kernel could have given one of
 * our sockets. */
static bool may_be_our_own_socket(const struct connect_shared *shared,
                                  const struct pending_probe *probe, bool target_is_ours)
{
    if (!target_is_ours && !scan_address_is_loopback(&probe->target))
        return false;
    if (!shared->have_ephemeral)
        return true;
    return probe->port >= shared->ephemeral.first && probe->port <= shared->ephemeral.last;
}

/* Does this listener take connections to target? Its own address, a wildcard of the
 * family, or (for IPv4) a dual-stack IPv6 wildcard or the IPv4-mapped address. */
static bool listener_accepts(const struct socket_entry *listener,
                             const struct scan_address *target)
{
    static const uint8_t zero[16];
    static const uint8_t mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };
    if (target->family == AF_INET) {
        if (listener->family == AF_INET)
            return memcmp(listener->local_addr, zero, 4) == 0 ||
                   memcmp(listener->local_addr, target->bytes, 4) == 0;
        if (listener->v6only)
            return false;
        return memcmp(listener->local_addr, zero, 16) == 0 ||
               (memcmp(listener->local_addr, mapped_prefix, 12) == 0 &&
                memcmp(listener->local_addr + 12, target->bytes, 4) == 0);
    }
    return listener->family == AF_INET6 && (memcmp(listener->local_addr, zero, 16) == 0 ||
                                            memcmp(listener->local_addr, target->bytes, 16) == 0);
}

static bool list_has_listener(const struct socket_list *list, const struct scan_address *target,
                              uint16_t port)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].local_port == port && listener_accepts(&list->items[i], target))
            return true;
    return false;
}

static int dump_listeners(uint16_t port, bool every_port, struct socket_list *out)
{
    struct portspec ports = { 0 };
    if (!every_port && portspec_add(&ports, port, port, REGISTRY_PROTO_TCP) < 0)
        return -ENOMEM;
    struct sockdiag_query query = {
        .protos = 1u << REGISTRY_PROTO_TCP,
        .states = 1u << SOCKET_STATE_LISTEN,
        .local_ports = every_port ? NULL : &ports,
    };
    int rc = sockdiag_dump(&query, out, NULL);
    portspec_free(&ports);
    return rc;
}

/* 1 when a listener of this namespace takes target:port, 0 when none does, -errno when the
 * kernel cannot say. A snapshot of every listener answers the usual case; a port missing
 * from it is asked again (the listener may be newer than the snapshot). */
static int local_listener_exists(struct connect_shared *shared,
                                 const struct scan_address *target, uint16_t port)
{
    pthread_mutex_lock(&shared->listeners_lock);
    if (!shared->listeners_loaded) {
        shared->listeners_loaded = true;
        shared->listeners_error = dump_listeners(0, true, &shared->listeners);
        for (size_t i = 0; i < shared->listeners.count; i++)
            port_set_add(&shared->listener_ports, shared->listeners.items[i].local_port);
    }
    int found = shared->listeners_error;
    if (found == 0)
        found = port_set_has(&shared->listener_ports, port) &&
                list_has_listener(&shared->listeners, target, port);
    pthread_mutex_unlock(&shared->listeners_lock);
    if (found != 0)
        return found;
    struct socket_list fresh = { 0 };
    int rc = dump_listeners(port, false, &fresh);
    if (rc == 0)
        rc = list_has_listener(&fresh, target, port);
    socket_list_free(&fresh);
    return rc;
}

/* Without sock_diag: ask again with a new socket while the first connection is still up. A
 * listener accepts this one too; a port that is only the source port of one of our sockets
 * answers with an RST. When the answer is unclear, the first connection stands. */
static bool listener_confirmed(const struct pending_probe *probe, uint32_t timeout_ms)
{
    int fd = socket(probe->target.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return true;
    struct sockaddr_storage address;
    socklen_t address_len = scan_address_to_sockaddr(&probe->target, probe->port, &address);
    int rc = connect(fd, (struct sockaddr *)&address, address_len);
    if (rc < 0 && errno == EINPROGRESS)
        rc = connect(fd, (struct sockaddr *)&address, address_len);
    if (rc < 0 && errno == EALREADY) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        if (poll(&pfd, 1, (int)timeout_ms) == 1)
            rc = connect(fd, (struct sockaddr *)&address, address_len);
    }
    bool confirmed = true;
    if (rc == 0)
        confirmed = !is_self_connect(fd, probe, NULL);   /* a listener's port is never picked */
    else if (errno == ECONNREFUSED)
        confirmed = false;
    close_with_reset(fd);
    return confirmed;
}

/* A connection to probe's target was made (handshake done, perhaps reset since): open,
 * unless the peer was one of our own sockets. fd is the connected socket or -1. */
static bool really_open(struct connect_shared *shared, int fd, const struct pending_probe *probe)
{
    bool target_is_ours = false;
    if (fd >= 0 && is_self_connect(fd, probe, &target_is_ours))
        return false;
    /* A reset connection has forgotten its addresses: ask the host instead. */
    if (fd < 0 && !scan_address_is_loopback(&probe->target))
        target_is_ours = address_is_ours(&probe->target);
    if (!may_be_our_own_socket(shared, probe, target_is_ours))
        return true;
    int listener = local_listener_exists(shared, &probe->target, probe->port);
    if (listener >= 0)
        return listener == 1;
    return listener_confirmed(probe, 100);
}

/* ---- slots ---- */

static uint32_t slot_take(struct connect_worker *w)
{
    uint32_t index = w->free_slots[--w->free_count];
    w->inflight++;
    return index;
}

static void slot_release(struct connect_worker *w, uint32_t index)
{
    struct probe_slot *slot = &w->slots[index];
    slot->phase = SLOT_FREE;
    slot->fd = -1;
    slot->generation++;
    w->free_slots[w->free_count++] = index;
    w->inflight--;
}

static uint64_t event_tag(uint32_t index, uint32_t generation)
{
    return (uint64_t)generation << 32 | index;
}

/* ---- outcomes ---- */

/* Local conditions: the probe was never decided and goes back to the queue. */
static bool is_local_transient(int error)
{
    return error == EMFILE || error == ENFILE || error == EADDRNOTAVAIL || error == ENOBUFS ||
           error == ENOMEM || error == EAGAIN || error == EADDRINUSE || error == ENOSPC;
}

static bool is_unreachable(int error)
{
    return error == EHOSTUNREACH || error == ENETUNREACH || error == EHOSTDOWN ||
           error == ENONET;
}

static void local_failure(struct connect_worker *w, struct pending_probe *probe, int error,
                          uint64_t now)
{
    w->fail_streak++;
    /* Fewer sockets at once until completions show the kernel has room again. */
    w->cap = w->inflight > 1 ? w->inflight - w->inflight / 8 : 1;
    if (w->fail_streak >= LOCAL_GIVE_UP_STREAK) {
        emit(w, probe, SCAN_STATE_ERROR, SCAN_REASON_LOCAL_ERROR, 0, error, NULL, 0);
        return;
    }
    uint64_t backoff = (uint64_t)w->fail_streak * LOCAL_BACKOFF_STEP_NS;
    w->launch_after_ns = now + (backoff < LOCAL_BACKOFF_MAX_NS ? backoff : LOCAL_BACKOFF_MAX_NS);
    if (!queue_push_front(&w->queue, probe))
        emit(w, probe, SCAN_STATE_ERROR, SCAN_REASON_LOCAL_ERROR, 0, ENOMEM, NULL, 0);
}

static void local_success(struct connect_worker *w)
{
    w->fail_streak = 0;
    if (w->cap < w->cap_max)
        w->cap++;
}

static void note_sent(struct connect_worker *w, struct pending_probe *probe)
{
    if (!probe->sent) {
        probe->sent = true;
        if (w->shared->sink->progress)
            atomic_fetch_add(&w->shared->sink->progress->sent, 1);
    }
}

/* Track a probe in flight (a pending connect or a banner read) until deadline. */
static bool arm(struct connect_worker *w, uint32_t index, uint32_t events, int op,
                uint64_t deadline_ns)
{
    struct probe_slot *slot = &w->slots[index];
    struct epoll_event ev = { .events = events, .data.u64 = event_tag(index, slot->generation) };
    if (epoll_ctl(w->epfd, op, slot->fd, &ev) < 0)
        return false;
    struct deadline d = { .at_ns = deadline_ns, .slot = index, .generation = slot->generation };
    if (!deadline_push(&w->deadlines, d)) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, slot->fd, NULL);
        return false;
    }
    return true;
}

/* The handshake completed on the slot's socket: open, or our own socket (self-connect). */
static void connected(struct connect_worker *w, uint32_t index, uint64_t now, bool registered)
{
    struct probe_slot *slot = &w->slots[index];
    slot->rtt_us = (uint32_t)((now - slot->sent_ns) / 1000);
    scan_rtt_sample(w->rtt, &slot->probe.target, slot->rtt_us);
    if (!really_open(w->shared, slot->fd, &slot->probe)) {
        emit(w, &slot->probe, SCAN_STATE_CLOSED, SCAN_REASON_SELF_CONNECT, slot->rtt_us, 0,
             NULL, 0);
    } else if (w->shared->banner_timeout_us) {
        /* A new generation: the connect deadline still in the heap must not end the read. */
        slot->generation++;
        slot->phase = SLOT_BANNER;
        slot->banner_len = 0;
        uint64_t deadline = now + (uint64_t)w->shared->banner_timeout_us * 1000;
        if (arm(w, index, EPOLLIN | EPOLLRDHUP, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                deadline))
            return;
        emit(w, &slot->probe, SCAN_STATE_OPEN, SCAN_REASON_CONNECTED, slot->rtt_us, 0, NULL, 0);
    } else {
        emit(w, &slot->probe, SCAN_STATE_OPEN, SCAN_REASON_CONNECTED, slot->rtt_us, 0, NULL, 0);
    }
    close_with_reset(slot->fd);
    slot_release(w, index);
}

/* A connect ended with error (from the status connect): the state it tells. */
static void connect_failed(struct connect_worker *w, uint32_t index, int error, uint64_t now,
                           bool reusable)
{
    struct probe_slot *slot = &w->slots[index];
    struct pending_probe probe = slot->probe;
    uint32_t rtt_us = (uint32_t)((now - slot->sent_ns) / 1000);
    int family = family_index(&probe.target);
    int fd = slot->fd;
    slot_release(w, index);
    if (error == ECONNREFUSED || is_unreachable(error)) {
        scan_rtt_sample(w->rtt, &probe.target, rtt_us);
        bool refused = error == ECONNREFUSED;
        emit(w, &probe, refused ? SCAN_STATE_CLOSED : SCAN_STATE_FILTERED,
             refused ? SCAN_REASON_CONN_REFUSED : SCAN_REASON_HOST_UNREACHABLE, rtt_us, 0, NULL,
             0);
        if (reusable)
            pool_put(w, family, fd);
        else
            close(fd);
        return;
    }
    close(fd);
    if (error == ECONNRESET) {           /* it accepted the handshake, then reset */
        scan_rtt_sample(w->rtt, &probe.target, rtt_us);
        if (really_open(w->shared, -1, &probe))
            emit(w, &probe, SCAN_STATE_OPEN, SCAN_REASON_CONNECTED, rtt_us, 0, NULL, 0);
        else
            emit(w, &probe, SCAN_STATE_CLOSED, SCAN_REASON_SELF_CONNECT, rtt_us, 0, NULL, 0);
    } else if (error == ETIMEDOUT) {            /* the kernel gave up first: silence */
        emit(w, &probe, SCAN_STATE_FILTERED, SCAN_REASON_TIMEOUT, 0, 0, NULL, 0);
    } else if (is_local_transient(error)) {
        local_failure(w, &probe, error, now);
    } else {
        emit(w, &probe, SCAN_STATE_ERROR, SCAN_REASON_LOCAL_ERROR, 0, error, NULL, 0);
    }
}

/* Send one probe: a connect, then a second connect that reports the outcome when the kernel
 * already knows it (always on loopback), else the socket waits in epoll. */
static void launch(struct connect_worker *w, struct pending_probe *probe)
{
    int family = family_index(&probe->target);
    int fd;
    if (w->pooled[family] > 0) {
        fd = w->pool[family][--w->pooled[family]];
    } else {
        fd = socket(probe->target.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            int error = errno;
            if (is_local_transient(error))
                local_failure(w, probe, error, scan_now_ns());
            else
                emit(w, probe, SCAN_STATE_ERROR, SCAN_REASON_LOCAL_ERROR, 0, error, NULL, 0);
            return;
        }
    }
    struct sockaddr_storage address;
    socklen_t address_len = scan_address_to_sockaddr(&probe->target, probe->port, &address);
    uint32_t index = slot_take(w);
    struct probe_slot *slot = &w->slots[index];
    slot->fd = fd;
    slot->probe = *probe;
    slot->phase = SLOT_CONNECTING;
    slot->sent_ns = scan_now_ns();

    int rc = connect(fd, (struct sockaddr *)&address, address_len);
    if (rc < 0 && errno != EINPROGRESS) {
        /* Refused before anything was sent: no route, no local port, no memory. */
        int error = errno;
        if (is_local_transient(error)) {
            slot_release(w, index);
            pool_put(w, family, fd);
            local_failure(w, probe, error, scan_now_ns());
            return;
        }
        note_sent(w, &slot->probe);
        connect_failed(w, index, error, scan_now_ns(), is_unreachable(error));
        return;
    }
    note_sent(w, &slot->probe);
    local_success(w);
    if (rc < 0)
        rc = connect(fd, (struct sockaddr *)&address, address_len);
    if (rc == 0) {
        connected(w, index, scan_now_ns(), false);
        return;
    }
    int error = errno;
    if (error != EALREADY) {
        connect_failed(w, index, error, scan_now_ns(), true);
        return;
    }
    uint64_t deadline = slot->sent_ns + (uint64_t)scan_rtt_timeout(w->rtt, &probe->target) * 1000;
    if (!arm(w, index, EPOLLOUT, EPOLL_CTL_ADD, deadline)) {
        error = errno ? errno : ENOMEM;
        struct pending_probe again = slot->probe;
        close(fd);
        slot_release(w, index);
        local_failure(w, &again, error, scan_now_ns());
    }
}

/* ---- events and deadlines ---- */

static void banner_read(struct connect_worker *w, uint32_t index)
{
    struct probe_slot *slot = &w->slots[index];
    bool done = false;
    for (;;) {
        size_t room = SCAN_BANNER_MAX - slot->banner_len;
        if (room == 0) {
            done = true;
            break;
        }
        ssize_t n = recv(slot->fd, slot->banner + slot->banner_len, room, 0);
        if (n > 0) {
            slot->banner_len = (uint16_t)(slot->banner_len + n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        done = true;                     /* end of stream or reset: keep what came */
        break;
    }
    /* A line-based greeting (SSH, SMTP, FTP...) is complete at its newline; otherwise wait
     * for more until the banner deadline. */
    if (slot->banner_len > 0 && slot->banner[slot->banner_len - 1] == '\n')
        done = true;
    if (!done)
        return;
    emit(w, &slot->probe, SCAN_STATE_OPEN, SCAN_REASON_CONNECTED, slot->rtt_us, 0, slot->banner,
         slot->banner_len);
    close_with_reset(slot->fd);
    slot_release(w, index);
}

static void handle_event(struct connect_worker *w, const struct epoll_event *ev, uint64_t now)
{
    uint32_t index = (uint32_t)ev->data.u64;
    uint32_t generation = (uint32_t)(ev->data.u64 >> 32);
    if (index >= w->slot_count)
        return;
    struct probe_slot *slot = &w->slots[index];
    if (slot->generation != generation || slot->phase == SLOT_FREE)
        return;
    if (slot->phase == SLOT_BANNER) {
        banner_read(w, index);
        return;
    }
    struct sockaddr_storage address;
    socklen_t address_len = scan_address_to_sockaddr(&slot->probe.target, slot->probe.port,
                                                     &address);
    if (connect(slot->fd, (struct sockaddr *)&address, address_len) == 0) {
        connected(w, index, now, true);
        return;
    }
    int error = errno;
    if (error == EALREADY || error == EINPROGRESS)
        return;                          /* spurious wake-up: still connecting */
    /* Closing removes it from epoll; a socket still registered is not pooled. */
    connect_failed(w, index, error, now, false);
}

static void expire(struct connect_worker *w, uint64_t now)
{
    while (w->deadlines.count > 0 && w->deadlines.items[0].at_ns <= now) {
        struct deadline d = w->deadlines.items[0];
        deadline_pop(&w->deadlines);
        struct probe_slot *slot = &w->slots[d.slot];
        if (slot->generation != d.generation || slot->phase == SLOT_FREE)
            continue;
        if (slot->phase == SLOT_BANNER) {
            emit(w, &slot->probe, SCAN_STATE_OPEN, SCAN_REASON_CONNECTED, slot->rtt_us, 0,
                 slot->banner, slot->banner_len);
            close_with_reset(slot->fd);
            slot_release(w, d.slot);
            continue;
        }
        struct pending_probe probe = slot->probe;
        close(slot->fd);
        slot_release(w, d.slot);
        if (probe.attempt < w->shared->retries) {
            probe.attempt++;
            if (w->shared->sink->progress)
                atomic_fetch_add(&w->shared->sink->progress->retries, 1);
            if (queue_push_back(&w->queue, &probe))
                continue;
        }
        emit(w, &probe, SCAN_STATE_FILTERED, SCAN_REASON_TIMEOUT, 0, 0, NULL, 0);
    }
}

/* ---- the loop ---- */

/* The next probe to send, without taking it: retries first, then this thread's chunk of the
 * shared order, refilled from the atomic counter. */
static bool have_probe(struct connect_worker *w)
{
    if (w->queue.count > 0)
        return true;
    if (w->chunk_next < w->chunk_end)
        return true;
    if (w->exhausted)
        return false;
    const struct scan_job *job = w->shared->job;
    uint64_t start = atomic_fetch_add(&w->shared->next_k, w->shared->chunk);
    if (start >= job->probe_count) {
        w->exhausted = true;
        return false;
    }
    w->chunk_next = start;
    w->chunk_end = start + w->shared->chunk < job->probe_count ? start + w->shared->chunk
                                                               : job->probe_count;
    return true;
}

static struct pending_probe next_probe(struct connect_worker *w)
{
    if (w->queue.count > 0)
        return queue_pop_front(&w->queue);
    struct pending_probe probe = { 0 };
    scan_job_probe(w->shared->job, w->chunk_next++, &probe.target, &probe.port);
    return probe;
}

static void launch_some(struct connect_worker *w)
{
    uint64_t now = scan_now_ns();
    if (now < w->launch_after_ns)
        return;
    for (uint32_t n = 0; n < LAUNCH_BATCH; n++) {
        /* The pool's sockets are budgeted apart (see connect_run), so slots are the limit. */
        if (w->inflight >= w->cap || w->free_count == 0 || !have_probe(w))
            break;
        if (scan_rate_take(&w->rate, 1, now) == 0)
            break;
        struct pending_probe probe = next_probe(w);
        launch(w, &probe);
        if (w->launch_after_ns > now)
            break;
        if (w->rate.rate > 0)
            now = scan_now_ns();
    }
}

/* How long to sleep in epoll: until the next deadline, the next rate token or the end of a
 * backoff, whichever is first; 0 when more can be sent right now. */
static int64_t wait_ns(struct connect_worker *w, uint64_t now)
{
    int64_t wait = -1;
    if (w->deadlines.count > 0)
        wait = w->deadlines.items[0].at_ns > now ? (int64_t)(w->deadlines.items[0].at_ns - now)
                                                 : 0;
    bool can_send = w->free_count > 0 && w->inflight < w->cap && have_probe(w);
    if (can_send) {
        int64_t send_wait = 0;
        if (now < w->launch_after_ns)
            send_wait = (int64_t)(w->launch_after_ns - now);
        uint64_t token = scan_rate_wait_ns(&w->rate, now);
        if ((int64_t)token > send_wait)
            send_wait = (int64_t)token;
        if (wait < 0 || send_wait < wait)
            wait = send_wait;
    }
    return wait;
}

static bool worker_done(struct connect_worker *w)
{
    return w->inflight == 0 && !have_probe(w);
}

/* The loop cannot go on (epoll failed): every probe this thread holds still gets its one
 * result, as a local error; the other threads take the rest of the order. */
static void worker_abandon(struct connect_worker *w)
{
    int error = -w->fatal;
    for (uint32_t i = 0; i < w->slot_count; i++) {
        struct probe_slot *slot = &w->slots[i];
        if (slot->phase == SLOT_FREE)
            continue;
        emit(w, &slot->probe, SCAN_STATE_ERROR, SCAN_REASON_LOCAL_ERROR, 0, error, NULL, 0);
        close_with_reset(slot->fd);
        slot_release(w, i);
    }
    while (w->queue.count > 0 || w->chunk_next < w->chunk_end) {
        struct pending_probe probe = next_probe(w);
        emit(w, &probe, SCAN_STATE_ERROR, SCAN_REASON_LOCAL_ERROR, 0, error, NULL, 0);
    }
}

static void worker_loop(struct connect_worker *w)
{
    struct epoll_event events[EVENT_BATCH];
    for (;;) {
        launch_some(w);
        if (worker_done(w))
            break;
        uint64_t now = scan_now_ns();
        int64_t wait = wait_ns(w, now);
        int n;
        if (w->inflight == 0 && wait > 0) {
            /* Nothing registered: a plain sleep (rate limit or backoff). */
            struct timespec ts = { .tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000 };
            nanosleep(&ts, NULL);
            n = 0;
        } else if (w->inflight == 0) {
            n = 0;
        } else {
            struct timespec ts = { .tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000 };
            n = epoll_pwait2(w->epfd, events, EVENT_BATCH, wait < 0 ? NULL : &ts, NULL);
            if (n < 0 && errno != EINTR) {
                w->fatal = -errno;
                worker_abandon(w);
                break;
            }
        }
        now = scan_now_ns();
        for (int i = 0; i < n; i++)
            handle_event(w, &events[i], now);
        expire(w, now);
    }
}

static void worker_cleanup(struct connect_worker *w)
{
    for (int f = 0; f < 2; f++)
        for (unsigned i = 0; i < w->pooled[f]; i++)
            close(w->pool[f][i]);
    if (w->slots)
        for (uint32_t i = 0; i < w->slot_count; i++)
            if (w->slots[i].phase != SLOT_FREE)
                close(w->slots[i].fd);
    if (w->epfd >= 0)
        close(w->epfd);
    free(w->slots);
    free(w->free_slots);
    free(w->queue.items);
    free(w->deadlines.items);
    free(w->rtt);
}

static int worker_init(struct connect_worker *w, struct connect_shared *shared, uint32_t cap)
{
    memset(w, 0, sizeof *w);
    w->shared = shared;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        return -errno;
    w->slot_count = cap;
    w->cap = w->cap_max = cap;
    w->slots = calloc(cap, sizeof *w->slots);
    w->free_slots = calloc(cap, sizeof *w->free_slots);
    w->rtt = malloc(sizeof *w->rtt);
    if (!w->slots || !w->free_slots || !w->rtt)
        return -ENOMEM;
    for (uint32_t i = 0; i < cap; i++) {
        w->slots[i].fd = -1;
        w->free_slots[i] = cap - 1 - i;
    }
    w->free_count = cap;
    uint32_t min_timeout, initial_timeout, max_timeout;
    scan_job_rtt_bounds(shared->job, DEFAULT_TIMEOUT_MS, MIN_TIMEOUT_US, &min_timeout, &initial_timeout,
                        &max_timeout);
    scan_rtt_init(w->rtt, min_timeout, initial_timeout, max_timeout);
    scan_rate_init(&w->rate, shared->rate_per_thread, scan_now_ns());
    return 0;
}

static void *worker_main(void *arg)
{
    worker_loop(arg);
    return NULL;
}

/* ---- sizing ---- */

/* Raise the soft file limit to the hard one and return how many sockets may be open at once,
 * leaving room for the rest of the process (listeners, log files, the CLI's output). */
static uint32_t fd_budget(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
        return 256;
    if (limit.rlim_cur < limit.rlim_max) {
        rlim_t wanted = limit.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : limit.rlim_max;
        struct rlimit raised = { .rlim_cur = wanted, .rlim_max = limit.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit.rlim_cur = wanted;
    }
    rlim_t soft = limit.rlim_cur == RLIM_INFINITY ? (rlim_t)1 << 20 : limit.rlim_cur;
    rlim_t reserve = soft / 8 < 32 ? 32 : soft / 8;
    if (reserve > 1024)
        reserve = 1024;
    if (soft <= reserve + 8)
        return 8;
    rlim_t budget = soft - reserve;
    return budget > UINT32_MAX ? UINT32_MAX : (uint32_t)budget;
}

/* Connections to one destination need distinct source ports: stay well inside the range. */
static uint32_t ephemeral_budget(struct connect_shared *shared)
{
    struct local_ports ports;
    if (local_ports_read(NULL, &ports, NULL) < 0 || !ports.have_ephemeral)
        return DEFAULT_MAX_INFLIGHT;
    shared->ephemeral = ports.ephemeral;
    shared->have_ephemeral = true;
    uint32_t size = (uint32_t)ports.ephemeral.last - ports.ephemeral.first + 1;
    return size / 2 > 1 ? size / 2 : 1;
}

static void shared_cleanup(struct connect_shared *shared)
{
    socket_list_free(&shared->listeners);
    pthread_mutex_destroy(&shared->listeners_lock);
}

static int connect_usable(struct pr_error *err)
{
    (void)err;
    return 0;
}

static int connect_run(const struct scan_job *job, struct scan_sink *sink, struct pr_error *err)
{
    if (job->probe_count == 0)
        return 0;
    if (sink->progress)
        atomic_store(&sink->progress->total, job->probe_count);

    uint32_t threads = job->threads ? job->threads : scan_cpu_count();
    if (threads > job->probe_count)
        threads = (uint32_t)job->probe_count;

    struct connect_shared shared = {
        .job = job,
        .sink = sink,
        .retries = SCAN_JOB_RETRIES(job),
        .timeout_us = (job->timeout_ms ? job->timeout_ms : DEFAULT_TIMEOUT_MS) * 1000u,
    };
    pthread_mutex_init(&shared.listeners_lock, NULL);
    /* In flight at once: the job's limit, else a default kept inside the ephemeral range. */
    uint32_t inflight = DEFAULT_MAX_INFLIGHT;
    uint32_t ephemeral = ephemeral_budget(&shared);
    if (ephemeral < inflight)
        inflight = ephemeral;
    if (job->max_inflight)
        inflight = job->max_inflight;
    if (threads > inflight)
        threads = inflight;
    /* Descriptors: each thread holds its sockets in flight, an epoll descriptor and a small
     * pool of reusable sockets; fewer threads when the limit is too low for that. */
    uint32_t fds = fd_budget();
    uint32_t overhead = 1 + 2 * POOL_MAX;
    if (fds / threads < overhead + 1)
        threads = fds / (overhead + 1) ? fds / (overhead + 1) : 1;
    uint32_t per_thread = inflight / threads;
    uint32_t fd_room = fds / threads > overhead ? fds / threads - overhead : 1;
    if (per_thread > fd_room)
        per_thread = fd_room;
    if (per_thread == 0)
        per_thread = 1;

    shared.rate_per_thread = job->rate_pps > 0 ? job->rate_pps / threads : 0;
    if (job->banners)
        shared.banner_timeout_us =
            (job->banner_timeout_ms ? job->banner_timeout_ms : DEFAULT_BANNER_TIMEOUT_MS) * 1000u;
    /* Chunks small enough that threads finish together, large enough to keep the shared
     * counter off the hot path. */
    uint64_t chunk = job->probe_count / ((uint64_t)threads * 64);
    shared.chunk = chunk < 1 ? 1 : chunk > 256 ? 256 : chunk;
    atomic_init(&shared.next_k, 0);

    struct connect_worker *workers = calloc(threads, sizeof *workers);
    pthread_t *tids = calloc(threads, sizeof *tids);
    if (!workers || !tids) {
        free(workers);
        free(tids);
        shared_cleanup(&shared);
        return pr_error_set(err, -ENOMEM, "connect scan: out of memory");
    }
    int rc = 0;
    uint32_t ready = 0;
    for (; ready < threads; ready++) {
        rc = worker_init(&workers[ready], &shared, per_thread);
        if (rc < 0) {
            worker_cleanup(&workers[ready]);
            break;
        }
    }
    if (ready == 0) {
        free(workers);
        free(tids);
        shared_cleanup(&shared);
        return pr_error_set(err, rc, "connect scan: cannot set up the event loop: %s",
                            strerror(-rc));
    }
    /* Worker 0 runs here; a thread that cannot start only means fewer threads. */
    uint32_t started = 1;
    for (uint32_t i = 1; i < ready; i++) {
        if (pthread_create(&tids[started], NULL, worker_main, &workers[i]) != 0)
            break;
        started++;
    }
    worker_loop(&workers[0]);
    for (uint32_t i = 1; i < started; i++)
        pthread_join(tids[i], NULL);
    /* Workers that never started leave their chunks unclaimed; worker 0 took them all since
     * it ran until the counter was exhausted. A worker whose loop broke left probes. */
    rc = 0;
    for (uint32_t i = 0; i < ready; i++) {
        if (workers[i].fatal < 0 && rc == 0)
            rc = pr_error_set(err, workers[i].fatal, "connect scan: epoll_wait: %s",
                              strerror(-workers[i].fatal));
        worker_cleanup(&workers[i]);
    }
    free(workers);
    free(tids);
    shared_cleanup(&shared);
    return rc;
}

const struct scan_engine scan_engine_connect = {
    .name = "connect",
    .proto = REGISTRY_PROTO_TCP,
    .summary = "TCP connect() scan: works without privileges, on every host",
    .usable = connect_usable,
    .run = connect_run,
};
