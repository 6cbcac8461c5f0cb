/* test_procmap_bpf.c — the BPF task_file collector against real processes: children holding TCP
 * listeners (one inherited from the parent, one dup()ed, one private each, a thread in the
 * parent) must come back as exactly the (pid, fd) holders the kernel has. The in-kernel inode
 * filter: a map that takes everything shows what the kernel wrote, so the filtered passes must
 * bring exactly the wanted sockets (every holder of a shared one) and nothing else, and more
 * than TASK_SOCKETS_WANTED_MAX wanted inodes must bring everything. procmap_preload: started
 * then built, cancelled, or not started at all (method PROC, fixture proc roots). Needs root and
 * kernel BTF for the BPF cases; skips with a message otherwise. Also checks the unprivileged
 * failure is a clear error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/bpf/task_sockets.h"
#include "net/procmap.h"

/* One socket as a process sees it. */
struct held_socket {
    uint32_t pid;
    int32_t fd;
    uint64_t inode;
};

/* A child that reported its sockets and waits until release_fd reaches EOF. */
struct holder_child {
    pid_t pid;
    int release_fd;   /* parent's write end; closing it lets the child exit */
};

static int open_tcp_listener(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = 0 };
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static uint64_t socket_inode(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    return (uint64_t)st.st_ino;
}

/* Fork a child that opens one listener of its own, reports it on a pipe, then blocks until
 * released. Returns what it reported. */
static struct held_socket start_holder_child(struct holder_child *child)
{
    int report[2], release[2];
    assert_int_equal(pipe(report), 0);
    assert_int_equal(pipe(release), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(report[0]);
        close(release[1]);
        int fd = open_tcp_listener();
        struct held_socket own = { (uint32_t)getpid(), fd, socket_inode(fd) };
        if (write(report[1], &own, sizeof own) != (ssize_t)sizeof own)
            _exit(1);
        close(report[1]);
        char byte;
        while (read(release[0], &byte, 1) > 0)
            ;
        _exit(0);
    }
    close(report[1]);
    close(release[0]);
    struct held_socket own;
    assert_int_equal(read(report[0], &own, sizeof own), (ssize_t)sizeof own);
    close(report[0]);
    child->pid = pid;
    child->release_fd = release[1];
    return own;
}

static void stop_holder_child(struct holder_child *child)
{
    close(child->release_fd);
    int status = 0;
    assert_int_equal(waitpid(child->pid, &status, 0), child->pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A parent thread shares the parent's fd table: it must not add a second holder. */
static void *wait_for_eof(void *arg)
{
    int fd = *(int *)arg;
    char byte;
    while (read(fd, &byte, 1) > 0)
        ;
    return NULL;
}

static int compare_holders(const void *a, const void *b)
{
    const struct socket_holder *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return (x->fd > y->fd) - (x->fd < y->fd);
}

static void assert_holders(const struct procmap *pm, uint64_t inode,
                           struct socket_holder *expected, size_t expected_count)
{
    qsort(expected, expected_count, sizeof *expected, compare_holders);
    const struct socket_holder *holders = NULL;
    size_t count = procmap_holders(pm, inode, &holders);
    if (count != expected_count)
        fail_msg("inode %llu: %zu holders, expected %zu", (unsigned long long)inode, count,
                 expected_count);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(holders[i].pid, expected[i].pid);
        assert_int_equal(holders[i].fd, expected[i].fd);
    }
}

/* Skip unless we are root on a kernel with BTF; skip when the build or host lacks BPF support
 * (code from procmap_collect_bpf), fail on any other error. */
static bool bpf_collector_usable(int code, const struct pr_error *err)
{
    if (code == -EOPNOTSUPP || code == -ENOPKG) {
        print_message("skipped: %s\n", err->message);
        return false;
    }
    if (code < 0)
        fail_msg("procmap_collect_bpf: %d %s", code, err->message);
    return true;
}

static bool running_as_root_with_btf(void)
{
    if (geteuid() != 0) {
        print_message("skipped: needs root for BPF\n");
        return false;
    }
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
        print_message("skipped: kernel has no BTF (/sys/kernel/btf/vmlinux)\n");
        return false;
    }
    return true;
}

