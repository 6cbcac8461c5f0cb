/* netns.c — the host's network namespaces and running code inside one (see netns.h).
 * netns_list_all() stats PROC/PID/ns/net relative to one open directory (fstatat, one syscall
 * per process), collects (inode, pid) pairs, sorts and deduplicates them, then merges the
 * names of the /run/netns bind mounts. netns_run_in() joins a namespace with setns() in a
 * short-lived pthread, so the caller's thread keeps its own namespace. */
#include "net/netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/text_escape.h"

#define NETNS_DEFAULT_PROC_ROOT "/proc"
#define NETNS_DEFAULT_RUN_DIR "/run/netns"

/* One namespace sighting: from a process (pid != 0) or from a /run/netns name. */
struct netns_sighting {
    uint64_t inode;
    uint32_t pid;           /* 0 for a /run/netns name */
    const char *name;       /* /run/netns name (owned by the name list), NULL for a process */
};

struct netns_sightings {
    struct netns_sighting *items;
    size_t count, capacity;
};

static void netns_close_directory(DIR **directory)
{
    if (*directory)
        closedir(*directory);
}
#define NETNS_CLEANUP_DIR __attribute__((cleanup(netns_close_directory)))

static void netns_close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

static void netns_sightings_free(struct netns_sightings *sightings)
{
    for (size_t i = 0; i < sightings->count; i++)
        free((char *)sightings->items[i].name);
    free(sightings->items);
    memset(sightings, 0, sizeof *sightings);
}

static int netns_sightings_add(struct netns_sightings *sightings, uint64_t inode, uint32_t pid,
                               const char *name)
{
    if (sightings->count == sightings->capacity) {
        size_t capacity = sightings->capacity ? sightings->capacity * 2 : 256;
        struct netns_sighting *items = realloc(sightings->items, capacity * sizeof *items);
        if (!items)
            return -ENOMEM;
        sightings->items = items;
        sightings->capacity = capacity;
    }
    char *name_copy = NULL;
    if (name && !(name_copy = strdup(name)))
        return -ENOMEM;
    sightings->items[sightings->count++] = (struct netns_sighting){ inode, pid, name_copy };
    return 0;
}

/* Order: inode, then names before processes, then by name, then by pid. */
static int netns_compare_sightings(const void *a, const void *b)
{
    const struct netns_sighting *left = a, *right = b;
    if (left->inode != right->inode)
        return left->inode < right->inode ? -1 : 1;
    if ((left->name != NULL) != (right->name != NULL))
        return left->name ? -1 : 1;
    if (left->name)
        return strcmp(left->name, right->name);
    return (left->pid > right->pid) - (left->pid < right->pid);
}

static int netns_list_append(struct netns_list *list, struct netns_entry **entry)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        struct netns_entry *items = realloc(list->items, capacity * sizeof *items);
        if (!items)
            return -ENOMEM;
        list->items = items;
        list->capacity = capacity;
    }
    *entry = &list->items[list->count++];
    memset(*entry, 0, sizeof **entry);
    return 0;
}

void netns_list_free(struct netns_list *list)
{
    free(list->items);
    memset(list, 0, sizeof *list);
}

int netns_current_inode(uint64_t *inode, struct pr_error *err)
{
    static const char path[] = "/proc/thread-self/ns/net";
    struct stat st;
    if (stat(path, &st) < 0) {
        int code = -errno;
        pr_error_set(err, code, "cannot stat the network namespace: %s", strerror(errno));
        pr_error_set_path(err, path);
        return code;
    }
    *inode = (uint64_t)st.st_ino;
    return 0;
}

/* A decimal pid directory name ("1234"), else 0. */
static uint32_t netns_parse_pid(const char *name)
{
    uint64_t pid = 0;
    if (!*name)
        return 0;
    for (const char *p = name; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        pid = pid * 10 + (uint64_t)(*p - '0');
        if (pid > UINT32_MAX)
            return 0;
    }
    return (uint32_t)pid;
}

/* Every process's namespace under proc_root. A process that exits meanwhile is skipped; one
 * whose link we may not follow (EACCES/EPERM without ptrace rights) is counted. */
