/* test_sockdiag.c — unit tests for the sock_diag dump (src/lib/net/sockdiag.c).
 * Real loopback sockets (TCP/UDP listeners on 127.0.0.1, ::1 and [::], a connected pair, a
 * TIME_WAIT socket) must come back with their exact address, port, state, v6only, inode,
 * cookie and uid; state, family, protocol and port filters; recvmsg() is wrapped here to count
 * the messages the kernel sent, which proves the port filter ran in the kernel. The pure reply
 * parser is tested on hand-built messages: every field, every truncation, bad attributes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "net/sockdiag.h"
#include "registry/record.h"

#define TCP REGISTRY_PROTO_TCP
#define UDP REGISTRY_PROTO_UDP
#define SCTP REGISTRY_PROTO_SCTP
#define STATE_BIT(s) (1u << (s))

/* ---- recvmsg() wrapper: counts the inet_diag messages the kernel sent while active ---- */

/* Atomic: sockdiag dumps IPv4 and IPv6 from two threads at once. */
struct recv_counter {
    _Atomic bool active;
    _Atomic size_t calls;
    _Atomic size_t diag_messages;
};
static struct recv_counter recv_counter;

ssize_t recvmsg(int fd, struct msghdr *message, int flags)
{
    typedef ssize_t (*recvmsg_function)(int, struct msghdr *, int);
    recvmsg_function real_recvmsg;
    void *symbol = dlsym(RTLD_NEXT, "recvmsg");
    memcpy(&real_recvmsg, &symbol, sizeof real_recvmsg);
    ssize_t received = real_recvmsg(fd, message, flags);
    if (received > 0 && recv_counter.active && message->msg_iovlen >= 1) {
        atomic_fetch_add(&recv_counter.calls, 1);
        const uint8_t *bytes = message->msg_iov[0].iov_base;
        size_t offset = 0, total = (size_t)received;
        while (total - offset >= sizeof(struct nlmsghdr)) {
            struct nlmsghdr header;
            memcpy(&header, bytes + offset, sizeof header);
            if (header.nlmsg_len < sizeof header || header.nlmsg_len > total - offset)
                break;
            if (header.nlmsg_type == SOCK_DIAG_BY_FAMILY || header.nlmsg_type == TCPDIAG_GETSOCK)
                atomic_fetch_add(&recv_counter.diag_messages, 1);
            offset += NLMSG_ALIGN(header.nlmsg_len);
        }
    }
    return received;
}

static void recv_counter_start(void)
{
    atomic_store(&recv_counter.calls, 0);
    atomic_store(&recv_counter.diag_messages, 0);
    atomic_store(&recv_counter.active, true);
}
static void recv_counter_stop(void) { recv_counter.active = false; }

/* ---- helpers ---- */

static bool running_as_root(void) { return geteuid() == 0; }

struct test_socket {
    int fd;
    uint8_t family;
    uint8_t address[16];
    uint16_t port;
    uint64_t inode;
    uint64_t cookie;
};

static void test_socket_describe(struct test_socket *s)
{
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&address, &length), 0);
    memset(s->address, 0, sizeof s->address);
    if (address.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&address;
        s->family = AF_INET;
        memcpy(s->address, &v4->sin_addr, 4);
        s->port = ntohs(v4->sin_port);
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&address;
        s->family = AF_INET6;
        memcpy(s->address, &v6->sin6_addr, 16);
        s->port = ntohs(v6->sin6_port);
    }
    struct stat st;
    assert_int_equal(fstat(s->fd, &st), 0);
    s->inode = (uint64_t)st.st_ino;
    socklen_t cookie_length = sizeof s->cookie;
    assert_int_equal(getsockopt(s->fd, SOL_SOCKET, SO_COOKIE, &s->cookie, &cookie_length), 0);
}

/* A socket bound to text:0 (an ephemeral port). v6only < 0 leaves IPV6_V6ONLY alone; it is
 * ignored for IPv4 addresses. */
static struct test_socket test_socket_bind(int type, const char *text, int v6only)
{
    struct test_socket s = { .fd = -1 };
    struct sockaddr_storage address = { 0 };
    socklen_t length;
    if (strchr(text, ':')) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
        v6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &v6->sin6_addr), 1);
        length = sizeof *v6;
    } else {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
        v4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &v4->sin_addr), 1);
        length = sizeof *v4;
    }
    s.fd = socket(address.ss_family, type | SOCK_CLOEXEC, 0);
    assert_true(s.fd >= 0);
    if (v6only >= 0 && address.ss_family == AF_INET6)
        assert_int_equal(setsockopt(s.fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only), 0);
    if (bind(s.fd, (struct sockaddr *)&address, length) != 0)
        fail_msg("bind %s:0: %s", text, strerror(errno));
    return s;
}

static struct test_socket test_tcp_listener(const char *text, int v6only, int backlog)
{
    struct test_socket s = test_socket_bind(SOCK_STREAM, text, v6only);
    assert_int_equal(listen(s.fd, backlog), 0);
    test_socket_describe(&s);
    return s;
}

static struct test_socket test_udp_socket(const char *text, int v6only)
{
    struct test_socket s = test_socket_bind(SOCK_DGRAM, text, v6only);
    test_socket_describe(&s);
    return s;
}

/* A TCP client connected to listener (same family, loopback). */
static struct test_socket test_tcp_connect(const struct test_socket *listener)
{
    struct test_socket s = { .fd = socket(listener->family, SOCK_STREAM | SOCK_CLOEXEC, 0) };
    assert_true(s.fd >= 0);
    struct sockaddr_storage address = { 0 };
    socklen_t length;
    if (listener->family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
        v4->sin_family = AF_INET;
        memcpy(&v4->sin_addr, listener->address, 4);
        v4->sin_port = htons(listener->port);
        length = sizeof *v4;
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
        v6->sin6_family = AF_INET6;
        memcpy(&v6->sin6_addr, listener->address, 16);
        v6->sin6_port = htons(listener->port);
        length = sizeof *v6;
    }
    assert_int_equal(connect(s.fd, (struct sockaddr *)&address, length), 0);
    test_socket_describe(&s);
    return s;
}