static void test_bpf_finds_exact_holders(void **state)
{
    (void)state;
    if (!running_as_root_with_btf()) {
        skip();
        return;
    }
    uint32_t parent = (uint32_t)getpid();
    /* opened before the forks, so both children hold it at the same fd number */
    int shared_fd = open_tcp_listener();
    uint64_t shared_inode = socket_inode(shared_fd);

    struct holder_child first, second;
    struct held_socket first_own = start_holder_child(&first);
    struct held_socket second_own = start_holder_child(&second);
    int duplicate_fd = dup(shared_fd);   /* after the forks: only the parent has it */
    assert_true(duplicate_fd >= 0);

    int thread_release[2];
    assert_int_equal(pipe(thread_release), 0);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, wait_for_eof, &thread_release[0]), 0);

    struct procmap *pm = procmap_new(1, NULL, 0);
    assert_non_null(pm);
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    int r = procmap_collect_bpf(NULL, pm, &stats, &err);
    bool usable = bpf_collector_usable(r, &err);
    if (usable) {
        assert_int_equal(procmap_finish(pm), 0);
        struct socket_holder shared[] = {
            { parent, shared_fd }, { parent, duplicate_fd },
            { (uint32_t)first.pid, shared_fd }, { (uint32_t)second.pid, shared_fd },
        };
        assert_holders(pm, shared_inode, shared, 4);
        struct socket_holder first_only[] = { { first_own.pid, first_own.fd } };
        assert_holders(pm, first_own.inode, first_only, 1);
        struct socket_holder second_only[] = { { second_own.pid, second_own.fd } };
        assert_holders(pm, second_own.inode, second_only, 1);
        assert_int_equal(first_own.pid, (uint32_t)first.pid);

        assert_int_equal(stats.method_used, PROCMAP_METHOD_BPF);
        assert_string_equal(stats.bpf_unavailable, "");
        assert_true(stats.processes >= 3);
        assert_true(stats.descriptors >= 6);   /* at least the sockets above */
    }
    procmap_free(pm);

    close(thread_release[1]);
    assert_int_equal(pthread_join(thread, NULL), 0);
    close(thread_release[0]);
    /* newest first: the second child inherited the first one's release pipe */
    stop_holder_child(&second);
    stop_holder_child(&first);
    close(duplicate_fd);
    close(shared_fd);
    if (!usable)
        skip();
}

static void test_bpf_wanted_inode_only(void **state)
{
    (void)state;
    if (!running_as_root_with_btf()) {
        skip();
        return;
    }
    int unwanted_fd = open_tcp_listener();
    int wanted_fd = open_tcp_listener();
    uint64_t wanted[] = { socket_inode(wanted_fd) };

    struct procmap *pm = procmap_new(1, wanted, 1);
    assert_non_null(pm);
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    int r = procmap_collect_bpf(NULL, pm, &stats, &err);
    bool usable = bpf_collector_usable(r, &err);
    if (usable) {
        assert_int_equal(procmap_finish(pm), 0);
        struct socket_holder expected[] = { { (uint32_t)getpid(), wanted_fd } };
        assert_holders(pm, wanted[0], expected, 1);
        const struct socket_holder *holders;
        assert_int_equal(procmap_holders(pm, socket_inode(unwanted_fd), &holders), 0);
        assert_int_equal(stats.method_used, PROCMAP_METHOD_BPF);
    }
    procmap_free(pm);
    close(wanted_fd);
    close(unwanted_fd);
    if (!usable)
        skip();
}

/* ---- the in-kernel inode filter ---- */

/* Sockets for the filter tests: one opened before two children fork (all three hold it at the
 * same fd) and dup()ed in the parent afterwards, each child's own, one more in the parent. */
struct filter_scene {
    int shared_fd, duplicate_fd, parent_other_fd;
    uint64_t shared_inode, parent_other_inode;
    struct holder_child first, second;
    struct held_socket first_own, second_own;
};

static void filter_scene_start(struct filter_scene *scene)
{
    scene->shared_fd = open_tcp_listener();
    scene->shared_inode = socket_inode(scene->shared_fd);
    scene->first_own = start_holder_child(&scene->first);
    scene->second_own = start_holder_child(&scene->second);
    scene->duplicate_fd = dup(scene->shared_fd);
    assert_true(scene->duplicate_fd >= 0);
    scene->parent_other_fd = open_tcp_listener();
    scene->parent_other_inode = socket_inode(scene->parent_other_fd);
}

