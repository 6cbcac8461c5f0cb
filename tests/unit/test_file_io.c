/* test_file_io.c — unit tests of the safe output files of util/file_io.c: a new file's mode
 * follows the umask; a replaced file keeps mode, owner (as root), symlinks and hard links; a
 * FIFO and /proc/self/fd/N are written in place; "-" is standard output; a missing directory
 * is an error that creates nothing; no temporary survives (even a kill -9), stale ones are
 * removed; a pair of files is installed together or not at all; the read cap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/file_io.h"

static char dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/portreg-test-file-io.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *in_dir(const char *name)
{
    static char paths[4][PATH_MAX];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, PATH_MAX, "%s/%s", dir, name);
    return p;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void expect_content(const char *path, const char *text)
{
    struct file_buffer buf;
    assert_int_equal(file_read_all(path, &buf, NULL), 0);
    assert_string_equal(buf.data, text);
    file_buffer_free(&buf);
}

/* Entries of dir whose name starts with ".portreg-tmp". */
static int count_temporaries(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, ".portreg-tmp", 12) == 0;
    closedir(d);
    return n;
}

static void new_file_gets_0666_less_the_umask(void **state)
{
    (void)state;
    mode_t old = umask(027);
    assert_int_equal(file_write_atomic(in_dir("new"), "hello\n", 6, NULL), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(in_dir("new"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    expect_content(in_dir("new"), "hello\n");
    assert_int_equal(count_temporaries(), 0);
}

static void replaced_file_keeps_mode_and_owner(void **state)
{
    (void)state;
    const char *path = in_dir("plan.yaml");
    put(path, "old contents, longer than the new\n");
    assert_int_equal(chmod(path, 0604), 0);
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (geteuid() == 0) {   /* nobody:nogroup, as in the issue */
        uid = 65534;
        gid = 65534;
        assert_int_equal(chown(path, uid, gid), 0);
    }
    struct stat before;
    assert_int_equal(stat(path, &before), 0);
    assert_int_equal(file_write_atomic(path, "new\n", 4, NULL), 0);
    struct stat after;
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(after.st_mode & 07777, 0604);
    assert_int_equal(after.st_uid, uid);
    assert_int_equal(after.st_gid, gid);
    assert_int_not_equal(after.st_ino, before.st_ino);   /* replaced, not rewritten */
    expect_content(path, "new\n");
    assert_int_equal(count_temporaries(), 0);
}

static void symlink_is_followed_and_stays_a_link(void **state)
{
    (void)state;
    assert_int_equal(mkdir(in_dir("real"), 0755), 0);
    put(in_dir("real/target"), "old\n");
    assert_int_equal(chmod(in_dir("real/target"), 0640), 0);
    assert_int_equal(symlink("real/target", in_dir("link")), 0);
    assert_int_equal(file_write_atomic(in_dir("link"), "through the link\n", 17, NULL), 0);
    struct stat st;
    assert_int_equal(lstat(in_dir("link"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    expect_content(in_dir("real/target"), "through the link\n");
    assert_int_equal(stat(in_dir("real/target"), &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    /* a dangling link creates its target */
    assert_int_equal(symlink("real/created", in_dir("dangling")), 0);
    assert_int_equal(file_write_atomic(in_dir("dangling"), "x", 1, NULL), 0);
    expect_content(in_dir("real/created"), "x");
    assert_int_equal(lstat(in_dir("dangling"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void state_files_replace_the_link_itself(void **state)
{
    (void)state;
    put(in_dir("elsewhere"), "not portreg's\n");
    assert_int_equal(symlink("elsewhere", in_dir("index.bin")), 0);
    assert_int_equal(file_write(in_dir("index.bin"), "PORTREG", 7, FILE_OUTPUT_STATE, NULL), 0);
    struct stat st;
    assert_int_equal(lstat(in_dir("index.bin"), &st), 0);
    assert_true(S_ISREG(st.st_mode));
    expect_content(in_dir("elsewhere"), "not portreg's\n");
}

static void hard_links_are_kept(void **state)
{
    (void)state;
    put(in_dir("a"), "old old old\n");
    assert_int_equal(link(in_dir("a"), in_dir("b")), 0);
    struct stat before;
    assert_int_equal(stat(in_dir("a"), &before), 0);
    assert_int_equal(file_write_atomic(in_dir("a"), "new\n", 4, NULL), 0);
    struct stat after;
    assert_int_equal(stat(in_dir("b"), &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_int_equal(after.st_nlink, 2);
    expect_content(in_dir("b"), "new\n");   /* truncated to the new length */
}

static void fifo_is_written_in_place(void **state)
{
    (void)state;
    assert_int_equal(mkfifo(in_dir("fifo"), 0600), 0);
    int reader = open(in_dir("fifo"), O_RDONLY | O_NONBLOCK);
    assert_true(reader >= 0);
    assert_int_equal(file_write_atomic(in_dir("fifo"), "through\n", 8, NULL), 0);
    char buf[32] = "";
    assert_int_equal(read(reader, buf, sizeof buf - 1), 8);
    assert_string_equal(buf, "through\n");
    close(reader);
    struct stat st;
    assert_int_equal(lstat(in_dir("fifo"), &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
}

/* /dev/stdout is /proc/self/fd/1: the open file is written, the link never renamed over */
static void proc_fd_link_is_written_in_place(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fds[1]);
    assert_int_equal(file_write_atomic(path, "piped\n", 6, NULL), 0);
    close(fds[1]);
    char buf[32] = "";
    assert_int_equal(read(fds[0], buf, sizeof buf - 1), 6);
    assert_string_equal(buf, "piped\n");
    close(fds[0]);
}

static void dash_is_standard_output(void **state)
{
    (void)state;
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(in_dir("captured"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    int r = file_write_atomic("-", "to stdout\n", 10, NULL);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    assert_int_equal(r, 0);
    expect_content(in_dir("captured"), "to stdout\n");
    assert_int_equal(access(in_dir("-"), F_OK), -1);
    /* without the flag "-" is a file name */
    assert_int_equal(file_write(in_dir("-"), "file\n", 5, 0, NULL), 0);
    expect_content(in_dir("-"), "file\n");
}

static void missing_directory_is_an_error_that_creates_nothing(void **state)
{
    (void)state;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(file_write_atomic(in_dir("missing/deeper/x"), "x", 1, &err), -ENOENT);
    assert_string_equal(err.path, in_dir("missing/deeper/x"));
    assert_non_null(strstr(err.message, "missing/deeper does not exist"));
    assert_int_equal(access(in_dir("missing"), F_OK), -1);
}

static void directory_target_is_refused(void **state)
{
    (void)state;
    assert_int_equal(mkdir(in_dir("d"), 0755), 0);
    assert_int_equal(file_write_atomic(in_dir("d"), "x", 1, NULL), -EISDIR);
}

static void stale_temporaries_of_dead_processes_are_removed(void **state)
{
    (void)state;
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    assert_int_equal(waitpid(child, NULL, 0), child);   /* a pid nobody has now */
    char stale[64], alive[64];
    snprintf(stale, sizeof stale, ".portreg-tmp.%ld.0badf00d", (long)child);
    snprintf(alive, sizeof alive, ".portreg-tmp.%ld.0000cafe", (long)getpid());
    put(in_dir(stale), "left by a kill -9");
    put(in_dir(alive), "being written");
    struct timeval old[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };
    assert_int_equal(utimes(in_dir(stale), old), 0);
    assert_int_equal(utimes(in_dir(alive), old), 0);
    assert_int_equal(file_write_atomic(in_dir("out"), "x", 1, NULL), 0);
    assert_int_equal(access(in_dir(stale), F_OK), -1);
    assert_int_equal(access(in_dir(alive), F_OK), 0);   /* its process still runs */
    unlink(in_dir(alive));
}

static void kill_9_while_writing_leaves_no_temporary(void **state)
{
    (void)state;
    put(in_dir("target"), "old\n");
    for (int round = 0; round < 10; round++) {
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t child = fork();
        if (child == 0) {
            struct file_output out;
            if (file_output_open(&out, in_dir("target"), 0, NULL) < 0 ||
                file_output_write(&out, "half", 4, NULL) < 0)
                _exit(1);
            if (write(ready[1], "r", 1) != 1)
                _exit(1);
            pause();
            _exit(0);
        }
        char c;
        assert_int_equal(read(ready[0], &c, 1), 1);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        close(ready[0]);
        close(ready[1]);
    }
    assert_int_equal(count_temporaries(), 0);
    expect_content(in_dir("target"), "old\n");
}

static void pair_installs_both_or_neither(void **state)
{
    (void)state;
    put(in_dir("iana.csv"), "old csv\n");
    put(in_dir("index.bin"), "old index\n");
    struct file_output first, second;
    assert_int_equal(file_output_open(&first, in_dir("iana.csv"), FILE_OUTPUT_STATE, NULL), 0);
    assert_int_equal(file_output_open(&second, in_dir("index.bin"), FILE_OUTPUT_STATE, NULL), 0);
    assert_int_equal(file_output_write(&first, "new csv\n", 8, NULL), 0);
    assert_int_equal(file_output_write(&second, "new index\n", 10, NULL), 0);
    /* the second rename fails: a non-empty directory took the index's place */
    assert_int_equal(unlink(in_dir("index.bin")), 0);
    assert_int_equal(mkdir(in_dir("index.bin"), 0755), 0);
    put(in_dir("index.bin/x"), "x");
    struct pr_error err;
    pr_error_clear(&err);
    assert_true(file_output_commit_pair(&first, &second, &err) < 0);
    assert_string_equal(err.path, in_dir("index.bin"));
    expect_content(in_dir("iana.csv"), "old csv\n");   /* put back */
    assert_int_equal(count_temporaries(), 0);

    unlink(in_dir("index.bin/x"));
    rmdir(in_dir("index.bin"));
    put(in_dir("index.bin"), "old index\n");
    assert_int_equal(file_output_open(&first, in_dir("iana.csv"), FILE_OUTPUT_STATE, NULL), 0);
    assert_int_equal(file_output_open(&second, in_dir("index.bin"), FILE_OUTPUT_STATE, NULL), 0);
    assert_int_equal(file_output_write(&first, "new csv\n", 8, NULL), 0);
    assert_int_equal(file_output_write(&second, "new index\n", 10, NULL), 0);
    assert_int_equal(file_output_commit_pair(&first, &second, NULL), 0);
    expect_content(in_dir("iana.csv"), "new csv\n");
    expect_content(in_dir("index.bin"), "new index\n");
    assert_int_equal(count_temporaries(), 0);
}

static void discard_leaves_the_target_alone(void **state)
{
    (void)state;
    put(in_dir("keep"), "keep\n");
    struct file_output out;
    assert_int_equal(file_output_open(&out, in_dir("keep"), 0, NULL), 0);
    assert_int_equal(file_output_write(&out, "lost", 4, NULL), 0);
    file_output_discard(&out);
    expect_content(in_dir("keep"), "keep\n");
    assert_int_equal(count_temporaries(), 0);
}

static void read_cap_stops_an_endless_file(void **state)
{
    (void)state;
    struct file_buffer buf;
    struct pr_error err;
    pr_error_clear(&err);
    assert_int_equal(file_read_all_limited("/dev/zero", 1u << 20, &buf, &err), -EFBIG);
    assert_string_equal(err.message, "larger than 1 MiB");
    put(in_dir("small"), "12345");
    assert_int_equal(file_read_all_limited(in_dir("small"), 4, &buf, NULL), -EFBIG);
    assert_int_equal(file_read_all_limited(in_dir("small"), 5, &buf, NULL), 0);
    assert_int_equal(buf.size, 5);
    file_buffer_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(new_file_gets_0666_less_the_umask, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(replaced_file_keeps_mode_and_owner, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(symlink_is_followed_and_stays_a_link, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(state_files_replace_the_link_itself, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(hard_links_are_kept, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(fifo_is_written_in_place, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(proc_fd_link_is_written_in_place, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(dash_is_standard_output, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(missing_directory_is_an_error_that_creates_nothing, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(directory_target_is_refused, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(stale_temporaries_of_dead_processes_are_removed, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(kill_9_while_writing_leaves_no_temporary, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(pair_installs_both_or_neither, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(discard_leaves_the_target_alone, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(read_cap_stops_an_endless_file, make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