static struct test_socket test_tcp_accept(const struct test_socket *listener)
{
    struct test_socket s = { .fd = accept4(listener->fd, NULL, NULL, SOCK_CLOEXEC) };
    assert_true(s.fd >= 0);
    test_socket_describe(&s);
    return s;
}

static void test_socket_close(struct test_socket *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static int test_v6only_of(int fd)
{
    int value = 0;
    socklen_t length = sizeof value;
    assert_int_equal(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &value, &length), 0);
    return value;
}

static void test_dump(const struct sockdiag_query *q, struct socket_list *list)
{
    struct pr_error err = { 0 };
    int ret = sockdiag_dump(q, list, &err);
    if (ret != 0)
        fail_msg("sockdiag_dump: %d %s", ret, err.message);
}

/* The entry of proto whose socket cookie is cookie, or NULL. */
static const struct socket_entry *test_find_cookie(const struct socket_list *list, uint8_t proto,
                                                   uint64_t cookie)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].proto == proto && list->items[i].cookie == cookie)
            return &list->items[i];
    return NULL;
}

/* The entry with this local port, peer port and state, or NULL. */
static const struct socket_entry *test_find_ports(const struct socket_list *list, uint8_t proto,
                                                  uint16_t local_port, uint16_t peer_port,
                                                  uint8_t state)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct socket_entry *e = &list->items[i];
        if (e->proto == proto && e->local_port == local_port && e->peer_port == peer_port &&
            e->state == state)
            return e;
    }
    return NULL;
}

/* Every field of the entry of socket s, as the kernel must report it. */
static void test_assert_entry(const struct socket_list *list, uint8_t proto,
                              const struct test_socket *s, uint8_t state, bool v6only)
{
    const struct socket_entry *e = test_find_cookie(list, proto, s->cookie);
    if (!e)
        fail_msg("socket %s port %u (cookie %llu) not in the dump", registry_proto_name(proto),
                 s->port, (unsigned long long)s->cookie);
    assert_int_equal(e->family, s->family);
    assert_memory_equal(e->local_addr, s->address, 16);
    assert_int_equal(e->local_port, s->port);
    assert_int_equal(e->state, state);
    assert_int_equal(e->v6only, v6only);
    assert_int_equal(e->inode, s->inode);
    assert_int_equal(e->uid, geteuid());
    assert_int_equal(e->bound_ifindex, 0);
}

static size_t test_open_file_limit(void)
{
    struct rlimit limit;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &limit), 0);
    return (size_t)limit.rlim_cur;
}

/* ---- sockets of every kind ---- */

static void test_listeners_and_unconnected_udp(void **state)
{
    (void)state;
    struct test_socket tcp4 = test_tcp_listener("127.0.0.1", -1, 17);
    struct test_socket tcp6 = test_tcp_listener("::1", 1, 5);
    struct test_socket tcp_dual = test_tcp_listener("::", 0, 5);
    struct test_socket udp4 = test_udp_socket("127.0.0.1", -1);
    struct test_socket udp6 = test_udp_socket("::1", -1);

    struct sockdiag_query q = { .netns = 4026531999u };
    struct socket_list list = { 0 };
    test_dump(&q, &list);

    test_assert_entry(&list, TCP, &tcp4, SOCKET_STATE_LISTEN, false);
    test_assert_entry(&list, TCP, &tcp6, SOCKET_STATE_LISTEN, true);
    test_assert_entry(&list, TCP, &tcp_dual, SOCKET_STATE_LISTEN, false);
    test_assert_entry(&list, UDP, &udp4, SOCKET_STATE_CLOSE, false);
    test_assert_entry(&list, UDP, &udp6, SOCKET_STATE_CLOSE, test_v6only_of(udp6.fd) != 0);

    const struct socket_entry *e = test_find_cookie(&list, TCP, tcp4.cookie);
    assert_non_null(e);
    assert_int_equal(e->send_queue, 17);   /* LISTEN: the backlog */
    assert_int_equal(e->recv_queue, 0);
    assert_int_equal(e->peer_port, 0);
    static const uint8_t zero[16] = { 0 };
    assert_memory_equal(e->peer_addr, zero, 16);
    assert_int_equal(e->netns, 4026531999u);
    e = test_find_cookie(&list, TCP, tcp_dual.cookie);
    assert_memory_equal(e->local_addr, zero, 16);   /* [::] */
    e = test_find_cookie(&list, TCP, tcp6.cookie);
    assert_int_equal(e->local_addr[15], 1);         /* ::1 */
    for (size_t i = 0; i < list.count; i++) {
        assert_int_equal(list.items[i].netns, 4026531999u);
        assert_true(list.items[i].proto == TCP || list.items[i].proto == UDP);
        assert_true(list.items[i].family == AF_INET || list.items[i].family == AF_INET6);
    }

    socket_list_free(&list);
    test_socket_close(&tcp4);
    test_socket_close(&tcp6);
    test_socket_close(&tcp_dual);
    test_socket_close(&udp4);
    test_socket_close(&udp6);
}

