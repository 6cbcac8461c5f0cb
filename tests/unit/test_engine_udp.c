/* test_engine_udp.c — unit tests for the udp scan engine (src/lib/scan/engine_udp.c) and its
 * payloads (udp_payloads.h). Real sockets: echo listeners and one silent listener on random
 * ports of 127.0.0.1 and ::1 inside a 2000-port range scanned three times (answering → open,
 * silent → open|filtered, every other port closed by ICMP port unreachable); DNS, NTP and SNMP
 * responders that answer only well-formed requests prove the payloads; a pair of network
 * namespaces joined by veth with nftables drop/reject rules (root only) checks filtered and
 * open|filtered and, with the kernel's ICMP rate limit left on, that no closed port is
 * reported as silence. Also prints how long a 1-65535 scan of 127.0.0.1 takes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "registry/record.h"
#include "scan/engine.h"
#include "scan/targets.h"
#include "scan/timing.h"
#include "scan/udp_payloads.h"

#define RANGE_PORTS 2000

/* ------------------------------------------------------------------ helpers ----- */

static uint32_t test_random(void)
{
    static uint64_t state;
    if (state == 0)
        state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)scan_now_ns();
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 11);
}

struct collected {
    struct scan_result *items;
    size_t count, capacity;
};

static void collect(void *ctx, const struct scan_result *result)
{
    struct collected *c = ctx;
    if (c->count == c->capacity) {
        c->capacity = c->capacity ? c->capacity * 2 : 256;
        c->items = realloc(c->items, c->capacity * sizeof *c->items);
        assert_non_null(c->items);
    }
    c->items[c->count++] = *result;
}

struct scan_run {
    struct collected results;
    struct scan_progress progress;
    struct pr_error err;
    int rc;
    double seconds;
};

/* Scan targets x ports with the udp engine; tune (may be NULL) adjusts the job first. */
static void run_scan(struct scan_run *run, const char *const *targets, size_t target_count,
                     const uint16_t *ports, size_t port_count, uint64_t seed,
                     void (*tune)(struct scan_job *job))
{
    memset(run, 0, sizeof *run);
    struct target_set set;
    target_set_init(&set);
    for (size_t i = 0; i < target_count; i++)
        assert_int_equal(target_set_add(&set, targets[i], &run->err), 0);
    assert_int_equal(target_set_finish(&set, &run->err), 0);

    struct scan_job job;
    memset(&job, 0, sizeof job);
    job.targets = &set;
    job.ports = ports;
    job.port_count = port_count;
    job.seed = seed;
    job.shard_count = 1;
    if (tune)
        tune(&job);
    assert_int_equal(scan_job_prepare(&job, &run->err), 0);

    struct scan_sink sink;
    scan_sink_init(&sink, collect, &run->results, &run->progress);
    uint64_t start = scan_now_ns();
    run->rc = scan_engine_udp.run(&job, &sink, &run->err);
    run->seconds = (double)(scan_now_ns() - start) / 1e9;
    scan_sink_destroy(&sink);
    target_set_free(&set);
}

static void scan_run_free(struct scan_run *run)
{
    free(run->results.items);
    run->results.items = NULL;
}

static const struct scan_result *find_result(const struct scan_run *run, int family,
                                             uint16_t port)
{
    for (size_t i = 0; i < run->results.count; i++)
        if (run->results.items[i].port == port && run->results.items[i].target.family == family)
            return &run->results.items[i];
    return NULL;
}

static socklen_t make_sockaddr(int family, const char *address, uint16_t port,
                               struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)out;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        assert_int_equal(inet_pton(AF_INET, address, &in->sin_addr), 1);
        return sizeof *in;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    assert_int_equal(inet_pton(AF_INET6, address, &in6->sin6_addr), 1);
    return sizeof *in6;
}

