/* test_agent_report.c — the agent's report (agent/agent_report.c) built from fixed socket
 * tables: which sockets are listeners, one per key, the contract's LISTENER keys and labels
 * (netns, process, user, unit, container, exposure), findings; the diff of two reports
 * (agent/agent_diff.c) and its delta/heartbeat JSON; the state file's round trip
 * (agent/agent_state.c), and a damaged or foreign state refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent_diff.h"
#include "agent/agent_report.h"
#include "agent/agent_send.h"
#include "agent/agent_state.h"
#include "registry/record.h"

#define TCP REGISTRY_PROTO_TCP
#define UDP REGISTRY_PROTO_UDP
#define HOST_NS 4026531840u
#define NAMED_NS 4026532001u
#define ANON_NS 4026532002u

struct table {
    struct inspect_result res;
    struct process_info processes[8];
    uint32_t holder_start[64], holder_count[64];
    struct socket_holder holders[64];
    struct inspected_netns netns[3];
    struct local_ports ports;
};

static void table_init(struct table *t)
{
    memset(t, 0, sizeof *t);
    t->res.holder_start = t->holder_start;
    t->res.holder_count = t->holder_count;
    t->res.holders = t->holders;
    t->res.processes_looked_up = true;
    t->res.processes = t->processes;
    /* pids sorted: inspect_process() searches them */
    t->processes[0] = (struct process_info){ .pid = 100, .uid = 0, .comm = "sshd",
                                             .cgroup = { .unit = "ssh.service" } };
    t->processes[1] = (struct process_info){ .pid = 200, .uid = 0, .comm = "nginx",
                                             .cgroup = { .unit = "docker-abc.scope", .container_runtime = "docker",
                                                         .container_id = "abc123def456abc123" } };
    t->processes[2] = (struct process_info){ .pid = 300, .uid = 0, .comm = "nginx" };
    t->res.process_count = 3;
    t->netns[0] = (struct inspected_netns){ .inode = HOST_NS, .pid = 1 };
    t->netns[1] = (struct inspected_netns){ .inode = NAMED_NS, .name = "blue", .entered = true };
    t->netns[2] = (struct inspected_netns){ .inode = ANON_NS, .entered = true };
    t->res.netns = t->netns;
    t->res.netns_count = 3;
    t->ports.have_ephemeral = true;
    t->ports.ephemeral.first = 32768;
    t->ports.ephemeral.last = 60999;
}

static void add(struct table *t, uint8_t proto, const char *addr, uint16_t port, uint8_t state, uint64_t netns,
                uint32_t pid)
{
    struct socket_entry *s = socket_list_append(&t->res.sockets);
    assert_non_null(s);
    size_t i = t->res.sockets.count - 1;
    s->proto = proto;
    s->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(s->family, addr, s->local_addr), 1);
    s->local_port = port;
    s->state = state;
    s->v6only = true;
    s->netns = netns;
    s->uid = 0;
    t->holder_start[i] = (uint32_t)t->res.holder_total;
    if (pid) {
        t->holders[t->res.holder_total++].pid = pid;
        t->holder_count[i] = 1;
    }
}

static void build(struct table *t, const struct audit_report *audit, struct agent_report *out)
{
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(agent_report_build(&t->res, &t->ports, "8080,9000-9010\n", audit, out, &err), 0);
}

static void sample(struct table *t)
{
    table_init(t);
    add(t, TCP, "0.0.0.0", 22, SOCKET_STATE_LISTEN, HOST_NS, 100);
    add(t, TCP, "10.0.0.5", 22, SOCKET_STATE_ESTABLISHED, HOST_NS, 100);      /* a connection: not reported */
    add(t, TCP, "0.0.0.0", 80, SOCKET_STATE_LISTEN, NAMED_NS, 300);           /* REUSEPORT pair: one */
    add(t, TCP, "0.0.0.0", 80, SOCKET_STATE_LISTEN, NAMED_NS, 200);
    add(t, UDP, "127.0.0.1", 53, SOCKET_STATE_CLOSE, HOST_NS, 0);             /* bound UDP, no holder found */
    add(t, UDP, "10.0.0.5", 40000, SOCKET_STATE_ESTABLISHED, HOST_NS, 300);   /* a connected UDP client */
    add(t, TCP, "::", 443, SOCKET_STATE_LISTEN, ANON_NS, 200);
    add(t, TCP, "0.0.0.0", 5555, SOCKET_STATE_CLOSE, HOST_NS, 300);           /* bound, not listening */
    add(t, UDP, "0.0.0.0", 0, SOCKET_STATE_CLOSE, HOST_NS, 300);              /* not bound to a port */
}

