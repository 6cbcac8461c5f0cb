/* test_plan_yaml.c — the port plan loader: examples/plan.yaml becomes the expected model with
 * positions; every broken fixture in tests/fixtures/plan/ gives exactly its errors, each with
 * line:column and field path; several files merge, and duplicates across files name both. */
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

#include "plan/plan.h"
#include "plan/plan_yaml.h"
#include "registry/record.h"

static const char *fixture_path(const char *name)
{
    static char paths[8][1024];
    static unsigned next;
    const char *dir = getenv("PORTREG_FIXTURES");
    if (!dir)
        fail_msg("PORTREG_FIXTURES is not set");
    char *path = paths[next++ % 8];
    snprintf(path, sizeof paths[0], "%s/plan/%s", dir, name);
    return path;
}

static const char *example_path(void)
{
    static char path[1024];
    const char *dir = getenv("PORTREG_FIXTURES");
    if (!dir)
        fail_msg("PORTREG_FIXTURES is not set");
    snprintf(path, sizeof path, "%s/../../examples/plan.yaml", dir);
    return path;
}

struct loaded {
    struct plan plan;
    struct plan_diagnostics diag;
    struct pr_error err;
    int r;
};

static void load_paths(struct loaded *l, const char *const *paths, size_t count)
{
    plan_init(&l->plan);
    plan_diagnostics_init(&l->diag);
    pr_error_clear(&l->err);
    l->r = plan_load_files(&l->plan, paths, count, &l->diag, &l->err);
}

static void load_text(struct loaded *l, const char *text)
{
    plan_init(&l->plan);
    plan_diagnostics_init(&l->diag);
    pr_error_clear(&l->err);
    l->r = plan_load_buffer(&l->plan, "inline.yaml", text, strlen(text), &l->diag, &l->err);
}

static void unload(struct loaded *l)
{
    plan_diagnostics_free(&l->diag);
    plan_free(&l->plan);
}

static void print_diagnostics(const struct plan_diagnostics *diag)
{
    for (size_t i = 0; i < diag->count; i++) {
        char buf[2048];
        print_message("# %s\n", plan_diagnostic_format(&diag->items[i], buf, sizeof buf));
    }
}

