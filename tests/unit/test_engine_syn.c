/* test_engine_syn.c — the syn engine (src/lib/scan/engine_syn.c).
 * Pure pieces on hand-built packets: the cookie, the probe and its checksum (against an
 * independent sum), reply parsing and validation (a wrong ack, port or sender is not ours),
 * the BPF filters (attached to an AF_UNIX datagram socket: the kernel runs the very program on
 * crafted packets). As root: a raw socket with the filter sees no unrelated TCP traffic; ground
 * truth on 127.0.0.1 and ::1 (all 65535 ports, in a private network namespace so no other
 * process's listeners change the answer), repeated, one result per probe; and a veth pair of
 * namespaces where nftables drops, rejects with ICMP and resets: filtered/timeout,
 * filtered/icmp with the code, closed; nftables also sends some replies twice (dup), and each
 * probe is still reported once. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "registry/record.h"
#include "scan/engine.h"
#include "scan/syn_packet.h"
#include "scan/targets.h"
#include "scan/timing.h"

#define OUR_PORT 40123
#define THEIR_PORT 8080

static struct scan_address address_of(const char *text)
{
    struct scan_address a = { 0 };
    if (strchr(text, ':')) {
        a.family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, a.bytes), 1);
    } else {
        a.family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, a.bytes), 1);
    }
    return a;
}

static void put16(uint8_t *at, uint32_t value)
{
    at[0] = (uint8_t)(value >> 8);
    at[1] = (uint8_t)value;
}

static void put32(uint8_t *at, uint32_t value)
{
    put16(at, value >> 16);
    put16(at + 2, value & 0xffff);
}

/* A TCP header (20 bytes) at out. */
static size_t craft_tcp(uint8_t *out, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                        uint8_t flags)
{
    memset(out, 0, 20);
    put16(out, sport);
    put16(out + 2, dport);
    put32(out + 4, seq);
    put32(out + 8, ack);
    out[12] = 5 << 4;
    out[13] = flags;
    put16(out + 14, 65535);
    return 20;
}

/* An IPv4 header with ihl_words (5 + options) at out. */
static size_t craft_ipv4(uint8_t *out, const char *src, const char *dst, uint8_t protocol,
                         size_t payload, unsigned ihl_words, uint16_t fragment)
{
    size_t len = ihl_words * 4;
    memset(out, 0, len);
    out[0] = (uint8_t)(0x40 | ihl_words);
    put16(out + 2, (uint32_t)(len + payload));
    put16(out + 6, fragment);
    out[8] = 57;
    out[9] = protocol;
    struct scan_address s = address_of(src), d = address_of(dst);
    memcpy(out + 12, s.bytes, 4);
    memcpy(out + 16, d.bytes, 4);
    return len;
}

static size_t craft_v4_reply(uint8_t *out, const char *src, uint16_t sport, uint16_t dport,
                             uint32_t ack, uint8_t flags, unsigned ihl_words, uint16_t fragment)
{
    size_t ip = craft_ipv4(out, src, "10.0.0.1", IPPROTO_TCP, 20, ihl_words, fragment);
    return ip + craft_tcp(out + ip, sport, dport, 777, ack, flags);
}

/* ICMP destination unreachable (IPv4) quoting our SYN's first 8 bytes. */
static size_t craft_icmp4(uint8_t *out, uint8_t code, const char *target, uint16_t sport,
                          uint16_t dport, uint32_t seq)
{
    size_t ip = craft_ipv4(out, "10.9.9.9", "10.0.0.1", IPPROTO_ICMP, 8 + 20 + 8, 5, 0);
    uint8_t *icmp = out + ip;
    memset(icmp, 0, 8);
    icmp[0] = 3;
    icmp[1] = code;
    size_t quoted = craft_ipv4(icmp + 8, "10.0.0.1", target, IPPROTO_TCP, 24, 5, 0);
    uint8_t *segment = icmp + 8 + quoted;
    put16(segment, sport);
    put16(segment + 2, dport);
    put32(segment + 4, seq);
    return ip + 8 + quoted + 8;
}

/* ICMPv6 destination unreachable (from the ICMPv6 header, as a raw socket reads it). */
static size_t craft_icmp6(uint8_t *out, uint8_t type, uint8_t code, const char *target,
                          uint16_t sport, uint16_t dport, uint32_t seq, uint8_t next_header)
{
    memset(out, 0, 8 + 40 + 8);
    out[0] = type;
    out[1] = code;
    uint8_t *ip6 = out + 8;
    ip6[0] = 0x60;
    put16(ip6 + 4, 24);
    ip6[6] = next_header;
    ip6[7] = 64;
    struct scan_address s = address_of("fd00::1"), d = address_of(target);
    memcpy(ip6 + 8, s.bytes, 16);
    memcpy(ip6 + 24, d.bytes, 16);
    put16(out + 48, sport);
    put16(out + 50, dport);
    put32(out + 52, seq);
    return 8 + 40 + 8;
}

static struct syn_cookie_key test_key(void)
{
    return (struct syn_cookie_key){ .seed = UINT64_C(0x0123456789abcdef) };
}

/* ---- pure: cookie, probe, checksum ---- */

static void test_cookie_depends_on_every_field(void **state)
{
    (void)state;
    struct syn_cookie_key key = test_key(), other_key = { .seed = 42 };
    struct scan_address a = address_of("192.0.2.7"), b = address_of("192.0.2.8");
    struct scan_address v6 = address_of("2001:db8::7");
    uint32_t c = syn_cookie(&key, &a, 80, OUR_PORT);
    assert_int_equal(c, syn_cookie(&key, &a, 80, OUR_PORT));
    assert_int_not_equal(c, syn_cookie(&key, &b, 80, OUR_PORT));
    assert_int_not_equal(c, syn_cookie(&key, &a, 81, OUR_PORT));
    assert_int_not_equal(c, syn_cookie(&key, &a, 80, OUR_PORT + 1));
    assert_int_not_equal(c, syn_cookie(&other_key, &a, 80, OUR_PORT));
    assert_int_not_equal(syn_cookie(&key, &v6, 80, OUR_PORT),
                         syn_cookie(&key, &(struct scan_address){ .family = AF_INET6 }, 80, OUR_PORT));
}

