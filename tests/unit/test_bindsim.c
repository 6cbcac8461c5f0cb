/* test_bindsim.c — unit tests for the bind-rule simulator (doctor/bindsim.c) on synthetic
 * socket tables: one table of cases (existing socket, planned bind, expected verdict, rule and
 * overlap) covering address overlap, dual-stack, flags, uids, TIME_WAIT, devices and UDP;
 * then warnings, fixes, ordering and invalid plans. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "doctor/bindsim.h"
#include "registry/record.h"

#define TCP REGISTRY_PROTO_TCP
#define UDP REGISTRY_PROTO_UDP

static struct socket_entry make_socket(uint8_t proto, const char *addr, uint16_t port, uint8_t state, bool v6only,
                                       uint32_t uid, uint32_t ifindex)
{
    struct socket_entry s;
    memset(&s, 0, sizeof s);
    s.proto = proto;
    s.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(s.family, addr, s.local_addr), 1);
    s.local_port = port;
    s.state = state;
    s.v6only = v6only;
    s.uid = uid;
    s.bound_ifindex = ifindex;
    return s;
}

static struct bindsim_plan make_plan(uint8_t proto, const char *addr, uint16_t port, bool v6only, bool reuseaddr,
                                     bool reuseport, uint32_t uid, uint32_t ifindex)
{
    struct bindsim_plan p;
    memset(&p, 0, sizeof p);
    p.proto = proto;
    p.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(p.family, addr, p.address), 1);
    p.port = port;
    p.v6only = v6only;
    p.reuseaddr = reuseaddr;
    p.reuseport = reuseport;
    p.uid = uid;
    p.device_ifindex = ifindex;
    return p;
}

enum { LISTEN = SOCKET_STATE_LISTEN, CLOSE = SOCKET_STATE_CLOSE, ESTAB = SOCKET_STATE_ESTABLISHED,
       TW = SOCKET_STATE_TIME_WAIT, FW2 = SOCKET_STATE_FIN_WAIT2, SYNRECV = SOCKET_STATE_NEW_SYN_RECV };

struct rule_case {
    const char *name;
    /* existing socket */
    uint8_t proto; const char *addr; uint8_t state; bool v6only; uint32_t uid; uint32_t dev;
    /* planned bind */
    const char *plan_addr; bool plan_v6only, reuseaddr, reuseport; uint32_t plan_uid, plan_dev;
    enum bindsim_verdict verdict;
    int rule;       /* enum bindsim_rule, -1 when free */
    int overlap;    /* enum bindsim_overlap, -1 when not checked */
};