/* The diagnostic at file:line:column with that field whose message contains text. */
static const struct plan_diagnostic *find_diag(const struct plan_diagnostics *diag,
                                               const char *file_suffix, unsigned line,
                                               unsigned column, const char *field,
                                               const char *text)
{
    for (size_t i = 0; i < diag->count; i++) {
        const struct plan_diagnostic *d = &diag->items[i];
        size_t fl = d->pos.file ? strlen(d->pos.file) : 0, sl = strlen(file_suffix);
        if (fl < sl || strcmp(d->pos.file + fl - sl, file_suffix) != 0)
            continue;
        if (d->pos.line == line && d->pos.column == column && strcmp(d->field, field) == 0 &&
            strstr(d->message, text))
            return d;
    }
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

static void assert_address(uint8_t family, const uint8_t *bytes, const char *text)
{
    uint8_t want[16] = { 0 };
    int af = strchr(text, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(af, text, want), 1);
    assert_int_equal(family, af);
    assert_memory_equal(bytes, want, af == AF_INET ? 4 : 16);
}

static void test_example_plan_model(void **state)
{
    (void)state;
    struct loaded l;
    const char *path = example_path();
    load_paths(&l, &path, 1);
    print_diagnostics(&l.diag);
    assert_int_equal(l.r, 0);
    assert_int_equal(l.diag.count, 0);
    const struct plan *plan = &l.plan;

    assert_true(plan->has_policy);
    assert_int_equal(plan->policy.static_range.first, 1024);
    assert_int_equal(plan->policy.static_range.last, 29999);
    assert_int_equal(plan->policy.auto_range.first, 20000);
    assert_int_equal(plan->policy.auto_range.last, 29999);
    assert_int_equal(plan->policy.excluded_count, 1);
    assert_int_equal(plan->policy.excluded[0].first, 30000);
    assert_int_equal(plan->policy.excluded[0].last, 32767);
    assert_false(plan->policy.allow_iana_assigned);
    assert_int_equal(plan->policy.pos.line, 10);
    assert_int_equal(plan->policy.pos.column, 1);

    assert_int_equal(plan->network_count, 2);
    assert_string_equal(plan->networks[0].name, "office");
    assert_int_equal(plan->networks[0].cidr_count, 2);
    assert_address(plan->networks[0].cidrs[1].family, plan->networks[0].cidrs[1].bytes, "fd00:1::");
    assert_int_equal(plan->networks[0].cidrs[1].prefix, 64);
    assert_int_equal(plan->networks[1].cidrs[0].prefix, 24);

    assert_int_equal(plan->host_count, 3);
    const struct plan_host *web2 = plan_find_host(plan, "web2");
    assert_non_null(web2);
    assert_int_equal(web2->address_count, 3);
    assert_string_equal(web2->addresses[0].name, "public");
    assert_address(web2->addresses[0].family, web2->addresses[0].bytes, "203.0.113.11");
    assert_string_equal(web2->addresses[1].name, "public");
    assert_address(web2->addresses[1].family, web2->addresses[1].bytes, "2001:db8::11");
    assert_string_equal(web2->addresses[2].name, "internal");
    assert_int_equal(web2->group_count, 1);
    assert_string_equal(web2->groups[0], "web");
    assert_int_equal(web2->pos.line, 27);
    assert_int_equal(web2->pos.column, 5);
    const struct plan_host *db1 = plan_find_host(plan, "db1");
    assert_true(db1->has_ephemeral);
    assert_int_equal(db1->ephemeral_first, 32768);
    assert_int_equal(db1->ephemeral_last, 60999);
    assert_true(plan_is_group(plan, "db"));

    assert_int_equal(plan->service_count, 5);
    const struct plan_service *nginx = service_named(plan, "nginx");
    assert_int_equal(nginx->port_count, 2);
    assert_int_equal(nginx->ports[0].port, 80);
    assert_int_equal(nginx->ports[0].proto, REGISTRY_PROTO_TCP);
    assert_int_equal(nginx->ports[1].port, 443);
    assert_int_equal(nginx->ports[1].pos.line, 43);
    assert_int_equal(nginx->ports[1].pos.column, 21);
    assert_int_equal(nginx->bind.kind, PLAN_BIND_ANY);
    assert_true(nginx->bind_given);
    assert_int_equal(nginx->exposure, PLAN_EXPOSURE_PUBLIC);
    assert_int_equal(nginx->source_count, 1);
    assert_int_equal(nginx->sources[0].kind, PLAN_SOURCE_ANY);
    assert_string_equal(nginx->owner, "web-team");
    assert_string_equal(nginx->notes, "TLS terminates here");
    assert_string_equal(nginx->iana, "http");
    assert_int_equal(nginx->iana_count, 2);
    assert_string_equal(nginx->iana_names[1], "https");
    assert_true(plan_service_on_host(plan, nginx, web2));
    assert_false(plan_service_on_host(plan, nginx, db1));

    const struct plan_service *app = service_named(plan, "app");
    assert_int_equal(app->port_count, 1);
    assert_true(app->port_singular);
    assert_true(app->ports[0].automatic);
    assert_int_equal(app->ports[0].port, 0);
    assert_int_equal(app->bind.kind, PLAN_BIND_LOOPBACK);   /* defaulted from the exposure */
    assert_false(app->bind_given);
    assert_int_equal(app->source_count, 0);
    /* the recorded offset is exactly the "auto" of the file */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char text[16] = { 0 };
    assert_int_equal(fseek(f, (long)app->ports[0].auto_offset, SEEK_SET), 0);
    assert_int_equal(fread(text, 1, 4, f), 4);
    fclose(f);
    assert_string_equal(text, "auto");
    assert_int_equal(app->ports[0].auto_length, 4);

    const struct plan_service *pg = service_named(plan, "postgres");
    assert_int_equal(pg->bind.kind, PLAN_BIND_NAMED);
    assert_string_equal(pg->bind.name, "internal");
    assert_int_equal(pg->source_count, 2);
    assert_int_equal(pg->sources[0].kind, PLAN_SOURCE_HOST);      /* group web */
    assert_int_equal(pg->sources[1].kind, PLAN_SOURCE_NETWORK);   /* office */
    assert_int_equal(pg->ports[0].port, 5432);
    assert_true(pg->ports[0].proto_written);
    unload(&l);
}

struct expected_diag {
    unsigned line, column;
    const char *field, *text;
};

/* Exactly these errors (no more), each at its place. */
static void expect_errors(const char *fixture, const struct expected_diag *want, size_t count)
{
    struct loaded l;
    const char *path = fixture_path(fixture);
    load_paths(&l, &path, 1);
    print_diagnostics(&l.diag);
    assert_int_equal(l.r, -EINVAL);
    for (size_t i = 0; i < count; i++) {
        if (!find_diag(&l.diag, fixture, want[i].line, want[i].column, want[i].field,
                       want[i].text))
            fail_msg("%s: no error %u:%u %s \"%s\"", fixture, want[i].line, want[i].column,
                     want[i].field, want[i].text);
    }
    assert_int_equal(l.diag.errors, count);
    unload(&l);
}

static void test_wrong_types(void **state)
{
    (void)state;
    static const struct expected_diag want[] = {
        { 9, 12, "services[0].ports", "expected a list such as [80/tcp, 443/tcp], got \"yes\"" },
        { 13, 11, "services[1].port", "`port` takes one PORT/PROTO" },
        { 16, 12, "services[2].hosts", "got a mapping" },
        { 18, 15, "services[2].exposure", "expected public, internal or loopback, got a list" },
        { 20, 24, "policy.allow_iana_assigned", "expected true or false, got \"yes\"" },
    };
    expect_errors("bad_types.yaml", want, sizeof want / sizeof *want);
}

static void test_bad_ports(void **state)
{
    (void)state;
    static const struct expected_diag want[] = {
        { 6, 13, "services[0].ports[0]", "port 70000 is out of range 1-65535" },
        { 6, 24, "services[0].ports[1]", "port 0 is out of range 1-65535" },
        { 6, 30, "services[0].ports[2]", "unknown protocol \"icmp\" (tcp or udp)" },
        { 6, 36, "services[0].ports[3]", "got \"http\"" },
        { 6, 42, "services[0].ports[4]", "port ranges are not allowed" },
        { 6, 69, "services[0].ports[6]", "missing protocol after '/'" },
        { 9, 11, "policy.static", "range 2000-1000 is backwards" },
        { 10, 26, "policy.exclude[1]", "port 99999 is out of range" },
    };
    expect_errors("bad_ports.yaml", want, sizeof want / sizeof *want);
}

/* A port is decimal: 0x50 is not "port 0"; a long number is echoed whole, not cut at 12. */
static void test_bad_port_numbers(void **state)
{
    (void)state;
    static const struct expected_diag want[] = {
        { 6, 13, "services[0].ports[0]", "port \"0x50\" is not a decimal number 1-65535" },
        { 6, 23, "services[0].ports[1]", "port 12345678901234567890123456789 is out of range 1-65535" },
        { 6, 58, "services[0].ports[2]", "port \"8o\" is not a decimal number 1-65535" },
        { 9, 11, "policy.static", "port \"0x400\" is not a decimal number 1-65535" },
    };
    expect_errors("bad_port_numbers.yaml", want, sizeof want / sizeof *want);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    static const struct expected_diag want[] = {
        { 3, 3, "policy.alow_iana_assigned", "(did you mean \"allow_iana_assigned\"?)" },
        { 6, 5, "hosts[0].adresses", "(did you mean \"addresses\"?)" },
        { 10, 5, "services[0].prots", "(did you mean \"ports\"?)" },
        { 12, 5, "services[0].colour", "unknown key \"colour\"" },
        { 13, 1, "service", "(did you mean \"services\"?)" },
        { 8, 5, "services[0].ports", "a service needs `ports:" },
    };
    expect_errors("unknown_keys.yaml", want, sizeof want / sizeof *want);
    /* no suggestion when nothing is close */
    struct loaded l;
    const char *path = fixture_path("unknown_keys.yaml");
    load_paths(&l, &path, 1);
    const struct plan_diagnostic *d = find_diag(&l.diag, "unknown_keys.yaml", 12, 5,
                                                "services[0].colour", "colour");
    assert_non_null(d);
    assert_null(strstr(d->message, "did you mean"));
    assert_string_equal(d->code, "unknown-key");
    unload(&l);
}

static void test_bad_cidrs_and_addresses(void **state)
{
    (void)state;
    static const struct expected_diag want[] = {
        { 2, 12, "networks.office[0]", "has host bits set (did you mean 10.1.0.0/16?)" },
        { 2, 25, "networks.office[1]", "\"300.1.1.1/8\" is not a CIDR" },
        { 3, 16, "networks.lab", "prefix length must be 0-128" },
        { 5, 4, "networks.bad name", "invalid name \"bad name\"" },
        { 8, 25, "hosts[0].addresses.public", "\"203.0.113.300\" is not an IPv4 or IPv6 address" },
        { 8, 51, "hosts[0].addresses.internal", "without brackets" },
        { 8, 63, "hosts[0].addresses.any", "reserved for `bind:`" },
        { 10, 18, "hosts[1].addresses.10", "digits and dots alone" },
    };
    expect_errors("bad_cidr.yaml", want, sizeof want / sizeof *want);
}

/* Single-quoted scalars are decoded by plan_yaml (util/fyaml_scalar.c), not libfyaml 0.7.12,
 * which read 'a''''b' as a''' and leaked on five escaped quotes in a row (fuzz_plan_yaml);
 * one over several lines with two in a row is refused, with its place. */
static void test_single_quoted_escapes(void **state)
{
    (void)state;
    static const char head[] = "hosts:\n  - name: h1\nservices:\n  - name: s\n    hosts: h1\n    port: 8080\n"
                               "    exposure: internal\n";
    char text[512];
    snprintf(text, sizeof text, "%s    owner: 'a''''b'\n    notes: ''''''''''''\n    'iana': 'ssh'\n", head);
    struct loaded l;
    load_text(&l, text);
    print_diagnostics(&l.diag);
    assert_int_equal(l.r, 0);
    const struct plan_service *s = service_named(&l.plan, "s");
    assert_string_equal(s->owner, "a''b");
    assert_string_equal(s->notes, "'''''");
    assert_string_equal(s->iana, "ssh");
    unload(&l);
    snprintf(text, sizeof text, "%s    owner: 'a\n      b''''c'\n", head);
    load_text(&l, text);
    assert_int_equal(l.r, -EINVAL);
    const struct plan_diagnostic *d = find_diag(&l.diag, "inline.yaml", 8, 13, "", "two escaped quotes");
    if (!d)
        print_diagnostics(&l.diag);
    assert_non_null(d);
    assert_string_equal(d->code, "yaml-quotes");
    unload(&l);
    /* over several lines without such a run: libfyaml's folding */
    snprintf(text, sizeof text, "%s    owner: 'a\n      b''c'\n", head);
    load_text(&l, text);
    assert_int_equal(l.r, 0);
    assert_string_equal(service_named(&l.plan, "s")->owner, "a b'c");
    unload(&l);
}

static void test_bad_references(void **state)
{
    (void)state;
    static const struct expected_diag want[] = {
        { 12, 13, "services[0].hosts[0]", "no host or group is named \"webb\" (did you mean" },
        { 15, 15, "services[0].sources[0]",
          "no network, host or group is named \"ofice\" (did you mean \"office\"?)" },
        { 19, 11, "services[1].bind", "bind \"internal\": host web2 has no address named" },
    };
    expect_errors("bad_refs.yaml", want, sizeof want / sizeof *want);
    /* the sources that do resolve got their kind */
    struct loaded l;
    const char *path = fixture_path("bad_refs.yaml");
    load_paths(&l, &path, 1);
    const struct plan_service *api = service_named(&l.plan, "api");
    assert_int_equal(api->source_count, 3);
    assert_int_equal(api->sources[1].kind, PLAN_SOURCE_HOST);
    assert_int_equal(api->sources[2].kind, PLAN_SOURCE_CIDR);
    assert_int_equal(api->sources[2].cidr.prefix, 16);
    unload(&l);
}

static void test_bad_values(void **state)
{
    (void)state;
    static const struct expected_diag want[] = {
        { 7, 15, "services[0].exposure", "unknown exposure \"publc\"" },
        { 8, 11, "services[0].bind", "(did you mean \"loopback\"?)" },
        { 9, 5, "services[1].name", "a service needs a name" },
        { 12, 12, "services[2].name", "invalid name \"bad name\"" },
        { 16, 5, "services[2].port", "key \"port\" appears twice (first at line 14, column 5)" },
    };
    expect_errors("bad_values.yaml", want, sizeof want / sizeof *want);
}

static void test_yaml_syntax_alias_and_documents(void **state)
{
    (void)state;
    static const struct expected_diag syntax[] = {
        { 5, 1, "", "flow sequence without a closing bracket" },
    };
    expect_errors("syntax.yaml", syntax, 1);
    static const struct expected_diag alias[] = {
        { 3, 9, "", "YAML aliases are not supported" },
    };
    expect_errors("alias.yaml", alias, 1);

    struct loaded l;
    load_text(&l, "hosts: []\n---\nservices: []\n");
    assert_int_equal(l.r, -EINVAL);
    assert_non_null(find_diag(&l.diag, "inline.yaml", 2, 1, "", "one YAML document"));
    unload(&l);
}

/* Found by fuzz_plan_yaml: libfyaml 0.7.12 loops forever on "%\xfe"; a header-looking
 * "error: " inside the echoed source line must not become the message. */
static void test_not_utf8_and_fuzz_regressions(void **state)
{
    (void)state;
    struct loaded l;
    plan_init(&l.plan);
    plan_diagnostics_init(&l.diag);
    const char bad[] = "hosts: []\n  # caf\xc3\xa9 \xfe\n";
    assert_int_equal(plan_load_buffer(&l.plan, "inline.yaml", bad, sizeof bad - 1, &l.diag, NULL),
                     -EINVAL);
    assert_non_null(find_diag(&l.diag, "inline.yaml", 2, 10, "", "not UTF-8 text (byte 0xfe)"));
    unload(&l);

    plan_init(&l.plan);
    plan_diagnostics_init(&l.diag);
    assert_int_equal(plan_load_buffer(&l.plan, "inline.yaml", "%\xfe", 2, &l.diag, NULL), -EINVAL);
    assert_int_equal(l.diag.errors, 1);
    unload(&l);

    plan_init(&l.plan);
    plan_diagnostics_init(&l.diag);
    const char nul[] = "hosts: [\0]\n";
    assert_int_equal(plan_load_buffer(&l.plan, "inline.yaml", nul, sizeof nul - 1, &l.diag, NULL),
                     -EINVAL);
    assert_non_null(find_diag(&l.diag, "inline.yaml", 1, 9, "", "NUL byte"));
    unload(&l);

    load_text(&l, "policy:  pob]\n%   p2#21: error: \npct/ue: pce}\n");
    assert_int_equal(l.r, -EINVAL);
    assert_true(l.diag.errors >= 1);
    for (size_t i = 0; i < l.diag.count; i++)
        assert_true(l.diag.items[i].message[0] != '\0');
    unload(&l);
}

static void test_empty_and_comment_only(void **state)
{
    (void)state;
    const char *texts[] = { "", "# nothing yet\n", "---\n", "hosts:\nservices:\n" };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        struct loaded l;
        load_text(&l, texts[i]);
        assert_int_equal(l.r, 0);
        assert_int_equal(l.diag.count, 0);
        assert_int_equal(l.plan.service_count, 0);
        assert_false(l.plan.has_policy);
        assert_int_equal(l.plan.policy.static_range.first, 1024);   /* defaults */
        assert_int_equal(l.plan.policy.static_range.last, 49151);
        unload(&l);
    }
    struct loaded l;
    load_text(&l, "[1, 2]\n");
    assert_int_equal(l.r, -EINVAL);
    assert_non_null(find_diag(&l.diag, "inline.yaml", 1, 1, "", "a plan is a mapping"));
    unload(&l);
}

