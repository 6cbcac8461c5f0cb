/* test_engine_connect.c — the connect engine (src/lib/scan/engine_connect.c) against real
 * loopback sockets. Ground truth is what the test itself holds: listeners are open, ports it
 * holds bound without listening are closed; inside a private network namespace (root) nothing
 * else listens, so a whole range, and once all of 1-65535, must come back exactly, one result
 * per probe, over repeated runs. Also: a listener with a full accept queue, RLIMIT_NOFILE 256
 * with dropped ports (nftables) and almost no free descriptors (EMFILE, counted by wrapping
 * socket(), is retried, never reported), self-connects and simultaneous opens between our own
 * probes inside a narrowed ephemeral range, banners, --rate and an unroutable network. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "registry/record.h"
#include "scan/engine.h"
#include "scan/timing.h"

/* ---- results ---- */

struct collector {
    uint32_t count[2][65536];          /* results per family (0 = IPv4, 1 = IPv6) and port */
    uint8_t state[2][65536];
    uint8_t reason[2][65536];
    uint64_t total;
    uint64_t by_state[SCAN_STATE_COUNT];
    uint64_t self_connects;
    uint64_t bad_proto;
    int last_error;
    uint16_t banner_port;
    uint16_t banner_len;
    char banner[SCAN_BANNER_MAX];
};

static void collect(void *ctx, const struct scan_result *r)
{
    struct collector *c = ctx;
    int f = r->target.family == AF_INET6 ? 1 : 0;
    c->count[f][r->port]++;
    c->state[f][r->port] = r->state;
    c->reason[f][r->port] = r->reason;
    c->total++;
    if (r->state < SCAN_STATE_COUNT)
        c->by_state[r->state]++;
    if (r->reason == SCAN_REASON_SELF_CONNECT)
        c->self_connects++;
    if (r->proto != REGISTRY_PROTO_TCP)
        c->bad_proto++;
    if (r->state == SCAN_STATE_ERROR)
        c->last_error = r->error;
    if (r->state == SCAN_STATE_OPEN && r->banner_len > 0) {
        c->banner_port = r->port;
        c->banner_len = r->banner_len;
        memcpy(c->banner, r->banner, r->banner_len);
    }
}

static struct collector *collector_new(void)
{
    struct collector *c = calloc(1, sizeof *c);
    assert_non_null(c);
    return c;
}

/* ---- scanning ---- */

struct scan_options {
    const char *targets[2];
    double rate_pps;
    uint32_t timeout_ms, retries, threads, max_inflight;
    bool banners;
    uint32_t banner_timeout_ms;
    uint64_t seed;
};

struct scan_outcome {
    int rc;
    uint64_t probe_count;
    struct scan_progress progress;
    double seconds;
};

/* Scan ports of the targets with the real target set and scan_job_prepare(). */
static struct scan_outcome scan(const struct scan_options *o, const uint16_t *ports,
                                size_t port_count, struct collector *c)
{
    struct scan_outcome out;
    memset(&out, 0, sizeof out);
    struct pr_error err;
    pr_error_clear(&err);
    struct target_set targets;
    target_set_init(&targets);
    for (int i = 0; i < 2 && o->targets[i]; i++)
        assert_int_equal(target_set_add(&targets, o->targets[i], &err), 0);
    assert_int_equal(target_set_finish(&targets, &err), 0);

    struct scan_job job = {
        .targets = &targets,
        .ports = ports,
        .port_count = port_count,
        .seed = o->seed,
        .shard_count = 1,
        .rate_pps = o->rate_pps,
        .max_inflight = o->max_inflight,
        .timeout_ms = o->timeout_ms,
        .retries = o->retries,
        .threads = o->threads,
        .banners = o->banners,
        .banner_timeout_ms = o->banner_timeout_ms,
    };
    assert_int_equal(scan_job_prepare(&job, &err), 0);
    out.probe_count = job.probe_count;

    struct scan_sink sink;
    scan_sink_init(&sink, collect, c, &out.progress);
    assert_int_equal(scan_engine_connect.usable(&err), 0);
    uint64_t start = scan_now_ns();
    out.rc = scan_engine_connect.run(&job, &sink, &err);
    out.seconds = (double)(scan_now_ns() - start) / 1e9;
    scan_sink_destroy(&sink);
    target_set_free(&targets);
    return out;
}