/* RFC 1071 written differently from the library: 16-bit words via memcpy + ntohs. */
static uint16_t reference_checksum(const uint8_t *pseudo, size_t pseudo_len, const uint8_t *segment,
                                   size_t len)
{
    uint8_t all[128] = { 0 };
    memcpy(all, pseudo, pseudo_len);
    memcpy(all + pseudo_len, segment, len);
    uint64_t sum = 0;
    for (size_t i = 0; i < pseudo_len + len; i += 2) {
        uint16_t word;
        memcpy(&word, all + i, 2);
        sum += ntohs(word);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void check_probe(const char *source_text, const char *target_text)
{
    struct scan_address source = address_of(source_text), target = address_of(target_text);
    uint8_t packet[SYN_PROBE_LEN];
    syn_probe_build(packet, &source, &target, OUR_PORT, 443, 0xdeadbeef);
    assert_int_equal(packet[0] << 8 | packet[1], OUR_PORT);
    assert_int_equal(packet[2] << 8 | packet[3], 443);
    assert_int_equal((uint32_t)packet[4] << 24 | packet[5] << 16 | packet[6] << 8 | packet[7], 0xdeadbeef);
    assert_int_equal(packet[12] >> 4, SYN_PROBE_LEN / 4);
    assert_int_equal(packet[13], SYN_TCP_FLAG_SYN);
    assert_int_equal(packet[20], 2);                 /* MSS option */
    assert_int_equal(packet[22] << 8 | packet[23], SYN_PROBE_MSS);

    uint8_t pseudo[40] = { 0 };
    size_t alen = source.family == AF_INET ? 4 : 16, pseudo_len;
    memcpy(pseudo, source.bytes, alen);
    memcpy(pseudo + alen, target.bytes, alen);
    if (source.family == AF_INET) {
        pseudo[9] = IPPROTO_TCP;
        pseudo[11] = SYN_PROBE_LEN;
        pseudo_len = 12;
    } else {
        pseudo[35] = SYN_PROBE_LEN;
        pseudo[39] = IPPROTO_TCP;
        pseudo_len = 40;
    }
    uint16_t stored = (uint16_t)(packet[16] << 8 | packet[17]);
    uint8_t zeroed[SYN_PROBE_LEN];
    memcpy(zeroed, packet, sizeof zeroed);
    zeroed[16] = zeroed[17] = 0;
    assert_int_equal(stored, reference_checksum(pseudo, pseudo_len, zeroed, sizeof zeroed));
    /* A receiver summing everything, checksum included, gets zero. */
    assert_int_equal(reference_checksum(pseudo, pseudo_len, packet, sizeof zeroed), 0);
}

static void test_probe_layout_and_checksum(void **state)
{
    (void)state;
    check_probe("10.1.2.3", "192.0.2.200");
    check_probe("127.0.0.1", "127.0.0.1");
    check_probe("2001:db8::1", "2001:db8:ffff::abcd");
    check_probe("::1", "::1");
}

/* ---- pure: reply parsing and validation ---- */

static void test_v4_syn_ack_and_rst_are_ours(void **state)
{
    (void)state;
    struct syn_cookie_key key = test_key();
    struct scan_address target = address_of("192.0.2.7");
    uint32_t cookie = syn_cookie(&key, &target, THEIR_PORT, OUR_PORT);
    uint8_t packet[128];
    struct syn_reply reply;

    size_t len = craft_v4_reply(packet, "192.0.2.7", THEIR_PORT, OUR_PORT, cookie + 1,
                                SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK, 5, 0);
    assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, len, NULL, 0, &reply), 0);
    assert_int_equal(reply.kind, SYN_REPLY_SYN_ACK);
    assert_true(scan_address_equal(&reply.target, &target));
    assert_int_equal(reply.target_port, THEIR_PORT);
    assert_int_equal(reply.source_port, OUR_PORT);
    assert_int_equal(reply.ttl, 57);
    assert_true(syn_reply_is_ours(&key, &reply, OUR_PORT));

    /* IP options move the TCP header: still found. */
    len = craft_v4_reply(packet, "192.0.2.7", THEIR_PORT, OUR_PORT, cookie + 1,
                         SYN_TCP_FLAG_RST | SYN_TCP_FLAG_ACK, 7, 0);
    assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, len, NULL, 0, &reply), 0);
    assert_int_equal(reply.kind, SYN_REPLY_RST);
    assert_true(syn_reply_is_ours(&key, &reply, OUR_PORT));
}

static void test_wrong_ack_port_or_sender_is_ignored(void **state)
{
    (void)state;
    struct syn_cookie_key key = test_key();
    struct scan_address target = address_of("192.0.2.7");
    uint32_t cookie = syn_cookie(&key, &target, THEIR_PORT, OUR_PORT);
    uint8_t packet[128];
    struct syn_reply reply;
    const uint8_t synack = SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK;
    uint32_t bad_acks[] = { cookie, cookie + 2, cookie - 1, ~cookie, 0, 1 };
    for (size_t i = 0; i < sizeof bad_acks / sizeof bad_acks[0]; i++) {
        size_t len = craft_v4_reply(packet, "192.0.2.7", THEIR_PORT, OUR_PORT, bad_acks[i], synack, 5, 0);
        assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, len, NULL, 0, &reply), 0);
        assert_false(syn_reply_is_ours(&key, &reply, OUR_PORT));
    }
    /* The right ack, but from another host, from another port, or to another of our ports. */
    size_t len = craft_v4_reply(packet, "192.0.2.8", THEIR_PORT, OUR_PORT, cookie + 1, synack, 5, 0);
    assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, len, NULL, 0, &reply), 0);
    assert_false(syn_reply_is_ours(&key, &reply, OUR_PORT));
    len = craft_v4_reply(packet, "192.0.2.7", THEIR_PORT + 1, OUR_PORT, cookie + 1, synack, 5, 0);
    assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, len, NULL, 0, &reply), 0);
    assert_false(syn_reply_is_ours(&key, &reply, OUR_PORT));
    len = craft_v4_reply(packet, "192.0.2.7", THEIR_PORT, OUR_PORT + 1, cookie + 1, synack, 5, 0);
    assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, len, NULL, 0, &reply), 0);
    assert_false(syn_reply_is_ours(&key, &reply, OUR_PORT));
    /* Another scan's key. */
    struct syn_cookie_key other = { .seed = 1 };
    len = craft_v4_reply(packet, "192.0.2.7", THEIR_PORT, OUR_PORT, cookie + 1, synack, 5, 0);
    assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, len, NULL, 0, &reply), 0);
    assert_false(syn_reply_is_ours(&other, &reply, OUR_PORT));
}