static void test_connected_pair_and_accept_queue(void **state)
{
    (void)state;
    struct test_socket listener = test_tcp_listener("127.0.0.1", -1, 8);
    struct test_socket client = test_tcp_connect(&listener);
    struct test_socket server = test_tcp_accept(&listener);
    struct test_socket waiting = test_tcp_connect(&listener);   /* never accepted */
    struct test_socket listener6 = test_tcp_listener("::1", 1, 8);
    struct test_socket client6 = test_tcp_connect(&listener6);
    struct test_socket server6 = test_tcp_accept(&listener6);
    struct test_socket udp_server = test_udp_socket("127.0.0.1", -1);
    struct test_socket udp_client = test_udp_socket("127.0.0.1", -1);
    struct sockaddr_in udp_peer = { .sin_family = AF_INET, .sin_port = htons(udp_server.port) };
    memcpy(&udp_peer.sin_addr, udp_server.address, 4);
    assert_int_equal(connect(udp_client.fd, (struct sockaddr *)&udp_peer, sizeof udp_peer), 0);

    struct sockdiag_query q = { 0 };
    struct socket_list list = { 0 };
    test_dump(&q, &list);

    test_assert_entry(&list, TCP, &client, SOCKET_STATE_ESTABLISHED, false);
    test_assert_entry(&list, TCP, &server, SOCKET_STATE_ESTABLISHED, false);
    const struct socket_entry *e = test_find_cookie(&list, TCP, client.cookie);
    assert_int_equal(e->peer_port, listener.port);
    assert_memory_equal(e->peer_addr, listener.address, 16);
    e = test_find_cookie(&list, TCP, server.cookie);
    assert_int_equal(e->local_port, listener.port);
    assert_int_equal(e->peer_port, client.port);
    e = test_find_cookie(&list, TCP, listener.cookie);
    assert_non_null(e);
    assert_int_equal(e->recv_queue, 1);   /* "waiting" sits in the accept queue */
    assert_int_equal(e->send_queue, 8);

    /* An ESTABLISHED AF_INET6 socket: no SKV6ONLY from the kernel, so false. */
    test_assert_entry(&list, TCP, &client6, SOCKET_STATE_ESTABLISHED, false);
    test_assert_entry(&list, TCP, &server6, SOCKET_STATE_ESTABLISHED, false);
    e = test_find_cookie(&list, TCP, client6.cookie);
    assert_int_equal(e->family, AF_INET6);
    assert_int_equal(e->peer_port, listener6.port);

    /* Connected UDP reports ESTABLISHED, unconnected CLOSE. */
    test_assert_entry(&list, UDP, &udp_client, SOCKET_STATE_ESTABLISHED, false);
    test_assert_entry(&list, UDP, &udp_server, SOCKET_STATE_CLOSE, false);
    e = test_find_cookie(&list, UDP, udp_client.cookie);
    assert_int_equal(e->peer_port, udp_server.port);

    socket_list_free(&list);
    struct test_socket *all[] = { &listener, &client, &server, &waiting, &listener6, &client6,
                                  &server6, &udp_server, &udp_client };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        test_socket_close(all[i]);
}

static void test_time_wait(void **state)
{
    (void)state;
    struct test_socket listener = test_tcp_listener("127.0.0.1", -1, 4);
    struct test_socket client = test_tcp_connect(&listener);
    struct test_socket server = test_tcp_accept(&listener);
    uint16_t client_port = client.port;
    test_socket_close(&client);   /* the active close: the client side ends in TIME_WAIT */
    test_socket_close(&server);

    struct sockdiag_query q = { .protos = 1u << TCP, .ipv4 = true,
                                .states = STATE_BIT(SOCKET_STATE_TIME_WAIT) };
    const struct socket_entry *e = NULL;
    struct socket_list list = { 0 };
    for (int attempt = 0; attempt < 200 && !e; attempt++) {
        socket_list_free(&list);
        test_dump(&q, &list);
        e = test_find_ports(&list, TCP, client_port, listener.port, SOCKET_STATE_TIME_WAIT);
        if (!e)
            poll(NULL, 0, 10);
    }
    if (!e)
        fail_msg("no TIME-WAIT socket for port %u", client_port);
    assert_int_equal(e->family, AF_INET);
    assert_int_equal(e->inode, 0);
    assert_memory_equal(e->local_addr, listener.address, 4);
    for (size_t i = 0; i < list.count; i++)
        assert_int_equal(list.items[i].state, SOCKET_STATE_TIME_WAIT);
    socket_list_free(&list);
    test_socket_close(&listener);
}

/* ---- filters ---- */

static void test_state_filter(void **state)
{
    (void)state;
    struct test_socket listener = test_tcp_listener("127.0.0.1", -1, 4);
    struct test_socket client = test_tcp_connect(&listener);
    struct test_socket server = test_tcp_accept(&listener);
    struct test_socket udp = test_udp_socket("127.0.0.1", -1);

    struct sockdiag_query q = { .states = STATE_BIT(SOCKET_STATE_LISTEN) };
    struct socket_list list = { 0 };
    test_dump(&q, &list);
    for (size_t i = 0; i < list.count; i++) {
        assert_int_equal(list.items[i].state, SOCKET_STATE_LISTEN);
        assert_int_equal(list.items[i].proto, TCP);   /* UDP is never LISTEN */
    }
    assert_non_null(test_find_cookie(&list, TCP, listener.cookie));
    assert_null(test_find_cookie(&list, TCP, client.cookie));
    assert_null(test_find_cookie(&list, TCP, server.cookie));
    assert_null(test_find_cookie(&list, UDP, udp.cookie));
    socket_list_free(&list);

    q.states = STATE_BIT(SOCKET_STATE_ESTABLISHED);
    test_dump(&q, &list);
    for (size_t i = 0; i < list.count; i++)
        assert_int_equal(list.items[i].state, SOCKET_STATE_ESTABLISHED);
    assert_null(test_find_cookie(&list, TCP, listener.cookie));
    assert_non_null(test_find_cookie(&list, TCP, client.cookie));
    assert_non_null(test_find_cookie(&list, TCP, server.cookie));
    socket_list_free(&list);

    q.states = STATE_BIT(SOCKET_STATE_CLOSE);   /* UDP "UNCONN" */
    test_dump(&q, &list);
    assert_non_null(test_find_cookie(&list, UDP, udp.cookie));
    assert_null(test_find_cookie(&list, TCP, listener.cookie));
    socket_list_free(&list);

    test_socket_close(&client);
    test_socket_close(&server);
    test_socket_close(&listener);
    test_socket_close(&udp);
}

