/* test_targets.c — unit tests for the scan's target list (src/lib/scan/targets.c).
 * Table-driven: every accepted form with the exact merged ranges and count it yields, every
 * error with its exact code, column and message; then merging (no address twice), exclusions,
 * the family filter, the size limit, -iL files (comments, a bad line's line:column, stdin),
 * host names (localhost, an unresolvable name, numeric_only) and get/find round trips over a
 * mixed IPv4/IPv6 set with 128-bit carries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scan/targets.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static void add_or_fail(struct target_set *set, const char *spec)
{
    struct pr_error err = { 0 };
    int r = target_set_add(set, spec, &err);
    if (r != 0)
        fail_msg("target_set_add(\"%s\") = %d: %s", spec, r, err.message);
}

static void exclude_or_fail(struct target_set *set, const char *spec)
{
    struct pr_error err = { 0 };
    int r = target_set_exclude(set, spec, &err);
    if (r != 0)
        fail_msg("target_set_exclude(\"%s\") = %d: %s", spec, r, err.message);
}

static void finish_or_fail(struct target_set *set)
{
    struct pr_error err = { 0 };
    int r = target_set_finish(set, &err);
    if (r != 0)
        fail_msg("target_set_finish = %d: %s", r, err.message);
    assert_true(set->finished);
}

/* The merged ranges of a finished set as "first-last first-last". */
static const char *ranges_text(const struct target_set *set, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < set->count && used < size; i++) {
        char first[INET6_ADDRSTRLEN], last[INET6_ADDRSTRLEN];
        scan_address_format(&set->ranges[i].first, first, sizeof first);
        scan_address_format(&set->ranges[i].last, last, sizeof last);
        used += (size_t)snprintf(buf + used, size - used, "%s%s-%s", i ? " " : "", first, last);
    }
    return buf;
}

static struct scan_address address(const char *text)
{
    struct scan_address out = { 0 };
    if (inet_pton(AF_INET, text, out.bytes) == 1) {
        out.family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, out.bytes), 1);
        out.family = AF_INET6;
    }
    return out;
}

static const char *format(const struct scan_address *a, char buf[INET6_ADDRSTRLEN])
{
    return scan_address_format(a, buf, INET6_ADDRSTRLEN);
}

/* Every index maps to an address that find() maps back to the same index, in strictly
 * ascending (family, address) order: no address is listed twice. */
static void assert_get_find_round_trip(const struct target_set *set)
{
    struct scan_address previous = { 0 };
    for (uint64_t i = 0; i < set->total; i++) {
        struct scan_address got;
        uint64_t index = UINT64_MAX;
        target_set_get(set, i, &got);
        char text[INET6_ADDRSTRLEN];
        if (!target_set_find(set, &got, &index) || index != i)
            fail_msg("get(%llu) = %s, find gives %llu", (unsigned long long)i,
                     format(&got, text), (unsigned long long)index);
        if (i > 0) {
            int order = previous.family != got.family
                            ? (previous.family < got.family ? -1 : 1)
                            : memcmp(previous.bytes, got.bytes, got.family == AF_INET ? 4 : 16);
            if (order >= 0)
                fail_msg("get(%llu) = %s is not after the previous address",
                         (unsigned long long)i, format(&got, text));
        }
        previous = got;
    }
}

/* ---- accepted specs ---------------------------------------------------------------------- */

struct valid_case {
    const char *spec;
    const char *ranges;
    uint64_t total;
};