static const struct rule_case rule_cases[] = {
    { "same v4 address", TCP, "127.0.0.1", LISTEN, 0, 0, 0, "127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_SAME_ADDRESS },
    { "other v4 address", TCP, "127.0.0.1", LISTEN, 0, 0, 0, "127.0.0.2", 0, 0, 0, 0, 0, BINDSIM_FREE, -1, -1 },
    { "plan 0.0.0.0 over specific", TCP, "127.0.0.1", LISTEN, 0, 0, 0, "0.0.0.0", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_WILDCARD },
    { "specific under 0.0.0.0", TCP, "0.0.0.0", LISTEN, 0, 0, 0, "10.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_WILDCARD },
    { "v4 under [::] dual", TCP, "::", LISTEN, 0, 0, 0, "127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_DUAL_STACK },
    { "v4 under [::] v6only", TCP, "::", LISTEN, 1, 0, 0, "127.0.0.1", 0, 0, 0, 0, 0, BINDSIM_FREE, -1, -1 },
    { "0.0.0.0 next to [::] v6only", TCP, "::", LISTEN, 1, 0, 0, "0.0.0.0", 0, 0, 0, 0, 0, BINDSIM_FREE, -1, -1 },
    { "[::] dual over 0.0.0.0", TCP, "0.0.0.0", LISTEN, 0, 0, 0, "::", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_DUAL_STACK },
    { "[::] v6only over 0.0.0.0", TCP, "0.0.0.0", LISTEN, 0, 0, 0, "::", 1, 0, 0, 0, 0, BINDSIM_FREE, -1, -1 },
    { "[::] v6only over [::] v6only", TCP, "::", LISTEN, 1, 0, 0, "::", 1, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_SAME_ADDRESS },
    { "[::1] under [::] v6only", TCP, "::", LISTEN, 1, 0, 0, "::1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_WILDCARD },
    { "[::1] next to 0.0.0.0", TCP, "0.0.0.0", LISTEN, 0, 0, 0, "::1", 0, 0, 0, 0, 0, BINDSIM_FREE, -1, -1 },
    { "0.0.0.0 next to [::1]", TCP, "::1", LISTEN, 1, 0, 0, "0.0.0.0", 0, 0, 0, 0, 0, BINDSIM_FREE, -1, -1 },
    { "same v6 address", UDP, "fe80::1", CLOSE, 1, 0, 0, "fe80::1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_SAME_ADDRESS },
    { "v4-mapped plan is its IPv4 address", TCP, "127.0.0.1", LISTEN, 0, 0, 0, "::ffff:127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_SAME_ADDRESS },
    /* flags, TCP */
    { "reuseaddr vs listener", TCP, "127.0.0.1", LISTEN, 0, 0, 0, "127.0.0.1", 0, 1, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_REUSEADDR_LISTENING, -1 },
    { "reuseaddr vs bound: depends on theirs", TCP, "127.0.0.1", CLOSE, 0, 0, 0, "127.0.0.1", 0, 1, 0, 0, 0,
      BINDSIM_UNKNOWN, BINDSIM_RULE_FLAGS_UNKNOWN, -1 },
    { "reuseaddr vs established", TCP, "127.0.0.1", ESTAB, 0, 0, 0, "127.0.0.1", 0, 1, 0, 0, 0,
      BINDSIM_UNKNOWN, BINDSIM_RULE_FLAGS_UNKNOWN, -1 },
    { "reuseport same uid: depends", TCP, "127.0.0.1", LISTEN, 0, 1000, 0, "127.0.0.1", 0, 0, 1, 1000, 0,
      BINDSIM_UNKNOWN, BINDSIM_RULE_FLAGS_UNKNOWN, -1 },
    { "reuseport other uid", TCP, "127.0.0.1", LISTEN, 0, 1000, 0, "127.0.0.1", 0, 0, 1, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_REUSEPORT_UID, -1 },
    { "no flags vs bound", TCP, "127.0.0.1", CLOSE, 0, 0, 0, "127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, -1 },
    { "time-wait, no flags", TCP, "127.0.0.1", TW, 0, 0, 0, "127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_TIME_WAIT, -1 },
    { "time-wait with reuseaddr", TCP, "127.0.0.1", TW, 0, 0, 0, "127.0.0.1", 0, 1, 0, 0, 0,
      BINDSIM_UNKNOWN, BINDSIM_RULE_TIME_WAIT, -1 },
    { "time-wait reuseport ignores uid", TCP, "127.0.0.1", TW, 0, 0, 0, "127.0.0.1", 0, 0, 1, 1000, 0,
      BINDSIM_UNKNOWN, BINDSIM_RULE_TIME_WAIT, -1 },
    { "fin-wait2", TCP, "0.0.0.0", FW2, 0, 0, 0, "127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_CLOSING, -1 },
    { "request sockets hold nothing", TCP, "127.0.0.1", SYNRECV, 0, 0, 0, "127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_FREE, -1, -1 },
    /* devices */
    { "different devices", TCP, "0.0.0.0", LISTEN, 0, 0, 2, "0.0.0.0", 0, 0, 0, 0, 3, BINDSIM_FREE, -1, -1 },
    { "same device", TCP, "0.0.0.0", LISTEN, 0, 0, 2, "0.0.0.0", 0, 0, 0, 0, 2, BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, -1 },
    { "plan without device", TCP, "0.0.0.0", LISTEN, 0, 0, 2, "0.0.0.0", 0, 0, 0, 0, 0, BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, -1 },
    { "existing without device", UDP, "0.0.0.0", CLOSE, 0, 0, 0, "0.0.0.0", 0, 0, 0, 0, 2, BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, -1 },
    /* UDP */
    { "udp reuseaddr: depends", UDP, "127.0.0.1", CLOSE, 0, 0, 0, "127.0.0.1", 0, 1, 0, 0, 0,
      BINDSIM_UNKNOWN, BINDSIM_RULE_FLAGS_UNKNOWN, -1 },
    { "udp reuseport other uid, no reuseaddr", UDP, "0.0.0.0", CLOSE, 0, 1000, 0, "0.0.0.0", 0, 0, 1, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_REUSEPORT_UID, -1 },
    { "udp connected socket holds the port", UDP, "127.0.0.1", ESTAB, 0, 0, 0, "0.0.0.0", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, -1 },
    { "udp [::] dual takes IPv4", UDP, "::", CLOSE, 0, 0, 0, "127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_DUAL_STACK },
};

static void test_rule_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
        const struct rule_case *c = &rule_cases[i];
        struct socket_entry s = make_socket(c->proto, c->addr, 8080, c->state, c->v6only, c->uid, c->dev);
        struct bindsim_plan plan = make_plan(c->proto, c->plan_addr, 8080, c->plan_v6only, c->reuseaddr,
                                             c->reuseport, c->plan_uid, c->plan_dev);
        struct bindsim_result res;
        struct pr_error err;
        assert_int_equal(bindsim_check(&plan, &s, 1, NULL, &res, &err), 0);
        if (res.verdict != c->verdict)
            fail_msg("case \"%s\": verdict %s, expected %s", c->name, bindsim_verdict_id(res.verdict),
                     bindsim_verdict_id(c->verdict));
        assert_int_equal(res.considered, c->state == SYNRECV ? 0 : 1);
        if (c->rule >= 0) {
            assert_int_equal(res.conflict_count, 1);
            if ((int)res.conflicts[0].rule != c->rule)
                fail_msg("case \"%s\": rule %s", c->name, bindsim_rule_id(res.conflicts[0].rule));
            if (c->overlap >= 0 && (int)res.conflicts[0].overlap != c->overlap)
                fail_msg("case \"%s\": overlap %s", c->name, bindsim_overlap_id(res.conflicts[0].overlap));
            char sentence[1024];
            bindsim_conflict_sentence(&plan, &s, &res.conflicts[0], sentence, sizeof sentence);
            assert_true(strlen(sentence) > 20);
            assert_true(res.fix_count > 0);
        } else {
            assert_int_equal(res.conflict_count, 0);
        }
        bindsim_result_free(&res);
    }
}

static void test_other_ports_and_protocols_ignored(void **state)
{
    (void)state;
    struct socket_entry table[] = {
        make_socket(TCP, "0.0.0.0", 8081, LISTEN, 0, 0, 0),
        make_socket(UDP, "0.0.0.0", 8080, CLOSE, 0, 0, 0),
    };
    struct bindsim_plan plan = make_plan(TCP, "::", 8080, false, false, false, 0, 0);
    struct bindsim_result res;
    assert_int_equal(bindsim_check(&plan, table, 2, NULL, &res, NULL), 0);
    assert_int_equal(res.verdict, BINDSIM_FREE);
    assert_int_equal(res.considered, 0);
    bindsim_result_free(&res);
}

static void test_certain_conflicts_first(void **state)
{
    (void)state;
    struct socket_entry table[] = {
        make_socket(TCP, "127.0.0.1", 8080, CLOSE, 0, 0, 0),    /* reuseaddr: unknown */
        make_socket(TCP, "0.0.0.0", 8080, LISTEN, 0, 0, 0),     /* blocks for sure */
        make_socket(TCP, "::", 8080, LISTEN, 1, 0, 0),          /* v6only: no overlap */
    };
    struct bindsim_plan plan = make_plan(TCP, "127.0.0.1", 8080, false, true, false, 0, 0);
    struct bindsim_result res;
    assert_int_equal(bindsim_check(&plan, table, 3, NULL, &res, NULL), 0);
    assert_int_equal(res.verdict, BINDSIM_BLOCKED);
    assert_int_equal(res.considered, 3);
    assert_int_equal(res.conflict_count, 2);
    assert_int_equal(res.conflicts[0].socket_index, 1);
    assert_true(res.conflicts[0].certain);
    assert_false(res.conflicts[1].certain);
    assert_true(res.conflicts[1].shares_if_reuseaddr);
    bindsim_result_free(&res);
}

static bool has_warning(const struct bindsim_result *res, enum bindsim_warning_kind kind)
{
    for (size_t i = 0; i < res->warning_count; i++)
        if (res->warnings[i].kind == kind)
            return true;
    return false;
}

static bool has_fix(const struct bindsim_result *res, enum bindsim_fix_kind kind)
{
    for (size_t i = 0; i < res->fix_count; i++)
        if (res->fixes[i].kind == kind)
            return true;
    return false;
}

static void test_host_warnings(void **state)
{
    (void)state;
    struct local_ports ports;
    memset(&ports, 0, sizeof ports);
    ports.have_ephemeral = true;
    ports.ephemeral.first = 32768;
    ports.ephemeral.last = 60999;
    struct bindsim_host host = { &ports, 1024, false, "http", 60 };
    struct bindsim_plan plan = make_plan(TCP, "0.0.0.0", 40000, false, false, false, 1000, 0);
    struct bindsim_result res;
    assert_int_equal(bindsim_check(&plan, NULL, 0, &host, &res, NULL), 0);
    assert_int_equal(res.verdict, BINDSIM_FREE);
    assert_true(has_warning(&res, BINDSIM_WARN_EPHEMERAL));
    assert_false(has_warning(&res, BINDSIM_WARN_PRIVILEGED));
    assert_true(has_warning(&res, BINDSIM_WARN_IANA));
    bindsim_result_free(&res);

    port_set_add(&ports.reserved, 40000);
    ports.have_reserved = true;
    assert_int_equal(bindsim_check(&plan, NULL, 0, &host, &res, NULL), 0);
    assert_false(has_warning(&res, BINDSIM_WARN_EPHEMERAL));
    bindsim_result_free(&res);

    plan.port = 80;
    host.iana_service = NULL;
    assert_int_equal(bindsim_check(&plan, NULL, 0, &host, &res, NULL), 0);
    assert_true(has_warning(&res, BINDSIM_WARN_PRIVILEGED));
    assert_false(has_warning(&res, BINDSIM_WARN_IANA));
    bindsim_result_free(&res);
    host.can_bind_privileged = true;
    assert_int_equal(bindsim_check(&plan, NULL, 0, &host, &res, NULL), 0);
    assert_int_equal(res.warning_count, 0);
    bindsim_result_free(&res);
}

static void test_fixes(void **state)
{
    (void)state;
    struct bindsim_host host = { NULL, -1, true, NULL, 45 };
    struct bindsim_result res;
    /* [::] dual over 0.0.0.0: set IPV6_V6ONLY; stop the holder */
    struct socket_entry v4any = make_socket(TCP, "0.0.0.0", 80, LISTEN, 0, 0, 0);
    struct bindsim_plan plan = make_plan(TCP, "::", 80, false, false, false, 0, 0);
    assert_int_equal(bindsim_check(&plan, &v4any, 1, &host, &res, NULL), 0);
    assert_true(has_fix(&res, BINDSIM_FIX_V6ONLY));
    assert_true(has_fix(&res, BINDSIM_FIX_STOP_HOLDER));
    bindsim_result_free(&res);
    /* wildcard over a specific address: bind a specific address */
    struct socket_entry lo = make_socket(TCP, "127.0.0.1", 80, LISTEN, 0, 0, 0);
    plan = make_plan(TCP, "0.0.0.0", 80, false, false, false, 0, 0);
    assert_int_equal(bindsim_check(&plan, &lo, 1, &host, &res, NULL), 0);
    assert_true(has_fix(&res, BINDSIM_FIX_SPECIFIC_ADDRESS));
    bindsim_result_free(&res);
    /* TIME_WAIT: wait, set SO_REUSEADDR; not "stop the holder" */
    struct socket_entry tw = make_socket(TCP, "127.0.0.1", 80, TW, 0, 0, 0);
    assert_int_equal(bindsim_check(&plan, &tw, 1, &host, &res, NULL), 0);
    assert_true(has_fix(&res, BINDSIM_FIX_WAIT));
    assert_true(has_fix(&res, BINDSIM_FIX_SET_REUSEADDR));
    assert_false(has_fix(&res, BINDSIM_FIX_STOP_HOLDER));
    bindsim_result_free(&res);
    /* FIN_WAIT2: the wait names tcp_fin_timeout */
    struct socket_entry fw = make_socket(TCP, "127.0.0.1", 80, FW2, 0, 0, 0);
    assert_int_equal(bindsim_check(&plan, &fw, 1, &host, &res, NULL), 0);
    assert_true(has_fix(&res, BINDSIM_FIX_WAIT));
    for (size_t i = 0; i < res.fix_count; i++)
        if (res.fixes[i].kind == BINDSIM_FIX_WAIT)
            assert_non_null(strstr(res.fixes[i].message, "45 s"));
    bindsim_result_free(&res);
    /* SO_REUSEPORT across users: run as the same user */
    struct socket_entry rp = make_socket(TCP, "0.0.0.0", 80, LISTEN, 0, 33, 0);
    plan.reuseport = true;
    assert_int_equal(bindsim_check(&plan, &rp, 1, &host, &res, NULL), 0);
    assert_true(has_fix(&res, BINDSIM_FIX_SAME_USER));
    bindsim_result_free(&res);
}

static void test_listen_race_and_unseen_flags(void **state)
{
    (void)state;
    struct socket_entry bound = make_socket(TCP, "127.0.0.1", 80, CLOSE, 0, 0, 0);
    struct bindsim_plan plan = make_plan(TCP, "127.0.0.1", 80, false, true, false, 0, 0);
    struct bindsim_result res;
    assert_int_equal(bindsim_check(&plan, &bound, 1, NULL, &res, NULL), 0);
    assert_int_equal(res.verdict, BINDSIM_UNKNOWN);
    assert_true(has_warning(&res, BINDSIM_WARN_LISTEN_RACE));
    assert_true(has_warning(&res, BINDSIM_WARN_FLAGS_UNSEEN));
    bindsim_result_free(&res);
}

static void test_invalid_plans(void **state)
{
    (void)state;
    struct bindsim_result res;
    struct pr_error err;
    struct bindsim_plan plan = make_plan(TCP, "127.0.0.1", 0, false, false, false, 0, 0);
    assert_int_equal(bindsim_check(&plan, NULL, 0, NULL, &res, &err), -EINVAL);
    plan = make_plan(TCP, "127.0.0.1", 80, true, false, false, 0, 0);
    assert_int_equal(bindsim_check(&plan, NULL, 0, NULL, &res, &err), -EINVAL);
    plan = make_plan(REGISTRY_PROTO_SCTP, "127.0.0.1", 80, false, false, false, 0, 0);
    assert_int_equal(bindsim_check(&plan, NULL, 0, NULL, &res, &err), -EINVAL);
    plan = make_plan(TCP, "::ffff:127.0.0.1", 80, true, false, false, 0, 0);
    assert_int_equal(bindsim_check(&plan, NULL, 0, NULL, &res, &err), -EINVAL);
}

static void test_ids_and_endpoint(void **state)
{
    (void)state;
    assert_string_equal(bindsim_verdict_id(BINDSIM_BLOCKED), "blocked");
    assert_string_equal(bindsim_rule_id(BINDSIM_RULE_TIME_WAIT), "time-wait");
    assert_string_equal(bindsim_overlap_id(BINDSIM_OVERLAP_DUAL_STACK), "dual-stack");
    assert_string_equal(bindsim_share_id(BINDSIM_SHARE_DEVICE), "device");
    assert_string_equal(bindsim_warning_id(BINDSIM_WARN_LISTEN_RACE), "listen-race");
    assert_string_equal(bindsim_fix_id(BINDSIM_FIX_V6ONLY), "v6only");
    char buf[80];
    struct bindsim_plan plan = make_plan(TCP, "::", 443, false, false, false, 0, 0);
    assert_string_equal(bindsim_plan_endpoint(&plan, buf, sizeof buf), "[::]:443");
    plan = make_plan(UDP, "10.1.2.3", 53, false, false, false, 0, 0);
    assert_string_equal(bindsim_plan_endpoint(&plan, buf, sizeof buf), "10.1.2.3:53");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_table),
        cmocka_unit_test(test_other_ports_and_protocols_ignored),
        cmocka_unit_test(test_certain_conflicts_first),
        cmocka_unit_test(test_host_warnings),
        cmocka_unit_test(test_fixes),
        cmocka_unit_test(test_listen_race_and_unseen_flags),
        cmocka_unit_test(test_invalid_plans),
        cmocka_unit_test(test_ids_and_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
