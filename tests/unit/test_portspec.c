/* test_portspec.c — unit tests for the port spec parser (src/lib/util/portspec.c).
 * Table-driven: every accepted form with the exact ranges it yields, every error with its exact
 * line, column and message; prefix persistence, "/proto" overrides, names through a test
 * resolver, rollback on error, portspec_contains() and portspec_add(). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "registry/record.h"
#include "util/portspec.h"

#define ANY REGISTRY_PROTO_ANY
#define TCP REGISTRY_PROTO_TCP
#define UDP REGISTRY_PROTO_UDP
#define SCTP REGISTRY_PROTO_SCTP
#define DCCP REGISTRY_PROTO_DCCP

/* ---- a resolver that knows a few names and records what it was asked ---- */

struct test_resolver_call {
    char name[32];
    uint8_t proto;
};

struct test_resolver {
    struct test_resolver_call calls[16];
    size_t call_count;
};

struct test_service {
    const char *name;
    uint16_t first, last;
};

static const struct test_service test_services[] = {
    { "ssh", 22, 22 },     { "mysql", 3306, 3306 }, { "domain", 53, 53 },
    { "9pfs", 564, 564 },  { "z39.50", 210, 210 },  { "x11", 6000, 6063 },
    { "LiebDevMgmt_A", 3029, 3029 },
};

/* Known names add one range with the protocol asked for; "ioerr" fails with -EIO, "nothing"
 * succeeds without adding, "halfway" adds a range and then fails. */
static int test_resolve(void *ctx, const char *name, size_t len, uint8_t proto,
                        struct portspec *out)
{
    struct test_resolver *resolver = ctx;
    if (resolver && resolver->call_count < 16) {
        struct test_resolver_call *call = &resolver->calls[resolver->call_count++];
        snprintf(call->name, sizeof call->name, "%.*s", (int)len, name);
        call->proto = proto;
    }
    if (len == 5 && memcmp(name, "ioerr", 5) == 0)
        return -EIO;
    if (len == 7 && memcmp(name, "nothing", 7) == 0)
        return 0;
    if (len == 7 && memcmp(name, "halfway", 7) == 0) {
        portspec_add(out, 1, 2, proto);
        return -EIO;
    }
    for (size_t i = 0; i < sizeof test_services / sizeof test_services[0]; i++)
        if (strlen(test_services[i].name) == len &&
            strncasecmp(test_services[i].name, name, len) == 0)
            return portspec_add(out, test_services[i].first, test_services[i].last, proto);
    return -ENOENT;
}

/* ---- accepted specs ---- */

struct valid_case {
    const char *text;
    size_t count;
    struct portspec_range ranges[4];
};

static const struct valid_case valid_cases[] = {
    { "22", 1, { { 22, 22, ANY } } },
    { "0", 1, { { 0, 0, ANY } } },
    { "65535", 1, { { 65535, 65535, ANY } } },
    { "00080", 1, { { 80, 80, ANY } } },
    { "22,80,443", 3, { { 22, 22, ANY }, { 80, 80, ANY }, { 443, 443, ANY } } },
    { " 22 , 80 ", 2, { { 22, 22, ANY }, { 80, 80, ANY } } },
    { "22\t,\t80\n", 2, { { 22, 22, ANY }, { 80, 80, ANY } } },
    { "1000-2000", 1, { { 1000, 2000, ANY } } },
    { "20-20", 1, { { 20, 20, ANY } } },
    { "0-65535", 1, { { 0, 65535, ANY } } },
    { "-1024", 1, { { 1, 1024, ANY } } },
    { "-1", 1, { { 1, 1, ANY } } },           /* nmap: an open low end starts at 1 */
    { "60000-", 1, { { 60000, 65535, ANY } } },
    { "65535-", 1, { { 65535, 65535, ANY } } },
    { "0-", 1, { { 0, 65535, ANY } } },
    { "-", 1, { { 1, 65535, ANY } } },         /* nmap -p- */
    { " - ", 1, { { 1, 65535, ANY } } },
    { "T:80,U:53", 2, { { 80, 80, TCP }, { 53, 53, UDP } } },
    { "U:53,111,T:21-25", 3, { { 53, 53, UDP }, { 111, 111, UDP }, { 21, 25, TCP } } },
    { "t:80,u:53,s:2905", 3, { { 80, 80, TCP }, { 53, 53, UDP }, { 2905, 2905, SCTP } } },
    { "tcp:80,UDP:53,dccp:9", 3, { { 80, 80, TCP }, { 53, 53, UDP }, { 9, 9, DCCP } } },
    { "T: 80", 1, { { 80, 80, TCP } } },
    { "T:-", 1, { { 1, 65535, TCP } } },
    { "53/udp", 1, { { 53, 53, UDP } } },
    { "53/UDP", 1, { { 53, 53, UDP } } },
    { "6000-6010/tcp", 1, { { 6000, 6010, TCP } } },
    { "-/udp", 1, { { 1, 65535, UDP } } },
    { "1024-/sctp,-100/dccp", 2, { { 1024, 65535, SCTP }, { 1, 100, DCCP } } },
    { "T:53/udp,80", 2, { { 53, 53, UDP }, { 80, 80, TCP } } },   /* suffix is per item */
    { "80/tcp,81", 2, { { 80, 80, TCP }, { 81, 81, ANY } } },
    { "ssh", 1, { { 22, 22, ANY } } },
    { "SSH", 1, { { 22, 22, ANY } } },
    { "mysql/tcp", 1, { { 3306, 3306, TCP } } },
    { "U:domain", 1, { { 53, 53, UDP } } },
    { "ssh,80,U:domain,mysql/tcp", 4,
      { { 22, 22, ANY }, { 80, 80, ANY }, { 53, 53, UDP }, { 3306, 3306, TCP } } },
    { "9pfs", 1, { { 564, 564, ANY } } },      /* RFC 6335 names may start with a digit */
    { "z39.50", 1, { { 210, 210, ANY } } },
    { "LiebDevMgmt_A", 1, { { 3029, 3029, ANY } } },
    { "x11/tcp", 1, { { 6000, 6063, TCP } } },
};