static uint16_t *port_range(uint16_t first, uint16_t last, size_t *count)
{
    *count = (size_t)last - first + 1;
    uint16_t *ports = malloc(*count * sizeof *ports);
    assert_non_null(ports);
    for (size_t i = 0; i < *count; i++)
        ports[i] = (uint16_t)(first + i);
    return ports;
}

/* ---- sockets the test holds ---- */

static int bound_socket(int family, bool listening, int backlog, uint16_t *port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof *in6;
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    if (listening)
        assert_int_equal(listen(fd, backlog), 0);
    len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static bool running_as_root(void) { return geteuid() == 0; }

/* ---- a private network namespace for this thread ---- */

static void bring_loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags |= IFF_UP;
    assert_int_equal(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
    close(fd);
}

/* The namespace to return to; the teardown returns there even after a failed assertion. */
static int saved_netns = -1;

/* Move this thread (and the engine threads it starts) into a new, empty network namespace
 * with lo up, or skip when that is not possible. */
static void enter_private_netns(void)
{
    if (!running_as_root()) {
        print_message("skipped: needs root for a private network namespace\n");
        skip();
    }
    int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(saved >= 0);
    if (unshare(CLONE_NEWNET) < 0) {
        print_message("skipped: unshare(CLONE_NEWNET): %s\n", strerror(errno));
        close(saved);
        skip();
    }
    saved_netns = saved;
    bring_loopback_up();
}

static int leave_private_netns(void **state)
{
    (void)state;
    if (saved_netns < 0)
        return 0;
    int rc = setns(saved_netns, CLONE_NEWNET);
    close(saved_netns);
    saved_netns = -1;
    return rc;
}

static void write_sysctl(const char *path, const char *value)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, value, strlen(value)), (ssize_t)strlen(value));
    close(fd);
}

/* ---- tests ---- */

/* Host namespace, no root needed: our listeners are open, ports we hold bound without
 * listening are closed (nobody else can take them meanwhile), on IPv4 and IPv6. */
static void held_ports_come_back_exactly(void **state)
{
    (void)state;
    enum { N = 8 };
    int fds[4][N];
    uint16_t ports[4 * N];
    size_t port_count = 0;
    for (int kind = 0; kind < 4; kind++)        /* v4 open, v4 closed, v6 open, v6 closed */
        for (int i = 0; i < N; i++)
            fds[kind][i] = bound_socket(kind < 2 ? AF_INET : AF_INET6, kind % 2 == 0, 128,
                                        &ports[port_count++]);
    struct collector *c = collector_new();
    struct scan_options o = { .targets = { "127.0.0.1", "::1" }, .seed = 7 };
    struct scan_outcome out = scan(&o, ports, port_count, c);
    assert_int_equal(out.rc, 0);
    assert_int_equal(out.probe_count, 2 * port_count);
    assert_int_equal(c->total, out.probe_count);
    assert_int_equal(atomic_load(&out.progress.done), out.probe_count);
    assert_int_equal(atomic_load(&out.progress.sent), out.probe_count);
    for (int kind = 0; kind < 4; kind++) {
        int family = kind < 2 ? 0 : 1;
        for (int i = 0; i < N; i++) {
            uint16_t port = ports[kind * N + i];
            assert_int_equal(c->count[family][port], 1);
            if (kind % 2 == 0) {
                assert_int_equal(c->state[family][port], SCAN_STATE_OPEN);
                assert_int_equal(c->reason[family][port], SCAN_REASON_CONNECTED);
            } else {
                assert_int_equal(c->state[family][port], SCAN_STATE_CLOSED);
                assert_int_equal(c->reason[family][port], SCAN_REASON_CONN_REFUSED);
            }
            close(fds[kind][i]);
        }
    }
    assert_int_equal(c->by_state[SCAN_STATE_ERROR], 0);
    assert_int_equal(c->bad_proto, 0);
    free(c);
}

/* Every port of a range covering random listeners on 127.0.0.1 and ::1: exactly the listeners
 * are open, everything else closed, one result per probe; three runs with three seeds. */