static void test_build_listeners(void **state)
{
    (void)state;
    struct table t;
    sample(&t);
    struct agent_report r;
    build(&t, NULL, &r);
    assert_int_equal(r.listener_count, 4);
    /* sorted by key: tcp 0.0.0.0:22 host, tcp 0.0.0.0:80 blue, tcp :::443, udp 127.0.0.1:53 */
    const struct agent_listener *ssh = &r.listeners[0], *web = &r.listeners[1], *tls = &r.listeners[2],
                                *dns = &r.listeners[3];
    assert_int_equal(ssh->proto, TCP);
    assert_string_equal(ssh->local_address, "0.0.0.0");
    assert_int_equal(ssh->local_port, 22);
    assert_string_equal(ssh->netns, "host");
    assert_string_equal(ssh->process, "sshd");
    assert_int_equal(ssh->pid, 100);
    assert_string_equal(ssh->user, "root");
    assert_string_equal(ssh->unit, "ssh.service");
    assert_string_equal(ssh->container, "");
    assert_string_equal(ssh->exposure, "all-ipv4");

    assert_int_equal(web->local_port, 80);
    assert_string_equal(web->netns, "blue");
    assert_int_equal(web->pid, 200);                      /* the lowest pid of the group */
    assert_string_equal(web->container, "docker:abc123def456abc123");

    assert_string_equal(tls->local_address, "::");
    assert_string_equal(tls->netns, "4026532002");        /* unnamed: its inode */
    assert_string_equal(tls->exposure, "all-ipv6");

    assert_int_equal(dns->proto, UDP);
    assert_int_equal(dns->pid, 0);
    assert_string_equal(dns->process, "");
    assert_string_equal(dns->exposure, "loopback");

    assert_true(r.have_ephemeral);
    assert_int_equal(r.ephemeral_lo, 32768);
    assert_int_equal(r.ephemeral_hi, 60999);
    assert_string_equal(r.reserved, "8080,9000-9010");
    agent_report_free(&r);
    socket_list_free(&t.res.sockets);
}

static void test_listener_json_has_contract_keys(void **state)
{
    (void)state;
    struct table t;
    sample(&t);
    struct agent_report r;
    build(&t, NULL, &r);
    json_t *o = agent_listener_json(&r.listeners[3]);
    static const char *const keys[] = { "proto", "local_address", "local_port", "netns", "process", "pid",
                                        "user", "unit", "container", "exposure" };
    assert_int_equal(json_object_size(o), 10);
    for (size_t i = 0; i < 10; i++)
        assert_non_null(json_object_get(o, keys[i]));
    assert_true(json_is_null(json_object_get(o, "process")));
    assert_true(json_is_null(json_object_get(o, "pid")));
    assert_string_equal(json_string_value(json_object_get(o, "proto")), "udp");
    json_decref(o);
    o = agent_listener_key_json(&r.listeners[0]);
    assert_int_equal(json_object_size(o), 4);
    assert_int_equal(json_integer_value(json_object_get(o, "local_port")), 22);
    json_decref(o);
    agent_report_free(&r);
    socket_list_free(&t.res.sockets);
}

