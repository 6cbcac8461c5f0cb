/* test_index.c — the compiled registry index: per-port order, merging of host services
 * (aliases, new entries), names, open-frequency and rank, sources, and rejection of damaged
 * images (magic, version, size, checksum). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "index_fixture.h"
#include "registry/index_format.h"

static const char *record_service(const struct registry_index *ix, uint32_t id)
{
    static struct registry_record rec;
    assert_true(registry_index_record(ix, id, &rec));
    return rec.service;
}

static void port_records_are_ordered_by_protocol_then_line(void **state)
{
    struct index_fixture *f = *state;
    size_t n;
    const uint32_t *ids = registry_index_port_records(f->ix, 2049, &n);
    assert_int_equal(n, 3);
    struct registry_record rec;
    registry_index_record(f->ix, ids[0], &rec);
    assert_string_equal(rec.service, "nfs");
    assert_int_equal(rec.proto, REGISTRY_PROTO_TCP);
    registry_index_record(f->ix, ids[1], &rec);
    assert_string_equal(rec.service, "shilp");
    assert_string_equal(rec.assignment_notes, "<== NOTE Conflict on 2049 !");
    registry_index_record(f->ix, ids[2], &rec);
    assert_int_equal(rec.proto, REGISTRY_PROTO_SCTP);
}

static void ranges_cover_every_port_and_nothing_else(void **state)
{
    struct index_fixture *f = *state;
    size_t n;
    for (uint16_t p = 272; p <= 279; p++) {
        registry_index_port_records(f->ix, p, &n);
        assert_int_equal(n, 1);
    }
    registry_index_port_records(f->ix, 271, &n);
    assert_int_equal(n, 0);
    registry_index_port_records(f->ix, 280, &n);
    assert_int_equal(n, 0);
    const uint32_t *ids = registry_index_port_records(f->ix, 6063, &n);
    assert_int_equal(n, 1);
    assert_string_equal(record_service(f->ix, ids[0]), "x11");
    registry_index_port_records(f->ix, 65535, &n);
    assert_int_equal(n, 0);
}

static void reserved_and_unassigned_rows_keep_their_status(void **state)
{
    struct index_fixture *f = *state;
    size_t n;
    struct registry_record rec;
    const uint32_t *ids = registry_index_port_records(f->ix, 49151, &n);
    assert_int_equal(n, 1);
    registry_index_record(f->ix, ids[0], &rec);
    assert_int_equal(rec.status, REGISTRY_STATUS_RESERVED);
    assert_int_equal(rec.proto, REGISTRY_PROTO_ANY);
    ids = registry_index_port_records(f->ix, 275, &n);
    registry_index_record(f->ix, ids[0], &rec);
    assert_int_equal(rec.status, REGISTRY_STATUS_UNASSIGNED);
    assert_int_equal(rec.port_first, 272);
    assert_int_equal(rec.port_last, 279);
}

static void collect(void *ctx, uint32_t id)
{
    uint32_t *out = ctx;
    out[out[0]++ + 1] = id;
}

static void host_aliases_merge_into_the_primary_record(void **state)
{
    struct index_fixture *f = *state;
    uint32_t found[8] = { 0 };
    assert_int_equal(registry_index_find_name(f->ix, "www", collect, found), 1);
    struct registry_record rec;
    registry_index_record(f->ix, found[1], &rec);
    assert_string_equal(rec.service, "http");
    assert_string_equal(rec.description, "World Wide Web HTTP");   /* the primary's text wins */
    assert_string_equal(rec.aliases, "www");
    assert_int_equal(registry_index_record_source(f->ix, found[1]), 0);

    memset(found, 0, sizeof found);
    assert_int_equal(registry_index_find_name(f->ix, "MARIADB", collect, found), 1);
    registry_index_record(f->ix, found[1], &rec);
    assert_string_equal(rec.service, "mysql");
}

