/* test_plan_export.c — unit tests for plan_export.c: the exact text of each format for a small
 * plan (services(5), IANA CSV, NetBox CSV, JSON), the IANA CSV read back by the project's own
 * IANA parser, the JSON read back by the plan loader, `auto` ports skipped with a warning (and
 * present once plan_check resolved them), and the error for an unknown format. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan_check.h"
#include "plan/plan_export.h"
#include "plan/plan_yaml.h"
#include "registry/iana_csv.h"

static const char plan_text[] =
    "policy:\n"
    "  static: 1024-29999\n"
    "  auto: 20000-29999\n"
    "  exclude: [25000-25099]\n"
    "networks:\n"
    "  office: [10.1.0.0/16]\n"
    "hosts:\n"
    "  - name: web1\n"
    "    addresses: {public: 203.0.113.10, internal: [10.0.0.10, \"fd00::10\"]}\n"
    "    groups: [web]\n"
    "  - name: db1\n"
    "    addresses: {internal: 10.0.0.20}\n"
    "    ephemeral: 32768-60999\n"
    "    reserved: [8080, 9000-9010]\n"
    "services:\n"
    "  - name: nginx\n"
    "    hosts: [web]\n"
    "    ports: [443/tcp, 80/tcp]\n"
    "    exposure: public\n"
    "    owner: web-team\n"
    "    notes: \"TLS terminates here, \\\"edge\\\"\"\n"
    "    iana: [http, https]\n"
    "  - name: postgres\n"
    "    hosts: [db1]\n"
    "    port: 5432\n"
    "    bind: internal\n"
    "    exposure: internal\n"
    "    sources: [office, web]\n"
    "    owner: dba\n"
    "    notes: \"primary\\nreplica in standby\"\n"
    "    iana: postgresql\n"
    "  - name: metrics\n"
    "    hosts: [web1, db1]\n"
    "    ports: [auto, 9100/udp]\n"
    "    bind: loopback\n"
    "    exposure: loopback\n";

struct fixture {
    struct plan plan;
    struct plan_diagnostics diag;      /* the loader's */
    struct plan_diagnostics warnings;  /* the export's */
    char *text;
    size_t len;
};

static void load(struct fixture *f, const char *name, const char *text, size_t len)
{
    struct pr_error err = { 0 };
    plan_init(&f->plan);
    plan_diagnostics_init(&f->diag);
    plan_diagnostics_init(&f->warnings);
    f->text = NULL;
    int rc = plan_load_buffer(&f->plan, name, text, len, &f->diag, &err);
    if (rc != 0 || f->diag.errors)
        for (size_t i = 0; i < f->diag.count; i++) {
            char buf[1024];
            fprintf(stderr, "# %s\n", plan_diagnostic_format(&f->diag.items[i], buf, sizeof buf));
        }
    assert_int_equal(rc, 0);
    assert_int_equal(f->diag.errors, 0);
}

static void export(struct fixture *f, const char *format)
{
    struct pr_error err = { 0 };
    free(f->text);
    f->text = NULL;
    int rc = plan_export(&f->plan, format, &f->text, &f->len, &f->warnings, &err);
    if (rc != 0)
        fprintf(stderr, "# %s\n", err.message);
    assert_int_equal(rc, 0);
    assert_non_null(f->text);
    assert_int_equal(strlen(f->text), f->len);
}

static void fixture_free(struct fixture *f)
{
    free(f->text);
    plan_diagnostics_free(&f->warnings);
    plan_diagnostics_free(&f->diag);
    plan_free(&f->plan);
}

static void load_small(struct fixture *f)
{
    load(f, "plan.yaml", plan_text, sizeof plan_text - 1);
}

/* The one warning every port format gives for metrics' `auto` port. */
static void assert_auto_warning(const struct fixture *f, const char *format)
{
    assert_int_equal(f->warnings.count, 1);
    const struct plan_diagnostic *d = &f->warnings.items[0];
    assert_int_equal(d->severity, PLAN_SEVERITY_WARNING);
    assert_string_equal(d->code, "auto-unresolved");
    assert_string_equal(d->field, "services[2].ports[0]");
    assert_string_equal(d->pos.file, "plan.yaml");
    assert_int_equal(d->pos.line, 34);
    assert_non_null(strstr(d->message, "metrics"));
    assert_non_null(strstr(d->message, format));
}

