/* test_dl_symbols.c — the dlopen symbol-table helper behind the five optional-library loaders:
 * it resolves a table into typed slots, tries sonames in order, and a missing library or
 * symbol is -ENOPKG naming it and the package, with every slot left NULL. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "util/dl_symbols.h"

struct libc_api {
    __typeof__(&strlen) length;
    __typeof__(&strcmp) compare;
};

static const char *const libc_sonames[] = { "libportreg-absent.so.9", "libc.so.6" };
static const struct dl_library libc_library = { "libc", "libc6", libc_sonames, 2 };

static void test_resolves_a_table_trying_sonames_in_order(void **state)
{
    (void)state;
    struct libc_api api = { 0 };
    const struct dl_symbol symbols[] = {
        DL_SYMBOL(&api.length, strlen),
        DL_SYMBOL(&api.compare, strcmp),
    };
    void *handle = NULL;
    struct pr_error err = { 0 };
    assert_int_equal(dl_symbols_load(&libc_library, symbols, 2, 0, &handle, &err), 0);
    assert_non_null(handle);
    assert_int_equal(api.length("four"), 4);
    assert_int_equal(api.compare("a", "a"), 0);
    dlclose(handle);
}

static void test_missing_symbol_names_it_and_the_package(void **state)
{
    (void)state;
    struct libc_api api = { 0 };
    void *not_there = NULL;
    const struct dl_symbol symbols[] = {
        DL_SYMBOL(&api.length, strlen),
        { "portreg_no_such_function", &not_there },
    };
    void *handle = &api;
    struct pr_error err = { 0 };
    assert_int_equal(dl_symbols_load(&libc_library, symbols, 2, 0, &handle, &err), -ENOPKG);
    assert_null(handle);
    assert_null(api.length);                 /* nothing half-loaded */
    assert_non_null(strstr(err.message, "libc lacks portreg_no_such_function"));
    assert_non_null(strstr(err.message, "libc6"));
}

static void test_missing_library_names_the_package(void **state)
{
    (void)state;
    static const char *const none[] = { "libportreg-absent.so.9" };
    const struct dl_library absent = { "libabsent", "libabsent9", none, 1 };
    struct libc_api api = { 0 };
    const struct dl_symbol symbols[] = { DL_SYMBOL(&api.length, strlen) };
    void *handle = NULL;
    struct pr_error err = { 0 };
    assert_int_equal(dl_symbols_load(&absent, symbols, 1, 0, &handle, &err), -ENOPKG);
    assert_null(handle);
    assert_non_null(strstr(err.message, "libabsent is not installed (Debian package libabsent9)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolves_a_table_trying_sonames_in_order),
        cmocka_unit_test(test_missing_symbol_names_it_and_the_package),
        cmocka_unit_test(test_missing_library_names_the_package),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
