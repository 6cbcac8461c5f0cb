/* test_procmap_bpf.c — the BPF task_file collector against real processes: children holding TCP
 * listeners (one inherited from the parent, one dup()ed, one private each, a thread in the
 * parent) must come back as exactly the (pid, fd) holders the kernel has. Needs root and kernel
 * BTF; skips with a message otherwise. Also checks the unprivileged failure is a clear error. */
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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
        cmocka_unit_test(test_bpf_unprivileged_reports_why),
        cmocka_unit_test(test_bpf_refuses_other_proc_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
