/* file_io.c — whole-file read, read-only mmap, safe output files and mkdir -p (see file_io.h).
 * Plain POSIX and Linux calls (O_TMPFILE, linkat, renameat2); errors carry errno and the path.
 * No library does "replace a file keeping mode, owner, links and symlinks" (glib's
 * g_file_set_contents keeps neither owner nor links), hence the code here. */
#include "util/file_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int file_read_all_limited(const char *path, size_t max_size, struct file_buffer *out,
                          struct pr_error *err)
{
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto fail;
    struct stat st;
    if (fstat(fd, &st) < 0)
        goto fail_close;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        goto fail_close;
    }
    if (st.st_size > 0 && (uint64_t)st.st_size > max_size)
        goto too_big;
    size_t capacity = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
    char *data = malloc(capacity);
    if (!data)
        goto fail_close;
    size_t used = 0;
    for (;;) {
        if (used > max_size) {
            free(data);
            goto too_big;
        }
        if (used + 1 == capacity) {
            char *bigger = realloc(data, capacity * 2);
            if (!bigger) {
                free(data);
                goto fail_close;
            }
            data = bigger;
            capacity *= 2;
        }
        size_t want = capacity - 1 - used;
        if (max_size < SIZE_MAX && want > max_size + 1 - used)
            want = max_size + 1 - used;   /* never read more than one byte past the limit */
        ssize_t n = read(fd, data + used, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            free(data);
            errno = saved;
            goto fail_close;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    close(fd);
    data[used] = '\0';
    out->data = data;
    out->size = used;
    return 0;

too_big:
    close(fd);
    pr_error_set_path(err, path);
    if (max_size >= (1u << 20))
        return pr_error_set(err, -EFBIG, "larger than %zu MiB", max_size >> 20);
    return pr_error_set(err, -EFBIG, "larger than %zu bytes", max_size);
fail_close:;
    int saved = errno;
    close(fd);
    errno = saved;
fail:
    pr_error_set_path(err, path);
    return pr_error_set(err, -errno, "cannot read: %s", strerror(errno));
}

int file_read_all(const char *path, struct file_buffer *out, struct pr_error *err)
{
    return file_read_all_limited(path, SIZE_MAX, out, err);
}

void file_buffer_free(struct file_buffer *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->size = 0;
}

int file_map_readonly(const char *path, struct file_mapping *out, struct pr_error *err)
{
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto fail;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        goto fail;
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int saved = errno;
            close(fd);
            errno = saved;
            goto fail;
        }
        out->data = p;
        out->size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
fail:
    pr_error_set_path(err, path);
    return pr_error_set(err, -errno, "cannot open: %s", strerror(errno));
}

void file_unmap(struct file_mapping *map)
{
    if (map->data)
        munmap((void *)map->data, map->size);
    map->data = NULL;
    map->size = 0;
}

/* ---- safe output files (see file_io.h) ---- */

#define TEMP_PREFIX ".portreg-tmp."
#define SYMLINK_HOPS 40
#define STALE_TEMP_SECONDS 60

static int output_error(struct pr_error *err, const char *path, int code, const char *what)
{
    pr_error_set_path(err, path);
    return pr_error_set(err, code, "cannot write: %s%s%s", what, what[0] ? ": " : "",
                        strerror(-code));
}

/* Split path into its directory and last component ("." when there is no slash). */
static int split_path(const char *path, char *dir, size_t dir_size, char *name, size_t name_size)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!base[0])
        return -EISDIR;
    if ((size_t)snprintf(name, name_size, "%s", base) >= name_size)
        return -ENAMETOOLONG;
    if (!slash)
        snprintf(dir, dir_size, ".");
    else if (slash == path)
        snprintf(dir, dir_size, "/");
    else if ((size_t)(slash - path) >= dir_size)
        return -ENAMETOOLONG;
    else
        snprintf(dir, dir_size, "%.*s", (int)(slash - path), path);
    return 0;
}

static void temp_name(char *buf, size_t size)
{
    uint32_t random = 0;
    if (getrandom(&random, sizeof random, GRND_NONBLOCK) != (ssize_t)sizeof random) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        random = (uint32_t)ts.tv_nsec ^ (uint32_t)rand();
    }
    snprintf(buf, size, TEMP_PREFIX "%ld.%08x", (long)getpid(), random);
}

