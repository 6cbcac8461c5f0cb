/* procmap.h — which processes hold which sockets: a map from socket inode to (pid, fd).
 * Built by one of two collectors behind the same interface: the /proc walk (procmap_proc.c:
 * readlinkat over /proc/PID/fd, on every core)
 * and the BPF task_file iterator (procmap_bpf.c: the kernel lists every task's socket files in
 * one pass, or only the wanted ones when there are few; needs root and BTF). Loading the BPF
 * program can start early on a thread (procmap_preload_start) and overlap the socket dump.
 * A socket shared after fork has several holders; every one is found unless
 * stop_at_first_holder asks for speed over completeness. */
#ifndef PORTREG_NET_PROCMAP_H
#define PORTREG_NET_PROCMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct socket_holder {
    uint32_t pid;
    int32_t fd;
};

enum procmap_method {
    PROCMAP_METHOD_AUTO = 0,   /* BPF when it loads, else the /proc walk */
    PROCMAP_METHOD_PROC = 1,
    PROCMAP_METHOD_BPF = 2,
};

struct procmap_options {
    const char *proc_root;        /* NULL = "/proc" */
    const uint64_t *wanted;       /* sorted socket inodes to find; NULL = every socket */
    size_t wanted_count;
    unsigned threads;             /* /proc walk workers; 0 = one per online CPU */
    enum procmap_method method;
    bool stop_at_first_holder;    /* stop once each wanted inode has a holder: faster, but a
                                     socket shared after fork may then list one holder only */
};

struct procmap_stats {
    enum procmap_method method_used;
    unsigned processes;           /* processes looked at */
    unsigned processes_denied;    /* whose fd table could not be read (permission) */
    uint64_t descriptors;         /* file descriptors looked at */
    char bpf_unavailable[256];    /* why BPF was not used, "" when it was or not tried */
};

struct procmap;

int procmap_build(const struct procmap_options *opt, struct procmap **out,
                  struct procmap_stats *stats, struct pr_error *err);

/* Loading the BPF program takes ~20 ms (libbpf parses the kernel's BTF), about as long as a
 * large socket dump: start it first, dump, then build with it. procmap_preload_start() starts a
 * thread that loads it when opt->method is AUTO or BPF and opt->proc_root is NULL or "/proc",
 * else returns NULL (nothing to do); it never fails (NULL when no thread could start): errors
 * surface in procmap_build_preloaded(), which joins the thread, builds as procmap_build() does
 * (the preloaded program instead of loading one; same fallback to /proc for AUTO) and frees
 * preload. preload may be NULL: then it is procmap_build(). procmap_preload_cancel() tells the
 * thread to stop before its next step, joins it (so it waits for a BTF parse under way, up to
 * the whole load) and frees without building; NULL is fine. Each preload goes to exactly one of
 * the two. */
struct procmap_preload;
struct procmap_preload *procmap_preload_start(const struct procmap_options *opt);
int procmap_build_preloaded(struct procmap_preload *preload, const struct procmap_options *opt,
                            struct procmap **out, struct procmap_stats *stats,
                            struct pr_error *err);
void procmap_preload_cancel(struct procmap_preload *preload);

/* The holders of inode, ordered by pid then fd; 0 when none. */
size_t procmap_holders(const struct procmap *pm, uint64_t inode, const struct socket_holder **out);
void procmap_free(struct procmap *pm);

/* For collectors: a map under construction. procmap_add() may be called from several threads
 * when each uses its own shard (shard < shards given to procmap_new). */
struct procmap *procmap_new(unsigned shards, const uint64_t *wanted, size_t wanted_count);
/* Record (inode → pid, fd) when inode is wanted (or everything is). Returns true once every
 * wanted inode has at least one holder, so a collector can stop early. */
bool procmap_add(struct procmap *pm, unsigned shard, uint64_t inode, uint32_t pid, int32_t fd);
bool procmap_is_wanted(const struct procmap *pm, uint64_t inode);
/* Whether procmap_add() reports "all found" (a collector's cue to stop) once each wanted inode
 * has one holder. procmap_new() sets true; procmap_build() uses opt->stop_at_first_holder. */
void procmap_set_stop_early(struct procmap *pm, bool stop_early);
/* Merge shards and sort; after this only procmap_holders() and procmap_free() are valid. */
int procmap_finish(struct procmap *pm);

/* The collectors (procmap_build picks one). */
int procmap_collect_proc(const struct procmap_options *opt, struct procmap *pm,
                         struct procmap_stats *stats, struct pr_error *err);
/* procmap_collect_bpf() = procmap_bpf_load() + procmap_bpf_collect_loaded() + free. A loaded
 * program makes one pass; with opt->wanted of at most TASK_SOCKETS_WANTED_MAX (4096) inodes the
 * kernel writes only their records, else every socket's (pm filters either way).
 * procmap_bpf_load() returns -ECANCELED, loading nothing more, once *cancel (may be NULL) is set;
 * it looks between its steps (dlopen, open, load: the BTF parse cannot be cut short). */
int procmap_collect_bpf(const struct procmap_options *opt, struct procmap *pm,
                        struct procmap_stats *stats, struct pr_error *err);
struct procmap_bpf_program;
int procmap_bpf_load(struct procmap_bpf_program **out, const atomic_bool *cancel,
                     struct procmap_stats *stats, struct pr_error *err);
int procmap_bpf_collect_loaded(struct procmap_bpf_program *program,
                               const struct procmap_options *opt, struct procmap *pm,
                               struct procmap_stats *stats, struct pr_error *err);
void procmap_bpf_program_free(struct procmap_bpf_program *program);

#endif