static const struct valid_case valid_cases[] = {
    { "10.0.0.1", "10.0.0.1-10.0.0.1", 1 },
    { "10.0.0.5/24", "10.0.0.0-10.0.0.255", 256 },           /* host bits set: the /24 */
    { "10.0.0.7/32", "10.0.0.7-10.0.0.7", 1 },
    { "10.0.0.255/31", "10.0.0.254-10.0.0.255", 2 },
    { "10.0.0.1-20", "10.0.0.1-10.0.0.20", 20 },
    { "10.0.0.9-9", "10.0.0.9-10.0.0.9", 1 },
    { "10.0.0.250-10.0.1.5", "10.0.0.250-10.0.1.5", 12 },
    { "0.0.0.0/0", "0.0.0.0-255.255.255.255", UINT64_C(1) << 32 },  /* exactly the maximum */
    { "255.255.255.254/31,255.255.255.255", "255.255.255.254-255.255.255.255", 2 },
    { "2001:db8::1", "2001:db8::1-2001:db8::1", 1 },
    { "2001:DB8::A", "2001:db8::a-2001:db8::a", 1 },
    { "2001:db8::/120", "2001:db8::-2001:db8::ff", 256 },
    { "2001:db8::77/128", "2001:db8::77-2001:db8::77", 1 },
    { "2001:db8::1-ff", "2001:db8::1-2001:db8::ff", 255 },
    { "2001:db8::1:0-ffff", "2001:db8::1:0-2001:db8::1:ffff", 65536 },
    { "2001:db8::ff-2001:db8::1:1", "2001:db8::ff-2001:db8::1:1", 65283 },
    /* 128-bit carry across the middle of the address */
    { "2001:db8::ffff:ffff:ffff:fffe-2001:db8:0:1::1",
      "2001:db8::ffff:ffff:ffff:fffe-2001:db8:0:1::1", 4 },
    { "::/96", "::-::255.255.255.255", UINT64_C(1) << 32 },   /* inet_ntop's ::a.b.c.d */
    { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-ffff",
      "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 2 },
    /* IPv4-mapped IPv6 is IPv4: stored, merged and scanned as such */
    { "::ffff:10.0.0.1", "10.0.0.1-10.0.0.1", 1 },
    { "::ffff:10.0.0.1-20", "10.0.0.1-10.0.0.20", 20 },
    { "::ffff:10.0.0.0/120", "10.0.0.0-10.0.0.255", 256 },
    { "::ffff:a00:1", "10.0.0.1-10.0.0.1", 1 },
    { "::ffff:10.0.0.1,10.0.0.1", "10.0.0.1-10.0.0.1", 1 },
    /* a wider IPv6 range leaves the mapped block out: those are IPv4 hosts */
    { "::fffe:ffff:fffe-::ffff:0.0.0.1", "::fffe:ffff:fffe-::fffe:ffff:ffff", 2 },
    { "::ffff:255.255.255.254-::1:0:0:1", "::1:0:0:0-::1:0:0:1", 2 },
    /* lists: commas, blanks, trailing separators */
    { "  10.0.0.1  ", "10.0.0.1-10.0.0.1", 1 },
    { "10.0.0.1,10.0.0.2,", "10.0.0.1-10.0.0.2", 2 },
    { ",10.0.0.3,,\t10.0.0.1 10.0.0.2\n", "10.0.0.1-10.0.0.3", 3 },
    { "2001:db8::1,10.0.0.1", "10.0.0.1-10.0.0.1 2001:db8::1-2001:db8::1", 2 },
    /* overlapping and adjacent specs merge: no address twice */
    { "10.0.0.0/24,10.0.0.100-10.0.1.5,10.0.0.7", "10.0.0.0-10.0.1.5", 262 },
    { "10.0.0.0/25,10.0.0.128/25", "10.0.0.0-10.0.0.255", 256 },
    { "10.0.0.5,10.0.0.3,10.0.0.4,10.0.0.9", "10.0.0.3-10.0.0.5 10.0.0.9-10.0.0.9", 4 },
    { "10.0.0.0/8,10.1.2.3", "10.0.0.0-10.255.255.255", UINT64_C(1) << 24 },
};

static void test_valid_specs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        const struct valid_case *c = &valid_cases[i];
        struct target_set set;
        target_set_init(&set);
        add_or_fail(&set, c->spec);
        finish_or_fail(&set);
        char buf[512];
        if (strcmp(ranges_text(&set, buf, sizeof buf), c->ranges) != 0)
            fail_msg("\"%s\": ranges %s, expected %s", c->spec, buf, c->ranges);
        if (set.total != c->total)
            fail_msg("\"%s\": total %llu, expected %llu", c->spec,
                     (unsigned long long)set.total, (unsigned long long)c->total);
        if (set.total <= 100000)
            assert_get_find_round_trip(&set);
        target_set_free(&set);
    }
}

