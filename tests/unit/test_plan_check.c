/* test_plan_check.c — the rules of `portreg plan check`: each fires on its situation and stays
 * quiet on the near miss; `auto` ports are deterministic, follow the name, and skip used,
 * excluded, IANA-assigned and ephemeral ports; the write-back keeps comments and is idempotent. */
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

#include "doctor/suggest.h"
#include "index_fixture.h"
#include "plan/plan.h"
#include "plan/plan_check.h"
#include "plan/plan_yaml.h"
#include "plan_check_reference.h"
#include "registry/record.h"

struct checked {
    struct plan plan;
    struct plan_diagnostics diag;
};

static void print_diagnostics(const struct plan_diagnostics *diag)
{
    for (size_t i = 0; i < diag->count; i++) {
        char buf[2048];
        print_message("# [%s] %s\n", diag->items[i].code,
                      plan_diagnostic_format(&diag->items[i], buf, sizeof buf));
    }
}

/* Load text (which must be valid) and check it with ctx. */
static void check_text(struct checked *c, const char *text, const struct plan_check_context *ctx)
{
    plan_init(&c->plan);
    plan_diagnostics_init(&c->diag);
    int r = plan_load_buffer(&c->plan, "t.yaml", text, strlen(text), &c->diag, NULL);
    print_diagnostics(&c->diag);
    assert_int_equal(r, 0);
    assert_int_equal(plan_check(&c->plan, ctx, &c->diag, NULL), 0);
    print_diagnostics(&c->diag);
}

static void release(struct checked *c)
{
    plan_diagnostics_free(&c->diag);
    plan_free(&c->plan);
}

static size_t count_code(const struct plan_diagnostics *diag, const char *code)
{
    size_t n = 0;
    for (size_t i = 0; i < diag->count; i++)
        n += strcmp(diag->items[i].code, code) == 0;
    return n;
}

static const struct plan_diagnostic *find_code(const struct plan_diagnostics *diag,
                                               const char *code)
{
    for (size_t i = 0; i < diag->count; i++)
        if (strcmp(diag->items[i].code, code) == 0)
            return &diag->items[i];
    return NULL;
}

static const struct plan_service *service_named(const struct plan *plan, const char *name)
{
    for (size_t i = 0; i < plan->service_count; i++)
        if (strcmp(plan->services[i].name, name) == 0)
            return &plan->services[i];
    fail_msg("no service %s", name);
    return NULL;
}

/* A fake IANA: 3306/tcp mysql, 5432/tcp+udp postgresql, 80/tcp http, 20500/tcp+udp "taken",
 * 49151 reserved. */
static size_t fake_iana(void *user, uint16_t port, uint8_t proto, const char **names, size_t max)
{
    (void)user;
    if (max == 0)
        return 0;
    if (port == 3306 && proto == REGISTRY_PROTO_TCP)
        names[0] = "mysql";
    else if (port == 5432)
        names[0] = "postgresql";
    else if (port == 80 && proto == REGISTRY_PROTO_TCP)
        names[0] = "http";
    else if (port == 20500)
        names[0] = "taken";
    else if (port == 49151)
        names[0] = "(reserved)";
    else
        return 0;
    return 1;
}

#define HOSTS                                                                             \
    "hosts:\n"                                                                            \
    "  - {name: h1, addresses: {public: 203.0.113.1, internal: 10.0.0.1}, groups: [g]}\n" \
    "  - {name: h2, addresses: {internal: 10.0.0.2}, groups: [g]}\n"                      \
    "  - {name: h3, addresses: {internal: 10.0.0.3}}\n"

/* ---- bind conflicts ---- */

static size_t conflicts_of(const char *bind_a, const char *port_a, const char *hosts_a,
                           const char *bind_b, const char *port_b, const char *hosts_b)
{
    char text[2048];
    snprintf(text, sizeof text, HOSTS
             "services:\n"
             "  - {name: a, hosts: %s, port: %s, bind: %s, exposure: public}\n"
             "  - {name: b, hosts: %s, port: %s, bind: %s, exposure: public}\n",
             hosts_a, port_a, bind_a, hosts_b, port_b, bind_b);
    struct checked c;
    check_text(&c, text, NULL);
    size_t n = count_code(&c.diag, "bind-conflict");
    release(&c);
    return n;
}

