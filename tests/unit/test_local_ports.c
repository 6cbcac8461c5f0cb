/* test_local_ports.c — unit tests for the ephemeral/reserved port sysctls (local_ports.c).
 * Table-driven parser tests with exact line/column errors; local_ports_read() against the proc
 * trees in $PORTREG_FIXTURES/proc, against trees built at run time in a temporary directory
 * (long lists, NUL bytes, directories, oversize files) and against this host's real /proc. */
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

#include "net/local_ports.h"

/* ---- local_port_range_parse ---- */

static void test_range_parse_valid(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint16_t first, last;
    } cases[] = {
        { "32768\t60999\n", 32768, 60999 }, { "32768 60999", 32768, 60999 },
        { "1024\t65535\n", 1024, 65535 },   { "0\t0\n", 0, 0 },
        { "  1 \t 2 \n", 1, 2 },            { "32768\n60999\n", 32768, 60999 },
        { "65535\t65535", 65535, 65535 },   { "00080\t00090\r\n", 80, 90 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct local_port_range range = { 7, 7 };
        struct pr_error err = { 0 };
        if (local_port_range_parse(cases[i].text, &range, &err) != 0)
            fail_msg("\"%s\": %s", cases[i].text, err.message);
        assert_int_equal(range.first, cases[i].first);
        assert_int_equal(range.last, cases[i].last);
    }
}

struct parse_error_case {
    const char *text;
    unsigned line, column;
    const char *message;
};

static const struct parse_error_case range_errors[] = {
    { "", 1, 1, "empty port range" },
    { "\n", 1, 1, "empty port range" },
    { NULL, 1, 1, "empty port range" },
    { "32768", 1, 6, "missing the last port of the range" },
    { "32768\t\n", 1, 6, "missing the last port of the range" },
    { "32768\t60999\t1", 1, 13, "unexpected character '1'" },
    { "32768\t60999\nx", 2, 1, "unexpected character 'x'" },
    { "32768\t70000\n", 1, 7, "port \"70000\" is out of range 0-65535" },
    { "99999\t100000\n", 1, 1, "port \"99999\" is out of range 0-65535" },
    { "60999\t32768\n", 1, 1, "range 60999-32768 is reversed" },
    { "32768-60999", 1, 6, "unexpected character '-'" },
    { "32768,60999", 1, 6, "unexpected character ','" },
    { "abc", 1, 1, "unexpected character 'a'" },
    { "-1 5", 1, 1, "unexpected character '-'" },
    { "32768\tx", 1, 7, "unexpected character 'x'" },
    { "32768\t\x7f", 1, 7, "unexpected character '\\x7f'" },
};

static void test_range_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof range_errors / sizeof range_errors[0]; i++) {
        const struct parse_error_case *tc = &range_errors[i];
        struct local_port_range range = { 7, 8 };
        struct pr_error err = { 0 };
        int r = local_port_range_parse(tc->text, &range, &err);
        if (r != -EINVAL || err.code != -EINVAL)
            fail_msg("\"%s\": returned %d, expected -EINVAL", tc->text, r);
        if (err.line != tc->line || err.column != tc->column ||
            strcmp(err.message, tc->message) != 0)
            fail_msg("\"%s\": %u:%u \"%s\", expected %u:%u \"%s\"", tc->text, err.line,
                     err.column, err.message, tc->line, tc->column, tc->message);
        /* out is untouched on error */
        assert_int_equal(range.first, 7);
        assert_int_equal(range.last, 8);
    }
}

/* ---- reserved_ports_parse ---- */

