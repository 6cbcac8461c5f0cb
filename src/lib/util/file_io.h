/* file_io.h — the I/O edge: read a whole file, map a file read-only, write a file atomically
 * keeping the target's mode, owner, links and symlinks (see file_output_open), create a directory
 * path (for the state directory only).
 * Everything else in libportreg works on buffers. */
#ifndef PORTREG_UTIL_FILE_IO_H
#define PORTREG_UTIL_FILE_IO_H

#include <stdbool.h>
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

/* Read at most max_size bytes of path: -EFBIG (err names the path and the limit) when the
 * file is larger, without reading more than max_size + 1 bytes (/dev/zero stops there). */
int file_read_all_limited(const char *path, size_t max_size, struct file_buffer *out,
                          struct pr_error *err);

/* Safe output files. How a target is written depends on what it is:
 *   "-" (with FILE_OUTPUT_DASH_IS_STDOUT)  standard output (stdout's stdio buffer flushed first);
 *   a missing file                         created with mode 0666 & ~umask;
 *   a regular file                         replaced atomically: an unnamed O_TMPFILE in the
 *                                          target's directory (or, on a filesystem without
 *                                          O_TMPFILE, a new ".portreg-tmp.PID.RANDOM" file
 *                                          opened O_EXCL|O_NOFOLLOW) gets the old file's mode
 *                                          and owner, is fsynced, linked and renamed over the
 *                                          target, then the directory is fsynced;
 *   a symlink                              followed: its final target is written (the link
 *                                          stays a link);
 *   a regular file with hard links         written in place (truncated to the new length) so
 *   (st_nlink > 1), or whose owner cannot  every link and the owner stay: not atomic, as
 *   be kept (not root)                     an editor does;
 *   a FIFO, a character device, /dev/stdout, /proc/self/fd/N
 *                                          written in place, never renamed over.
 * The directory must exist: a missing one is -ENOENT naming it (output files never get a
 * mkdir -p). Temporaries of dead portreg processes (named fallback, or a kill between link and
 * rename) are removed from the directory when it is next written.
 * FILE_OUTPUT_STATE is for portreg's own state files: never follow a symlink (the entry itself
 * is replaced), never write in place, always replace. */
enum file_output_flags {
    FILE_OUTPUT_DASH_IS_STDOUT = 1u << 0,
    FILE_OUTPUT_STATE = 1u << 1,
};

enum file_output_how {
    FILE_OUTPUT_REPLACE,      /* temporary file renamed over the target at commit */
    FILE_OUTPUT_IN_PLACE,     /* the target itself, opened for writing */
    FILE_OUTPUT_STDOUT,       /* file descriptor 1 */
};

struct file_output {
    int fd;                        /* write here (also through libxml2's fd output) */
    enum file_output_how how;
    int dir_fd;                    /* REPLACE: the target's directory */
    bool tmpfile;                  /* REPLACE: fd is an unnamed O_TMPFILE until commit */
    bool target_existed;           /* REPLACE: a file was there before */
    bool regular;                  /* IN_PLACE: a regular file (truncated and fsynced) */
    char name[256];                /* REPLACE: the target's name inside dir_fd */
    char temp[64];                 /* REPLACE: the temporary's name once it has one */
    char path[4096];               /* as given, for messages */
};

/* Open path for writing as described above. Nothing is changed on disk until commit (except
 * for IN_PLACE and STDOUT, which are written as they go). */
int file_output_open(struct file_output *out, const char *path, unsigned flags,
                     struct pr_error *err);
int file_output_write(struct file_output *out, const void *data, size_t size,
                      struct pr_error *err);
/* Flush to disk and install (REPLACE: rename over the target, fsync the directory). Closes out
 * whatever happens. */
int file_output_commit(struct file_output *out, struct pr_error *err);
/* Give up: the temporary disappears, the target is untouched (IN_PLACE: as far as written). */
void file_output_discard(struct file_output *out);
/* Install two REPLACE outputs together: both targets change or neither does. The first is
 * swapped in with renameat2(RENAME_EXCHANGE) so that a failure to install the second swaps it
 * back (on a filesystem without RENAME_EXCHANGE it is a plain rename and cannot be undone).
 * Closes both whatever happens. */
int file_output_commit_pair(struct file_output *first, struct file_output *second,
                            struct pr_error *err);

/* Open, write and commit in one call (flags as above). */
int file_write(const char *path, const void *data, size_t size, unsigned flags,
               struct pr_error *err);
/* file_write() with FILE_OUTPUT_DASH_IS_STDOUT: for files the user names (-o FILE). */
int file_write_atomic(const char *path, const void *data, size_t size, struct pr_error *err);

/* mkdir -p with mode 0755. */
int dir_create_path(const char *path, struct pr_error *err);

#endif