static void test_bind_conflict_rules(void **state)
{
    (void)state;
    /* wildcard overlaps a specific address; the same port on udp or on another host does not */
    assert_int_equal(conflicts_of("any", "8080/tcp", "h1", "internal", "8080/tcp", "h1"), 1);
    assert_int_equal(conflicts_of("any", "8080/tcp", "h1", "internal", "8080/udp", "h1"), 0);
    assert_int_equal(conflicts_of("any", "8080/tcp", "h1", "any", "8080/tcp", "h3"), 0);
    assert_int_equal(conflicts_of("any", "8080/tcp", "h1", "any", "8081/tcp", "h1"), 0);
    /* two different specific addresses coexist; the same one clashes */
    assert_int_equal(conflicts_of("public", "8080", "h1", "internal", "8080", "h1"), 0);
    assert_int_equal(conflicts_of("internal", "8080", "h1", "10.0.0.1", "8080", "h1"), 1);
    /* loopback overlaps the wildcard, not a specific non-loopback address */
    assert_int_equal(conflicts_of("loopback", "8080", "h1", "any", "8080", "h1"), 1);
    assert_int_equal(conflicts_of("loopback", "8080", "h1", "internal", "8080", "h1"), 0);
    assert_int_equal(conflicts_of("loopback", "8080", "h1", "127.0.0.1", "8080", "h1"), 1);
    /* dual stack: [::] takes IPv4 too; 0.0.0.0 does not take an IPv6 address */
    assert_int_equal(conflicts_of("\"::\"", "8080", "h1", "0.0.0.0", "8080", "h1"), 1);
    assert_int_equal(conflicts_of("\"::\"", "8080", "h1", "10.0.0.1", "8080", "h1"), 1);
    assert_int_equal(conflicts_of("0.0.0.0", "8080", "h1", "\"::1\"", "8080", "h1"), 0);
    /* an IPv4-mapped address is the IPv4 address (the kernel checks it against IPv4 binds) */
    assert_int_equal(conflicts_of("\"::ffff:10.0.0.1\"", "8080", "h1", "10.0.0.1", "8080", "h1"), 1);
    assert_int_equal(conflicts_of("0.0.0.0", "8080", "h1", "\"::ffff:10.0.0.1\"", "8080", "h1"), 1);
    assert_int_equal(conflicts_of("\"::ffff:0.0.0.0\"", "8080", "h1", "10.0.0.1", "8080", "h1"), 1);
    assert_int_equal(conflicts_of("\"::ffff:0.0.0.0\"", "8080", "h1", "\"::1\"", "8080", "h1"), 0);
    assert_int_equal(conflicts_of("\"::ffff:10.0.0.1\"", "8080", "h1", "10.0.0.2", "8080", "h1"), 0);
    assert_int_equal(conflicts_of("0.0.0.0", "8080", "h1", "127.0.0.1", "8080", "h1"), 1);
    /* a group shares its hosts */
    assert_int_equal(conflicts_of("any", "8080", "g", "any", "8080", "h2"), 1);
    assert_int_equal(conflicts_of("any", "8080", "g", "any", "8080", "h3"), 0);
}

static void test_bind_conflict_names_both(void **state)
{
    (void)state;
    struct checked c;
    check_text(&c, HOSTS
               "services:\n"
               "  - name: web\n"
               "    hosts: [g]\n"
               "    ports: [8443/tcp, 8080/tcp]\n"
               "    exposure: public\n"
               "  - name: admin\n"
               "    hosts: [h1, h2]\n"
               "    port: 8080/tcp\n"
               "    bind: internal\n"
               "    exposure: internal\n"
               "    sources: [h3]\n", NULL);
    assert_int_equal(c.diag.errors, 1);
    const struct plan_diagnostic *d = find_code(&c.diag, "bind-conflict");
    assert_non_null(d);
    assert_int_equal(d->severity, PLAN_SEVERITY_ERROR);
    assert_int_equal(d->pos.line, 12);           /* admin's 8080 */
    assert_int_equal(d->pos.column, 11);
    assert_string_equal(d->field, "services[1].port");
    assert_int_equal(d->related.line, 8);        /* web's 8080 */
    assert_int_equal(d->related.column, 23);
    assert_non_null(strstr(d->message, "admin"));
    assert_non_null(strstr(d->message, "web"));
    assert_non_null(strstr(d->message, "hosts h1, h2"));
    assert_non_null(strstr(d->message, "t.yaml:8:23"));
    release(&c);

    /* the same port twice in one service */
    check_text(&c, HOSTS "services: [{name: s, hosts: h3, ports: [9000, 9000/tcp, 9000/udp], "
               "exposure: public}]\n", NULL);
    assert_int_equal(count_code(&c.diag, "duplicate-port"), 1);
    assert_int_equal(count_code(&c.diag, "bind-conflict"), 0);
    assert_string_equal(find_code(&c.diag, "duplicate-port")->field, "services[0].ports[1]");
    release(&c);
}

/* ---- policy ---- */

static void test_policy_ranges(void **state)
{
    (void)state;
    struct plan_check_context ctx = { .iana_lookup = fake_iana };
    struct checked c;
    check_text(&c, HOSTS
               "policy: {static: 1024-29999, exclude: [30000-32767]}\n"
               "services:\n"
               "  - {name: a, hosts: h3, port: 31000, exposure: public}\n"     /* excluded */
               "  - {name: b, hosts: h3, port: 32768, exposure: public}\n"     /* just after */
               "  - {name: c, hosts: h3, port: 29999, exposure: public}\n"     /* last static */
               "  - {name: d, hosts: h3, port: 40000, exposure: public}\n"     /* outside */
               "  - {name: e, hosts: h3, port: 22, exposure: public}\n"        /* system port */
               "  - {name: f, hosts: h3, port: 5432, exposure: public, iana: postgresql}\n",
               &ctx);
    assert_int_equal(count_code(&c.diag, "excluded-port"), 1);
    const struct plan_diagnostic *d = find_code(&c.diag, "excluded-port");
    assert_string_equal(d->field, "services[0].port");
    assert_int_equal(d->related.line, 5);        /* the excluded range */
    assert_non_null(strstr(d->message, "30000-32767"));
    /* 32768 and 40000 are outside static; 31000 too (excluded and outside) */
    assert_int_equal(count_code(&c.diag, "policy-range"), 3);
    for (size_t i = 0; i < c.diag.count; i++)
        if (!strcmp(c.diag.items[i].code, "policy-range"))
            assert_true(strstr(c.diag.items[i].field, "services[0]") ||
                        strstr(c.diag.items[i].field, "services[1]") ||
                        strstr(c.diag.items[i].field, "services[3]"));
    release(&c);

    /* a port outside the static range is fine for the service IANA registered it to */
    check_text(&c, HOSTS "policy: {static: 10000-20000}\n"
               "services: [{name: pg, hosts: h3, port: 5432, exposure: public, iana: postgresql}]\n",
               &ctx);
    assert_int_equal(count_code(&c.diag, "policy-range"), 0);
    release(&c);
    check_text(&c, HOSTS "policy: {static: 10000-20000}\n"
               "services: [{name: pg, hosts: h3, port: 5432, exposure: public}]\n", &ctx);
    assert_int_equal(count_code(&c.diag, "policy-range"), 1);
    release(&c);
}