static int netns_collect_processes(const char *proc_root, dev_t nsfs_device,
                                   struct netns_sightings *sightings, unsigned *unreadable,
                                   struct pr_error *err)
{
    NETNS_CLEANUP_DIR DIR *directory = opendir(proc_root);
    if (!directory) {
        int code = -errno;
        pr_error_set(err, code, "cannot list processes: %s", strerror(errno));
        pr_error_set_path(err, proc_root);
        return code;
    }
    int directory_fd = dirfd(directory);
    struct dirent *dirent;
    while ((errno = 0, dirent = readdir(directory))) {
        uint32_t pid = netns_parse_pid(dirent->d_name);
        if (!pid)
            continue;
        char relative[32];
        snprintf(relative, sizeof relative, "%u/ns/net", pid);
        struct stat st;
        if (fstatat(directory_fd, relative, &st, 0) < 0) {
            if (errno == EACCES || errno == EPERM)
                (*unreadable)++;
            continue;   /* ENOENT/ESRCH: the process exited meanwhile */
        }
        if (st.st_dev != nsfs_device)
            continue;
        int ret = netns_sightings_add(sightings, (uint64_t)st.st_ino, pid, NULL);
        if (ret < 0)
            return pr_error_set(err, ret, "out of memory");
    }
    if (errno) {
        int code = -errno;
        pr_error_set(err, code, "cannot list processes: %s", strerror(errno));
        pr_error_set_path(err, proc_root);
        return code;
    }
    return 0;
}

/* The bind mounts of `ip netns add` under run_dir; a missing directory has no names. A file
 * that is not a namespace (a mount that failed or was undone) is skipped. */
static int netns_collect_names(const char *run_dir, dev_t nsfs_device,
                               struct netns_sightings *sightings, struct pr_error *err)
{
    NETNS_CLEANUP_DIR DIR *directory = opendir(run_dir);
    if (!directory) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        int code = -errno;
        pr_error_set(err, code, "cannot list named network namespaces: %s", strerror(errno));
        pr_error_set_path(err, run_dir);
        return code;
    }
    int directory_fd = dirfd(directory);
    struct dirent *dirent;
    while ((dirent = readdir(directory))) {
        if (dirent->d_name[0] == '.' &&
            (dirent->d_name[1] == '\0' || (dirent->d_name[1] == '.' && dirent->d_name[2] == '\0')))
            continue;
        struct stat st;
        if (fstatat(directory_fd, dirent->d_name, &st, 0) < 0 || st.st_dev != nsfs_device)
            continue;
        int ret = netns_sightings_add(sightings, (uint64_t)st.st_ino, 0, dirent->d_name);
        if (ret < 0)
            return pr_error_set(err, ret, "out of memory");
    }
    return 0;
}

int netns_list_all(const char *proc_root, const char *run_netns_dir, struct netns_list *out,
                   unsigned *unreadable, struct pr_error *err)
{
    const char *proc = proc_root ? proc_root : NETNS_DEFAULT_PROC_ROOT;
    const char *run_dir = run_netns_dir ? run_netns_dir : NETNS_DEFAULT_RUN_DIR;
    unsigned unreadable_count = 0;

    /* Every namespace file lives on the one nsfs device; our own tells which it is. */
    struct stat own;
    if (stat("/proc/thread-self/ns/net", &own) < 0) {
        int code = -errno;
        pr_error_set(err, code, "cannot stat the network namespace: %s", strerror(errno));
        pr_error_set_path(err, "/proc/thread-self/ns/net");
        return code;
    }

    struct netns_sightings sightings = { 0 };
    int ret = netns_collect_processes(proc, own.st_dev, &sightings, &unreadable_count, err);
    if (ret == 0)
        ret = netns_collect_names(run_dir, own.st_dev, &sightings, err);
    if (ret < 0) {
        netns_sightings_free(&sightings);
        return ret;
    }
    qsort(sightings.items, sightings.count, sizeof *sightings.items, netns_compare_sightings);

    size_t count_at_start = out->count;
    for (size_t i = 0; i < sightings.count;) {
        size_t end = i;
        while (end < sightings.count && sightings.items[end].inode == sightings.items[i].inode)
            end++;
        struct netns_entry *entry;
        if (netns_list_append(out, &entry) < 0) {
            out->count = count_at_start;
            netns_sightings_free(&sightings);
            return pr_error_set(err, -ENOMEM, "out of memory");
        }
        entry->inode = sightings.items[i].inode;
        entry->device = (uint64_t)own.st_dev;
        /* Sorted: the smallest name (if any) comes first, then the lowest pid. */
        const struct netns_sighting *named = sightings.items[i].name ? &sightings.items[i] : NULL;
        for (size_t j = i; j < end; j++)
            if (!sightings.items[j].name) {
                entry->pid = sightings.items[j].pid;
                break;
            }
        if (named) {
            /* the name as shown: /run/netns names are any bytes root chose (ip netns add
             * takes an ESC), so they are escaped as process names are */
            text_escape(named->name, strlen(named->name), entry->name, sizeof entry->name);
            snprintf(entry->path, sizeof entry->path, "%s/%s", run_dir, named->name);
        } else {
            snprintf(entry->path, sizeof entry->path, "%s/%u/ns/net", proc, entry->pid);
        }
        i = end;
    }
    netns_sightings_free(&sightings);
    if (unreadable)
        *unreadable = unreadable_count;
    return 0;
}

