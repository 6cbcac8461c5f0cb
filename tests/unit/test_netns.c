/* test_netns.c — unit tests for network namespace discovery and entry (src/lib/net/netns.c).
 * A real named namespace (`ip netns add portreg-test-PID`, removed in the group teardown) must
 * be listed with its name, entered by netns_run_in(), and hold a listener that sock_diag sees
 * inside and not on the host. Fake proc/run trees of symlinks check dedup, naming and the
 * lowest pid; a child that drops to nobody checks that unreadable processes are counted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/inspect.h"
#include "net/netns.h"
#include "net/sockdiag.h"
#include "registry/record.h"

/* The namespace the group setup created (root only). */
struct netns_fixture {
    bool created;
    char name[64];
    char path[128];
    uint64_t inode;
};

static bool running_as_root(void) { return geteuid() == 0; }

#define SKIP_UNLESS_ROOT()                                  \
    do {                                                    \
        if (!running_as_root()) {                           \
            print_message("skipped: needs root\n");         \
            skip();                                         \
        }                                                   \
    } while (0)

/* system("ip BEFORE NAME AFTER") */
static int run_ip(const char *before, const char *name, const char *after)
{
    char command[256];
    snprintf(command, sizeof command, "ip %s %s %s", before, name, after);
    return system(command);
}

static int group_setup(void **state)
{
    struct netns_fixture *fixture = calloc(1, sizeof *fixture);
    if (!fixture)
        return -1;
    *state = fixture;
    if (!running_as_root() || system("command -v ip >/dev/null 2>&1") != 0)
        return 0;
    snprintf(fixture->name, sizeof fixture->name, "portreg-test-%ld", (long)getpid());
    snprintf(fixture->path, sizeof fixture->path, "/run/netns/%s", fixture->name);
    run_ip("netns delete", fixture->name, "2>/dev/null");
    if (run_ip("netns add", fixture->name, "") != 0)
        return 0;
    fixture->created = true;
    if (run_ip("-n", fixture->name, "link set lo up") != 0)
        return -1;
    struct stat st;
    if (stat(fixture->path, &st) != 0)
        return -1;
    fixture->inode = (uint64_t)st.st_ino;
    return 0;
}

static int group_teardown(void **state)
{
    struct netns_fixture *fixture = *state;
    int ret = 0;
    if (fixture->created && run_ip("netns delete", fixture->name, "") != 0)
        ret = -1;
    free(fixture);
    return ret;
}

static const struct netns_fixture *fixture_needed(void **state)
{
    const struct netns_fixture *fixture = *state;
    SKIP_UNLESS_ROOT();
    if (!fixture->created) {
        print_message("skipped: needs `ip netns add` (iproute2)\n");
        skip();
    }
    return fixture;
}

static uint64_t inode_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("stat %s: %s", path, strerror(errno));
    return (uint64_t)st.st_ino;
}

static const struct netns_entry *find_inode(const struct netns_list *list, uint64_t inode)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].inode == inode)
            return &list->items[i];
    return NULL;
}

/* ---- netns_current_inode ---- */

static void test_current_inode(void **state)
{
    (void)state;
    uint64_t inode = 0;
    struct pr_error err = { 0 };
    assert_int_equal(netns_current_inode(&inode, &err), 0);
    assert_int_equal(inode, inode_of("/proc/self/ns/net"));
    assert_int_not_equal(inode, 0);
}

/* ---- netns_list_all on the real /proc and /run/netns ---- */

static void test_list_host(void **state)
{
    (void)state;
    struct netns_list list = { 0 };
    unsigned unreadable = 12345;
    struct pr_error err = { 0 };
    assert_int_equal(netns_list_all(NULL, NULL, &list, &unreadable, &err), 0);
    assert_true(list.count >= 1);
    /* Even root may be refused a process (a sandbox's init with no ptrace access): counted. */
    assert_int_not_equal(unreadable, 12345);
    for (size_t i = 1; i < list.count; i++)
        assert_true(list.items[i - 1].inode < list.items[i].inode);   /* sorted, no duplicate */
    for (size_t i = 0; i < list.count; i++) {
        const struct netns_entry *e = &list.items[i];
        if (e->name[0]) {
            char expected[PATH_MAX];
            snprintf(expected, sizeof expected, "/run/netns/%s", e->name);
            assert_string_equal(e->path, expected);
        } else {
            char expected[64];
            assert_int_not_equal(e->pid, 0);
            snprintf(expected, sizeof expected, "/proc/%u/ns/net", e->pid);
            assert_string_equal(e->path, expected);
        }
    }

    uint64_t own = inode_of("/proc/self/ns/net");
    const struct netns_entry *e = find_inode(&list, own);
    assert_non_null(e);
    assert_int_not_equal(e->pid, 0);
    assert_true(e->pid <= (uint32_t)getpid());   /* the lowest pid in our namespace */
    netns_list_free(&list);
    assert_null(list.items);
    assert_int_equal(list.count, 0);
}