static void test_non_replies_are_rejected(void **state)
{
    (void)state;
    uint8_t packet[128];
    struct syn_reply reply;
    /* A SYN, a bare ACK, an RST without ACK (cannot be matched), a FIN. */
    const uint8_t flags[] = { SYN_TCP_FLAG_SYN, SYN_TCP_FLAG_ACK, SYN_TCP_FLAG_RST,
                              SYN_TCP_FLAG_FIN | SYN_TCP_FLAG_ACK };
    for (size_t i = 0; i < sizeof flags; i++) {
        size_t len = craft_v4_reply(packet, "192.0.2.7", THEIR_PORT, OUR_PORT, 1, flags[i], 5, 0);
        assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, len, NULL, 0, &reply), -EINVAL);
    }
    /* Every truncation of a valid SYN-ACK. */
    size_t len = craft_v4_reply(packet, "192.0.2.7", THEIR_PORT, OUR_PORT, 1,
                                SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK, 6, 0);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, cut, NULL, 0, &reply), -EINVAL);
    assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, len, NULL, 0, &reply), 0);
    /* A non-first fragment. */
    len = craft_v4_reply(packet, "192.0.2.7", THEIR_PORT, OUR_PORT, 1,
                         SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK, 5, 0x0010);
    assert_int_equal(syn_reply_parse_tcp(AF_INET, packet, len, NULL, 0, &reply), -EINVAL);
    /* IPv6 without a sender. */
    craft_tcp(packet, THEIR_PORT, OUR_PORT, 1, 2, SYN_TCP_FLAG_RST | SYN_TCP_FLAG_ACK);
    assert_int_equal(syn_reply_parse_tcp(AF_INET6, packet, 20, NULL, 0, &reply), -EINVAL);
}

static void test_v6_reply(void **state)
{
    (void)state;
    struct syn_cookie_key key = test_key();
    struct scan_address target = address_of("2001:db8::5");
    uint32_t cookie = syn_cookie(&key, &target, THEIR_PORT, OUR_PORT);
    uint8_t packet[64];
    struct syn_reply reply;
    craft_tcp(packet, THEIR_PORT, OUR_PORT, 5, cookie + 1, SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK);
    assert_int_equal(syn_reply_parse_tcp(AF_INET6, packet, 20, &target, 63, &reply), 0);
    assert_int_equal(reply.kind, SYN_REPLY_SYN_ACK);
    assert_int_equal(reply.ttl, 63);
    assert_true(syn_reply_is_ours(&key, &reply, OUR_PORT));
    struct scan_address other = address_of("2001:db8::6");
    assert_int_equal(syn_reply_parse_tcp(AF_INET6, packet, 20, &other, 63, &reply), 0);
    assert_false(syn_reply_is_ours(&key, &reply, OUR_PORT));
    for (size_t cut = 0; cut < 20; cut++)
        assert_int_equal(syn_reply_parse_tcp(AF_INET6, packet, cut, &target, 63, &reply), -EINVAL);
}

static void test_icmp_quoting_a_probe(void **state)
{
    (void)state;
    struct syn_cookie_key key = test_key();
    struct scan_address target4 = address_of("192.0.2.9"), target6 = address_of("2001:db8::9");
    uint32_t cookie4 = syn_cookie(&key, &target4, THEIR_PORT, OUR_PORT);
    uint32_t cookie6 = syn_cookie(&key, &target6, THEIR_PORT, OUR_PORT);
    uint8_t packet[128];
    struct syn_reply reply;

    size_t len = craft_icmp4(packet, 13, "192.0.2.9", OUR_PORT, THEIR_PORT, cookie4);
    assert_int_equal(syn_reply_parse_icmp(AF_INET, packet, len, 0, &reply), 0);
    assert_int_equal(reply.kind, SYN_REPLY_ICMP);
    assert_int_equal(reply.icmp_type, 3);
    assert_int_equal(reply.icmp_code, 13);
    assert_true(scan_address_equal(&reply.target, &target4));  /* the quoted target, not the router */
    assert_int_equal(reply.target_port, THEIR_PORT);
    assert_true(syn_reply_is_ours(&key, &reply, OUR_PORT));
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(syn_reply_parse_icmp(AF_INET, packet, cut, 0, &reply), -EINVAL);
    len = craft_icmp4(packet, 3, "192.0.2.9", OUR_PORT, THEIR_PORT, cookie4 + 1);
    assert_int_equal(syn_reply_parse_icmp(AF_INET, packet, len, 0, &reply), 0);
    assert_false(syn_reply_is_ours(&key, &reply, OUR_PORT));

    len = craft_icmp6(packet, 1, 4, "2001:db8::9", OUR_PORT, THEIR_PORT, cookie6, IPPROTO_TCP);
    assert_int_equal(syn_reply_parse_icmp(AF_INET6, packet, len, 61, &reply), 0);
    assert_int_equal(reply.icmp_type, 1);
    assert_int_equal(reply.icmp_code, 4);
    assert_int_equal(reply.ttl, 61);
    assert_true(syn_reply_is_ours(&key, &reply, OUR_PORT));
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(syn_reply_parse_icmp(AF_INET6, packet, cut, 61, &reply), -EINVAL);
    /* Not a destination unreachable; not quoting TCP. */
    len = craft_icmp6(packet, 3, 0, "2001:db8::9", OUR_PORT, THEIR_PORT, cookie6, IPPROTO_TCP);
    assert_int_equal(syn_reply_parse_icmp(AF_INET6, packet, len, 61, &reply), -EINVAL);
    len = craft_icmp6(packet, 1, 4, "2001:db8::9", OUR_PORT, THEIR_PORT, cookie6, IPPROTO_UDP);
    assert_int_equal(syn_reply_parse_icmp(AF_INET6, packet, len, 61, &reply), -EINVAL);
}

