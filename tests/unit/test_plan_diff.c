/* test_plan_diff.c — unit tests for plan_diff.c: drift of a plan against a hand-built socket
 * table (present, absent, wrong-address both ways, undeclared with its process, sockets that do
 * not count) and against scanner JSON texts (several hosts, IPv6, addresses of no plan host,
 * not-visible loopback services, protocols the scan did not probe, hosts missing from the
 * scan), errors naming the JSON field path, the JSON document and plan_drift_any. No root. */
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

#include "plan/plan_diff.h"
#include "plan/plan_yaml.h"
#include "registry/record.h"
#include "scan/scan_result.h"

#define TCP REGISTRY_PROTO_TCP
#define UDP REGISTRY_PROTO_UDP
enum { LISTEN = SOCKET_STATE_LISTEN, UNCONN = SOCKET_STATE_CLOSE, ESTAB = SOCKET_STATE_ESTABLISHED };

static const char plan_text[] =
    "hosts:\n"
    "  - name: web1\n"
    "    addresses: {public: 203.0.113.10, internal: 10.0.0.10}\n"
    "    groups: [web]\n"
    "  - name: db1\n"
    "    addresses: {internal: [10.0.0.20, \"fd00::20\"]}\n"
    "services:\n"
    "  - name: nginx\n"                    /* line 8 */
    "    hosts: [web]\n"
    "    ports: [80/tcp, 443/tcp]\n"
    "    exposure: public\n"
    "  - name: redis\n"
    "    hosts: [web1]\n"
    "    port: 6379\n"
    "    bind: loopback\n"
    "    exposure: loopback\n"
    "  - name: app\n"
    "    hosts: [web1]\n"
    "    port: 8080\n"
    "    bind: internal\n"
    "    exposure: internal\n"
    "    sources: [10.0.0.0/8]\n"
    "  - name: dns\n"
    "    hosts: [web1]\n"
    "    port: 53/udp\n"
    "    exposure: public\n"
    "  - name: postgres\n"
    "    hosts: [db1]\n"
    "    port: 5432\n"
    "    bind: internal\n"
    "    exposure: internal\n"
    "    sources: [web]\n"
    "  - name: agent\n"
    "    hosts: [web1]\n"
    "    port: auto\n"
    "    bind: loopback\n"
    "    exposure: loopback\n";

static void load_plan(struct plan *plan)
{
    struct plan_diagnostics diag;
    struct pr_error err = { 0 };
    plan_init(plan);
    plan_diagnostics_init(&diag);
    int rc = plan_load_buffer(plan, "plan.yaml", plan_text, sizeof plan_text - 1, &diag, &err);
    for (size_t i = 0; rc != 0 && i < diag.count; i++) {
        char buf[1024];
        fprintf(stderr, "# %s\n", plan_diagnostic_format(&diag.items[i], buf, sizeof buf));
    }
    assert_int_equal(rc, 0);
    plan_diagnostics_free(&diag);
}

/* ---- a synthetic socket table (as test_audit.c): each socket held by one process ---- */

struct table {
    struct inspect_result res;
    struct process_info processes[8];
    size_t process_count;
    uint32_t holder_start[64], holder_count[64];
    struct socket_holder holders[64];
    struct inspected_netns netns[1];
};

#define OWN_NETNS 4026531840u

static void table_init(struct table *t)
{
    memset(t, 0, sizeof *t);
    t->res.holder_start = t->holder_start;
    t->res.holder_count = t->holder_count;
    t->res.holders = t->holders;
    t->res.processes_looked_up = true;
    t->netns[0].inode = OWN_NETNS;
    t->res.netns = t->netns;
    t->res.netns_count = 1;
}

static uint32_t program(struct table *t, const char *comm)
{
    for (size_t i = 0; i < t->process_count; i++)
        if (strcmp(t->processes[i].comm, comm) == 0)
            return t->processes[i].pid;
    struct process_info *p = &t->processes[t->process_count];
    p->pid = (uint32_t)(100 + t->process_count);   /* ascending: inspect_process searches */
    snprintf(p->comm, sizeof p->comm, "%s", comm);
    t->process_count++;
    t->res.processes = t->processes;
    t->res.process_count = t->process_count;
    return p->pid;
}