static void range_ground_truth_in_private_netns(void **state)
{
    (void)state;
    enter_private_netns();
    enum { N = 40 };
    int fds[2][N];
    uint16_t listen_port[2][N];
    uint16_t lo = 65535, hi = 0;
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < N; i++) {
            fds[f][i] = bound_socket(f ? AF_INET6 : AF_INET, true, 128, &listen_port[f][i]);
            lo = listen_port[f][i] < lo ? listen_port[f][i] : lo;
            hi = listen_port[f][i] > hi ? listen_port[f][i] : hi;
        }
    lo = lo > 200 ? (uint16_t)(lo - 200) : 1;
    hi = hi < 65535 - 200 ? (uint16_t)(hi + 200) : 65535;
    size_t port_count;
    uint16_t *ports = port_range(lo, hi, &port_count);
    for (int run = 0; run < 3; run++) {
        struct collector *c = collector_new();
        struct scan_options o = { .targets = { "127.0.0.1", "::1" }, .seed = 100u + (unsigned)run };
        struct scan_outcome out = scan(&o, ports, port_count, c);
        assert_int_equal(out.rc, 0);
        assert_int_equal(c->total, 2 * port_count);
        assert_int_equal(atomic_load(&out.progress.done), 2 * port_count);
        assert_int_equal(c->by_state[SCAN_STATE_OPEN], 2 * N);
        assert_int_equal(c->by_state[SCAN_STATE_CLOSED], 2 * port_count - 2 * N);
        for (int f = 0; f < 2; f++) {
            for (size_t p = 0; p < port_count; p++)
                assert_int_equal(c->count[f][ports[p]], 1);
            for (int i = 0; i < N; i++)
                assert_int_equal(c->state[f][listen_port[f][i]], SCAN_STATE_OPEN);
        }
        print_message("# run %d: %zu ports x 2 addresses in %.3f s (%llu self-connects)\n", run,
                      port_count, out.seconds, (unsigned long long)c->self_connects);
        free(c);
    }
    free(ports);
    for (int f = 0; f < 2; f++)
        for (int i = 0; i < N; i++)
            close(fds[f][i]);
}

/* All of 1-65535 on 127.0.0.1 with 100 listeners: the timing the scanner promises. */
static void full_range_in_private_netns(void **state)
{
    (void)state;
    enter_private_netns();
    enum { N = 100 };
    int fds[N];
    uint16_t listen_port[N];
    for (int i = 0; i < N; i++)
        fds[i] = bound_socket(AF_INET, true, 128, &listen_port[i]);
    size_t port_count;
    uint16_t *ports = port_range(1, 65535, &port_count);
    struct collector *c = collector_new();
    struct scan_options o = { .targets = { "127.0.0.1" }, .seed = 42 };
    struct scan_outcome out = scan(&o, ports, port_count, c);
    assert_int_equal(out.rc, 0);
    assert_int_equal(c->total, 65535);
    assert_int_equal(c->by_state[SCAN_STATE_OPEN], N);
    assert_int_equal(c->by_state[SCAN_STATE_CLOSED], 65535 - N);
    for (uint32_t p = 1; p <= 65535; p++)
        assert_int_equal(c->count[0][p], 1);
    for (int i = 0; i < N; i++)
        assert_int_equal(c->state[0][listen_port[i]], SCAN_STATE_OPEN);
    print_message("# full range 1-65535 of 127.0.0.1, %d listeners: %.3f s, %u threads, "
                  "%llu self-connects\n", N, out.seconds, scan_cpu_count(),
                  (unsigned long long)c->self_connects);
    free(c);
    free(ports);
    for (int i = 0; i < N; i++)
        close(fds[i]);
}

/* A listener that never accepts, its queue filled first: SYNs are dropped, so the engine
 * sees silence. The lead corrects this from socket data (accept-queue-full). */
static void full_accept_queue_is_silence(void **state)
{
    (void)state;
    uint16_t port;
    int listener = bound_socket(AF_INET, true, 0, &port);
    int fillers[3];
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 3; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int rc = connect(fillers[i], (struct sockaddr *)&to, sizeof to);
        assert_true(rc == 0 || errno == EINPROGRESS);
    }
    struct collector *c = collector_new();
    struct scan_options o = { .targets = { "127.0.0.1" }, .timeout_ms = 300, .seed = 1 };
    struct scan_outcome out = scan(&o, &port, 1, c);
    assert_int_equal(out.rc, 0);
    assert_int_equal(c->total, 1);
    print_message("# full accept queue: %s (%s) after %.3f s\n",
                  scan_state_name(c->state[0][port]), scan_reason_name(c->reason[0][port]),
                  out.seconds);
    assert_int_equal(c->state[0][port], SCAN_STATE_FILTERED);
    assert_int_equal(c->reason[0][port], SCAN_REASON_TIMEOUT);
    /* One timeout (100 ms floor .. 300 ms cap) and one retry. */
    assert_int_equal(atomic_load(&out.progress.retries), 1);
    assert_true(out.seconds >= 0.19 && out.seconds < 1.0);
    for (int i = 0; i < 3; i++)
        close(fillers[i]);
    close(listener);
    free(c);
}