static void test_defaults_of_bind_and_sources(void **state)
{
    (void)state;
    struct loaded l;
    load_text(&l, "hosts: [{name: h}]\n"
                  "services:\n"
                  "  - {name: pub, hosts: h, port: 8080, exposure: public}\n"
                  "  - {name: int, hosts: h, port: 8081/udp, exposure: internal}\n"
                  "  - {name: lo, hosts: h, port: 8082, exposure: loopback, sources: [10.0.0.0/8]}\n"
                  "policy: {static: 8000-9000}\n");
    print_diagnostics(&l.diag);
    assert_int_equal(l.r, 0);
    const struct plan_service *pub = service_named(&l.plan, "pub");
    assert_int_equal(pub->source_count, 1);        /* public without sources: any */
    assert_int_equal(pub->sources[0].kind, PLAN_SOURCE_ANY);
    assert_false(pub->sources_given);
    assert_int_equal(pub->bind.kind, PLAN_BIND_ANY);
    assert_int_equal(pub->ports[0].proto, REGISTRY_PROTO_TCP);   /* tcp by default */
    assert_false(pub->ports[0].proto_written);
    const struct plan_service *in = service_named(&l.plan, "int");
    assert_int_equal(in->source_count, 0);         /* internal without sources: nobody */
    assert_int_equal(in->ports[0].proto, REGISTRY_PROTO_UDP);
    const struct plan_service *lo = service_named(&l.plan, "lo");
    assert_int_equal(lo->bind.kind, PLAN_BIND_LOOPBACK);
    /* auto range follows a given static range */
    assert_int_equal(l.plan.policy.auto_range.first, 8000);
    assert_int_equal(l.plan.policy.auto_range.last, 9000);
    /* sources on a loopback service: a warning, not an error */
    assert_int_equal(l.diag.errors, 0);
    assert_int_equal(l.diag.warnings, 1);
    assert_non_null(find_diag(&l.diag, "inline.yaml", 5, 67, "services[2].sources",
                              "no effect on a loopback service"));
    unload(&l);
}