static void test_iana_assigned(void **state)
{
    (void)state;
    struct plan_check_context ctx = { .iana_lookup = fake_iana };
    struct checked c;
    check_text(&c, HOSTS
               "services:\n"
               "  - {name: db, hosts: h3, port: 3306/tcp, exposure: public}\n"
               "  - {name: my, hosts: h2, port: 3306/tcp, exposure: public, iana: [x, MySQL]}\n"
               "  - {name: du, hosts: h2, port: 3306/udp, exposure: public}\n", &ctx);
    assert_int_equal(count_code(&c.diag, "iana-assigned"), 1);
    const struct plan_diagnostic *d = find_code(&c.diag, "iana-assigned");
    assert_int_equal(d->severity, PLAN_SEVERITY_WARNING);
    assert_string_equal(d->field, "services[0].port");
    assert_non_null(strstr(d->message, "registered at IANA to mysql"));
    assert_non_null(d->fix);
    assert_int_equal(c.diag.errors, 0);
    release(&c);

    check_text(&c, HOSTS "policy: {allow_iana_assigned: true}\n"
               "services: [{name: db, hosts: h3, port: 3306/tcp, exposure: public}]\n", &ctx);
    assert_int_equal(count_code(&c.diag, "iana-assigned"), 0);
    release(&c);

    /* a service whose name is IANA's name implements it (case-insensitive, as IANA compares) */
    check_text(&c, HOSTS
               "services:\n"
               "  - {name: mysql, hosts: h3, port: 3306/tcp, exposure: public}\n"
               "  - {name: HTTP, hosts: h2, port: 80/tcp, exposure: public}\n", &ctx);
    assert_int_equal(count_code(&c.diag, "iana-assigned"), 0);
    release(&c);

    /* no IANA data: no rule */
    check_text(&c, HOSTS "services: [{name: db, hosts: h3, port: 3306/tcp, exposure: public}]\n",
               NULL);
    assert_int_equal(count_code(&c.diag, "iana-assigned"), 0);
    release(&c);
}

static void test_iana_lookup_registry(void **state)
{
    struct index_fixture *f = *state;
    const char *names[8];
    assert_int_equal(plan_iana_lookup_registry(f->ix, 80, REGISTRY_PROTO_TCP, names, 8), 1);
    assert_string_equal(names[0], "http");
    assert_int_equal(plan_iana_lookup_registry(f->ix, 2049, REGISTRY_PROTO_TCP, names, 8), 1);
    assert_string_equal(names[0], "nfs");         /* not shilp, which is udp */
    assert_int_equal(plan_iana_lookup_registry(f->ix, 275, REGISTRY_PROTO_TCP, names, 8), 0);
    assert_int_equal(plan_iana_lookup_registry(f->ix, 49151, REGISTRY_PROTO_UDP, names, 8), 1);
    assert_string_equal(names[0], "(reserved)");
    assert_int_equal(plan_iana_lookup_registry(f->ix, 12345, REGISTRY_PROTO_TCP, names, 8), 0);

    /* through plan_check */
    struct plan_check_context ctx = { .iana_lookup = plan_iana_lookup_registry, .iana_user = f->ix };
    struct checked c;
    check_text(&c, HOSTS "services: [{name: db, hosts: h3, port: 3306, exposure: public}]\n", &ctx);
    assert_int_equal(count_code(&c.diag, "iana-assigned"), 1);
    assert_non_null(strstr(find_code(&c.diag, "iana-assigned")->message, "mysql"));
    release(&c);

    /* the service's name, or an `iana:` name, as IANA's name or a services(5) alias of it */
    assert_true(plan_iana_has_name_registry(f->ix, 80, REGISTRY_PROTO_TCP, "WWW"));
    assert_true(plan_iana_has_name_registry(f->ix, 80, REGISTRY_PROTO_TCP, "http"));
    assert_false(plan_iana_has_name_registry(f->ix, 80, REGISTRY_PROTO_TCP, "ww"));
    assert_false(plan_iana_has_name_registry(f->ix, 80, REGISTRY_PROTO_UDP, "http"));
    ctx.iana_has_name = plan_iana_has_name_registry;
    check_text(&c, HOSTS
               "services:\n"
               "  - {name: mysql, hosts: h3, port: 3306, exposure: public}\n"
               "  - {name: www, hosts: h2, port: 80, exposure: public}\n"
               "  - {name: db, hosts: h1, port: 3306, exposure: public, iana: [mariadb]}\n", &ctx);
    assert_int_equal(count_code(&c.diag, "iana-assigned"), 0);
    release(&c);
}

/* ---- host port facts ---- */

/* Which plan host is this machine: `local:` decides, else the name against the host name. */
static void test_host_is_local(void **state)
{
    (void)state;
    struct checked c;
    check_text(&c, "hosts:\n"
               "  - {name: web1}\n"
               "  - {name: web1.example.org}\n"
               "  - {name: db1, local: true}\n"
               "  - {name: WEB1, local: false}\n"
               "  - {name: web10}\n", NULL);
    const struct plan_host *h = c.plan.hosts;
    assert_true(plan_host_is_local(&h[0], "web1"));
    assert_true(plan_host_is_local(&h[0], "Web1.example.org"));
    assert_true(plan_host_is_local(&h[1], "web1"));
    assert_true(plan_host_is_local(&h[1], "WEB1.EXAMPLE.ORG"));
    assert_false(plan_host_is_local(&h[1], "web1.example.com"));
    assert_true(plan_host_is_local(&h[2], "web1"));
    assert_false(plan_host_is_local(&h[3], "web1"));
    assert_false(plan_host_is_local(&h[4], "web1"));
    assert_false(plan_host_is_local(&h[0], ""));
    assert_true(c.plan.hosts[2].has_local && c.plan.hosts[3].has_local && !c.plan.hosts[0].has_local);
    release(&c);
}

