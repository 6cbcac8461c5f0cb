/* test_procmap.c — unit tests for the socket holder map (procmap.c) and the /proc walk
 * (procmap_proc.c). The map core is checked directly (ordering, duplicates, wanted sets, early
 * stop, a large random load against a reference); the walk runs over the fixture tree in
 * $PORTREG_FIXTURES/procfs/basic and over real sockets held by forked children. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/process_info.h"
#include "net/procmap.h"

/* ---- helpers ---- */

struct expected_holder {
    uint64_t inode;
    uint32_t pid;
    int32_t fd;
};

static int expected_holder_order(const void *a, const void *b)
{
    const struct expected_holder *x = a, *y = b;
    if (x->inode != y->inode)
        return x->inode < y->inode ? -1 : 1;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return (x->fd > y->fd) - (x->fd < y->fd);
}

/* holders of inode must be exactly the expected entries with that inode, in pid/fd order. */
static void assert_holders(const struct procmap *pm, uint64_t inode,
                           const struct expected_holder *expected, size_t expected_count)
{
    struct expected_holder *wanted = calloc(expected_count + 1, sizeof *wanted);
    assert_non_null(wanted);
    size_t n = 0;
    for (size_t i = 0; i < expected_count; i++)
        if (expected[i].inode == inode)
            wanted[n++] = expected[i];
    qsort(wanted, n, sizeof *wanted, expected_holder_order);
    const struct socket_holder *holders = NULL;
    size_t count = procmap_holders(pm, inode, &holders);
    if (count != n) {
        free(wanted);
        fail_msg("inode %llu: %zu holders, expected %zu", (unsigned long long)inode, count, n);
    }
    if (n == 0)
        assert_null(holders);
    for (size_t i = 0; i < n; i++) {
        if (holders[i].pid != wanted[i].pid || holders[i].fd != wanted[i].fd) {
            struct expected_holder bad = wanted[i];
            free(wanted);
            fail_msg("inode %llu holder %zu: (%u, %d), expected (%u, %d)",
                     (unsigned long long)inode, i, holders[i].pid, holders[i].fd, bad.pid,
                     bad.fd);
        }
    }
    free(wanted);
}

static const char *fixture_proc_root(char *buffer, size_t size)
{
    const char *fixtures = getenv("PORTREG_FIXTURES");
    if (!fixtures)
        fail_msg("PORTREG_FIXTURES is not set");
    snprintf(buffer, size, "%s/procfs/basic", fixtures);
    return buffer;
}

/* A temporary directory a test builds a proc tree in; the teardown removes it even when the
 * test failed part way. */
struct temp_tree {
    char path[64];
};

static int temp_tree_setup(void **state)
{
    struct temp_tree *tree = calloc(1, sizeof *tree);
    if (!tree)
        return -1;
    snprintf(tree->path, sizeof tree->path, "/tmp/portreg-procmap-XXXXXX");
    if (!mkdtemp(tree->path)) {
        free(tree);
        return -1;
    }
    *state = tree;
    return 0;
}

static int temp_tree_remove_entry(const char *path, const struct stat *st, int type,
                                  struct FTW *walk)
{
    (void)st;
    (void)type;
    (void)walk;
    return remove(path);
}