static void filter_scene_stop(struct filter_scene *scene)
{
    /* newest first: the second child inherited the first one's release pipe */
    stop_holder_child(&scene->second);
    stop_holder_child(&scene->first);
    close(scene->parent_other_fd);
    close(scene->duplicate_fd);
    close(scene->shared_fd);
}

static void assert_shared_holders(const struct procmap *pm, const struct filter_scene *scene)
{
    uint32_t parent = (uint32_t)getpid();
    struct socket_holder shared[] = {
        { parent, scene->shared_fd }, { parent, scene->duplicate_fd },
        { (uint32_t)scene->first.pid, scene->shared_fd },
        { (uint32_t)scene->second.pid, scene->shared_fd },
    };
    assert_holders(pm, scene->shared_inode, shared, 4);
}

static int compare_inodes(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* count wanted inodes, sorted: the given real ones plus made-up ones no socket has (socket inodes
 * are 32-bit), each on the same bit of the kernel's bitmap as decoy, which must still not come. */
static uint64_t *wanted_with_padding(const uint64_t *real, size_t real_count, size_t count,
                                     uint64_t decoy)
{
    uint64_t *wanted = calloc(count, sizeof *wanted);
    assert_non_null(wanted);
    for (size_t i = 0; i < count; i++)
        wanted[i] = i < real_count ? real[i] : decoy + ((uint64_t)(i + 1) << 32);
    qsort(wanted, count, sizeof *wanted, compare_inodes);
    return wanted;
}

/* Collect with opt into a map that keeps everything: the map then holds what the kernel wrote. */
static int collect_everything_written(const struct procmap_options *opt, struct procmap **out,
                                      struct procmap_stats *stats, struct pr_error *err)
{
    struct procmap *pm = procmap_new(1, NULL, 0);
    assert_non_null(pm);
    procmap_set_stop_early(pm, false);
    int r = procmap_collect_bpf(opt, pm, stats, err);
    if (r < 0) {
        procmap_free(pm);
        return r;
    }
    assert_int_equal(procmap_finish(pm), 0);
    *out = pm;
    return 0;
}

static void test_bpf_filter_one_inode(void **state)
{
    (void)state;
    if (!running_as_root_with_btf()) {
        skip();
        return;
    }
    int unwanted_fd = open_tcp_listener();
    int wanted_fd = open_tcp_listener();
    uint64_t wanted[] = { socket_inode(wanted_fd) };
    struct procmap_options opt = { .wanted = wanted, .wanted_count = 1 };
    struct procmap *pm = NULL;
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    bool usable = bpf_collector_usable(collect_everything_written(&opt, &pm, &stats, &err), &err);
    if (usable) {
        struct socket_holder expected[] = { { (uint32_t)getpid(), wanted_fd } };
        assert_holders(pm, wanted[0], expected, 1);
        const struct socket_holder *holders;
        assert_int_equal(procmap_holders(pm, socket_inode(unwanted_fd), &holders), 0);
        /* the summary still closes the pass: it counts every descriptor, not the one record */
        assert_true(stats.descriptors > 3);
        assert_true(stats.processes >= 1);
    }
    procmap_free(pm);
    close(wanted_fd);
    close(unwanted_fd);
    if (!usable)
        skip();
}

static void test_bpf_filter_few_inodes_shared_after_fork(void **state)
{
    (void)state;
    if (!running_as_root_with_btf()) {
        skip();
        return;
    }
    struct filter_scene scene;
    filter_scene_start(&scene);
    uint64_t real[] = { scene.shared_inode, scene.first_own.inode };
    uint64_t *wanted = wanted_with_padding(real, 2, 5, scene.parent_other_inode);
    struct procmap_options opt = { .wanted = wanted, .wanted_count = 5 };
    struct procmap *pm = NULL;
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    bool usable = bpf_collector_usable(collect_everything_written(&opt, &pm, &stats, &err), &err);
    if (usable) {
        assert_shared_holders(pm, &scene);
        struct socket_holder first_only[] = { { scene.first_own.pid, scene.first_own.fd } };
        assert_holders(pm, scene.first_own.inode, first_only, 1);
        const struct socket_holder *holders;
        assert_int_equal(procmap_holders(pm, scene.second_own.inode, &holders), 0);
        assert_int_equal(procmap_holders(pm, scene.parent_other_inode, &holders), 0);
        procmap_free(pm);

        /* the same through procmap_build: every holder, not only the first */
        pm = NULL;
        opt.method = PROCMAP_METHOD_BPF;
        if (procmap_build(&opt, &pm, &stats, &err) != 0)
            fail_msg("procmap_build: %s", err.message);
        assert_int_equal(stats.method_used, PROCMAP_METHOD_BPF);
        assert_shared_holders(pm, &scene);
        assert_holders(pm, scene.first_own.inode, first_only, 1);
    }
    procmap_free(pm);
    free(wanted);
    filter_scene_stop(&scene);
    if (!usable)
        skip();
}

/* wanted_count: at most the map size filters in the kernel; one more writes everything. */
static void check_filter_at_size(size_t wanted_count, bool expect_filtered)
{
    if (!running_as_root_with_btf()) {
        skip();
        return;
    }
    struct filter_scene scene;
    filter_scene_start(&scene);
    uint64_t real[] = { scene.shared_inode };
    uint64_t *wanted = wanted_with_padding(real, 1, wanted_count, scene.parent_other_inode);
    struct procmap_options opt = { .wanted = wanted, .wanted_count = wanted_count };
    struct procmap *pm = NULL;
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    bool usable = bpf_collector_usable(collect_everything_written(&opt, &pm, &stats, &err), &err);
    if (usable) {
        assert_shared_holders(pm, &scene);
        const struct socket_holder *holders;
        size_t other = procmap_holders(pm, scene.parent_other_inode, &holders);
        size_t second = procmap_holders(pm, scene.second_own.inode, &holders);
        if (expect_filtered) {
            assert_int_equal(other, 0);
            assert_int_equal(second, 0);
        } else {
            assert_int_equal(other, 1);
            assert_int_equal(second, 1);
        }
    }
    procmap_free(pm);
    free(wanted);
    filter_scene_stop(&scene);
    if (!usable)
        skip();
}

static void test_bpf_filter_full_map(void **state)
{
    (void)state;
    check_filter_at_size(TASK_SOCKETS_WANTED_MAX, true);
}

static void test_bpf_no_filter_above_map_size(void **state)
{
    (void)state;
    check_filter_at_size(TASK_SOCKETS_WANTED_MAX + 1, false);
}

static void test_bpf_no_filter_without_wanted(void **state)
{
    (void)state;
    if (!running_as_root_with_btf()) {
        skip();
        return;
    }
    struct filter_scene scene;
    filter_scene_start(&scene);
    struct procmap_options opt = { .wanted = NULL };
    struct procmap *pm = NULL;
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    bool usable = bpf_collector_usable(collect_everything_written(&opt, &pm, &stats, &err), &err);
    if (usable) {
        assert_shared_holders(pm, &scene);
        struct socket_holder other[] = { { (uint32_t)getpid(), scene.parent_other_fd } };
        assert_holders(pm, scene.parent_other_inode, other, 1);
        struct socket_holder second[] = { { scene.second_own.pid, scene.second_own.fd } };
        assert_holders(pm, scene.second_own.inode, second, 1);
    }
    procmap_free(pm);
    filter_scene_stop(&scene);
    if (!usable)
        skip();
}

/* A loaded program makes one pass: its counters and filter belong to that pass. */
static void test_bpf_loaded_program_makes_one_pass(void **state)
{
    (void)state;
    if (!running_as_root_with_btf()) {
        skip();
        return;
    }
    struct procmap_bpf_program *program = NULL;
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    bool usable = bpf_collector_usable(procmap_bpf_load(&program, NULL, &stats, &err), &err);
    if (usable) {
        struct procmap *pm = procmap_new(1, NULL, 0);
        assert_non_null(pm);
        assert_int_equal(procmap_bpf_collect_loaded(program, NULL, pm, &stats, &err), 0);
        assert_int_equal(procmap_bpf_collect_loaded(program, NULL, pm, &stats, &err), -EINVAL);
        procmap_free(pm);
    }
    procmap_bpf_program_free(program);
    if (!usable)
        skip();
}

static void test_bpf_load_cancelled_before_start(void **state)
{
    (void)state;
    atomic_bool cancel;
    atomic_init(&cancel, true);
    struct procmap_bpf_program *program = NULL;
    struct pr_error err = { 0 };
    int r = procmap_bpf_load(&program, &cancel, NULL, &err);
    assert_null(program);
    /* a build without BPF says so first; else the cancel wins before anything is loaded */
    if (r != -EOPNOTSUPP)
        assert_int_equal(r, -ECANCELED);
}

/* ---- procmap_preload ---- */

static void test_preload_then_build(void **state)
{
    (void)state;
    struct filter_scene scene;
    filter_scene_start(&scene);
    uint64_t real[] = { scene.shared_inode };
    uint64_t *wanted = wanted_with_padding(real, 1, 1, 0);
    /* AUTO: the preloaded program as root, else the /proc walk; the same holders either way */
    struct procmap_options opt = { .wanted = wanted, .wanted_count = 1 };
    struct procmap_preload *preload = procmap_preload_start(&opt);
    struct procmap *pm = NULL;
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    if (procmap_build_preloaded(preload, &opt, &pm, &stats, &err) != 0)
        fail_msg("procmap_build_preloaded: %s", err.message);
    assert_shared_holders(pm, &scene);
    const struct socket_holder *holders;
    assert_int_equal(procmap_holders(pm, scene.parent_other_inode, &holders), 0);
    if (preload && geteuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
        if (stats.method_used != PROCMAP_METHOD_BPF)
            fail_msg("preloaded BPF not used: %s", stats.bpf_unavailable);
        assert_string_equal(stats.bpf_unavailable, "");
    } else if (stats.method_used == PROCMAP_METHOD_PROC) {
        assert_true(stats.bpf_unavailable[0] != '\0');
    }
    procmap_free(pm);

    /* method BPF, everything wanted */
    opt = (struct procmap_options){ .method = PROCMAP_METHOD_BPF };
    preload = procmap_preload_start(&opt);
    pm = NULL;
    int r = procmap_build_preloaded(preload, &opt, &pm, &stats, &err);
    if (r == 0) {
        assert_int_equal(stats.method_used, PROCMAP_METHOD_BPF);
        assert_shared_holders(pm, &scene);
        struct socket_holder other[] = { { (uint32_t)getpid(), scene.parent_other_fd } };
        assert_holders(pm, scene.parent_other_inode, other, 1);
        assert_true(stats.descriptors >= 6);
    } else {
        /* no BPF here: the preload's own reason, as procmap_build would give it */
        assert_null(pm);
        assert_non_null(strstr(err.message, "BPF task iterator unavailable"));
    }
    procmap_free(pm);
    free(wanted);
    filter_scene_stop(&scene);
}

static void test_preload_cancelled(void **state)
{
    (void)state;
    /* at once, and after the load had time to finish: joined and freed either way (ASan) */
    procmap_preload_cancel(procmap_preload_start(NULL));
    struct procmap_preload *preload = procmap_preload_start(NULL);
    usleep(200 * 1000);
    procmap_preload_cancel(preload);
    procmap_preload_cancel(NULL);
}

static void test_preload_not_started_for_proc_or_fixture(void **state)
{
    (void)state;
    struct procmap_options proc = { .method = PROCMAP_METHOD_PROC };
    assert_null(procmap_preload_start(&proc));
    struct procmap_options fixture = { .proc_root = "/tmp/fake-proc" };
    assert_null(procmap_preload_start(&fixture));
    struct procmap_options bpf_fixture = { .proc_root = "/tmp/fake-proc",
                                           .method = PROCMAP_METHOD_BPF };
    assert_null(procmap_preload_start(&bpf_fixture));

    /* NULL preload = procmap_build: method PROC walks /proc */
    int fd = open_tcp_listener();
    uint64_t wanted[] = { socket_inode(fd) };
    proc.wanted = wanted;
    proc.wanted_count = 1;
    struct procmap *pm = NULL;
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    if (procmap_build_preloaded(NULL, &proc, &pm, &stats, &err) != 0)
        fail_msg("procmap_build_preloaded: %s", err.message);
    assert_int_equal(stats.method_used, PROCMAP_METHOD_PROC);
    struct socket_holder expected[] = { { (uint32_t)getpid(), fd } };
    assert_holders(pm, wanted[0], expected, 1);
    procmap_free(pm);
    close(fd);
}

/* A preload started for /proc, then a build for a fixture tree or with method PROC: the
 * preloaded program is not used (it sees the running kernel) and is freed. */
static void test_preload_unused_by_other_build(void **state)
{
    (void)state;
    const char *fixtures = getenv("PORTREG_FIXTURES");
    if (!fixtures) {
        print_message("skipped: PORTREG_FIXTURES is not set\n");
        skip();
        return;
    }
    char root[1024];
    snprintf(root, sizeof root, "%s/procfs/basic", fixtures);
    struct procmap_options fixture = { .proc_root = root, .threads = 1 };
    struct procmap *pm = NULL;
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    if (procmap_build_preloaded(procmap_preload_start(NULL), &fixture, &pm, &stats, &err) != 0)
        fail_msg("procmap_build_preloaded: %s", err.message);
    assert_int_equal(stats.method_used, PROCMAP_METHOD_PROC);
    assert_true(stats.bpf_unavailable[0] != '\0');
    assert_int_equal(stats.processes, 2);
    const struct socket_holder *holders;
    assert_int_equal(procmap_holders(pm, 12346, &holders), 1);   /* the fixture's pid 100, fd 4 */
    assert_int_equal(holders[0].pid, 100);
    assert_int_equal(holders[0].fd, 4);
    procmap_free(pm);

    fixture.method = PROCMAP_METHOD_PROC;
    pm = NULL;
    if (procmap_build_preloaded(procmap_preload_start(NULL), &fixture, &pm, &stats, &err) != 0)
        fail_msg("procmap_build_preloaded: %s", err.message);
    assert_int_equal(stats.method_used, PROCMAP_METHOD_PROC);
    assert_string_equal(stats.bpf_unavailable, "");
    assert_int_equal(procmap_holders(pm, 12346, &holders), 1);
    procmap_free(pm);
}

/* Without privileges the collector must fail with a message, not crash or print. Run in a
 * child that drops to nobody when we are root; exit code 0 = the expected clear error. */
static void test_bpf_unprivileged_reports_why(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
                               setresuid(65534, 65534, 65534) != 0))
            _exit(3);
        struct procmap *pm = procmap_new(1, NULL, 0);
        struct procmap_stats stats = { 0 };
        struct pr_error err = { 0 };
        int r = procmap_collect_bpf(NULL, pm, &stats, &err);
        procmap_free(pm);
        if (r >= 0)
            _exit(1);
        if (strncmp(err.message, "BPF task iterator unavailable: ", 31) != 0 ||
            strcmp(stats.bpf_unavailable, err.message + 31) != 0)
            _exit(2);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_bpf_refuses_other_proc_root(void **state)
{
    (void)state;
    struct procmap *pm = procmap_new(1, NULL, 0);
    assert_non_null(pm);
    struct procmap_options options = { .proc_root = "/tmp/fake-proc" };
    struct procmap_stats stats = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(procmap_collect_bpf(&options, pm, &stats, &err), -EOPNOTSUPP);
    assert_non_null(strstr(err.message, "BPF task iterator unavailable"));
    procmap_free(pm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bpf_finds_exact_holders),
        cmocka_unit_test(test_bpf_wanted_inode_only),
        cmocka_unit_test(test_bpf_filter_one_inode),
        cmocka_unit_test(test_bpf_filter_few_inodes_shared_after_fork),
        cmocka_unit_test(test_bpf_filter_full_map),
        cmocka_unit_test(test_bpf_no_filter_above_map_size),
        cmocka_unit_test(test_bpf_no_filter_without_wanted),
        cmocka_unit_test(test_bpf_loaded_program_makes_one_pass),
        cmocka_unit_test(test_bpf_load_cancelled_before_start),
        cmocka_unit_test(test_preload_then_build),
        cmocka_unit_test(test_preload_cancelled),
        cmocka_unit_test(test_preload_not_started_for_proc_or_fixture),
        cmocka_unit_test(test_preload_unused_by_other_build),
        cmocka_unit_test(test_bpf_unprivileged_reports_why),
        cmocka_unit_test(test_bpf_refuses_other_proc_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