static void test_ephemeral_range(void **state)
{
    (void)state;
    struct local_ports lp = { .ephemeral = { 32768, 60999 }, .have_ephemeral = true,
                              .have_reserved = true };
    port_set_clear(&lp.reserved);
    port_set_add(&lp.reserved, 40001);
    port_set_add(&lp.reserved, 50000);
    struct plan_check_context ctx = { .local = &lp };
    struct checked c;
    check_text(&c, HOSTS
               "policy: {static: 1024-65535}\n"
               "services:\n"
               "  - {name: a, hosts: g, port: 40000, exposure: public}\n"     /* ephemeral */
               "  - {name: b, hosts: g, port: 40001, exposure: public}\n"     /* reserved */
               "  - {name: c, hosts: g, port: 32767, exposure: public}\n"     /* just below */
               "  - {name: d, hosts: g, port: 61000, exposure: public}\n"     /* just above */
               "  - {name: e, hosts: h1, port: 40002/udp, exposure: public}\n", &ctx);
    assert_int_equal(count_code(&c.diag, "ephemeral-port"), 2);
    const struct plan_diagnostic *d = find_code(&c.diag, "ephemeral-port");
    assert_string_equal(d->field, "services[0].port");
    assert_int_equal(d->severity, PLAN_SEVERITY_WARNING);
    assert_non_null(strstr(d->message, "32768-60999 of h1, h2"));
    /* the fix merges what the host reserves with every plan port of the host in the range */
    assert_non_null(d->fix);
    assert_non_null(strstr(d->fix, "sysctl -w net.ipv4.ip_local_reserved_ports=40000-40002,50000"));
    release(&c);

    /* a host's own ephemeral range and reserved ports in the plan win over the caller's */
    check_text(&c, "hosts: [{name: x, ephemeral: 10000-10100, reserved: [10050]}]\n"
               "services:\n"
               "  - {name: a, hosts: x, port: 10010, exposure: public}\n"
               "  - {name: b, hosts: x, port: 10050, exposure: public}\n"
               "  - {name: c, hosts: x, port: 40000, exposure: public}\n", &ctx);
    assert_int_equal(count_code(&c.diag, "ephemeral-port"), 1);
    assert_string_equal(find_code(&c.diag, "ephemeral-port")->field, "services[0].port");
    assert_non_null(strstr(find_code(&c.diag, "ephemeral-port")->fix, "=10010,10050 "));
    release(&c);

    /* no facts: no rule */
    check_text(&c, HOSTS "services: [{name: a, hosts: g, port: 40000, exposure: public}]\n", NULL);
    assert_int_equal(count_code(&c.diag, "ephemeral-port"), 0);
    release(&c);
}

static void test_privileged_ports(void **state)
{
    (void)state;
    struct checked c;
    check_text(&c, HOSTS "services:\n"
               "  - {name: a, hosts: h3, port: 80, exposure: public}\n"
               "  - {name: b, hosts: h3, port: 1024, exposure: public}\n", NULL);
    assert_int_equal(count_code(&c.diag, "privileged-port"), 1);
    assert_string_equal(find_code(&c.diag, "privileged-port")->field, "services[0].port");
    assert_non_null(strstr(find_code(&c.diag, "privileged-port")->message,
                           "CAP_NET_BIND_SERVICE"));
    release(&c);
    struct plan_check_context ctx = { .unprivileged_port_start = 80 };
    check_text(&c, HOSTS "services:\n"
               "  - {name: a, hosts: h3, port: 80, exposure: public}\n"
               "  - {name: b, hosts: h3, port: 79, exposure: public}\n", &ctx);
    assert_int_equal(count_code(&c.diag, "privileged-port"), 1);
    assert_string_equal(find_code(&c.diag, "privileged-port")->field, "services[1].port");
    release(&c);
}

/* ---- exposure ---- */

static size_t exposure_findings(const char *service_fields, const char *code)
{
    char text[2048];
    snprintf(text, sizeof text, HOSTS "networks: {lan: 10.0.0.0/8}\n"
             "services: [{name: s, port: 8080, %s}]\n", service_fields);
    struct checked c;
    check_text(&c, text, NULL);
    size_t n = count_code(&c.diag, code);
    release(&c);
    return n;
}