static void test_findings(void **state)
{
    (void)state;
    struct table t;
    sample(&t);
    struct audit_finding items[3] = {
        { .kind = AUDIT_INTERNAL_EXPOSED, .severity = AUDIT_HIGH, .proto = TCP, .port = 6379, .title = "redis on every address" },
        { .kind = AUDIT_RESERVED_UNUSED, .severity = AUDIT_LOW, .proto = TCP, .port = 9000, .port_last = 9010, .title = "reserved, unused" },
        { .kind = AUDIT_TIME_WAIT_PILE, .severity = AUDIT_INFO, .proto = TCP, .port = 80, .title = "info only" },
    };
    struct audit_report audit = { .items = items, .count = 3 };
    struct agent_report r;
    build(&t, &audit, &r);
    assert_int_equal(r.finding_count, 2);                  /* info is left out */
    assert_string_equal(r.findings[0].severity, "high");
    assert_string_equal(r.findings[0].code, "internal-exposed");
    assert_string_equal(r.findings[0].message, "redis on every address");
    assert_int_equal(r.findings[0].port, 6379);
    assert_int_equal(r.findings[1].proto, 0);              /* host-wide: proto null */
    json_t *a = agent_findings_json(&r);
    assert_true(json_is_null(json_object_get(json_array_get(a, 1), "proto")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "proto")), "tcp");
    json_decref(a);
    agent_report_free(&r);
    socket_list_free(&t.res.sockets);
}

static void test_full_json_round_trip(void **state)
{
    (void)state;
    struct table t;
    sample(&t);
    struct agent_report r, back;
    build(&t, NULL, &r);
    struct agent_identity id = { "web1", "0.1.0", 30000 };
    json_t *doc = agent_report_full_json(&r, &id, 7);
    assert_string_equal(json_string_value(json_object_get(doc, "host")), "web1");
    assert_int_equal(json_integer_value(json_object_get(doc, "seq")), 7);
    assert_true(json_is_true(json_object_get(doc, "full")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "agent"), "interval_s")), 30);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "ephemeral"), "lo")), 32768);
    assert_int_equal(json_array_size(json_object_get(doc, "listeners")), 4);
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(agent_report_from_json(doc, &back, &err), 0);
    assert_int_equal(back.listener_count, r.listener_count);
    for (size_t i = 0; i < r.listener_count; i++)
        assert_true(agent_listener_equal(&r.listeners[i], &back.listeners[i]));
    struct agent_delta d;
    assert_int_equal(agent_diff(&r, &back, &d, &err), 0);
    assert_true(agent_delta_empty(&d));
    agent_delta_free(&d);
    agent_report_free(&back);

    /* a wrong field is named */
    json_object_set_new(json_array_get(json_object_get(doc, "listeners"), 2), "local_port", json_integer(70000));
    assert_int_equal(agent_report_from_json(doc, &back, &err), -EINVAL);
    assert_string_equal(err.path, "listeners[2].local_port");
    json_decref(doc);
    agent_report_free(&r);
    socket_list_free(&t.res.sockets);
}

static void test_diff(void **state)
{
    (void)state;
    struct table t;
    sample(&t);
    struct agent_report base, current;
    build(&t, NULL, &base);
    /* current: ssh gone, a new listener on 8443, nginx in blue restarted (pid 300 now), reserved changed */
    t.res.sockets.items[0].state = SOCKET_STATE_CLOSE;
    t.holders[t.holder_start[3]].pid = 300;
    add(&t, TCP, "127.0.0.1", 8443, SOCKET_STATE_LISTEN, HOST_NS, 300);
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(agent_report_build(&t.res, &t.ports, "8080", NULL, &current, &err), 0);
    struct agent_delta d;
    assert_int_equal(agent_diff(&base, &current, &d, &err), 0);
    assert_false(agent_delta_empty(&d));
    assert_int_equal(d.removed_count, 1);
    assert_int_equal(base.listeners[d.removed[0]].local_port, 22);
    assert_int_equal(d.added_count, 2);                    /* the new one and the changed one */
    assert_int_equal(current.listeners[d.added[0]].local_port, 80);
    assert_int_equal(current.listeners[d.added[0]].pid, 300);
    assert_int_equal(current.listeners[d.added[1]].local_port, 8443);
    assert_true(d.reserved_changed);
    assert_false(d.ephemeral_changed);
    assert_false(d.findings_changed);

    json_t *doc = agent_delta_json(&d, &base, &current, "web1", 9, 8);
    assert_true(json_is_false(json_object_get(doc, "full")));
    assert_int_equal(json_integer_value(json_object_get(doc, "base")), 8);
    assert_int_equal(json_integer_value(json_object_get(doc, "seq")), 9);
    assert_int_equal(json_array_size(json_object_get(doc, "added")), 2);
    json_t *gone = json_array_get(json_object_get(doc, "removed"), 0);
    assert_int_equal(json_object_size(gone), 4);
    assert_int_equal(json_integer_value(json_object_get(gone, "local_port")), 22);
    assert_string_equal(json_string_value(json_object_get(doc, "reserved")), "8080");
    assert_null(json_object_get(doc, "ephemeral"));        /* only what changed */
    assert_null(json_object_get(doc, "findings"));
    json_decref(doc);
    agent_delta_free(&d);

    /* nothing changed: a heartbeat {"host","seq","full":false,"base"} */
    assert_int_equal(agent_diff(&current, &current, &d, &err), 0);
    assert_true(agent_delta_empty(&d));
    doc = agent_delta_json(&d, &current, &current, "web1", 10, 9);
    assert_int_equal(json_object_size(doc), 4);
    json_decref(doc);
    agent_delta_free(&d);
    agent_report_free(&base);
    agent_report_free(&current);
    socket_list_free(&t.res.sockets);
}