/* ---- the BPF filters, run by the kernel on an AF_UNIX datagram socket ---- */

struct filter_case {
    uint8_t packet[128];
    size_t len;
    bool pass;
};

/* Send every case through a socketpair whose receiver has the filter; exactly the passing
 * ones must arrive, in order. */
static void run_filter_cases(int (*attach)(int, int, uint16_t), int family,
                             const struct filter_case *cases, size_t count)
{
    int pair[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, pair), 0);
    assert_int_equal(attach(pair[1], family, OUR_PORT), 0);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(send(pair[0], cases[i].packet, cases[i].len, 0), (ssize_t)cases[i].len);
    for (size_t i = 0; i < count; i++) {
        if (!cases[i].pass)
            continue;
        uint8_t got[256];
        ssize_t n = recv(pair[1], got, sizeof got, MSG_DONTWAIT);
        if (n != (ssize_t)cases[i].len || memcmp(got, cases[i].packet, cases[i].len) != 0)
            fail_msg("case %zu should have passed the filter", i);
    }
    uint8_t extra[256];
    ssize_t n = recv(pair[1], extra, sizeof extra, MSG_DONTWAIT);
    assert_int_equal(n, -1);                         /* nothing that should have been dropped */
    close(pair[0]);
    close(pair[1]);
}

static void test_tcp_filter_v4(void **state)
{
    (void)state;
    struct filter_case cases[8];
    const uint8_t sa = SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK, ra = SYN_TCP_FLAG_RST | SYN_TCP_FLAG_ACK;
    size_t i = 0;
    cases[i].len = craft_v4_reply(cases[i].packet, "10.0.0.2", 80, OUR_PORT, 1, sa, 5, 0);
    cases[i++].pass = true;
    cases[i].len = craft_v4_reply(cases[i].packet, "10.0.0.2", 81, OUR_PORT, 2, ra, 5, 0);
    cases[i++].pass = true;
    cases[i].len = craft_v4_reply(cases[i].packet, "10.0.0.2", 82, OUR_PORT, 3, sa, 8, 0);
    cases[i++].pass = true;                          /* with IP options */
    cases[i].len = craft_v4_reply(cases[i].packet, "10.0.0.2", 80, OUR_PORT + 1, 4, sa, 5, 0);
    cases[i++].pass = false;                         /* another port */
    cases[i].len = craft_v4_reply(cases[i].packet, "10.0.0.2", 80, OUR_PORT, 5, SYN_TCP_FLAG_SYN, 5, 0);
    cases[i++].pass = false;                         /* our own SYN shape */
    cases[i].len = craft_v4_reply(cases[i].packet, "10.0.0.2", 80, OUR_PORT, 6, SYN_TCP_FLAG_ACK, 5, 0);
    cases[i++].pass = false;                         /* data of a connection */
    cases[i].len = craft_v4_reply(cases[i].packet, "10.0.0.2", 80, OUR_PORT, 7, sa, 5, 0x0020);
    cases[i++].pass = false;                         /* a non-first fragment */
    cases[i].len = craft_v4_reply(cases[i].packet, "10.0.0.2", OUR_PORT, 80, 8, sa, 5, 0);
    cases[i++].pass = false;                         /* our port as the source */
    run_filter_cases(syn_filter_attach_tcp, AF_INET, cases, i);
}

static void test_tcp_filter_v6(void **state)
{
    (void)state;
    struct filter_case cases[5];
    size_t i = 0;
    cases[i].len = craft_tcp(cases[i].packet, 80, OUR_PORT, 0, 1, SYN_TCP_FLAG_SYN | SYN_TCP_FLAG_ACK);
    cases[i++].pass = true;
    cases[i].len = craft_tcp(cases[i].packet, 80, OUR_PORT, 0, 2, SYN_TCP_FLAG_RST);
    cases[i++].pass = true;
    cases[i].len = craft_tcp(cases[i].packet, 80, OUR_PORT - 1, 0, 3, SYN_TCP_FLAG_RST);
    cases[i++].pass = false;
    cases[i].len = craft_tcp(cases[i].packet, 80, OUR_PORT, 0, 4, SYN_TCP_FLAG_SYN);
    cases[i++].pass = false;
    cases[i].len = craft_tcp(cases[i].packet, 80, OUR_PORT, 0, 5, SYN_TCP_FLAG_ACK | SYN_TCP_FLAG_FIN);
    cases[i++].pass = false;
    run_filter_cases(syn_filter_attach_tcp, AF_INET6, cases, i);
}

static void test_icmp_filters(void **state)
{
    (void)state;
    struct filter_case v4[4];
    size_t i = 0;
    v4[i].len = craft_icmp4(v4[i].packet, 13, "10.0.0.2", OUR_PORT, 80, 1);
    v4[i++].pass = true;
    v4[i].len = craft_icmp4(v4[i].packet, 3, "10.0.0.2", OUR_PORT + 7, 80, 2);
    v4[i++].pass = false;                            /* another sender's probe */
    v4[i].len = craft_icmp4(v4[i].packet, 3, "10.0.0.2", OUR_PORT, 80, 3);
    v4[i].packet[20] = 11;                           /* time exceeded, not unreachable */
    v4[i++].pass = false;
    v4[i].len = craft_icmp4(v4[i].packet, 3, "10.0.0.2", OUR_PORT, 80, 4);
    v4[i].packet[20 + 8 + 9] = IPPROTO_UDP;          /* quoting UDP */
    v4[i++].pass = false;
    run_filter_cases(syn_filter_attach_icmp, AF_INET, v4, i);

    struct filter_case v6[4];
    i = 0;
    v6[i].len = craft_icmp6(v6[i].packet, 1, 1, "fd00::2", OUR_PORT, 80, 1, IPPROTO_TCP);
    v6[i++].pass = true;
    v6[i].len = craft_icmp6(v6[i].packet, 1, 4, "fd00::2", 9, 80, 2, IPPROTO_TCP);
    v6[i++].pass = false;
    v6[i].len = craft_icmp6(v6[i].packet, 128, 0, "fd00::2", OUR_PORT, 80, 3, IPPROTO_TCP);
    v6[i++].pass = false;
    v6[i].len = craft_icmp6(v6[i].packet, 1, 4, "fd00::2", OUR_PORT, 80, 4, IPPROTO_UDP);
    v6[i++].pass = false;
    run_filter_cases(syn_filter_attach_icmp, AF_INET6, v6, i);
}