static void host_only_entries_become_records_of_their_source(void **state)
{
    struct index_fixture *f = *state;
    uint32_t found[8] = { 0 };
    assert_int_equal(registry_index_find_name(f->ix, "lapp", collect, found), 1);
    assert_string_equal(record_service(f->ix, found[1]), "localapp");
    assert_int_equal(registry_index_record_source(f->ix, found[1]), 2);
    /* http from the host file did not become a second record */
    size_t n;
    registry_index_port_records(f->ix, 80, &n);
    assert_int_equal(n, 1);
    assert_int_equal(registry_index_record_count(f->ix), 13);
}

static void names_are_case_insensitive_and_include_portless_ones(void **state)
{
    struct index_fixture *f = *state;
    assert_int_equal(registry_index_find_name(f->ix, "SSH", NULL, NULL), 2);
    assert_int_equal(registry_index_find_name(f->ix, "nfs", NULL, NULL), 2);
    assert_int_equal(registry_index_find_name(f->ix, "argus", NULL, NULL), 1);
    assert_int_equal(registry_index_find_name(f->ix, "nosuch", NULL, NULL), 0);
    assert_int_equal(registry_index_find_name(f->ix, "", NULL, NULL), 0);
}

static void frequency_rank_and_top_ports(void **state)
{
    struct index_fixture *f = *state;
    const char *name;
    uint32_t rank;
    double freq = registry_index_frequency(f->ix, 22, REGISTRY_PROTO_TCP, &name, &rank);
    assert_float_equal(freq, 0.18, 1e-6);
    assert_string_equal(name, "ssh");
    assert_int_equal(rank, 2);
    registry_index_frequency(f->ix, 53, REGISTRY_PROTO_UDP, NULL, &rank);
    assert_int_equal(rank, 1);
    assert_float_equal(registry_index_frequency(f->ix, 22, REGISTRY_PROTO_UDP, NULL, &rank), 0.0, 0);
    assert_int_equal(rank, 0);
    uint16_t port;
    assert_true(registry_index_top_port(f->ix, REGISTRY_PROTO_TCP, 0, &port));
    assert_int_equal(port, 80);
    assert_true(registry_index_top_port(f->ix, REGISTRY_PROTO_TCP, 2, &port));
    assert_int_equal(port, 3306);
    assert_false(registry_index_top_port(f->ix, REGISTRY_PROTO_TCP, 3, &port));
    struct registry_record rec;
    const uint32_t *ids = registry_index_port_records(f->ix, 3306, &(size_t){ 0 });
    registry_index_record(f->ix, ids[0], &rec);
    assert_float_equal(rec.frequency, 0.045, 1e-6);
}

static void sources_are_recorded_with_counts(void **state)
{
    struct index_fixture *f = *state;
    struct registry_source_info s;
    assert_int_equal(registry_index_source_count(f->ix), 4);
    assert_true(registry_index_source(f->ix, 0, &s));
    assert_string_equal(s.path, "/state/iana.csv");
    assert_int_equal(s.role, REGISTRY_ROLE_PRIMARY);
    assert_int_equal(s.record_count, 12);
    assert_int_equal(s.per_proto[REGISTRY_PROTO_TCP], 6);
    assert_int_equal(s.per_proto[REGISTRY_PROTO_ANY], 3);
    assert_int_equal(s.mtime_ns, 1);
    assert_true(registry_index_source(f->ix, 1, &s));
    assert_int_equal(s.role, REGISTRY_ROLE_SUPERSEDED);
    assert_false(registry_index_source(f->ix, 4, &s));
    assert_int_equal(registry_index_built_at(f->ix), 1700000000);
}

static void expect_open_fails(const void *image, size_t size, const char *message)
{
    struct registry_index *ix = NULL;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(registry_index_open(image, size, &ix, &err), -EINVAL);
    assert_null(ix);
    assert_non_null(strstr(err.message, message));
}