static void test_exposure_contradictions(void **state)
{
    (void)state;
    /* loopback must bind loopback */
    assert_int_equal(exposure_findings("hosts: h1, exposure: loopback, bind: any",
                                       "exposure-bind"), 1);
    assert_int_equal(exposure_findings("hosts: h1, exposure: loopback, bind: internal",
                                       "exposure-bind"), 1);
    assert_int_equal(exposure_findings("hosts: h1, exposure: loopback", "exposure-bind"), 0);
    assert_int_equal(exposure_findings("hosts: h1, exposure: loopback, bind: \"::1\"",
                                       "exposure-bind"), 0);
    /* public or internal must not bind loopback */
    assert_int_equal(exposure_findings("hosts: h1, exposure: public, bind: loopback",
                                       "exposure-bind"), 1);
    assert_int_equal(exposure_findings("hosts: h1, exposure: public, bind: 127.0.0.1",
                                       "exposure-bind"), 1);
    assert_int_equal(exposure_findings("hosts: h1, exposure: internal, bind: loopback, "
                                       "sources: [lan]", "exposure-bind"), 1);
    assert_int_equal(exposure_findings("hosts: h1, exposure: public, bind: public",
                                       "exposure-bind"), 0);
    /* public on a private address: a warning */
    assert_int_equal(exposure_findings("hosts: h1, exposure: public, bind: internal",
                                       "exposure-private-address"), 1);
    assert_int_equal(exposure_findings("hosts: h1, exposure: public, bind: public",
                                       "exposure-private-address"), 0);
    /* internal open to any is a contradiction; without sources nobody may come in */
    assert_int_equal(exposure_findings("hosts: h3, exposure: internal, sources: [any]",
                                       "exposure-sources"), 1);
    assert_int_equal(exposure_findings("hosts: h3, exposure: internal, sources: [lan]",
                                       "exposure-sources"), 0);
    assert_int_equal(exposure_findings("hosts: h3, exposure: internal", "internal-no-sources"), 1);
    assert_int_equal(exposure_findings("hosts: h3, exposure: internal, sources: [lan]",
                                       "internal-no-sources"), 0);
    /* internal on every address of a host with a public address */
    assert_int_equal(exposure_findings("hosts: h1, exposure: internal, sources: [lan]",
                                       "internal-on-public"), 1);
    assert_int_equal(exposure_findings("hosts: h1, exposure: internal, bind: internal, "
                                       "sources: [lan]", "internal-on-public"), 0);
    assert_int_equal(exposure_findings("hosts: h2, exposure: internal, sources: [lan]",
                                       "internal-on-public"), 0);
    /* a literal address the host does not have */
    assert_int_equal(exposure_findings("hosts: h2, exposure: internal, bind: 10.0.0.9, "
                                       "sources: [lan]", "bind-address-not-on-host"), 1);
    assert_int_equal(exposure_findings("hosts: h2, exposure: internal, bind: 10.0.0.2, "
                                       "sources: [lan]", "bind-address-not-on-host"), 0);

    struct checked c;
    check_text(&c, HOSTS "services: [{name: s, hosts: h1, port: 8080, exposure: loopback, "
               "bind: any}]\n", NULL);
    const struct plan_diagnostic *d = find_code(&c.diag, "exposure-bind");
    assert_int_equal(d->severity, PLAN_SEVERITY_ERROR);
    assert_string_equal(d->field, "services[0].bind");
    assert_int_equal(d->pos.line, 5);
    assert_int_equal(d->pos.column, 71);
    release(&c);
}

/* ---- auto ---- */

static uint16_t auto_port_of(const char *text, const char *service, size_t index,
                             const struct plan_check_context *ctx)
{
    struct checked c;
    check_text(&c, text, ctx);
    const struct plan_service *svc = service_named(&c.plan, service);
    assert_true(svc->ports[index].automatic);
    uint16_t port = svc->ports[index].port;
    release(&c);
    return port;
}

static void test_auto_deterministic_and_follows_name(void **state)
{
    (void)state;
    const char *alpha = "hosts: [{name: h}]\npolicy: {auto: 20000-29999}\n"
                        "services: [{name: Alpha, hosts: h, port: auto, exposure: loopback}]\n";
    const char *renamed = "hosts: [{name: h}]\npolicy: {auto: 20000-29999}\n"
                          "services: [{name: alpha2, hosts: h, port: auto, exposure: loopback}]\n";
    uint16_t first = auto_port_of(alpha, "Alpha", 0, NULL);
    assert_int_equal(auto_port_of(alpha, "Alpha", 0, NULL), first);
    /* the suggest hash: lower-cased name, start in the auto range */
    assert_int_equal(first, suggest_start_port("alpha", 20000, 29999, NULL));
    assert_in_range(first, 20000, 29999);
    assert_int_not_equal(auto_port_of(renamed, "alpha2", 0, NULL), first);

    struct checked c;
    check_text(&c, alpha, NULL);
    const struct plan_diagnostic *d = find_code(&c.diag, "auto-port");
    assert_non_null(d);
    assert_int_equal(d->severity, PLAN_SEVERITY_INFO);
    assert_string_equal(d->field, "services[0].port");
    char want[64];
    snprintf(want, sizeof want, "auto resolved to %u/tcp", (unsigned)first);
    assert_non_null(strstr(d->message, want));
    assert_int_equal(c.diag.errors, 0);
    release(&c);
}

