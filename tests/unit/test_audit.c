/* test_audit.c — unit tests for the audit rules (doctor/audit.c) on synthetic socket tables:
 * each rule fires on the situation it describes and stays quiet on its near misses
 * (a loopback bind, the same program twice, a reserved port that is used...), plus ordering,
 * severity names and the registry callback. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "doctor/audit.h"
#include "registry/record.h"
#include "util/text_escape.h"

#define TCP REGISTRY_PROTO_TCP
#define UDP REGISTRY_PROTO_UDP
enum { LISTEN = SOCKET_STATE_LISTEN, UNCONN = SOCKET_STATE_CLOSE, TW = SOCKET_STATE_TIME_WAIT,
       ESTAB = SOCKET_STATE_ESTABLISHED };

/* A synthetic inspect_result: sockets, each held by one process (pid = 100 + program index). */
struct table {
    struct inspect_result res;
    struct process_info processes[8];
    size_t process_count;
    uint32_t holder_start[256], holder_count[256];
    struct socket_holder holders[256];
    struct local_ports ports;
};

static void table_init(struct table *t)
{
    memset(t, 0, sizeof *t);
    t->res.holder_start = t->holder_start;
    t->res.holder_count = t->holder_count;
    t->res.holders = t->holders;
    t->res.processes_looked_up = true;
    t->ports.have_ephemeral = true;
    t->ports.ephemeral.first = 32768;
    t->ports.ephemeral.last = 60999;
    t->ports.have_reserved = true;
}

static uint32_t program(struct table *t, const char *comm)
{
    for (size_t i = 0; i < t->process_count; i++)
        if (strcmp(t->processes[i].comm, comm) == 0)
            return t->processes[i].pid;
    struct process_info *p = &t->processes[t->process_count];
    p->pid = (uint32_t)(100 + t->process_count);
    snprintf(p->comm, sizeof p->comm, "%s", comm);
    t->process_count++;
    t->res.processes = t->processes;
    t->res.process_count = t->process_count;
    return p->pid;
}

static void add(struct table *t, uint8_t proto, const char *addr, uint16_t port, uint8_t state,
                bool v6only, const char *comm)
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
    t->holder_start[i] = (uint32_t)t->res.holder_total;
    if (comm) {
        t->holders[t->res.holder_total++].pid = program(t, comm);
        t->holder_count[i] = 1;
    }
}

static const char *fixture_service(void *ctx, uint16_t port, uint8_t proto)
{
    (void)ctx;
    (void)proto;
    switch (port) {
    case 22: return "ssh";
    case 53: return "domain";
    case 80: return "http";
    case 3306: return "mysql";
    case 6379: return "redis";
    default: return NULL;
    }
}

static struct audit_report run(struct table *t, uint32_t time_wait_threshold)
{
    struct audit_options opt = { .time_wait_threshold = time_wait_threshold, .service = fixture_service };
    struct audit_report r;
    struct pr_error err;
    assert_int_equal(audit_run(&t->res, &t->ports, &opt, &r, &err), 0);
    return r;
}

static size_t count_kind(const struct audit_report *r, enum audit_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        n += r->items[i].kind == kind;
    return n;
}

static const struct audit_finding *find_kind(const struct audit_report *r, enum audit_kind kind)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->items[i].kind == kind)
            return &r->items[i];
    return NULL;
}

static void table_free(struct table *t, struct audit_report *r)
{
    audit_report_free(r);
    socket_list_free(&t->res.sockets);
}

static void test_ephemeral_listener(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    add(&t, TCP, "0.0.0.0", 40000, LISTEN, false, "app");       /* finding */
    add(&t, TCP, "0.0.0.0", 41000, LISTEN, false, "app2");      /* reserved: quiet */
    add(&t, TCP, "0.0.0.0", 8080, LISTEN, false, "web");        /* below the range: quiet */
    add(&t, TCP, "10.0.0.1", 45000, ESTAB, false, "client");    /* not a server: quiet */
    add(&t, UDP, "0.0.0.0", 50000, UNCONN, false, "resolver");  /* UDP: info only */
    port_set_add(&t.ports.reserved, 41000);
    struct audit_report r = run(&t, 0);
    assert_int_equal(count_kind(&r, AUDIT_EPHEMERAL_LISTENER), 2);
    const struct audit_finding *f = &r.items[0];
    assert_int_equal(f->kind, AUDIT_EPHEMERAL_LISTENER);
    assert_int_equal(f->port, 40000);
    assert_int_equal(f->severity, AUDIT_MEDIUM);
    /* the fix merges with the existing reservation, never replaces it */
    assert_non_null(strstr(f->fix, "ip_local_reserved_ports=40000,41000"));
    assert_non_null(strstr(f->evidence, "32768-60999"));
    assert_non_null(strstr(f->evidence, "app (pid 100)"));
    assert_int_equal(r.items[r.count - 1].severity, AUDIT_INFO);
    assert_int_equal(r.items[r.count - 1].port, 50000);
    table_free(&t, &r);
}