static void test_multiple_files_merge(void **state)
{
    (void)state;
    struct loaded l;
    const char *paths[] = { fixture_path("multi_hosts.yaml"), fixture_path("multi_services.yaml") };
    load_paths(&l, paths, 2);
    print_diagnostics(&l.diag);
    assert_int_equal(l.r, 0);
    assert_int_equal(l.diag.count, 0);
    assert_int_equal(l.plan.file_count, 2);
    assert_int_equal(l.plan.host_count, 1);
    assert_int_equal(l.plan.service_count, 2);
    assert_true(l.plan.has_policy);
    assert_int_equal(l.plan.policy.static_range.last, 29999);
    const struct plan_service *admin = service_named(&l.plan, "admin");
    /* a reference across files: bind name of a host of the other file, network of the other */
    assert_int_equal(admin->bind.kind, PLAN_BIND_NAMED);
    assert_int_equal(admin->sources[0].kind, PLAN_SOURCE_NETWORK);
    assert_ptr_equal(admin->pos.file, l.plan.files[1]);
    assert_ptr_equal(l.plan.hosts[0].pos.file, l.plan.files[0]);
    unload(&l);

    /* the same service file alone: its references are unknown */
    const char *alone = fixture_path("multi_services.yaml");
    load_paths(&l, &alone, 1);
    assert_int_equal(l.r, -EINVAL);
    assert_non_null(find_diag(&l.diag, "multi_services.yaml", 5, 13, "services[0].hosts[0]",
                              "no host or group is named \"web\""));
    unload(&l);

    /* errors of every file are collected, not only the first file's */
    const char *two[] = { fixture_path("bad_ports.yaml"), fixture_path("bad_cidr.yaml") };
    load_paths(&l, two, 2);
    assert_int_equal(l.r, -EINVAL);
    assert_int_equal(l.diag.errors, 8 + 8);
    unload(&l);
}