/* A UDP socket bound to address:port; -errno when the bind fails. */
static int bind_udp(int family, const char *address, uint16_t port)
{
    struct sockaddr_storage sa;
    socklen_t len = make_sockaddr(family, address, port, &sa);
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* ------------------------------------------------ responders (echo, DNS, NTP, SNMP) ----- */

/* Writes the answer to query into out; 0 = stay silent (not a request it understands). */
typedef size_t (*answer_fn)(const uint8_t *query, size_t len, uint8_t *out);

struct responder {
    int fds[8];
    answer_fn answers[8];
    size_t count;
    int stop[2];
    pthread_t thread;
    _Atomic unsigned answered, ignored;
};

static size_t answer_echo(const uint8_t *query, size_t len, uint8_t *out)
{
    memcpy(out, query, len);
    return len == 0 ? SIZE_MAX : len;   /* an empty datagram is echoed as an empty one */
}

static void *responder_loop(void *arg)
{
    struct responder *r = arg;
    struct pollfd polls[9];
    for (;;) {
        for (size_t i = 0; i < r->count; i++)
            polls[i] = (struct pollfd){ .fd = r->fds[i], .events = POLLIN };
        polls[r->count] = (struct pollfd){ .fd = r->stop[0], .events = POLLIN };
        if (poll(polls, r->count + 1, -1) < 0)
            continue;
        if (polls[r->count].revents)
            return NULL;
        for (size_t i = 0; i < r->count; i++) {
            if (!polls[i].revents)
                continue;
            uint8_t query[2048], answer[2048];
            struct sockaddr_storage from;
            socklen_t from_len = sizeof from;
            ssize_t n = recvfrom(r->fds[i], query, sizeof query, MSG_DONTWAIT,
                                 (struct sockaddr *)&from, &from_len);
            if (n < 0)
                continue;
            size_t len = r->answers[i](query, (size_t)n, answer);
            if (len == 0) {
                atomic_fetch_add(&r->ignored, 1);
                continue;
            }
            if (len == SIZE_MAX)
                len = 0;
            sendto(r->fds[i], answer, len, 0, (struct sockaddr *)&from, from_len);
            atomic_fetch_add(&r->answered, 1);
        }
    }
}

static void responder_add(struct responder *r, int fd, answer_fn answer)
{
    assert_true(r->count < 8);
    r->fds[r->count] = fd;
    r->answers[r->count] = answer;
    r->count++;
}

static void responder_start(struct responder *r)
{
    assert_int_equal(pipe2(r->stop, O_CLOEXEC), 0);
    assert_int_equal(pthread_create(&r->thread, NULL, responder_loop, r), 0);
}

static void responder_stop(struct responder *r)
{
    assert_int_equal(write(r->stop[1], "x", 1), 1);
    pthread_join(r->thread, NULL);
    close(r->stop[0]);
    close(r->stop[1]);
    for (size_t i = 0; i < r->count; i++)
        close(r->fds[i]);
}

/* DNS: a standard query with one question and nothing else (the test's own parser). */
static size_t answer_dns(const uint8_t *q, size_t len, uint8_t *out)
{
    if (len < 12 + 5 || (q[2] & 0x80) || ((q[2] >> 3) & 0xf) != 0)
        return 0;
    unsigned qd = (unsigned)(q[4] << 8 | q[5]), an = (unsigned)(q[6] << 8 | q[7]);
    unsigned ns = (unsigned)(q[8] << 8 | q[9]), ar = (unsigned)(q[10] << 8 | q[11]);
    if (qd != 1 || an || ns || ar)
        return 0;
    size_t at = 12;
    while (at < len && q[at] != 0) {
        if (q[at] > 63)
            return 0;
        at += 1u + q[at];
    }
    if (at + 5 != len)                 /* root byte, qtype, qclass, and nothing after */
        return 0;
    unsigned qclass = (unsigned)(q[at + 3] << 8 | q[at + 4]);
    if (qclass != 1 && qclass != 3)
        return 0;
    memcpy(out, q, len);
    out[2] = 0x84;                     /* QR, AA */
    out[3] = 0x00;
    out[7] = 1;                        /* one answer: ". NS a.root-servers.net." */
    static const uint8_t rr[] = { 0, 0, 2, 0, 1, 0, 0, 0x0e, 0x10, 0, 20,
                                  1, 'a', 12, 'r', 'o', 'o', 't', '-', 's', 'e', 'r', 'v', 'e',
                                  'r', 's', 3, 'n', 'e', 't', 0 };
    memcpy(out + len, rr, sizeof rr);
    return len + sizeof rr;
}

/* NTP: a 48-byte client request (mode 3, version 1-4) → a mode-4 reply with origin = its
 * transmit timestamp. */
static size_t answer_ntp(const uint8_t *q, size_t len, uint8_t *out)
{
    unsigned version = (q[0] >> 3) & 7;
    if (len != 48 || (q[0] & 7) != 3 || version < 1 || version > 4)
        return 0;
    memset(out, 0, 48);
    out[0] = (uint8_t)(version << 3 | 4);
    out[1] = 1;                        /* stratum 1 */
    memcpy(out + 12, "GPS\0", 4);
    memcpy(out + 24, q + 40, 8);       /* origin = client's transmit */
    out[40] = 0xe9;                    /* some transmit time */
    return 48;
}

/* The test's own BER reader (short and long form lengths). */
static bool tlv(const uint8_t **at, size_t *left, uint8_t *tag, const uint8_t **value,
                size_t *value_len)
{
    if (*left < 2)
        return false;
    *tag = (*at)[0];
    size_t length = (*at)[1], header = 2;
    if (length & 0x80) {
        size_t bytes = length & 0x7f;
        if (bytes == 0 || bytes > 2 || *left < 2 + bytes)
            return false;
        length = 0;
        for (size_t i = 0; i < bytes; i++)
            length = length << 8 | (*at)[2 + i];
        header += bytes;
    }
    if (length > *left - header)
        return false;
    *value = *at + header;
    *value_len = length;
    *at += header + length;
    *left -= header + length;
    return true;
}

static const uint8_t sys_descr_oid[] = { 0x2b, 6, 1, 2, 1, 1, 1, 0 };

/* Parse an SNMPv1 get-request for sysDescr.0 with community "public"; its request-id. */
static bool parse_snmp_get(const uint8_t *q, size_t len, int64_t *request_id)
{
    const uint8_t *at = q, *msg, *v, *pdu, *list, *bind;
    size_t left = len, msg_len, v_len, pdu_len, list_len, bind_len;
    uint8_t tag;
    if (!tlv(&at, &left, &tag, &msg, &msg_len) || tag != 0x30 || left != 0)
        return false;
    if (!tlv(&msg, &msg_len, &tag, &v, &v_len) || tag != 0x02 || v_len != 1 || v[0] > 1)
        return false;
    if (!tlv(&msg, &msg_len, &tag, &v, &v_len) || tag != 0x04 || v_len != 6 ||
        memcmp(v, "public", 6) != 0)
        return false;
    if (!tlv(&msg, &msg_len, &tag, &pdu, &pdu_len) || tag != 0xa0 || msg_len != 0)
        return false;
    if (!tlv(&pdu, &pdu_len, &tag, &v, &v_len) || tag != 0x02 || v_len < 1 || v_len > 4)
        return false;
    int64_t id = (v[0] & 0x80) ? -1 : 0;
    for (size_t i = 0; i < v_len; i++)
        id = id * 256 + v[i];
    *request_id = id;
    for (int i = 0; i < 2; i++)        /* error-status, error-index: 0 */
        if (!tlv(&pdu, &pdu_len, &tag, &v, &v_len) || tag != 0x02 || v_len != 1 || v[0] != 0)
            return false;
    if (!tlv(&pdu, &pdu_len, &tag, &list, &list_len) || tag != 0x30 || pdu_len != 0)
        return false;
    if (!tlv(&list, &list_len, &tag, &bind, &bind_len) || tag != 0x30 || list_len != 0)
        return false;
    if (!tlv(&bind, &bind_len, &tag, &v, &v_len) || tag != 0x06 ||
        v_len != sizeof sys_descr_oid || memcmp(v, sys_descr_oid, v_len) != 0)
        return false;
    return tlv(&bind, &bind_len, &tag, &v, &v_len) && tag == 0x05 && v_len == 0 &&
           bind_len == 0;
}

/* tag, length (short form), content */
static size_t ber_put(uint8_t *out, uint8_t tag, const uint8_t *content, size_t len)
{
    out[0] = tag;
    out[1] = (uint8_t)len;
    memmove(out + 2, content, len);
    return 2 + len;
}

/* SNMP: GetResponse with sysDescr.0 = "portreg test agent" for a valid get-request. */
static size_t answer_snmp(const uint8_t *q, size_t len, uint8_t *out)
{
    int64_t request_id;
    if (!parse_snmp_get(q, len, &request_id))
        return 0;
    static const char descr[] = "portreg test agent";
    uint8_t bind[64], list[80], pdu[128], msg[160];
    size_t n = 0;
    n += ber_put(bind + n, 0x06, sys_descr_oid, sizeof sys_descr_oid);
    n += ber_put(bind + n, 0x04, (const uint8_t *)descr, sizeof descr - 1);
    size_t list_len = ber_put(list, 0x30, bind, n);
    uint8_t id_bytes[4] = { (uint8_t)(request_id >> 24), (uint8_t)(request_id >> 16),
                            (uint8_t)(request_id >> 8), (uint8_t)request_id };
    static const uint8_t zero = 0;
    size_t p = 0;
    p += ber_put(pdu + p, 0x02, id_bytes, 4);
    p += ber_put(pdu + p, 0x02, &zero, 1);
    p += ber_put(pdu + p, 0x02, &zero, 1);
    p += ber_put(pdu + p, 0x30, list, list_len);
    size_t m = 0;
    m += ber_put(msg + m, 0x02, &zero, 1);
    m += ber_put(msg + m, 0x04, (const uint8_t *)"public", 6);
    m += ber_put(msg + m, 0xa2, pdu, p);
    return ber_put(out, 0x30, msg, m);
}

/* ---------------------------------------------------------------- payloads ----- */

static void test_payload_table_by_port(void **state)
{
    (void)state;
    assert_string_equal(udp_payload_for_port(53)->name, "dns");
    assert_string_equal(udp_payload_for_port(123)->name, "ntp");
    assert_string_equal(udp_payload_for_port(161)->name, "snmp");
    assert_string_equal(udp_payload_for_port(54)->name, "empty");
    assert_string_equal(udp_payload_for_port(0)->name, "empty");
    assert_ptr_equal(udp_payload_find("dns"), udp_payload_for_port(53));
    assert_null(udp_payload_find("nope"));
    uint8_t buf[UDP_PAYLOAD_MAX];
    assert_int_equal(udp_payload_for_port(40000)->make(buf, 7), 0);
    for (size_t i = 0; i < udp_payload_count; i++)
        assert_true(udp_payloads[i].make(buf, 0xdeadbeef) <= UDP_PAYLOAD_MAX);
}

static void test_payload_dns_is_a_root_ns_query(void **state)
{
    (void)state;
    const struct udp_payload *dns = udp_payload_find("dns");
    uint8_t q[UDP_PAYLOAD_MAX];
    size_t len = dns->make(q, 0x12345678);
    assert_int_equal(len, 17);
    uint16_t id = (uint16_t)(q[0] << 8 | q[1]);
    assert_int_equal(id, udp_payload_dns_id(0x12345678));
    assert_int_equal(q[2] & 0x80, 0);                  /* a query */
    assert_int_equal((q[2] >> 3) & 0xf, 0);            /* opcode QUERY */
    assert_int_equal(q[4] << 8 | q[5], 1);             /* one question */
    assert_int_equal(q[6] | q[7] | q[8] | q[9] | q[10] | q[11], 0);
    assert_int_equal(q[12], 0);                        /* qname: the root */
    assert_int_equal(q[13] << 8 | q[14], 2);           /* NS */
    assert_int_equal(q[15] << 8 | q[16], 1);           /* IN */
    /* the id follows the cookie */
    uint8_t other[UDP_PAYLOAD_MAX];
    dns->make(other, 0x12345679);
    assert_memory_not_equal(q, other, 2);
    assert_memory_equal(q + 2, other + 2, 15);

    /* our responder's answer validates; a wrong id, a query or a stub do not */
    uint8_t reply[512];
    size_t reply_len = answer_dns(q, len, reply);
    assert_true(reply_len > len);
    assert_true(dns->validate(reply, reply_len, 0x12345678));
    assert_false(dns->validate(reply, reply_len, 0x12345679));
    assert_false(dns->validate(q, len, 0x12345678));
    assert_false(dns->validate(reply, 11, 0x12345678));
}

static void test_payload_ntp_is_a_client_request(void **state)
{
    (void)state;
    const struct udp_payload *ntp = udp_payload_find("ntp");
    uint8_t q[UDP_PAYLOAD_MAX];
    assert_int_equal(ntp->make(q, 0xa1b2c3d4), 48);
    assert_int_equal(q[0] >> 6, 0);                    /* LI: no warning */
    assert_int_equal((q[0] >> 3) & 7, 4);              /* version 4 */
    assert_int_equal(q[0] & 7, 3);                     /* mode 3: client */
    uint32_t transmit = (uint32_t)q[40] << 24 | (uint32_t)q[41] << 16 |
                        (uint32_t)q[42] << 8 | q[43];
    assert_int_equal(transmit, 0xa1b2c3d4u);
    uint8_t reply[64];
    assert_int_equal(answer_ntp(q, 48, reply), 48);
    assert_true(ntp->validate(reply, 48, 0xa1b2c3d4));
    assert_false(ntp->validate(reply, 48, 0xa1b2c3d5)); /* origin is not our transmit */
    assert_false(ntp->validate(q, 48, 0xa1b2c3d4));     /* an echo is not a server reply */
    assert_false(ntp->validate(reply, 47, 0xa1b2c3d4));
}

static void test_payload_snmp_is_a_sysdescr_get(void **state)
{
    (void)state;
    const struct udp_payload *snmp = udp_payload_find("snmp");
    for (uint32_t cookie = 0; cookie < 2000000000u; cookie += 123456789u) {
        uint8_t q[UDP_PAYLOAD_MAX];
        size_t len = snmp->make(q, cookie);
        int64_t request_id = 0;
        assert_true(parse_snmp_get(q, len, &request_id));
        assert_int_equal(request_id, udp_payload_snmp_request_id(cookie));
        assert_true(request_id > 0);
        uint8_t reply[256];
        size_t reply_len = answer_snmp(q, len, reply);
        assert_true(reply_len > 0);
        assert_true(snmp->validate(reply, reply_len, cookie));
        assert_false(snmp->validate(reply, reply_len, cookie + 1));
        assert_false(snmp->validate(q, len, cookie));          /* a request, not a response */
        assert_false(snmp->validate(reply, reply_len - 25, cookie)); /* truncated */
    }
}

/* ------------------------------------------------------------ loopback scans ----- */

struct range_fixture {
    int family;
    const char *address;
    uint16_t base;
    uint16_t answering[3];
    uint16_t silent;
    bool foreign[RANGE_PORTS];         /* already bound by someone else: not asserted */
    uint16_t ports[RANGE_PORTS];
    struct responder echo;
    int silent_fd;
};

static bool is_answering(const struct range_fixture *f, uint16_t port)
{
    for (size_t i = 0; i < 3; i++)
        if (f->answering[i] == port)
            return true;
    return false;
}

/* Listeners at random free ports of a random 2000-port range below the ephemeral range. */
static void range_fixture_start(struct range_fixture *f, int family, const char *address)
{
    memset(f, 0, sizeof *f);
    f->family = family;
    f->address = address;
    f->base = (uint16_t)(10000 + test_random() % 18000);
    for (size_t i = 0; i < RANGE_PORTS; i++)
        f->ports[i] = (uint16_t)(f->base + i);
    size_t placed = 0;
    while (placed < 4) {
        uint16_t port = (uint16_t)(f->base + test_random() % RANGE_PORTS);
        if (is_answering(f, port) || port == f->silent)
            continue;
        int fd = bind_udp(family, address, port);
        if (fd < 0)
            continue;
        if (placed < 3) {
            f->answering[placed] = port;
            responder_add(&f->echo, fd, answer_echo);
        } else {
            f->silent = port;
            f->silent_fd = fd;
        }
        placed++;
    }
    for (size_t i = 0; i < RANGE_PORTS; i++) {
        uint16_t port = f->ports[i];
        if (is_answering(f, port) || port == f->silent)
            continue;
        int fd = bind_udp(family, address, port);
        if (fd < 0)
            f->foreign[i] = true;
        else
            close(fd);
    }
    responder_start(&f->echo);
}

static void range_fixture_stop(struct range_fixture *f)
{
    responder_stop(&f->echo);
    close(f->silent_fd);
}

static void assert_range_scan(const struct range_fixture *f, const struct scan_run *run)
{
    assert_int_equal(run->rc, 0);
    assert_int_equal(run->results.count, RANGE_PORTS);       /* one result per probe */
    assert_int_equal(atomic_load(&run->progress.sent), RANGE_PORTS);
    assert_int_equal(atomic_load(&run->progress.done), RANGE_PORTS);
    static unsigned char seen[65536];
    memset(seen, 0, sizeof seen);
    uint8_t unreach_type = f->family == AF_INET ? 3 : 1;
    uint8_t unreach_code = f->family == AF_INET ? 3 : 4;
    unsigned open = 0, closed = 0, skipped = 0;
    for (size_t i = 0; i < run->results.count; i++) {
        const struct scan_result *r = &run->results.items[i];
        char address[64];
        assert_int_equal(r->target.family, f->family);
        assert_string_equal(scan_address_format(&r->target, address, sizeof address), f->address);
        assert_int_equal(r->proto, REGISTRY_PROTO_UDP);
        assert_true(r->port >= f->base && r->port < f->base + RANGE_PORTS);
        assert_int_equal(seen[r->port]++, 0);                  /* never twice */
        if (f->foreign[r->port - f->base]) {
            skipped++;
            continue;
        }
        if (is_answering(f, r->port)) {
            assert_string_equal(scan_state_name(r->state), "open");
            assert_int_equal(r->reason, SCAN_REASON_UDP_RESPONSE);
            assert_true(r->rtt_us < 1000000);
            assert_int_equal(r->reply_ttl, f->family == AF_INET ? 64 : 64);
            open++;
        } else if (r->port == f->silent) {
            assert_string_equal(scan_state_name(r->state), "open|filtered");
            assert_int_equal(r->reason, SCAN_REASON_TIMEOUT);
            assert_int_equal(r->rtt_us, 0);
        } else {
            if (r->state != SCAN_STATE_CLOSED)
                print_message("port %u: %s %s %u/%u error %d\n", r->port,
                              scan_state_name(r->state), scan_reason_name(r->reason),
                              r->icmp_type, r->icmp_code, r->error);
            assert_string_equal(scan_state_name(r->state), "closed");
            assert_int_equal(r->reason, SCAN_REASON_ICMP);
            assert_int_equal(r->icmp_type, unreach_type);
            assert_int_equal(r->icmp_code, unreach_code);
            closed++;
        }
    }
    assert_int_equal(open, 3);
    assert_int_equal(closed + skipped, RANGE_PORTS - 4);
    /* the silent port was asked again (default: one retry) */
    assert_true(atomic_load(&run->progress.retries) >= 1);
}

static void scan_range_three_times(int family, const char *address)
{
    struct range_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    range_fixture_start(f, family, address);
    for (uint64_t round = 0; round < 3; round++) {
        struct scan_run run;
        run_scan(&run, &address, 1, f->ports, RANGE_PORTS, round * 7919 + 1, NULL);
        print_message("# udp scan of %s ports %u-%u (round %lu): %.3f s\n", address, f->base,
                      f->base + RANGE_PORTS - 1, (unsigned long)round + 1, run.seconds);
        assert_range_scan(f, &run);
        scan_run_free(&run);
    }
    /* the echo listeners really answered every probe they got */
    assert_true(atomic_load(&f->echo.answered) >= 9);
    range_fixture_stop(f);
    free(f);
}

static void test_scan_loopback_ipv4_range(void **state)
{
    (void)state;
    scan_range_three_times(AF_INET, "127.0.0.1");
}

static void test_scan_loopback_ipv6_range(void **state)
{
    (void)state;
    int probe = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_storage sa;
    socklen_t len = make_sockaddr(AF_INET6, "::1", 0, &sa);
    bool have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&sa, len) == 0;
    if (probe >= 0)
        close(probe);
    if (!have_v6) {
        print_message("skipped: no ::1 here\n");
        skip();
    }
    scan_range_three_times(AF_INET6, "::1");
}