/* ---- refused specs ----------------------------------------------------------------------- */

struct error_case {
    const char *spec;
    int code;
    unsigned column;
    const char *message;
};

static const struct error_case error_cases[] = {
    { "10.0.0.300", -EINVAL, 8, "bad target \"10.0.0.300\": octet 300 is out of range" },
    { "10.0.0.99999999999999999999999", -EINVAL, 8,
      "bad target \"10.0.0.99999999999999999999999\": octet 99999999999999999999 is out of "
      "range" },
    { "010.0.0.1", -EINVAL, 1,
      "bad target \"010.0.0.1\": octet 010 has a leading zero (octal or decimal?)" },
    { "10.0.0", -EINVAL, 7,
      "bad target \"10.0.0\": an IPv4 address has 4 octets (a.b.c.d), found the end after 3" },
    { "10..0.1", -EINVAL, 4, "bad target \"10..0.1\": expected a number 0-255, found '.'" },
    { "10.0.0.1.5", -EINVAL, 9,
      "bad target \"10.0.0.1.5\": an IPv4 address has 4 octets, found more" },
    { "10.0.0.0/33", -EINVAL, 10,
      "bad target \"10.0.0.0/33\": prefix /33 is longer than the 32 bits of an IPv4 address" },
    { "10.0.0.0/", -EINVAL, 10,
      "bad target \"10.0.0.0/\": expected a prefix length after '/', found the end" },
    { "10.0.0.0/24-30", -EINVAL, 12,
      "bad target \"10.0.0.0/24-30\": unexpected '-' after the prefix length" },
    { "10.0.0.20-10", -EINVAL, 11, "bad target \"10.0.0.20-10\": the range ends before it starts" },
    { "10.0.1.0-10.0.0.255", -EINVAL, 10,
      "bad target \"10.0.1.0-10.0.0.255\": the range ends before it starts" },
    { "10.0.0.1-256", -EINVAL, 10, "bad target \"10.0.0.1-256\": octet 256 is out of range" },
    { "10.0.0.1-", -EINVAL, 10, "bad target \"10.0.0.1-\": expected a number 0-255, found the end" },
    { "10.0.0.1-10.0.0.2-3", -EINVAL, 18,
      "bad target \"10.0.0.1-10.0.0.2-3\": unexpected '-' after the range end" },
    { "-", -EINVAL, 1, "bad target \"-\": expected a number 0-255, found '-'" },
    { "2001:db8::g", -EINVAL, 11, "bad target \"2001:db8::g\": unexpected 'g' in an IPv6 address" },
    { "1:2:3:4:5:6:7:8:9", -EINVAL, 1, "bad target \"1:2:3:4:5:6:7:8:9\": not an IPv6 address" },
    { "2001:db8:::1", -EINVAL, 1, "bad target \"2001:db8:::1\": not an IPv6 address" },
    { "fe80::1%eth0", -EINVAL, 8,
      "bad target \"fe80::1%eth0\": zone indexes (%eth0) are not supported" },
    { "[::1]", -EINVAL, 1, "bad target \"[::1]\": unexpected '[' in an IPv6 address" },
    { "2001:db8::1/129", -EINVAL, 13,
      "bad target \"2001:db8::1/129\": prefix /129 is longer than the 128 bits of an IPv6 "
      "address" },
    { "2001:db8::ff-1", -EINVAL, 14, "bad target \"2001:db8::ff-1\": the range ends before it starts" },
    { "2001:db8::1-12345", -EINVAL, 17,
      "bad target \"2001:db8::1-12345\": expected the last group (1-4 hex digits) or an address "
      "after '-', found '5'" },
    { "2001:db8::2-2001:db8::1", -EINVAL, 13,
      "bad target \"2001:db8::2-2001:db8::1\": the range ends before it starts" },
    { "2001:db8::/64", -E2BIG, 1,
      "bad target \"2001:db8::/64\": 18446744073709551616 addresses, more than the 4294967296 "
      "one scan may hold" },
    { "::/0", -E2BIG, 1,
      "bad target \"::/0\": 340282366920938463463374607431768211456 addresses, more than the "
      "4294967296 one scan may hold" },
    { "::/95", -E2BIG, 1,
      "bad target \"::/95\": 8589934592 addresses, more than the 4294967296 one scan may hold" },
    { "", -EINVAL, 1, "empty target spec" },
    { " , ,\t", -EINVAL, 1, "empty target spec" },
    { "10.0.0.1, 10.0.0.999", -EINVAL, 18, "bad target \"10.0.0.999\": octet 999 is out of range" },
    { "host!name", -EINVAL, 5,
      "bad target \"host!name\": unexpected '!' (not an address or host name)" },
    { "host\x01", -EINVAL, 5,
      "bad target \"host\x01\": unexpected byte 0x01 (not an address or host name)" },
    { "localhost/129", -EINVAL, 11,
      "bad target \"localhost/129\": prefix /129 is longer than the 128 bits of an IPv6 "
      "address" },
};

