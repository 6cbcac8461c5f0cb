/* file_io.h — the I/O edge: read a whole file, map a file read-only, write a file atomically
 * (temporary file in the same directory, fsync, rename), create a directory path.
 * Everything else in libportreg works on buffers. */
#ifndef PORTREG_UTIL_FILE_IO_H
#define PORTREG_UTIL_FILE_IO_H

#include <stddef.h>
#include <sys/stat.h>

#include "util/error.h"

struct file_buffer {
    char *data;      /* NUL-terminated copy of the file (the NUL is not counted in size) */
    size_t size;
};

struct file_mapping {
    const void *data;
    size_t size;
};

/* Read path into out. -errno with err naming the path on failure. */
int file_read_all(const char *path, struct file_buffer *out, struct pr_error *err);
void file_buffer_free(struct file_buffer *buf);

/* Map path read-only (private). An empty file maps to data NULL, size 0. */
int file_map_readonly(const char *path, struct file_mapping *out, struct pr_error *err);
void file_unmap(struct file_mapping *map);

/* Write data to path atomically: "<path>.tmp.<pid>" then rename(2). The file gets mode 0644.
 * On failure the old file is untouched and the temporary file removed. */
int file_write_atomic(const char *path, const void *data, size_t size, struct pr_error *err);

/* mkdir -p with mode 0755. */
int dir_create_path(const char *path, struct pr_error *err);

#endif
