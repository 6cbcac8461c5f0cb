/* test_host_facts.c — unit tests for the host's bind sysctls (net/host_facts.c) and the
 * capability reads (util/capabilities.c): the fixture tree $PORTREG_FIXTURES/procfs/hostfacts,
 * trees built at run time in a temporary directory (missing, malformed), the status parser on
 * texts, and the planned-user rule. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/host_facts.h"
#include "util/capabilities.h"

static const char *fixture_root(char *buf, size_t size)
{
    const char *fixtures = getenv("PORTREG_FIXTURES");
    if (!fixtures)
        fixtures = "tests/fixtures";
    snprintf(buf, size, "%s/procfs/hostfacts", fixtures);
    return buf;
}

static void test_facts_from_fixture(void **state)
{
    (void)state;
    char root[4096];
    struct host_facts facts;
    host_facts_read(fixture_root(root, sizeof root), &facts);
    assert_int_equal(facts.unprivileged_port_start, 1024);
    assert_int_equal(facts.tcp_fin_timeout, 45);
    assert_int_equal(facts.bindv6only, 1);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_sysctl_missing_and_malformed(void **state)
{
    (void)state;
    char root[] = "/tmp/portreg-hostfacts-XXXXXX";
    assert_non_null(mkdtemp(root));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/sys", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(dir, sizeof dir, "%s/sys/net", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(dir, sizeof dir, "%s/sys/net/ipv4", root);
    assert_int_equal(mkdir(dir, 0755), 0);

    struct host_facts facts;
    host_facts_read(root, &facts);   /* nothing there: all unknown */
    assert_int_equal(facts.unprivileged_port_start, -1);
    assert_int_equal(facts.tcp_fin_timeout, -1);
    assert_int_equal(facts.bindv6only, -1);

    int value = 7;
    struct pr_error err = { 0 };
    assert_int_equal(host_sysctl_read_int(root, "net/ipv4/tcp_fin_timeout", &value, &err), -ENOENT);
    static const struct {
        const char *text;
        int result, value;
    } cases[] = {
        { "0\n", 0, 0 },          { "  80\t\n", 0, 80 },   { "-1\n", 0, -1 },
        { "", -EINVAL, 0 },       { "abc\n", -EINVAL, 0 }, { "12 34\n", -EINVAL, 0 },
        { "99999999999\n", -EINVAL, 0 }, { "1024junk", -EINVAL, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(dir, "ip_unprivileged_port_start", cases[i].text);
        value = 7;
        int r = host_sysctl_read_int(root, "net/ipv4/ip_unprivileged_port_start", &value, &err);
        if (r != cases[i].result || (r == 0 && value != cases[i].value))
            fail_msg("\"%s\": %d, value %d", cases[i].text, r, value);
        if (r < 0)
            assert_non_null(strstr(err.path, "ip_unprivileged_port_start"));
    }
    /* a directory is not a sysctl */
    snprintf(dir, sizeof dir, "%s/sys/net/ipv4/tcp_fin_timeout", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_true(host_sysctl_read_int(root, "net/ipv4/tcp_fin_timeout", &value, &err) < 0);
    char command[4200];
    snprintf(command, sizeof command, "rm -rf '%s'", root);
    assert_int_equal(system(command), 0);
}

static void test_this_host(void **state)
{
    (void)state;
    struct host_facts facts;
    host_facts_read(NULL, &facts);
    if (access("/proc/sys/net/ipv4/ip_unprivileged_port_start", R_OK) == 0)
        assert_true(facts.unprivileged_port_start >= 0 && facts.unprivileged_port_start <= 65536);
    uint64_t caps = 0;
    assert_int_equal(capabilities_read_effective(NULL, 0, &caps, NULL), 0);
    if (geteuid() == 0)
        assert_true(capabilities_has(caps, CAPABILITY_NET_BIND_SERVICE));
}

static void test_capabilities_from_fixture(void **state)
{
    (void)state;
    char root[4096];
    fixture_root(root, sizeof root);
    uint64_t caps = 0;
    assert_int_equal(capabilities_read_effective(root, 4242, &caps, NULL), 0);
    assert_int_equal(caps, 0x400);
    assert_true(capabilities_has(caps, CAPABILITY_NET_BIND_SERVICE));
    assert_false(capabilities_has(caps, 12));
    assert_int_equal(capabilities_read_effective(root, 0, &caps, NULL), 0);
    assert_int_equal(caps, 0x1ffffffffffull);
    struct pr_error err = { 0 };
    assert_int_equal(capabilities_read_effective(root, 99999, &caps, &err), -ENOENT);
    assert_non_null(strstr(err.path, "99999/status"));
}

static void test_capabilities_parse(void **state)
{
    (void)state;
    uint64_t caps = 1;
    struct pr_error err = { 0 };
    assert_int_equal(capabilities_parse_status("CapEff:\t0000000000000000\n", &caps, &err), 0);
    assert_int_equal(caps, 0);
    assert_int_equal(capabilities_parse_status("Name:\tx\nCapEff: 400", &caps, &err), 0);
    assert_int_equal(caps, 0x400);
    assert_int_equal(capabilities_parse_status("Name:\tx\nCapPrm:\t400\n", &caps, &err), -EINVAL);
    assert_int_equal(capabilities_parse_status("Name:\tx\nCapEff:\tzz\n", &caps, &err), -EINVAL);
    assert_int_equal(err.line, 2);
    assert_int_equal(capabilities_parse_status("CapEff:\t40x\n", &caps, &err), -EINVAL);
    assert_int_equal(capabilities_parse_status("", &caps, &err), -EINVAL);
    assert_false(capabilities_has(~0ull, 64));
}

static void test_planned_user(void **state)
{
    (void)state;
    const uint64_t none = 0, bind = 1ull << CAPABILITY_NET_BIND_SERVICE;
    assert_true(capabilities_planned_user_has(0, 1000, none, CAPABILITY_NET_BIND_SERVICE));
    assert_true(capabilities_planned_user_has(1000, 1000, bind, CAPABILITY_NET_BIND_SERVICE));
    assert_false(capabilities_planned_user_has(1000, 1000, none, CAPABILITY_NET_BIND_SERVICE));
    /* root checking for another user: root's capabilities are not the user's */
    assert_false(capabilities_planned_user_has(123456, 0, ~0ull, CAPABILITY_NET_BIND_SERVICE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_facts_from_fixture),
        cmocka_unit_test(test_sysctl_missing_and_malformed),
        cmocka_unit_test(test_this_host),
        cmocka_unit_test(test_capabilities_from_fixture),
        cmocka_unit_test(test_capabilities_parse),
        cmocka_unit_test(test_planned_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