static void add_in(struct table *t, uint64_t netns, uint8_t proto, const char *addr,
                   uint16_t port, uint8_t state, bool v6only, const char *comm)
{
    struct socket_entry *s = socket_list_append(&t->res.sockets);
    assert_non_null(s);
    size_t i = t->res.sockets.count - 1;
    s->proto = proto;
    s->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(s->family, addr, s->local_addr), 1);
    s->local_port = port;
    s->state = state;
    s->v6only = v6only;
    s->netns = netns;
    t->holder_start[i] = (uint32_t)t->res.holder_total;
    if (comm) {
        t->holders[t->res.holder_total++].pid = program(t, comm);
        t->holder_count[i] = 1;
    }
}

static void add(struct table *t, uint8_t proto, const char *addr, uint16_t port, uint8_t state,
                const char *comm)
{
    add_in(t, OWN_NETNS, proto, addr, port, state, false, comm);
}

static void table_free(struct table *t)
{
    socket_list_free(&t->res.sockets);
}

/* ---- finding items ---- */

static const struct plan_drift_item *find(const struct plan_drift *d, const char *host,
                                          uint16_t port, uint8_t proto)
{
    const struct plan_drift_item *found = NULL;
    for (size_t i = 0; i < d->count; i++) {
        const struct plan_drift_item *it = &d->items[i];
        bool same_host = host ? it->host && strcmp(it->host, host) == 0 : it->host == NULL;
        if (same_host && it->port == port && it->proto == proto) {
            assert_null(found);   /* one item per host, port and protocol in these tests */
            found = it;
        }
    }
    if (!found)
        fprintf(stderr, "# no item for %s %u/%s\n", host ? host : "(none)", port,
                plan_proto_name(proto));
    assert_non_null(found);
    return found;
}

static void dump(const struct plan_drift *d)
{
    for (size_t i = 0; i < d->count; i++)
        fprintf(stderr, "# %-13s %-5s %-8s %5u/%s %-14s %s\n",
                plan_drift_kind_name(d->items[i].kind),
                d->items[i].host ? d->items[i].host : "-",
                d->items[i].service ? d->items[i].service : "-", d->items[i].port,
                plan_proto_name(d->items[i].proto), d->items[i].address,
                d->items[i].explanation);
}

/* ---- live ---- */