/* What the worker thread of netns_run_in() is given and hands back. */
struct netns_worker {
    const char *path;
    const struct netns_entry *expected;   /* NULL: enter whatever path leads to */
    struct pr_error check_error;
    int (*fn)(void *ctx);
    void *ctx;
    int result;
    int enter_error;         /* -errno when the namespace could not be entered */
    const char *failure;     /* what went wrong, for the message */
};

static void *netns_worker_main(void *argument)
{
    struct netns_worker *worker = argument;
    __attribute__((cleanup(netns_close_fd))) int fd = open(worker->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        worker->enter_error = -errno;
        worker->failure = "cannot open the network namespace";
        return NULL;
    }
    if (worker->expected && netns_check_opened(fd, worker->expected, &worker->check_error) < 0) {
        worker->enter_error = worker->check_error.code;
        worker->failure = "the namespace changed since it was listed (its process exited and the pid was reused)";
        return NULL;
    }
    if (setns(fd, CLONE_NEWNET) < 0) {
        worker->enter_error = -errno;
        worker->failure = errno == EINVAL ? "not a network namespace"
                                              : "cannot enter the network namespace";
        return NULL;
    }
    worker->result = worker->fn(worker->ctx);
    return NULL;
}

int netns_check_opened(int fd, const struct netns_entry *entry, struct pr_error *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int code = -errno;
        pr_error_set(err, code, "cannot stat the network namespace: %s", strerror(errno));
        pr_error_set_path(err, entry->path);
        return code;
    }
    if ((uint64_t)st.st_ino != entry->inode || (uint64_t)st.st_dev != entry->device) {
        pr_error_set(err, -ESTALE, "namespace %llu was listed, the path now leads to %llu",
                     (unsigned long long)entry->inode, (unsigned long long)st.st_ino);
        pr_error_set_path(err, entry->path);
        return -ESTALE;
    }
    return 0;
}

static int netns_run_worker(const char *path, const struct netns_entry *expected, int (*fn)(void *ctx),
                            void *ctx, struct pr_error *err);

int netns_run_in(const char *path, int (*fn)(void *ctx), void *ctx, struct pr_error *err)
{
    return netns_run_worker(path, NULL, fn, ctx, err);
}

int netns_run_in_entry(const struct netns_entry *entry, int (*fn)(void *ctx), void *ctx, struct pr_error *err)
{
    return netns_run_worker(entry->path, entry, fn, ctx, err);
}

static int netns_run_worker(const char *path, const struct netns_entry *expected, int (*fn)(void *ctx),
                            void *ctx, struct pr_error *err)
{
    struct netns_worker worker = { .path = path, .expected = expected, .fn = fn, .ctx = ctx };
    pthread_t thread;
    int ret = pthread_create(&thread, NULL, netns_worker_main, &worker);
    if (ret != 0) {
        pr_error_set(err, -ret, "cannot start a thread to enter the network namespace: %s",
                     strerror(ret));
        pr_error_set_path(err, path);
        return -ret;
    }
    ret = pthread_join(thread, NULL);
    if (ret != 0) {
        pr_error_set(err, -ret, "cannot join the network namespace thread: %s", strerror(ret));
        pr_error_set_path(err, path);
        return -ret;
    }
    if (worker.enter_error) {
        if (worker.check_error.code)
            pr_error_set(err, worker.enter_error, "%s: %s", worker.failure, worker.check_error.message);
        else
            pr_error_set(err, worker.enter_error, "%s: %s", worker.failure, strerror(-worker.enter_error));
        pr_error_set_path(err, path);
        return worker.enter_error;
    }
    return worker.result;
}