static void test_auto_skips_used_excluded_assigned_ephemeral(void **state)
{
    (void)state;
    uint16_t start = suggest_start_port("svc", 20000, 29999, NULL);
    char text[1024];
    /* used by another service of a shared host (same protocol), and excluded */
    snprintf(text, sizeof text,
             "hosts: [{name: h, groups: [g]}, {name: other}]\n"
             "policy: {static: 1024-30000, auto: 20000-29999, exclude: [%u-%u]}\n"
             "services:\n"
             "  - {name: svc, hosts: g, ports: [auto, auto/udp], exposure: loopback}\n"
             "  - {name: user, hosts: h, port: %u/tcp, exposure: loopback}\n"
             "  - {name: far, hosts: other, port: %u/tcp, exposure: loopback}\n",
             start + 1u, start + 2u, (unsigned)start, start + 3u);
    struct checked c;
    check_text(&c, text, NULL);
    const struct plan_service *svc = service_named(&c.plan, "svc");
    /* tcp: start used, +1/+2 excluded, +3 used only on a host svc does not run on */
    assert_int_equal(svc->ports[0].port, start + 3u);
    /* udp: the tcp service does not block it */
    assert_int_equal(svc->ports[1].port, start);
    assert_int_equal(c.diag.errors, 0);
    release(&c);

    /* IANA-assigned ports are skipped unless allowed (fake: 20500 is taken) */
    struct plan_check_context ctx = { .iana_lookup = fake_iana };
    const char *assigned = "hosts: [{name: h}]\npolicy: {auto: 20500-20510}\n"
                           "services: [{name: a, hosts: h, port: auto, exposure: loopback}, "
                           "{name: b, hosts: h, port: auto, exposure: loopback}]\n";
    check_text(&c, assigned, &ctx);
    assert_true(c.plan.services[0].ports[0].port != 20500);
    assert_true(c.plan.services[1].ports[0].port != 20500);
    /* two autos on one host never share a port */
    assert_int_not_equal(c.plan.services[0].ports[0].port, c.plan.services[1].ports[0].port);
    release(&c);
    check_text(&c, "hosts: [{name: h}]\npolicy: {auto: 20500-20500, allow_iana_assigned: true}\n"
               "services: [{name: a, hosts: h, port: auto, exposure: loopback}]\n", &ctx);
    assert_int_equal(c.plan.services[0].ports[0].port, 20500);
    release(&c);

    /* the host's ephemeral range */
    struct local_ports lp = { .ephemeral = { 20000, 20005 }, .have_ephemeral = true };
    struct plan_check_context eph = { .local = &lp };
    for (const char *name = "abcdefgh"; *name; name++) {
        char one[512];
        snprintf(one, sizeof one, "hosts: [{name: h}]\npolicy: {auto: 20000-20010}\n"
                 "services: [{name: %c, hosts: h, port: auto, exposure: loopback}]\n", *name);
        uint16_t port = auto_port_of(one, (char[]){ *name, 0 }, 0, &eph);
        assert_in_range(port, 20006, 20010);
    }

    /* wrap around at the end of the range, then run out */
    check_text(&c, "hosts: [{name: h}]\npolicy: {auto: 20000-20001}\n"
               "services:\n"
               "  - {name: a, hosts: h, port: auto, exposure: loopback}\n"
               "  - {name: b, hosts: h, port: auto, exposure: loopback}\n"
               "  - {name: c, hosts: h, port: auto, exposure: loopback}\n", NULL);
    assert_int_equal(c.plan.services[0].ports[0].port + c.plan.services[1].ports[0].port,
                     20000 + 20001);
    assert_int_equal(c.plan.services[2].ports[0].port, 0);
    assert_int_equal(count_code(&c.diag, "auto-exhausted"), 1);
    assert_string_equal(find_code(&c.diag, "auto-exhausted")->field, "services[2].port");
    release(&c);
}

/* ---- write-back ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(65536);
    assert_non_null(buf);
    *len = fread(buf, 1, 65535, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void spill(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static void test_write_back_preserves_and_is_idempotent(void **state)
{
    (void)state;
    const char *dir = getenv("PORTREG_FIXTURES");
    if (!dir)
        fail_msg("PORTREG_FIXTURES is not set");
    char fixture[1024], tmpdir[] = "/tmp/test_plan_check.XXXXXX", path[1100];
    snprintf(fixture, sizeof fixture, "%s/plan/resolve.yaml", dir);
    assert_non_null(mkdtemp(tmpdir));
    snprintf(path, sizeof path, "%s/plan.yaml", tmpdir);
    size_t original_len;
    char *original = slurp(fixture, &original_len);
    spill(path, original);

    struct checked c;
    plan_init(&c.plan);
    plan_diagnostics_init(&c.diag);
    const char *paths[] = { path };
    assert_int_equal(plan_load_files(&c.plan, paths, 1, &c.diag, NULL), 0);
    assert_int_equal(plan_check(&c.plan, NULL, &c.diag, NULL), 0);
    uint16_t alpha = service_named(&c.plan, "alpha")->ports[0].port;
    uint16_t beta_udp = service_named(&c.plan, "beta")->ports[0].port;
    uint16_t beta_tcp = service_named(&c.plan, "beta")->ports[1].port;
    assert_true(alpha && beta_udp && beta_tcp);
    size_t files = 9, ports = 9;
    assert_int_equal(plan_write_resolved(&c.plan, &files, &ports, NULL), 0);
    assert_int_equal(files, 1);
    assert_int_equal(ports, 3);
    release(&c);

    /* the exact expected text: only the auto tokens changed */
    char expected[4096], line[64];
    size_t len;
    char *written = slurp(path, &len);
    snprintf(expected, sizeof expected, "%s", original);
    const char *from[] = { "port: auto          # keep this comment", "[auto/udp, \"auto\", " };
    char to[2][128];
    snprintf(to[0], sizeof to[0], "port: %u          # keep this comment", (unsigned)alpha);
    snprintf(to[1], sizeof to[1], "[%u/udp, \"%u\", ", (unsigned)beta_udp, (unsigned)beta_tcp);
    for (size_t i = 0; i < 2; i++) {
        char *at = strstr(expected, from[i]);
        assert_non_null(at);
        char tail[4096];
        snprintf(tail, sizeof tail, "%s", at + strlen(from[i]));
        snprintf(at, sizeof expected - (size_t)(at - expected), "%s%s", to[i], tail);
    }
    assert_string_equal(written, expected);
    (void)line;

    /* parse again: the same ports, now static; nothing left to resolve or write */
    plan_init(&c.plan);
    plan_diagnostics_init(&c.diag);
    assert_int_equal(plan_load_files(&c.plan, paths, 1, &c.diag, NULL), 0);
    assert_int_equal(plan_check(&c.plan, NULL, &c.diag, NULL), 0);
    assert_int_equal(count_code(&c.diag, "auto-port"), 0);
    const struct plan_service *beta = service_named(&c.plan, "beta");
    assert_false(beta->ports[0].automatic);
    assert_int_equal(service_named(&c.plan, "alpha")->ports[0].port, alpha);
    assert_int_equal(beta->ports[0].port, beta_udp);
    assert_int_equal(beta->ports[0].proto, REGISTRY_PROTO_UDP);
    assert_int_equal(beta->ports[1].port, beta_tcp);
    assert_int_equal(plan_write_resolved(&c.plan, &files, &ports, NULL), 0);
    assert_int_equal(files, 0);
    assert_int_equal(ports, 0);
    release(&c);
    char *again = slurp(path, &len);
    assert_string_equal(again, written);

    /* the file changed between reading and writing: nothing is written */
    spill(path, original);
    plan_init(&c.plan);
    plan_diagnostics_init(&c.diag);
    assert_int_equal(plan_load_files(&c.plan, paths, 1, &c.diag, NULL), 0);
    assert_int_equal(plan_check(&c.plan, NULL, &c.diag, NULL), 0);
    spill(path, "# rewritten by someone else\nhosts: []\n");
    struct pr_error err = { 0 };
    assert_int_equal(plan_write_resolved(&c.plan, &files, &ports, &err), -ESTALE);
    assert_int_equal(err.line, 10);
    release(&c);
    char *after = slurp(path, &len);
    assert_string_equal(after, "# rewritten by someone else\nhosts: []\n");

    free(original);
    free(written);
    free(again);
    free(after);
    unlink(path);
    rmdir(tmpdir);
}

