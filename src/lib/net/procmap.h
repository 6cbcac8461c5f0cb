/* procmap.h — which processes hold which sockets: a map from socket inode to (pid, fd).
 * Built by one of two collectors behind the same interface: the /proc walk (procmap_proc.c:
 * readlinkat over /proc/PID/fd, on every core)
 * and the BPF task_file iterator (procmap_bpf.c: the kernel lists every task's socket files in
 * one pass; needs root and BTF). A socket shared after fork has several holders; every one is
 * found unless stop_at_first_holder asks for speed over completeness. */
#ifndef PORTREG_NET_PROCMAP_H
#define PORTREG_NET_PROCMAP_H

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
int procmap_collect_bpf(const struct procmap_options *opt, struct procmap *pm,
                        struct procmap_stats *stats, struct pr_error *err);

#endif