static int temp_tree_teardown(void **state)
{
    struct temp_tree *tree = *state;
    int r = nftw(tree->path, temp_tree_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(tree);
    return r;
}

/* ---- the map core ---- */

static void test_core_orders_and_dedups(void **state)
{
    (void)state;
    struct procmap *pm = procmap_new(2, NULL, 0);
    assert_non_null(pm);
    assert_true(procmap_is_wanted(pm, 42));
    /* out of order, across shards, with one descriptor reported twice */
    assert_false(procmap_add(pm, 1, 500, 30, 9));
    assert_false(procmap_add(pm, 0, 500, 7, 4));
    assert_false(procmap_add(pm, 0, 100, 12, 3));
    assert_false(procmap_add(pm, 1, 500, 7, 2));
    assert_false(procmap_add(pm, 1, 500, 30, 9));
    assert_false(procmap_add(pm, 0, (uint64_t)1 << 40, 1, 1));
    assert_false(procmap_add(pm, 1, 300, 5, 0));
    assert_int_equal(procmap_finish(pm), 0);
    assert_int_equal(procmap_finish(pm), 0);   /* idempotent */

    const struct expected_holder expected[] = {
        { 500, 7, 2 }, { 500, 7, 4 }, { 500, 30, 9 }, { 100, 12, 3 },
        { (uint64_t)1 << 40, 1, 1 }, { 300, 5, 0 },
    };
    size_t n = sizeof expected / sizeof expected[0];
    assert_holders(pm, 500, expected, n);
    assert_holders(pm, 100, expected, n);
    assert_holders(pm, 300, expected, n);
    assert_holders(pm, (uint64_t)1 << 40, expected, n);
    assert_holders(pm, 501, expected, n);
    assert_holders(pm, 0, expected, n);
    assert_holders(pm, (uint64_t)1 << 41, expected, n);
    procmap_free(pm);
}

static void test_core_wanted_set_stops_early(void **state)
{
    (void)state;
    const uint64_t wanted[] = { 0, 5, 9, 9, 13 };   /* 0 and repeats are ignored */
    struct procmap *pm = procmap_new(1, wanted, sizeof wanted / sizeof wanted[0]);
    assert_non_null(pm);
    assert_true(procmap_is_wanted(pm, 5));
    assert_true(procmap_is_wanted(pm, 13));
    assert_false(procmap_is_wanted(pm, 0));
    assert_false(procmap_is_wanted(pm, 6));

    assert_false(procmap_add(pm, 0, 6, 1, 1));    /* not wanted: not recorded */
    assert_false(procmap_add(pm, 0, 5, 2, 3));
    assert_false(procmap_add(pm, 0, 5, 4, 3));    /* second holder of a found inode */
    assert_false(procmap_add(pm, 0, 9, 2, 4));
    assert_true(procmap_add(pm, 0, 13, 8, 8));    /* the last wanted inode */
    assert_true(procmap_add(pm, 0, 77, 8, 9));    /* still done */
    assert_true(procmap_add(pm, 0, 9, 3, 3));     /* still recorded, still done */
    assert_int_equal(procmap_finish(pm), 0);

    const struct expected_holder expected[] = {
        { 5, 2, 3 }, { 5, 4, 3 }, { 9, 2, 4 }, { 9, 3, 3 }, { 13, 8, 8 },
    };
    size_t n = sizeof expected / sizeof expected[0];
    for (uint64_t inode = 0; inode < 100; inode++)
        assert_holders(pm, inode, expected, n);
    procmap_free(pm);
}

static void test_core_empty_wanted_set(void **state)
{
    (void)state;
    const uint64_t nothing[] = { 0 };
    struct procmap *pm = procmap_new(1, nothing, 0);
    assert_non_null(pm);
    assert_false(procmap_is_wanted(pm, 1));
    assert_true(procmap_add(pm, 0, 1, 1, 1));   /* nothing is wanted: done at once */
    assert_int_equal(procmap_finish(pm), 0);
    const struct socket_holder *holders = (const struct socket_holder *)pm;
    assert_int_equal(procmap_holders(pm, 1, &holders), 0);
    assert_null(holders);
    procmap_free(pm);

    pm = procmap_new(1, nothing, 1);   /* only inode 0: nothing can be found either */
    assert_non_null(pm);
    assert_true(procmap_add(pm, 0, 1, 1, 1));
    procmap_free(pm);                  /* freed without finishing */
    procmap_free(NULL);
}

static void test_core_rejects_bad_shard(void **state)
{
    (void)state;
    struct procmap *pm = procmap_new(2, NULL, 0);
    assert_non_null(pm);
    assert_false(procmap_add(pm, 1, 10, 1, 1));
    assert_true(procmap_add(pm, 2, 11, 1, 2));   /* stop the collector */
    assert_int_equal(procmap_finish(pm), -EINVAL);
    procmap_free(pm);
}

/* A deterministic generator for the large test (xorshift64*). */
static uint64_t test_random(uint64_t *seed)
{
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    return *seed * 0x2545F4914F6CDD1Dull;
}

static int inode_order(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static bool inode_in(const uint64_t *sorted, size_t count, uint64_t inode)
{
    return bsearch(&inode, sorted, count, sizeof *sorted, inode_order) != NULL;
}

/* 200k records over SHARDS shards, inodes in [low, low + span), 1 in 8 shared with an earlier
 * record; with a wanted set (a third of the inodes and some absent ones) or everything wanted.
 * Every inode's holders must match a reference built with qsort. */
static void check_random_load(uint64_t low, uint64_t span, bool with_wanted)
{
    enum { RECORDS = 200000, SHARDS = 4 };
    struct expected_holder *records = malloc(RECORDS * sizeof *records);
    uint64_t *wanted = malloc((RECORDS / 3 + 1 + 200) * sizeof *wanted);
    assert_non_null(records);
    assert_non_null(wanted);
    size_t wanted_count = 0;
    uint64_t seed = 0x1234567 ^ span;
    for (size_t i = 0; i < RECORDS; i++) {
        uint64_t r = test_random(&seed);
        uint64_t inode = (i % 8 == 7) ? records[i - 1 - r % 7].inode : low + r % span;
        records[i] = (struct expected_holder){ inode, (uint32_t)(1 + (r >> 40) % 50000),
                                               (int32_t)((r >> 20) % 20000) };
        if (i % 3 == 0)
            wanted[wanted_count++] = inode;
    }
    for (size_t i = 0; i < 200; i++)   /* wanted but held by nobody (maybe) */
        wanted[wanted_count++] = low + test_random(&seed) % (span * 2);
    qsort(wanted, wanted_count, sizeof *wanted, inode_order);

    struct procmap *pm = with_wanted ? procmap_new(SHARDS, wanted, wanted_count)
                                     : procmap_new(SHARDS, NULL, 0);
    assert_non_null(pm);
    for (size_t i = 0; i < RECORDS; i++)
        procmap_add(pm, (unsigned)(i % SHARDS), records[i].inode, records[i].pid,
                    records[i].fd);
    assert_int_equal(procmap_finish(pm), 0);

    qsort(records, RECORDS, sizeof *records, expected_holder_order);
    size_t distinct = 0, checked = 0;
    for (size_t start = 0; start < RECORDS;) {
        size_t end = start;
        while (end < RECORDS && records[end].inode == records[start].inode)
            end++;
        /* drop exact repeats from the reference, as the map does */
        size_t unique = 0;
        for (size_t i = start; i < end; i++)
            if (unique == 0 || expected_holder_order(&records[start + unique - 1], &records[i]))
                records[start + unique++] = records[i];
        if (with_wanted && !inode_in(wanted, wanted_count, records[start].inode))
            unique = 0;
        const struct socket_holder *holders = NULL;
        size_t count = procmap_holders(pm, records[start].inode, &holders);
        if (count != unique)
            fail_msg("inode %llu: %zu holders, expected %zu",
                     (unsigned long long)records[start].inode, count, unique);
        for (size_t i = 0; i < unique; i++) {
            assert_int_equal(holders[i].pid, records[start + i].pid);
            assert_int_equal(holders[i].fd, records[start + i].fd);
        }
        checked += unique;
        distinct++;
        start = end;
    }
    assert_true(distinct > RECORDS / 4);
    assert_true(checked > (with_wanted ? RECORDS / 4 : RECORDS / 2));
    size_t absent = 0;
    for (size_t i = 0; i < wanted_count; i++) {   /* wanted inodes nobody holds: no holders */
        size_t lo = 0, hi = RECORDS;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (records[mid].inode < wanted[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < RECORDS && records[lo].inode == wanted[i])
            continue;
        const struct socket_holder *holders = (const struct socket_holder *)pm;
        assert_int_equal(procmap_holders(pm, wanted[i], &holders), 0);
        assert_null(holders);
        absent++;
    }
    assert_true(absent > 0);
    free(records);
    free(wanted);
    procmap_free(pm);
}

/* Dense inodes (a bitmap ranks them) and inodes over 40 bits (a hash ranks them). */
static void test_core_large_random_load(void **state)
{
    (void)state;
    check_random_load(5000000, 400000, false);
    check_random_load(5000000, 400000, true);
    check_random_load(1, (uint64_t)1 << 40, false);
    check_random_load(1, (uint64_t)1 << 40, true);
    check_random_load(UINT64_MAX - 300000, 150000, true);   /* near the top of the range */
}

/* One socket held by many descriptors (a pre-forked server): a long run, reverse order. */
static void test_core_long_holder_run(void **state)
{
    (void)state;
    enum { HOLDERS = 300 };
    struct expected_holder expected[HOLDERS];
    struct procmap *pm = procmap_new(3, NULL, 0);
    assert_non_null(pm);
    for (int i = HOLDERS - 1; i >= 0; i--) {
        expected[i] = (struct expected_holder){ 777, (uint32_t)(1000 + i / 3), 10 + i % 3 };
        assert_false(procmap_add(pm, (unsigned)i % 3, 777, expected[i].pid, expected[i].fd));
        assert_false(procmap_add(pm, 0, 100000 + (uint64_t)i, 1, i));
    }
    assert_int_equal(procmap_finish(pm), 0);
    assert_holders(pm, 777, expected, HOLDERS);
    procmap_free(pm);
}

/* The bitmap's last word: a span of exactly 64 bits, and lookups just outside it. */
static void test_core_bitmap_edges(void **state)
{
    (void)state;
    const uint64_t wanted[] = { 100, 163 };
    struct procmap *pm = procmap_new(1, wanted, 2);
    assert_non_null(pm);
    for (uint64_t inode = 0; inode < 300; inode++)
        assert_int_equal(procmap_is_wanted(pm, inode), inode == 100 || inode == 163);
    assert_false(procmap_add(pm, 0, 164, 1, 1));
    assert_false(procmap_add(pm, 0, 163, 1, 2));
    assert_true(procmap_add(pm, 0, 100, 1, 3));
    assert_int_equal(procmap_finish(pm), 0);
    const struct expected_holder expected[] = { { 163, 1, 2 }, { 100, 1, 3 } };
    for (uint64_t inode = 0; inode < 300; inode++)
        assert_holders(pm, inode, expected, 2);
    assert_holders(pm, UINT64_MAX, expected, 2);
    procmap_free(pm);
}

/* A wanted set too spread out for a bitmap stops early just the same. */
static void test_core_sparse_wanted_set(void **state)
{
    (void)state;
    const uint64_t wanted[] = { 5, (uint64_t)1 << 40, UINT64_MAX, 9 };
    struct procmap *pm = procmap_new(2, wanted, 4);
    assert_non_null(pm);
    assert_true(procmap_is_wanted(pm, (uint64_t)1 << 40));
    assert_true(procmap_is_wanted(pm, UINT64_MAX));
    assert_false(procmap_is_wanted(pm, ((uint64_t)1 << 40) + 1));
    assert_false(procmap_add(pm, 0, UINT64_MAX, 1, 1));
    assert_false(procmap_add(pm, 1, 6, 1, 2));
    assert_false(procmap_add(pm, 1, 5, 1, 3));
    assert_false(procmap_add(pm, 0, (uint64_t)1 << 40, 2, 3));
    assert_true(procmap_add(pm, 1, 9, 2, 4));
    assert_int_equal(procmap_finish(pm), 0);
    const struct expected_holder expected[] = {
        { UINT64_MAX, 1, 1 }, { 5, 1, 3 }, { (uint64_t)1 << 40, 2, 3 }, { 9, 2, 4 },
    };
    assert_holders(pm, UINT64_MAX, expected, 4);
    assert_holders(pm, 5, expected, 4);
    assert_holders(pm, 6, expected, 4);
    assert_holders(pm, 9, expected, 4);
    assert_holders(pm, (uint64_t)1 << 40, expected, 4);
    procmap_free(pm);
}

/* ---- the /proc walk over the fixture tree ---- */

/* 100 and 200 hold sockets; 300/400 have no fd directory; fd/6, 8, 9, 10 are broken links. */
static const struct expected_holder fixture_holders[] = {
    { 12345, 100, 3 }, { 12345, 100, 7 }, { 12346, 100, 4 }, { 12345, 200, 3 },
    { 99999999999ull, 200, 5 }, { 18446744073709551615ull, 200, 14 },
};
static const uint64_t fixture_non_sockets[] = { 555, 777, 123, 12, 4026531840ull, 0 };

static void test_fixture_tree(void **state)
{
    (void)state;
    char root[1024];
    const unsigned thread_counts[] = { 1, 2, 0, 7 };
    for (size_t t = 0; t < sizeof thread_counts / sizeof thread_counts[0]; t++) {
        struct procmap_options opt = { .proc_root = fixture_proc_root(root, sizeof root),
                                       .threads = thread_counts[t],
                                       .method = PROCMAP_METHOD_PROC };
        struct procmap *pm = NULL;
        struct procmap_stats stats;
        struct pr_error err = { 0 };
        if (procmap_build(&opt, &pm, &stats, &err) != 0)
            fail_msg("procmap_build: %s", err.message);
        assert_int_equal(stats.method_used, PROCMAP_METHOD_PROC);
        assert_int_equal(stats.processes, 2);
        assert_int_equal(stats.processes_denied, 0);
        assert_int_equal(stats.descriptors, 16);
        assert_string_equal(stats.bpf_unavailable, "");
        size_t n = sizeof fixture_holders / sizeof fixture_holders[0];
        for (size_t i = 0; i < n; i++)
            assert_holders(pm, fixture_holders[i].inode, fixture_holders, n);
        for (size_t i = 0; i < sizeof fixture_non_sockets / sizeof fixture_non_sockets[0]; i++)
            assert_holders(pm, fixture_non_sockets[i], fixture_holders, n);
        procmap_free(pm);
    }
}

static void test_fixture_tree_wanted(void **state)
{
    (void)state;
    char root[1024];
    const uint64_t wanted[] = { 12346, 99999999999ull, 5555555 };   /* the last is nowhere */
    struct procmap_options opt = { .proc_root = fixture_proc_root(root, sizeof root),
                                   .wanted = wanted, .wanted_count = 3, .threads = 2,
                                   .method = PROCMAP_METHOD_PROC };
    struct procmap *pm = NULL;
    struct procmap_stats stats;
    struct pr_error err = { 0 };
    if (procmap_build(&opt, &pm, &stats, &err) != 0)
        fail_msg("procmap_build: %s", err.message);
    assert_int_equal(stats.processes, 2);   /* not everything found: a full walk */
    const struct expected_holder expected[] = { { 12346, 100, 4 }, { 99999999999ull, 200, 5 } };
    for (size_t i = 0; i < 3; i++)
        assert_holders(pm, wanted[i], expected, 2);
    assert_holders(pm, 12345, expected, 2);   /* held, but not wanted */
    assert_holders(pm, 18446744073709551615ull, expected, 2);
    procmap_free(pm);
}

/* A fixture tree built here with one long fd table (not procfs, so it is listed, not probed):
 * with several workers the listed descriptors are shared out in chunks. */
static void test_fixture_long_listed_table(void **state)
{
    enum { LONG_TABLE = 3000, SHORT_TABLE = 10 };
    const char *root = ((const struct temp_tree *)*state)->path;
    char path[128], target[64];
    struct expected_holder *expected = calloc(LONG_TABLE + SHORT_TABLE, sizeof *expected);
    assert_non_null(expected);
    size_t n = 0;
    const uint32_t pids[] = { 42, 43 };
    const unsigned sizes[] = { LONG_TABLE, SHORT_TABLE };
    for (size_t p = 0; p < 2; p++) {
        snprintf(path, sizeof path, "%s/%u", root, pids[p]);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/%u/fd", root, pids[p]);
        assert_int_equal(mkdir(path, 0755), 0);
        for (unsigned fd = 0; fd < sizes[p]; fd++) {
            uint64_t inode = 1000000u * (p + 1) + fd * 7u;
            snprintf(path, sizeof path, "%s/%u/fd/%u", root, pids[p], fd);
            snprintf(target, sizeof target, "socket:[%llu]", (unsigned long long)inode);
            assert_int_equal(symlink(target, path), 0);
            expected[n++] = (struct expected_holder){ inode, pids[p], (int32_t)fd };
        }
    }
    for (unsigned threads = 1; threads <= 4; threads++) {
        struct procmap_options opt = { .proc_root = root, .threads = threads,
                                       .method = PROCMAP_METHOD_PROC };
        struct procmap_stats stats;
        struct procmap *pm = NULL;
        struct pr_error err = { 0 };
        if (procmap_build(&opt, &pm, &stats, &err) != 0)
            fail_msg("procmap_build: %s", err.message);
        assert_int_equal(stats.processes, 2);
        assert_int_equal(stats.descriptors, n);
        for (size_t i = 0; i < n; i++)
            assert_holders(pm, expected[i].inode, expected, n);
        procmap_free(pm);
    }
    free(expected);
}

static void test_auto_falls_back_for_other_roots(void **state)
{
    (void)state;
    char root[1024];
    struct procmap_options opt = { .proc_root = fixture_proc_root(root, sizeof root),
                                   .threads = 1, .method = PROCMAP_METHOD_AUTO };
    struct procmap *pm = NULL;
    struct procmap_stats stats;
    struct pr_error err = { 0 };
    if (procmap_build(&opt, &pm, &stats, &err) != 0)
        fail_msg("procmap_build: %s", err.message);
    /* the BPF iterator sees the running kernel, never a fixture tree */
    assert_int_equal(stats.method_used, PROCMAP_METHOD_PROC);
    assert_true(stats.bpf_unavailable[0] != '\0');
    assert_int_equal(stats.processes, 2);
    size_t n = sizeof fixture_holders / sizeof fixture_holders[0];
    assert_holders(pm, 12345, fixture_holders, n);
    procmap_free(pm);
}

static void test_missing_proc_root(void **state)
{
    (void)state;
    struct procmap_options opt = { .proc_root = "/nonexistent/portreg-proc", .threads = 2,
                                   .method = PROCMAP_METHOD_PROC };
    struct procmap *pm = (struct procmap *)&opt;
    struct procmap_stats stats;
    struct pr_error err = { 0 };
    assert_int_equal(procmap_build(&opt, &pm, &stats, &err), -ENOENT);
    assert_null(pm);
    assert_int_equal(err.code, -ENOENT);
    assert_string_equal(err.path, "/nonexistent/portreg-proc");
    assert_non_null(strstr(err.message, "/nonexistent/portreg-proc"));

    opt.method = (enum procmap_method)42;
    assert_int_equal(procmap_build(&opt, &pm, NULL, &err), -EINVAL);
}

/* ---- real sockets held by forked children ---- */

enum {
    CHILD_UDP_SOCKETS = 2000,   /* the long, dense fd table */
    SPARSE_OPENED = 900,        /* the sparse table: every other one of the first 300 closed, */
    SPARSE_HOLES = 150,         /* the last 300 moved far up */
    SPARSE_MOVED = 300,
    SPARSE_SOCKETS = SPARSE_OPENED - SPARSE_HOLES,
    SPARSE_BASE = 3000,
    CHILDREN_MAX = 4,
};

struct child_spec {
    unsigned tcp_listeners, udp_sockets;
    unsigned moved_high;        /* the last this many UDP sockets move to SPARSE_BASE + i */
    unsigned holes;             /* every other one of the first 2 * holes UDP sockets closes */
    bool become_nobody;
};

enum held_extra { HELD_PLAIN, HELD_WITH_NOBODY, HELD_WITH_SPARSE };

struct held_sockets {
    struct expected_holder *items;
    size_t count, capacity;
    pid_t children[CHILDREN_MAX];
    size_t child_count;
    pid_t long_table_child, extra_child, sharer_child;
    int control_write;        /* closing it lets every child exit */
    int shared_fd;            /* held by this process and by the sharer child */
    uint64_t shared_inode;
    uint64_t first_listener;  /* one TCP listener of the first child */
};

static void held_add(struct held_sockets *held, struct expected_holder h)
{
    if (held->count == held->capacity) {
        held->capacity = held->capacity ? held->capacity * 2 : 64;
        held->items = realloc(held->items, held->capacity * sizeof *held->items);
        assert_non_null(held->items);
    }
    held->items[held->count++] = h;
}

static uint64_t socket_inode(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return 0;
    return (uint64_t)st.st_ino;
}

static int open_tcp_listener(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 8) != 0)
        return -1;
    return fd;
}

static void child_report(int report_fd, int fd)
{
    struct expected_holder h = { socket_inode(fd), (uint32_t)getpid(), fd };
    if (write(report_fd, &h, sizeof h) != (ssize_t)sizeof h)
        _exit(3);
}

/* In a child: open the sockets, report them (an entry with fd -1 ends the list), optionally
 * become nobody, then wait until the parent closes the control pipe. */
static void child_hold_sockets(int report_fd, int control_read, const struct child_spec *spec)
{
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    for (unsigned i = 0; i < spec->tcp_listeners; i++) {
        int fd = open_tcp_listener();
        if (fd < 0)
            _exit(2);
        child_report(report_fd, fd);
    }
    int *udp = calloc(spec->udp_sockets + 1, sizeof *udp);
    if (!udp)
        _exit(2);
    for (unsigned i = 0; i < spec->udp_sockets; i++) {
        udp[i] = socket(AF_INET, SOCK_DGRAM, 0);
        if (udp[i] < 0)
            _exit(2);
        if (i >= spec->udp_sockets - spec->moved_high) {
            int high = dup2(udp[i], SPARSE_BASE + (int)i);
            if (high < 0)
                _exit(2);
            close(udp[i]);
            udp[i] = high;
        }
    }
    for (unsigned i = 1; i < 2 * spec->holes && i < spec->udp_sockets; i += 2) {
        close(udp[i]);
        udp[i] = -1;
    }
    for (unsigned i = 0; i < spec->udp_sockets; i++)
        if (udp[i] >= 0)
            child_report(report_fd, udp[i]);
    free(udp);
    if (spec->become_nobody && (setgid(65534) != 0 || setuid(65534) != 0))
        _exit(4);
    struct expected_holder end = { 0, (uint32_t)getpid(), -1 };
    if (write(report_fd, &end, sizeof end) != (ssize_t)sizeof end)
        _exit(3);
    close(report_fd);
    char byte;
    while (read(control_read, &byte, 1) > 0) {
    }
    _exit(0);
}

/* Read one child's reports until its end entry. */
static void held_read_reports(struct held_sockets *held, int report_read)
{
    for (;;) {
        struct expected_holder h;
        size_t got = 0;
        while (got < sizeof h) {
            ssize_t n = read(report_read, (char *)&h + got, sizeof h - got);
            if (n <= 0)
                fail_msg("a child died before reporting its sockets");
            got += (size_t)n;
        }
        if (h.fd < 0)
            return;
        assert_true(h.inode != 0);
        held_add(held, h);
    }
}

static pid_t held_fork_child(struct held_sockets *held, int report[2], int control[2],
                             struct child_spec spec)
{
    assert_true(held->child_count < CHILDREN_MAX);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(control[1]);
        close(report[0]);
        child_hold_sockets(report[1], control[0], &spec);
    }
    held->children[held->child_count++] = pid;
    held_read_reports(held, report[0]);
    return pid;
}