static void test_live_three_columns(void **state)
{
    (void)state;
    struct plan plan;
    load_plan(&plan);
    struct table t;
    table_init(&t);
    add(&t, TCP, "0.0.0.0", 80, LISTEN, "nginx");           /* present */
    add(&t, TCP, "::", 80, LISTEN, "nginx");
    /* 443: nothing: absent */
    add(&t, TCP, "0.0.0.0", 6379, LISTEN, "redis-server");  /* declared loopback: wrong */
    add(&t, TCP, "10.0.0.10", 8080, LISTEN, "app");         /* internal address: present */
    add(&t, UDP, "::", 53, UNCONN, "unbound");              /* declared any: present */
    add(&t, TCP, "0.0.0.0", 22, LISTEN, "sshd");            /* undeclared (one item) */
    add(&t, TCP, "::", 22, LISTEN, "sshd");
    add(&t, TCP, "127.0.0.1", 631, LISTEN, "cupsd");        /* undeclared, loopback only */
    add(&t, UDP, "0.0.0.0", 5353, UNCONN, NULL);            /* undeclared, holder unknown */
    add(&t, TCP, "10.0.0.10", 5555, ESTAB, "client");       /* not a listener: ignored */
    add(&t, UDP, "10.0.0.10", 5556, ESTAB, "client");       /* connected UDP: ignored */
    add_in(&t, 4026532000u, TCP, "0.0.0.0", 9999, LISTEN, false, "container");  /* other netns */

    struct plan_diff_options opt = { .host = "web1" };
    struct plan_drift d;
    struct pr_error err = { 0 };
    assert_int_equal(plan_diff_live(&plan, &t.res, &opt, &d, &err), 0);
    dump(&d);

    const struct plan_drift_item *it = find(&d, "web1", 80, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_PRESENT);
    assert_string_equal(it->service, "nginx");
    assert_string_equal(it->address, "0.0.0.0");
    assert_string_equal(it->process, "nginx");
    assert_int_equal(it->pid, 100);
    assert_string_equal(it->declared, "any");
    assert_string_equal(it->pos.file, "plan.yaml");
    assert_int_equal(it->pos.line, 10);

    it = find(&d, "web1", 443, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_ABSENT);
    assert_string_equal(it->address, "");
    assert_null(it->process);
    assert_string_equal(it->explanation, "nothing listens on 443/tcp");

    it = find(&d, "web1", 6379, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_WRONG_ADDRESS);
    assert_string_equal(it->service, "redis");
    assert_string_equal(it->address, "0.0.0.0");
    assert_string_equal(it->process, "redis-server");
    assert_string_equal(it->explanation,
                        "declared bind loopback, but held on 0.0.0.0 (every address) by "
                        "redis-server (pid 101): reachable on every address of the host");

    it = find(&d, "web1", 8080, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_PRESENT);
    assert_string_equal(it->declared, "internal (10.0.0.10)");
    assert_string_equal(it->address, "10.0.0.10");

    it = find(&d, "web1", 53, UDP);
    assert_int_equal(it->kind, PLAN_DRIFT_PRESENT);
    assert_string_equal(it->address, "::");

    it = find(&d, "web1", 22, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_UNDECLARED);
    assert_null(it->service);
    assert_null(it->declared);
    assert_null(it->pos.file);
    assert_string_equal(it->process, "sshd");
    assert_string_equal(it->explanation,
                        "held on 0.0.0.0, [::] by sshd (pid 104); no service of web1 declares 22/tcp");

    it = find(&d, "web1", 631, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_UNDECLARED);
    it = find(&d, "web1", 5353, UDP);
    assert_int_equal(it->kind, PLAN_DRIFT_UNDECLARED);
    assert_null(it->process);
    assert_int_equal(it->pid, 0);

    it = find(&d, "web1", 0, TCP);   /* agent: auto, not resolved */
    assert_int_equal(it->kind, PLAN_DRIFT_UNKNOWN);
    assert_string_equal(it->service, "agent");

    /* the ESTABLISHED sockets and the other namespace's listener count for nothing */
    for (size_t i = 0; i < d.count; i++) {
        assert_true(d.items[i].port != 5555 && d.items[i].port != 5556);
        assert_true(d.items[i].port != 9999);
    }
    /* db1's service is not this host's business */
    for (size_t i = 0; i < d.count; i++)
        assert_string_equal(d.items[i].host, "web1");

    assert_int_equal(d.counts[PLAN_DRIFT_PRESENT], 3);
    assert_int_equal(d.counts[PLAN_DRIFT_ABSENT], 1);
    assert_int_equal(d.counts[PLAN_DRIFT_WRONG_ADDRESS], 1);
    assert_int_equal(d.counts[PLAN_DRIFT_UNDECLARED], 3);
    assert_int_equal(d.counts[PLAN_DRIFT_UNKNOWN], 1);
    assert_int_equal(d.count, 9);
    assert_true(plan_drift_any(&d));
    /* sorted by port within the host */
    for (size_t i = 1; i < d.count; i++)
        assert_true(d.items[i - 1].port <= d.items[i].port);
    plan_drift_free(&d);

    /* loopback-only undeclared sockets can be left out */
    opt.ignore_loopback_undeclared = true;
    assert_int_equal(plan_diff_live(&plan, &t.res, &opt, &d, &err), 0);
    assert_int_equal(d.counts[PLAN_DRIFT_UNDECLARED], 2);
    plan_drift_free(&d);
    table_free(&t);
    plan_free(&plan);
}

/* Declared internal but bound to every address; declared any but bound to loopback only;
 * a plan that matches exactly has no drift. */
static void test_live_wrong_address_and_clean(void **state)
{
    (void)state;
    struct plan plan;
    load_plan(&plan);
    struct table t;
    table_init(&t);
    add(&t, TCP, "::", 5432, LISTEN, "postgres");
    struct plan_diff_options opt = { .host = "db1" };
    struct plan_drift d;
    struct pr_error err = { 0 };
    assert_int_equal(plan_diff_live(&plan, &t.res, &opt, &d, &err), 0);
    const struct plan_drift_item *it = find(&d, "db1", 5432, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_WRONG_ADDRESS);
    assert_string_equal(it->declared, "internal (10.0.0.20, [fd00::20])");
    assert_string_equal(it->explanation,
                        "declared bind internal (10.0.0.20, [fd00::20]), but held on [::] (every "
                        "address) by postgres (pid 100): reachable on every address of the host");
    assert_int_equal(d.count, 1);
    assert_true(plan_drift_any(&d));
    plan_drift_free(&d);

    /* bound to one of the named addresses (IPv6): as declared, nothing else: no drift */
    t.res.sockets.items[0].family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "fd00::20", t.res.sockets.items[0].local_addr), 1);
    assert_int_equal(plan_diff_live(&plan, &t.res, &opt, &d, &err), 0);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.items[0].kind, PLAN_DRIFT_PRESENT);
    assert_false(plan_drift_any(&d));
    plan_drift_free(&d);
    table_free(&t);

    /* declared any (nginx on web1), held on loopback only */
    table_init(&t);
    add(&t, TCP, "127.0.0.1", 80, LISTEN, "nginx");
    opt.host = "web1";
    assert_int_equal(plan_diff_live(&plan, &t.res, &opt, &d, &err), 0);
    it = find(&d, "web1", 80, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_WRONG_ADDRESS);
    assert_non_null(strstr(it->explanation, "127.0.0.1 (loopback)"));
    assert_non_null(strstr(it->explanation, "other hosts cannot reach it"));
    plan_drift_free(&d);
    table_free(&t);
    plan_free(&plan);
}