static void test_list_names_the_test_namespace(void **state)
{
    const struct netns_fixture *fixture = fixture_needed(state);
    struct netns_list list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(netns_list_all(NULL, NULL, &list, NULL, &err), 0);
    const struct netns_entry *e = find_inode(&list, fixture->inode);
    assert_non_null(e);
    assert_string_equal(e->name, fixture->name);
    assert_string_equal(e->path, fixture->path);
    assert_int_equal(e->pid, 0);   /* no process lives in it */
    assert_int_not_equal(e->inode, inode_of("/proc/self/ns/net"));
    netns_list_free(&list);
}

/* ---- netns_list_all on fake trees ---- */

struct fake_tree {
    char root[64];
    char proc[96];
    char run[96];
};

static void fake_tree_create(struct fake_tree *tree)
{
    snprintf(tree->root, sizeof tree->root, "/tmp/portreg-netns-XXXXXX");
    assert_non_null(mkdtemp(tree->root));
    snprintf(tree->proc, sizeof tree->proc, "%s/proc", tree->root);
    snprintf(tree->run, sizeof tree->run, "%s/run", tree->root);
    assert_int_equal(mkdir(tree->proc, 0755), 0);
    assert_int_equal(mkdir(tree->run, 0755), 0);
}

/* proc/PID/ns/net -> target */
static void fake_tree_add_process(const struct fake_tree *tree, const char *pid, const char *target)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tree->proc, pid);
    assert_int_equal(mkdir(path, 0755), 0);
    if (!target)
        return;
    snprintf(path, sizeof path, "%s/%s/ns", tree->proc, pid);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/%s/ns/net", tree->proc, pid);
    assert_int_equal(symlink(target, path), 0);
}

static void fake_tree_remove(const struct fake_tree *tree)
{
    char command[160];
    snprintf(command, sizeof command, "rm -rf '%s'", tree->root);
    assert_int_equal(system(command), 0);
}

static void test_list_fake_tree_dedups_and_names(void **state)
{
    (void)state;
    struct fake_tree tree;
    fake_tree_create(&tree);
    fake_tree_add_process(&tree, "300", "/proc/self/ns/net");
    fake_tree_add_process(&tree, "57", "/proc/self/ns/net");
    fake_tree_add_process(&tree, "4000", "/proc/self/ns/net");
    fake_tree_add_process(&tree, "812", NULL);                   /* exited: no ns link */
    fake_tree_add_process(&tree, "12abc", "/proc/self/ns/net");  /* not a pid */
    fake_tree_add_process(&tree, "self", "/proc/self/ns/net");
    fake_tree_add_process(&tree, "99999999999", "/proc/self/ns/net");   /* > UINT32_MAX */
    char path[256];
    snprintf(path, sizeof path, "%s/77", tree.proc);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/77/ns", tree.proc);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/77/ns/net", tree.proc);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);   /* not a namespace file */
    assert_true(fd >= 0);
    close(fd);

    uint64_t own = inode_of("/proc/self/ns/net");
    struct netns_list list = { 0 };
    unsigned unreadable = 99;
    struct pr_error err = { 0 };
    /* no run dir at all: no names */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing", tree.root);
    assert_int_equal(netns_list_all(tree.proc, missing, &list, &unreadable, &err), 0);
    assert_int_equal(unreadable, 0);
    assert_int_equal(list.count, 1);
    assert_int_equal(list.items[0].inode, own);
    assert_int_equal(list.items[0].pid, 57);
    assert_string_equal(list.items[0].name, "");
    char expected[256];
    snprintf(expected, sizeof expected, "%s/57/ns/net", tree.proc);
    assert_string_equal(list.items[0].path, expected);
    netns_list_free(&list);

    /* two names for the same namespace: the smallest wins; a plain file is no namespace */
    snprintf(path, sizeof path, "%s/zeta", tree.run);
    assert_int_equal(symlink("/proc/self/ns/net", path), 0);
    snprintf(path, sizeof path, "%s/alpha", tree.run);
    assert_int_equal(symlink("/proc/self/ns/net", path), 0);
    snprintf(path, sizeof path, "%s/stale", tree.run);
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(netns_list_all(tree.proc, tree.run, &list, &unreadable, &err), 0);
    assert_int_equal(list.count, 1);
    assert_int_equal(list.items[0].inode, own);
    assert_int_equal(list.items[0].pid, 57);
    assert_string_equal(list.items[0].name, "alpha");
    snprintf(expected, sizeof expected, "%s/alpha", tree.run);
    assert_string_equal(list.items[0].path, expected);
    netns_list_free(&list);
    fake_tree_remove(&tree);
}