/* ---- under RLIMIT_NOFILE 256, in a child ---- */

/* socket() wrapped to count EMFILE: proves the engine met the limit (and still reported no
 * error and nothing wrong). */
static _Atomic unsigned long socket_emfile;

int socket(int domain, int type, int protocol)
{
    typedef int (*socket_function)(int, int, int);
    socket_function real_socket;
    void *symbol = dlsym(RTLD_NEXT, "socket");
    memcpy(&real_socket, &symbol, sizeof real_socket);
    int fd = real_socket(domain, type, protocol);
    if (fd < 0 && errno == EMFILE)
        atomic_fetch_add(&socket_emfile, 1);
    return fd;
}

struct lowfd_part {
    uint64_t total, probe_count, open, closed, filtered, errors;
    uint64_t wrong, duplicates;
    unsigned long emfile;
    double seconds;
};

struct lowfd_summary {
    int setup_error;                   /* nonzero: the child could not set up (errno) */
    bool dropped;                      /* the nftables drop rule is in place */
    struct lowfd_part full, crowded;
};

enum { LOWFD_LISTENERS = 20, DROP_FIRST = 5000, DROP_LAST = 5059 };

static int nft_drop(uint16_t first, uint16_t last)
{
    const char *command = access("/usr/sbin/nft", X_OK) == 0 ? "/usr/sbin/nft -f - 2>/dev/null"
                                                              : "nft -f - 2>/dev/null";
    FILE *nft = popen(command, "w");
    if (!nft)
        return -1;
    fprintf(nft, "table inet scantest {\n chain input {\n  type filter hook input priority 0;\n"
                 "  tcp dport %u-%u drop\n }\n}\n", first, last);
    return pclose(nft) == 0 ? 0 : -1;
}

static void lowfd_scan(const uint16_t *ports, size_t port_count, const bool *is_listener,
                       bool dropped, struct lowfd_part *part)
{
    struct collector *c = collector_new();
    struct scan_options o = { .targets = { "127.0.0.1" }, .timeout_ms = 100, .seed = 3 };
    atomic_store(&socket_emfile, 0);
    struct scan_outcome out = scan(&o, ports, port_count, c);
    part->emfile = atomic_load(&socket_emfile);
    part->total = c->total;
    part->probe_count = out.probe_count;
    part->open = c->by_state[SCAN_STATE_OPEN];
    part->closed = c->by_state[SCAN_STATE_CLOSED];
    part->filtered = c->by_state[SCAN_STATE_FILTERED];
    part->errors = c->by_state[SCAN_STATE_ERROR];
    part->seconds = out.seconds;
    for (size_t i = 0; i < port_count; i++) {
        uint16_t p = ports[i];
        if (c->count[0][p] != 1)
            part->duplicates++;
        uint8_t expected = is_listener[p] ? SCAN_STATE_OPEN
                         : dropped && p >= DROP_FIRST && p <= DROP_LAST ? SCAN_STATE_FILTERED
                                                                         : SCAN_STATE_CLOSED;
        if (c->state[0][p] != expected)
            part->wrong++;
    }
    free(c);
}

