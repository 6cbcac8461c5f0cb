/* test_config_yaml.c — flat YAML configuration files (util/config_yaml.c): scalars, booleans
 * and lists become entries with their line and column; every kind of mistake is one error
 * with its place and the key (unknown keys with a suggestion, twice, wrong kind, syntax,
 * not UTF-8); an empty file is no entries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/config_yaml.h"

static const struct config_key keys[] = {
    { "listen", CONFIG_LIST },
    { "db", CONFIG_SCALAR },
    { "threads", CONFIG_SCALAR },
    { "anonymous-read", CONFIG_BOOL },
    { NULL, CONFIG_SCALAR },
};

struct parsed {
    struct config_file file;
    struct pr_error err;
    int r;
};

static void parse(struct parsed *p, const char *text)
{
    pr_error_clear(&p->err);
    p->r = config_yaml_parse(text, strlen(text), keys, &p->file, &p->err);
}

/* One error at line:column whose message contains what. */
static void expect_error(const char *text, unsigned line, unsigned column, const char *what)
{
    struct parsed p;
    parse(&p, text);
    if (p.r == 0 || p.err.line != line || p.err.column != column || !strstr(p.err.message, what))
        fail_msg("for %s: got %d at %u:%u: %s (wanted %u:%u: %s)", text, p.r, p.err.line, p.err.column,
                 p.err.message, line, column, what);
    assert_int_equal(p.file.count, 0);
    assert_null(p.file.entries);
    config_file_free(&p.file);
}

static void test_values_with_places(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "# serve\nlisten:\n  - 127.0.0.1:7678\n  - \"[::1]:7678\"\ndb: sqlite:/var/lib/x.db\n"
              "threads: '4'\nanonymous-read: false\n");
    assert_int_equal(p.r, 0);
    assert_int_equal(p.file.count, 5);
    const struct config_entry *e = p.file.entries;
    assert_string_equal(e[0].key, "listen");
    assert_string_equal(e[0].value, "127.0.0.1:7678");
    assert_int_equal(e[0].line, 3);
    assert_int_equal(e[0].column, 5);
    assert_string_equal(e[1].value, "[::1]:7678");
    assert_int_equal(e[1].line, 4);
    assert_string_equal(e[2].key, "db");
    assert_string_equal(e[2].value, "sqlite:/var/lib/x.db");
    assert_int_equal(e[2].column, 5);
    assert_string_equal(e[3].value, "4");
    assert_string_equal(e[4].key, "anonymous-read");
    assert_string_equal(e[4].value, "false");
    assert_int_equal(e[4].line, 7);
    assert_int_equal(e[4].column, 17);
    config_file_free(&p.file);
    /* a list key takes one scalar too; flow lists */
    parse(&p, "listen: 127.0.0.1:1\n");
    assert_int_equal(p.r, 0);
    assert_int_equal(p.file.count, 1);
    config_file_free(&p.file);
    parse(&p, "{listen: [a, b, c], anonymous-read: true}");
    assert_int_equal(p.r, 0);
    assert_int_equal(p.file.count, 4);
    assert_string_equal(p.file.entries[3].value, "true");
    config_file_free(&p.file);
}

/* single-quoted values are decoded by util/fyaml_scalar.c: libfyaml 0.7.12 read 'a''''b' as
 * a''' (and leaked on more); over several lines with two escaped quotes in a row: an error */
static void test_single_quoted_escapes(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "db: 'post''''gres'\n'threads': '''''''''''4'\n");
    assert_int_equal(p.r, 0);
    assert_int_equal(p.file.count, 2);
    assert_string_equal(p.file.entries[0].value, "post''gres");
    assert_string_equal(p.file.entries[1].key, "threads");
    assert_string_equal(p.file.entries[1].value, "'''''4");
    config_file_free(&p.file);
    expect_error("db: 'a\n  b''''c'\n", 1, 6, "two escaped quotes");
    /* an empty value in quotes or a block is no value (fuzz_config_yaml: "db: |\n%b") */
    expect_error("db: ''\n", 1, 6, "needs a value");
    expect_error("db: |\n%b", 2, 1, "needs a value");
}

static void test_empty_files(void **state)
{
    (void)state;
    const char *empties[] = { "", "\n", "# only a comment\n", "---\n", "---\n...\n", "{}" };
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        struct parsed p;
        parse(&p, empties[i]);
        if (p.r != 0)
            fail_msg("'%s': %s", empties[i], p.err.message);
        assert_int_equal(p.file.count, 0);
        config_file_free(&p.file);
    }
}

static void test_errors_name_place_and_key(void **state)
{
    (void)state;
    expect_error("listen: a\nthreds: 4\n", 2, 1, "\"threds\": unknown key (did you mean threads?)");
    expect_error("colour: red\n", 1, 1, "\"colour\": unknown key");
    expect_error("db: a\ndb: b\n", 2, 1, "db: given twice");
    expect_error("threads: [1, 2]\n", 1, 10, "threads: one value, not a list");
    expect_error("threads:\n  n: 1\n", 2, 3, "threads: one value, not a mapping");
    expect_error("listen: {a: 1}\n", 1, 9, "listen: a value or a list of values, not a mapping");
    expect_error("listen: [a, [b]]\n", 1, 13, "listen: a list of plain values");
    expect_error("listen: [a, ]\nthreads:\n", 2, 1, "threads: needs a value");   /* no mark: the key's */
    expect_error("db: ~\n", 1, 5, "db: needs a value");
    expect_error("anonymous-read: yes\n", 1, 17, "anonymous-read: true or false");
    expect_error("anonymous-read: \"true\"\n", 1, 18, "anonymous-read: true or false");
    expect_error("- listen\n", 1, 1, "the file is one mapping");
    expect_error("just words\n", 1, 1, "the file is one mapping");
    expect_error("db: a\n---\ndb: b\n", 2, 1, "one YAML document");
    expect_error("db: &x a\nthreads: *x\n", 2, 11, "aliases are not supported");
    expect_error("[a]: 1\n", 1, 1, "a key is a plain word");
    expect_error("listen: [a\n", 2, 1, "YAML: ");
    expect_error("db: a\n  b: c\n", 1, 5, "YAML: invalid multiline plain key");
    expect_error("db: \"a\xff\"\n", 1, 7, "not UTF-8");
}

static void test_nul_byte(void **state)
{
    (void)state;
    struct config_file file;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(config_yaml_parse("db: a\n\0b", 8, keys, &file, &err), -EINVAL);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.message, "NUL"));
}

static void test_load_names_the_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_config_yaml.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "db: x\nthreads: [1]\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    struct config_file file;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(config_yaml_load(path, keys, &file, &err), -EINVAL);
    assert_string_equal(err.path, path);
    assert_int_equal(err.line, 2);
    unlink(path);
    pr_error_clear(&err);
    assert_int_equal(config_yaml_load(path, keys, &file, &err), -ENOENT);
    assert_string_equal(err.path, path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_with_places),
        cmocka_unit_test(test_single_quoted_escapes),
        cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_errors_name_place_and_key),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_load_names_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