static void test_services_exact(void **state)
{
    (void)state;
    struct fixture f;
    load_small(&f);
    export(&f, "services");
    assert_string_equal(f.text,
        "# services(5) entries of the port plan plan.yaml\n"
        "# written by portreg plan export; one line per port, sorted by port\n"
        "nginx           80/tcp          # web-team; TLS terminates here, \"edge\"\n"
        "nginx           443/tcp         # web-team; TLS terminates here, \"edge\"\n"
        "postgres        5432/tcp postgresql # dba; primary replica in standby\n"
        "metrics         9100/udp\n");
    assert_auto_warning(&f, "services");
    fixture_free(&f);
}

/* Once plan_check chose the `auto` port it is exported like any other, without a warning. */
static void test_services_after_check_has_auto_port(void **state)
{
    (void)state;
    struct fixture f;
    load_small(&f);
    struct pr_error err = { 0 };
    assert_int_equal(plan_check(&f.plan, NULL, &f.diag, &err), 0);
    uint16_t chosen = f.plan.services[2].ports[0].port;
    assert_true(chosen >= 20000 && chosen <= 29999);
    export(&f, "services");
    char line[64];
    snprintf(line, sizeof line, "\nmetrics         %u/tcp\n", chosen);
    assert_non_null(strstr(f.text, line));
    assert_int_equal(f.warnings.count, 0);
    fixture_free(&f);
}

static void test_iana_csv_exact(void **state)
{
    (void)state;
    struct fixture f;
    load_small(&f);
    export(&f, "iana-csv");
    assert_string_equal(f.text,
        "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,"
        "Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,"
        "Assignment Notes\r\n"
        "nginx,80,tcp,\"TLS terminates here, \"\"edge\"\"\",web-team,,,,,,,"
        "\"hosts: web; bind: any; exposure: public; iana: http, https\"\r\n"
        "nginx,443,tcp,\"TLS terminates here, \"\"edge\"\"\",web-team,,,,,,,"
        "\"hosts: web; bind: any; exposure: public; iana: http, https\"\r\n"
        "postgres,5432,tcp,\"primary\nreplica in standby\",dba,,,,,,,"
        "hosts: db1; bind: internal; exposure: internal; iana: postgresql\r\n"
        "metrics,9100,udp,,,,,,,,,\"hosts: web1, db1; bind: loopback; exposure: loopback\"\r\n");
    assert_auto_warning(&f, "iana-csv");
    fixture_free(&f);
}

/* What IANA's parser (the one `registry update` uses) reads back is what the plan says. */
static void test_iana_csv_round_trip(void **state)
{
    (void)state;
    struct fixture f;
    load_small(&f);
    export(&f, "iana-csv");
    struct registry_records records = { 0 };
    struct pr_error err = { 0 };
    long n = iana_csv_parse(f.text, f.len, &records, &err);
    if (n < 0)
        fprintf(stderr, "# %u:%u: %s\n", err.line, err.column, err.message);
    assert_int_equal(n, 4);
    assert_int_equal(records.count, 4);
    const struct registry_record *r = &records.items[0];
    assert_string_equal(r->service, "nginx");
    assert_true(r->has_port);
    assert_int_equal(r->port_first, 80);
    assert_int_equal(r->port_last, 80);
    assert_int_equal(r->proto, REGISTRY_PROTO_TCP);
    assert_int_equal(r->status, REGISTRY_STATUS_ASSIGNED);
    assert_string_equal(r->description, "TLS terminates here, \"edge\"");
    assert_string_equal(r->assignee, "web-team");
    assert_string_equal(r->assignment_notes,
                        "hosts: web; bind: any; exposure: public; iana: http, https");
    r = &records.items[2];
    assert_string_equal(r->service, "postgres");
    assert_int_equal(r->port_first, 5432);
    assert_string_equal(r->description, "primary\nreplica in standby");
    r = &records.items[3];
    assert_string_equal(r->service, "metrics");
    assert_int_equal(r->port_first, 9100);
    assert_int_equal(r->proto, REGISTRY_PROTO_UDP);
    assert_string_equal(r->description, "");
    registry_records_free(&records);
    fixture_free(&f);
}

static void test_netbox_csv_exact(void **state)
{
    (void)state;
    struct fixture f;
    load_small(&f);
    export(&f, "netbox-csv");
    /* NetBox 4.3+: a service's parent is an object of a type (dcim.device) named by parent */
    assert_string_equal(f.text,
        "parent_object_type,parent,name,protocol,ports,description\r\n"
        "dcim.device,web1,nginx,tcp,\"80,443\",\"web-team; TLS terminates here, \"\"edge\"\"\"\r\n"
        "dcim.device,web1,metrics,udp,9100,\r\n"
        "dcim.device,db1,postgres,tcp,5432,\"dba; primary\nreplica in standby\"\r\n"
        "dcim.device,db1,metrics,udp,9100,\r\n");
    assert_auto_warning(&f, "netbox-csv");
    fixture_free(&f);

    /* up to NetBox 4.2: the device column */
    load_small(&f);
    export(&f, "netbox-csv-pre-4.3");
    assert_string_equal(f.text,
        "device,name,protocol,ports,description\r\n"
        "web1,nginx,tcp,\"80,443\",\"web-team; TLS terminates here, \"\"edge\"\"\"\r\n"
        "web1,metrics,udp,9100,\r\n"
        "db1,postgres,tcp,5432,\"dba; primary\nreplica in standby\"\r\n"
        "db1,metrics,udp,9100,\r\n");
    fixture_free(&f);
}