static void test_error_specs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const struct error_case *c = &error_cases[i];
        struct target_set set;
        target_set_init(&set);
        add_or_fail(&set, "192.0.2.1");           /* an error must leave what was there */
        struct pr_error err = { 0 };
        int r = target_set_add(&set, c->spec, &err);
        if (r != c->code || err.code != c->code || err.line != 1 || err.column != c->column ||
            strcmp(err.message, c->message) != 0)
            fail_msg("\"%s\": got %d line %u column %u \"%s\"\n  expected %d column %u \"%s\"",
                     c->spec, r, err.line, err.column, err.message, c->code, c->column,
                     c->message);
        assert_int_equal(set.count, 1);
        finish_or_fail(&set);
        assert_int_equal(set.total, 1);
        target_set_free(&set);
    }
}

/* An exclusion error says "exclusion"; huge exclusions are fine. */
static void test_exclusion_errors_and_sizes(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    struct pr_error err = { 0 };
    assert_int_equal(target_set_exclude(&set, "10.0.0.1,10.0.0.256", &err), -EINVAL);
    assert_string_equal(err.message, "bad exclusion \"10.0.0.256\": octet 256 is out of range");
    assert_int_equal(err.column, 17);
    assert_int_equal(set.excluded_count, 0);                /* the good item rolled back too */
    assert_int_equal(target_set_exclude(&set, "", &err), -EINVAL);
    assert_string_equal(err.message, "empty exclusion spec");
    exclude_or_fail(&set, "::/0");
    add_or_fail(&set, "2001:db8::1,10.0.0.1");
    finish_or_fail(&set);
    char buf[256];
    assert_string_equal(ranges_text(&set, buf, sizeof buf), "10.0.0.1-10.0.0.1");
    target_set_free(&set);
}

/* ---- finish: exclusions, the family filter, limits ---------------------------------------- */

static void test_exclusion_splits_a_range(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    add_or_fail(&set, "10.0.0.0/24");
    exclude_or_fail(&set, "10.0.0.10-19, 10.0.0.200/29,");
    exclude_or_fail(&set, "10.0.0.15");                      /* inside an exclusion */
    finish_or_fail(&set);
    char buf[256];
    assert_string_equal(ranges_text(&set, buf, sizeof buf),
                        "10.0.0.0-10.0.0.9 10.0.0.20-10.0.0.199 10.0.0.208-10.0.0.255");
    assert_int_equal(set.total, 256 - 10 - 8);
    struct scan_address a = address("10.0.0.15");
    uint64_t index = 99;
    assert_false(target_set_find(&set, &a, &index));
    a = address("10.0.0.20");
    assert_true(target_set_find(&set, &a, &index));
    assert_int_equal(index, 10);
    struct scan_address got;
    char text[INET6_ADDRSTRLEN];
    target_set_get(&set, 10, &got);
    assert_string_equal(format(&got, text), "10.0.0.20");
    target_set_get(&set, set.total - 1, &got);
    assert_string_equal(format(&got, text), "10.0.0.255");
    assert_get_find_round_trip(&set);
    target_set_free(&set);
}