static void test_valid_specs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        const struct valid_case *tc = &valid_cases[i];
        struct portspec spec = { 0 };
        struct pr_error err = { 0 };
        struct test_resolver resolver = { 0 };
        int r = portspec_parse(tc->text, test_resolve, &resolver, &spec, &err);
        if (r != 0)
            fail_msg("\"%s\": %d %s", tc->text, r, err.message);
        if (spec.count != tc->count)
            fail_msg("\"%s\": %zu ranges, expected %zu", tc->text, spec.count, tc->count);
        for (size_t k = 0; k < tc->count; k++) {
            const struct portspec_range *got = &spec.ranges[k], *want = &tc->ranges[k];
            if (got->first != want->first || got->last != want->last ||
                got->proto != want->proto)
                fail_msg("\"%s\" range %zu: %u-%u/%u, expected %u-%u/%u", tc->text, k,
                         got->first, got->last, got->proto, want->first, want->last,
                         want->proto);
        }
        assert_int_equal(err.code, 0);
        portspec_free(&spec);
    }
}

/* ---- rejected specs ---- */

struct error_case {
    const char *text;
    int code;
    unsigned line, column;
    const char *message;
};

static const struct error_case error_cases[] = {
    { "", -EINVAL, 1, 1, "empty port spec" },
    { "   ", -EINVAL, 1, 1, "empty port spec" },
    { " \n\t", -EINVAL, 1, 1, "empty port spec" },
    { "22,,80", -EINVAL, 1, 4, "empty item" },
    { "22,", -EINVAL, 1, 4, "empty item" },
    { ",22", -EINVAL, 1, 1, "empty item" },
    { "22, ,80", -EINVAL, 1, 5, "empty item" },
    { "T:", -EINVAL, 1, 3, "empty item" },
    { "T:,80", -EINVAL, 1, 3, "empty item" },
    { "80,\n,90", -EINVAL, 2, 1, "empty item" },
    { "70000", -EINVAL, 1, 1, "port \"70000\" is out of range 0-65535" },
    { "22,65536", -EINVAL, 1, 4, "port \"65536\" is out of range 0-65535" },
    { "1-70000", -EINVAL, 1, 3, "port \"70000\" is out of range 0-65535" },
    { "-70000", -EINVAL, 1, 2, "port \"70000\" is out of range 0-65535" },
    { "99999999999999999999", -EINVAL, 1, 1,
      "port \"99999999999999999999\" is out of range 0-65535" },
    { "20-10", -EINVAL, 1, 1, "range 20-10 is reversed" },
    { "80, 20-10/udp", -EINVAL, 1, 5, "range 20-10 is reversed" },
    { "-0", -EINVAL, 1, 1, "range -0 is reversed (an open range starts at 1)" },
    { "X:80", -EINVAL, 1, 1, "unknown protocol \"X\"" },
    { "80,ip:80", -EINVAL, 1, 4, "unknown protocol \"ip\"" },
    { "any:80", -EINVAL, 1, 1, "unknown protocol \"any\"" },
    { "80/xyz", -EINVAL, 1, 4, "unknown protocol \"xyz\"" },
    { "80/any", -EINVAL, 1, 4, "unknown protocol \"any\"" },
    { "ssh/tcp6", -EINVAL, 1, 5, "unknown protocol \"tcp6\"" },
    { "80/", -EINVAL, 1, 4, "missing protocol after '/'" },
    { "80/,81", -EINVAL, 1, 4, "missing protocol after '/'" },
    { "80/!", -EINVAL, 1, 4, "unexpected character '!'" },
    { "80!", -EINVAL, 1, 3, "unexpected character '!'" },
    { "22;80", -EINVAL, 1, 3, "unexpected character ';'" },
    { "1-2-3", -EINVAL, 1, 4, "unexpected character '-'" },
    { "80 90", -EINVAL, 1, 4, "unexpected character '9'" },
    { "1.5", -EINVAL, 1, 2, "unexpected character '.'" },
    { "-ssh", -EINVAL, 1, 2, "unexpected character 's'" },
    { "80/udp 53", -EINVAL, 1, 8, "unexpected character '5'" },
    { "80/udp/tcp", -EINVAL, 1, 7, "unexpected character '/'" },
    { ":80", -EINVAL, 1, 1, "unexpected character ':'" },
    { "ssh:", -EINVAL, 1, 1, "unknown protocol \"ssh\"" },
    { "\x01", -EINVAL, 1, 1, "unexpected character '\\x01'" },
    { "80,\xc3\xa9", -EINVAL, 1, 4, "unexpected character '\\xc3'" },
    { "foo", -EINVAL, 1, 1, "unknown service name \"foo\"" },
    { "22, foo", -EINVAL, 1, 5, "unknown service name \"foo\"" },
    { "22,U:foo", -EINVAL, 1, 6, "unknown service name \"foo\" for udp" },
    { "foo/tcp", -EINVAL, 1, 1, "unknown service name \"foo\" for tcp" },
    { "80x", -EINVAL, 1, 1, "unknown service name \"80x\"" },
    { "ssh*", -EINVAL, 1, 1, "unknown service name \"ssh*\"" },   /* '*' reaches the resolver */
    { "*", -EINVAL, 1, 1, "unexpected character '*'" },
    { "x11:1", -EINVAL, 1, 4, "unexpected character ':'" },
    { "nothing", -EINVAL, 1, 1, "unknown service name \"nothing\"" },
    { "ioerr", -EIO, 1, 1, "cannot resolve service name \"ioerr\": Input/output error" },
    { "halfway", -EIO, 1, 1, "cannot resolve service name \"halfway\": Input/output error" },
};

