/* parser_test_helpers.h — helpers shared by the unit tests of the line-based registry parsers
 * (test_services_file.c, test_nmap_services.c): reading fixtures and system files, and the
 * table-driven check that each bad input fails with its exact message, line and column.
 * Include after <cmocka.h>; everything is static inline, so unused helpers cost nothing. */
#ifndef PORTREG_TESTS_PARSER_TEST_HELPERS_H
#define PORTREG_TESTS_PARSER_TEST_HELPERS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/record.h"
#include "util/error.h"

/* services_file_parse, nmap_services_parse: buffer in, records appended to out. */
typedef long (*registry_text_parser)(const char *buf, size_t len, struct registry_records *out,
                                     struct pr_error *err);

/* Read a whole file; NULL (and *len 0) when it cannot be opened. */
static inline char *read_whole_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    size_t capacity = 1 << 16, used = 0;
    char *data = malloc(capacity);
    assert_non_null(data);
    size_t got;
    while ((got = fread(data + used, 1, capacity - used, file)) > 0) {
        used += got;
        if (used == capacity) {
            capacity *= 2;
            data = realloc(data, capacity);
            assert_non_null(data);
        }
    }
    fclose(file);
    *len = used;
    return data;
}

/* Read $PORTREG_FIXTURES/services/name; fails the test when it cannot. */
static inline char *read_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("PORTREG_FIXTURES");
    if (!dir)
        fail_msg("PORTREG_FIXTURES is not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/services/%s", dir, name);
    char *data = read_whole_file(path, len);
    if (!data)
        fail_msg("cannot read fixture %s", path);
    return data;
}

/* Read a system file; skips the test when it is not installed. */
static inline char *read_system_file_or_skip(const char *path, size_t *len)
{
    char *data = read_whole_file(path, len);
    if (!data) {
        print_message("skipped: %s not found\n", path);
        skip();
    }
    return data;
}

/* One bad input and the error it must give. */
struct parser_error_case {
    const char *text;
    size_t len;            /* 0: strlen(text) */
    unsigned line, column;
    const char *message;
};

/* Parse each case into an empty list: -EINVAL with exactly its message, line and column, and
 * no record left in the list. */
static inline void expect_parse_errors(registry_text_parser parse,
                                       const struct parser_error_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct parser_error_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->text);
        struct registry_records list = { 0 };
        struct pr_error err = { 0 };
        long rc = parse(c->text, len, &list, &err);
        if (rc != -EINVAL || err.code != -EINVAL || strcmp(err.message, c->message) != 0 ||
            err.line != c->line || err.column != c->column)
            fail_msg("case %zu: got rc %ld, %u:%u: \"%s\"; want %u:%u: \"%s\"", i, rc,
                     err.line, err.column, err.message, c->line, c->column, c->message);
        assert_int_equal(list.count, 0);
        registry_records_free(&list);
    }
}

#endif