static void test_duplicates_across_files_name_both(void **state)
{
    (void)state;
    struct loaded l;
    const char *paths[] = { fixture_path("dup_a.yaml"), fixture_path("dup_b.yaml") };
    load_paths(&l, paths, 2);
    print_diagnostics(&l.diag);
    assert_int_equal(l.r, -EINVAL);
    assert_int_equal(l.diag.errors, 4);
    struct {
        unsigned line, column;
        const char *field, *first;
        unsigned rel_line, rel_col;
    } want[] = {
        { 9, 1, "policy", "dup_a.yaml:1:1", 1, 1 },
        { 3, 5, "hosts[1].name", "dup_a.yaml:4:5", 4, 5 },
        { 5, 5, "services[0].name", "dup_a.yaml:8:5", 8, 5 },
        { 12, 3, "networks.office", "dup_a.yaml:6:3", 6, 3 },
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const struct plan_diagnostic *d = find_diag(&l.diag, "dup_b.yaml", want[i].line,
                                                    want[i].column, want[i].field,
                                                    want[i].first);
        if (!d)
            fail_msg("no duplicate error for %s", want[i].field);
        assert_non_null(d->related.file);
        assert_non_null(strstr(d->related.file, "dup_a.yaml"));
        assert_int_equal(d->related.line, want[i].rel_line);
        assert_int_equal(d->related.column, want[i].rel_col);
    }
    /* the first policy stays */
    assert_int_equal(l.plan.policy.static_range.last, 29999);
    unload(&l);
}

