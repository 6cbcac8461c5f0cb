/* sources.c — locate registry sources, check the compiled index is current, rebuild it.
 * A current index costs one mmap, one checksum and four stat(2) calls; anything else
 * (missing, damaged, another format version, a source changed) triggers a rebuild that parses
 * every source, compiles and renames the new index into place. */
#include "registry/sources.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "registry/iana_csv.h"
#include "registry/index_format.h"
#include "registry/nmap_services.h"
#include "registry/services_file.h"
#include "util/file_io.h"

static const struct {
    enum registry_source_kind kind;
    const char *env;
    const char *default_path;
} candidate_defaults[REGISTRY_CANDIDATE_COUNT] = {
    [REGISTRY_CANDIDATE_IANA_CSV] = { REGISTRY_SOURCE_IANA_CSV, NULL, NULL },
    [REGISTRY_CANDIDATE_WIRESHARK] = { REGISTRY_SOURCE_SERVICES, "PORTREG_WIRESHARK_SERVICES",
                                       "/usr/share/wireshark/services" },
    [REGISTRY_CANDIDATE_ETC_SERVICES] = { REGISTRY_SOURCE_SERVICES, "PORTREG_ETC_SERVICES",
                                          "/etc/services" },
    [REGISTRY_CANDIDATE_NMAP] = { REGISTRY_SOURCE_NMAP, "PORTREG_NMAP_SERVICES",
                                  "/usr/share/nmap/nmap-services" },
};

static int copy_path(char *dst, const char *src, struct pr_error *err)
{
    if ((size_t)snprintf(dst, PATH_MAX, "%s", src) >= PATH_MAX) {
        pr_error_set_path(err, src);
        return pr_error_set(err, -ENAMETOOLONG, "path too long");
    }
    return 0;
}

int registry_paths_init(struct registry_paths *paths, const char *state_dir_override,
                        struct pr_error *err)
{
    memset(paths, 0, sizeof *paths);
    const char *env_dir = getenv("PORTREG_STATE_DIR");
    int r;
    if (state_dir_override && state_dir_override[0])
        r = copy_path(paths->state_dir, state_dir_override, err);
    else if (env_dir && env_dir[0])
        r = copy_path(paths->state_dir, env_dir, err);
    else if (geteuid() == 0)
        r = copy_path(paths->state_dir, "/var/lib/portreg", err);
    else {
        const char *xdg = getenv("XDG_DATA_HOME");
        const char *home = getenv("HOME");
        char buf[PATH_MAX + 32];
        if (xdg && xdg[0] == '/')
            snprintf(buf, sizeof buf, "%s/portreg", xdg);
        else if (home && home[0])
            snprintf(buf, sizeof buf, "%s/.local/share/portreg", home);
        else
            return pr_error_set(err, -ENOENT,
                                "no state directory: set HOME, XDG_DATA_HOME or PORTREG_STATE_DIR");
        r = copy_path(paths->state_dir, buf, err);
    }
    if (r < 0)
        return r;
    char buf[PATH_MAX + 32];
    snprintf(buf, sizeof buf, "%s/index.bin", paths->state_dir);
    if ((r = copy_path(paths->index, buf, err)) < 0)
        return r;
    snprintf(buf, sizeof buf, "%s/iana.csv", paths->state_dir);
    if ((r = copy_path(paths->candidate[REGISTRY_CANDIDATE_IANA_CSV], buf, err)) < 0)
        return r;
    for (int c = REGISTRY_CANDIDATE_WIRESHARK; c < REGISTRY_CANDIDATE_COUNT; c++) {
        const char *value = getenv(candidate_defaults[c].env);
        if ((r = copy_path(paths->candidate[c], value ? value : candidate_defaults[c].default_path,
                           err)) < 0)
            return r;
    }
    return 0;
}

struct candidate_stat {
    bool present;
    int64_t mtime_ns;
    int64_t size;
};