static void test_reserved_parse_valid(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        unsigned count;
        uint16_t members[4];
        uint16_t non_members[4];
    } cases[] = {
        { "", 0, { 0 }, { 0, 8080, 65535, 1 } },
        { "\n", 0, { 0 }, { 0, 8080, 65535, 1 } },
        { "8080", 1, { 8080, 8080, 8080, 8080 }, { 8079, 8081, 0, 80 } },
        { "1000-1002,8080\n", 4, { 1000, 1001, 1002, 8080 }, { 999, 1003, 8079, 8081 } },
        { "0,65535\n", 2, { 0, 65535, 0, 65535 }, { 1, 65534, 32768, 2 } },
        { "1-65535\n", 65535, { 1, 2, 65534, 65535 }, { 0, 0, 0, 0 } },
        { "5-5", 1, { 5, 5, 5, 5 }, { 4, 6, 0, 55 } },
        { " 8080 , 9090 \n", 2, { 8080, 9090, 8080, 9090 }, { 8081, 9091, 0, 80 } },
        { "10-20,15-25", 16, { 10, 15, 20, 25 }, { 9, 26, 0, 30 } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct port_set set;
        port_set_clear(&set);
        port_set_add(&set, 31337);   /* the parser replaces the set, it does not add to it */
        struct pr_error err = { 0 };
        if (reserved_ports_parse(cases[i].text, &set, &err) != 0)
            fail_msg("\"%s\": %s", cases[i].text, err.message);
        if (port_set_count(&set) != cases[i].count)
            fail_msg("\"%s\": %u ports, expected %u", cases[i].text, port_set_count(&set),
                     cases[i].count);
        for (size_t k = 0; k < 4 && cases[i].count; k++)
            if (!port_set_has(&set, cases[i].members[k]))
                fail_msg("\"%s\": %u missing", cases[i].text, cases[i].members[k]);
        for (size_t k = 0; k < 4 && cases[i].count < 65535; k++)
            if (port_set_has(&set, cases[i].non_members[k]))
                fail_msg("\"%s\": %u should not be there", cases[i].text,
                         cases[i].non_members[k]);
    }
}

static const struct parse_error_case reserved_errors[] = {
    { "8080,", 1, 6, "empty item" },
    { "8080,\n", 1, 6, "empty item" },
    { ",8080", 1, 1, "empty item" },
    { "8080,,9090", 1, 6, "empty item" },
    { "80x", 1, 3, "unexpected character 'x'" },
    { "1002-1000", 1, 1, "range 1002-1000 is reversed" },
    { "8080,1002-1000", 1, 6, "range 1002-1000 is reversed" },
    { "70000", 1, 1, "port \"70000\" is out of range 0-65535" },
    { "1-65536", 1, 3, "port \"65536\" is out of range 0-65535" },
    { "1-", 1, 3, "expected a port number" },
    { "1-x", 1, 3, "unexpected character 'x'" },
    { "8080\n9090", 2, 1, "unexpected character '9'" },
    { "8080 9090", 1, 6, "unexpected character '9'" },
    { "-5", 1, 1, "unexpected character '-'" },
    { "8080;9090", 1, 5, "unexpected character ';'" },
    { "1 - 2", 1, 3, "unexpected character '-'" },
};

static void test_reserved_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof reserved_errors / sizeof reserved_errors[0]; i++) {
        const struct parse_error_case *tc = &reserved_errors[i];
        struct port_set set;
        port_set_clear(&set);
        port_set_add(&set, 7);
        struct pr_error err = { 0 };
        int r = reserved_ports_parse(tc->text, &set, &err);
        if (r != -EINVAL || err.code != -EINVAL)
            fail_msg("\"%s\": returned %d, expected -EINVAL", tc->text, r);
        if (err.line != tc->line || err.column != tc->column ||
            strcmp(err.message, tc->message) != 0)
            fail_msg("\"%s\": %u:%u \"%s\", expected %u:%u \"%s\"", tc->text, err.line,
                     err.column, err.message, tc->line, tc->column, tc->message);
        /* out is untouched on error */
        assert_int_equal(port_set_count(&set), 1);
        assert_true(port_set_has(&set, 7));
    }
}

/* ---- local_ports_read against fixture trees ---- */

static const char *fixtures_dir(void)
{
    const char *dir = getenv("PORTREG_FIXTURES");
    if (!dir)
        fail_msg("PORTREG_FIXTURES is not set (run through meson test)");
    return dir;
}

static void fixture_root(char *buf, size_t size, const char *tree)
{
    int n = snprintf(buf, size, "%s/proc/%s", fixtures_dir(), tree);
    assert_true(n > 0 && (size_t)n < size);
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t len = strlen(text), suffix_len = strlen(suffix);
    return len >= suffix_len && strcmp(text + len - suffix_len, suffix) == 0;
}