static void test_error_specs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const struct error_case *tc = &error_cases[i];
        struct portspec spec = { 0 };
        struct pr_error err = { 0 };
        int r = portspec_parse(tc->text, test_resolve, NULL, &spec, &err);
        if (r != tc->code || err.code != tc->code)
            fail_msg("\"%s\": returned %d (err.code %d), expected %d", tc->text, r, err.code,
                     tc->code);
        if (err.line != tc->line || err.column != tc->column ||
            strcmp(err.message, tc->message) != 0)
            fail_msg("\"%s\": %u:%u \"%s\", expected %u:%u \"%s\"", tc->text, err.line,
                     err.column, err.message, tc->line, tc->column, tc->message);
        if (spec.count != 0)
            fail_msg("\"%s\": %zu ranges left after an error", tc->text, spec.count);
        portspec_free(&spec);
    }
}

static void test_null_text_is_empty(void **state)
{
    (void)state;
    struct portspec spec = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(portspec_parse(NULL, NULL, NULL, &spec, &err), -EINVAL);
    assert_string_equal(err.message, "empty port spec");
    assert_int_equal(err.column, 1);
    assert_int_equal(spec.count, 0);
    portspec_free(&spec);
}

static void test_null_err_is_allowed(void **state)
{
    (void)state;
    struct portspec spec = { 0 };
    assert_int_equal(portspec_parse("1-2-3", NULL, NULL, &spec, NULL), -EINVAL);
    assert_int_equal(portspec_parse("1-3", NULL, NULL, &spec, NULL), 0);
    assert_int_equal(spec.count, 1);
    portspec_free(&spec);
}

