/* procmap_bpf.c — the BPF collector of procmap.h: attaches the embedded task_sockets.bpf.o (see
 * net/bpf/) as an iter/task_file iterator through a dlopen()ed libbpf and reads its binary
 * (pid, fd, inode) records, so the kernel lists every process's socket files in one pass instead
 * of a readlink() per /proc/PID/fd entry. Loading (procmap_bpf_load: mostly libbpf parsing the
 * kernel's BTF) is split from the pass (procmap_bpf_collect_loaded) so that procmap_preload can
 * run it on another thread. Up to TASK_SOCKETS_WANTED_MAX wanted inodes go into a kernel hash map
 * and the program writes only their records. Needs root (CAP_BPF + CAP_PERFMON) and kernel BTF;
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

/* A loaded and attached program, good for one pass (its counters live in the object). */
struct procmap_bpf_program {
    struct bpf_api api;
    libbpf_print_fn_t previous_print;
    struct bpf_object *object;
    struct bpf_link *link;
    bool used;
};

void procmap_bpf_program_free(struct procmap_bpf_program *program)
{
    if (!program)
        return;
    if (program->link)
        program->api.link_destroy(program->link);
    if (program->object)
        program->api.object_close(program->object);
    if (program->api.handle) {
        program->api.set_print(program->previous_print);
        bpf_api_unload(&program->api);
    }
    free(program);
}

static void free_program(struct procmap_bpf_program **program)
{
    procmap_bpf_program_free(*program);
}