#define EXTRA_LISTENERS 40

static void test_port_filter_runs_in_the_kernel(void **state)
{
    (void)state;
    struct test_socket wanted_a = test_tcp_listener("127.0.0.1", -1, 4);
    struct test_socket wanted_b = test_tcp_listener("::1", 1, 4);
    struct test_socket extra[EXTRA_LISTENERS];
    for (size_t i = 0; i < EXTRA_LISTENERS; i++) {
        /* The kernel may hand ::1 the port that 127.0.0.1 already has (the families do not
         * share a bind table); such an extra would rightly match the filter, so draw again. */
        do {
            extra[i] = test_tcp_listener(i % 2 ? "::1" : "127.0.0.1", 1, 4);
            if (extra[i].port != wanted_a.port && extra[i].port != wanted_b.port)
                break;
            test_socket_close(&extra[i]);
        } while (1);
    }

    struct portspec spec = { 0 };
    assert_int_equal(portspec_add(&spec, wanted_a.port, wanted_a.port, REGISTRY_PROTO_ANY), 0);
    assert_int_equal(portspec_add(&spec, wanted_b.port, wanted_b.port, TCP), 0);
    struct sockdiag_query q = { .protos = 1u << TCP, .local_ports = &spec };
    struct socket_list list = { 0 };
    recv_counter_start();
    test_dump(&q, &list);
    recv_counter_stop();

    test_assert_entry(&list, TCP, &wanted_a, SOCKET_STATE_LISTEN, false);
    test_assert_entry(&list, TCP, &wanted_b, SOCKET_STATE_LISTEN, true);
    for (size_t i = 0; i < list.count; i++)
        assert_true(list.items[i].local_port == wanted_a.port ||
                    list.items[i].local_port == wanted_b.port);
    for (size_t i = 0; i < EXTRA_LISTENERS; i++)
        assert_null(test_find_cookie(&list, TCP, extra[i].cookie));
    /* Every message the kernel sent was kept: nothing was filtered out in user space. */
    assert_int_equal(recv_counter.diag_messages, list.count);
    assert_true(recv_counter.diag_messages < EXTRA_LISTENERS);
    socket_list_free(&list);

    /* Without the filter the same dump receives every extra listener. */
    q.local_ports = NULL;
    recv_counter_start();
    test_dump(&q, &list);
    recv_counter_stop();
    assert_true(recv_counter.diag_messages >= EXTRA_LISTENERS + 2);
    for (size_t i = 0; i < EXTRA_LISTENERS; i++)
        assert_non_null(test_find_cookie(&list, TCP, extra[i].cookie));
    socket_list_free(&list);

    portspec_free(&spec);
    test_socket_close(&wanted_a);
    test_socket_close(&wanted_b);
    for (size_t i = 0; i < EXTRA_LISTENERS; i++)
        test_socket_close(&extra[i]);
}

static void test_port_filter_ranges_and_protocols(void **state)
{
    (void)state;
    struct test_socket tcp = test_tcp_listener("127.0.0.1", -1, 4);
    struct test_socket udp = test_udp_socket("127.0.0.1", -1);
    struct test_socket other_tcp = test_tcp_listener("127.0.0.1", -1, 4);

    /* tcp's port for TCP only, udp's port for UDP only: a range of one protocol never
     * matches a socket of another. Overlapping ranges are merged. */
    struct portspec spec = { 0 };
    assert_int_equal(portspec_add(&spec, tcp.port, tcp.port, TCP), 0);
    assert_int_equal(portspec_add(&spec, tcp.port > 0 ? tcp.port - 1 : 0, tcp.port, TCP), 0);
    assert_int_equal(portspec_add(&spec, udp.port, udp.port, UDP), 0);
    struct sockdiag_query q = { .local_ports = &spec };
    struct socket_list list = { 0 };
    test_dump(&q, &list);
    assert_non_null(test_find_cookie(&list, TCP, tcp.cookie));
    assert_non_null(test_find_cookie(&list, UDP, udp.cookie));
    assert_null(test_find_cookie(&list, TCP, other_tcp.cookie));
    for (size_t i = 0; i < list.count; i++) {
        const struct socket_entry *e = &list.items[i];
        if (e->proto == TCP)
            assert_true(e->local_port == tcp.port || e->local_port == tcp.port - 1);
        else
            assert_int_equal(e->local_port, udp.port);
    }
    socket_list_free(&list);

    /* Only UDP ranges and a TCP-only query: no request at all, nothing back. */
    struct portspec udp_only = { 0 };
    assert_int_equal(portspec_add(&udp_only, tcp.port, tcp.port, UDP), 0);
    struct sockdiag_query tcp_query = { .protos = 1u << TCP, .local_ports = &udp_only };
    recv_counter_start();
    test_dump(&tcp_query, &list);
    recv_counter_stop();
    assert_int_equal(list.count, 0);
    assert_int_equal(recv_counter.calls, 0);

    /* An empty spec matches nothing. */
    struct portspec empty = { 0 };
    tcp_query.local_ports = &empty;
    test_dump(&tcp_query, &list);
    assert_int_equal(list.count, 0);

    /* 0-65535 is no filter. */
    struct portspec everything = { 0 };
    assert_int_equal(portspec_add(&everything, 0, 65535, REGISTRY_PROTO_ANY), 0);
    tcp_query.local_ports = &everything;
    test_dump(&tcp_query, &list);
    assert_non_null(test_find_cookie(&list, TCP, tcp.cookie));
    assert_non_null(test_find_cookie(&list, TCP, other_tcp.cookie));
    socket_list_free(&list);

    portspec_free(&spec);
    portspec_free(&udp_only);
    portspec_free(&everything);
    test_socket_close(&tcp);
    test_socket_close(&udp);
    test_socket_close(&other_tcp);
}

