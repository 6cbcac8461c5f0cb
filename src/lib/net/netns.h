/* netns.h — the host's network namespaces and running code inside one.
 * Namespaces are found from /proc/PID/ns/net of every process and the bind mounts in
 * /run/netns (named by `ip netns add`), deduplicated by inode. netns_run_in() enters a
 * namespace in a worker thread (setns), so the calling thread never changes namespace;
 * netns_run_in_entry() first checks that the path still leads to the namespace listed. */
#ifndef PORTREG_NET_NETNS_H
#define PORTREG_NET_NETNS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct netns_entry {
    uint64_t inode;
    uint64_t device;       /* st_dev of the namespace file (the nsfs device) */
    char path[PATH_MAX];   /* a path that opens it: /run/netns/NAME or /proc/PID/ns/net */
    char name[256];        /* the /run/netns name escaped (text_escape.h), "" when none */
    uint32_t pid;          /* the lowest pid in it, 0 when only /run/netns names it */
};

struct netns_list {
    struct netns_entry *items;
    size_t count, capacity;
};

/* Inode of the calling thread's network namespace (stat of /proc/thread-self/ns/net). */
int netns_current_inode(uint64_t *inode, struct pr_error *err);
/* Every namespace (proc_root NULL = "/proc", run_netns_dir NULL = "/run/netns"); sorted by
 * inode. Processes whose ns link cannot be read (not root) are skipped and counted. */
int netns_list_all(const char *proc_root, const char *run_netns_dir, struct netns_list *out,
                   unsigned *unreadable, struct pr_error *err);
void netns_list_free(struct netns_list *list);
/* Run fn(ctx) in a new thread that has joined the namespace at path; returns fn's result, or
 * -errno (with err) when the namespace cannot be entered. */
int netns_run_in(const char *path, int (*fn)(void *ctx), void *ctx, struct pr_error *err);
/* 0 when fd, opened from entry->path, is the namespace the listing saw (same st_dev and
 * st_ino); -ESTALE (with err) when the path now leads to another one: the process exited and
 * its pid was reused by a process of another namespace. */
int netns_check_opened(int fd, const struct netns_entry *entry, struct pr_error *err);
/* netns_run_in() for a listed namespace: the opened file is checked with netns_check_opened()
 * before setns(), so a reused pid never lets fn run in the wrong namespace (-ESTALE). */
int netns_run_in_entry(const struct netns_entry *entry, int (*fn)(void *ctx), void *ctx,
                       struct pr_error *err);

#endif