/* Temporaries of ours whose process is gone (a kill -9 of a named fallback, or between link
 * and rename) and that nobody touched for a minute: ours by prefix and owner only. */
static void remove_stale_temporaries(int dir_fd)
{
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return;
    }
    time_t now = time(NULL);
    const struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strncmp(entry->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) != 0)
            continue;
        char *end;
        long pid = strtol(entry->d_name + strlen(TEMP_PREFIX), &end, 10);
        struct stat st;
        if (pid <= 0 || pid > INT_MAX || *end != '.' ||
            fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode) || st.st_uid != geteuid() || now - st.st_mtime < STALE_TEMP_SECONDS)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        unlinkat(dir_fd, entry->d_name, 0);
    }
    closedir(dir);
}

/* Is this symlink one of /proc's magic links (/dev/stdout, /dev/fd/N, /proc/self/fd/N)? Those
 * name an open file, not a path to replace. */
static bool is_proc_link(const char *link_path)
{
    char dir[PATH_MAX], name[256], real[PATH_MAX];
    if (split_path(link_path, dir, sizeof dir, name, sizeof name) < 0 || !realpath(dir, real))
        return false;
    return strncmp(real, "/proc/", 6) == 0;
}

static int open_in_place(struct file_output *out, const char *path, bool regular,
                         struct pr_error *err)
{
    out->how = FILE_OUTPUT_IN_PLACE;
    out->regular = regular;
    out->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | (regular ? O_NOFOLLOW : 0));
    if (out->fd < 0)
        return output_error(err, out->path, -errno, "");
    if (regular) {
        struct stat st;
        if (fstat(out->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            close(out->fd);
            out->fd = -1;
            return output_error(err, out->path, -EAGAIN, "the file changed while it was opened");
        }
    }
    return 0;
}