static void test_names_without_resolver(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        unsigned column;
        const char *message;
    } cases[] = {
        { "ssh", 1, "service names need a registry (\"ssh\")" },
        { "22,T:mysql/tcp", 6, "service names need a registry (\"mysql\")" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct portspec spec = { 0 };
        struct pr_error err = { 0 };
        assert_int_equal(portspec_parse(cases[i].text, NULL, NULL, &spec, &err), -EINVAL);
        assert_string_equal(err.message, cases[i].message);
        assert_int_equal(err.column, cases[i].column);
        assert_int_equal(spec.count, 0);
        portspec_free(&spec);
    }
    /* Numbers need no resolver. */
    struct portspec spec = { 0 };
    assert_int_equal(portspec_parse("T:22,U:53", NULL, NULL, &spec, NULL), 0);
    assert_int_equal(spec.count, 2);
    portspec_free(&spec);
}

static void test_resolver_gets_current_protocol(void **state)
{
    (void)state;
    struct portspec spec = { 0 };
    struct test_resolver resolver = { 0 };
    assert_int_equal(portspec_parse("ssh,U:domain,ssh,mysql/tcp,T:ssh/sctp,x11", test_resolve,
                                    &resolver, &spec, NULL),
                     0);
    static const struct {
        const char *name;
        uint8_t proto;
    } want[] = { { "ssh", ANY }, { "domain", UDP }, { "ssh", UDP },
                 { "mysql", TCP }, { "ssh", SCTP }, { "x11", TCP } };
    assert_int_equal(resolver.call_count, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(resolver.calls[i].name, want[i].name);
        assert_int_equal(resolver.calls[i].proto, want[i].proto);
    }
    assert_int_equal(spec.count, 6);
    assert_int_equal(spec.ranges[5].first, 6000);
    assert_int_equal(spec.ranges[5].last, 6063);
    portspec_free(&spec);
}

static void test_parse_appends(void **state)
{
    (void)state;
    struct portspec spec = { 0 };
    assert_int_equal(portspec_parse("T:22", NULL, NULL, &spec, NULL), 0);
    /* The prefix does not carry over from one call to the next. */
    assert_int_equal(portspec_parse("80", NULL, NULL, &spec, NULL), 0);
    assert_int_equal(spec.count, 2);
    assert_int_equal(spec.ranges[0].proto, TCP);
    assert_int_equal(spec.ranges[1].first, 80);
    assert_int_equal(spec.ranges[1].proto, ANY);
    portspec_free(&spec);
}

static void test_error_rolls_back(void **state)
{
    (void)state;
    static const char *const failing[] = {
        "80,90,bad!", "ssh,mysql,foo", "1-100,200-300,70000", "halfway", "22,ssh,halfway",
    };
    for (size_t i = 0; i < sizeof failing / sizeof failing[0]; i++) {
        struct portspec spec = { 0 };
        assert_int_equal(portspec_add(&spec, 7, 8, TCP), 0);
        assert_int_equal(portspec_add(&spec, 9, 9, UDP), 0);
        struct pr_error err = { 0 };
        assert_true(portspec_parse(failing[i], test_resolve, NULL, &spec, &err) < 0);
        if (spec.count != 2)
            fail_msg("\"%s\": count %zu after error, expected 2", failing[i], spec.count);
        assert_int_equal(spec.ranges[0].first, 7);
        assert_int_equal(spec.ranges[0].last, 8);
        assert_int_equal(spec.ranges[0].proto, TCP);
        assert_int_equal(spec.ranges[1].first, 9);
        assert_int_equal(spec.ranges[1].proto, UDP);
        assert_false(portspec_contains(&spec, 80, ANY));
        assert_false(portspec_contains(&spec, 22, ANY));
        portspec_free(&spec);
    }
}

static void test_many_items_grow(void **state)
{
    (void)state;
    char text[8 * 1000];
    size_t used = 0;
    for (unsigned port = 1; port <= 1000; port++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%u", port > 1 ? "," : "",
                                 port * 2);
    struct portspec spec = { 0 };
    assert_int_equal(portspec_parse(text, NULL, NULL, &spec, NULL), 0);
    assert_int_equal(spec.count, 1000);
    assert_true(spec.capacity >= 1000);
    assert_int_equal(spec.ranges[999].first, 2000);
    assert_true(portspec_contains(&spec, 1000, TCP));
    assert_false(portspec_contains(&spec, 1001, TCP));
    portspec_free(&spec);
}