static void test_render_buffer(void **state)
{
    (void)state;
    const char *text = "hosts: [{name: h}]\n"
                       "services: [{name: s, hosts: h, ports: [auto/udp, 7000/tcp], "
                       "exposure: loopback}]  # end\n";
    struct checked c;
    check_text(&c, text, NULL);
    uint16_t port = c.plan.services[0].ports[0].port;
    char *out = NULL;
    size_t out_len = 0, replaced = 0;
    assert_int_equal(plan_render_resolved(&c.plan, "t.yaml", text, strlen(text), &out, &out_len,
                                          &replaced, NULL), 0);
    assert_int_equal(replaced, 1);
    char want[512];
    snprintf(want, sizeof want, "hosts: [{name: h}]\n"
             "services: [{name: s, hosts: h, ports: [%u/udp, 7000/tcp], exposure: loopback}]  "
             "# end\n", (unsigned)port);
    assert_string_equal(out, want);
    assert_int_equal(out_len, strlen(want));
    free(out);
    /* another file's text is left alone */
    assert_int_equal(plan_render_resolved(&c.plan, "other.yaml", text, strlen(text), &out,
                                          &out_len, &replaced, NULL), 0);
    assert_int_equal(replaced, 0);
    assert_string_equal(out, text);
    free(out);
    release(&c);
}

/* ---- the indexed checker against the old pairwise one on random plans ---- */

static uint32_t random_next(uint32_t *state)
{
    /* xorshift32: a fixed, reproducible sequence per seed */
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static size_t random_iana(void *user, uint16_t port, uint8_t proto, const char **names, size_t max)
{
    (void)user;
    static const char *const known[] = { "alpha", "beta", "gamma" };
    if (max == 0 || port % 5 != 0)
        return 0;
    names[0] = port % 25 == 0 ? "(reserved)" : known[(port + proto) % 3];
    return 1;
}

struct text_buffer {
    char *text;
    size_t used, size;
};

__attribute__((format(printf, 2, 3)))
static void text_append(struct text_buffer *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int w = vsnprintf(b->text + b->used, b->size - b->used, fmt, ap);
        va_end(ap);
        assert_true(w >= 0);
        if ((size_t)w < b->size - b->used) {
            b->used += (size_t)w;
            return;
        }
        b->size = b->size * 2 + (size_t)w;
        b->text = realloc(b->text, b->size);
        assert_non_null(b->text);
    }
}

/* Two files: hosts (few, in groups, some with their own ephemeral range and reserved ports,
 * a duplicate name) and services crowded onto few ports, with every kind of bind. */
