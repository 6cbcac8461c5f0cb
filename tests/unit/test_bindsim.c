/* test_bindsim.c — unit tests for the bind-rule simulator (doctor/bindsim.c) on synthetic
 * socket tables: one table of cases (existing socket, planned bind, expected verdict, rule and
 * overlap) covering address overlap, dual-stack, flags, uids, TIME_WAIT, devices and UDP;
 * then warnings, fixes, ordering and invalid plans; then thousands of random socket pairs
 * against the kernel itself, in a network namespace of the test's own (root only). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "doctor/bindsim.h"
#include "doctor/trial_bind.h"
#include "net/sockdiag.h"
#include "registry/record.h"
#include "util/portspec.h"

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
    { "v4-mapped next to [::] v6only", TCP, "::", LISTEN, 1, 0, 0, "::ffff:127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_FREE, -1, -1 },
    { "v4-mapped next to [::] v6only, udp", UDP, "::", CLOSE, 1, 0, 0, "::ffff:127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_FREE, -1, -1 },
    { "v4-mapped under [::] dual", TCP, "::", LISTEN, 0, 0, 0, "::ffff:127.0.0.1", 0, 0, 0, 0, 0,
      BINDSIM_BLOCKED, BINDSIM_RULE_IN_USE, BINDSIM_OVERLAP_DUAL_STACK },
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
    /* bind() fails with EACCES before any address rule: blocked, with the two ways out */
    assert_int_equal(res.verdict, BINDSIM_BLOCKED);
    assert_true(res.privileged_port);
    assert_string_equal(bindsim_reason_id(&res), "privileged-port");
    assert_true(has_fix(&res, BINDSIM_FIX_CAPABILITY));
    assert_true(has_fix(&res, BINDSIM_FIX_UNPRIVILEGED_PORT));
    bindsim_result_free(&res);
    host.can_bind_privileged = true;
    assert_int_equal(bindsim_check(&plan, NULL, 0, &host, &res, NULL), 0);
    assert_int_equal(res.warning_count, 0);
    assert_int_equal(res.verdict, BINDSIM_FREE);
    assert_false(res.privileged_port);
    assert_null(bindsim_reason_id(&res));
    bindsim_result_free(&res);
    /* unknown sysctl: no verdict from it */
    host.can_bind_privileged = false;
    host.unprivileged_port_start = -1;
    assert_int_equal(bindsim_check(&plan, NULL, 0, &host, &res, NULL), 0);
    assert_int_equal(res.verdict, BINDSIM_FREE);
    bindsim_result_free(&res);
}