static void test_exclusion_spanning_several_ranges(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    add_or_fail(&set, "10.0.0.1 10.0.0.5 10.0.0.9 2001:db8::1-3");
    exclude_or_fail(&set, "10.0.0.0-10.0.0.6,2001:db8::2,::ffff:10.0.0.9");
    finish_or_fail(&set);
    char buf[256];
    assert_string_equal(ranges_text(&set, buf, sizeof buf),
                        "2001:db8::1-2001:db8::1 2001:db8::3-2001:db8::3");
    assert_int_equal(set.total, 2);
    target_set_free(&set);
}

static void test_everything_excluded(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    add_or_fail(&set, "10.0.0.0/30");
    exclude_or_fail(&set, "10.0.0.0/16");
    struct pr_error err = { 0 };
    assert_int_equal(target_set_finish(&set, &err), -ENOENT);
    assert_string_equal(err.message, "no targets left after exclusions");
    assert_false(set.finished);
    assert_int_equal(set.total, 0);
    target_set_free(&set);

    target_set_init(&set);
    assert_int_equal(target_set_finish(&set, &err), -ENOENT);
    assert_string_equal(err.message, "no targets given");
    target_set_free(&set);
}

static void test_family_filter(void **state)
{
    (void)state;
    static const struct {
        int family;
        const char *ranges;
    } cases[] = {
        { AF_UNSPEC, "10.0.0.1-10.0.0.2 2001:db8::1-2001:db8::1" },
        { AF_INET, "10.0.0.1-10.0.0.2" },
        { AF_INET6, "2001:db8::1-2001:db8::1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct target_set set;
        target_set_init(&set);
        set.family_filter = cases[i].family;
        add_or_fail(&set, "2001:db8::1 10.0.0.1 ::ffff:10.0.0.2");
        finish_or_fail(&set);
        char buf[256];
        assert_string_equal(ranges_text(&set, buf, sizeof buf), cases[i].ranges);
        target_set_free(&set);
    }
    struct target_set set;
    target_set_init(&set);
    set.family_filter = AF_INET6;
    add_or_fail(&set, "10.0.0.1");
    struct pr_error err = { 0 };
    assert_int_equal(target_set_finish(&set, &err), -ENOENT);
    assert_string_equal(err.message, "no IPv6 targets given");
    target_set_free(&set);
}

static void test_size_limit(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    add_or_fail(&set, "0.0.0.0/0");
    finish_or_fail(&set);
    assert_int_equal(set.total, TARGET_SET_MAX_ADDRESSES);
    struct scan_address got;
    char text[INET6_ADDRSTRLEN];
    target_set_get(&set, set.total - 1, &got);
    assert_string_equal(format(&got, text), "255.255.255.255");
    struct scan_address a = address("255.255.255.255");
    uint64_t index = 0;
    assert_true(target_set_find(&set, &a, &index));
    assert_int_equal(index, set.total - 1);

    /* One more address passes the limit: refused at finish, naming the total. */
    add_or_fail(&set, "::1");
    struct pr_error err = { 0 };
    assert_int_equal(target_set_finish(&set, &err), -E2BIG);
    assert_string_equal(err.message, "the targets add up to 4294967297 addresses, more than the "
                                     "4294967296 one scan may hold");
    assert_false(set.finished);
    /* Excluding one makes it fit again. */
    exclude_or_fail(&set, "10.0.0.1");
    finish_or_fail(&set);
    assert_int_equal(set.total, TARGET_SET_MAX_ADDRESSES);
    target_set_get(&set, set.total - 1, &got);
    assert_string_equal(format(&got, text), "::1");
    target_set_free(&set);
}

/* ---- get / find --------------------------------------------------------------------------- */

static void test_get_find_mixed_set(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    add_or_fail(&set, "2001:db8::ffff:ffff:ffff:fffe-2001:db8:0:1::1");
    add_or_fail(&set, "::1, 192.168.1.250-192.168.2.3");
    add_or_fail(&set, "10.0.0.0/30");
    finish_or_fail(&set);
    assert_int_equal(set.total, 4 + 10 + 4 + 1);
    static const char *const expected[] = {
        "10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3",
        "192.168.1.250", "192.168.1.251", "192.168.1.252", "192.168.1.253", "192.168.1.254",
        "192.168.1.255", "192.168.2.0", "192.168.2.1", "192.168.2.2", "192.168.2.3",
        "::1",
        "2001:db8::ffff:ffff:ffff:fffe", "2001:db8::ffff:ffff:ffff:ffff", "2001:db8:0:1::",
        "2001:db8:0:1::1",
    };
    for (uint64_t i = 0; i < set.total; i++) {
        struct scan_address got;
        char text[INET6_ADDRSTRLEN];
        target_set_get(&set, i, &got);
        assert_string_equal(format(&got, text), expected[i]);
    }
    assert_get_find_round_trip(&set);

    static const char *const absent[] = { "10.0.0.4", "9.255.255.255", "192.168.2.4", "::",
                                          "::2", "2001:db8:0:1::2", "ffff::", "0.0.0.0",
                                          "255.255.255.255" };
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        struct scan_address a = address(absent[i]);
        if (target_set_find(&set, &a, NULL))
            fail_msg("%s found", absent[i]);
    }
    /* The IPv4-mapped form of a target is that target. */
    struct scan_address mapped = address("::ffff:10.0.0.1");
    uint64_t index = 0;
    assert_true(target_set_find(&set, &mapped, &index));
    assert_int_equal(index, 1);
    struct scan_address other = { .family = AF_UNIX };
    assert_false(target_set_find(&set, &other, &index));

    /* Adding after finish works: finish again. */
    add_or_fail(&set, "10.0.0.4");
    assert_false(set.finished);
    finish_or_fail(&set);
    assert_int_equal(set.total, 20);
    struct scan_address a = address("::1");
    assert_true(target_set_find(&set, &a, &index));
    assert_int_equal(index, 15);
    target_set_free(&set);
}