static void random_plan(uint32_t seed, struct text_buffer *hosts, struct text_buffer *services)
{
    uint32_t st = seed * 2654435761u + 1u;
    unsigned host_count = 2 + random_next(&st) % 7, service_count = 5 + random_next(&st) % 40;
    text_append(hosts, "policy:\n  static: 1024-9999\n  auto: %u-%u\n  exclude: [5000-5003]\n"
                "  allow_iana_assigned: %s\nhosts:\n", 5000u, 5000u + random_next(&st) % 40,
                random_next(&st) % 3 ? "false" : "true");
    for (unsigned h = 0; h < host_count; h++) {
        text_append(hosts, "  - name: h%u\n    addresses: {internal: 10.0.0.%u", h, h % 4 + 1);
        if (random_next(&st) % 2)
            text_append(hosts, ", public: 203.0.113.%u", h + 1);
        text_append(hosts, "}\n    groups: [g%u%s]\n", h % 3, h % 2 ? ", odd" : "");
        if (random_next(&st) % 3 == 0)
            text_append(hosts, "    ephemeral: 5010-5030\n    reserved: [5012]\n");
    }
    text_append(services, "services:\n");
    static const char *const binds[] = { "any", "loopback", "internal", "10.0.0.1",
                                         "0.0.0.0", "\"::\"", "\"::1\"", "10.0.0.2" };
    static const char *const exposures[] = { "public", "internal", "loopback" };
    for (unsigned s = 0; s < service_count; s++) {
        text_append(services, "  - name: s%u\n", s);
        unsigned kind = random_next(&st) % 4;
        if (kind == 0)
            text_append(services, "    hosts: [g%u]\n", random_next(&st) % 3);
        else if (kind == 1)
            text_append(services, "    hosts: [odd, h%u]\n", random_next(&st) % host_count);
        else
            text_append(services, "    hosts: [h%u]\n", random_next(&st) % host_count);
        unsigned ports = 1 + random_next(&st) % 3;
        text_append(services, "    ports: [");
        for (unsigned p = 0; p < ports; p++) {
            if (random_next(&st) % 6 == 0)
                text_append(services, "%sauto%s", p ? ", " : "", random_next(&st) % 2 ? "/udp" : "");
            else
                text_append(services, "%s%u/%s", p ? ", " : "", 4995 + random_next(&st) % 40,
                            random_next(&st) % 4 ? "tcp" : "udp");
        }
        text_append(services, "]\n    bind: %s\n    exposure: %s\n", binds[random_next(&st) % 8],
                    exposures[random_next(&st) % 3]);
        if (random_next(&st) % 2)
            text_append(services, "    sources: [10.0.0.0/8]\n");
        if (random_next(&st) % 4 == 0)
            text_append(services, "    iana: %s\n", random_next(&st) % 2 ? "alpha" : "beta");
    }
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void test_matches_pairwise_reference_on_random_plans(void **state)
{
    (void)state;
    struct local_ports local = { .ephemeral = { 5020, 5040 }, .have_ephemeral = true };
    struct plan_check_context ctx = { .iana_lookup = random_iana, .local = &local };
    size_t checked = 0, findings = 0;
    for (uint32_t seed = 1; seed <= 400; seed++) {
        struct text_buffer hosts = { 0 }, services = { 0 };
        hosts.text = malloc(hosts.size = 256);
        services.text = malloc(services.size = 256);
        assert_true(hosts.text && services.text);
        random_plan(seed, &hosts, &services);
        struct plan plans[2];
        struct plan_diagnostics diags[2];
        bool loaded = true;
        for (int k = 0; k < 2; k++) {
            plan_init(&plans[k]);
            plan_diagnostics_init(&diags[k]);
            int a = plan_parse_buffer(&plans[k], "hosts.yaml", hosts.text, hosts.used, &diags[k],
                                      NULL);
            int b = plan_parse_buffer(&plans[k], "services.yaml", services.text, services.used,
                                      &diags[k], NULL);
            int c = plan_load_finish(&plans[k], &diags[k], NULL);
            loaded = loaded && a == 0 && b == 0 && c == 0;
        }
        if (loaded) {
            assert_int_equal(plan_check(&plans[0], &ctx, &diags[0], NULL), 0);
            assert_int_equal(plan_check_reference(&plans[1], &ctx, &diags[1], NULL), 0);
            checked++;
        }
        if (diags[0].count != diags[1].count) {
            print_diagnostics(&diags[0]);
            print_message("# reference:\n");
            print_diagnostics(&diags[1]);
            fail_msg("seed %u: %zu findings, the pairwise reference %zu", seed, diags[0].count,
                     diags[1].count);
        }
        for (size_t i = 0; i < diags[0].count; i++) {
            const struct plan_diagnostic *x = &diags[0].items[i], *y = &diags[1].items[i];
            if (x->severity != y->severity || strcmp(x->code, y->code) != 0 ||
                !same_text(x->pos.file, y->pos.file) || x->pos.line != y->pos.line ||
                x->pos.column != y->pos.column || !same_text(x->field, y->field) ||
                strcmp(x->message, y->message) != 0 || !same_text(x->fix, y->fix) ||
                !same_text(x->related.file, y->related.file) ||
                x->related.line != y->related.line)
                fail_msg("seed %u, finding %zu: [%s] %s\nreference: [%s] %s", seed, i, x->code,
                         x->message, y->code, y->message);
        }
        findings += diags[0].count;
        for (size_t s = 0; loaded && s < plans[0].service_count; s++)
            for (size_t p = 0; p < plans[0].services[s].port_count; p++)
                assert_int_equal(plans[0].services[s].ports[p].port,
                                 plans[1].services[s].ports[p].port);
        for (int k = 0; k < 2; k++) {
            plan_diagnostics_free(&diags[k]);
            plan_free(&plans[k]);
        }
        free(hosts.text);
        free(services.text);
    }
    print_message("# %zu random plans checked, %zu findings compared\n", checked, findings);
    assert_true(checked >= 300);
    assert_true(findings > checked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind_conflict_rules),
        cmocka_unit_test(test_bind_conflict_names_both),
        cmocka_unit_test(test_policy_ranges),
        cmocka_unit_test(test_iana_assigned),
        cmocka_unit_test_setup_teardown(test_iana_lookup_registry, index_fixture_setup,
                                        index_fixture_teardown),
        cmocka_unit_test(test_ephemeral_range),
        cmocka_unit_test(test_host_is_local),
        cmocka_unit_test(test_privileged_ports),
        cmocka_unit_test(test_exposure_contradictions),
        cmocka_unit_test(test_auto_deterministic_and_follows_name),
        cmocka_unit_test(test_auto_skips_used_excluded_assigned_ephemeral),
        cmocka_unit_test(test_write_back_preserves_and_is_idempotent),
        cmocka_unit_test(test_render_buffer),
        cmocka_unit_test(test_matches_pairwise_reference_on_random_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