static void test_list_fake_tree_two_namespaces(void **state)
{
    const struct netns_fixture *fixture = fixture_needed(state);
    struct fake_tree tree;
    fake_tree_create(&tree);
    fake_tree_add_process(&tree, "9", fixture->path);   /* a process inside the test namespace */
    fake_tree_add_process(&tree, "20", "/proc/self/ns/net");
    fake_tree_add_process(&tree, "5", fixture->path);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tree.run, fixture->name);
    assert_int_equal(symlink(fixture->path, path), 0);

    struct netns_list list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(netns_list_all(tree.proc, tree.run, &list, NULL, &err), 0);
    assert_int_equal(list.count, 2);
    assert_true(list.items[0].inode < list.items[1].inode);
    const struct netns_entry *test_ns = find_inode(&list, fixture->inode);
    const struct netns_entry *own = find_inode(&list, inode_of("/proc/self/ns/net"));
    assert_non_null(test_ns);
    assert_non_null(own);
    assert_int_equal(test_ns->pid, 5);
    assert_string_equal(test_ns->name, fixture->name);
    assert_string_equal(test_ns->path, path);
    assert_int_equal(own->pid, 20);
    assert_string_equal(own->name, "");
    netns_list_free(&list);
    fake_tree_remove(&tree);
}

static void test_list_bad_proc_root(void **state)
{
    (void)state;
    struct netns_list list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(netns_list_all("/nonexistent/portreg-proc", NULL, &list, NULL, &err), -ENOENT);
    assert_int_equal(err.code, -ENOENT);
    assert_string_equal(err.path, "/nonexistent/portreg-proc");
    assert_int_equal(list.count, 0);
}