static void lowfd_child(int out_fd)
{
    struct lowfd_summary s;
    memset(&s, 0, sizeof s);
    if (unshare(CLONE_NEWNET) < 0) {
        s.setup_error = errno;
        goto done;
    }
    bring_loopback_up();
    /* Dropped SYNs wait for their timeout, so sockets pile up in flight. */
    s.dropped = nft_drop(DROP_FIRST, DROP_LAST) == 0;
    struct rlimit limit = { .rlim_cur = 256, .rlim_max = 256 };
    if (setrlimit(RLIMIT_NOFILE, &limit) < 0) {
        s.setup_error = errno;
        goto done;
    }
    int listeners[LOWFD_LISTENERS];
    static bool is_listener[65536];
    uint16_t listen_port[LOWFD_LISTENERS];
    for (int i = 0; i < LOWFD_LISTENERS; i++) {
        listeners[i] = bound_socket(AF_INET, true, 128, &listen_port[i]);
        is_listener[listen_port[i]] = true;
    }
    /* 1. Every port under the low limit. */
    size_t port_count;
    uint16_t *ports = port_range(1, 65535, &port_count);
    lowfd_scan(ports, port_count, is_listener, s.dropped, &s.full);
    free(ports);
    /* 2. Only 16 descriptors left free, far below the budget the engine derives from the
     * limit, and 60 of 200 ports dropped: it must meet EMFILE, back off and retry. */
    int held[256];
    int held_count = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        held[held_count++] = fd;
        if (fd >= 256 - 16 - 1)
            break;
    }
    uint16_t crowded[200 + LOWFD_LISTENERS];
    for (int i = 0; i < 200; i++)
        crowded[i] = (uint16_t)(DROP_FIRST + i);
    for (int i = 0; i < LOWFD_LISTENERS; i++)
        crowded[200 + i] = listen_port[i];
    lowfd_scan(crowded, 200 + LOWFD_LISTENERS, is_listener, s.dropped, &s.crowded);
    for (int i = 0; i < held_count; i++)
        close(held[i]);
    for (int i = 0; i < LOWFD_LISTENERS; i++)
        close(listeners[i]);
done:
    if (write(out_fd, &s, sizeof s) != (ssize_t)sizeof s)
        _exit(2);
    _exit(0);
}

static void print_part(const char *what, const struct lowfd_part *p)
{
    print_message("# %s: %llu open, %llu closed, %llu filtered, %llu errors, %llu wrong, "
                  "%lu EMFILE from socket(), %.3f s\n", what, (unsigned long long)p->open,
                  (unsigned long long)p->closed, (unsigned long long)p->filtered,
                  (unsigned long long)p->errors, (unsigned long long)p->wrong, p->emfile,
                  p->seconds);
}

static void low_fd_limit_gives_correct_results(void **state)
{
    (void)state;
    if (!running_as_root()) {
        print_message("skipped: needs root for a private network namespace\n");
        skip();
    }
    int pipe_fds[2];
    assert_int_equal(pipe2(pipe_fds, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipe_fds[0]);
        lowfd_child(pipe_fds[1]);
    }
    close(pipe_fds[1]);
    struct lowfd_summary s;
    ssize_t n = read(pipe_fds[0], &s, sizeof s);
    close(pipe_fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(n, (ssize_t)sizeof s);
    if (s.setup_error) {
        print_message("skipped: child setup: %s\n", strerror(s.setup_error));
        skip();
    }
    if (!s.dropped)
        print_message("# nft unavailable: no dropped ports\n");
    print_part("RLIMIT_NOFILE 256, 1-65535", &s.full);
    print_part("RLIMIT_NOFILE 256, 16 fds free, 60 of 220 dropped", &s.crowded);
    assert_int_equal(s.full.probe_count, 65535);
    assert_int_equal(s.full.total, 65535);
    assert_int_equal(s.full.open, LOWFD_LISTENERS);
    assert_int_equal(s.crowded.total, 220);
    assert_int_equal(s.crowded.open, LOWFD_LISTENERS);
    for (int i = 0; i < 2; i++) {
        const struct lowfd_part *p = i ? &s.crowded : &s.full;
        assert_int_equal(p->duplicates, 0);
        assert_int_equal(p->errors, 0);
        assert_int_equal(p->wrong, 0);
        if (s.dropped)
            assert_int_equal(p->filtered, DROP_LAST - DROP_FIRST + 1);
    }
    if (s.dropped)
        assert_true(s.crowded.emfile > 0);    /* the limit was really met */
}

/* A connect to 127.0.0.1:P whose source port the kernel picked as P connects to itself, and
 * two probes whose ports mirror each other can meet in a simultaneous open. With the
 * ephemeral range narrowed to ten ports and those ten scanned 300 times, both happen often;
 * neither may be reported open, while a real listener on one of the ten stays open. Once on
 * 127.0.0.1 and once on 10.99.0.1 added to lo (a local address that is not loopback). */
static void self_connect_is_never_open(void **state)
{
    (void)state;
    enter_private_netns();
    write_sysctl("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009");
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(40005) };
    assert_int_equal(bind(listener, (struct sockaddr *)&any, sizeof any), 0);
    assert_int_equal(listen(listener, 4096), 0);
    bool have_second = system("/usr/sbin/ip addr add 10.99.0.1/32 dev lo 2>/dev/null") == 0;
    enum { REPEAT = 300 };
    uint16_t ports[10 * REPEAT];
    for (int i = 0; i < 10 * REPEAT; i++)
        ports[i] = (uint16_t)(40000 + i % 10);
    const char *targets[2] = { "127.0.0.1", "10.99.0.1" };
    for (int t = 0; t < (have_second ? 2 : 1); t++) {
        struct collector *c = collector_new();
        struct scan_options o = { .targets = { targets[t] }, .seed = 9 };
        struct scan_outcome out = scan(&o, ports, 10 * REPEAT, c);
        assert_int_equal(out.rc, 0);
        assert_int_equal(c->total, 10 * REPEAT);
        for (int p = 40000; p < 40010; p++)
            assert_int_equal(c->count[0][p], REPEAT);
        print_message("# %s: %d probes inside a 10-port ephemeral range: %llu self-connects, "
                      "%llu closed, %llu open, %llu errors\n", targets[t], 10 * REPEAT,
                      (unsigned long long)c->self_connects,
                      (unsigned long long)c->by_state[SCAN_STATE_CLOSED],
                      (unsigned long long)c->by_state[SCAN_STATE_OPEN],
                      (unsigned long long)c->by_state[SCAN_STATE_ERROR]);
        assert_int_equal(c->by_state[SCAN_STATE_OPEN], REPEAT);    /* only the listener */
        assert_int_equal(c->state[0][40005], SCAN_STATE_OPEN);
        assert_int_equal(c->by_state[SCAN_STATE_ERROR], 0);
        assert_int_equal(c->by_state[SCAN_STATE_CLOSED], 9 * REPEAT);
        assert_true(c->self_connects > 0);     /* the case really happened */
        free(c);
    }
    if (!have_second)
        print_message("# ip addr add failed: 10.99.0.1 not scanned\n");
    close(listener);
}