static void test_namespace_collisions(void **state)
{
    (void)state;
    struct loaded l;
    load_text(&l, "networks: {web: 10.0.0.0/8, db1: 10.1.0.0/16}\n"
                  "hosts:\n"
                  "  - {name: db1, groups: [web]}\n"
                  "  - {name: cache, groups: [cache]}\n");
    print_diagnostics(&l.diag);
    assert_int_equal(l.r, -EINVAL);
    assert_non_null(find_diag(&l.diag, "inline.yaml", 1, 12, "networks.web", "name of a group"));
    assert_non_null(find_diag(&l.diag, "inline.yaml", 1, 29, "networks.db1", "name of a host"));
    assert_non_null(find_diag(&l.diag, "inline.yaml", 4, 5, "hosts[1].name",
                              "host \"cache\" has the name of a group"));
    assert_int_equal(l.diag.errors, 3);
    unload(&l);
}

static void test_buffers_parse_then_finish(void **state)
{
    (void)state;
    struct plan plan;
    struct plan_diagnostics diag;
    plan_init(&plan);
    plan_diagnostics_init(&diag);
    const char *services = "services: [{name: s, hosts: [h], port: 9000, exposure: public}]\n";
    const char *hosts = "hosts: [{name: h}]\n";
    /* a reference to a host of a later buffer is fine: references wait for finish */
    assert_int_equal(plan_parse_buffer(&plan, "s.yaml", services, strlen(services), &diag, NULL), 0);
    assert_int_equal(plan_parse_buffer(&plan, "h.yaml", hosts, strlen(hosts), &diag, NULL), 0);
    assert_int_equal(plan_load_finish(&plan, &diag, NULL), 0);
    assert_int_equal(diag.count, 0);
    assert_string_equal(plan.services[0].pos.file, "s.yaml");
    plan_diagnostics_free(&diag);
    plan_free(&plan);
}

