/* test_lookup.c — query parsing (port, range, name, name/proto, lists with names, errors with
 * columns) and execution (protocol filter, range de-duplication, search, "found"). */
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
#include "registry/lookup.h"

/* Run a query; return "service/proto service/proto ..." of the result and whether found. */
static const char *run_query(struct index_fixture *f, const char *text, uint8_t proto, bool *found)
{
    static char out[512];
    struct lookup_query q;
    struct lookup_result res;
    assert_int_equal(lookup_query_parse(f->ix, text, proto, &q, NULL), 0);
    assert_int_equal(lookup_run(f->ix, &q, &res), 0);
    out[0] = '\0';
    for (size_t i = 0; i < res.count; i++) {
        struct registry_record rec;
        registry_index_record(f->ix, res.records[i], &rec);
        size_t len = strlen(out);
        snprintf(out + len, sizeof out - len, "%s%s/%s", len ? " " : "",
                 rec.service[0] ? rec.service : "-", registry_proto_name(rec.proto));
    }
    if (found)
        *found = res.found;
    lookup_result_free(&res);
    lookup_query_free(&q);
    return out;
}

static void query_kinds_are_recognised(void **state)
{
    struct index_fixture *f = *state;
    struct lookup_query q;
    assert_int_equal(lookup_query_parse(f->ix, "3306", REGISTRY_PROTO_ANY, &q, NULL), 0);
    assert_int_equal(q.kind, LOOKUP_KIND_PORTS);
    assert_true(q.single_port);
    lookup_query_free(&q);
    assert_int_equal(lookup_query_parse(f->ix, "6000-6010", REGISTRY_PROTO_ANY, &q, NULL), 0);
    assert_false(q.single_port);
    lookup_query_free(&q);
    assert_int_equal(lookup_query_parse(f->ix, "mysql/tcp", REGISTRY_PROTO_ANY, &q, NULL), 0);
    assert_int_equal(q.kind, LOOKUP_KIND_NAME);
    assert_string_equal(q.name, "mysql");
    assert_int_equal(q.proto, REGISTRY_PROTO_TCP);
    lookup_query_free(&q);
    assert_int_equal(lookup_query_parse(f->ix, "53/udp", REGISTRY_PROTO_ANY, &q, NULL), 0);
    assert_true(q.single_port);
    assert_int_equal(q.spec.ranges[0].proto, REGISTRY_PROTO_UDP);
    lookup_query_free(&q);
}

static void bad_queries_name_the_column(void **state)
{
    struct index_fixture *f = *state;
    static const struct { const char *text; unsigned column; const char *message; } cases[] = {
        { "", 0, "empty query" },
        { "70000", 1, "out of range" },
        { "80/xyz", 4, "unknown protocol \"xyz\"" },
        { "mysql/xyz", 7, "unknown protocol \"xyz\"" },
        { "22,nosuchname", 4, "unknown service name" },
        { "20-10", 1, "reversed" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lookup_query q;
        struct pr_error err;
        pr_error_clear(&err);
        assert_int_equal(lookup_query_parse(f->ix, cases[i].text, REGISTRY_PROTO_ANY, &q, &err), -EINVAL);
        assert_int_equal(err.column, cases[i].column);
        assert_non_null(strstr(err.message, cases[i].message));
        lookup_query_free(&q);
    }
}

static void a_port_gives_every_protocol(void **state)
{
    bool found;
    assert_string_equal(run_query(*state, "2049", REGISTRY_PROTO_ANY, &found), "nfs/tcp shilp/udp nfs/sctp");
    assert_true(found);
    assert_string_equal(run_query(*state, "2049", REGISTRY_PROTO_UDP, &found), "shilp/udp");
    assert_string_equal(run_query(*state, "2049/sctp", REGISTRY_PROTO_ANY, &found), "nfs/sctp");
}

static void records_for_every_protocol_match_any_filter(void **state)
{
    bool found;
    assert_string_equal(run_query(*state, "49151/udp", REGISTRY_PROTO_ANY, &found), "-/any");
    assert_false(found);
}

static void a_range_lists_each_record_once(void **state)
{
    bool found;
    assert_string_equal(run_query(*state, "270-6001", REGISTRY_PROTO_ANY, &found),
                        "-/any nfs/tcp shilp/udp nfs/sctp mysql/tcp x11/tcp");
    assert_true(found);
    assert_string_equal(run_query(*state, "275-276", REGISTRY_PROTO_ANY, &found), "-/any");
    assert_false(found);
}

static void lists_and_names_inside_specs(void **state)
{
    assert_string_equal(run_query(*state, "22,mysql", REGISTRY_PROTO_ANY, NULL), "ssh/tcp ssh/udp mysql/tcp");
    assert_string_equal(run_query(*state, "T:22,U:22", REGISTRY_PROTO_ANY, NULL), "ssh/tcp ssh/udp");
    assert_string_equal(run_query(*state, "U:22,80", REGISTRY_PROTO_ANY, NULL), "ssh/udp");
}

static void names_and_aliases(void **state)
{
    bool found;
    assert_string_equal(run_query(*state, "SSH", REGISTRY_PROTO_ANY, &found), "ssh/tcp ssh/udp");
    assert_true(found);
    assert_string_equal(run_query(*state, "ssh/udp", REGISTRY_PROTO_ANY, NULL), "ssh/udp");
    assert_string_equal(run_query(*state, "www", REGISTRY_PROTO_ANY, NULL), "http/tcp");
    assert_string_equal(run_query(*state, "argus", REGISTRY_PROTO_ANY, NULL), "argus/any");
    assert_string_equal(run_query(*state, "nosuch", REGISTRY_PROTO_ANY, &found), "");
    assert_false(found);
}

static void search_needs_every_word(void **state)
{
    struct index_fixture *f = *state;
    struct lookup_query q;
    struct lookup_result res;
    assert_int_equal(lookup_query_search("secure SHELL", REGISTRY_PROTO_ANY, &q, NULL), 0);
    assert_int_equal(lookup_run(f->ix, &q, &res), 0);
    assert_int_equal(res.count, 2);
    assert_true(res.found);
    lookup_result_free(&res);
    assert_int_equal(lookup_query_search("network conflict", REGISTRY_PROTO_ANY, &q, NULL), 0);
    assert_int_equal(lookup_run(f->ix, &q, &res), 0);
    assert_int_equal(res.count, 0);
    lookup_result_free(&res);
    assert_int_equal(lookup_query_search("conflict", REGISTRY_PROTO_ANY, &q, NULL), 0);
    assert_int_equal(lookup_run(f->ix, &q, &res), 0);
    assert_int_equal(res.count, 1);   /* found in the notes */
    lookup_result_free(&res);
    assert_int_equal(lookup_query_search("  ", REGISTRY_PROTO_ANY, &q, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_kinds_are_recognised),
        cmocka_unit_test(bad_queries_name_the_column),
        cmocka_unit_test(a_port_gives_every_protocol),
        cmocka_unit_test(records_for_every_protocol_match_any_filter),
        cmocka_unit_test(a_range_lists_each_record_once),
        cmocka_unit_test(lists_and_names_inside_specs),
        cmocka_unit_test(names_and_aliases),
        cmocka_unit_test(search_needs_every_word),
    };
    return cmocka_run_group_tests(tests, index_fixture_setup, index_fixture_teardown);
}