/* ---- root: private network namespace ---- */

static int saved_netns = -1;

static int set_link_up(const char *name)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct ifreq ifr = { 0 };
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    close(fd);
    return rc;
}

/* Setup: a fresh network namespace with lo up, so the host's (and other tests') listeners do
 * not change the ground truth. Does nothing when not root (the test skips). */
static int private_netns_setup(void **state)
{
    (void)state;
    if (geteuid() != 0)
        return 0;
    saved_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved_netns < 0 || unshare(CLONE_NEWNET) < 0 || set_link_up("lo") < 0)
        return -1;
    return 0;
}

static int private_netns_teardown(void **state)
{
    (void)state;
    if (saved_netns >= 0) {
        if (setns(saved_netns, CLONE_NEWNET) < 0)
            return -1;
        close(saved_netns);
        saved_netns = -1;
    }
    return 0;
}

static int listen_on(const char *address_text, uint16_t port, bool v6only)
{
    struct scan_address address = address_of(address_text);
    struct sockaddr_storage ss;
    socklen_t len = scan_address_to_sockaddr(&address, port, &ss);
    int fd = socket(address.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int on = 1, v6 = v6only ? 1 : 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (address.family == AF_INET6)
        assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
    assert_int_equal(listen(fd, 64), 0);
    return fd;
}

static uint16_t port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A raw socket with the engine's filter for a reserved port must stay empty while an unrelated
 * TCP connection runs (a raw socket without it sees those packets: the test can fail), and
 * must receive the RST answering a SYN sent from that port. */
static void test_live_filter_passes_only_our_replies(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    int reserve = listen_on("127.0.0.1", 0, false);   /* a port nobody else uses */
    uint16_t our_port = port_of(reserve);
    close(reserve);
    reserve = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in bound = { .sin_family = AF_INET, .sin_port = htons(our_port) };
    assert_int_equal(bind(reserve, (struct sockaddr *)&bound, sizeof bound), 0);

    int filtered = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
    int unfiltered = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
    assert_true(filtered >= 0 && unfiltered >= 0);
    assert_int_equal(syn_filter_attach_tcp(filtered, AF_INET, our_port), 0);

    int server = listen_on("127.0.0.1", 0, false);
    struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(port_of(server)),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(client, (struct sockaddr *)&peer, sizeof peer), 0);
    int accepted = accept(server, NULL, NULL);
    assert_true(accepted >= 0);
    assert_int_equal(send(client, "hello", 5, 0), 5);
    char buf[512];
    assert_int_equal(recv(accepted, buf, sizeof buf, 0), 5);
    close(client);
    close(accepted);

    assert_true(recv(unfiltered, buf, sizeof buf, MSG_DONTWAIT) > 0);
    assert_int_equal(recv(filtered, buf, sizeof buf, MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);

    /* A SYN from our port to a closed port: the kernel's RST arrives and is ours. */
    struct syn_cookie_key key = { .seed = 99 };
    struct scan_address lo = address_of("127.0.0.1");
    uint16_t closed_port = port_of(server);
    close(server);
    uint8_t probe[SYN_PROBE_LEN];
    uint32_t cookie = syn_cookie(&key, &lo, closed_port, our_port);
    syn_probe_build(probe, &lo, &lo, our_port, closed_port, cookie);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(sendto(filtered, probe, sizeof probe, 0, (struct sockaddr *)&to, sizeof to),
                     (ssize_t)sizeof probe);
    struct pollfd pfd = { .fd = filtered, .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 1000), 1);
    ssize_t n = recv(filtered, buf, sizeof buf, 0);
    assert_true(n > 0);
    struct syn_reply reply;
    assert_int_equal(syn_reply_parse_tcp(AF_INET, (uint8_t *)buf, (size_t)n, NULL, 0, &reply), 0);
    assert_int_equal(reply.kind, SYN_REPLY_RST);
    assert_true(syn_reply_is_ours(&key, &reply, our_port));
    assert_int_equal(recv(filtered, buf, sizeof buf, MSG_DONTWAIT), -1);  /* not our SYN */
    close(filtered);
    close(unfiltered);
    close(reserve);
}

/* ---- running the engine ---- */

struct collected {
    uint32_t count[2][65536];          /* [0] IPv4, [1] IPv6 */
    uint8_t state[2][65536];
    uint8_t reason[2][65536];
    uint8_t icmp_type[2][65536], icmp_code[2][65536], ttl[2][65536];
    uint64_t total;
    uint64_t bad;                      /* a target that was not asked for, a wrong protocol */
    struct scan_address expect[2];
};

static void collect(void *ctx, const struct scan_result *r)
{
    struct collected *c = ctx;
    int fi = r->target.family == AF_INET ? 0 : 1;
    c->total++;
    if (!scan_address_equal(&r->target, &c->expect[fi]) || r->proto != REGISTRY_PROTO_TCP) {
        c->bad++;
        return;
    }
    c->count[fi][r->port]++;
    c->state[fi][r->port] = r->state;
    c->reason[fi][r->port] = r->reason;
    c->icmp_type[fi][r->port] = r->icmp_type;
    c->icmp_code[fi][r->port] = r->icmp_code;
    c->ttl[fi][r->port] = r->reply_ttl;
}

struct scan_options {
    const char *targets[2];
    const uint16_t *ports;
    size_t port_count;
    uint32_t threads, timeout_ms;
};