/* Many ranges: up to the bytecode limit they run in the kernel; past it, in user space. */
static void test_port_filter_many_ranges(void **state)
{
    (void)state;
    struct test_socket wanted = test_tcp_listener("127.0.0.1", -1, 4);
    struct test_socket unwanted = test_tcp_listener("127.0.0.1", -1, 4);
    static const size_t range_counts[] = { 300, 3000 };
    for (size_t c = 0; c < sizeof range_counts / sizeof range_counts[0]; c++) {
        struct portspec spec = { 0 };
        /* single odd ports below 10000 (never merged), then the wanted port */
        for (size_t i = 0; i + 1 < range_counts[c]; i++)
            assert_int_equal(portspec_add(&spec, (uint16_t)(2 * i + 1), (uint16_t)(2 * i + 1),
                                          REGISTRY_PROTO_ANY), 0);
        assert_int_equal(portspec_add(&spec, wanted.port, wanted.port, TCP), 0);
        struct sockdiag_query q = { .protos = 1u << TCP, .ipv4 = true, .local_ports = &spec };
        struct socket_list list = { 0 };
        recv_counter_start();
        test_dump(&q, &list);
        recv_counter_stop();
        assert_non_null(test_find_cookie(&list, TCP, wanted.cookie));
        assert_null(test_find_cookie(&list, TCP, unwanted.cookie));
        for (size_t i = 0; i < list.count; i++) {
            uint16_t port = list.items[i].local_port;
            assert_true(port == wanted.port || (port % 2 == 1 && port < 2 * range_counts[c]));
        }
        if (range_counts[c] == 300)
            assert_int_equal(recv_counter.diag_messages, list.count);
        socket_list_free(&list);
        portspec_free(&spec);
    }
    test_socket_close(&wanted);
    test_socket_close(&unwanted);
}

static void test_family_filter(void **state)
{
    (void)state;
    struct test_socket tcp4 = test_tcp_listener("127.0.0.1", -1, 4);
    struct test_socket tcp6 = test_tcp_listener("::1", 1, 4);
    struct test_socket udp6 = test_udp_socket("::1", 1);

    struct sockdiag_query q = { .ipv4 = true };
    struct socket_list list = { 0 };
    test_dump(&q, &list);
    for (size_t i = 0; i < list.count; i++)
        assert_int_equal(list.items[i].family, AF_INET);
    assert_non_null(test_find_cookie(&list, TCP, tcp4.cookie));
    assert_null(test_find_cookie(&list, TCP, tcp6.cookie));
    socket_list_free(&list);

    q = (struct sockdiag_query){ .ipv6 = true };
    test_dump(&q, &list);
    for (size_t i = 0; i < list.count; i++)
        assert_int_equal(list.items[i].family, AF_INET6);
    assert_null(test_find_cookie(&list, TCP, tcp4.cookie));
    test_assert_entry(&list, TCP, &tcp6, SOCKET_STATE_LISTEN, true);
    test_assert_entry(&list, UDP, &udp6, SOCKET_STATE_CLOSE, true);
    socket_list_free(&list);

    q = (struct sockdiag_query){ .ipv4 = true, .ipv6 = true };
    test_dump(&q, &list);
    assert_non_null(test_find_cookie(&list, TCP, tcp4.cookie));
    assert_non_null(test_find_cookie(&list, TCP, tcp6.cookie));
    socket_list_free(&list);

    test_socket_close(&tcp4);
    test_socket_close(&tcp6);
    test_socket_close(&udp6);
}

