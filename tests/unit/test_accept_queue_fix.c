/* test_accept_queue_fix.c — the accept-queue correction of scan results, over synthetic socket
 * tables: a silent TCP port of this host whose listener has a full queue is open; a listener
 * with room, one bound to another address, a remote target, UDP, a non-timeout result and a
 * failed dump are left alone; IPv4 reaches a dual-stack [::] listener but not a v6only one. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "registry/record.h"
#include "scan/accept_queue_fix.h"

/* A socket table answering queries as sock_diag does: by protocol, state and local port. */
struct table {
    const struct socket_entry *items;
    size_t count;
    unsigned dumps;           /* how many dumps were asked for */
    bool fail;
};

static int table_dump(void *user, const struct sockdiag_query *q, struct socket_list *out,
                      struct pr_error *err)
{
    struct table *t = user;
    t->dumps++;
    if (t->fail)
        return pr_error_set(err, -EPROTONOSUPPORT, "no sock_diag");
    for (size_t i = 0; i < t->count; i++) {
        const struct socket_entry *s = &t->items[i];
        if (q->protos && !(q->protos & (1u << s->proto)))
            continue;
        if (q->states && !(q->states & (1u << s->state)))
            continue;
        if (q->local_ports && !portspec_contains(q->local_ports, s->local_port, s->proto))
            continue;
        struct socket_entry *e = socket_list_append(out);
        if (!e)
            return -ENOMEM;
        *e = *s;
    }
    return 0;
}

static struct socket_entry listener(int family, const char *address, uint16_t port,
                                    uint32_t waiting, uint32_t backlog)
{
    struct socket_entry s = { .proto = REGISTRY_PROTO_TCP, .family = (uint8_t)family,
                              .state = SOCKET_STATE_LISTEN, .local_port = port,
                              .recv_queue = waiting, .send_queue = backlog };
    assert_int_equal(inet_pton(family, address, s.local_addr), 1);
    return s;
}

static struct scan_result silent(int family, const char *address, uint16_t port)
{
    struct scan_result r = { .port = port, .proto = REGISTRY_PROTO_TCP,
                             .state = SCAN_STATE_FILTERED, .reason = SCAN_REASON_TIMEOUT };
    r.target.family = (uint8_t)family;
    assert_int_equal(inet_pton(family, address, r.target.bytes), 1);
    return r;
}

/* This host: 192.0.2.7 (and loopback, always). */
static struct scan_address host_items[1];
static struct host_addresses host = { host_items, 1 };

static int setup(void **state)
{
    (void)state;
    host_items[0].family = AF_INET;
    inet_pton(AF_INET, "192.0.2.7", host_items[0].bytes);
    return 0;
}

static void test_full_queue_is_open(void **state)
{
    (void)state;
    struct socket_entry sockets[] = {
        listener(AF_INET, "0.0.0.0", 8080, 129, 128),      /* full */
        listener(AF_INET, "0.0.0.0", 8081, 3, 128),        /* room left */
        listener(AF_INET, "127.0.0.1", 8082, 200, 128),    /* full, loopback only */
    };
    struct table t = { sockets, 3, 0, false };
    struct accept_queue_fix fix;
    accept_queue_fix_init(&fix, &host, table_dump, &t);

    struct scan_result r = silent(AF_INET, "192.0.2.7", 8080);
    assert_true(accept_queue_fix_apply(&fix, &r));
    assert_int_equal(r.state, SCAN_STATE_OPEN);
    assert_int_equal(r.reason, SCAN_REASON_ACCEPT_QUEUE_FULL);

    r = silent(AF_INET, "192.0.2.7", 8081);
    assert_false(accept_queue_fix_apply(&fix, &r));
    assert_int_equal(r.state, SCAN_STATE_FILTERED);

    r = silent(AF_INET, "192.0.2.7", 8082);     /* the full listener does not accept there */
    assert_false(accept_queue_fix_apply(&fix, &r));
    r = silent(AF_INET, "127.0.0.1", 8082);     /* but on loopback it does */
    assert_true(accept_queue_fix_apply(&fix, &r));
    assert_int_equal(fix.corrected, 2);
}

static void test_only_what_can_be_wrong(void **state)
{
    (void)state;
    struct socket_entry sockets[] = { listener(AF_INET, "0.0.0.0", 8080, 129, 128) };
    struct table t = { sockets, 1, 0, false };
    struct accept_queue_fix fix;
    accept_queue_fix_init(&fix, &host, table_dump, &t);

    struct scan_result r = silent(AF_INET, "198.51.100.1", 8080);   /* not this host */
    assert_false(accept_queue_fix_apply(&fix, &r));
    assert_int_equal(t.dumps, 0);
    r = silent(AF_INET, "192.0.2.7", 8080);
    r.reason = SCAN_REASON_ICMP;                                     /* an answer: a firewall */
    assert_false(accept_queue_fix_apply(&fix, &r));
    r = silent(AF_INET, "192.0.2.7", 8080);
    r.proto = REGISTRY_PROTO_UDP;
    assert_false(accept_queue_fix_apply(&fix, &r));
    assert_int_equal(t.dumps, 0);
    /* a port without a listener costs no per-port dump: one listener dump for all */
    for (uint16_t port = 9000; port < 9100; port++) {
        r = silent(AF_INET, "192.0.2.7", port);
        assert_false(accept_queue_fix_apply(&fix, &r));
    }
    assert_int_equal(t.dumps, 1);
    assert_int_equal(fix.corrected, 0);
}

static void test_dual_stack_and_v6only(void **state)
{
    (void)state;
    struct socket_entry sockets[] = {
        listener(AF_INET6, "::", 7000, 11, 10),
        listener(AF_INET6, "::", 7001, 11, 10),
    };
    sockets[1].v6only = true;
    struct table t = { sockets, 2, 0, false };
    struct accept_queue_fix fix;
    accept_queue_fix_init(&fix, &host, table_dump, &t);
    struct scan_result r = silent(AF_INET, "192.0.2.7", 7000);
    assert_true(accept_queue_fix_apply(&fix, &r));
    r = silent(AF_INET, "192.0.2.7", 7001);
    assert_false(accept_queue_fix_apply(&fix, &r));
    r = silent(AF_INET6, "::1", 7001);
    assert_true(accept_queue_fix_apply(&fix, &r));
}

static void test_failed_dump_changes_nothing(void **state)
{
    (void)state;
    struct socket_entry sockets[] = { listener(AF_INET, "0.0.0.0", 8080, 129, 128) };
    struct table t = { sockets, 1, 0, true };
    struct accept_queue_fix fix;
    accept_queue_fix_init(&fix, &host, table_dump, &t);
    struct scan_result r = silent(AF_INET, "192.0.2.7", 8080);
    assert_false(accept_queue_fix_apply(&fix, &r));
    assert_int_equal(r.state, SCAN_STATE_FILTERED);
    /* the listener set is unknown, so every port asks (and the per-port dump fails too) */
    assert_int_equal(t.dumps, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_queue_is_open),
        cmocka_unit_test(test_only_what_can_be_wrong),
        cmocka_unit_test(test_dual_stack_and_v6only),
        cmocka_unit_test(test_failed_dump_changes_nothing),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
