/* test_server_registry.c — the swappable registry index (src/server/server_registry.c): a
 * generation taken before a swap stays readable (names from its IANA lookup too) until it is
 * released; ids grow; the pinned generation is what lookups read; and threads taking and
 * dropping generations while the main thread swaps (run under ASan: no use after free). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* the fixture's cmocka setup/teardown are not used here: indexes are made per swap */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "index_fixture.h"
#pragma GCC diagnostic pop
#include "server/server_registry.h"

/* An index of the fixture, its image kept by the caller (freed after the index is closed). */
static struct registry_index *fixture_index(struct index_fixture *f)
{
    assert_int_equal(index_fixture_build(f), 0);
    struct registry_index *ix = f->ix;
    f->ix = NULL;   /* the holder closes it */
    return ix;
}

static void test_old_generation_outlives_swap(void **state)
{
    (void)state;
    struct index_fixture a, b;
    struct server_registry *holder = server_registry_create(fixture_index(&a));
    assert_non_null(holder);
    struct server_registry_generation *first = server_registry_acquire(holder);
    assert_non_null(first);
    assert_int_equal(first->id, 1);
    assert_true(first->entries > 0);
    server_registry_pin(first);
    const char *names[4];
    assert_int_equal(server_registry_iana_lookup(holder, 3306, REGISTRY_PROTO_TCP, names, 4), 1);
    uint64_t id = 0;
    assert_true(server_registry_replace(holder, fixture_index(&b), &id));
    assert_int_equal(id, 2);
    /* the request that started before the swap still reads its own index */
    assert_string_equal(names[0], "mysql");
    assert_int_equal(server_registry_iana_lookup(holder, 3306, REGISTRY_PROTO_TCP, names, 4), 1);
    struct server_registry_generation *second = server_registry_acquire(holder);
    assert_ptr_not_equal(second, first);
    assert_int_equal(second->id, 2);
    server_registry_pin(NULL);
    server_registry_release(first);   /* the last reference: index a is closed now */
    /* not pinned: the current one */
    assert_int_equal(server_registry_iana_lookup(holder, 22, REGISTRY_PROTO_TCP, names, 4), 1);
    assert_string_equal(names[0], "ssh");
    server_registry_release(second);
    server_registry_free(holder);
    index_fixture_free(&a);
    index_fixture_free(&b);
}

static void test_empty_holder(void **state)
{
    (void)state;
    struct server_registry *holder = server_registry_create(NULL);
    assert_non_null(holder);
    assert_null(server_registry_acquire(holder));
    const char *names[4];
    assert_int_equal(server_registry_iana_lookup(holder, 22, REGISTRY_PROTO_TCP, names, 4), 0);
    server_registry_free(holder);
}

struct reader_ctx {
    struct server_registry *holder;
    atomic_bool stop;
    atomic_ulong reads;
};

static void *reader(void *arg)
{
    struct reader_ctx *ctx = arg;
    while (!atomic_load(&ctx->stop)) {
        struct server_registry_generation *g = server_registry_acquire(ctx->holder);
        server_registry_pin(g);
        const char *names[4];
        size_t n = server_registry_iana_lookup(ctx->holder, 80, REGISTRY_PROTO_TCP, names, 4);
        if (n != 1 || strcmp(names[0], "http") != 0)
            abort();
        server_registry_pin(NULL);
        server_registry_release(g);
        atomic_fetch_add(&ctx->reads, 1);
    }
    return NULL;
}

static void test_swaps_under_readers(void **state)
{
    (void)state;
    enum { SWAPS = 200, READERS = 4 };
    struct index_fixture *fixtures = calloc(SWAPS + 1, sizeof *fixtures);
    assert_non_null(fixtures);
    struct reader_ctx ctx = { .holder = server_registry_create(fixture_index(&fixtures[0])) };
    assert_non_null(ctx.holder);
    pthread_t threads[READERS];
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, reader, &ctx), 0);
    for (int i = 1; i <= SWAPS; i++)
        assert_true(server_registry_replace(ctx.holder, fixture_index(&fixtures[i]), NULL));
    atomic_store(&ctx.stop, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(threads[i], NULL);
    assert_true(atomic_load(&ctx.reads) > 0);
    server_registry_free(ctx.holder);
    for (int i = 0; i <= SWAPS; i++)
        index_fixture_free(&fixtures[i]);
    free(fixtures);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_generation_outlives_swap),
        cmocka_unit_test(test_empty_holder),
        cmocka_unit_test(test_swaps_under_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