/* With --rate 1000, 300 probes cannot finish in much under 0.3 s. */
static void tune_rate_1000(struct scan_job *job)
{
    job->rate_pps = 1000;
}

static void test_scan_honours_rate(void **state)
{
    (void)state;
    uint16_t ports[300];
    uint16_t base = (uint16_t)(10000 + test_random() % 18000);
    for (size_t i = 0; i < 300; i++)
        ports[i] = (uint16_t)(base + i);
    const char *target = "127.0.0.1";
    struct scan_run run;
    run_scan(&run, &target, 1, ports, 300, 5, tune_rate_1000);
    assert_int_equal(run.rc, 0);
    assert_int_equal(run.results.count, 300);
    print_message("# 300 probes at --rate 1000: %.3f s\n", run.seconds);
    assert_true(run.seconds >= 0.25);
    assert_true(run.seconds < 3.0);
    scan_run_free(&run);
}

/* DNS, NTP and SNMP responders on a random 127/8 address answer only well-formed requests:
 * the engine's payloads make them answer. */
static void tune_banners(struct scan_job *job)
{
    job->banners = true;
}

static void test_scan_payloads_reach_real_responders(void **state)
{
    (void)state;
    char address[32];
    snprintf(address, sizeof address, "127.%u.%u.%u", 1 + test_random() % 250,
             test_random() % 250, 1 + test_random() % 250);
    int dns = bind_udp(AF_INET, address, 53);
    if (dns == -EACCES) {
        print_message("skipped: binding port 53 needs root\n");
        skip();
    }
    assert_true(dns >= 0);
    int ntp = bind_udp(AF_INET, address, 123);
    int snmp = bind_udp(AF_INET, address, 161);
    assert_true(ntp >= 0 && snmp >= 0);
    uint16_t closed = (uint16_t)(10000 + test_random() % 18000);
    int check = bind_udp(AF_INET, address, closed);
    assert_true(check >= 0);
    close(check);

    struct responder r;
    memset(&r, 0, sizeof r);
    responder_add(&r, dns, answer_dns);
    responder_add(&r, ntp, answer_ntp);
    responder_add(&r, snmp, answer_snmp);
    responder_start(&r);

    /* control: an empty datagram gets no answer from any of them */
    for (size_t i = 0; i < 3; i++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_storage sa;
        uint16_t port = i == 0 ? 53 : i == 1 ? 123 : 161;
        socklen_t len = make_sockaddr(AF_INET, address, port, &sa);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, len), 0);
        assert_int_equal(send(fd, "", 0, 0), 0);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 200), 0);
        close(fd);
    }
    assert_int_equal(atomic_load(&r.ignored), 3);
    assert_int_equal(atomic_load(&r.answered), 0);

    uint16_t ports[] = { 53, 123, 161, closed };
    const char *target = address;
    struct scan_run run;
    run_scan(&run, &target, 1, ports, 4, 99, tune_banners);
    responder_stop(&r);
    assert_int_equal(run.rc, 0);
    assert_int_equal(run.results.count, 4);
    assert_int_equal(atomic_load(&r.ignored), 3);              /* every probe was well-formed */
    assert_int_equal(atomic_load(&r.answered), 3);
    for (size_t i = 0; i < 3; i++) {
        const struct scan_result *res = find_result(&run, AF_INET, ports[i]);
        assert_non_null(res);
        assert_string_equal(scan_state_name(res->state), "open");
        assert_int_equal(res->reason, SCAN_REASON_UDP_RESPONSE);
        assert_true(res->banner_len > 0);
    }
    const struct scan_result *dns_res = find_result(&run, AF_INET, 53);
    assert_int_equal(dns_res->banner_len, 17 + 31);
    assert_int_equal(dns_res->banner[2] & 0x80, 0x80);
    const struct scan_result *ntp_res = find_result(&run, AF_INET, 123);
    assert_int_equal(ntp_res->banner_len, 48);
    assert_int_equal(ntp_res->banner[0] & 7, 4);
    const struct scan_result *snmp_res = find_result(&run, AF_INET, 161);
    assert_non_null(memmem(snmp_res->banner, snmp_res->banner_len, "portreg test agent", 18));
    const struct scan_result *closed_res = find_result(&run, AF_INET, closed);
    assert_string_equal(scan_state_name(closed_res->state), "closed");
    scan_run_free(&run);
}