static void test_contains(void **state)
{
    (void)state;
    struct portspec spec = { 0 };
    assert_int_equal(portspec_parse("T:80,U:53,100-200/any:", NULL, NULL, &spec, NULL), -EINVAL);
    assert_int_equal(portspec_parse("T:80,U:53,443/tcp,x", NULL, NULL, &spec, NULL), -EINVAL);
    assert_int_equal(spec.count, 0);
    assert_int_equal(portspec_parse("100-200,T:80,U:53", NULL, NULL, &spec, NULL), 0);

    static const struct {
        uint16_t port;
        uint8_t proto;
        bool want;
    } cases[] = {
        { 80, TCP, true },    { 80, UDP, false },   { 80, ANY, true },   { 80, SCTP, false },
        { 53, UDP, true },    { 53, TCP, false },   { 53, ANY, true },   { 54, UDP, false },
        { 100, SCTP, true },  { 150, DCCP, true },  { 200, TCP, true },  { 150, ANY, true },
        { 99, ANY, false },   { 201, ANY, false },  { 0, ANY, false },   { 65535, ANY, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (portspec_contains(&spec, cases[i].port, cases[i].proto) != cases[i].want)
            fail_msg("contains(%u, %u) should be %d", cases[i].port, cases[i].proto,
                     cases[i].want);
    portspec_free(&spec);

    /* "-" is 1-65535: port 0 only when written. */
    assert_int_equal(portspec_parse("-", NULL, NULL, &spec, NULL), 0);
    assert_false(portspec_contains(&spec, 0, ANY));
    assert_true(portspec_contains(&spec, 1, TCP));
    assert_true(portspec_contains(&spec, 65535, UDP));
    portspec_free(&spec);
    assert_int_equal(portspec_parse("0/udp", NULL, NULL, &spec, NULL), 0);
    assert_true(portspec_contains(&spec, 0, UDP));
    assert_true(portspec_contains(&spec, 0, ANY));
    assert_false(portspec_contains(&spec, 0, TCP));
    portspec_free(&spec);

    /* An empty spec holds nothing. */
    assert_false(portspec_contains(&spec, 80, ANY));
}

static void test_add_and_free(void **state)
{
    (void)state;
    struct portspec spec = { 0 };
    assert_int_equal(portspec_add(&spec, 10, 9, TCP), -EINVAL);
    assert_int_equal(portspec_add(&spec, 1, 2, REGISTRY_PROTO_COUNT), -EINVAL);
    assert_int_equal(spec.count, 0);
    for (unsigned i = 0; i < 100; i++)
        assert_int_equal(portspec_add(&spec, (uint16_t)i, (uint16_t)(i + 1), DCCP), 0);
    assert_int_equal(spec.count, 100);
    assert_int_equal(spec.ranges[99].first, 99);
    assert_int_equal(spec.ranges[99].last, 100);
    assert_true(portspec_contains(&spec, 100, DCCP));
    assert_false(portspec_contains(&spec, 101, DCCP));
    assert_false(portspec_contains(&spec, 50, TCP));
    portspec_free(&spec);
    assert_null(spec.ranges);
    assert_int_equal(spec.count, 0);
    assert_int_equal(spec.capacity, 0);
    portspec_free(&spec);   /* twice is harmless */
}

static void test_long_number_is_shortened(void **state)
{
    (void)state;
    char text[300];
    memset(text, '9', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    struct portspec spec = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(portspec_parse(text, NULL, NULL, &spec, &err), -EINVAL);
    assert_int_equal(err.column, 1);
    assert_non_null(strstr(err.message, "...\" is out of range 0-65535"));
    assert_true(strlen(err.message) < 120);
    portspec_free(&spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_specs),
        cmocka_unit_test(test_error_specs),
        cmocka_unit_test(test_null_text_is_empty),
        cmocka_unit_test(test_null_err_is_allowed),
        cmocka_unit_test(test_names_without_resolver),
        cmocka_unit_test(test_resolver_gets_current_protocol),
        cmocka_unit_test(test_parse_appends),
        cmocka_unit_test(test_error_rolls_back),
        cmocka_unit_test(test_many_items_grow),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_add_and_free),
        cmocka_unit_test(test_long_number_is_shortened),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