/* A service with TCP and UDP ports is one row per protocol; a long description is cut at
 * NetBox's 200 characters without splitting a UTF-8 character. */
static void test_netbox_csv_protocols_and_long_description(void **state)
{
    (void)state;
    char text[2048];
    char notes[400];
    size_t used = 0;
    while (used + 2 < 300) {     /* "é" is 2 bytes: 150 of them */
        memcpy(notes + used, "\xc3\xa9", 2);
        used += 2;
    }
    notes[used] = '\0';
    snprintf(text, sizeof text,
             "hosts:\n  - name: ns1\n    addresses: [192.0.2.53]\n"
             "services:\n  - name: dns\n    hosts: [ns1]\n    ports: [53/udp, 53/tcp, 853/tcp]\n"
             "    exposure: public\n    owner: x\n    notes: \"%s\"\n", notes);
    struct fixture f;
    load(&f, "dns.yaml", text, strlen(text));
    export(&f, "netbox-csv");
    const char *row_tcp = strstr(f.text, "dcim.device,ns1,dns,tcp,\"53,853\",x; ");
    const char *row_udp = strstr(f.text, "dcim.device,ns1,dns,udp,53,x; ");
    assert_non_null(row_tcp);
    assert_non_null(row_udp);
    assert_true(row_tcp < row_udp);
    const char *desc = row_tcp + strlen("dcim.device,ns1,dns,tcp,\"53,853\",");
    size_t desc_len = (size_t)(strstr(desc, "\r\n") - desc);
    assert_true(desc_len <= 200);
    assert_int_equal(desc_len, 199);   /* "x; " + 98 two-byte characters */
    assert_int_equal(f.warnings.count, 0);
    fixture_free(&f);
}

static void test_json_fields(void **state)
{
    (void)state;
    struct fixture f;
    load_small(&f);
    export(&f, "json");
    json_error_t je;
    json_t *doc = json_loads(f.text, 0, &je);
    assert_non_null(doc);
    json_t *policy = json_object_get(doc, "policy");
    assert_string_equal(json_string_value(json_object_get(policy, "static")), "1024-29999");
    assert_string_equal(json_string_value(json_object_get(policy, "auto")), "20000-29999");
    assert_string_equal(json_string_value(json_array_get(json_object_get(policy, "exclude"), 0)),
                        "25000-25099");
    assert_true(json_is_false(json_object_get(policy, "allow_iana_assigned")));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(doc, "networks"), "office"), 0)),
                        "10.1.0.0/16");
    json_t *web1 = json_array_get(json_object_get(doc, "hosts"), 0);
    assert_string_equal(json_string_value(json_object_get(web1, "name")), "web1");
    json_t *internal = json_object_get(json_object_get(web1, "addresses"), "internal");
    assert_int_equal(json_array_size(internal), 2);
    assert_string_equal(json_string_value(json_array_get(internal, 1)), "fd00::10");
    json_t *db1 = json_array_get(json_object_get(doc, "hosts"), 1);
    assert_string_equal(json_string_value(json_object_get(db1, "ephemeral")), "32768-60999");
    assert_string_equal(json_string_value(json_array_get(json_object_get(db1, "reserved"), 1)),
                        "9000-9010");
    json_t *services = json_object_get(doc, "services");
    assert_int_equal(json_array_size(services), 3);
    json_t *pg = json_array_get(services, 1);
    assert_string_equal(json_string_value(json_object_get(pg, "bind")), "internal");
    assert_string_equal(json_string_value(json_object_get(pg, "exposure")), "internal");
    assert_string_equal(json_string_value(json_array_get(json_object_get(pg, "ports"), 0)),
                        "5432/tcp");
    assert_string_equal(json_string_value(json_array_get(json_object_get(pg, "sources"), 1)),
                        "web");
    assert_string_equal(json_string_value(json_object_get(pg, "notes")),
                        "primary\nreplica in standby");
    assert_string_equal(json_string_value(json_array_get(json_object_get(pg, "iana"), 0)),
                        "postgresql");
    json_t *metrics = json_array_get(services, 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(metrics, "ports"), 0)),
                        "auto/tcp");
    assert_null(json_object_get(metrics, "owner"));
    /* nothing is left out of the JSON, so there is nothing to warn about */
    assert_int_equal(f.warnings.count, 0);
    json_decref(doc);
    fixture_free(&f);
}