static void test_state_round_trip(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_agent_state.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256];
    snprintf(sub, sizeof sub, "%s/agent", dir);   /* created by the save */
    struct table t;
    sample(&t);
    struct agent_state saved = { .server = "http://127.0.0.1:7678", .host = "web1", .seq = 42 };
    build(&t, NULL, &saved.report);
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(agent_state_save(sub, &saved, &err), 0);

    struct agent_state loaded;
    assert_int_equal(agent_state_load(sub, "http://127.0.0.1:7678", "web1", &loaded, &err), 0);
    assert_int_equal(loaded.seq, 42);
    assert_int_equal(loaded.report.listener_count, saved.report.listener_count);
    struct agent_delta d;
    assert_int_equal(agent_diff(&saved.report, &loaded.report, &d, &err), 0);
    assert_true(agent_delta_empty(&d));
    agent_delta_free(&d);
    agent_state_free(&loaded);

    /* another server or host name: stale, start over with a full report */
    assert_int_equal(agent_state_load(sub, "http://other:7678", "web1", &loaded, &err), -ESTALE);
    assert_int_equal(agent_state_load(sub, "http://127.0.0.1:7678", "web2", &loaded, &err), -ESTALE);

    /* damaged: -EINVAL naming the file */
    char path[512];
    snprintf(path, sizeof path, "%s/%s", sub, AGENT_STATE_FILE);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"format\":1,\"server\":\"x\"", f);
    fclose(f);
    assert_int_equal(agent_state_load(sub, "x", "web1", &loaded, &err), -EINVAL);
    assert_non_null(strstr(err.path, AGENT_STATE_FILE));
    unlink(path);
    assert_int_equal(agent_state_load(sub, "x", "web1", &loaded, &err), -ENOENT);
    rmdir(sub);
    rmdir(dir);
    agent_state_free(&saved);
    socket_list_free(&t.res.sockets);
}

/* Content-Encoding: gzip is RFC 1952: magic 1f 8b, deflate (8), and the input's size mod 2^32
 * in the last four bytes (little-endian); a repetitive report shrinks. */
static void test_gzip(void **state)
{
    (void)state;
    char text[4096];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "{\"proto\":\"tcp\",\"local_port\":22}"[i % 32];
    unsigned char *gz;
    size_t len;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(agent_gzip(text, sizeof text, &gz, &len, &err), 0);
    assert_true(len > 18 && len < sizeof text / 4);
    assert_int_equal(gz[0], 0x1f);
    assert_int_equal(gz[1], 0x8b);
    assert_int_equal(gz[2], 8);
    uint32_t isize = (uint32_t)gz[len - 4] | (uint32_t)gz[len - 3] << 8 | (uint32_t)gz[len - 2] << 16 |
                     (uint32_t)gz[len - 1] << 24;
    assert_int_equal(isize, sizeof text);
    free(gz);
    assert_int_equal(agent_gzip("", 0, &gz, &len, &err), 0);   /* an empty body is still gzip */
    assert_int_equal(gz[0], 0x1f);
    free(gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_listeners),
        cmocka_unit_test(test_listener_json_has_contract_keys),
        cmocka_unit_test(test_findings),
        cmocka_unit_test(test_full_json_round_trip),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_gzip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