/* ---- banners ---- */

struct banner_server {
    int listener;
    int stop[2];
    const char *greeting;              /* NULL: accept and say nothing */
    int accepted[16];
    int accepted_count;
};

static void *banner_serve(void *arg)
{
    struct banner_server *s = arg;
    struct pollfd pfd[2] = { { .fd = s->listener, .events = POLLIN },
                             { .fd = s->stop[0], .events = POLLIN } };
    while (poll(pfd, 2, -1) > 0 && !(pfd[1].revents & POLLIN)) {
        int fd = accept4(s->listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        if (s->greeting && write(fd, s->greeting, strlen(s->greeting)) < 0) {
            close(fd);
            continue;
        }
        if (s->accepted_count < 16)
            s->accepted[s->accepted_count++] = fd;   /* kept open: no EOF ends the read */
        else
            close(fd);
    }
    return NULL;
}

static void banner_server_start(struct banner_server *s, const char *greeting, pthread_t *tid,
                                uint16_t *port)
{
    memset(s, 0, sizeof *s);
    s->greeting = greeting;
    s->listener = bound_socket(AF_INET, true, 16, port);
    assert_int_equal(pipe2(s->stop, O_CLOEXEC), 0);
    assert_int_equal(pthread_create(tid, NULL, banner_serve, s), 0);
}

static void banner_server_stop(struct banner_server *s, pthread_t tid)
{
    assert_int_equal(write(s->stop[1], "x", 1), 1);
    pthread_join(tid, NULL);
    for (int i = 0; i < s->accepted_count; i++)
        close(s->accepted[i]);
    close(s->listener);
    close(s->stop[0]);
    close(s->stop[1]);
}

static void banners_are_captured(void **state)
{
    (void)state;
    struct banner_server ssh;
    pthread_t tid;
    uint16_t ports[2];
    banner_server_start(&ssh, "SSH-2.0-test\r\n", &tid, &ports[0]);
    int closed_fd = bound_socket(AF_INET, false, 0, &ports[1]);
    struct collector *c = collector_new();
    /* A long banner timeout: a line-based greeting must end the read at its newline. */
    struct scan_options o = { .targets = { "127.0.0.1" }, .banners = true,
                              .banner_timeout_ms = 3000, .seed = 5 };
    struct scan_outcome out = scan(&o, ports, 2, c);
    assert_int_equal(out.rc, 0);
    assert_int_equal(c->total, 2);
    assert_int_equal(c->state[0][ports[0]], SCAN_STATE_OPEN);
    assert_int_equal(c->state[0][ports[1]], SCAN_STATE_CLOSED);
    assert_int_equal(c->banner_port, ports[0]);
    assert_int_equal(c->banner_len, strlen("SSH-2.0-test\r\n"));
    assert_memory_equal(c->banner, "SSH-2.0-test\r\n", c->banner_len);
    assert_true(out.seconds < 1.0);
    banner_server_stop(&ssh, tid);
    close(closed_fd);
    free(c);
}

static void silent_service_is_open_without_banner(void **state)
{
    (void)state;
    struct banner_server quiet;
    pthread_t tid;
    uint16_t port;
    banner_server_start(&quiet, NULL, &tid, &port);
    struct collector *c = collector_new();
    struct scan_options o = { .targets = { "127.0.0.1" }, .banners = true,
                              .banner_timeout_ms = 200, .seed = 5 };
    struct scan_outcome out = scan(&o, &port, 1, c);
    assert_int_equal(out.rc, 0);
    assert_int_equal(c->total, 1);
    assert_int_equal(c->state[0][port], SCAN_STATE_OPEN);
    assert_int_equal(c->banner_len, 0);
    /* It waited for the banner timeout, not much longer. */
    assert_true(out.seconds >= 0.19 && out.seconds < 1.0);
    banner_server_stop(&quiet, tid);
    free(c);
}

/* --rate 2000 on 1000 probes: about half a second (the bucket lets ~10 ms through at once). */
static void rate_limits_the_scan(void **state)
{
    (void)state;
    enum { N = 1000 };
    int fds[N / 10];
    uint16_t ports[N];
    /* Ports we hold bound (closed) so the outcome is known too. */
    for (int i = 0; i < N / 10; i++)
        fds[i] = bound_socket(AF_INET, false, 0, &ports[i]);
    for (int i = N / 10; i < N; i++)
        ports[i] = ports[i % (N / 10)];
    struct collector *c = collector_new();
    struct scan_options o = { .targets = { "127.0.0.1" }, .rate_pps = 2000, .seed = 11 };
    struct scan_outcome out = scan(&o, ports, N, c);
    assert_int_equal(out.rc, 0);
    assert_int_equal(c->total, N);
    assert_int_equal(c->by_state[SCAN_STATE_CLOSED], N);
    print_message("# 1000 probes at --rate 2000: %.3f s\n", out.seconds);
    assert_true(out.seconds > 0.4 && out.seconds < 0.8);
    /* Unlimited, the same probes take a fraction of that. */
    memset(c, 0, sizeof *c);
    o.rate_pps = 0;
    out = scan(&o, ports, N, c);
    assert_int_equal(c->total, N);
    assert_true(out.seconds < 0.2);
    for (int i = 0; i < N / 10; i++)
        close(fds[i]);
    free(c);
}

/* A route-less address fails at once with ENETUNREACH: filtered, host-unreach, not closed. */
static void unreachable_network_is_filtered(void **state)
{
    (void)state;
    enter_private_netns();    /* only lo: 192.0.2.1 has no route */
    uint16_t ports[3] = { 22, 80, 443 };
    struct collector *c = collector_new();
    struct scan_options o = { .targets = { "192.0.2.1" }, .seed = 2 };
    struct scan_outcome out = scan(&o, ports, 3, c);
    assert_int_equal(out.rc, 0);
    assert_int_equal(c->total, 3);
    assert_int_equal(c->by_state[SCAN_STATE_FILTERED], 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(c->reason[0][ports[i]], SCAN_REASON_HOST_UNREACHABLE);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(held_ports_come_back_exactly),
        cmocka_unit_test_teardown(range_ground_truth_in_private_netns, leave_private_netns),
        cmocka_unit_test_teardown(full_range_in_private_netns, leave_private_netns),
        cmocka_unit_test(full_accept_queue_is_silence),
        cmocka_unit_test(low_fd_limit_gives_correct_results),
        cmocka_unit_test_teardown(self_connect_is_never_open, leave_private_netns),
        cmocka_unit_test(banners_are_captured),
        cmocka_unit_test(silent_service_is_open_without_banner),
        cmocka_unit_test(rate_limits_the_scan),
        cmocka_unit_test_teardown(unreachable_network_is_filtered, leave_private_netns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