static void test_internal_exposed(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    add(&t, TCP, "0.0.0.0", 3306, LISTEN, false, "mysqld");          /* IANA name + program */
    add(&t, TCP, "::", 6380, LISTEN, false, "redis-server");          /* program only, dual-stack */
    add(&t, TCP, "127.0.0.1", 6379, LISTEN, false, "redis-server");   /* loopback: quiet */
    add(&t, TCP, "192.168.1.5", 5432, LISTEN, false, "postgres");     /* one address: quiet */
    add(&t, TCP, "0.0.0.0", 8443, LISTEN, false, "nginx");            /* not internal: quiet */
    struct audit_report r = run(&t, 0);
    assert_int_equal(count_kind(&r, AUDIT_INTERNAL_EXPOSED), 2);
    assert_int_equal(r.items[0].kind, AUDIT_INTERNAL_EXPOSED);
    assert_int_equal(r.items[0].severity, AUDIT_HIGH);
    assert_int_equal(r.items[0].port, 3306);
    assert_non_null(strstr(r.items[0].title, "every IPv4 address"));
    assert_non_null(strstr(r.items[0].evidence, "(IANA: mysql)"));
    assert_non_null(strstr(r.items[0].fix, "bind-address"));
    assert_int_equal(r.items[1].port, 6380);
    assert_non_null(strstr(r.items[1].title, "every IPv4 and IPv6 address"));
    assert_string_equal(r.items[1].address, "[::]");
    table_free(&t, &r);
}

static void test_reuseport_mixed(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    add(&t, TCP, "0.0.0.0", 9000, LISTEN, false, "api");
    add(&t, TCP, "0.0.0.0", 9000, LISTEN, false, "api-old");       /* different program: finding */
    add(&t, TCP, "0.0.0.0", 9100, LISTEN, false, "worker");
    add(&t, TCP, "0.0.0.0", 9100, LISTEN, false, "worker");        /* same program: quiet */
    add(&t, TCP, "127.0.0.1", 9200, LISTEN, false, "a");
    add(&t, TCP, "127.0.0.2", 9200, LISTEN, false, "b");           /* other address: quiet */
    struct audit_report r = run(&t, 0);
    assert_int_equal(count_kind(&r, AUDIT_REUSEPORT_MIXED), 1);
    const struct audit_finding *f = find_kind(&r, AUDIT_REUSEPORT_MIXED);
    assert_int_equal(f->port, 9000);
    assert_int_equal(f->socket_count, 2);
    assert_non_null(strstr(f->evidence, "api (pid"));
    assert_non_null(strstr(f->evidence, "api-old (pid"));
    table_free(&t, &r);
}

static void test_dual_stack(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    add(&t, TCP, "0.0.0.0", 7000, LISTEN, false, "v4d");
    add(&t, TCP, "::", 7000, LISTEN, true, "v6d");                 /* split wildcards: finding */
    add(&t, TCP, "127.0.0.1", 7100, LISTEN, false, "a");
    add(&t, TCP, "::1", 7100, LISTEN, false, "b");                 /* split localhost: finding */
    add(&t, TCP, "0.0.0.0", 7200, LISTEN, false, "same");
    add(&t, TCP, "::", 7200, LISTEN, true, "same");                /* one program: quiet */
    add(&t, TCP, "127.0.0.1", 7300, LISTEN, false, "only4");       /* one family: info */
    add(&t, TCP, "127.0.0.1", 7400, LISTEN, false, "x");
    add(&t, TCP, "::", 7400, LISTEN, false, "x");                  /* [::] dual covers ::1: quiet */
    struct audit_report r = run(&t, 0);
    assert_int_equal(count_kind(&r, AUDIT_DUAL_STACK_SPLIT), 2);
    assert_int_equal(count_kind(&r, AUDIT_LOOPBACK_ONE_FAMILY), 1);
    const struct audit_finding *f = find_kind(&r, AUDIT_LOOPBACK_ONE_FAMILY);
    assert_int_equal(f->port, 7300);
    assert_int_equal(f->severity, AUDIT_INFO);
    assert_non_null(strstr(f->fix, "[::1]"));
    table_free(&t, &r);
}