static void test_address_decides_v6only(void **state)
{
    (void)state;
    static const struct {
        const char *address;
        bool decides, v6only;
    } cases[] = {
        { "::1", true, true }, { "fe80::1", true, true }, { "2001:db8::5", true, true },
        { "::ffff:127.0.0.1", true, false }, { "::ffff:0.0.0.0", true, false },
        { "::", false, false }, { "127.0.0.1", false, false }, { "0.0.0.0", false, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bindsim_plan plan = make_plan(TCP, cases[i].address, 80, false, false, false, 0, 0);
        bool v6only = !cases[i].v6only;
        bool decides = bindsim_address_decides_v6only(&plan, &v6only);
        if (decides != cases[i].decides || (decides && v6only != cases[i].v6only))
            fail_msg("%s: decides %d v6only %d", cases[i].address, decides, v6only);
    }
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

/* ---- the simulator against the kernel: random socket pairs in a namespace of our own ---- */

#define RANDOM_PAIRS 3000
#define RANDOM_DEFAULT_SEED 20240611u
#define RANDOM_OTHER_UID 65534u

/* xorshift64*: the same pairs for the same seed on every libc */
static uint64_t random_next(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

static unsigned random_below(uint64_t *state, unsigned n)
{
    return (unsigned)(random_next(state) >> 33) % n;
}

/* One side of a pair: the existing socket (listening or only bound) or the planned bind. */
struct random_side {
    uint8_t proto;
    int family;
    const char *address;
    int v6only;              /* -1: not set (IPv4) */
    bool reuseaddr, reuseport, listening;
    uint32_t uid;
};

static void random_side_make(uint64_t *state, uint8_t proto, struct random_side *side)
{
    static const char *const v4[] = { "0.0.0.0", "127.0.0.1", "127.0.0.2" };
    static const char *const v6[] = { "::", "::1", "::ffff:127.0.0.1", "::ffff:127.0.0.2", "::ffff:0.0.0.0" };
    memset(side, 0, sizeof *side);
    side->proto = proto;
    side->family = random_below(state, 2) ? AF_INET6 : AF_INET;
    if (side->family == AF_INET) {
        side->address = v4[random_below(state, 3)];
        side->v6only = -1;
    } else {
        side->address = v6[random_below(state, 5)];
        /* a v4-mapped address cannot be bound IPv6-only (EINVAL): mostly leave it dual */
        side->v6only = strchr(side->address, '.') && random_below(state, 4) ? 0 : (int)random_below(state, 2);
    }
    side->reuseaddr = random_below(state, 2);
    side->reuseport = random_below(state, 2);
    side->listening = proto == TCP && random_below(state, 2);
    side->uid = random_below(state, 3) == 0 ? RANDOM_OTHER_UID : 0;
}

static const char *random_side_text(const struct random_side *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s %s%s%s%s%s%s uid %u", s->proto == TCP ? "tcp" : "udp",
             s->family == AF_INET6 ? "6" : "4", s->address,
             s->v6only == 1 ? " v6only" : s->v6only == 0 ? " dual" : "", s->reuseaddr ? " reuseaddr" : "",
             s->reuseport ? " reuseport" : "", s->listening ? " listening" : "",
             s->proto == TCP && !s->listening ? " bound" : "", s->uid);
    return buf;
}

static struct bindsim_plan random_side_plan(const struct random_side *s, uint16_t port)
{
    struct bindsim_plan p;
    memset(&p, 0, sizeof p);
    p.proto = s->proto;
    p.family = (uint8_t)s->family;
    inet_pton(s->family, s->address, p.address);
    p.port = port;
    p.v6only = s->v6only == 1;
    p.reuseaddr = s->reuseaddr;
    p.reuseport = s->reuseport;
    p.uid = s->uid;
    return p;
}

/* The existing socket, created as its uid (fsuid stamps sk_uid); -1 when the kernel refuses. */
static int random_side_open(const struct random_side *s, uint16_t port)
{
    uid_t previous = (uid_t)setfsuid(s->uid);
    int fd = socket(s->family, (s->proto == TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    setfsuid(previous);
    if (fd < 0)
        return -1;
    int one = 1;
    if ((s->reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
        (s->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
        (s->v6only >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &s->v6only, sizeof s->v6only) < 0)) {
        close(fd);
        return -1;
    }
    struct bindsim_plan p = random_side_plan(s, port);
    int rc;
    if (s->family == AF_INET6) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
        memcpy(&a.sin6_addr, p.address, 16);
        rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
        memcpy(&a.sin_addr, p.address, 4);
        rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    }
    if (rc < 0 || (s->listening && listen(fd, 4) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int bring_loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    close(fd);
    return rc;
}

/* What the simulator's answer says the kernel does when the existing socket's flags are
 * the ones it really has: 1 = EADDRINUSE, 0 = bind succeeds. */
static int simulator_expects_conflict(const struct bindsim_result *res, const struct random_side *existing)
{
    if (res->verdict != BINDSIM_UNKNOWN)
        return res->verdict == BINDSIM_BLOCKED;
    const struct bindsim_conflict *c = &res->conflicts[0];
    bool shares = (existing->reuseaddr && c->shares_if_reuseaddr) || (existing->reuseport && c->shares_if_reuseport);
    return !shares;
}

/* The child's whole run: returns the number of disagreements (printed as they are found). */
static int random_pairs_run(uint64_t seed, unsigned pairs)
{
    uint64_t state = seed ? seed : 1;
    unsigned disagreements = 0, compared = 0, skipped = 0, uncertain = 0;
    for (unsigned i = 0; i < pairs; i++) {
        uint16_t port = (uint16_t)(20000 + i % 40000);
        uint8_t proto = random_below(&state, 2) ? TCP : UDP;
        struct random_side existing, planned;
        random_side_make(&state, proto, &existing);
        random_side_make(&state, proto, &planned);
        planned.listening = false;   /* the trial only binds */
        int fd = random_side_open(&existing, port);
        struct bindsim_plan plan = random_side_plan(&planned, port);
        if (fd < 0 || (plan.family == AF_INET6 && plan.v6only && strchr(planned.address, '.'))) {
            skipped++;
            if (fd >= 0)
                close(fd);
            continue;
        }
        struct portspec ports = { 0 };
        struct socket_list table = { 0 };
        struct sockdiag_query query = { .protos = 1u << proto, .states = SOCKET_STATE_ALL, .local_ports = &ports };
        struct pr_error err;
        if (portspec_add(&ports, port, port, proto) < 0 || sockdiag_dump(&query, &table, &err) < 0 ||
            table.count != 1) {
            fprintf(stderr, "# pair %u: the socket table has %zu sockets on port %u, not 1\n", i, table.count, port);
            disagreements++;
            goto next;
        }
        struct bindsim_result res;
        struct trial_bind_result trial;
        if (bindsim_check(&plan, table.items, table.count, NULL, &res, &err) < 0) {
            fprintf(stderr, "# pair %u: bindsim_check: %s\n", i, err.message);
            disagreements++;
            goto next;
        }
        if (trial_bind_run(&plan, &trial, &err) < 0 || (trial.bind_errno && trial.bind_errno != EADDRINUSE)) {
            skipped++;   /* not an address question (EINVAL, EACCES...) */
        } else {
            compared++;
            uncertain += res.verdict == BINDSIM_UNKNOWN;
            int kernel = trial.bind_errno == EADDRINUSE;
            if (simulator_expects_conflict(&res, &existing) != kernel) {
                char a[160], b[160];
                if (disagreements < 40)
                    fprintf(stderr, "# seed %llu pair %u: existing %s, planned %s: simulator %s%s, kernel %s\n",
                            (unsigned long long)seed, i, random_side_text(&existing, a, sizeof a),
                            random_side_text(&planned, b, sizeof b), bindsim_verdict_id(res.verdict),
                            res.verdict == BINDSIM_UNKNOWN ? " (resolved with the real flags)" : "",
                            kernel ? "EADDRINUSE" : "binds");
                disagreements++;
            }
        }
        bindsim_result_free(&res);
next:
        socket_list_free(&table);
        portspec_free(&ports);
        close(fd);
    }
    fprintf(stderr, "# seed %llu: %u pairs, %u compared with the kernel (%u needed the real flags), %u skipped, "
            "%u disagreements\n", (unsigned long long)seed, pairs, compared, uncertain, skipped, disagreements);
    return disagreements ? 1 : 0;
}

static void test_random_pairs_against_kernel(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();   /* needs a network namespace of its own and sockets of another uid: root */
    const char *seed_text = getenv("PORTREG_BINDSIM_SEED");
    uint64_t seed = seed_text ? strtoull(seed_text, NULL, 10) : RANDOM_DEFAULT_SEED;
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (unshare(CLONE_NEWNET) < 0 || bring_loopback_up() < 0) {
            fprintf(stderr, "# cannot make a network namespace with loopback up: %s\n", strerror(errno));
            _exit(77);
        }
        _exit(random_pairs_run(seed, RANDOM_PAIRS));
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip();
    if (WEXITSTATUS(status) != 0)
        fail_msg("the simulator and the kernel disagree (seed %llu, PORTREG_BINDSIM_SEED reruns it)",
                 (unsigned long long)seed);
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
        cmocka_unit_test(test_address_decides_v6only),
        cmocka_unit_test(test_random_pairs_against_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