static void test_live_errors(void **state)
{
    (void)state;
    struct plan plan;
    load_plan(&plan);
    struct table t;
    table_init(&t);
    struct plan_drift d;
    struct pr_error err = { 0 };
    struct plan_diff_options opt = { 0 };
    assert_int_equal(plan_diff_live(&plan, &t.res, &opt, &d, &err), -EINVAL);
    assert_int_equal(d.count, 0);
    plan_drift_free(&d);
    opt.host = "mail1";
    assert_int_equal(plan_diff_live(&plan, &t.res, &opt, &d, &err), -ENOENT);
    assert_string_equal(err.message, "host 'mail1' is not in the plan (its hosts: web1, db1)");
    plan_drift_free(&d);
    /* processes not looked up: items carry no process */
    add(&t, TCP, "0.0.0.0", 22, LISTEN, "sshd");
    t.res.processes_looked_up = false;
    opt.host = "web1";
    assert_int_equal(plan_diff_live(&plan, &t.res, &opt, &d, &err), 0);
    const struct plan_drift_item *it = find(&d, "web1", 22, TCP);
    assert_null(it->process);
    assert_int_equal(it->pid, 0);
    plan_drift_free(&d);
    /* one undeclared item per port lists every address, even one that prefixes another */
    add(&t, TCP, "10.0.0.10", 7000, LISTEN, NULL);
    add(&t, TCP, "10.0.0.1", 7000, LISTEN, NULL);
    add(&t, TCP, "10.0.0.10", 7000, LISTEN, NULL);    /* SO_REUSEPORT twin: listed once */
    assert_int_equal(plan_diff_live(&plan, &t.res, &opt, &d, &err), 0);
    it = find(&d, "web1", 7000, TCP);
    assert_string_equal(it->explanation,
                        "held on 10.0.0.10, 10.0.0.1; no service of web1 declares 7000/tcp");
    plan_drift_free(&d);
    table_free(&t);
    plan_free(&plan);
}

/* ---- scan ---- */

static const char scan_json[] =
    "{\"scan\": {\"engine\": \"connect\", \"proto\": \"tcp\", \"targets\": 4, \"ports\": 1000,"
    " \"probes\": 4000, \"elapsed_s\": 0.5, \"shard\": \"1/1\", \"seed\": 7},\n"
    " \"hosts\": [\n"
    "  {\"address\": \"203.0.113.10\", \"counts\": {\"open\": 3}, \"ports\": [\n"
    "    {\"port\": 22, \"proto\": \"tcp\", \"state\": \"open\", \"reason\": \"syn-ack\","
    " \"service\": \"ssh\", \"rtt_ms\": 0.2, \"ttl\": 64, \"icmp\": null, \"error\": null,"
    " \"banner\": null},\n"
    "    {\"port\": 80, \"proto\": \"tcp\", \"state\": \"open\"},\n"
    "    {\"port\": 443, \"proto\": \"tcp\", \"state\": \"filtered\"},\n"
    "    {\"port\": 6379, \"proto\": \"tcp\", \"state\": \"open\"}]},\n"
    "  {\"address\": \"10.0.0.10\", \"counts\": null, \"ports\": [\n"
    "    {\"port\": 80, \"proto\": \"tcp\", \"state\": \"open\"},\n"
    "    {\"port\": 443, \"proto\": \"tcp\", \"state\": \"filtered\"},\n"
    "    {\"port\": 8080, \"proto\": \"tcp\", \"state\": \"open\"}]},\n"
    "  {\"address\": \"10.0.0.20\", \"ports\": [\n"
    "    {\"port\": 5432, \"proto\": \"tcp\", \"state\": \"closed\"}]},\n"
    "  {\"address\": \"10.0.0.99\", \"ports\": [\n"
    "    {\"port\": 3389, \"proto\": \"tcp\", \"state\": \"open\"}]}\n"
    " ],\n"
    " \"summary\": {\"open\": 6}}\n";