static void free_buffer(unsigned char **buffer)
{
    free(*buffer);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
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

static bool load_cancelled(const atomic_bool *cancel)
{
    return cancel && atomic_load_explicit(cancel, memory_order_relaxed);
}

int procmap_bpf_load(struct procmap_bpf_program **out, const atomic_bool *cancel,
                     struct procmap_stats *stats, struct pr_error *err)
{
    *out = NULL;
    if (load_cancelled(cancel))
        return pr_error_set(err, -ECANCELED, "loading the BPF program was cancelled");
    __attribute__((cleanup(free_program))) struct procmap_bpf_program *program =
        calloc(1, sizeof *program);
    if (!program)
        return pr_error_set(err, -ENOMEM, "out of memory for the BPF program");
    struct pr_error load_error = { 0 };
    int r = bpf_api_load(&program->api, &load_error);
    if (r < 0)
        return procmap_bpf_unavailable(stats, err, r, "%s", load_error.message);
    /* libbpf prints to stderr by default; the library never prints. */
    program->previous_print = program->api.set_print(NULL);
    if (load_cancelled(cancel))
        return pr_error_set(err, -ECANCELED, "loading the BPF program was cancelled");

    program->object = program->api.object_open_mem(task_sockets_bpf_object,
                                                   task_sockets_bpf_object_size, NULL);
    if (!program->object) {
        r = errno ? -errno : -EINVAL;
        return procmap_bpf_unavailable(stats, err, r, "opening the embedded BPF object: %s",
                                       strerror(-r));
    }
    if (load_cancelled(cancel))
        return pr_error_set(err, -ECANCELED, "loading the BPF program was cancelled");
    r = program->api.object_load(program->object);
    if (r < 0)
        return procmap_bpf_unavailable(stats, err, r, "%s (%s)", bpf_load_failure_hint(r),
                                       strerror(-r));
    struct bpf_program *iterator_program =
        program->api.object_find_program_by_name(program->object, task_sockets_program_name);
    if (!iterator_program)
        return procmap_bpf_unavailable(stats, err, -ENOENT, "the BPF object has no program %s",
                                       task_sockets_program_name);
    program->link = program->api.program_attach_iter(iterator_program, NULL);
    if (!program->link) {
        r = errno ? -errno : -EINVAL;
        return procmap_bpf_unavailable(stats, err, r, "attaching the task_file iterator: %s",
                                       strerror(-r));
    }
    *out = program;
    program = NULL;
    return 0;
}

static int task_sockets_map_fd(struct procmap_bpf_program *program, const char *name)
{
    struct bpf_map *map = program->api.object_find_map_by_name(program->object, name);
    return map ? program->api.map_fd(map) : -ENOENT;
}

static void free_filter(struct task_sockets_filter **filter)
{
    free(*filter);
}

/* Put the wanted inodes into the kernel's hash map and bitmap and turn the filter on. False when
 * that was not possible (too many, or an error): the pass then writes every socket, which is
 * only slower. The maps start empty (one pass per load) and inodes are only ever added. */
static bool task_sockets_filter_by_inode(struct procmap_bpf_program *program,
                                         const struct procmap_options *opt)
{
    if (!opt || !opt->wanted || opt->wanted_count > TASK_SOCKETS_WANTED_MAX)
        return false;
    int wanted_fd = task_sockets_map_fd(program, TASK_SOCKETS_WANTED_MAP);
    int filter_fd = task_sockets_map_fd(program, TASK_SOCKETS_FILTER_MAP);
    __attribute__((cleanup(free_filter))) struct task_sockets_filter *filter =
        calloc(1, sizeof *filter);
    if (wanted_fd < 0 || filter_fd < 0 || !filter)
        return false;
    if (opt->wanted_count > 0) {
        /* The values are not read; one byte each. Inode 0 (no file) matches no socket. */
        static const unsigned char present[TASK_SOCKETS_WANTED_MAX] = { 0 };
        __u32 count = (__u32)opt->wanted_count;
        if (program->api.map_update_batch(wanted_fd, opt->wanted, present, &count, NULL) < 0 ||
            count != opt->wanted_count) {
            /* Linux before 5.6 has no batch updates of hash maps. */
            for (size_t i = 0; i < opt->wanted_count; i++)
                if (program->api.map_update_elem(wanted_fd, &opt->wanted[i], &present[0],
                                                 BPF_ANY) < 0)
                    return false;
        }
    }
    for (size_t i = 0; i < opt->wanted_count; i++)
        filter->bits[task_sockets_filter_word(opt->wanted[i])] |=
            task_sockets_filter_bit(opt->wanted[i]);
    filter->on = 1;
    __u32 first = 0;
    return program->api.map_update_elem(filter_fd, &first, filter, BPF_ANY) == 0;
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

int procmap_bpf_collect_loaded(struct procmap_bpf_program *program,
                               const struct procmap_options *opt, struct procmap *pm,
                               struct procmap_stats *stats, struct pr_error *err)
{
    if (opt && opt->proc_root && strcmp(opt->proc_root, "/proc") != 0)
        return procmap_bpf_unavailable(stats, err, -EOPNOTSUPP,
                                       "it sees the running kernel, not %s", opt->proc_root);
    if (program->used)
        return pr_error_set(err, -EINVAL, "a loaded BPF program makes one pass only");
    program->used = true;
    task_sockets_filter_by_inode(program, opt);
    __attribute__((cleanup(close_fd))) int iterator_fd =
        program->api.iter_create(program->api.link_fd(program->link));
    if (iterator_fd < 0)
        return procmap_bpf_unavailable(stats, err, iterator_fd, "creating the iterator: %s",
                                       strerror(-iterator_fd));

    struct task_sockets_tally tally = { 0 };
    int r = task_sockets_read_all(iterator_fd, pm, &tally, stats, err);
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

int procmap_collect_bpf(const struct procmap_options *opt, struct procmap *pm,
                        struct procmap_stats *stats, struct pr_error *err)
{
    if (opt && opt->proc_root && strcmp(opt->proc_root, "/proc") != 0)
        return procmap_bpf_unavailable(stats, err, -EOPNOTSUPP,
                                       "it sees the running kernel, not %s", opt->proc_root);
    __attribute__((cleanup(free_program))) struct procmap_bpf_program *program = NULL;
    int r = procmap_bpf_load(&program, NULL, stats, err);
    if (r < 0)
        return r;
    return procmap_bpf_collect_loaded(program, opt, pm, stats, err);
}

#else /* !PORTREG_HAVE_BPF */

static int procmap_bpf_not_built(struct procmap_stats *stats, struct pr_error *err)
{
    return procmap_bpf_unavailable(stats, err, -EOPNOTSUPP,
                                   "portreg was built without it (clang with the bpf target and "
                                   "libbpf-dev were missing at build time)");
}

int procmap_bpf_load(struct procmap_bpf_program **out, const atomic_bool *cancel,
                     struct procmap_stats *stats, struct pr_error *err)
{
    (void)cancel;
    *out = NULL;
    return procmap_bpf_not_built(stats, err);
}

int procmap_bpf_collect_loaded(struct procmap_bpf_program *program,
                               const struct procmap_options *opt, struct procmap *pm,
                               struct procmap_stats *stats, struct pr_error *err)
{
    (void)program;
    (void)opt;
    (void)pm;
    return procmap_bpf_not_built(stats, err);
}

void procmap_bpf_program_free(struct procmap_bpf_program *program)
{
    (void)program;
}

int procmap_collect_bpf(const struct procmap_options *opt, struct procmap *pm,
                        struct procmap_stats *stats, struct pr_error *err)
{
    (void)opt;
    (void)pm;
    return procmap_bpf_not_built(stats, err);
}

#endif
