/* procmap_bpf.c — the BPF collector of procmap.h: attaches the embedded task_sockets.bpf.o (see
 * net/bpf/) as an iter/task_file iterator through a dlopen()ed libbpf and reads its binary
 * (pid, fd, inode) records, so the kernel lists every process's socket files in one pass instead
 * of a readlink() per /proc/PID/fd entry. Needs root (CAP_BPF + CAP_PERFMON) and kernel BTF;
 * otherwise it returns a negative errno and procmap_build() falls back to the /proc walk. */
#include "net/procmap.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Fill err and stats->bpf_unavailable with "BPF task iterator unavailable: <reason>". */
static int procmap_bpf_unavailable(struct procmap_stats *stats, struct pr_error *err, int code,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int procmap_bpf_unavailable(struct procmap_stats *stats, struct pr_error *err, int code,
                                   const char *fmt, ...)
{
    char reason[sizeof ((struct procmap_stats *)0)->bpf_unavailable];
    va_list args;
    va_start(args, fmt);
    vsnprintf(reason, sizeof reason, fmt, args);
    va_end(args);
    if (stats)
        snprintf(stats->bpf_unavailable, sizeof stats->bpf_unavailable, "%s", reason);
    return pr_error_set(err, code, "BPF task iterator unavailable: %s", reason);
}

#ifdef PORTREG_HAVE_BPF

#include <stdlib.h>
#include <unistd.h>

#include "net/bpf/task_sockets.h"
#include "net/bpf/task_sockets_bpf_object.h"
#include "util/bpf_loader.h"

enum { ITERATOR_READ_CHUNK = 256 * 1024 };

static const char task_sockets_program_name[] = "list_task_socket_files";

/* Everything one pass owns, released by task_sockets_iterator_close() on every return path. */
struct task_sockets_iterator {
    struct bpf_api api;
    libbpf_print_fn_t previous_print;
    struct bpf_object *object;
    struct bpf_link *link;
    int iterator_fd;
};

static void task_sockets_iterator_close(struct task_sockets_iterator *it)
{
    if (it->iterator_fd >= 0)
        close(it->iterator_fd);
    if (it->link)
        it->api.link_destroy(it->link);
    if (it->object)
        it->api.object_close(it->object);
    if (it->api.handle) {
        it->api.set_print(it->previous_print);
        bpf_api_unload(&it->api);
    }
    it->iterator_fd = -1;
    it->link = NULL;
    it->object = NULL;
}

static void free_buffer(unsigned char **buffer)
{
    free(*buffer);
}

/* Why loading failed, in words a user can act on. */
static const char *bpf_load_failure_hint(int code)
{
    if (code == -EPERM || code == -EACCES)
        return "needs root, or CAP_BPF and CAP_PERFMON";
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
        return "the kernel has no BTF (/sys/kernel/btf/vmlinux; CONFIG_DEBUG_INFO_BTF)";
    if (code == -ESRCH || code == -ENOENT || code == -EINVAL)
        return "the kernel lacks the task_file iterator (Linux >= 5.8 with BTF)";
    return "loading the program failed";
}

/* Load the object and create the iterator fd. */
static int task_sockets_iterator_open(struct task_sockets_iterator *it,
                                      struct procmap_stats *stats, struct pr_error *err)
{
    struct pr_error load_error = { 0 };
    int r = bpf_api_load(&it->api, &load_error);
    if (r < 0)
        return procmap_bpf_unavailable(stats, err, r, "%s", load_error.message);
    /* libbpf prints to stderr by default; the library never prints. */
    it->previous_print = it->api.set_print(NULL);

    it->object = it->api.object_open_mem(task_sockets_bpf_object, task_sockets_bpf_object_size,
                                         NULL);
    if (!it->object) {
        r = errno ? -errno : -EINVAL;
        return procmap_bpf_unavailable(stats, err, r, "opening the embedded BPF object: %s",
                                       strerror(-r));
    }
    r = it->api.object_load(it->object);
    if (r < 0)
        return procmap_bpf_unavailable(stats, err, r, "%s (%s)", bpf_load_failure_hint(r),
                                       strerror(-r));
    struct bpf_program *program =
        it->api.object_find_program_by_name(it->object, task_sockets_program_name);
    if (!program)
        return procmap_bpf_unavailable(stats, err, -ENOENT, "the BPF object has no program %s",
                                       task_sockets_program_name);
    it->link = it->api.program_attach_iter(program, NULL);
    if (!it->link) {
        r = errno ? -errno : -EINVAL;
        return procmap_bpf_unavailable(stats, err, r, "attaching the task_file iterator: %s",
                                       strerror(-r));
    }
    it->iterator_fd = it->api.iter_create(it->api.link_fd(it->link));
    if (it->iterator_fd < 0) {
        r = it->iterator_fd;
        it->iterator_fd = -1;
        return procmap_bpf_unavailable(stats, err, r, "creating the iterator: %s", strerror(-r));
    }
    return 0;
}

/* What one pass over the records found. */
struct task_sockets_tally {
    uint64_t socket_records;
    unsigned socket_processes;   /* distinct pids among the records (they come in pid order) */
    uint32_t last_pid;
    bool summary_seen;
    unsigned summary_processes;
    uint64_t summary_descriptors;
};

/* Feed whole records of buffer[0, length) to pm; returns the bytes consumed and sets *done once
 * procmap_add() says every wanted inode was found. */
static size_t task_sockets_consume(const unsigned char *buffer, size_t length, struct procmap *pm,
                                   struct task_sockets_tally *tally, bool *done)
{
    size_t used = 0;
    while (length - used >= sizeof(struct task_socket_record) && !*done) {
        struct task_socket_record record;
        memcpy(&record, buffer + used, sizeof record);
        used += sizeof record;
        if (record.fd == TASK_SOCKETS_SUMMARY_FD) {
            tally->summary_seen = true;
            tally->summary_processes = record.pid;
            tally->summary_descriptors = record.inode;
            continue;
        }
        tally->socket_records++;
        if (tally->socket_processes == 0 || record.pid != tally->last_pid) {
            tally->socket_processes++;
            tally->last_pid = record.pid;
        }
        if (procmap_add(pm, 0, record.inode, record.pid, record.fd))
            *done = true;
    }
    return used;
}

static int task_sockets_read_all(int iterator_fd, struct procmap *pm,
                                 struct task_sockets_tally *tally, struct procmap_stats *stats,
                                 struct pr_error *err)
{
    __attribute__((cleanup(free_buffer))) unsigned char *buffer = malloc(ITERATOR_READ_CHUNK);
    if (!buffer)
        return pr_error_set(err, -ENOMEM, "out of memory for the BPF iterator buffer");
    size_t pending = 0;
    bool done = false;
    while (!done) {
        ssize_t n = read(iterator_fd, buffer + pending, ITERATOR_READ_CHUNK - pending);
        if (n < 0) {
            /* EAGAIN: the kernel stops a read() that visited a million files without output;
             * the next read() carries on from there. */
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return procmap_bpf_unavailable(stats, err, -errno, "reading the iterator: %s",
                                           strerror(errno));
        }
        if (n == 0)
            break;
        pending += (size_t)n;
        size_t used = task_sockets_consume(buffer, pending, pm, tally, &done);
        memmove(buffer, buffer + used, pending - used);
        pending -= used;
    }
    return 0;
}

int procmap_collect_bpf(const struct procmap_options *opt, struct procmap *pm,
                        struct procmap_stats *stats, struct pr_error *err)
{
    if (opt && opt->proc_root && strcmp(opt->proc_root, "/proc") != 0)
        return procmap_bpf_unavailable(stats, err, -EOPNOTSUPP,
                                       "it sees the running kernel, not %s", opt->proc_root);
    __attribute__((cleanup(task_sockets_iterator_close)))
    struct task_sockets_iterator it = { .iterator_fd = -1 };
    int r = task_sockets_iterator_open(&it, stats, err);
    if (r < 0)
        return r;

    struct task_sockets_tally tally = { 0 };
    r = task_sockets_read_all(it.iterator_fd, pm, &tally, stats, err);
    if (r < 0)
        return r;
    if (stats) {
        stats->method_used = PROCMAP_METHOD_BPF;
        stats->bpf_unavailable[0] = '\0';
        stats->processes_denied = 0;
        /* The summary closes a complete pass; an early stop has only the socket records. */
        stats->processes = tally.summary_seen ? tally.summary_processes : tally.socket_processes;
        stats->descriptors = tally.summary_seen ? tally.summary_descriptors : tally.socket_records;
    }
    return 0;
}

#else /* !PORTREG_HAVE_BPF */

int procmap_collect_bpf(const struct procmap_options *opt, struct procmap *pm,
                        struct procmap_stats *stats, struct pr_error *err)
{
    (void)opt;
    (void)pm;
    return procmap_bpf_unavailable(stats, err, -EOPNOTSUPP,
                                   "portreg was built without it (clang with the bpf target and "
                                   "libbpf-dev were missing at build time)");
}

#endif