static void damaged_images_are_rejected(void **state)
{
    struct index_fixture *f = *state;
    unsigned char *copy = malloc(f->size);
    assert_non_null(copy);

    memcpy(copy, f->image, f->size);
    copy[0] = 'X';
    expect_open_fails(copy, f->size, "bad magic");

    memcpy(copy, f->image, f->size);
    ((struct registry_index_header *)copy)->format_version = 7;
    expect_open_fails(copy, f->size, "format version 7");

    expect_open_fails(f->image, f->size - 8, "truncated");
    expect_open_fails(f->image, 10, "bad magic");

    memcpy(copy, f->image, f->size);
    copy[20] ^= 1;   /* inside the header */
    expect_open_fails(copy, f->size, "header checksum mismatch");

    memcpy(copy, f->image, f->size);
    copy[f->size - 3] ^= 1;   /* inside the block checksum table */
    expect_open_fails(copy, f->size, "checksum table mismatch");

    memcpy(copy, f->image, f->size);
    ((struct registry_index_header *)copy)->off_strings = (uint32_t)f->size;
    expect_open_fails(copy, f->size, "header checksum mismatch");
    free(copy);
}

/* Damage inside a data block: open succeeds (only read blocks are checked), a read of the
 * damaged block fails and says so, other blocks still answer, verify_all finds it. */
static void damaged_blocks_are_found_when_read(void **state)
{
    struct index_fixture *f = *state;
    const struct registry_index_header *h = f->image;
    unsigned char *copy = malloc(f->size);
    assert_non_null(copy);
    memcpy(copy, f->image, f->size);
    size_t port_30000 = h->off_port_starts + 30000 * sizeof(uint32_t);
    copy[port_30000] ^= 0x10;   /* where port 30000 records start (a block open does not read) */

    struct registry_index *ix = NULL;
    assert_int_equal(registry_index_open(copy, f->size, &ix, NULL), 0);
    assert_null(registry_index_damage(ix));
    size_t n = 99;
    assert_null(registry_index_port_records(ix, 30000, &n));
    assert_int_equal(n, 0);
    assert_non_null(registry_index_damage(ix));
    assert_non_null(strstr(registry_index_damage(ix), "checksum mismatch in block"));
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(registry_index_verify_all(ix, &err), -EINVAL);
    assert_non_null(strstr(err.message, "checksum mismatch"));
    registry_index_close(ix);

    /* the same image, but a read far from the damage: no complaint, right answer */
    assert_int_equal(registry_index_open(copy, f->size, &ix, NULL), 0);
    uint16_t port;
    assert_true(registry_index_top_port(ix, REGISTRY_PROTO_TCP, 0, &port));
    assert_int_equal(port, 80);
    registry_index_close(ix);

    /* the undamaged image verifies completely */
    assert_int_equal(registry_index_verify_all(f->ix, NULL), 0);
    assert_null(registry_index_damage(f->ix));
    free(copy);
}

static void out_of_range_ids_are_refused(void **state)
{
    struct index_fixture *f = *state;
    struct registry_record rec;
    assert_false(registry_index_record(f->ix, registry_index_record_count(f->ix), &rec));
    assert_false(registry_index_record(f->ix, UINT32_MAX, &rec));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(port_records_are_ordered_by_protocol_then_line),
        cmocka_unit_test(ranges_cover_every_port_and_nothing_else),
        cmocka_unit_test(reserved_and_unassigned_rows_keep_their_status),
        cmocka_unit_test(host_aliases_merge_into_the_primary_record),
        cmocka_unit_test(host_only_entries_become_records_of_their_source),
        cmocka_unit_test(names_are_case_insensitive_and_include_portless_ones),
        cmocka_unit_test(frequency_rank_and_top_ports),
        cmocka_unit_test(sources_are_recorded_with_counts),
        cmocka_unit_test(damaged_images_are_rejected),
        cmocka_unit_test(damaged_blocks_are_found_when_read),
        cmocka_unit_test(out_of_range_ids_are_refused),
    };
    return cmocka_run_group_tests(tests, index_fixture_setup, index_fixture_teardown);
}