static void test_protocol_filter(void **state)
{
    (void)state;
    struct test_socket tcp = test_tcp_listener("127.0.0.1", -1, 4);
    struct test_socket udp = test_udp_socket("127.0.0.1", -1);

    struct sockdiag_query q = { .protos = 1u << UDP };
    struct socket_list list = { 0 };
    test_dump(&q, &list);
    for (size_t i = 0; i < list.count; i++)
        assert_int_equal(list.items[i].proto, UDP);
    assert_non_null(test_find_cookie(&list, UDP, udp.cookie));
    socket_list_free(&list);

    /* SCTP without sctp_diag (or without SCTP at all) is skipped silently. */
    q.protos = 1u << TCP | 1u << SCTP;
    test_dump(&q, &list);
    assert_non_null(test_find_cookie(&list, TCP, tcp.cookie));
    for (size_t i = 0; i < list.count; i++)
        assert_true(list.items[i].proto == TCP || list.items[i].proto == SCTP);
    socket_list_free(&list);

    /* DCCP is not dumped: an error, and the list is left as it was. */
    struct socket_entry *kept = socket_list_append(&list);
    assert_non_null(kept);
    kept->local_port = 4242;
    q.protos = 1u << REGISTRY_PROTO_DCCP | 1u << TCP;
    struct pr_error err = { 0 };
    assert_int_equal(sockdiag_dump(&q, &list, &err), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_non_null(strstr(err.message, "protocol"));
    assert_int_equal(list.count, 1);
    assert_int_equal(list.items[0].local_port, 4242);

    /* A dump appends after what the list holds. */
    q.protos = 1u << UDP;
    test_dump(&q, &list);
    assert_true(list.count > 1);
    assert_int_equal(list.items[0].local_port, 4242);
    assert_non_null(test_find_cookie(&list, UDP, udp.cookie));
    socket_list_free(&list);

    test_socket_close(&tcp);
    test_socket_close(&udp);
}

static void test_bound_device(void **state)
{
    (void)state;
    struct test_socket udp = test_socket_bind(SOCK_DGRAM, "127.0.0.1", -1);
    /* Linux >= 5.7 lets anyone bind an unbound socket to a device; older ones need root. */
    if (setsockopt(udp.fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) != 0) {
        int error = errno;
        test_socket_close(&udp);
        if (error == EPERM && !running_as_root()) {
            print_message("skipped: needs root\n");
            skip();
        }
        fail_msg("SO_BINDTODEVICE lo: %s", strerror(error));
    }
    test_socket_describe(&udp);
    struct sockdiag_query q = { .protos = 1u << UDP, .ipv4 = true };
    struct socket_list list = { 0 };
    test_dump(&q, &list);
    const struct socket_entry *e = test_find_cookie(&list, UDP, udp.cookie);
    assert_non_null(e);
    assert_int_equal(e->bound_ifindex, if_nametoindex("lo"));
    assert_int_not_equal(e->bound_ifindex, 0);
    socket_list_free(&list);
    test_socket_close(&udp);
}

/* Enough listeners that the reply spans many recvmsg() batches. */
static void test_many_listeners(void **state)
{
    (void)state;
    size_t limit = test_open_file_limit();
    size_t count = limit > 2100 ? 2000 : limit - 100;
    struct test_socket *listeners = calloc(count, sizeof *listeners);
    assert_non_null(listeners);
    for (size_t i = 0; i < count; i++)
        listeners[i] = test_tcp_listener(i % 2 ? "::1" : "127.0.0.1", 1, 1);

    struct sockdiag_query q = { .protos = 1u << TCP, .states = STATE_BIT(SOCKET_STATE_LISTEN) };
    struct socket_list list = { 0 };
    recv_counter_start();
    test_dump(&q, &list);
    recv_counter_stop();
    assert_true(recv_counter.calls > 2);
    assert_int_equal(recv_counter.diag_messages, list.count);

    uint8_t *seen = calloc(65536 * 2, 1);
    assert_non_null(seen);
    for (size_t i = 0; i < list.count; i++)
        seen[(size_t)list.items[i].local_port * 2 + (list.items[i].family == AF_INET6)] = 1;
    for (size_t i = 0; i < count; i++)
        if (!seen[(size_t)listeners[i].port * 2 + (listeners[i].family == AF_INET6)])
            fail_msg("listener %zu (port %u) missing from the dump", i, listeners[i].port);
    free(seen);
    socket_list_free(&list);
    for (size_t i = 0; i < count; i++)
        test_socket_close(&listeners[i]);
    free(listeners);
}

/* The same listening sockets as `ss -Htln sport = :PORT`. */
static void test_matches_ss(void **state)
{
    (void)state;
    if (system("command -v ss >/dev/null 2>&1") != 0) {
        print_message("skipped: needs ss (iproute2)\n");
        skip();
    }
    struct test_socket tcp4 = test_tcp_listener("127.0.0.1", -1, 4);
    struct test_socket tcp6 = test_tcp_listener("::1", 1, 4);
    uint16_t ports[2] = { tcp4.port, tcp6.port };
    for (size_t p = 0; p < 2; p++) {
        char command[128];
        snprintf(command, sizeof command, "ss -Htln 'sport = :%u'", ports[p]);
        FILE *pipe = popen(command, "r");
        assert_non_null(pipe);
        char line[512];
        size_t ss_lines = 0;
        bool ss_has_ours = false;
        char ours[64];
        snprintf(ours, sizeof ours, p == 0 ? "127.0.0.1:%u " : "[::1]:%u ", ports[p]);
        while (fgets(line, sizeof line, pipe)) {
            ss_lines++;
            if (strstr(line, ours))
                ss_has_ours = true;
        }
        assert_int_equal(pclose(pipe), 0);
        assert_true(ss_has_ours);

        struct portspec spec = { 0 };
        assert_int_equal(portspec_add(&spec, ports[p], ports[p], TCP), 0);
        struct sockdiag_query q = { .protos = 1u << TCP, .states = STATE_BIT(SOCKET_STATE_LISTEN),
                                    .local_ports = &spec };
        struct socket_list list = { 0 };
        test_dump(&q, &list);
        assert_int_equal(list.count, ss_lines);
        socket_list_free(&list);
        portspec_free(&spec);
    }
    test_socket_close(&tcp4);
    test_socket_close(&tcp6);
}

/* ---- the pure parser on hand-built messages ---- */

struct built_message {
    _Alignas(8) uint8_t bytes[512];
    size_t len;
};

static void message_begin(struct built_message *m, uint16_t type, const struct inet_diag_msg *diag)
{
    memset(m, 0, sizeof *m);
    struct nlmsghdr header = { .nlmsg_type = type, .nlmsg_flags = NLM_F_MULTI };
    m->len = NLMSG_HDRLEN;
    if (diag) {
        memcpy(m->bytes + m->len, diag, sizeof *diag);
        m->len += NLMSG_ALIGN(sizeof *diag);
    }
    header.nlmsg_len = (uint32_t)m->len;
    memcpy(m->bytes, &header, sizeof header);
}

static void message_add_attribute(struct built_message *m, uint16_t type, const void *data,
                                  uint16_t data_len)
{
    struct nlattr attr = { .nla_len = (uint16_t)(NLA_HDRLEN + data_len), .nla_type = type };
    memcpy(m->bytes + m->len, &attr, sizeof attr);
    if (data_len)
        memcpy(m->bytes + m->len + NLA_HDRLEN, data, data_len);
    m->len += NLA_ALIGN((size_t)attr.nla_len);
    uint32_t total = (uint32_t)m->len;
    memcpy(m->bytes, &total, sizeof total);
}

static struct inet_diag_msg sample_diag(uint8_t family, uint8_t state)
{
    struct inet_diag_msg diag = {
        .idiag_family = family,
        .idiag_state = state,
        .idiag_rqueue = 3,
        .idiag_wqueue = 128,
        .idiag_uid = 1000,
        .idiag_inode = 987654,
    };
    diag.id.idiag_sport = htons(8080);
    diag.id.idiag_dport = htons(51234);
    diag.id.idiag_if = 7;
    diag.id.idiag_cookie[0] = 0x11223344u;
    diag.id.idiag_cookie[1] = 0x55667788u;
    if (family == AF_INET) {
        uint8_t src[4] = { 192, 0, 2, 1 }, dst[4] = { 198, 51, 100, 9 };
        memcpy(diag.id.idiag_src, src, 4);
        memcpy(diag.id.idiag_dst, dst, 4);
    } else {
        inet_pton(AF_INET6, "2001:db8::1", diag.id.idiag_src);
        inet_pton(AF_INET6, "2001:db8::2", diag.id.idiag_dst);
    }
    return diag;
}

static void test_parse_ipv4_fields(void **state)
{
    (void)state;
    struct inet_diag_msg diag = sample_diag(AF_INET, SOCKET_STATE_ESTABLISHED);
    struct built_message m;
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    uint8_t shutdown_mode = 0;
    message_add_attribute(&m, INET_DIAG_SHUTDOWN, &shutdown_mode, 1);
    uint8_t v6only = 1;   /* ignored for AF_INET */
    message_add_attribute(&m, INET_DIAG_SKV6ONLY, &v6only, 1);

    struct socket_entry e;
    memset(&e, 0xa5, sizeof e);
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, TCP, &e), 1);
    assert_int_equal(e.proto, TCP);
    assert_int_equal(e.family, AF_INET);
    assert_int_equal(e.state, SOCKET_STATE_ESTABLISHED);
    assert_false(e.v6only);
    static const uint8_t src[16] = { 192, 0, 2, 1 }, dst[16] = { 198, 51, 100, 9 };
    assert_memory_equal(e.local_addr, src, 16);
    assert_memory_equal(e.peer_addr, dst, 16);
    assert_int_equal(e.local_port, 8080);
    assert_int_equal(e.peer_port, 51234);
    assert_int_equal(e.bound_ifindex, 7);
    assert_int_equal(e.uid, 1000);
    assert_int_equal(e.inode, 987654);
    assert_int_equal(e.cookie, 0x5566778811223344ull);
    assert_int_equal(e.recv_queue, 3);
    assert_int_equal(e.send_queue, 128);
    assert_int_equal(e.netns, 0);
}

