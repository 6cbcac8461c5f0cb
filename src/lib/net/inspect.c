/* inspect.c — the inspector pipeline (see inspect.h): sockdiag per namespace, procmap for the
 * dumped inodes, process_info per holder, then process filters. The BPF holder collector loads
 * on its own thread during the dump (procmap_preload). Namespaces are entered through
 * netns_run_in(), so the calling thread stays where it is. */
#include "net/inspect.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dump_in_netns {
    const struct sockdiag_query *query;
    struct socket_list *out;
    struct pr_error *err;
};

static int dump_in_netns_worker(void *ctx_ptr)
{
    struct dump_in_netns *ctx = ctx_ptr;
    return sockdiag_dump(ctx->query, ctx->out, ctx->err);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int dump_namespaces(const struct inspect_options *opt, struct inspect_result *res,
                           struct pr_error *err)
{
    uint64_t self;
    int r = netns_current_inode(&self, err);
    if (r < 0)
        return r;
    struct netns_list list = { 0 };
    if (opt->all_netns && (r = netns_list_all(opt->proc_root, NULL, &list, &res->netns_unreadable, err)) < 0)
        return r;
    res->netns = calloc(list.count + 1, sizeof *res->netns);
    if (!res->netns) {
        netns_list_free(&list);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    /* our own namespace first, dumped directly */
    struct sockdiag_query q = opt->query;
    q.netns = self;
    res->netns[0] = (struct inspected_netns){ .inode = self, .entered = true };
    res->netns_count = 1;
    r = sockdiag_dump(&q, &res->sockets, err);
    for (size_t i = 0; i < list.count && r == 0; i++) {
        const struct netns_entry *ns = &list.items[i];
        struct inspected_netns *out = ns->inode == self ? &res->netns[0] : &res->netns[res->netns_count++];
        out->inode = ns->inode;
        snprintf(out->name, sizeof out->name, "%s", ns->name);
        out->pid = ns->pid;
        if (ns->pid) {
            struct process_info info;
            if (process_info_read(opt->proc_root, ns->pid, &info, NULL) == 0)
                out->owner = info.cgroup;
        }
        if (ns->inode == self)
            continue;
        q.netns = ns->inode;
        struct pr_error ns_err;
        pr_error_clear(&ns_err);
        struct dump_in_netns ctx = { &q, &res->sockets, &ns_err };
        int entered = netns_run_in_entry(ns, dump_in_netns_worker, &ctx, &ns_err);
        if (entered == -ENOENT || entered == -ESRCH || entered == -ESTALE) {
            res->netns_gone++;     /* its process exited (and maybe the pid was reused) */
        } else if (entered < 0) {
            if (!res->netns_failed)
                res->netns_failed_errno = -entered;
            res->netns_failed++;   /* not allowed: counted, not fatal, said by the caller */
        } else {
            out->entered = true;
        }
    }
    netns_list_free(&list);
    return r;
}

/* Takes preload (may be NULL): builds with it or cancels it. */
static int attribute_processes(const struct inspect_options *opt, struct inspect_result *res,
                               struct procmap_preload *preload, struct pr_error *err)
{
    size_t n = res->sockets.count;
    uint64_t *wanted = malloc((n ? n : 1) * sizeof *wanted);
    res->holder_start = calloc(n ? n : 1, sizeof *res->holder_start);
    res->holder_count = calloc(n ? n : 1, sizeof *res->holder_count);
    if (!wanted || !res->holder_start || !res->holder_count) {
        free(wanted);
        procmap_preload_cancel(preload);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    size_t wanted_count = 0;
    for (size_t i = 0; i < n; i++)
        if (res->sockets.items[i].inode)
            wanted[wanted_count++] = res->sockets.items[i].inode;
    qsort(wanted, wanted_count, sizeof *wanted, compare_u64);
    size_t unique = 0;
    for (size_t i = 0; i < wanted_count; i++)
        if (unique == 0 || wanted[unique - 1] != wanted[i])
            wanted[unique++] = wanted[i];

    struct procmap_options po = { .proc_root = opt->proc_root, .wanted = wanted,
                                  .wanted_count = unique, .method = opt->method };
    struct procmap *pm = NULL;
    int r = 0;
    if (unique)
        r = procmap_build_preloaded(preload, &po, &pm, &res->procmap, err);
    else
        procmap_preload_cancel(preload);
    free(wanted);
    if (r < 0)
        return r;
    res->processes_looked_up = true;

    size_t total = 0;
    for (size_t i = 0; i < n && pm; i++) {
        const struct socket_holder *h;
        total += procmap_holders(pm, res->sockets.items[i].inode, &h);
    }
    res->holders = malloc((total ? total : 1) * sizeof *res->holders);
    uint32_t *pids = malloc((total ? total : 1) * sizeof *pids);
    if (!res->holders || !pids) {
        free(pids);
        procmap_free(pm);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const struct socket_holder *h = NULL;
        uint64_t inode = res->sockets.items[i].inode;
        size_t count = pm && inode ? procmap_holders(pm, inode, &h) : 0;
        res->holder_start[i] = (uint32_t)at;
        res->holder_count[i] = (uint32_t)count;
        for (size_t k = 0; k < count; k++) {
            pids[at] = h[k].pid;
            res->holders[at++] = h[k];
        }
        if (count == 0 && inode)
            res->unattributed++;
    }
    res->holder_total = at;
    procmap_free(pm);

    /* one process_info per distinct pid, read in pid order so the table comes out sorted */
    qsort(pids, at, sizeof *pids, compare_u32);
    res->processes = calloc(at ? at : 1, sizeof *res->processes);
    if (!res->processes) {
        free(pids);
        return pr_error_set(err, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < at; i++) {
        if (i > 0 && pids[i] == pids[i - 1])
            continue;
        struct process_info *info = &res->processes[res->process_count++];
        if (process_info_read(opt->proc_root, pids[i], info, NULL) < 0) {
            memset(info, 0, sizeof *info);   /* exited meanwhile: the pid is still right */
            info->pid = pids[i];
        }
    }
    free(pids);
    return 0;
}

const struct process_info *inspect_process(const struct inspect_result *res, uint32_t pid)
{
    size_t lo = 0, hi = res->process_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (res->processes[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < res->process_count && res->processes[lo].pid == pid ? &res->processes[lo] : NULL;
}

const struct inspected_netns *inspect_netns(const struct inspect_result *res, uint64_t inode)
{
    for (size_t i = 0; i < res->netns_count; i++)
        if (res->netns[i].inode == inode)
            return &res->netns[i];
    return NULL;
}

/* Does socket i pass the process filters? Holder-based: any holder may match. */
static bool socket_passes_process_filters(const struct inspect_options *opt,
                                          const struct inspect_result *res, size_t i)
{
    if (opt->has_uid && res->sockets.items[i].uid == opt->uid && !opt->pid && !opt->process_name)
        return true;
    for (uint32_t k = 0; k < res->holder_count[i]; k++) {
        const struct socket_holder *h = &res->holders[res->holder_start[i] + k];
        const struct process_info *p = inspect_process(res, h->pid);
        if (opt->pid && h->pid != opt->pid)
            continue;
        if (opt->process_name && (!p || strcmp(p->comm, opt->process_name) != 0))
            continue;
        if (opt->has_uid && (!p || p->uid != opt->uid) && res->sockets.items[i].uid != opt->uid)
            continue;
        return true;
    }
    return false;
}

static void apply_process_filters(const struct inspect_options *opt, struct inspect_result *res)
{
    if (!opt->pid && !opt->process_name && !opt->has_uid)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < res->sockets.count; i++) {
        if (!socket_passes_process_filters(opt, res, i))
            continue;
        res->sockets.items[kept] = res->sockets.items[i];
        res->holder_start[kept] = res->holder_start[i];
        res->holder_count[kept] = res->holder_count[i];
        kept++;
    }
    res->sockets.count = kept;
}

int inspect_run(const struct inspect_options *opt, struct inspect_result *res, struct pr_error *err)
{
    memset(res, 0, sizeof *res);
    bool want_processes = opt->processes || opt->pid || opt->process_name || opt->has_uid;
    struct procmap_preload *preload = NULL;
    if (want_processes) {
        struct procmap_options po = { .proc_root = opt->proc_root, .method = opt->method };
        preload = procmap_preload_start(&po);
    }
    int r = dump_namespaces(opt, res, err);
    if (r == 0 && want_processes)
        r = attribute_processes(opt, res, preload, err);
    else
        procmap_preload_cancel(preload);
    if (r == 0 && want_processes)
        apply_process_filters(opt, res);
    if (r < 0)
        inspect_result_free(res);
    return r;
}

void inspect_result_free(struct inspect_result *res)
{
    socket_list_free(&res->sockets);
    free(res->holder_start);
    free(res->holder_count);
    free(res->holders);
    free(res->processes);
    free(res->netns);
    memset(res, 0, sizeof *res);
}

/* As root an unreadable namespace link is a process exiting meanwhile, not a blind spot. */
static unsigned inspect_unreadable_blind_spots(const struct inspect_result *res)
{
    return geteuid() == 0 ? 0 : res->netns_unreadable;
}

bool inspect_netns_incomplete(const struct inspect_result *res)
{
    return res->netns_failed || inspect_unreadable_blind_spots(res);
}

static void gaps_append(char *buf, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void gaps_append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int written = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    if (written > 0)
        *used = *used + (size_t)written < size ? *used + (size_t)written : size - 1;
}

const char *inspect_netns_gaps(const struct inspect_result *res, char *buf, size_t size)
{
    unsigned unreadable = inspect_unreadable_blind_spots(res);
    if (!res->netns_failed && !unreadable && !res->netns_gone)
        return NULL;
    size_t used = 0;
    buf[0] = '\0';
    if (res->netns_failed) {
        int e = res->netns_failed_errno;
        gaps_append(buf, size, &used, "could not enter %u network namespace%s (%s%s)", res->netns_failed,
                    res->netns_failed == 1 ? "" : "s",
                    e == EPERM || e == EACCES ? "permission denied" : strerror(e),
                    geteuid() != 0 ? "; run as root" : "");
    }
    if (unreadable && res->netns_failed)
        gaps_append(buf, size, &used, " nor see those of %u process%s", unreadable, unreadable == 1 ? "" : "es");
    else if (unreadable)
        gaps_append(buf, size, &used, "could not see the network namespaces of %u process%s (permission denied; "
                    "run as root)", unreadable, unreadable == 1 ? "" : "es");
    if (res->netns_failed || unreadable)
        gaps_append(buf, size, &used, ": their sockets were not searched");
    if (res->netns_gone)
        gaps_append(buf, size, &used, "%s%u network namespace%s skipped: %s process exited before %s entered",
                    used ? "; " : "", res->netns_gone, res->netns_gone == 1 ? "" : "s",
                    res->netns_gone == 1 ? "its" : "their", res->netns_gone == 1 ? "it was" : "they were");
    return buf;
}