static void test_read_default_tree(void **state)
{
    (void)state;
    char root[4096];
    fixture_root(root, sizeof root, "default");
    struct local_ports lp;
    struct pr_error err = { 0 };
    assert_int_equal(local_ports_read(root, &lp, &err), 0);
    assert_true(lp.have_ephemeral);
    assert_true(lp.have_reserved);
    assert_int_equal(lp.ephemeral.first, 32768);
    assert_int_equal(lp.ephemeral.last, 60999);
    assert_int_equal(port_set_count(&lp.reserved), 0);
    assert_true(local_ports_is_ephemeral(&lp, 32768));
    assert_true(local_ports_is_ephemeral(&lp, 45000));
    assert_true(local_ports_is_ephemeral(&lp, 60999));
    assert_false(local_ports_is_ephemeral(&lp, 32767));
    assert_false(local_ports_is_ephemeral(&lp, 61000));
    assert_false(local_ports_is_ephemeral(&lp, 7678));
    assert_false(local_ports_is_reserved(&lp, 8080));
}

static void test_read_reserved_tree(void **state)
{
    (void)state;
    char root[4096];
    fixture_root(root, sizeof root, "reserved");
    struct local_ports lp;
    struct pr_error err = { 0 };
    assert_int_equal(local_ports_read(root, &lp, &err), 0);
    assert_int_equal(lp.ephemeral.first, 40000);
    assert_int_equal(lp.ephemeral.last, 59999);
    assert_int_equal(port_set_count(&lp.reserved), 3 + 1 + 11);
    assert_true(local_ports_is_reserved(&lp, 1000));
    assert_true(local_ports_is_reserved(&lp, 1002));
    assert_false(local_ports_is_reserved(&lp, 1003));
    assert_true(local_ports_is_reserved(&lp, 8080));
    assert_true(local_ports_is_reserved(&lp, 50010));
    assert_false(local_ports_is_reserved(&lp, 50011));
    /* 50005 is both in the ephemeral range and reserved out of it */
    assert_true(local_ports_is_ephemeral(&lp, 50005));
    assert_true(local_ports_is_reserved(&lp, 50005));
    assert_false(local_ports_is_ephemeral(&lp, 8080));
}

static void test_read_range_only_tree(void **state)
{
    (void)state;
    char root[4096];
    fixture_root(root, sizeof root, "range_only");
    struct local_ports lp;
    struct pr_error err = { 0 };
    assert_int_equal(local_ports_read(root, &lp, &err), 0);
    assert_true(lp.have_ephemeral);
    assert_false(lp.have_reserved);
    assert_int_equal(lp.ephemeral.first, 1024);
    assert_int_equal(lp.ephemeral.last, 65535);
    assert_true(local_ports_is_ephemeral(&lp, 65535));
    assert_false(local_ports_is_reserved(&lp, 1024));
    assert_int_equal(err.code, 0);
}

static void test_read_missing_root(void **state)
{
    (void)state;
    char root[4096];
    fixture_root(root, sizeof root, "no-such-tree");
    struct local_ports lp;
    memset(&lp, 0xff, sizeof lp);
    struct pr_error err = { 0 };
    assert_int_equal(local_ports_read(root, &lp, &err), 0);
    assert_false(lp.have_ephemeral);
    assert_false(lp.have_reserved);
    assert_int_equal(port_set_count(&lp.reserved), 0);
    assert_false(local_ports_is_ephemeral(&lp, 40000));
    assert_false(local_ports_is_reserved(&lp, 40000));
    assert_int_equal(err.code, 0);
}