/* First child: 3 TCP listeners and one UDP socket. Second: CHILD_UDP_SOCKETS UDP sockets, a
 * table long enough to be probed and shared between walkers. Then, if asked, a child that turns
 * into nobody (2 listeners) or one with a sparse table. Last, this process and the sharer child
 * hold one listener made before the sharer was forked. */
static void held_start(struct held_sockets *held, enum held_extra extra)
{
    memset(held, 0, sizeof *held);
    int report[2], control[2];
    assert_int_equal(pipe(report), 0);
    assert_int_equal(pipe(control), 0);
    held_fork_child(held, report, control, (struct child_spec){ .tcp_listeners = 3,
                                                                .udp_sockets = 1 });
    held->first_listener = held->items[0].inode;
    held->long_table_child = held_fork_child(
        held, report, control, (struct child_spec){ .udp_sockets = CHILD_UDP_SOCKETS });
    if (extra == HELD_WITH_NOBODY)
        held->extra_child = held_fork_child(
            held, report, control,
            (struct child_spec){ .tcp_listeners = 2, .become_nobody = true });
    if (extra == HELD_WITH_SPARSE)
        held->extra_child = held_fork_child(
            held, report, control,
            (struct child_spec){ .udp_sockets = SPARSE_OPENED, .moved_high = SPARSE_MOVED,
                                 .holes = SPARSE_HOLES });
    held->shared_fd = open_tcp_listener();
    assert_true(held->shared_fd >= 0);
    held->shared_inode = socket_inode(held->shared_fd);
    held_add(held, (struct expected_holder){ held->shared_inode, (uint32_t)getpid(),
                                             held->shared_fd });
    held->sharer_child = held_fork_child(held, report, control, (struct child_spec){ 0 });
    held_add(held, (struct expected_holder){ held->shared_inode, (uint32_t)held->sharer_child,
                                             held->shared_fd });
    close(report[0]);
    close(report[1]);
    close(control[0]);
    held->control_write = control[1];
}