/* How long a full 1-65535 scan of 127.0.0.1 takes (printed; not asserted beyond sanity). */
static void test_scan_all_ports_timing(void **state)
{
    (void)state;
    static uint16_t ports[65535];
    for (size_t i = 0; i < 65535; i++)
        ports[i] = (uint16_t)(i + 1);
    const char *target = "127.0.0.1";
    struct scan_run run;
    run_scan(&run, &target, 1, ports, 65535, 1, NULL);
    assert_int_equal(run.rc, 0);
    assert_int_equal(run.results.count, 65535);
    unsigned counts[SCAN_STATE_COUNT] = { 0 };
    for (size_t i = 0; i < run.results.count; i++)
        counts[run.results.items[i].state]++;
    print_message("# udp scan of 127.0.0.1 ports 1-65535: %.3f s (%.0f probes/s): "
                  "%u open, %u closed, %u filtered, %u open|filtered, %u error; %lu resends\n",
                  run.seconds, 65535 / run.seconds, counts[SCAN_STATE_OPEN],
                  counts[SCAN_STATE_CLOSED], counts[SCAN_STATE_FILTERED],
                  counts[SCAN_STATE_OPEN_FILTERED], counts[SCAN_STATE_ERROR],
                  (unsigned long)atomic_load(&run.progress.retries));
    assert_int_equal(counts[SCAN_STATE_ERROR], 0);
    scan_run_free(&run);
}