static void test_read_broken_trees(void **state)
{
    (void)state;
    static const struct {
        const char *tree, *file;
        unsigned column;
        const char *message;
    } cases[] = {
        { "broken_range", "/sys/net/ipv4/ip_local_port_range", 1,
          "range 60999-32768 is reversed" },
        { "broken_reserved", "/sys/net/ipv4/ip_local_reserved_ports", 8,
          "unexpected character 'x'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char root[4096], want_path[4200];
        fixture_root(root, sizeof root, cases[i].tree);
        snprintf(want_path, sizeof want_path, "%s%s", root, cases[i].file);
        struct local_ports lp;
        struct pr_error err = { 0 };
        assert_int_equal(local_ports_read(root, &lp, &err), -EINVAL);
        assert_int_equal(err.code, -EINVAL);
        assert_string_equal(err.path, want_path);
        assert_int_equal(err.line, 1);
        assert_int_equal(err.column, cases[i].column);
        assert_string_equal(err.message, cases[i].message);
        assert_false(lp.have_ephemeral);
        assert_false(lp.have_reserved);
        char formatted[1200];
        assert_true(ends_with(pr_error_format(&err, formatted, sizeof formatted),
                              cases[i].message));
    }
}

/* ---- local_ports_read against trees built at run time ---- */

struct temp_tree {
    char root[64];
    char dir[128];
};

static void temp_tree_create(struct temp_tree *tree)
{
    snprintf(tree->root, sizeof tree->root, "/tmp/portreg-test-local-ports-XXXXXX");
    assert_non_null(mkdtemp(tree->root));
    char path[200];
    snprintf(path, sizeof path, "%s/sys", tree->root);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/sys/net", tree->root);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(tree->dir, sizeof tree->dir, "%s/sys/net/ipv4", tree->root);
    assert_int_equal(mkdir(tree->dir, 0700), 0);
}

static void temp_tree_write(const struct temp_tree *tree, const char *name, const char *data,
                            size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tree->dir, name);
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(data, 1, len, file), len);
    assert_int_equal(fclose(file), 0);
}

static void temp_tree_remove(const struct temp_tree *tree)
{
    static const char *const names[] = { "ip_local_port_range", "ip_local_reserved_ports" };
    char path[256];
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", tree->dir, names[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    rmdir(tree->dir);
    snprintf(path, sizeof path, "%s/sys/net", tree->root);
    rmdir(path);
    snprintf(path, sizeof path, "%s/sys", tree->root);
    rmdir(path);
    assert_int_equal(rmdir(tree->root), 0);
}

static void test_read_long_reserved_list(void **state)
{
    (void)state;
    struct temp_tree tree;
    temp_tree_create(&tree);
    /* Every other port from 10000: far beyond a small stack buffer. */
    size_t size = 5000 * 7 + 2, used = 0;
    char *list = malloc(size);
    assert_non_null(list);
    for (unsigned i = 0; i < 5000; i++)
        used += (size_t)snprintf(list + used, size - used, "%s%u", i ? "," : "", 10000 + 2 * i);
    list[used++] = '\n';
    temp_tree_write(&tree, "ip_local_reserved_ports", list, used);
    free(list);
    temp_tree_write(&tree, "ip_local_port_range", "32768\t60999\n", 12);

    struct local_ports lp;
    struct pr_error err = { 0 };
    int r = local_ports_read(tree.root, &lp, &err);
    temp_tree_remove(&tree);
    if (r != 0)
        fail_msg("%d %s: %s", r, err.path, err.message);
    assert_int_equal(port_set_count(&lp.reserved), 5000);
    assert_true(local_ports_is_reserved(&lp, 10000));
    assert_false(local_ports_is_reserved(&lp, 10001));
    assert_true(local_ports_is_reserved(&lp, 19998));
    assert_false(local_ports_is_reserved(&lp, 20000));
}

static void test_read_nul_byte(void **state)
{
    (void)state;
    struct temp_tree tree;
    temp_tree_create(&tree);
    temp_tree_write(&tree, "ip_local_port_range", "32768\t60999\n", 12);
    temp_tree_write(&tree, "ip_local_reserved_ports", "8080\0junk\n", 10);
    struct local_ports lp;
    struct pr_error err = { 0 };
    int r = local_ports_read(tree.root, &lp, &err);
    temp_tree_remove(&tree);
    assert_int_equal(r, -EINVAL);
    assert_int_equal(err.column, 5);
    assert_string_equal(err.message, "unexpected character '\\x00'");
    assert_true(ends_with(err.path, "/sys/net/ipv4/ip_local_reserved_ports"));
    assert_false(lp.have_ephemeral);
}

static void test_read_empty_range_file(void **state)
{
    (void)state;
    struct temp_tree tree;
    temp_tree_create(&tree);
    temp_tree_write(&tree, "ip_local_port_range", "", 0);
    struct local_ports lp;
    struct pr_error err = { 0 };
    int r = local_ports_read(tree.root, &lp, &err);
    temp_tree_remove(&tree);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err.message, "empty port range");
    assert_true(ends_with(err.path, "/sys/net/ipv4/ip_local_port_range"));
}