static int open_named_temp(struct file_output *out, struct pr_error *err)
{
    for (int attempt = 0; attempt < 32; attempt++) {
        temp_name(out->temp, sizeof out->temp);
        out->fd = openat(out->dir_fd, out->temp,
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (out->fd >= 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    out->temp[0] = '\0';
    return output_error(err, out->path, -e, "cannot create a temporary file beside it");
}

static void close_output(struct file_output *out)
{
    if (out->fd >= 0 && out->how != FILE_OUTPUT_STDOUT)
        close(out->fd);
    if (out->dir_fd >= 0)
        close(out->dir_fd);
    out->fd = -1;
    out->dir_fd = -1;
}

void file_output_discard(struct file_output *out)
{
    if (out->how == FILE_OUTPUT_REPLACE && out->temp[0] && out->dir_fd >= 0)
        unlinkat(out->dir_fd, out->temp, 0);
    out->temp[0] = '\0';
    close_output(out);
}

int file_output_open(struct file_output *out, const char *path, unsigned flags,
                     struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->dir_fd = -1;
    if ((size_t)snprintf(out->path, sizeof out->path, "%s", path) >= sizeof out->path)
        return output_error(err, path, -ENAMETOOLONG, "");
    if ((flags & FILE_OUTPUT_DASH_IS_STDOUT) && strcmp(path, "-") == 0) {
        fflush(stdout);   /* what the caller printed before comes first */
        out->how = FILE_OUTPUT_STDOUT;
        out->fd = STDOUT_FILENO;
        return 0;
    }

    /* follow symlinks to the final target ourselves: the temporary goes beside it */
    char current[PATH_MAX];
    snprintf(current, sizeof current, "%s", path);
    struct stat st;
    bool exists = false;
    for (int hop = 0;; hop++) {
        if (lstat(current, &st) < 0) {
            if (errno != ENOENT)
                return output_error(err, path, -errno, "");
            break;
        }
        exists = true;
        if (!S_ISLNK(st.st_mode) || (flags & FILE_OUTPUT_STATE))
            break;
        if (hop == SYMLINK_HOPS)
            return output_error(err, path, -ELOOP, "");
        if (is_proc_link(current)) {
            /* the target is an open file (pipe, terminal, a redirection): write into it */
            struct stat target;
            if (stat(path, &target) < 0)
                return output_error(err, path, -errno, "");
            return open_in_place(out, path, false, err);
        }
        char link[PATH_MAX], dir[PATH_MAX], name[256];
        ssize_t n = readlink(current, link, sizeof link - 1);
        if (n < 0)
            return output_error(err, path, -errno, "");
        link[n] = '\0';
        int r = split_path(current, dir, sizeof dir, name, sizeof name);
        if (r < 0)
            return output_error(err, path, r, "");
        char next[PATH_MAX];
        if ((size_t)snprintf(next, sizeof next, "%s%s%s", link[0] == '/' ? "" : dir,
                             link[0] == '/' ? "" : "/", link) >= sizeof next)
            return output_error(err, path, -ENAMETOOLONG, "");
        memcpy(current, next, sizeof current);
        exists = false;
    }
    if (exists && S_ISDIR(st.st_mode))
        return output_error(err, path, -EISDIR, "");
    if (exists && S_ISLNK(st.st_mode))   /* FILE_OUTPUT_STATE: the link itself is replaced */
        exists = false;
    if (exists && !S_ISREG(st.st_mode)) {
        if (flags & FILE_OUTPUT_STATE)
            return output_error(err, path, -EPERM, "not a regular file");
        return open_in_place(out, current, false, err);   /* FIFO, device, socket */
    }
    if (exists && st.st_nlink > 1 && !(flags & FILE_OUTPUT_STATE))
        return open_in_place(out, current, true, err);     /* keeps every hard link */

    char dir[PATH_MAX];
    int r = split_path(current, dir, sizeof dir, out->name, sizeof out->name);
    if (r < 0)
        return output_error(err, path, r, "");
    out->how = FILE_OUTPUT_REPLACE;
    out->target_existed = exists;
    out->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (out->dir_fd < 0 && errno == EACCES)   /* writable but not readable: no fsync of it */
        out->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (out->dir_fd < 0) {
        int e = errno;
        pr_error_set_path(err, path);
        if (e == ENOENT || e == ENOTDIR)
            return pr_error_set(err, -ENOENT, "cannot write: directory %s does not exist", dir);
        return pr_error_set(err, -e, "cannot write: directory %s: %s", dir, strerror(e));
    }
    remove_stale_temporaries(out->dir_fd);
    out->fd = openat(out->dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    out->tmpfile = out->fd >= 0;
    if (out->fd < 0) {
        int e = errno;
        /* filesystems without O_TMPFILE answer EOPNOTSUPP (old kernels EISDIR or EINVAL) */
        if (e != EOPNOTSUPP && e != EISDIR && e != EINVAL && e != ENOENT) {
            close_output(out);
            return output_error(err, path, -e, "cannot create a temporary file beside it");
        }
        if ((r = open_named_temp(out, err)) < 0) {
            close_output(out);
            return r;
        }
    }
    if (exists) {
        /* keep the owner (root, or a group of ours) and the mode; an owner we cannot give the
         * new file means writing in place */
        struct stat mine;
        if (fstat(out->fd, &mine) < 0) {
            int e = errno;
            file_output_discard(out);
            return output_error(err, path, -e, "");
        }
        if ((mine.st_uid != st.st_uid || mine.st_gid != st.st_gid) &&
            fchown(out->fd, st.st_uid, st.st_gid) < 0 && !(flags & FILE_OUTPUT_STATE)) {
            file_output_discard(out);
            return open_in_place(out, current, true, err);
        }
        if (fchmod(out->fd, st.st_mode & 07777) < 0) {
            int e = errno;
            file_output_discard(out);
            return output_error(err, path, -e, "");
        }
    }
    return 0;
}

int file_output_write(struct file_output *out, const void *data, size_t size,
                      struct pr_error *err)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(out->fd, p, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return output_error(err, out->path, -errno, "");
        }
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

/* Flush the temporary and give it a name in the directory (O_TMPFILE: linkat). */
static int prepare_replace(struct file_output *out, struct pr_error *err)
{
    if (fsync(out->fd) < 0)
        return output_error(err, out->path, -errno, "");
    if (!out->tmpfile)
        return 0;
    char proc_path[64];
    snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", out->fd);
    for (int attempt = 0; attempt < 32; attempt++) {
        temp_name(out->temp, sizeof out->temp);
        int r = linkat(AT_FDCWD, proc_path, out->dir_fd, out->temp, AT_SYMLINK_FOLLOW);
        if (r < 0 && (errno == ENOENT || errno == ENOTDIR))   /* no /proc: needs privilege */
            r = linkat(out->fd, "", out->dir_fd, out->temp, AT_EMPTY_PATH);
        if (r == 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    out->temp[0] = '\0';
    return output_error(err, out->path, -e, "");
}

static void sync_directory(const struct file_output *out)
{
    fsync(out->dir_fd);   /* EBADF for an O_PATH descriptor: nothing more can be done */
}

int file_output_commit(struct file_output *out, struct pr_error *err)
{
    int r = 0;
    switch (out->how) {
    case FILE_OUTPUT_STDOUT:
        break;
    case FILE_OUTPUT_IN_PLACE:
        if (out->regular) {
            off_t end = lseek(out->fd, 0, SEEK_CUR);
            if (end < 0 || ftruncate(out->fd, end) < 0 || fsync(out->fd) < 0)
                r = output_error(err, out->path, -errno, "");
        }
        if (close(out->fd) < 0 && r == 0)
            r = output_error(err, out->path, -errno, "");
        out->fd = -1;
        break;
    case FILE_OUTPUT_REPLACE:
        if ((r = prepare_replace(out, err)) < 0)
            break;
        if (close(out->fd) < 0) {
            out->fd = -1;
            r = output_error(err, out->path, -errno, "");
            break;
        }
        out->fd = -1;
        if (renameat(out->dir_fd, out->temp, out->dir_fd, out->name) < 0) {
            r = output_error(err, out->path, -errno, "");
            break;
        }
        out->temp[0] = '\0';
        sync_directory(out);
        break;
    }
    file_output_discard(out);
    return r;
}

int file_output_commit_pair(struct file_output *first, struct file_output *second,
                            struct pr_error *err)
{
    if (first->how != FILE_OUTPUT_REPLACE || second->how != FILE_OUTPUT_REPLACE) {
        int r = file_output_commit(first, err);
        if (r < 0) {
            file_output_discard(second);
            return r;
        }
        return file_output_commit(second, err);
    }
    int r = prepare_replace(first, err);
    if (r == 0)
        r = prepare_replace(second, err);
    if (r < 0)
        goto out;
    bool exchanged = false;
    if (first->target_existed &&
        renameat2(first->dir_fd, first->temp, first->dir_fd, first->name, RENAME_EXCHANGE) == 0)
        exchanged = true;   /* first->temp now holds the old file */
    else if (renameat(first->dir_fd, first->temp, first->dir_fd, first->name) < 0) {
        r = output_error(err, first->path, -errno, "");
        goto out;
    } else
        first->temp[0] = '\0';
    if (renameat(second->dir_fd, second->temp, second->dir_fd, second->name) < 0) {
        r = output_error(err, second->path, -errno, "");
        if (exchanged)   /* swap the old first file back; the new one goes with its temp */
            renameat2(first->dir_fd, first->temp, first->dir_fd, first->name, RENAME_EXCHANGE);
        else if (!first->target_existed)
            unlinkat(first->dir_fd, first->name, 0);
        goto out;
    }
    second->temp[0] = '\0';
    sync_directory(first);
    sync_directory(second);
out:
    file_output_discard(first);    /* also removes the old first file after an exchange */
    file_output_discard(second);
    return r;
}

int file_write(const char *path, const void *data, size_t size, unsigned flags,
               struct pr_error *err)
{
    struct file_output out;
    int r = file_output_open(&out, path, flags, err);
    if (r < 0)
        return r;
    if ((r = file_output_write(&out, data, size, err)) < 0) {
        file_output_discard(&out);
        return r;
    }
    return file_output_commit(&out, err);
}

int file_write_atomic(const char *path, const void *data, size_t size, struct pr_error *err)
{
    return file_write(path, data, size, FILE_OUTPUT_DASH_IS_STDOUT, err);
}

int dir_create_path(const char *path, struct pr_error *err)
{
    char buf[PATH_MAX];
    if ((size_t)snprintf(buf, sizeof buf, "%s", path) >= sizeof buf) {
        pr_error_set_path(err, path);
        return pr_error_set(err, -ENAMETOOLONG, "path too long");
    }
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
                int e = errno;
                pr_error_set_path(err, buf);
                return pr_error_set(err, -e, "cannot create directory: %s", strerror(e));
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        pr_error_set_path(err, path);
        return pr_error_set(err, -ENOTDIR, "not a directory");
    }
    return 0;
}