/* An unprivileged process cannot follow other users' ns links: they are counted, not fatal. */
static void test_list_counts_unreadable(void **state)
{
    (void)state;
    SKIP_UNLESS_ROOT();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(10);
        struct netns_list list = { 0 };
        unsigned unreadable = 0;
        struct pr_error err = { 0 };
        if (netns_list_all(NULL, NULL, &list, &unreadable, &err) != 0)
            _exit(11);
        struct stat st;
        int status = 0;
        if (unreadable == 0)
            status = 12;   /* pid 1 and this test's parent belong to root */
        else if (stat("/proc/self/ns/net", &st) != 0 || !find_inode(&list, (uint64_t)st.st_ino))
            status = 13;   /* our own namespace is still found */
        netns_list_free(&list);
        _exit(status);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- netns_run_in ---- */

struct inside_report {
    uint64_t inode;
    int ret;
};

static int report_inode(void *ctx)
{
    struct inside_report *report = ctx;
    report->ret = netns_current_inode(&report->inode, NULL);
    return 42;
}

static void test_run_in_enters_and_returns(void **state)
{
    const struct netns_fixture *fixture = fixture_needed(state);
    uint64_t before = 0, after = 0;
    assert_int_equal(netns_current_inode(&before, NULL), 0);
    struct inside_report report = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(netns_run_in(fixture->path, report_inode, &report, &err), 42);
    assert_int_equal(report.ret, 0);
    assert_int_equal(report.inode, fixture->inode);
    assert_int_not_equal(report.inode, before);
    assert_int_equal(netns_current_inode(&after, NULL), 0);
    assert_int_equal(after, before);   /* the calling thread never moved */

    /* entering our own namespace through /proc works too */
    memset(&report, 0, sizeof report);
    assert_int_equal(netns_run_in("/proc/self/ns/net", report_inode, &report, &err), 42);
    assert_int_equal(report.inode, before);
}

static int must_not_run(void *ctx)
{
    (void)ctx;
    fail_msg("fn ran although the namespace could not be entered");
    return 0;
}

static void test_run_in_errors(void **state)
{
    (void)state;
    struct pr_error err = { 0 };
    assert_int_equal(netns_run_in("/nonexistent/portreg-ns", must_not_run, NULL, &err), -ENOENT);
    assert_int_equal(err.code, -ENOENT);
    assert_string_equal(err.path, "/nonexistent/portreg-ns");
    assert_non_null(strstr(err.message, "cannot open"));

    memset(&err, 0, sizeof err);
    assert_int_equal(netns_run_in("/proc/self/status", must_not_run, NULL, &err), -EINVAL);
    assert_string_equal(err.path, "/proc/self/status");
    assert_non_null(strstr(err.message, "not a network namespace"));

    memset(&err, 0, sizeof err);
    assert_int_equal(netns_run_in("/proc/self/ns/uts", must_not_run, NULL, &err), -EINVAL);
    assert_string_equal(err.path, "/proc/self/ns/uts");
}

/* ---- the listed namespace is the one entered (pid reuse) ---- */

static void test_check_opened_compares_device_and_inode(void **state)
{
    (void)state;
    struct netns_list list = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(netns_list_all(NULL, NULL, &list, NULL, &err), 0);
    uint64_t self = 0;
    assert_int_equal(netns_current_inode(&self, NULL), 0);
    const struct netns_entry *own = NULL;
    for (size_t i = 0; i < list.count; i++)
        if (list.items[i].inode == self)
            own = &list.items[i];
    assert_non_null(own);
    struct stat st;
    assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
    assert_int_equal(own->device, (uint64_t)st.st_dev);

    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct netns_entry entry = *own;
    assert_int_equal(netns_check_opened(fd, &entry, &err), 0);
    /* the pid was reused: the path now opens another namespace */
    entry.inode = self + 1;
    assert_int_equal(netns_check_opened(fd, &entry, &err), -ESTALE);
    assert_int_equal(err.code, -ESTALE);
    assert_string_equal(err.path, entry.path);
    entry.inode = self;
    entry.device = own->device + 1;
    assert_int_equal(netns_check_opened(fd, &entry, &err), -ESTALE);
    close(fd);
    netns_list_free(&list);
}

static void test_run_in_entry_skips_a_changed_namespace(void **state)
{
    (void)state;
    uint64_t self = 0;
    assert_int_equal(netns_current_inode(&self, NULL), 0);
    struct stat st;
    assert_int_equal(stat("/proc/self/ns/net", &st), 0);
    struct netns_entry entry;
    memset(&entry, 0, sizeof entry);
    snprintf(entry.path, sizeof entry.path, "/proc/self/ns/net");
    entry.device = (uint64_t)st.st_dev;
    entry.inode = self;
    struct inside_report report = { 0 };
    struct pr_error err = { 0 };
    assert_int_equal(netns_run_in_entry(&entry, report_inode, &report, &err), 42);
    assert_int_equal(report.inode, self);
    entry.inode = self ^ 0x5a5a;   /* listed as another namespace: fn must not run there */
    memset(&err, 0, sizeof err);
    assert_int_equal(netns_run_in_entry(&entry, must_not_run, NULL, &err), -ESTALE);
    assert_non_null(strstr(err.message, "pid was reused"));
    assert_string_equal(err.path, "/proc/self/ns/net");
}

/* ---- what an --all-netns answer could not see ---- */

static void test_inspect_netns_gaps(void **state)
{
    (void)state;
    struct inspect_result res;
    memset(&res, 0, sizeof res);
    char buf[512];
    assert_false(inspect_netns_incomplete(&res));
    assert_null(inspect_netns_gaps(&res, buf, sizeof buf));
    res.netns_failed = 3;
    res.netns_failed_errno = EPERM;
    assert_true(inspect_netns_incomplete(&res));
    assert_non_null(inspect_netns_gaps(&res, buf, sizeof buf));
    assert_non_null(strstr(buf, "could not enter 3 network namespaces (permission denied"));
    assert_non_null(strstr(buf, "their sockets were not searched"));
    /* a namespace whose process exited is a note, not a blind spot */
    memset(&res, 0, sizeof res);
    res.netns_gone = 1;
    assert_false(inspect_netns_incomplete(&res));
    assert_non_null(inspect_netns_gaps(&res, buf, sizeof buf));
    assert_non_null(strstr(buf, "1 network namespace skipped"));
    /* unreadable links are blind spots only without root */
    memset(&res, 0, sizeof res);
    res.netns_unreadable = 5;
    assert_int_equal(inspect_netns_incomplete(&res), geteuid() != 0);
    /* a small buffer is cut, never overrun */
    res.netns_failed = 2;
    res.netns_failed_errno = EACCES;
    char small[16];
    assert_non_null(inspect_netns_gaps(&res, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
}

/* ---- sock_diag inside a namespace ---- */

struct inside_listener {
    int fd;
    uint16_t port;
    uint64_t inode;
};

static int open_listener_inside(void *ctx)
{
    struct inside_listener *listener = ctx;
    listener->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener->fd < 0)
        return -errno;
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t length = sizeof address;
    if (bind(listener->fd, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(listener->fd, 4) != 0 ||
        getsockname(listener->fd, (struct sockaddr *)&address, &length) != 0)
        return -errno;
    listener->port = ntohs(address.sin_port);
    return 0;
}

struct inside_dump {
    struct socket_list list;
    uint64_t netns;
    struct pr_error err;
};

static int dump_inside(void *ctx)
{
    struct inside_dump *dump = ctx;
    int ret = netns_current_inode(&dump->netns, &dump->err);
    if (ret < 0)
        return ret;
    struct sockdiag_query q = { .protos = 1u << REGISTRY_PROTO_TCP, .netns = dump->netns,
                                .states = 1u << SOCKET_STATE_LISTEN };
    return sockdiag_dump(&q, &dump->list, &dump->err);
}

static const struct socket_entry *find_socket_inode(const struct socket_list *list, uint64_t inode)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].inode == inode)
            return &list->items[i];
    return NULL;
}

