/* inspect.h — the inspector's pipeline behind `portreg ls` and `portreg who`: dump sockets
 * (this namespace or every one), find the processes holding them (procmap, only when asked
 * and only for the inodes dumped), read each holder's name, uid and cgroup identity, and
 * filter by process. The same result feeds the table, JSON and later the HTTP API. */
#ifndef PORTREG_NET_INSPECT_H
#define PORTREG_NET_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/netns.h"
#include "net/procmap.h"
#include "net/process_info.h"
#include "net/sockdiag.h"
#include "util/error.h"

struct inspect_options {
    struct sockdiag_query query;     /* protocols, families, states, local ports */
    bool all_netns;                  /* every network namespace, not only this one */
    bool processes;                  /* attribute sockets to processes */
    enum procmap_method method;
    const char *proc_root;           /* NULL = "/proc" */
    /* process filters, applied after attribution (they imply processes) */
    uint32_t pid;                    /* 0 = any */
    const char *process_name;        /* NULL = any; compared with comm */
    bool has_uid;
    uint32_t uid;                    /* socket owner uid or holder uid */
};

struct inspected_netns {
    uint64_t inode;
    char name[256];                  /* /run/netns name, "" */
    uint32_t pid;                    /* a process in it, 0 */
    struct cgroup_identity owner;    /* that process's cgroup: the container owning it */
    bool entered;                    /* its sockets were dumped */
};

struct inspect_result {
    struct socket_list sockets;
    uint32_t *holder_start;          /* per socket: first index into holders */
    uint32_t *holder_count;
    struct socket_holder *holders;
    size_t holder_total;
    struct process_info *processes;  /* every holder's process, sorted by pid */
    size_t process_count;
    struct inspected_netns *netns;   /* namespaces looked at; [0] is the caller's own */
    size_t netns_count;
    unsigned netns_failed;           /* could not be entered (permission): not searched */
    int netns_failed_errno;          /* why the first of them could not (EPERM...) */
    unsigned netns_gone;             /* gone before they were entered, or their pid was
                                        reused (the path led to another namespace): skipped */
    unsigned netns_unreadable;       /* processes whose namespace link was unreadable */
    size_t unattributed;             /* sockets with a file but no holder found */
    bool processes_looked_up;
    struct procmap_stats procmap;
};

int inspect_run(const struct inspect_options *opt, struct inspect_result *res, struct pr_error *err);
/* The process with pid, or NULL. */
const struct process_info *inspect_process(const struct inspect_result *res, uint32_t pid);
const struct inspected_netns *inspect_netns(const struct inspect_result *res, uint64_t inode);
void inspect_result_free(struct inspect_result *res);
/* Whether an --all-netns answer is incomplete: namespaces that could not be entered, or (not
 * root) processes whose namespace could not be read. A negative answer ("nothing holds the
 * port") is then not an answer. */
bool inspect_netns_incomplete(const struct inspect_result *res);
/* What was not searched, as one clause for a warning, e.g. "could not enter 3 network
 * namespaces (permission denied; run as root)"; also notes namespaces skipped because they
 * changed. NULL when there is nothing to say. */
const char *inspect_netns_gaps(const struct inspect_result *res, char *buf, size_t size);

#endif
