/* test_socket_filter.c — the --user and --port values (net/socket_filter.h) and their quirks:
 * all digits are a uid whoever has it, " 12" and "+12" are not; service names resolve through
 * a registry that is opened only when a name is used, per protocol, ranges whole, records
 * without a port skipped; every error comes back as a value with its column. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index_fixture.h"
#include "net/socket_filter.h"
#include "registry/record.h"

/* ---- --user ---- */

static void test_user_digits_are_a_uid(void **state)
{
    (void)state;
    struct pr_error err;
    uint32_t uid = 7;
    assert_int_equal(socket_filter_parse_user("0", &uid, &err), 0);
    assert_int_equal(uid, 0);
    /* a uid nobody has is still a uid: sockets of a vanished user */
    assert_int_equal(socket_filter_parse_user("4294967295", &uid, &err), 0);
    assert_int_equal(uid, UINT32_MAX);
    assert_int_equal(socket_filter_parse_user("0012", &uid, &err), 0);
    assert_int_equal(uid, 12);
}

static void test_user_name(void **state)
{
    (void)state;
    struct pr_error err;
    uint32_t uid = 7;
    assert_int_equal(socket_filter_parse_user("root", &uid, &err), 0);
    assert_int_equal(uid, 0);
}

static void test_user_errors_are_values(void **state)
{
    (void)state;
    struct pr_error err;
    uint32_t uid = 7;
    pr_error_clear(&err);
    assert_int_equal(socket_filter_parse_user("", &uid, &err), -EINVAL);
    pr_error_clear(&err);
    assert_int_equal(socket_filter_parse_user("no-such-user-portreg", &uid, &err), -ENOENT);
    assert_string_equal(err.message, "\"no-such-user-portreg\": no such user");
    /* above 32 bits, signs and spaces: not numbers (strtoul took " 12", "+12" and wrapped "-1") */
    assert_int_equal(socket_filter_parse_user("4294967296", &uid, &err), -ENOENT);
    assert_int_equal(socket_filter_parse_user("+12", &uid, &err), -ENOENT);
    assert_int_equal(socket_filter_parse_user(" 12", &uid, &err), -ENOENT);
    assert_int_equal(socket_filter_parse_user("-1", &uid, &err), -ENOENT);
    assert_int_equal(uid, 7);   /* untouched on error */
}

/* ---- --port ---- */

struct open_counter {
    struct index_fixture *fixture;
    int calls;
    int result;
};

static int open_fixture(void *user, struct registry_index **ix)
{
    struct open_counter *c = user;
    c->calls++;
    if (c->result < 0)
        return c->result;
    *ix = c->fixture->ix;
    return 0;
}

/* Parse text; return "first-last/proto ..." or the error code as "E<code>@<column>". */
static const char *parse_ports(struct open_counter *c, const char *text)
{
    static char out[512];
    struct socket_filter_registry registry = { open_fixture, c, NULL };
    struct portspec spec = { 0 };
    struct pr_error err;
    pr_error_clear(&err);
    int r = socket_filter_parse_ports(text, &registry, &spec, &err);
    out[0] = '\0';
    if (r < 0) {
        snprintf(out, sizeof out, "E%d@%u", r, err.column);
    } else {
        for (size_t i = 0; i < spec.count; i++) {
            size_t len = strlen(out);
            const struct portspec_range *range = &spec.ranges[i];
            snprintf(out + len, sizeof out - len, "%s%u-%u/%s", len ? " " : "", range->first, range->last,
                     range->proto == REGISTRY_PROTO_ANY ? "any" : registry_proto_name(range->proto));
        }
    }
    portspec_free(&spec);
    return out;
}

static void test_ports_without_names_never_open_the_registry(void **state)
{
    struct open_counter c = { *state, 0, -EIO };
    assert_string_equal(parse_ports(&c, "22,1000-2000,T:80,U:53"),
                        "22-22/any 1000-2000/any 80-80/tcp 53-53/udp");
    assert_int_equal(c.calls, 0);
}

static void test_ports_names_resolve_per_protocol(void **state)
{
    struct open_counter c = { *state, 0, 0 };
    assert_string_equal(parse_ports(&c, "ssh"), "22-22/tcp 22-22/udp");
    assert_string_equal(parse_ports(&c, "ssh/udp"), "22-22/udp");
    assert_string_equal(parse_ports(&c, "U:ssh"), "22-22/udp");
    /* a range record is the whole range; an alias of the host's services file resolves */
    assert_string_equal(parse_ports(&c, "x11"), "6000-6063/tcp");
    assert_string_equal(parse_ports(&c, "www"), "80-80/tcp");
    assert_string_equal(parse_ports(&c, "22,mysql"), "22-22/any 3306-3306/tcp");
}

static void test_ports_unknown_names_are_errors_with_a_column(void **state)
{
    struct open_counter c = { *state, 0, 0 };
    assert_string_equal(parse_ports(&c, "22,nosuchservice"), "E-22@4");
    /* a name IANA lists without a port is no port */
    assert_string_equal(parse_ports(&c, "argus"), "E-22@1");
    /* a protocol the service is not registered for */
    assert_string_equal(parse_ports(&c, "mysql/udp"), "E-22@1");
    char long_name[400];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_string_equal(parse_ports(&c, long_name), "E-22@1");
}

static void test_ports_registry_failure_is_returned(void **state)
{
    struct open_counter c = { *state, 0, -EACCES };
    assert_string_equal(parse_ports(&c, "ssh"), "E-13@1");
    assert_int_equal(c.calls, 1);
    /* no registry at all: names are an error, numbers are fine */
    struct portspec spec = { 0 };
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(socket_filter_parse_ports("ssh", NULL, &spec, &err), -EINVAL);
    assert_int_equal(socket_filter_parse_ports("22", NULL, &spec, &err), 0);
    portspec_free(&spec);
}

int main(void)
{
    const struct CMUnitTest user_tests[] = {
        cmocka_unit_test(test_user_digits_are_a_uid),
        cmocka_unit_test(test_user_name),
        cmocka_unit_test(test_user_errors_are_values),
    };
    const struct CMUnitTest port_tests[] = {
        cmocka_unit_test(test_ports_without_names_never_open_the_registry),
        cmocka_unit_test(test_ports_names_resolve_per_protocol),
        cmocka_unit_test(test_ports_unknown_names_are_errors_with_a_column),
        cmocka_unit_test(test_ports_registry_failure_is_returned),
    };
    int failed = cmocka_run_group_tests_name("socket_filter_user", user_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("socket_filter_ports", port_tests, index_fixture_setup,
                                          index_fixture_teardown);
    return failed;
}
