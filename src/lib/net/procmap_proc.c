/* procmap_proc.c — the /proc walk collector: readlinkat() over PROC/PID/fd for "socket:[INODE]".
 * A long dense fd table (Linux >= 6.2 reports its open count as st_size) is probed by number,
 * skipping getdents64; sparse ones, or their rest, are listed. One worker per CPU takes processes
 * from a counter; idle ones then help with long tables in chunks, each through its own directory
 * descriptor. Stops once procmap_add() reports that everything wanted was found. */
#include "net/procmap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#define PROC_WALK_DENTS_BUFFER (64u * 1024u)
#define PROC_WALK_CHUNK 128u          /* descriptors claimed at a time from a shared fd table */
#define PROC_WALK_SHARE_MIN 512u      /* fd tables at least this long are offered for help */
#define PROC_WALK_PROBE_MIN 64u       /* open descriptors from which probing beats listing */
#define PROC_WALK_PROBE_MISS_BASE 32u /* probing gives up after 32 + hits / 8 missing numbers */
#define PROC_WALK_LINK_MAX 64u        /* "socket:[18446744073709551615]" is 29 bytes */
#define PROC_WALK_THREADS_MAX 256u

/* The kernel's struct linux_dirent64 (glibc only declares it for getdents64(3) since 2.30). */
struct proc_walk_dirent {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* One process's fd table while its owner walks it; idle workers may claim chunks of it.
 * Probing: chunks of fd numbers from 0 until open_count descriptors were seen (or too many
 * numbers were missing). Listing: chunks of the fds[] its owner listed. */
struct proc_walk_job {
    uint32_t pid;
    bool probing;
    const int32_t *fds;                /* listing */
    size_t fd_count;                   /* listing: length of fds[]; probing: open descriptors */
    atomic_size_t next_index;          /* start of the next unclaimed chunk (index or number) */
    atomic_size_t probe_hits, probe_misses;
    unsigned helpers;                  /* under walk->lock */
    struct proc_walk_job *next_job;    /* published list, under walk->lock */
};

struct proc_walk {
    int root_fd;
    struct procmap *pm;
    unsigned workers;                  /* threads asked for; 1 = no sharing of fd tables */
    const uint32_t *pids;
    size_t pid_count;
    atomic_size_t next_pid;
    atomic_bool stop;                  /* everything wanted was found, or a fatal error */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned owners_busy;              /* workers inside a process: may still publish a job */
    struct proc_walk_job *jobs;        /* published fd tables */
};

struct proc_walk_worker {
    struct proc_walk *walk;
    unsigned shard;
    char *dents;                       /* getdents64 buffer */
    int32_t *fds;
    size_t fd_capacity;
    unsigned processes, denied;
    uint64_t descriptors;
    int error;                         /* first fatal error, e.g. -ENOMEM */
    pthread_t thread;
};

/* Decimal digits of value into out (at least 11 bytes); returns the length. */
static size_t proc_walk_format_number(uint32_t value, char *out)
{
    char reversed[10];
    size_t length = 0;
    do {
        reversed[length++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < length; i++)
        out[i] = reversed[length - 1 - i];
    out[length] = '\0';
    return length;
}

/* A name made only of decimal digits that fits value_max, else false. */
static bool proc_walk_parse_number(const char *name, uint64_t value_max, uint64_t *value)
{
    uint64_t parsed = 0;
    if (*name == '\0')
        return false;
    for (const char *p = name; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        parsed = parsed * 10 + (uint64_t)(*p - '0');
        if (parsed > value_max)
            return false;
    }
    *value = parsed;
    return true;
}

/* "socket:[INODE]" → INODE; anything else (pipes, anon inodes, paths) → false. */
static bool proc_walk_parse_socket_link(const char *link, size_t length, uint64_t *inode)
{
    static const char prefix[] = "socket:[";
    const size_t prefix_length = sizeof prefix - 1;
    if (length < prefix_length + 2 || memcmp(link, prefix, prefix_length) != 0 ||
        link[length - 1] != ']')
        return false;
    uint64_t value = 0;
    for (size_t i = prefix_length; i < length - 1; i++) {
        char c = link[i];
        if (c < '0' || c > '9')
            return false;
        uint64_t digit = (uint64_t)(c - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *inode = value;
    return true;
}

static void proc_walk_request_stop(struct proc_walk *walk)
{
    if (atomic_exchange(&walk->stop, true))
        return;
    pthread_mutex_lock(&walk->lock);
    pthread_cond_broadcast(&walk->changed);
    pthread_mutex_unlock(&walk->lock);
}

/* readlinkat() each of fds[first..last) through dir_fd and record the sockets. */
static void proc_walk_read_links(struct proc_walk_worker *worker, int dir_fd, uint32_t pid,
                                 const int32_t *fds, size_t first, size_t last)
{
    struct proc_walk *walk = worker->walk;
    char name[16], link[PROC_WALK_LINK_MAX];
    for (size_t i = first; i < last; i++) {
        if (atomic_load_explicit(&walk->stop, memory_order_relaxed))
            return;
        proc_walk_format_number((uint32_t)fds[i], name);
        ssize_t length = readlinkat(dir_fd, name, link, sizeof link);
        uint64_t inode;
        if (length <= 0 || (size_t)length >= sizeof link ||
            !proc_walk_parse_socket_link(link, (size_t)length, &inode))
            continue;
        if (procmap_add(walk->pm, worker->shard, inode, pid, fds[i]))
            proc_walk_request_stop(walk);
    }
}

static bool proc_walk_probe_done(struct proc_walk_job *job)
{
    size_t hits = atomic_load_explicit(&job->probe_hits, memory_order_relaxed);
    size_t misses = atomic_load_explicit(&job->probe_misses, memory_order_relaxed);
    return hits >= job->fd_count || misses > PROC_WALK_PROBE_MISS_BASE + hits / 8;
}

/* readlinkat() fd numbers [first, last) of a probed table; a missing number is a miss. */
static void proc_walk_probe_numbers(struct proc_walk_worker *worker, int dir_fd,
                                    struct proc_walk_job *job, size_t first, size_t last)
{
    struct proc_walk *walk = worker->walk;
    size_t known = atomic_load_explicit(&job->probe_hits, memory_order_relaxed);
    size_t hits = 0, misses = 0;
    char name[16], link[PROC_WALK_LINK_MAX];
    for (size_t number = first; number < last && number <= INT32_MAX; number++) {
        if (known + hits >= job->fd_count ||
            atomic_load_explicit(&walk->stop, memory_order_relaxed))
            break;   /* every open descriptor seen (known only grows), or stopping */
        proc_walk_format_number((uint32_t)number, name);
        ssize_t length = readlinkat(dir_fd, name, link, sizeof link);
        if (length < 0) {
            misses++;
            continue;
        }
        hits++;
        uint64_t inode;
        if ((size_t)length < sizeof link &&
            proc_walk_parse_socket_link(link, (size_t)length, &inode) &&
            procmap_add(walk->pm, worker->shard, inode, job->pid, (int32_t)number))
            proc_walk_request_stop(walk);
    }
    worker->descriptors += hits;
    atomic_fetch_add(&job->probe_hits, hits);
    atomic_fetch_add(&job->probe_misses, misses);
}

/* Claim chunks of job until none is left. */
static void proc_walk_claim_chunks(struct proc_walk_worker *worker, int dir_fd,
                                   struct proc_walk_job *job)
{
    for (;;) {
        if (atomic_load_explicit(&worker->walk->stop, memory_order_relaxed))
            return;
        if (job->probing) {
            if (proc_walk_probe_done(job))
                return;
            size_t first = atomic_fetch_add(&job->next_index, PROC_WALK_CHUNK);
            proc_walk_probe_numbers(worker, dir_fd, job, first, first + PROC_WALK_CHUNK);
            if (first > INT32_MAX)
                return;
            continue;
        }
        size_t first = atomic_fetch_add(&job->next_index, PROC_WALK_CHUNK);
        if (first >= job->fd_count)
            return;
        size_t last = first + PROC_WALK_CHUNK < job->fd_count ? first + PROC_WALK_CHUNK
                                                              : job->fd_count;
        proc_walk_read_links(worker, dir_fd, job->pid, job->fds, first, last);
    }
}

/* List the descriptor numbers in dir_fd into worker->fds. Returns the count or -errno. */
static ssize_t proc_walk_list_fds(struct proc_walk_worker *worker, int dir_fd)
{
    size_t count = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, dir_fd, worker->dents, PROC_WALK_DENTS_BUFFER);
        if (got < 0)
            return count ? (ssize_t)count : -errno;   /* the process exited part way */
        if (got == 0)
            return (ssize_t)count;
        for (long offset = 0; offset < got;) {
            const struct proc_walk_dirent *entry =
                (const struct proc_walk_dirent *)(worker->dents + offset);
            offset += entry->d_reclen;
            uint64_t fd;
            if (!proc_walk_parse_number(entry->d_name, INT32_MAX, &fd))
                continue;   /* ".", ".." */
            if (count == worker->fd_capacity) {
                size_t capacity = worker->fd_capacity ? worker->fd_capacity * 2 : 1024;
                int32_t *grown = realloc(worker->fds, capacity * sizeof *grown);
                if (!grown)
                    return -ENOMEM;
                worker->fds = grown;
                worker->fd_capacity = capacity;
            }
            worker->fds[count++] = (int32_t)fd;
        }
    }
}

static void proc_walk_publish(struct proc_walk *walk, struct proc_walk_job *job)
{
    pthread_mutex_lock(&walk->lock);
    job->next_job = walk->jobs;
    walk->jobs = job;
    pthread_cond_broadcast(&walk->changed);
    pthread_mutex_unlock(&walk->lock);
}

/* Take job off the published list and wait for its helpers to leave. */
static void proc_walk_withdraw(struct proc_walk *walk, struct proc_walk_job *job)
{
    pthread_mutex_lock(&walk->lock);
    for (struct proc_walk_job **link = &walk->jobs; *link; link = &(*link)->next_job)
        if (*link == job) {
            *link = job->next_job;
            break;
        }
    while (job->helpers > 0)
        pthread_cond_wait(&walk->changed, &walk->lock);
    pthread_mutex_unlock(&walk->lock);
}

static void proc_walk_owner_enter(struct proc_walk *walk)
{
    pthread_mutex_lock(&walk->lock);
    walk->owners_busy++;
    pthread_mutex_unlock(&walk->lock);
}

static void proc_walk_owner_leave(struct proc_walk *walk)
{
    pthread_mutex_lock(&walk->lock);
    walk->owners_busy--;
    pthread_cond_broadcast(&walk->changed);
    pthread_mutex_unlock(&walk->lock);
}

/* Walk job: publish it when other workers may help, claim chunks, then wait for the helpers. */
static void proc_walk_run_job(struct proc_walk_worker *worker, int dir_fd,
                              struct proc_walk_job *job, size_t share_min)
{
    struct proc_walk *walk = worker->walk;
    bool shared = walk->workers > 1 && job->fd_count >= share_min;
    if (shared)
        proc_walk_publish(walk, job);
    proc_walk_claim_chunks(worker, dir_fd, job);
    if (shared)
        proc_walk_withdraw(walk, job);
}

/* A long fd table in procfs: its open descriptor count (st_size, Linux >= 6.2), else 0. */
static size_t proc_walk_probe_count(int dir_fd)
{
    struct stat st;
    if (fstat(dir_fd, &st) != 0 || st.st_size < (off_t)PROC_WALK_PROBE_MIN)
        return 0;
    struct statfs fs;
    if (fstatfs(dir_fd, &fs) != 0 || fs.f_type != PROC_SUPER_MAGIC)
        return 0;   /* a fixture tree: its size is not a descriptor count */
    return (size_t)st.st_size;
}

static void proc_walk_process(struct proc_walk_worker *worker, uint32_t pid)
{
    struct proc_walk *walk = worker->walk;
    char path[24];
    size_t length = proc_walk_format_number(pid, path);
    memcpy(path + length, "/fd", sizeof "/fd");
    int dir_fd = openat(walk->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) {
        if (errno == EACCES || errno == EPERM) {
            worker->processes++;
            worker->denied++;
        }
        return;   /* ENOENT: exited, or a directory without an fd table */
    }
    worker->processes++;

    size_t open_count = proc_walk_probe_count(dir_fd);
    if (open_count > 0) {
        struct proc_walk_job probe = { .pid = pid, .probing = true, .fd_count = open_count };
        atomic_init(&probe.next_index, 0);
        atomic_init(&probe.probe_hits, 0);
        atomic_init(&probe.probe_misses, 0);
        proc_walk_run_job(worker, dir_fd, &probe, PROC_WALK_SHARE_MIN);
        if (atomic_load(&probe.probe_hits) >= open_count ||
            atomic_load_explicit(&walk->stop, memory_order_relaxed)) {
            close(dir_fd);
            return;
        }
        /* Too sparse to probe: list the numbers not probed yet (a directory offset is fd + 2). */
        size_t resume = atomic_load(&probe.next_index);
        if (resume > INT32_MAX || lseek(dir_fd, (off_t)resume + 2, SEEK_SET) < 0) {
            close(dir_fd);
            return;
        }
    }

    ssize_t listed = proc_walk_list_fds(worker, dir_fd);
    if (listed < 0) {
        if (open_count == 0 && (listed == -EACCES || listed == -EPERM))
            worker->denied++;
        if (listed == -ENOMEM) {
            worker->error = -ENOMEM;
            proc_walk_request_stop(walk);
        }
        close(dir_fd);
        return;
    }
    worker->descriptors += (uint64_t)listed;
    struct proc_walk_job job = { .pid = pid, .fds = worker->fds, .fd_count = (size_t)listed };
    atomic_init(&job.next_index, 0);
    atomic_init(&job.probe_hits, 0);
    atomic_init(&job.probe_misses, 0);
    proc_walk_run_job(worker, dir_fd, &job, PROC_WALK_SHARE_MIN);
    close(dir_fd);
}

/* The published job with the most unclaimed descriptors, if that is worth helping with.
 * Called with walk->lock held. */
static struct proc_walk_job *proc_walk_pick_job(struct proc_walk *walk)
{
    struct proc_walk_job *best = NULL;
    size_t best_left = PROC_WALK_CHUNK;
    for (struct proc_walk_job *job = walk->jobs; job; job = job->next_job) {
        size_t done = job->probing ? atomic_load(&job->probe_hits)
                                   : atomic_load(&job->next_index);
        size_t left = done < job->fd_count ? job->fd_count - done : 0;
        if (job->probing && proc_walk_probe_done(job))
            left = 0;
        if (left > best_left) {
            best = job;
            best_left = left;
        }
    }
    return best;
}

static void proc_walk_help(struct proc_walk_worker *worker, struct proc_walk_job *job)
{
    char path[24];
    size_t length = proc_walk_format_number(job->pid, path);
    memcpy(path + length, "/fd", sizeof "/fd");
    int dir_fd = openat(worker->walk->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        return;
    proc_walk_claim_chunks(worker, dir_fd, job);
    close(dir_fd);
}

/* No process left to take: help owners of long fd tables until every owner is done. */
static void proc_walk_help_until_done(struct proc_walk_worker *worker)
{
    struct proc_walk *walk = worker->walk;
    pthread_mutex_lock(&walk->lock);
    while (!atomic_load(&walk->stop)) {
        struct proc_walk_job *job = proc_walk_pick_job(walk);
        if (job) {
            job->helpers++;
            pthread_mutex_unlock(&walk->lock);
            proc_walk_help(worker, job);
            pthread_mutex_lock(&walk->lock);
            job->helpers--;
            pthread_cond_broadcast(&walk->changed);
            continue;
        }
        if (walk->owners_busy == 0)
            break;
        pthread_cond_wait(&walk->changed, &walk->lock);
    }
    pthread_mutex_unlock(&walk->lock);
}

static void *proc_walk_worker_run(void *arg)
{
    struct proc_walk_worker *worker = arg;
    struct proc_walk *walk = worker->walk;
    while (!atomic_load_explicit(&walk->stop, memory_order_relaxed)) {
        proc_walk_owner_enter(walk);
        size_t index = atomic_fetch_add(&walk->next_pid, 1);
        if (index >= walk->pid_count) {
            proc_walk_owner_leave(walk);
            break;
        }
        proc_walk_process(worker, walk->pids[index]);
        proc_walk_owner_leave(walk);
    }
    proc_walk_help_until_done(worker);
    return NULL;
}

/* The numeric entries of the proc root: thread-group leaders only. */
static int proc_walk_list_pids(int root_fd, char *dents, uint32_t **out, size_t *out_count)
{
    uint32_t *pids = NULL;
    size_t count = 0, capacity = 0;
    for (;;) {
        long got = syscall(SYS_getdents64, root_fd, dents, PROC_WALK_DENTS_BUFFER);
        if (got < 0) {
            int r = -errno;
            free(pids);
            return r;
        }
        if (got == 0)
            break;
        for (long offset = 0; offset < got;) {
            const struct proc_walk_dirent *entry =
                (const struct proc_walk_dirent *)(dents + offset);
            offset += entry->d_reclen;
            uint64_t pid;
            if (!proc_walk_parse_number(entry->d_name, UINT32_MAX, &pid))
                continue;
            if (count == capacity) {
                capacity = capacity ? capacity * 2 : 512;
                uint32_t *grown = realloc(pids, capacity * sizeof *grown);
                if (!grown) {
                    free(pids);
                    return -ENOMEM;
                }
                pids = grown;
            }
            pids[count++] = (uint32_t)pid;
        }
    }
    *out = pids;
    *out_count = count;
    return 0;
}

int procmap_collect_proc(const struct procmap_options *opt, struct procmap *pm,
                         struct procmap_stats *stats, struct pr_error *err)
{
    const char *proc_root = opt && opt->proc_root ? opt->proc_root : "/proc";
    unsigned thread_count = opt ? opt->threads : 0;
    if (thread_count == 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        thread_count = online > 0 ? (unsigned)online : 1;
    }
    if (thread_count > PROC_WALK_THREADS_MAX)
        thread_count = PROC_WALK_THREADS_MAX;

    struct proc_walk walk = { .pm = pm };
    walk.root_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (walk.root_fd < 0) {
        int r = -errno;
        pr_error_set(err, r, "cannot open %s: %s", proc_root, strerror(-r));
        pr_error_set_path(err, proc_root);
        return r;
    }
    struct proc_walk_worker *workers = calloc(thread_count, sizeof *workers);
    if (!workers) {
        close(walk.root_fd);
        return pr_error_set(err, -ENOMEM, "out of memory for /proc walk workers");
    }
    int r = 0;
    for (unsigned i = 0; i < thread_count; i++) {
        workers[i].walk = &walk;
        workers[i].shard = i;
        workers[i].dents = malloc(PROC_WALK_DENTS_BUFFER);
        if (!workers[i].dents)
            r = -ENOMEM;
    }
    uint32_t *pids = NULL;
    if (r == 0)
        r = proc_walk_list_pids(walk.root_fd, workers[0].dents, &pids, &walk.pid_count);
    if (r < 0) {
        if (r == -ENOMEM)
            pr_error_set(err, r, "out of memory listing %s", proc_root);
        else
            pr_error_set(err, r, "cannot list %s: %s", proc_root, strerror(-r));
        pr_error_set_path(err, proc_root);
        goto out;
    }
    walk.pids = pids;
    atomic_init(&walk.next_pid, 0);
    atomic_init(&walk.stop, false);
    pthread_mutex_init(&walk.lock, NULL);
    pthread_cond_init(&walk.changed, NULL);

    /* Worker 0 is this thread; a worker that cannot be started leaves its share to others. */
    walk.workers = thread_count;
    unsigned started = 1;
    while (started < thread_count &&
           pthread_create(&workers[started].thread, NULL, proc_walk_worker_run,
                          &workers[started]) == 0)
        started++;
    proc_walk_worker_run(&workers[0]);
    for (unsigned i = 1; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    pthread_cond_destroy(&walk.changed);
    pthread_mutex_destroy(&walk.lock);

    if (stats) {
        stats->processes = 0;
        stats->processes_denied = 0;
        stats->descriptors = 0;
    }
    for (unsigned i = 0; i < started; i++) {
        if (workers[i].error < 0 && r == 0)
            r = workers[i].error;
        if (stats) {
            stats->processes += workers[i].processes;
            stats->processes_denied += workers[i].denied;
            stats->descriptors += workers[i].descriptors;
        }
    }
    if (r < 0)
        pr_error_set(err, r, "out of memory walking %s", proc_root);

out:
    for (unsigned i = 0; i < thread_count; i++) {
        free(workers[i].dents);
        free(workers[i].fds);
    }
    free(workers);
    free(pids);
    close(walk.root_fd);
    return r;
}