static void test_registry_mismatch(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    add(&t, TCP, "0.0.0.0", 22, LISTEN, false, "nc");              /* finding */
    add(&t, UDP, "127.0.0.53", 53, UNCONN, false, "systemd-resolve"); /* known program: quiet */
    add(&t, TCP, "0.0.0.0", 80, LISTEN, false, "python3");         /* http is generic: quiet */
    add(&t, TCP, "0.0.0.0", 3306, LISTEN, false, "java");          /* >= 1024: no claim */
    add(&t, TCP, "0.0.0.0", 23, LISTEN, false, "x");               /* no IANA name here: quiet */
    struct audit_report r = run(&t, 0);
    assert_int_equal(count_kind(&r, AUDIT_REGISTRY_MISMATCH), 1);
    const struct audit_finding *f = find_kind(&r, AUDIT_REGISTRY_MISMATCH);
    assert_int_equal(f->port, 22);
    assert_non_null(strstr(f->title, "registered to ssh but held by nc"));
    table_free(&t, &r);
}

/* A registry name with terminal escapes, long enough (in two-byte characters) that the title
 * is cut: the texts hold no control byte and stay UTF-8, so the JSON keeps every key. */
static const char *hostile_service(void *ctx, uint16_t port, uint8_t proto)
{
    (void)ctx;
    (void)proto;
    static char name[400];
    if (port != 25)
        return NULL;
    size_t o = (size_t)snprintf(name, sizeof name, "s\x1b[2J");
    while (o + 2 < sizeof name) {
        name[o++] = '\xc3';
        name[o++] = '\xa9';
    }
    name[o] = '\0';
    return name;
}

static void test_texts_stay_utf8_without_controls(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    add(&t, TCP, "0.0.0.0", 25, LISTEN, false, "nc");
    struct audit_options opt = { .service = hostile_service };
    struct audit_report r;
    struct pr_error err;
    assert_int_equal(audit_run(&t.res, &t.ports, &opt, &r, &err), 0);
    const struct audit_finding *f = find_kind(&r, AUDIT_REGISTRY_MISMATCH);
    assert_non_null(f);
    assert_non_null(strstr(f->title, "registered to s\\x1b[2J\xc3\xa9"));
    const char *texts[] = { f->title, f->evidence, f->fix };
    for (size_t k = 0; k < 3; k++) {
        assert_true(text_utf8_valid(texts[k], strlen(texts[k])));
        for (const char *p = texts[k]; *p; p++)
            assert_false((unsigned char)*p < 0x20);
    }
    table_free(&t, &r);
}

static void test_time_wait_pile(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    add(&t, TCP, "0.0.0.0", 8080, LISTEN, false, "web");
    for (int i = 0; i < 60; i++)
        add(&t, TCP, "10.0.0.1", 8080, TW, false, NULL);
    for (int i = 0; i < 60; i++)
        add(&t, TCP, "10.0.0.1", (uint16_t)(40000 + i), TW, false, NULL);   /* client side: quiet */
    add(&t, TCP, "0.0.0.0", 8081, LISTEN, false, "web");
    for (int i = 0; i < 49; i++)
        add(&t, TCP, "10.0.0.1", 8081, TW, false, NULL);                     /* below threshold */
    struct audit_report r = run(&t, 50);
    assert_int_equal(count_kind(&r, AUDIT_TIME_WAIT_PILE), 1);
    const struct audit_finding *f = find_kind(&r, AUDIT_TIME_WAIT_PILE);
    assert_int_equal(f->port, 8080);
    assert_non_null(strstr(f->title, "60 connections in TIME_WAIT"));
    audit_report_free(&r);
    r = run(&t, 0);   /* default threshold 1000 */
    assert_int_equal(count_kind(&r, AUDIT_TIME_WAIT_PILE), 0);
    table_free(&t, &r);
}

/* With a threshold of 1, one connection is a pile of one: "1 connection", not "1 connections". */
static void test_time_wait_one(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    add(&t, TCP, "0.0.0.0", 8080, LISTEN, false, "web");
    add(&t, TCP, "10.0.0.1", 8080, TW, false, NULL);
    struct audit_report r = run(&t, 1);
    const struct audit_finding *f = find_kind(&r, AUDIT_TIME_WAIT_PILE);
    assert_non_null(f);
    assert_string_equal(f->title, "1 connection in TIME_WAIT on server port 8080");
    assert_non_null(strstr(f->evidence, "closed 1 connection first"));
    table_free(&t, &r);
}