static void diff_scan_text(const struct plan *plan, const char *json,
                           const struct plan_diff_options *opt, struct plan_drift *d)
{
    struct plan_scan scan;
    struct pr_error err = { 0 };
    int rc = plan_scan_parse(json, strlen(json), &scan, &err);
    if (rc != 0)
        fprintf(stderr, "# %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_int_equal(plan_diff_scan(plan, &scan, opt, d, &err), 0);
    plan_scan_free(&scan);
    dump(d);
}

static void test_scan_many_hosts(void **state)
{
    (void)state;
    struct plan plan;
    load_plan(&plan);
    struct plan_drift d;
    diff_scan_text(&plan, scan_json, NULL, &d);

    const struct plan_drift_item *it = find(&d, "web1", 80, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_PRESENT);
    assert_string_equal(it->address, "203.0.113.10");
    assert_int_equal(it->pid, 0);
    assert_null(it->process);

    it = find(&d, "web1", 443, TCP);          /* filtered on both addresses */
    assert_int_equal(it->kind, PLAN_DRIFT_ABSENT);
    assert_non_null(strstr(it->explanation, "filtered on"));

    it = find(&d, "web1", 6379, TCP);         /* loopback service seen from outside */
    assert_int_equal(it->kind, PLAN_DRIFT_WRONG_ADDRESS);
    assert_string_equal(it->address, "203.0.113.10");
    assert_string_equal(it->explanation,
                        "declared bind loopback, but open on 203.0.113.10: reachable from other hosts");

    it = find(&d, "web1", 8080, TCP);         /* internal service on the internal address */
    assert_int_equal(it->kind, PLAN_DRIFT_PRESENT);
    assert_string_equal(it->address, "10.0.0.10");

    it = find(&d, "web1", 53, UDP);           /* a TCP scan says nothing about UDP */
    assert_int_equal(it->kind, PLAN_DRIFT_UNKNOWN);
    assert_string_equal(it->explanation, "the scan probed no udp ports");

    it = find(&d, "web1", 22, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_UNDECLARED);
    assert_string_equal(it->address, "203.0.113.10");

    it = find(&d, "db1", 5432, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_ABSENT);
    assert_string_equal(it->explanation, "closed on 10.0.0.20");

    it = find(&d, NULL, 3389, TCP);           /* an address of no plan host */
    assert_int_equal(it->kind, PLAN_DRIFT_UNDECLARED);
    assert_string_equal(it->address, "10.0.0.99");
    assert_int_equal(it->host_index, SIZE_MAX);
    assert_ptr_equal(&d.items[d.count - 1], it);   /* unknown addresses sort last */

    assert_int_equal(d.counts[PLAN_DRIFT_PRESENT], 2);
    assert_int_equal(d.counts[PLAN_DRIFT_ABSENT], 2);
    assert_int_equal(d.counts[PLAN_DRIFT_WRONG_ADDRESS], 1);
    assert_int_equal(d.counts[PLAN_DRIFT_UNDECLARED], 2);
    assert_int_equal(d.counts[PLAN_DRIFT_UNKNOWN], 2);   /* dns (udp), agent (auto) */
    assert_true(plan_drift_any(&d));
    plan_drift_free(&d);

    struct plan_diff_options opt = { .ignore_unknown_addresses = true };
    diff_scan_text(&plan, scan_json, &opt, &d);
    assert_int_equal(d.counts[PLAN_DRIFT_UNDECLARED], 1);
    plan_drift_free(&d);
    plan_free(&plan);
}

/* Loopback services are not-visible when not seen; an internal service open on the public
 * address is on the wrong address; a host missing from the scan is unknown unless the caller
 * says missing hosts had every port closed; IPv6 addresses map to their host. */
static void test_scan_visibility_and_missing_hosts(void **state)
{
    (void)state;
    struct plan plan;
    load_plan(&plan);
    static const char json[] =
        "{\"scan\": {\"proto\": \"tcp\", \"ports\": 65536}, \"hosts\": ["
        "{\"address\": \"203.0.113.10\", \"ports\": ["
        "{\"port\": 80, \"proto\": \"tcp\", \"state\": \"open\"},"
        "{\"port\": 443, \"proto\": \"tcp\", \"state\": \"open\"},"
        "{\"port\": 8080, \"proto\": \"tcp\", \"state\": \"open\"}]}]}";
    struct plan_drift d;
    diff_scan_text(&plan, json, NULL, &d);
    const struct plan_drift_item *it = find(&d, "web1", 6379, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_NOT_VISIBLE);
    assert_string_equal(it->explanation, "bound to loopback: a scan from another host cannot see it");
    it = find(&d, "web1", 8080, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_WRONG_ADDRESS);
    assert_string_equal(it->address, "203.0.113.10");
    assert_string_equal(it->explanation,
                        "declared bind internal (10.0.0.10), but open on 203.0.113.10");
    it = find(&d, "db1", 5432, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_UNKNOWN);
    assert_non_null(strstr(it->explanation, "no address of db1 is in the scan"));
    assert_int_equal(d.counts[PLAN_DRIFT_NOT_VISIBLE], 1);
    assert_int_equal(d.counts[PLAN_DRIFT_UNDECLARED], 0);
    plan_drift_free(&d);

    struct plan_diff_options opt = { .missing_hosts_closed = true };
    diff_scan_text(&plan, json, &opt, &d);
    it = find(&d, "db1", 5432, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_ABSENT);
    plan_drift_free(&d);

    /* dual-stack db1 seen on its IPv6 address only: present; web1 all as declared but the
     * internal app not probed on its address (unknown), nginx open: no drift at all */
    static const char json6[] =
        "{\"scan\": {\"proto\": \"tcp\"}, \"hosts\": ["
        "{\"address\": \"fd00::20\", \"ports\": [{\"port\": 5432, \"proto\": \"tcp\", \"state\": \"open\"}]},"
        "{\"address\": \"203.0.113.10\", \"ports\": ["
        "{\"port\": 80, \"proto\": \"tcp\", \"state\": \"open\"},"
        "{\"port\": 443, \"proto\": \"tcp\", \"state\": \"open\"}]}]}";
    diff_scan_text(&plan, json6, NULL, &d);
    it = find(&d, "db1", 5432, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_PRESENT);
    assert_string_equal(it->address, "fd00::20");
    it = find(&d, "web1", 8080, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_UNKNOWN);
    assert_non_null(strstr(it->explanation, "did not probe that address"));
    assert_false(plan_drift_any(&d));
    plan_drift_free(&d);

    /* a declared UDP port that only stays silent confirms nothing */
    static const char json_udp[] =
        "{\"scan\": {\"proto\": \"udp\"}, \"hosts\": [{\"address\": \"10.0.0.10\", \"ports\": ["
        "{\"port\": 53, \"proto\": \"udp\", \"state\": \"open|filtered\"},"
        "{\"port\": 161, \"proto\": \"udp\", \"state\": \"open|filtered\"}]}]}";
    diff_scan_text(&plan, json_udp, NULL, &d);
    it = find(&d, "web1", 53, UDP);
    assert_int_equal(it->kind, PLAN_DRIFT_UNKNOWN);
    assert_int_equal(d.counts[PLAN_DRIFT_UNDECLARED], 0);   /* 161 silent: not reported */
    it = find(&d, "web1", 80, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_UNKNOWN);          /* a UDP scan: TCP unknown */
    plan_drift_free(&d);
    plan_free(&plan);
}


/* A scan with scan.port_list (portreg scan --json lists every host it probed, closed ones
 * with no ports): a listed host without the declared port is closed there (absent); a port
 * outside the list was not probed (unknown); a host not listed was not scanned (unknown). */
static void test_scan_port_list(void **state)
{
    (void)state;
    struct plan plan;
    load_plan(&plan);
    static const char json[] =
        "{\"scan\": {\"proto\": \"tcp\", \"ports\": 3, \"port_list\": \"80,443,5432\"}, \"hosts\": ["
        "{\"address\": \"203.0.113.10\", \"ports\": [{\"port\": 80, \"proto\": \"tcp\", \"state\": \"open\"}]},"
        "{\"address\": \"10.0.0.10\", \"ports\": []}]}";
    struct plan_drift d;
    diff_scan_text(&plan, json, NULL, &d);
    const struct plan_drift_item *it = find(&d, "web1", 443, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_ABSENT);
    assert_string_equal(it->explanation, "closed on 203.0.113.10");
    it = find(&d, "web1", 8080, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_UNKNOWN);
    assert_string_equal(it->explanation, "8080/tcp was not among the scanned ports");
    it = find(&d, "db1", 5432, TCP);
    assert_int_equal(it->kind, PLAN_DRIFT_UNKNOWN);
    assert_string_equal(it->explanation, "no address of db1 was scanned");
    plan_drift_free(&d);

    struct plan_scan scan;
    struct pr_error err = { 0 };
    static const char bad[] = "{\"scan\": {\"port_list\": \"80,x\"}, \"hosts\": []}";
    assert_int_equal(plan_scan_parse(bad, strlen(bad), &scan, &err), -EINVAL);
    assert_non_null(strstr(err.message, "scan.port_list: column"));
    plan_scan_free(&scan);
    plan_free(&plan);
}

static void expect_scan_error(const char *json, const char *message)
{
    struct plan_scan scan;
    struct pr_error err = { 0 };
    assert_int_equal(plan_scan_parse(json, strlen(json), &scan, &err), -EINVAL);
    if (strcmp(err.message, message) != 0)
        fprintf(stderr, "# got: %s\n", err.message);
    assert_string_equal(err.message, message);
    assert_null(scan.hosts);
    assert_int_equal(scan.host_count, 0);
}

static void test_scan_json_errors(void **state)
{
    (void)state;
    expect_scan_error("[]", "expected a JSON object (the output of portreg scan --json)");
    expect_scan_error("{\"scan\": {}}", "hosts: missing (is this the output of portreg scan --json?)");
    expect_scan_error("{\"hosts\": 3}", "hosts: expected an array");
    expect_scan_error("{\"scan\": {\"proto\": \"sctp\"}, \"hosts\": []}",
                      "scan.proto: expected \"tcp\" or \"udp\"");
    expect_scan_error("{\"hosts\": [{\"address\": \"10.0.0.1\", \"ports\": []}, 7]}",
                      "hosts[1]: expected an object");
    expect_scan_error("{\"hosts\": [{\"address\": \"web1\", \"ports\": []}]}",
                      "hosts[0].address: 'web1' is not an IP address");
    expect_scan_error("{\"hosts\": [{\"ports\": []}]}", "hosts[0].address: missing");
    expect_scan_error("{\"hosts\": [{\"address\": \"10.0.0.1\"}]}", "hosts[0].ports: missing");
    expect_scan_error("{\"hosts\": [{\"address\": \"10.0.0.1\", \"ports\": []},"
                      " {\"address\": \"10.0.0.2\", \"ports\": []},"
                      " {\"address\": \"10.0.0.3\", \"ports\": []},"
                      " {\"address\": \"10.0.0.4\", \"ports\": [{\"port\": \"80\", \"proto\": "
                      "\"tcp\", \"state\": \"open\"}]}]}",
                      "hosts[3].ports[0].port: expected an integer");
    expect_scan_error("{\"hosts\": [{\"address\": \"::1\", \"ports\": [{\"port\": 22, \"proto\": "
                      "\"tcp\", \"state\": \"open\"}, {\"port\": 70000, \"proto\": \"tcp\", "
                      "\"state\": \"open\"}]}]}",
                      "hosts[0].ports[1].port: 70000 is not a port (0-65535)");
    expect_scan_error("{\"hosts\": [{\"address\": \"::1\", \"ports\": [{\"port\": 22, \"proto\": "
                      "\"icmp\", \"state\": \"open\"}]}]}",
                      "hosts[0].ports[0].proto: expected \"tcp\" or \"udp\"");
    expect_scan_error("{\"hosts\": [{\"address\": \"::1\", \"ports\": [{\"port\": 22, \"proto\": "
                      "\"tcp\", \"state\": \"up\"}]}]}",
                      "hosts[0].ports[0].state: expected open, closed, filtered, open|filtered or error");

    /* not JSON at all: the place in the text */
    struct plan_scan scan;
    struct pr_error err = { 0 };
    const char *broken = "{\"hosts\": [\n  {\"address\": }\n]}";
    assert_int_equal(plan_scan_parse(broken, strlen(broken), &scan, &err), -EINVAL);
    assert_int_equal(err.line, 2);
    assert_true(err.column > 0);
    assert_non_null(strstr(err.message, "not valid JSON"));
}

static void test_scan_parse_fields(void **state)
{
    (void)state;
    struct plan_scan scan;
    struct pr_error err = { 0 };
    assert_int_equal(plan_scan_parse(scan_json, strlen(scan_json), &scan, &err), 0);
    assert_int_equal(scan.host_count, 4);
    assert_int_equal(scan.proto, TCP);
    assert_int_equal(scan.ports_probed, 1000);
    assert_string_equal(scan.hosts[1].address, "10.0.0.10");
    assert_int_equal(scan.hosts[1].family, AF_INET);
    assert_int_equal(scan.hosts[1].port_count, 3);
    assert_int_equal(scan.hosts[1].ports[2].port, 8080);
    assert_int_equal(scan.hosts[0].ports[2].state, SCAN_STATE_FILTERED);
    plan_scan_free(&scan);
}

static void test_drift_json_and_exit_helper(void **state)
{
    (void)state;
    struct plan plan;
    load_plan(&plan);
    struct table t;
    table_init(&t);
    add(&t, TCP, "0.0.0.0", 6379, LISTEN, "redis-server");
    struct plan_diff_options opt = { .host = "web1" };
    struct plan_drift d;
    struct pr_error err = { 0 };
    assert_int_equal(plan_diff_live(&plan, &t.res, &opt, &d, &err), 0);
    json_t *doc = plan_drift_json(&d);
    assert_non_null(doc);
    assert_true(json_is_true(json_object_get(doc, "drift")));
    json_t *counts = json_object_get(doc, "counts");
    assert_int_equal(json_integer_value(json_object_get(counts, "wrong-address")), 1);
    assert_int_equal(json_integer_value(json_object_get(counts, "not-visible")), 0);
    json_t *items = json_object_get(doc, "items");
    assert_int_equal(json_array_size(items), d.count);
    json_t *redis = NULL;
    for (size_t i = 0; i < json_array_size(items); i++)
        if (json_integer_value(json_object_get(json_array_get(items, i), "port")) == 6379)
            redis = json_array_get(items, i);
    assert_non_null(redis);
    assert_string_equal(json_string_value(json_object_get(redis, "kind")), "wrong-address");
    assert_string_equal(json_string_value(json_object_get(redis, "host")), "web1");
    assert_string_equal(json_string_value(json_object_get(redis, "service")), "redis");
    assert_string_equal(json_string_value(json_object_get(redis, "proto")), "tcp");
    assert_string_equal(json_string_value(json_object_get(redis, "address")), "0.0.0.0");
    assert_string_equal(json_string_value(json_object_get(redis, "declared")), "loopback");
    assert_int_equal(json_integer_value(json_object_get(redis, "pid")), 100);
    assert_string_equal(json_string_value(json_object_get(redis, "process")), "redis-server");
    assert_string_equal(json_string_value(json_object_get(redis, "file")), "plan.yaml");
    assert_int_equal(json_integer_value(json_object_get(redis, "line")), 14);
    json_decref(doc);
    plan_drift_free(&d);

    /* only present / not-visible / unknown: no drift */
    struct plan_drift clean = { 0 };
    clean.counts[PLAN_DRIFT_PRESENT] = 3;
    clean.counts[PLAN_DRIFT_NOT_VISIBLE] = 1;
    clean.counts[PLAN_DRIFT_UNKNOWN] = 2;
    assert_false(plan_drift_any(&clean));
    for (int k = PLAN_DRIFT_ABSENT; k <= PLAN_DRIFT_UNDECLARED; k++) {
        struct plan_drift one = clean;
        one.counts[k] = 1;
        assert_true(plan_drift_any(&one));
    }
    assert_string_equal(plan_drift_kind_name(PLAN_DRIFT_WRONG_ADDRESS), "wrong-address");
    assert_string_equal(plan_drift_kind_name(PLAN_DRIFT_NOT_VISIBLE), "not-visible");
    table_free(&t);
    plan_free(&plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_three_columns),
        cmocka_unit_test(test_live_wrong_address_and_clean),
        cmocka_unit_test(test_live_errors),
        cmocka_unit_test(test_scan_many_hosts),
        cmocka_unit_test(test_scan_visibility_and_missing_hosts),
        cmocka_unit_test(test_scan_port_list),
        cmocka_unit_test(test_scan_json_errors),
        cmocka_unit_test(test_scan_parse_fields),
        cmocka_unit_test(test_drift_json_and_exit_helper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