static void test_read_directory_is_io_error(void **state)
{
    (void)state;
    struct temp_tree tree;
    temp_tree_create(&tree);
    char path[256];
    snprintf(path, sizeof path, "%s/ip_local_port_range", tree.dir);
    assert_int_equal(mkdir(path, 0700), 0);
    struct local_ports lp;
    struct pr_error err = { 0 };
    int r = local_ports_read(tree.root, &lp, &err);
    temp_tree_remove(&tree);
    /* Present but unreadable is a runtime failure, not "missing". */
    assert_int_equal(r, -EISDIR);
    assert_string_equal(err.path, path);
    assert_false(lp.have_ephemeral);
}

static void test_read_oversize_file(void **state)
{
    (void)state;
    struct temp_tree tree;
    temp_tree_create(&tree);
    size_t size = (1u << 20) + 100;
    char *spaces = malloc(size);
    assert_non_null(spaces);
    memset(spaces, ' ', size);
    temp_tree_write(&tree, "ip_local_port_range", spaces, size);
    free(spaces);
    struct local_ports lp;
    struct pr_error err = { 0 };
    int r = local_ports_read(tree.root, &lp, &err);
    temp_tree_remove(&tree);
    assert_int_equal(r, -EFBIG);
    assert_true(ends_with(err.path, "/sys/net/ipv4/ip_local_port_range"));
}

/* ---- this host ---- */

static void test_read_real_proc(void **state)
{
    (void)state;
    const char *range_path = "/proc/sys/net/ipv4/ip_local_port_range";
    FILE *file = fopen(range_path, "r");
    if (!file) {
        print_message("skipping: %s is not readable here (not Linux?)\n", range_path);
        skip();
    }
    unsigned first = 0, last = 0;
    int fields = fscanf(file, "%u %u", &first, &last);
    fclose(file);
    assert_int_equal(fields, 2);

    struct local_ports lp;
    struct pr_error err = { 0 };
    int r = local_ports_read(NULL, &lp, &err);
    if (r != 0)
        fail_msg("%s: %s", err.path, err.message);
    assert_true(lp.have_ephemeral);
    assert_true(lp.ephemeral.first <= lp.ephemeral.last);
    assert_int_equal(lp.ephemeral.first, first);
    assert_int_equal(lp.ephemeral.last, last);
    assert_true(local_ports_is_ephemeral(&lp, lp.ephemeral.first));
    assert_true(local_ports_is_ephemeral(&lp, lp.ephemeral.last));

    struct local_ports same;
    assert_int_equal(local_ports_read("/proc", &same, NULL), 0);
    assert_int_equal(same.ephemeral.first, lp.ephemeral.first);
    assert_int_equal(same.have_reserved, lp.have_reserved);
    assert_int_equal(port_set_count(&same.reserved), port_set_count(&lp.reserved));
}

static void test_helpers_respect_have_flags(void **state)
{
    (void)state;
    struct local_ports lp;
    memset(&lp, 0, sizeof lp);
    lp.ephemeral.first = 1;
    lp.ephemeral.last = 65535;
    port_set_add(&lp.reserved, 80);
    assert_false(local_ports_is_ephemeral(&lp, 80));
    assert_false(local_ports_is_reserved(&lp, 80));
    lp.have_ephemeral = lp.have_reserved = true;
    assert_true(local_ports_is_ephemeral(&lp, 80));
    assert_true(local_ports_is_reserved(&lp, 80));
    assert_false(local_ports_is_ephemeral(&lp, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_parse_valid),
        cmocka_unit_test(test_range_parse_errors),
        cmocka_unit_test(test_reserved_parse_valid),
        cmocka_unit_test(test_reserved_parse_errors),
        cmocka_unit_test(test_read_default_tree),
        cmocka_unit_test(test_read_reserved_tree),
        cmocka_unit_test(test_read_range_only_tree),
        cmocka_unit_test(test_read_missing_root),
        cmocka_unit_test(test_read_broken_trees),
        cmocka_unit_test(test_read_long_reserved_list),
        cmocka_unit_test(test_read_nul_byte),
        cmocka_unit_test(test_read_empty_range_file),
        cmocka_unit_test(test_read_directory_is_io_error),
        cmocka_unit_test(test_read_oversize_file),
        cmocka_unit_test(test_read_real_proc),
        cmocka_unit_test(test_helpers_respect_have_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
