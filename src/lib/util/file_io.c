/* file_io.c — whole-file read, read-only mmap, atomic write and mkdir -p (see file_io.h).
 * Plain POSIX calls; errors carry errno and the path. */
#include "util/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int file_read_all(const char *path, struct file_buffer *out, struct pr_error *err)
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
    size_t capacity = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
    char *data = malloc(capacity);
    if (!data)
        goto fail_close;
    size_t used = 0;
    for (;;) {
        if (used + 1 == capacity) {
            char *bigger = realloc(data, capacity * 2);
            if (!bigger) {
                free(data);
                goto fail_close;
            }
            data = bigger;
            capacity *= 2;
        }
        ssize_t n = read(fd, data + used, capacity - 1 - used);
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

fail_close:;
    int saved = errno;
    close(fd);
    errno = saved;
fail:
    pr_error_set_path(err, path);
    return pr_error_set(err, -errno, "cannot read: %s", strerror(errno));
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

int file_write_atomic(const char *path, const void *data, size_t size, struct pr_error *err)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
        pr_error_set_path(err, path);
        return pr_error_set(err, -ENAMETOOLONG, "path too long");
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        pr_error_set_path(err, path);
        return pr_error_set(err, -errno, "cannot create %s: %s", tmp, strerror(errno));
    }
    const char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) < 0)
        goto fail;
    if (close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto fail;
    return 0;
fail:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    pr_error_set_path(err, path);
    return pr_error_set(err, -saved, "cannot write: %s", strerror(saved));
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