/* Scan, check the progress counters, return the seconds it took. */
static double run_syn(const struct scan_options *o, struct collected *c, struct scan_progress *progress)
{
    struct target_set set;
    struct pr_error err = { 0 };
    target_set_init(&set);
    for (int i = 0; i < 2 && o->targets[i]; i++) {
        assert_int_equal(target_set_add(&set, o->targets[i], &err), 0);
        struct scan_address a = address_of(o->targets[i]);
        c->expect[a.family == AF_INET ? 0 : 1] = a;
    }
    assert_int_equal(target_set_finish(&set, &err), 0);
    struct scan_job job = { .targets = &set, .ports = o->ports, .port_count = o->port_count,
                            .threads = o->threads, .timeout_ms = o->timeout_ms };
    assert_int_equal(getrandom(&job.seed, sizeof job.seed, 0), (ssize_t)sizeof job.seed);
    assert_int_equal(scan_job_prepare(&job, &err), 0);
    memset(progress, 0, sizeof *progress);
    struct scan_sink sink;
    scan_sink_init(&sink, collect, c, progress);
    uint64_t start = scan_now_ns();
    int rc = scan_engine_syn.run(&job, &sink, &err);
    double seconds = (double)(scan_now_ns() - start) / 1e9;
    if (rc != 0)
        fail_msg("syn run: %s", err.message);
    scan_sink_destroy(&sink);
    assert_int_equal(c->bad, 0);
    assert_int_equal(c->total, job.probe_count);
    assert_int_equal(atomic_load(&progress->sent), job.probe_count);
    assert_int_equal(atomic_load(&progress->done), job.probe_count);
    target_set_free(&set);
    return seconds;
}

static uint16_t *all_ports(size_t *count)
{
    uint16_t *ports = malloc(65535 * sizeof *ports);
    assert_non_null(ports);
    for (uint32_t p = 1; p <= 65535; p++)
        ports[p - 1] = (uint16_t)p;
    *count = 65535;
    return ports;
}

#define LISTENERS 12

/* Every port of 127.0.0.1 and ::1: exactly the listeners are open (a listener on ::1 only is
 * closed on 127.0.0.1 and the other way round; a dual-stack one is open on both), every other
 * port closed by an RST, one result per probe; three runs with the default thread count. */
static void test_loopback_ground_truth(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    int fds[3 * LISTENERS];
    bool open_port[2][65536] = { { false } };
    for (int i = 0; i < LISTENERS; i++) {
        fds[i] = listen_on("127.0.0.1", 0, false);
        open_port[0][port_of(fds[i])] = true;
        fds[LISTENERS + i] = listen_on("::1", 0, true);
        open_port[1][port_of(fds[LISTENERS + i])] = true;
        fds[2 * LISTENERS + i] = listen_on("::", 0, false);
        open_port[0][port_of(fds[2 * LISTENERS + i])] = true;
        open_port[1][port_of(fds[2 * LISTENERS + i])] = true;
    }
    size_t port_count;
    uint16_t *ports = all_ports(&port_count);
    struct collected *c = malloc(sizeof *c);
    assert_non_null(c);
    struct scan_progress progress;

    const struct { const char *targets[2]; const char *label; int repeat; } runs[] = {
        { { "127.0.0.1", NULL }, "127.0.0.1", 3 },
        { { "::1", NULL }, "::1", 1 },
        { { "127.0.0.1", "::1" }, "127.0.0.1 + ::1", 1 },
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        for (int rep = 0; rep < runs[r].repeat; rep++) {
            memset(c, 0, sizeof *c);
            struct scan_options o = { .targets = { runs[r].targets[0], runs[r].targets[1] },
                                      .ports = ports, .port_count = port_count };
            double seconds = run_syn(&o, c, &progress);
            printf("# syn %s ports 1-65535 (%u threads): %.3f s\n", runs[r].label,
                   scan_cpu_count(), seconds);
            for (int fi = 0; fi < 2; fi++) {
                if (c->expect[fi].family == 0)
                    continue;
                for (uint32_t p = 1; p <= 65535; p++) {
                    if (c->count[fi][p] != 1)
                        fail_msg("%s port %u: %u results", fi ? "::1" : "127.0.0.1", p, c->count[fi][p]);
                    uint8_t want_state = open_port[fi][p] ? SCAN_STATE_OPEN : SCAN_STATE_CLOSED;
                    uint8_t want_reason = open_port[fi][p] ? SCAN_REASON_SYN_ACK : SCAN_REASON_RST;
                    if (c->state[fi][p] != want_state || c->reason[fi][p] != want_reason)
                        fail_msg("%s port %u: %s (%s), want %s", fi ? "::1" : "127.0.0.1", p,
                                 scan_state_name(c->state[fi][p]), scan_reason_name(c->reason[fi][p]),
                                 scan_state_name(want_state));
                    if (c->ttl[fi][p] != 64)
                        fail_msg("port %u: reply ttl %u", p, c->ttl[fi][p]);
                }
            }
            assert_int_equal(atomic_load(&progress.open),
                             (c->expect[0].family ? 2 * LISTENERS : 0) + (c->expect[1].family ? 2 * LISTENERS : 0));
            assert_int_equal(atomic_load(&progress.retries), 0);
        }
    }
    /* One sender, as a comparison point for the timing. */
    memset(c, 0, sizeof *c);
    struct scan_options one = { .targets = { "127.0.0.1", NULL }, .ports = ports,
                                .port_count = port_count, .threads = 1 };
    printf("# syn 127.0.0.1 ports 1-65535 (1 thread): %.3f s\n", run_syn(&one, c, &progress));
    for (uint32_t p = 1; p <= 65535; p++)
        assert_int_equal(c->count[0][p], 1);
    for (int i = 0; i < 3 * LISTENERS; i++)
        close(fds[i]);
    free(ports);
    free(c);
}

/* ---- root: a veth pair of namespaces with nftables in the target's ---- */

#define PORT_OPEN 2201
#define PORT_DROP 2202
#define PORT_ADMIN 2203                /* reject with icmpx admin-prohibited */
#define PORT_UNREACH 2204              /* reject with icmp(v6) port-unreachable */
#define PORT_RESET 2205                /* reject with tcp reset */
#define PORT_DUPLICATE 2206            /* closed, every reply sent twice */
#define PORT_FIRST 2195
#define PORT_LAST 2215

static char ns_a[64], ns_b[64], nft_path[128];
static int pair_listeners[5] = { -1, -1, -1, -1, -1 };