static void held_stop(struct held_sockets *held)
{
    close(held->control_write);
    for (size_t i = 0; i < held->child_count; i++) {
        int status = 0;
        assert_int_equal(waitpid(held->children[i], &status, 0), held->children[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    close(held->shared_fd);
    free(held->items);
}

static void assert_all_held(const struct procmap *pm, const struct held_sockets *held)
{
    for (size_t i = 0; i < held->count; i++)
        assert_holders(pm, held->items[i].inode, held->items, held->count);
}

static struct procmap *build_or_fail(const struct procmap_options *opt,
                                     struct procmap_stats *stats)
{
    struct procmap *pm = NULL;
    struct pr_error err = { 0 };
    if (procmap_build(opt, &pm, stats, &err) != 0)
        fail_msg("procmap_build: %s", err.message);
    return pm;
}

static void test_real_sockets_every_holder(void **state)
{
    (void)state;
    struct held_sockets held;
    held_start(&held, HELD_WITH_SPARSE);
    assert_int_equal(held.count, 3 + 1 + CHILD_UDP_SOCKETS + SPARSE_SOCKETS + 2);

    const unsigned thread_counts[] = { 1, 2, 4 };
    for (size_t t = 0; t < sizeof thread_counts / sizeof thread_counts[0]; t++) {
        struct procmap_options opt = { .threads = thread_counts[t],
                                       .method = PROCMAP_METHOD_PROC };
        struct procmap_stats stats;
        struct procmap *pm = build_or_fail(&opt, &stats);
        assert_int_equal(stats.method_used, PROCMAP_METHOD_PROC);
        assert_true(stats.processes >= 1 + held.child_count);
        assert_true(stats.descriptors >= held.count);
        assert_all_held(pm, &held);
        const struct socket_holder *holders;
        assert_int_equal(procmap_holders(pm, held.shared_inode, &holders), 2);
        procmap_free(pm);
    }
    held_stop(&held);
}

static void test_real_sockets_all_wanted(void **state)
{
    (void)state;
    struct held_sockets held;
    held_start(&held, HELD_PLAIN);
    uint64_t *wanted = malloc(held.count * sizeof *wanted);
    assert_non_null(wanted);
    for (size_t i = 0; i < held.count; i++)
        wanted[i] = held.items[i].inode;
    qsort(wanted, held.count, sizeof *wanted, inode_order);   /* as sock_diag callers pass them */
    for (unsigned threads = 1; threads <= 2; threads++) {
        struct procmap_options opt = { .wanted = wanted, .wanted_count = held.count,
                                       .threads = threads, .method = PROCMAP_METHOD_PROC };
        struct procmap_stats stats;
        struct procmap *pm = build_or_fail(&opt, &stats);
        /* the walk may stop before the second holder of the shared socket: at least one */
        for (size_t i = 0; i < held.count; i++) {
            if (held.items[i].inode == held.shared_inode)
                continue;
            assert_holders(pm, held.items[i].inode, held.items, held.count);
        }
        const struct socket_holder *holders;
        size_t shared = procmap_holders(pm, held.shared_inode, &holders);
        assert_true(shared >= 1 && shared <= 2);
        for (size_t i = 0; i < shared; i++) {
            assert_int_equal(holders[i].fd, held.shared_fd);
            assert_true(holders[i].pid == (uint32_t)getpid() ||
                        holders[i].pid == (uint32_t)held.sharer_child);
        }
        procmap_free(pm);
    }
    free(wanted);
    held_stop(&held);
}

static void test_real_sockets_one_wanted(void **state)
{
    (void)state;
    struct held_sockets held;
    held_start(&held, HELD_PLAIN);
    for (unsigned threads = 1; threads <= 2; threads++) {
        struct procmap_options opt = { .wanted = &held.first_listener, .wanted_count = 1,
                                       .threads = threads, .method = PROCMAP_METHOD_PROC };
        struct procmap_stats stats;
        struct procmap *pm = build_or_fail(&opt, &stats);
        const struct socket_holder *holders;
        assert_int_equal(procmap_holders(pm, held.first_listener, &holders), 1);
        assert_int_equal(holders[0].pid, held.items[0].pid);
        assert_int_equal(holders[0].fd, held.items[0].fd);
        for (size_t i = 1; i < held.count; i++)   /* nothing unwanted was recorded */
            assert_int_equal(procmap_holders(pm, held.items[i].inode, &holders), 0);
        procmap_free(pm);
    }
    held_stop(&held);
}

static void test_real_sockets_other_user(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("skipped: needs root\n");
        skip();
    }
    struct held_sockets held;
    held_start(&held, HELD_WITH_NOBODY);
    uint32_t nobody_pid = (uint32_t)held.extra_child;
    struct process_info info;
    assert_int_equal(process_info_read(NULL, nobody_pid, &info, NULL), 0);
    assert_int_equal(info.uid, 65534);
    size_t nobody_sockets = 0;
    for (size_t i = 0; i < held.count; i++)
        nobody_sockets += held.items[i].pid == nobody_pid;
    assert_int_equal(nobody_sockets, 2);

    for (unsigned threads = 1; threads <= 2; threads++) {
        struct procmap_options opt = { .threads = threads, .method = PROCMAP_METHOD_PROC };
        struct procmap_stats stats;
        struct procmap *pm = build_or_fail(&opt, &stats);
        assert_all_held(pm, &held);
        procmap_free(pm);
    }
    held_stop(&held);
}

/* Walk a proc root whose only entry links to /proc/PID: the owner of that one fd table has the
 * whole walk, and with several workers the idle ones must help it through chunks. */
static void assert_walk_of_one_process(const char *root, const struct held_sockets *held,
                                       pid_t pid, size_t expected_sockets)
{
    char link_path[128], target[32];
    snprintf(link_path, sizeof link_path, "%s/%u", root, (unsigned)pid);
    snprintf(target, sizeof target, "/proc/%u", (unsigned)pid);
    assert_int_equal(symlink(target, link_path), 0);

    struct expected_holder *mine = calloc(held->count, sizeof *mine);
    assert_non_null(mine);
    size_t mine_count = 0;
    for (size_t i = 0; i < held->count; i++)
        if (held->items[i].pid == (uint32_t)pid)
            mine[mine_count++] = held->items[i];
    assert_int_equal(mine_count, expected_sockets);

    for (unsigned threads = 1; threads <= 4; threads++) {
        for (int round = 0; round < 3; round++) {
            struct procmap_options opt = { .proc_root = root, .threads = threads,
                                           .method = PROCMAP_METHOD_PROC };
            struct procmap_stats stats;
            struct procmap *pm = build_or_fail(&opt, &stats);
            assert_int_equal(stats.processes, 1);
            assert_true(stats.descriptors >= expected_sockets);
            for (size_t i = 0; i < held->count; i++)
                assert_holders(pm, held->items[i].inode, mine, mine_count);
            procmap_free(pm);
        }
    }
    free(mine);
}

static void test_walk_long_dense_table(void **state)
{
    struct held_sockets held;
    held_start(&held, HELD_PLAIN);
    assert_walk_of_one_process(((const struct temp_tree *)*state)->path, &held,
                               held.long_table_child, CHILD_UDP_SOCKETS);
    held_stop(&held);
}

/* Holes at the start and a third of the table far above the rest: probing gives up part way
 * and lists what it has not seen from there on. */
static void test_walk_sparse_table(void **state)
{
    struct held_sockets held;
    held_start(&held, HELD_WITH_SPARSE);
    size_t high = 0;
    for (size_t i = 0; i < held.count; i++)
        high += held.items[i].fd >= SPARSE_BASE;
    assert_int_equal(high, SPARSE_MOVED);
    assert_walk_of_one_process(((const struct temp_tree *)*state)->path, &held, held.extra_child,
                               SPARSE_SOCKETS);
    held_stop(&held);
}

/* Whichever collector AUTO picks on this host, the answer is the same. */
static void test_real_sockets_auto(void **state)
{
    (void)state;
    struct held_sockets held;
    held_start(&held, HELD_PLAIN);
    struct procmap_options opt = { .method = PROCMAP_METHOD_AUTO };
    struct procmap_stats stats;
    struct procmap *pm = build_or_fail(&opt, &stats);
    if (stats.method_used == PROCMAP_METHOD_PROC)
        assert_true(stats.bpf_unavailable[0] != '\0');
    else
        assert_int_equal(stats.method_used, PROCMAP_METHOD_BPF);
    assert_all_held(pm, &held);
    procmap_free(pm);
    held_stop(&held);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_core_orders_and_dedups),
        cmocka_unit_test(test_core_wanted_set_stops_early),
        cmocka_unit_test(test_core_empty_wanted_set),
        cmocka_unit_test(test_core_rejects_bad_shard),
        cmocka_unit_test(test_core_large_random_load),
        cmocka_unit_test(test_core_sparse_wanted_set),
        cmocka_unit_test(test_core_long_holder_run),
        cmocka_unit_test(test_core_bitmap_edges),
        cmocka_unit_test(test_fixture_tree),
        cmocka_unit_test(test_fixture_tree_wanted),
        cmocka_unit_test_setup_teardown(test_fixture_long_listed_table, temp_tree_setup,
                                        temp_tree_teardown),
        cmocka_unit_test(test_auto_falls_back_for_other_roots),
        cmocka_unit_test(test_missing_proc_root),
        cmocka_unit_test(test_real_sockets_every_holder),
        cmocka_unit_test(test_real_sockets_all_wanted),
        cmocka_unit_test(test_real_sockets_one_wanted),
        cmocka_unit_test(test_real_sockets_other_user),
        cmocka_unit_test_setup_teardown(test_walk_long_dense_table, temp_tree_setup,
                                        temp_tree_teardown),
        cmocka_unit_test_setup_teardown(test_walk_sparse_table, temp_tree_setup,
                                        temp_tree_teardown),
        cmocka_unit_test(test_real_sockets_auto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