/* ---- -iL files --------------------------------------------------------------------------- */

static void write_file(const char *path, const char *content, size_t len)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(content, 1, len, file), len);
    fclose(file);
}

static void test_file_with_comments(void **state)
{
    (void)state;
    char path[] = "/tmp/test_targets_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char content[] = "# lab hosts\r\n"
                           "10.0.0.1 10.0.0.2   # two hosts\n"
                           "\t10.0.1.0/30,10.0.2.1-3\n"
                           "\n"
                           "   # 10.9.9.9 is commented out\n"
                           "2001:db8::1";
    write_file(path, content, sizeof content - 1);
    struct target_set set;
    target_set_init(&set);
    struct pr_error err = { 0 };
    assert_int_equal(target_set_add_file(&set, path, &err), 0);
    finish_or_fail(&set);
    char buf[256];
    assert_string_equal(ranges_text(&set, buf, sizeof buf),
                        "10.0.0.1-10.0.0.2 10.0.1.0-10.0.1.3 10.0.2.1-10.0.2.3 "
                        "2001:db8::1-2001:db8::1");
    assert_int_equal(set.total, 10);
    target_set_free(&set);
    unlink(path);
}

static void test_file_bad_line_reports_line_and_column(void **state)
{
    (void)state;
    char path[] = "/tmp/test_targets_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char content[] = "10.0.0.1 # fine\n  10.0.0.3 10.0.0.256\n10.0.0.4\n";
    write_file(path, content, sizeof content - 1);
    struct target_set set;
    target_set_init(&set);
    add_or_fail(&set, "192.0.2.1");
    struct pr_error err = { 0 };
    assert_int_equal(target_set_add_file(&set, path, &err), -EINVAL);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 19);
    assert_string_equal(err.path, path);
    assert_string_equal(err.message, "bad target \"10.0.0.256\": octet 256 is out of range");
    char formatted[1200], expected[1200];
    snprintf(expected, sizeof expected,
             "%s:2:19: bad target \"10.0.0.256\": octet 256 is out of range", path);
    assert_string_equal(pr_error_format(&err, formatted, sizeof formatted), expected);
    assert_int_equal(set.count, 1);                          /* nothing of the file kept */

    /* A NUL byte: not a text file. */
    write_file(path, "10.0.0.1\n10.0\0.0.2\n", 19);
    assert_int_equal(target_set_add_file(&set, path, &err), -EINVAL);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.column, 5);
    assert_int_equal(set.count, 1);
    unlink(path);

    /* A missing file names its path. */
    assert_true(target_set_add_file(&set, path, &err) == -ENOENT);
    assert_non_null(strstr(err.path[0] ? err.path : err.message, path));
    target_set_free(&set);
}