/* Hosts added between parse and finish (an import's server hosts) resolve references by name
 * and by group; the plan's own hosts get groups added; a name on neither stays unknown-host. */
static void test_added_hosts_resolve_references(void **state)
{
    (void)state;
    struct plan plan;
    struct plan_diagnostics diag;
    plan_init(&plan);
    plan_diagnostics_init(&diag);
    const char *text = "hosts: [{name: mine}]\n"
                       "services:\n"
                       "  - {name: a, hosts: [srv1], port: 9000, bind: internal, exposure: internal}\n"
                       "  - {name: b, hosts: [dbs], port: 9001, exposure: internal}\n"
                       "  - {name: c, hosts: [nowhere], port: 9002, exposure: internal}\n";
    assert_int_equal(plan_parse_buffer(&plan, "p.yaml", text, strlen(text), &diag, NULL), 0);
    struct plan_named_address address = { .name = "internal", .family = AF_INET };
    assert_int_equal(inet_pton(AF_INET, "10.0.0.1", address.bytes), 1);
    const char *groups[] = { "dbs" };
    struct plan_pos pos = { "(server)", 0, 0 };
    assert_int_equal(plan_add_host(&plan, "srv1", &address, 1, groups, 1, &pos), 0);
    assert_int_equal(plan_host_add_group(&plan, &plan.hosts[0], "dbs"), 0);
    assert_int_equal(plan_host_add_group(&plan, &plan.hosts[0], "dbs"), 0);   /* once only */
    assert_int_equal(plan.hosts[0].group_count, 1);
    assert_int_equal(plan_load_finish(&plan, &diag, NULL), -EINVAL);
    assert_int_equal(diag.errors, 1);
    assert_string_equal(diag.items[0].code, "unknown-host");
    assert_int_equal(diag.items[0].pos.line, 5);
    assert_string_equal(plan.hosts[1].name, "srv1");
    assert_string_equal(plan.hosts[1].addresses[0].name, "internal");
    size_t *indices = NULL, count = 0;
    assert_int_equal(plan_service_host_indices(&plan, &plan.services[1], &indices, &count), 0);
    assert_int_equal(count, 2);   /* dbs: mine (added to it) and srv1 */
    free(indices);
    plan_diagnostics_free(&diag);
    plan_free(&plan);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct loaded l;
    const char *path = "/nonexistent/plan.yaml";
    load_paths(&l, &path, 1);
    assert_int_equal(l.r, -ENOENT);
    assert_string_equal(l.err.path, "/nonexistent/plan.yaml");
    unload(&l);
}