static void test_parse_ipv6_v6only(void **state)
{
    (void)state;
    for (uint8_t flag = 0; flag < 2; flag++) {
        struct inet_diag_msg diag = sample_diag(AF_INET6, SOCKET_STATE_LISTEN);
        struct built_message m;
        message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
        uint64_t cgroup = 1234;
        message_add_attribute(&m, INET_DIAG_CGROUP_ID, &cgroup, sizeof cgroup);
        message_add_attribute(&m, INET_DIAG_SKV6ONLY, &flag, 1);
        struct socket_entry e;
        assert_int_equal(sockdiag_parse_message(m.bytes, m.len, UDP, &e), 1);
        assert_int_equal(e.family, AF_INET6);
        assert_int_equal(e.proto, UDP);
        assert_int_equal(e.v6only, flag);
        uint8_t src[16];
        inet_pton(AF_INET6, "2001:db8::1", src);
        assert_memory_equal(e.local_addr, src, 16);
    }
    /* No SKV6ONLY attribute (an ESTABLISHED socket): false. */
    struct inet_diag_msg diag = sample_diag(AF_INET6, SOCKET_STATE_ESTABLISHED);
    struct built_message m;
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    struct socket_entry e;
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, TCP, &e), 1);
    assert_false(e.v6only);
}

static void test_parse_every_truncation_fails(void **state)
{
    (void)state;
    struct inet_diag_msg diag = sample_diag(AF_INET6, SOCKET_STATE_LISTEN);
    struct built_message m;
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    uint8_t flag = 1;
    message_add_attribute(&m, INET_DIAG_SKV6ONLY, &flag, 1);
    struct socket_entry e;
    for (size_t len = 0; len < m.len; len++) {
        /* a heap copy of exactly len bytes, so ASan sees any read past it */
        uint8_t *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, m.bytes, len);
        if (sockdiag_parse_message(copy, len, TCP, &e) != -EINVAL)
            fail_msg("length %zu of %zu was accepted", len, m.len);
        free(copy);
    }
    /* nlmsg_len itself too short for an inet_diag_msg */
    for (uint32_t claimed = 0; claimed < NLMSG_HDRLEN + sizeof diag; claimed += 4) {
        struct built_message shortened = m;
        memcpy(shortened.bytes, &claimed, sizeof claimed);
        assert_int_equal(sockdiag_parse_message(shortened.bytes, m.len, TCP, &e), -EINVAL);
    }
    assert_int_equal(sockdiag_parse_message(NULL, 0, TCP, &e), -EINVAL);
    /* bytes after nlmsg_len (the next message) are not this message's */
    uint8_t with_tail[600];
    memcpy(with_tail, m.bytes, m.len);
    memset(with_tail + m.len, 0xff, sizeof with_tail - m.len);
    assert_int_equal(sockdiag_parse_message(with_tail, sizeof with_tail, TCP, &e), 1);
    assert_true(e.v6only);
}