static int run_command(const char *format, ...) __attribute__((format(printf, 1, 2)));
static int run_command(const char *format, ...)
{
    char command[1024];
    va_list ap;
    va_start(ap, format);
    vsnprintf(command, sizeof command, format, ap);
    va_end(ap);
    int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Namespaces left behind by a run that crashed (its pid is gone). */
static void remove_stale_namespaces(void)
{
    DIR *dir = opendir("/run/netns");
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        const char *name = entry->d_name;
        if (strncmp(name, "prscan-syn-", 11) != 0)
            continue;
        const char *dash = strrchr(name, '-');
        long pid = strtol(dash + 1, NULL, 10);
        if (pid > 0 && (pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        run_command("ip netns del %s 2>/dev/null", name);
    }
    closedir(dir);
}

static int netns_pair_teardown(void **state)
{
    (void)state;
    if (saved_netns >= 0) {
        setns(saved_netns, CLONE_NEWNET);
        close(saved_netns);
        saved_netns = -1;
    }
    for (int i = 0; i < 5; i++) {
        if (pair_listeners[i] >= 0)
            close(pair_listeners[i]);
        pair_listeners[i] = -1;
    }
    if (ns_a[0])
        run_command("ip netns del %s 2>/dev/null", ns_a);
    if (ns_b[0])
        run_command("ip netns del %s 2>/dev/null", ns_b);
    if (nft_path[0])
        unlink(nft_path);
    ns_a[0] = ns_b[0] = nft_path[0] = '\0';
    return 0;
}

static int enter_named_netns(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc;
}

/* A TCP connect to PORT_OPEN of address succeeds within 5 seconds. */
static bool reachable(const char *address_text)
{
    struct scan_address address = address_of(address_text);
    struct sockaddr_storage ss;
    socklen_t len = scan_address_to_sockaddr(&address, PORT_OPEN, &ss);
    for (int attempt = 0; attempt < 50; attempt++) {
        int fd = socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return false;
        int rc = connect(fd, (struct sockaddr *)&ss, len);
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        int error = 0;
        socklen_t error_len = sizeof error;
        if (rc < 0 && errno == EINPROGRESS && poll(&pfd, 1, 100) == 1)
            rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) == 0 && error == 0 ? 0 : -1;
        close(fd);
        if (rc == 0)
            return true;
        struct timespec pause = { 0, 20 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    return false;
}

static int netns_pair_setup(void **state)
{
    if (geteuid() != 0 || system("command -v ip >/dev/null && command -v nft >/dev/null") != 0)
        return 0;
    remove_stale_namespaces();
    snprintf(ns_a, sizeof ns_a, "prscan-syn-a-%d", (int)getpid());
    snprintf(ns_b, sizeof ns_b, "prscan-syn-b-%d", (int)getpid());
    snprintf(nft_path, sizeof nft_path, "/tmp/prscan-syn-%d.nft", (int)getpid());
    FILE *f = fopen(nft_path, "w");
    if (!f)
        goto fail;
    fprintf(f,
            "table inet prscan_syn {\n"
            "  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n"
            "    tcp dport %d drop\n"
            "    tcp dport %d reject with icmpx type admin-prohibited\n"
            "    meta nfproto ipv4 tcp dport %d reject with icmp type port-unreachable\n"
            "    meta nfproto ipv6 tcp dport %d reject with icmpv6 type port-unreachable\n"
            "    tcp dport %d reject with tcp reset\n"
            "  }\n"
            "}\n"
            /* Every reply of the open port, of one closed port and every ICMP error goes out
             * twice: the engine must report each probe once. */
            "table ip prscan_syn_dup4 {\n"
            "  chain output {\n"
            "    type filter hook output priority 0; policy accept;\n"
            "    tcp sport { %d, %d } dup to 10.231.7.1 device \"prs-b\"\n"
            "    icmp type destination-unreachable dup to 10.231.7.1 device \"prs-b\"\n"
            "  }\n"
            "}\n"
            "table ip6 prscan_syn_dup6 {\n"
            "  chain output {\n"
            "    type filter hook output priority 0; policy accept;\n"
            "    tcp sport { %d, %d } dup to fd5c:7::1 device \"prs-b\"\n"
            "    icmpv6 type destination-unreachable dup to fd5c:7::1 device \"prs-b\"\n"
            "  }\n"
            "}\n",
            PORT_DROP, PORT_ADMIN, PORT_UNREACH, PORT_UNREACH, PORT_RESET, PORT_OPEN, PORT_DUPLICATE,
            PORT_OPEN, PORT_DUPLICATE);
    fclose(f);
    if (run_command("ip netns add %s && ip netns add %s", ns_a, ns_b) != 0 ||
        run_command("ip -n %s link add prs-a type veth peer name prs-b netns %s", ns_a, ns_b) != 0 ||
        run_command("ip -n %s addr add 10.231.7.1/24 dev prs-a && "
                    "ip -n %s addr add fd5c:7::1/64 dev prs-a nodad && "
                    "ip -n %s link set lo up && ip -n %s link set prs-a up",
                    ns_a, ns_a, ns_a, ns_a) != 0 ||
        run_command("ip -n %s addr add 10.231.7.2/24 dev prs-b && "
                    "ip -n %s addr add fd5c:7::2/64 dev prs-b nodad && "
                    "ip -n %s link set lo up && ip -n %s link set prs-b up",
                    ns_b, ns_b, ns_b, ns_b) != 0 ||
        run_command("ip netns exec %s sysctl -q -w net.ipv4.icmp_ratelimit=0 "
                    "net.ipv6.icmp.ratelimit=0", ns_b) != 0 ||
        run_command("ip netns exec %s nft -f %s", ns_b, nft_path) != 0)
        goto fail;
    /* Listeners in B on every interesting port: without the firewall all would be open. */
    saved_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved_netns < 0 || enter_named_netns(ns_b) < 0)
        goto fail;
    const uint16_t ports[5] = { PORT_OPEN, PORT_DROP, PORT_ADMIN, PORT_UNREACH, PORT_RESET };
    for (int i = 0; i < 5; i++)
        pair_listeners[i] = listen_on("::", ports[i], false);
    /* A fresh veth link loses the first neighbour solicitations for a second or so: wait until
     * B answers a connect from A on both families, so the scan sees the firewall, not that. */
    if (enter_named_netns(ns_a) < 0 || !reachable("10.231.7.2") || !reachable("fd5c:7::2"))
        goto fail;
    if (setns(saved_netns, CLONE_NEWNET) < 0)
        goto fail;
    return 0;
fail:
    netns_pair_teardown(state);
    return -1;
}

static void check_pair_port(const struct collected *c, int fi, uint16_t port)
{
    uint8_t want_state = SCAN_STATE_CLOSED, want_reason = SCAN_REASON_RST, type = 0, code = 0;
    switch (port) {
    case PORT_OPEN:
        want_state = SCAN_STATE_OPEN;
        want_reason = SCAN_REASON_SYN_ACK;
        break;
    case PORT_DROP:
        want_state = SCAN_STATE_FILTERED;
        want_reason = SCAN_REASON_TIMEOUT;
        break;
    case PORT_ADMIN:
        want_state = SCAN_STATE_FILTERED;
        want_reason = SCAN_REASON_ICMP;
        type = fi == 0 ? 3 : 1;
        code = fi == 0 ? 13 : 1;
        break;
    case PORT_UNREACH:
        want_state = SCAN_STATE_FILTERED;
        want_reason = SCAN_REASON_ICMP;
        type = fi == 0 ? 3 : 1;
        code = fi == 0 ? 3 : 4;
        break;
    default:
        break;
    }
    const char *family = fi == 0 ? "IPv4" : "IPv6";
    if (c->count[fi][port] != 1)
        fail_msg("%s port %u: %u results", family, port, c->count[fi][port]);
    if (c->state[fi][port] != want_state || c->reason[fi][port] != want_reason)
        fail_msg("%s port %u: %s (%s), want %s (%s)", family, port,
                 scan_state_name(c->state[fi][port]), scan_reason_name(c->reason[fi][port]),
                 scan_state_name(want_state), scan_reason_name(want_reason));
    if (c->icmp_type[fi][port] != type || c->icmp_code[fi][port] != code)
        fail_msg("%s port %u: icmp %u/%u, want %u/%u", family, port, c->icmp_type[fi][port],
                 c->icmp_code[fi][port], type, code);
    if (want_reason != SCAN_REASON_TIMEOUT && c->ttl[fi][port] != 64)
        fail_msg("%s port %u: reply ttl %u", family, port, c->ttl[fi][port]);
}

static void test_netns_pair_firewall(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    if (!ns_a[0])
        skip();                        /* ip or nft missing */
    uint16_t ports[PORT_LAST - PORT_FIRST + 1];
    for (uint16_t p = PORT_FIRST; p <= PORT_LAST; p++)
        ports[p - PORT_FIRST] = p;
    struct collected *c = malloc(sizeof *c);
    assert_non_null(c);
    struct scan_progress progress;
    assert_int_equal(enter_named_netns(ns_a), 0);    /* the engine's threads start in A */
    for (int rep = 0; rep < 3; rep++) {
        memset(c, 0, sizeof *c);
        struct scan_options o = { .targets = { "10.231.7.2", "fd5c:7::2" }, .ports = ports,
                                  .port_count = sizeof ports / sizeof ports[0], .timeout_ms = 300 };
        double seconds = run_syn(&o, c, &progress);
        printf("# syn netns pair, %zu probes: %.3f s\n", 2 * o.port_count, seconds);
        if (getenv("SYN_TEST_VERBOSE"))
            for (int fi = 0; fi < 2; fi++)
                for (uint16_t p = PORT_FIRST; p <= PORT_LAST; p++)
                    printf("# %s port %u: %u x %s (%s) icmp %u/%u ttl %u\n", fi ? "IPv6" : "IPv4", p,
                           c->count[fi][p], scan_state_name(c->state[fi][p]),
                           scan_reason_name(c->reason[fi][p]), c->icmp_type[fi][p],
                           c->icmp_code[fi][p], c->ttl[fi][p]);
        for (int fi = 0; fi < 2; fi++)
            for (uint16_t p = PORT_FIRST; p <= PORT_LAST; p++)
                check_pair_port(c, fi, p);
        /* The dropped port was sent twice per family (one retry), nothing else was. */
        assert_int_equal(atomic_load(&progress.retries), 2);
        assert_int_equal(atomic_load(&progress.open), 2);
    }
    assert_int_equal(setns(saved_netns, CLONE_NEWNET), 0);
    free(c);
}

/* usable(): 0 as root; -EPERM naming CAP_NET_RAW for an unprivileged user. */
static void test_usable(void **state)
{
    (void)state;
    struct pr_error err = { 0 };
    if (geteuid() != 0) {
        int fd = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
        if (fd >= 0) {
            close(fd);
            skip();                    /* not root but CAP_NET_RAW */
        }
        assert_int_equal(scan_engine_syn.usable(&err), -EPERM);
        assert_non_null(strstr(err.message, "CAP_NET_RAW"));
        assert_ptr_not_equal(scan_engine_default_tcp(), &scan_engine_syn);
        return;
    }
    assert_int_equal(scan_engine_syn.usable(&err), 0);
    assert_ptr_equal(scan_engine_default_tcp(), &scan_engine_syn);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        struct pr_error child_err = { 0 };
        int rc = scan_engine_syn.usable(&child_err);
        _exit(rc == -EPERM && strstr(child_err.message, "CAP_NET_RAW") ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_depends_on_every_field),
        cmocka_unit_test(test_probe_layout_and_checksum),
        cmocka_unit_test(test_v4_syn_ack_and_rst_are_ours),
        cmocka_unit_test(test_wrong_ack_port_or_sender_is_ignored),
        cmocka_unit_test(test_non_replies_are_rejected),
        cmocka_unit_test(test_v6_reply),
        cmocka_unit_test(test_icmp_quoting_a_probe),
        cmocka_unit_test(test_tcp_filter_v4),
        cmocka_unit_test(test_tcp_filter_v6),
        cmocka_unit_test(test_icmp_filters),
        cmocka_unit_test(test_usable),
        cmocka_unit_test_setup_teardown(test_live_filter_passes_only_our_replies,
                                        private_netns_setup, private_netns_teardown),
        cmocka_unit_test_setup_teardown(test_loopback_ground_truth, private_netns_setup,
                                        private_netns_teardown),
        cmocka_unit_test_setup_teardown(test_netns_pair_firewall, netns_pair_setup,
                                        netns_pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