static void test_diagnostic_format_and_sort(void **state)
{
    (void)state;
    struct plan_diagnostics diag;
    plan_diagnostics_init(&diag);
    struct plan_pos late = { "b.yaml", 9, 3 }, early = { "b.yaml", 2, 7 }, other = { "a.yaml", 5, 1 };
    assert_int_equal(plan_diagnostics_add(&diag, PLAN_SEVERITY_WARNING, "w", &late,
                                          "services[1].port", NULL, NULL, "late %d", 1), 0);
    assert_int_equal(plan_diagnostics_add(&diag, PLAN_SEVERITY_ERROR, "e", &early, "", &other,
                                          "do this", "early"), 0);
    assert_int_equal(plan_diagnostics_add(&diag, PLAN_SEVERITY_INFO, "i", &other, NULL, NULL,
                                          NULL, "first"), 0);
    assert_int_equal(diag.errors, 1);
    assert_int_equal(diag.warnings, 1);
    assert_int_equal(diag.infos, 1);
    char buf[256];
    assert_string_equal(plan_diagnostic_format(&diag.items[0], buf, sizeof buf),
                        "b.yaml:9:3: warning: services[1].port: late 1");
    assert_string_equal(plan_diagnostic_format(&diag.items[1], buf, sizeof buf),
                        "b.yaml:2:7: error: early");
    assert_string_equal(diag.items[1].fix, "do this");
    plan_diagnostics_sort(&diag);
    assert_string_equal(diag.items[0].message, "first");
    assert_string_equal(diag.items[1].message, "early");
    assert_string_equal(diag.items[2].message, "late 1");
    plan_diagnostics_free(&diag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_plan_model),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_ports),
        cmocka_unit_test(test_bad_port_numbers),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_bad_cidrs_and_addresses),
        cmocka_unit_test(test_single_quoted_escapes),
        cmocka_unit_test(test_bad_references),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_yaml_syntax_alias_and_documents),
        cmocka_unit_test(test_not_utf8_and_fuzz_regressions),
        cmocka_unit_test(test_empty_and_comment_only),
        cmocka_unit_test(test_defaults_of_bind_and_sources),
        cmocka_unit_test(test_multiple_files_merge),
        cmocka_unit_test(test_duplicates_across_files_name_both),
        cmocka_unit_test(test_namespace_collisions),
        cmocka_unit_test(test_buffers_parse_then_finish),
        cmocka_unit_test(test_added_hosts_resolve_references),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_diagnostic_format_and_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