/* ------------------------------------------------------- network namespaces ----- */

#define NS_V4_A "198.18.71.1"
#define NS_V4_B "198.18.71.2"
#define NS_V6_A "fd00:7072:7564::1"
#define NS_V6_B "fd00:7072:7564::2"

struct netns_pair {
    char a[64], b[64], veth_a[16], veth_b[16];
    bool created_a, created_b;
    pid_t echo_pid;                    /* the answering listener inside B */
    uint16_t open_port, drop_port, reject_port, closed[12];
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char command[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(command, sizeof command, fmt, ap);
    va_end(ap);
    int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int netns_setup(void **state)
{
    struct netns_pair *pair = calloc(1, sizeof *pair);
    if (!pair)
        return -1;
    pid_t pid = getpid();
    snprintf(pair->a, sizeof pair->a, "prscan-udp-a-%d", (int)pid);
    snprintf(pair->b, sizeof pair->b, "prscan-udp-b-%d", (int)pid);
    snprintf(pair->veth_a, sizeof pair->veth_a, "pu-a-%d", (int)pid % 10000000);
    snprintf(pair->veth_b, sizeof pair->veth_b, "pu-b-%d", (int)pid % 10000000);
    *state = pair;
    return 0;
}

/* Removes whatever the test created, even after a failed assertion. */
static int netns_teardown(void **state)
{
    struct netns_pair *pair = *state;
    if (pair->echo_pid > 0) {
        kill(pair->echo_pid, SIGKILL);
        waitpid(pair->echo_pid, NULL, 0);
    }
    if (pair->created_a)
        sh("ip netns del %s 2>/dev/null", pair->a);  /* the veth pair goes with it */
    if (pair->created_b)
        sh("ip netns del %s 2>/dev/null", pair->b);
    free(pair);
    return 0;
}

static int enter_netns(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* A child inside B: an echo listener on [::]:port (IPv4 and IPv6). */
static pid_t start_echo_in_netns(const char *name, uint16_t port)
{
    int ready[2];
    assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        if (enter_netns(name) < 0)
            _exit(1);
        int fd = socket(AF_INET6, SOCK_DGRAM, 0);
        int off = 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        struct sockaddr_in6 any = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
        if (fd < 0 || bind(fd, (struct sockaddr *)&any, sizeof any) < 0)
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        for (;;) {
            uint8_t buf[2048];
            struct sockaddr_storage from;
            socklen_t from_len = sizeof from;
            ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
            if (n >= 0)
                sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, from_len);
        }
    }
    close(ready[1]);
    char byte;
    assert_int_equal(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    return pid;
}

/* Run the scan in a forked child that entered namespace A; results come back through a pipe
 * (count, then the structs), the elapsed seconds last. */
static void run_scan_in_netns(struct scan_run *run, const char *name, const char *const *targets,
                              size_t target_count, const uint16_t *ports, size_t port_count,
                              void (*prepare)(void), void (*tune)(struct scan_job *job))
{
    int out[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(out[0]);
        if (enter_netns(name) < 0)
            _exit(2);
        if (prepare)
            prepare();
        struct scan_run child;
        run_scan(&child, targets, target_count, ports, port_count, 42, tune);
        uint64_t count = child.results.count;
        bool ok = write(out[1], &count, sizeof count) == sizeof count;
        for (size_t i = 0; ok && i < count; i++)
            ok = write(out[1], &child.results.items[i], sizeof child.results.items[i]) ==
                 (ssize_t)sizeof child.results.items[i];
        ok = ok && write(out[1], &child.seconds, sizeof child.seconds) == sizeof child.seconds;
        ok = ok && write(out[1], &child.rc, sizeof child.rc) == sizeof child.rc;
        scan_run_free(&child);
        _exit(ok ? 0 : 3);
    }
    close(out[1]);
    memset(run, 0, sizeof *run);
    FILE *in = fdopen(out[0], "r");
    assert_non_null(in);
    uint64_t count = 0;
    assert_int_equal(fread(&count, sizeof count, 1, in), 1);
    run->results.items = calloc(count ? count : 1, sizeof *run->results.items);
    run->results.count = count;
    assert_int_equal(fread(run->results.items, sizeof *run->results.items, count, in), count);
    assert_int_equal(fread(&run->seconds, sizeof run->seconds, 1, in), 1);
    assert_int_equal(fread(&run->rc, sizeof run->rc, 1, in), 1);
    fclose(in);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Runs in the scanning child inside A (the sockets live until the child exits). */
static uint16_t own_base;
static void bind_own_silent_listeners(void)
{
    for (size_t i = 7; i < 3000; i += 300)
        if (bind_udp(AF_INET, NS_V4_A, (uint16_t)(own_base + i)) < 0)
            _exit(4);
}

static void tune_rate_2000(struct scan_job *job)
{
    job->rate_pps = 2000;
}

static void assert_state(const struct scan_run *run, int family, uint16_t port,
                         const char *state, uint8_t reason, uint8_t type, uint8_t code)
{
    const struct scan_result *r = find_result(run, family, port);
    assert_non_null(r);
    if (strcmp(scan_state_name(r->state), state) != 0 || r->reason != reason)
        print_message("%s port %u: %s %s %u/%u (wanted %s %s)\n",
                      family == AF_INET ? "ipv4" : "ipv6", port, scan_state_name(r->state),
                      scan_reason_name(r->reason), r->icmp_type, r->icmp_code, state,
                      scan_reason_name(reason));
    assert_string_equal(scan_state_name(r->state), state);
    assert_int_equal(r->reason, reason);
    if (reason == SCAN_REASON_ICMP) {
        assert_int_equal(r->icmp_type, type);
        assert_int_equal(r->icmp_code, code);
    }
}

static void test_scan_netns_firewall(void **state)
{
    struct netns_pair *pair = *state;
    if (geteuid() != 0 || sh("command -v ip nft >/dev/null 2>&1") != 0) {
        print_message("skipped: needs root, ip and nft\n");
        skip();
    }
    assert_int_equal(sh("ip netns add %s", pair->a), 0);
    pair->created_a = true;
    assert_int_equal(sh("ip netns add %s", pair->b), 0);
    pair->created_b = true;
    assert_int_equal(sh("ip link add %s netns %s type veth peer name %s netns %s", pair->veth_a,
                        pair->a, pair->veth_b, pair->b), 0);
    /* No DAD on the fresh veths: a tentative link-local address delays the first neighbour
     * solicitation by about a second, which is not what this test is about. */
    assert_int_equal(sh("ip netns exec %s sysctl -qw net.ipv6.conf.%s.accept_dad=0 && "
                        "ip netns exec %s sysctl -qw net.ipv6.conf.%s.accept_dad=0",
                        pair->a, pair->veth_a, pair->b, pair->veth_b), 0);
    assert_int_equal(sh("ip -n %s addr add " NS_V4_A "/24 dev %s && "
                        "ip -n %s addr add " NS_V6_A "/64 dev %s nodad && "
                        "ip -n %s link set %s up && ip -n %s link set lo up",
                        pair->a, pair->veth_a, pair->a, pair->veth_a, pair->a, pair->veth_a,
                        pair->a), 0);
    assert_int_equal(sh("ip -n %s addr add " NS_V4_B "/24 dev %s && "
                        "ip -n %s addr add " NS_V6_B "/64 dev %s nodad && "
                        "ip -n %s link set %s up && ip -n %s link set lo up",
                        pair->b, pair->veth_b, pair->b, pair->veth_b, pair->b, pair->veth_b,
                        pair->b), 0);

    pair->open_port = (uint16_t)(10000 + test_random() % 10000);
    pair->drop_port = (uint16_t)(pair->open_port + 1);
    pair->reject_port = (uint16_t)(pair->open_port + 2);
    for (size_t i = 0; i < 12; i++)
        pair->closed[i] = (uint16_t)(pair->open_port + 10 + 7 * i);
    assert_int_equal(sh("printf 'table inet prscan {\\n chain input {\\n"
                        "  type filter hook input priority 0; policy accept;\\n"
                        "  udp dport %u drop\\n"
                        "  udp dport %u reject with icmpx type admin-prohibited\\n }\\n}\\n'"
                        " | ip netns exec %s nft -f -",
                        pair->drop_port, pair->reject_port, pair->b), 0);
    pair->echo_pid = start_echo_in_netns(pair->b, pair->open_port);

    /* 1: B's per-peer ICMP limit off (allowed inside a test namespace): every state. */
    assert_int_equal(sh("ip netns exec %s sysctl -qw net.ipv4.icmp_ratelimit=0 "
                        "net.ipv6.icmp.ratelimit=0", pair->b), 0);
    uint16_t ports[8] = { pair->open_port, pair->drop_port, pair->reject_port };
    for (size_t i = 0; i < 5; i++)
        ports[3 + i] = pair->closed[i];
    const char *targets[] = { NS_V4_B, NS_V6_B };
    struct scan_run run;
    run_scan_in_netns(&run, pair->a, targets, 2, ports, 8, NULL, NULL);
    print_message("# netns scan, B's ICMP rate limit off: %.3f s\n", run.seconds);
    assert_int_equal(run.rc, 0);
    assert_int_equal(run.results.count, 16);
    for (int f = 0; f < 2; f++) {
        int family = f == 0 ? AF_INET : AF_INET6;
        assert_state(&run, family, pair->open_port, "open", SCAN_REASON_UDP_RESPONSE, 0, 0);
        assert_state(&run, family, pair->drop_port, "open|filtered", SCAN_REASON_TIMEOUT, 0, 0);
        /* icmpx admin-prohibited: ICMP 3/13, ICMPv6 1/1 */
        assert_state(&run, family, pair->reject_port, "filtered", SCAN_REASON_ICMP,
                     f == 0 ? 3 : 1, f == 0 ? 13 : 1);
        for (size_t i = 0; i < 5; i++)
            assert_state(&run, family, pair->closed[i], "closed", SCAN_REASON_ICMP,
                         f == 0 ? 3 : 1, f == 0 ? 3 : 4);
        assert_true(find_result(&run, family, pair->open_port)->rtt_us > 0);
    }
    scan_run_free(&run);

    /* 2: B's default limits (IPv4: burst 6 then 1/s per peer; IPv6: 10/s). 9 ICMP-answering
     * ports per family: without adapting, some closed ports would come back as silence. */
    assert_int_equal(sh("ip netns exec %s sysctl -qw net.ipv4.icmp_ratelimit=1000 "
                        "net.ipv6.icmp.ratelimit=100", pair->b), 0);
    uint16_t many[11] = { pair->open_port, pair->drop_port, pair->reject_port };
    for (size_t i = 0; i < 8; i++)
        many[3 + i] = pair->closed[i];
    run_scan_in_netns(&run, pair->a, targets, 2, many, 11, NULL, NULL);
    print_message("# netns scan, B's default ICMP rate limits: %.3f s\n", run.seconds);
    assert_int_equal(run.rc, 0);
    assert_int_equal(run.results.count, 22);
    for (int f = 0; f < 2; f++) {
        int family = f == 0 ? AF_INET : AF_INET6;
        assert_state(&run, family, pair->open_port, "open", SCAN_REASON_UDP_RESPONSE, 0, 0);
        assert_state(&run, family, pair->drop_port, "open|filtered", SCAN_REASON_TIMEOUT, 0, 0);
        assert_state(&run, family, pair->reject_port, "filtered", SCAN_REASON_ICMP,
                     f == 0 ? 3 : 1, f == 0 ? 13 : 1);
        for (size_t i = 0; i < 8; i++)
            assert_state(&run, family, pair->closed[i], "closed", SCAN_REASON_ICMP,
                         f == 0 ? 3 : 1, f == 0 ? 3 : 4);
    }
    scan_run_free(&run);

    /* 3: A scans its own veth address (routed through lo, so exempt from the limits) at
     * 2000 probes/s: 3000 ports, 10 of them silent listeners. Our own address must not be
     * paced for its silences amid ICMP errors (that would take far longer than 3000 / 2000 s
     * plus one timeout and a retry). */
    own_base = (uint16_t)(pair->open_port + 1000);
    static uint16_t own[3000];
    for (size_t i = 0; i < 3000; i++)
        own[i] = (uint16_t)(own_base + i);
    const char *own_target = NS_V4_A;
    run_scan_in_netns(&run, pair->a, &own_target, 1, own, 3000, bind_own_silent_listeners,
                      tune_rate_2000);
    print_message("# netns scan of its own address, 3000 ports at 2000/s, 10 silent: %.3f s\n",
                  run.seconds);
    assert_int_equal(run.rc, 0);
    assert_int_equal(run.results.count, 3000);
    for (size_t i = 0; i < 3000; i++) {
        if (i % 300 == 7)
            assert_state(&run, AF_INET, own[i], "open|filtered", SCAN_REASON_TIMEOUT, 0, 0);
        else
            assert_state(&run, AF_INET, own[i], "closed", SCAN_REASON_ICMP, 3, 3);
    }
    assert_true(run.seconds < 4.0);
    scan_run_free(&run);
}

static void test_engine_identity(void **state)
{
    (void)state;
    assert_ptr_equal(scan_engine_find("udp"), &scan_engine_udp);
    assert_int_equal(scan_engine_udp.proto, REGISTRY_PROTO_UDP);
    struct pr_error err = { 0 };
    assert_int_equal(scan_engine_udp.usable(&err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_identity),
        cmocka_unit_test(test_payload_table_by_port),
        cmocka_unit_test(test_payload_dns_is_a_root_ns_query),
        cmocka_unit_test(test_payload_ntp_is_a_client_request),
        cmocka_unit_test(test_payload_snmp_is_a_sysdescr_get),
        cmocka_unit_test(test_scan_loopback_ipv4_range),
        cmocka_unit_test(test_scan_loopback_ipv6_range),
        cmocka_unit_test(test_scan_honours_rate),
        cmocka_unit_test(test_scan_payloads_reach_real_responders),
        cmocka_unit_test_setup_teardown(test_scan_netns_firewall, netns_setup, netns_teardown),
        cmocka_unit_test(test_scan_all_ports_timing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