static void candidate_stat_read(const char *path, struct candidate_stat *out)
{
    struct stat st;
    memset(out, 0, sizeof *out);
    out->size = -1;
    if (!path[0] || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return;
    out->present = true;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    out->size = (int64_t)st.st_size;
}

/* Why the index no longer matches the sources; "" when it does. */
static void index_staleness(const struct registry_index *ix, const struct registry_paths *paths,
                            char *why, size_t why_size)
{
    why[0] = '\0';
    if (registry_index_source_count(ix) != REGISTRY_CANDIDATE_COUNT) {
        snprintf(why, why_size, "the index lists other sources");
        return;
    }
    for (uint32_t c = 0; c < REGISTRY_CANDIDATE_COUNT; c++) {
        struct registry_source_info info;
        struct candidate_stat now;
        registry_index_source(ix, c, &info);
        candidate_stat_read(paths->candidate[c], &now);
        const char *name = paths->candidate[c][0] ? paths->candidate[c] : "(disabled source)";
        if (strcmp(info.path, paths->candidate[c]) != 0)
            snprintf(why, why_size, "source path changed to %s", name);
        else if (now.present != (info.size >= 0))
            snprintf(why, why_size, "%s %s", name, now.present ? "appeared" : "disappeared");
        else if (now.present && (now.mtime_ns != info.mtime_ns || now.size != info.size))
            snprintf(why, why_size, "%s changed", name);
        if (why[0])
            return;
    }
}

/* Parse one candidate (from text when given, else from path) into records; on a parse error
 * the candidate becomes FAILED. */
static int candidate_parse(enum registry_source_kind kind, const char *path,
                           const struct registry_iana_text *text,
                           struct registry_records *records, char *note, size_t note_size)
{
    struct pr_error err;
    struct file_buffer buf = { 0 };
    pr_error_clear(&err);
    int r = 0;
    if (text) {
        buf.data = malloc(text->size + 1);
        if (!buf.data)
            return -ENOMEM;
        memcpy(buf.data, text->data, text->size);
        buf.data[text->size] = '\0';
        buf.size = text->size;
    } else
        r = file_read_all(path, &buf, &err);
    if (r == 0) {
        long n;
        if (kind == REGISTRY_SOURCE_IANA_CSV)
            n = iana_csv_parse(buf.data, buf.size, records, &err);
        else if (kind == REGISTRY_SOURCE_SERVICES)
            n = services_file_parse(buf.data, buf.size, records, &err);
        else
            n = nmap_services_parse(buf.data, buf.size, records, &err);
        file_buffer_free(&buf);
        r = n < 0 ? (int)n : 0;
        pr_error_set_path(&err, path);
    }
    if (r < 0) {
        char msg[1200];
        snprintf(note, note_size, "ignored: %s", pr_error_format(&err, msg, sizeof msg));
    }
    return r;
}

int registry_state_dir_check(const char *state_dir, struct pr_error *err)
{
    struct stat st;
    if (lstat(state_dir, &st) < 0)
        return 0;   /* missing: created when saved; unreachable: the save reports it */
    pr_error_set_path(err, state_dir);
    if (S_ISLNK(st.st_mode)) {
        if (st.st_uid != geteuid() && st.st_uid != 0)
            return pr_error_set(err, -EPERM,
                                "state directory is a symbolic link owned by uid %u (neither you "
                                "nor root): refusing to use it", (unsigned)st.st_uid);
        if (stat(state_dir, &st) < 0)
            return 0;
    }
    if (S_ISDIR(st.st_mode) && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
        return pr_error_set(err, -EPERM,
                            "state directory is world-writable without the sticky bit: anyone "
                            "could replace its files; refusing to use it (chmod o-w)");
    pr_error_set_path(err, "");
    return 0;
}

#define IANA_CSV_HEADER "Service Name,Port Number,Transport Protocol"

int registry_state_file_check(const char *path, enum registry_state_file kind,
                              struct pr_error *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    const char *why = NULL;
    char head[64] = "";
    ssize_t n = 0;
    struct stat st;
    if (fd < 0)
        why = errno == ELOOP ? "a symbolic link" : strerror(errno);
    else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        why = "not a regular file";
    else if ((n = pread(fd, head, sizeof head - 1, 0)) < 0)
        why = strerror(errno);
    if (fd >= 0)
        close(fd);
    if (!why && n > 0) {
        const char *text = head;
        if (kind == REGISTRY_STATE_INDEX) {
            if ((size_t)n < sizeof REGISTRY_INDEX_MAGIC - 1 ||
                memcmp(head, REGISTRY_INDEX_MAGIC, sizeof REGISTRY_INDEX_MAGIC - 1) != 0)
                why = "no portreg index header";
        } else {
            if (memcmp(text, "\xef\xbb\xbf", 3) == 0)
                text += 3;
            if (strncmp(text, IANA_CSV_HEADER, strlen(IANA_CSV_HEADER)) != 0)
                why = "no IANA CSV header line";
        }
    }
    if (!why)
        return 0;
    pr_error_set_path(err, path);
    return pr_error_set(err, -EEXIST,
                        "not written by portreg (%s): left as it is; move it away to let portreg "
                        "replace it", why);
}

int registry_compile(const struct registry_paths *paths, const struct registry_iana_text *iana,
                     void **image, size_t *image_size, struct pr_error *err)
{
    struct registry_records records[REGISTRY_CANDIDATE_COUNT];
    struct registry_build_source build[REGISTRY_CANDIDATE_COUNT];
    char notes[REGISTRY_CANDIDATE_COUNT][1400];
    memset(records, 0, sizeof records);
    memset(build, 0, sizeof build);
    bool have_primary = false;
    int r = 0;

    for (int c = 0; c < REGISTRY_CANDIDATE_COUNT; c++) {
        struct candidate_stat st;
        const struct registry_iana_text *text = c == REGISTRY_CANDIDATE_IANA_CSV ? iana : NULL;
        if (text)
            st = (struct candidate_stat){ true, text->mtime_ns, text->file_size };
        else
            candidate_stat_read(paths->candidate[c], &st);
        notes[c][0] = '\0';
        build[c] = (struct registry_build_source){
            .kind = candidate_defaults[c].kind, .path = paths->candidate[c], .note = notes[c],
            .mtime_ns = st.mtime_ns, .size = st.size, .role = REGISTRY_ROLE_ABSENT,
        };
        if (!st.present)
            continue;
        bool is_registry = c != REGISTRY_CANDIDATE_NMAP;
        if (is_registry && have_primary && c != REGISTRY_CANDIDATE_ETC_SERVICES) {
            build[c].role = REGISTRY_ROLE_SUPERSEDED;
            continue;
        }
        r = candidate_parse(build[c].kind, paths->candidate[c], text, &records[c], notes[c],
                            sizeof notes[c]);
        if (r == -ENOMEM)
            goto done;
        if (r < 0) {
            build[c].role = REGISTRY_ROLE_FAILED;
            r = 0;
            continue;
        }
        build[c].records = &records[c];
        if (!is_registry)
            build[c].role = REGISTRY_ROLE_FREQUENCY;
        else if (!have_primary) {
            build[c].role = REGISTRY_ROLE_PRIMARY;
            have_primary = true;
        } else
            build[c].role = REGISTRY_ROLE_MERGED;
    }
    if (!have_primary) {
        r = pr_error_set(err, -ENOENT,
                         "no registry source found (looked for %s, %s, %s): run 'portreg registry "
                         "update' or install libwireshark-data",
                         paths->candidate[0], paths->candidate[1], paths->candidate[2]);
        goto done;
    }
    r = registry_index_build(build, REGISTRY_CANDIDATE_COUNT, (int64_t)time(NULL), image,
                             image_size, err);
done:
    for (int c = 0; c < REGISTRY_CANDIDATE_COUNT; c++)
        registry_records_free(&records[c]);
    return r;
}

int registry_rebuild(const struct registry_paths *paths, struct registry_index **out,
                     struct registry_open_report *report, struct pr_error *err)
{
    int r = registry_state_dir_check(paths->state_dir, err);
    if (r < 0)
        return r;
    void *image = NULL;
    size_t image_size = 0;
    if ((r = registry_compile(paths, NULL, &image, &image_size, err)) < 0)
        return r;
    report->rebuilt = true;
    pr_error_clear(&report->index_error);
    /* never mkdir -p or write into a state directory that is not safe, never over a file that
     * is not an index of ours */
    report->index_saved =
        registry_state_file_check(paths->index, REGISTRY_STATE_INDEX, &report->index_error) == 0 &&
        dir_create_path(paths->state_dir, &report->index_error) == 0 &&
        file_write(paths->index, image, image_size, FILE_OUTPUT_STATE, &report->index_error) == 0;
    r = registry_index_open(image, image_size, out, err);
    if (r < 0) {
        free(image);
        return r;
    }
    registry_index_adopt_image(*out, false);
    return 0;
}

int registry_open(const struct registry_paths *paths, struct registry_index **out,
                  struct registry_open_report *report, struct pr_error *err)
{
    memset(report, 0, sizeof *report);
    *out = NULL;
    int r = registry_state_dir_check(paths->state_dir, err);
    if (r < 0)
        return r;
    struct file_mapping map;
    struct pr_error open_err;
    pr_error_clear(&open_err);
    if (file_map_readonly(paths->index, &map, &open_err) < 0) {
        snprintf(report->rebuild_reason, sizeof report->rebuild_reason,
                 open_err.code == -ENOENT ? "no index yet" : "%s", open_err.message);
        return registry_rebuild(paths, out, report, err);
    }
    struct registry_index *ix = NULL;
    if (registry_index_open(map.data, map.size, &ix, &open_err) < 0) {
        file_unmap(&map);
        report->index_damaged = true;
        snprintf(report->rebuild_reason, sizeof report->rebuild_reason, "%s: %s", paths->index,
                 open_err.message);
        return registry_rebuild(paths, out, report, err);
    }
    registry_index_adopt_image(ix, true);
    index_staleness(ix, paths, report->rebuild_reason, sizeof report->rebuild_reason);
    if (report->rebuild_reason[0]) {
        registry_index_close(ix);
        return registry_rebuild(paths, out, report, err);
    }
    report->index_saved = true;
    *out = ix;
    return 0;
}

int registry_open_saved(const struct registry_paths *paths, struct registry_index **out, struct pr_error *err)
{
    *out = NULL;
    struct file_mapping map;
    int r = file_map_readonly(paths->index, &map, err);
    if (r < 0)
        return r;
    struct registry_index *ix = NULL;
    struct pr_error open_err;
    pr_error_clear(&open_err);
    if (registry_index_open(map.data, map.size, &ix, &open_err) < 0) {
        file_unmap(&map);
        return pr_error_set(err, -EINVAL, "%s: %s", paths->index, open_err.message);
    }
    registry_index_adopt_image(ix, true);
    if (registry_index_verify_all(ix, &open_err) < 0) {
        registry_index_close(ix);
        return pr_error_set(err, -EINVAL, "%s: %s", paths->index, open_err.message);
    }
    *out = ix;
    return 0;
}

int registry_recover(const struct registry_paths *paths, struct registry_index **ix,
                     struct registry_open_report *report, struct pr_error *err)
{
    const char *damage = *ix ? registry_index_damage(*ix) : NULL;
    snprintf(report->rebuild_reason, sizeof report->rebuild_reason, "%s: %s", paths->index,
             damage ? damage : "registry index is corrupted");
    report->index_damaged = true;
    registry_index_close(*ix);
    *ix = NULL;
    return registry_rebuild(paths, ix, report, err);
}