static void test_file_from_stdin(void **state)
{
    (void)state;
    char path[] = "/tmp/test_targets_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "10.0.0.7\n10.0.0.8\n", 18);
    int saved_stdin = dup(0);
    int file = open(path, O_RDONLY);
    assert_true(saved_stdin >= 0 && file >= 0);
    assert_int_equal(dup2(file, 0), 0);
    close(file);
    struct target_set set;
    target_set_init(&set);
    struct pr_error err = { 0 };
    int r = target_set_add_file(&set, "-", &err);
    dup2(saved_stdin, 0);
    close(saved_stdin);
    unlink(path);
    assert_int_equal(r, 0);
    finish_or_fail(&set);
    assert_int_equal(set.total, 2);
    target_set_free(&set);
}

static void test_add_text_buffer(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    struct pr_error err = { 0 };
    /* Not NUL-terminated: only the first len bytes count. */
    const char text[] = "10.0.0.1\r\n10.0.0.2,10.0.0.3XYZ";
    assert_int_equal(target_set_add_text(&set, text, sizeof text - 4, &err), 0);
    assert_int_equal(target_set_add_text(&set, "", 0, &err), 0);
    finish_or_fail(&set);
    assert_int_equal(set.total, 3);
    const char bad[] = "\n\n  # x\n 2001:db8::1-0\n";
    assert_int_equal(target_set_add_text(&set, bad, strlen(bad), &err), -EINVAL);
    assert_int_equal(err.line, 4);
    assert_int_equal(err.column, 14);
    assert_string_equal(err.message,
                        "bad target \"2001:db8::1-0\": the range ends before it starts");
    target_set_free(&set);
}

/* ---- host names -------------------------------------------------------------------------- */

static void test_localhost_resolves_to_loopback(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    add_or_fail(&set, "localhost");
    finish_or_fail(&set);
    assert_true(set.total >= 1 && set.total <= 2);
    bool v4 = false;
    for (uint64_t i = 0; i < set.total; i++) {
        struct scan_address got;
        char text[INET6_ADDRSTRLEN];
        target_set_get(&set, i, &got);
        printf("# localhost -> %s\n", format(&got, text));
        assert_true(scan_address_is_loopback(&got));
        v4 |= got.family == AF_INET;
    }
    target_set_free(&set);

    /* -4: only the A record. */
    target_set_init(&set);
    set.family_filter = AF_INET;
    add_or_fail(&set, "localhost");
    finish_or_fail(&set);
    char buf[128];
    assert_string_equal(ranges_text(&set, buf, sizeof buf), "127.0.0.1-127.0.0.1");
    assert_true(v4);
    target_set_free(&set);

    /* A name with a prefix: its block. */
    target_set_init(&set);
    set.family_filter = AF_INET;
    add_or_fail(&set, "localhost/30");
    finish_or_fail(&set);
    assert_string_equal(ranges_text(&set, buf, sizeof buf), "127.0.0.0-127.0.0.3");
    target_set_free(&set);

    /* An excluded name. */
    target_set_init(&set);
    add_or_fail(&set, "127.0.0.0/30");
    set.family_filter = AF_INET;
    exclude_or_fail(&set, "localhost");
    finish_or_fail(&set);
    assert_string_equal(ranges_text(&set, buf, sizeof buf),
                        "127.0.0.0-127.0.0.0 127.0.0.2-127.0.0.3");
    target_set_free(&set);
}