static void test_reserved_unused(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    port_set_add_range(&t.ports.reserved, 5000, 5003);
    port_set_add(&t.ports.reserved, 7000);
    port_set_add(&t.ports.reserved, 7001);
    add(&t, TCP, "0.0.0.0", 5002, LISTEN, false, "svc");   /* splits 5000-5003 */
    add(&t, UDP, "0.0.0.0", 7001, UNCONN, false, "svc");   /* UDP counts as a user */
    struct audit_report r = run(&t, 0);
    assert_int_equal(count_kind(&r, AUDIT_RESERVED_UNUSED), 3);
    /* by port: 5000-5001, 5003, 7000 */
    size_t seen = 0;
    for (size_t i = 0; i < r.count; i++) {
        const struct audit_finding *f = &r.items[i];
        if (f->kind != AUDIT_RESERVED_UNUSED)
            continue;
        if (f->port == 5000)
            assert_int_equal(f->port_last, 5001), seen |= 1;
        else if (f->port == 5003)
            assert_int_equal(f->port_last, 5003), seen |= 2;
        else if (f->port == 7000)
            assert_int_equal(f->port_last, 7000), seen |= 4;
        assert_int_equal(f->severity, AUDIT_LOW);
    }
    assert_int_equal(seen, 7);
    /* the fix releases exactly the unused ports and keeps the rest */
    const struct audit_finding *f = find_kind(&r, AUDIT_RESERVED_UNUSED);
    assert_non_null(strstr(f->fix, "ip_local_reserved_ports=5002-5003,7000-7001"));
    table_free(&t, &r);
}

static void test_clean_host_and_order(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    add(&t, TCP, "127.0.0.1", 5432, LISTEN, false, "postgres");
    add(&t, TCP, "::1", 5432, LISTEN, false, "postgres");
    add(&t, TCP, "0.0.0.0", 443, LISTEN, false, "nginx");
    struct audit_report r = run(&t, 0);
    assert_int_equal(r.count, 0);
    assert_int_equal(r.listeners_examined, 3);
    audit_report_free(&r);
    /* severities sort highest first */
    add(&t, TCP, "0.0.0.0", 40000, LISTEN, false, "app");
    add(&t, TCP, "0.0.0.0", 6379, LISTEN, false, "redis-server");
    r = run(&t, 0);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.items[0].severity, AUDIT_HIGH);
    assert_int_equal(r.items[1].severity, AUDIT_MEDIUM);
    assert_int_equal(r.by_severity[AUDIT_HIGH], 1);
    assert_int_equal(r.by_severity[AUDIT_MEDIUM], 1);
    table_free(&t, &r);
}

static void test_without_processes(void **state)
{
    (void)state;
    struct table t;
    table_init(&t);
    t.res.processes_looked_up = false;
    add(&t, TCP, "0.0.0.0", 9000, LISTEN, false, NULL);
    add(&t, TCP, "0.0.0.0", 9000, LISTEN, false, NULL);
    add(&t, TCP, "0.0.0.0", 3306, LISTEN, false, NULL);   /* found by its IANA name alone */
    struct audit_report r = run(&t, 0);
    assert_int_equal(count_kind(&r, AUDIT_REUSEPORT_MIXED), 0);   /* no claim without programs */
    assert_int_equal(count_kind(&r, AUDIT_INTERNAL_EXPOSED), 1);
    assert_non_null(strstr(r.items[0].evidence, "an unknown process"));
    table_free(&t, &r);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(audit_severity_parse("HIGH"), AUDIT_HIGH);
    assert_int_equal(audit_severity_parse("info"), AUDIT_INFO);
    assert_int_equal(audit_severity_parse("critical"), -1);
    assert_string_equal(audit_kind_id(AUDIT_TIME_WAIT_PILE), "time-wait-pile");
    assert_string_equal(audit_severity_name(AUDIT_MEDIUM), "medium");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ephemeral_listener),
        cmocka_unit_test(test_internal_exposed),
        cmocka_unit_test(test_reuseport_mixed),
        cmocka_unit_test(test_dual_stack),
        cmocka_unit_test(test_registry_mismatch),
        cmocka_unit_test(test_texts_stay_utf8_without_controls),
        cmocka_unit_test(test_time_wait_pile),
        cmocka_unit_test(test_time_wait_one),
        cmocka_unit_test(test_reserved_unused),
        cmocka_unit_test(test_clean_host_and_order),
        cmocka_unit_test(test_without_processes),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