static void test_sockdiag_inside_namespace(void **state)
{
    const struct netns_fixture *fixture = fixture_needed(state);
    struct inside_listener listener = { .fd = -1 };
    struct pr_error err = { 0 };
    int ret = netns_run_in(fixture->path, open_listener_inside, &listener, &err);
    if (ret != 0)
        fail_msg("listener inside %s: %d %s", fixture->name, ret, err.message);
    struct stat st;
    assert_int_equal(fstat(listener.fd, &st), 0);
    listener.inode = (uint64_t)st.st_ino;

    struct inside_dump inside = { 0 };
    ret = netns_run_in(fixture->path, dump_inside, &inside, &err);
    if (ret != 0)
        fail_msg("dump inside: %d %s %s", ret, err.message, inside.err.message);
    assert_int_equal(inside.netns, fixture->inode);
    const struct socket_entry *e = find_socket_inode(&inside.list, listener.inode);
    assert_non_null(e);
    assert_int_equal(e->local_port, listener.port);
    assert_int_equal(e->state, SOCKET_STATE_LISTEN);
    assert_int_equal(e->netns, fixture->inode);
    static const uint8_t loopback[4] = { 127, 0, 0, 1 };
    assert_memory_equal(e->local_addr, loopback, 4);
    /* a fresh namespace holds nothing else */
    assert_int_equal(inside.list.count, 1);
    socket_list_free(&inside.list);

    /* the host namespace does not see it */
    struct sockdiag_query q = { .protos = 1u << REGISTRY_PROTO_TCP,
                                .states = 1u << SOCKET_STATE_LISTEN };
    struct socket_list host = { 0 };
    assert_int_equal(sockdiag_dump(&q, &host, &err), 0);
    assert_null(find_socket_inode(&host, listener.inode));
    socket_list_free(&host);

    /* and ss inside the namespace agrees */
    char command[160];
    snprintf(command, sizeof command, "ip netns exec %s ss -Htln", fixture->name);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    char line[512], ours[64];
    snprintf(ours, sizeof ours, "127.0.0.1:%u ", listener.port);
    size_t lines = 0;
    bool found = false;
    while (fgets(line, sizeof line, pipe)) {
        lines++;
        found = found || strstr(line, ours);
    }
    assert_int_equal(pclose(pipe), 0);
    assert_true(found);
    assert_int_equal(lines, 1);
    close(listener.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_current_inode),
        cmocka_unit_test(test_list_host),
        cmocka_unit_test(test_list_names_the_test_namespace),
        cmocka_unit_test(test_list_fake_tree_dedups_and_names),
        cmocka_unit_test(test_list_fake_tree_two_namespaces),
        cmocka_unit_test(test_list_bad_proc_root),
        cmocka_unit_test(test_list_counts_unreadable),
        cmocka_unit_test(test_run_in_enters_and_returns),
        cmocka_unit_test(test_run_in_errors),
        cmocka_unit_test(test_sockdiag_inside_namespace),
        cmocka_unit_test(test_inspect_netns_gaps),
        cmocka_unit_test(test_check_opened_compares_device_and_inode),
        cmocka_unit_test(test_run_in_entry_skips_a_changed_namespace),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