/* The name as typed is kept for the report ("localhost (127.0.0.1)"): numeric targets have
 * none, the first name typed wins, and a failed add leaves no name behind. */
static void test_names_as_typed(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    set.family_filter = AF_INET;
    add_or_fail(&set, "127.0.0.2 localhost");
    add_or_fail(&set, "LocalHost");
    struct pr_error err = { 0 };
    assert_int_equal(target_set_add(&set, "localhost 10.0.0.300", &err), -EINVAL);
    assert_int_equal(set.name_count, 2);
    finish_or_fail(&set);
    struct scan_address a = { .family = AF_INET, .bytes = { 127, 0, 0, 1 } };
    assert_non_null(target_set_name(&set, &a));
    assert_string_equal(target_set_name(&set, &a), "localhost");
    a.bytes[3] = 2;
    assert_null(target_set_name(&set, &a));
    struct scan_address v6 = { .family = AF_INET6, .bytes = { [15] = 1 } };
    assert_null(target_set_name(&set, &v6));
    target_set_free(&set);
}

static void test_unresolvable_name(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    struct pr_error err = { 0 };
    assert_int_equal(target_set_add(&set, "10.0.0.1,nosuch.invalid", &err), -ENOENT);
    assert_int_equal(err.column, 10);
    const char prefix[] = "cannot resolve \"nosuch.invalid\": ";
    if (strncmp(err.message, prefix, sizeof prefix - 1) != 0 ||
        strlen(err.message) <= sizeof prefix - 1)
        fail_msg("message: %s", err.message);
    assert_int_equal(set.count, 0);
    target_set_free(&set);
}

static void test_numeric_only_refuses_names(void **state)
{
    (void)state;
    struct target_set set;
    target_set_init(&set);
    set.numeric_only = true;
    struct pr_error err = { 0 };
    assert_int_equal(target_set_add(&set, "10.0.0.1 localhost", &err), -EINVAL);
    assert_int_equal(err.column, 10);
    assert_string_equal(err.message, "bad target \"localhost\": not a numeric address (host "
                                     "names are not resolved here)");
    assert_int_equal(target_set_exclude(&set, "localhost", &err), -EINVAL);
    assert_int_equal(target_set_add_text(&set, "10.0.0.1\nexample.com\n", 21, &err), -EINVAL);
    assert_int_equal(err.line, 2);
    assert_int_equal(set.count, 0);
    add_or_fail(&set, "10.0.0.1");
    finish_or_fail(&set);
    assert_int_equal(set.total, 1);
    target_set_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_specs),
        cmocka_unit_test(test_error_specs),
        cmocka_unit_test(test_exclusion_errors_and_sizes),
        cmocka_unit_test(test_exclusion_splits_a_range),
        cmocka_unit_test(test_exclusion_spanning_several_ranges),
        cmocka_unit_test(test_everything_excluded),
        cmocka_unit_test(test_family_filter),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_get_find_mixed_set),
        cmocka_unit_test(test_file_with_comments),
        cmocka_unit_test(test_file_bad_line_reports_line_and_column),
        cmocka_unit_test(test_file_from_stdin),
        cmocka_unit_test(test_add_text_buffer),
        cmocka_unit_test(test_localhost_resolves_to_loopback),
        cmocka_unit_test(test_names_as_typed),
        cmocka_unit_test(test_unresolvable_name),
        cmocka_unit_test(test_numeric_only_refuses_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