static void test_parse_bad_attributes(void **state)
{
    (void)state;
    struct inet_diag_msg diag = sample_diag(AF_INET6, SOCKET_STATE_LISTEN);
    struct socket_entry e;
    struct built_message m;

    /* nla_len below the attribute header */
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    message_add_attribute(&m, INET_DIAG_SHUTDOWN, "\0", 1);
    uint16_t tiny = 2;
    memcpy(m.bytes + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof diag), &tiny, sizeof tiny);
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, TCP, &e), -EINVAL);

    /* nla_len past the message */
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    message_add_attribute(&m, INET_DIAG_SHUTDOWN, "\0", 1);
    uint16_t huge = 200;
    memcpy(m.bytes + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof diag), &huge, sizeof huge);
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, TCP, &e), -EINVAL);

    /* SKV6ONLY without its byte */
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    message_add_attribute(&m, INET_DIAG_SKV6ONLY, NULL, 0);
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, TCP, &e), -EINVAL);

    /* a stray 2 bytes after the last attribute */
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    message_add_attribute(&m, INET_DIAG_SHUTDOWN, "\0", 1);
    uint32_t odd = (uint32_t)m.len + 2;
    memcpy(m.bytes, &odd, sizeof odd);
    assert_int_equal(sockdiag_parse_message(m.bytes, odd, TCP, &e), -EINVAL);

    /* the last attribute without its padding is fine */
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    uint8_t flag = 1;
    message_add_attribute(&m, INET_DIAG_SKV6ONLY, &flag, 1);
    uint32_t unpadded = (uint32_t)m.len - 3;
    memcpy(m.bytes, &unpadded, sizeof unpadded);
    assert_int_equal(sockdiag_parse_message(m.bytes, unpadded, TCP, &e), 1);
    assert_true(e.v6only);

    /* an unknown family, an unknown protocol */
    struct inet_diag_msg unix_diag = sample_diag(AF_INET, SOCKET_STATE_LISTEN);
    unix_diag.idiag_family = AF_UNIX;
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &unix_diag);
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, TCP, &e), -EINVAL);
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, REGISTRY_PROTO_ANY, &e), -EINVAL);
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, REGISTRY_PROTO_DCCP, &e), -EINVAL);
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, 200, &e), -EINVAL);
}

static void test_parse_skips_other_messages(void **state)
{
    (void)state;
    struct built_message m;
    message_begin(&m, NLMSG_DONE, NULL);
    int zero = 0;
    memcpy(m.bytes + m.len, &zero, sizeof zero);
    m.len += sizeof zero;
    uint32_t total = (uint32_t)m.len;
    memcpy(m.bytes, &total, sizeof total);
    struct socket_entry e;
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, TCP, &e), 0);
    message_begin(&m, NLMSG_ERROR, NULL);
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, TCP, &e), 0);
}

/* Parsing works from any byte alignment (messages are copied, never cast). */
static void test_parse_unaligned(void **state)
{
    (void)state;
    struct inet_diag_msg diag = sample_diag(AF_INET, SOCKET_STATE_LISTEN);
    struct built_message m;
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    message_add_attribute(&m, INET_DIAG_SHUTDOWN, "\0", 1);
    uint8_t *buffer = malloc(m.len + 8);
    assert_non_null(buffer);
    for (size_t shift = 1; shift < 8; shift++) {
        memcpy(buffer + shift, m.bytes, m.len);
        struct socket_entry e;
        assert_int_equal(sockdiag_parse_message(buffer + shift, m.len, TCP, &e), 1);
        assert_int_equal(e.local_port, 8080);
        assert_int_equal(e.inode, 987654);
    }
    free(buffer);
}

static void test_parse_sctp_states(void **state)
{
    (void)state;
    static const struct { uint8_t sctp_state; uint8_t expected; } associations[] = {
        { 0, SOCKET_STATE_CLOSE },      { 1, SOCKET_STATE_SYN_SENT },
        { 2, SOCKET_STATE_SYN_SENT },   { 3, SOCKET_STATE_ESTABLISHED },
        { 4, SOCKET_STATE_FIN_WAIT1 },  { 5, SOCKET_STATE_FIN_WAIT1 },
        { 6, SOCKET_STATE_CLOSE_WAIT }, { 7, SOCKET_STATE_LAST_ACK },
        { 99, 0 },
    };
    uint8_t peers[128] = { 0 };
    for (size_t i = 0; i < sizeof associations / sizeof associations[0]; i++) {
        struct inet_diag_msg diag = sample_diag(AF_INET, associations[i].sctp_state);
        struct built_message m;
        message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
        message_add_attribute(&m, INET_DIAG_LOCALS, peers, sizeof peers);
        message_add_attribute(&m, INET_DIAG_PEERS, peers, sizeof peers);
        struct socket_entry e;
        assert_int_equal(sockdiag_parse_message(m.bytes, m.len, SCTP, &e), 1);
        assert_int_equal(e.proto, SCTP);
        assert_int_equal(e.state, associations[i].expected);
    }
    /* An endpoint (no INET_DIAG_PEERS) reports the socket's TCP-style state. */
    struct inet_diag_msg diag = sample_diag(AF_INET, SOCKET_STATE_LISTEN);
    struct built_message m;
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    message_add_attribute(&m, INET_DIAG_LOCALS, peers, sizeof peers);
    struct socket_entry e;
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, SCTP, &e), 1);
    assert_int_equal(e.state, SOCKET_STATE_LISTEN);
    /* The same bytes as TCP keep the raw state even with a PEERS attribute. */
    diag = sample_diag(AF_INET, 3);
    message_begin(&m, SOCK_DIAG_BY_FAMILY, &diag);
    message_add_attribute(&m, INET_DIAG_PEERS, peers, sizeof peers);
    assert_int_equal(sockdiag_parse_message(m.bytes, m.len, TCP, &e), 1);
    assert_int_equal(e.state, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listeners_and_unconnected_udp),
        cmocka_unit_test(test_connected_pair_and_accept_queue),
        cmocka_unit_test(test_time_wait),
        cmocka_unit_test(test_state_filter),
        cmocka_unit_test(test_port_filter_runs_in_the_kernel),
        cmocka_unit_test(test_port_filter_ranges_and_protocols),
        cmocka_unit_test(test_port_filter_many_ranges),
        cmocka_unit_test(test_family_filter),
        cmocka_unit_test(test_protocol_filter),
        cmocka_unit_test(test_bound_device),
        cmocka_unit_test(test_many_listeners),
        cmocka_unit_test(test_matches_ss),
        cmocka_unit_test(test_parse_ipv4_fields),
        cmocka_unit_test(test_parse_ipv6_v6only),
        cmocka_unit_test(test_parse_every_truncation_fails),
        cmocka_unit_test(test_parse_bad_attributes),
        cmocka_unit_test(test_parse_skips_other_messages),
        cmocka_unit_test(test_parse_unaligned),
        cmocka_unit_test(test_parse_sctp_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