/* JSON is YAML: the plan loader reads the export back, and exporting that gives the same text. */
static void test_json_round_trip_through_loader(void **state)
{
    (void)state;
    struct fixture a, b;
    load_small(&a);
    export(&a, "json");
    load(&b, "plan.json", a.text, a.len);
    assert_int_equal(b.diag.count, 0);
    export(&b, "json");
    assert_string_equal(a.text, b.text);
    fixture_free(&a);
    fixture_free(&b);
}

static void test_json_exact_tiny(void **state)
{
    (void)state;
    static const char tiny[] =
        "hosts:\n  - name: h\n    addresses: [192.0.2.1]\n"
        "services:\n  - name: ssh\n    hosts: [h]\n    port: 22\n    exposure: public\n";
    struct fixture f;
    load(&f, "tiny.yaml", tiny, sizeof tiny - 1);
    export(&f, "json");
    assert_string_equal(f.text,
        "{\n"
        "  \"policy\": {\n"
        "    \"static\": \"1024-49151\",\n"
        "    \"auto\": \"1024-49151\",\n"
        "    \"exclude\": [],\n"
        "    \"allow_iana_assigned\": false\n"
        "  },\n"
        "  \"networks\": {},\n"
        "  \"hosts\": [\n"
        "    {\n"
        "      \"name\": \"h\",\n"
        "      \"addresses\": [\n"
        "        \"192.0.2.1\"\n"
        "      ],\n"
        "      \"groups\": []\n"
        "    }\n"
        "  ],\n"
        "  \"services\": [\n"
        "    {\n"
        "      \"name\": \"ssh\",\n"
        "      \"hosts\": [\n"
        "        \"h\"\n"
        "      ],\n"
        "      \"ports\": [\n"
        "        \"22/tcp\"\n"
        "      ],\n"
        "      \"bind\": \"any\",\n"
        "      \"exposure\": \"public\",\n"
        "      \"sources\": [\n"
        "        \"any\"\n"
        "      ]\n"
        "    }\n"
        "  ]\n"
        "}\n");
    fixture_free(&f);
}

static void test_unknown_format(void **state)
{
    (void)state;
    struct fixture f;
    load_small(&f);
    struct pr_error err = { 0 };
    char *text = (char *)"untouched";
    size_t len = 99;
    assert_int_equal(plan_export(&f.plan, "yaml", &text, &len, &f.warnings, &err), -EINVAL);
    assert_null(text);
    assert_int_equal(len, 0);
    assert_non_null(strstr(err.message, "'yaml'"));
    assert_non_null(strstr(err.message, "services, iana-csv, json, netbox-csv, netbox-csv-pre-4.3"));
    assert_null(plan_export_find("yaml"));
    fixture_free(&f);
}

static void test_format_table(void **state)
{
    (void)state;
    size_t count = 0;
    const struct plan_export_format *formats = plan_export_formats(&count);
    assert_int_equal(count, 5);   /* netbox-csv-pre-4.3 is a module of its own */
    for (size_t i = 0; i < count; i++) {
        assert_ptr_equal(plan_export_find(formats[i].name), &formats[i]);
        assert_non_null(formats[i].summary);
        assert_non_null(formats[i].write);
    }
    /* a module writes straight to a FILE too (the CLI's stdout) */
    struct fixture f;
    load_small(&f);
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    assert_non_null(out);
    struct pr_error err = { 0 };
    assert_int_equal(plan_export_find("netbox-csv")->write(out, &f.plan, NULL, &err), 0);
    fclose(out);
    assert_non_null(strstr(buf, "db1,postgres,tcp,5432,"));
    free(buf);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_services_exact),
        cmocka_unit_test(test_services_after_check_has_auto_port),
        cmocka_unit_test(test_iana_csv_exact),
        cmocka_unit_test(test_iana_csv_round_trip),
        cmocka_unit_test(test_netbox_csv_exact),
        cmocka_unit_test(test_netbox_csv_protocols_and_long_description),
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_json_round_trip_through_loader),
        cmocka_unit_test(test_json_exact_tiny),
        cmocka_unit_test(test_unknown_format),
        cmocka_unit_test(test_format_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
