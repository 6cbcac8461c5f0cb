/* sources.h — where the registry comes from and how it is opened.
 * Candidates in order of preference: the IANA CSV fetched into the state directory, the
 * IANA-derived services file of libwireshark-data, /etc/services (also merged into a better
 * primary for host-local names and aliases), and nmap-services for open-frequency.
 * registry_open() maps the compiled index and rebuilds it (atomic rename) when it is missing,
 * damaged, or older than a source; it refuses an unsafe state directory and never replaces a
 * file there that portreg did not write. */
#ifndef PORTREG_REGISTRY_SOURCES_H
#define PORTREG_REGISTRY_SOURCES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/index.h"
#include "util/error.h"

enum registry_candidate {
    REGISTRY_CANDIDATE_IANA_CSV = 0,
    REGISTRY_CANDIDATE_WIRESHARK = 1,
    REGISTRY_CANDIDATE_ETC_SERVICES = 2,
    REGISTRY_CANDIDATE_NMAP = 3,
    REGISTRY_CANDIDATE_COUNT = 4,
};

struct registry_paths {
    char state_dir[PATH_MAX];
    char index[PATH_MAX];
    char candidate[REGISTRY_CANDIDATE_COUNT][PATH_MAX];   /* "" = disabled */
};

/* State directory: state_dir_override, else $PORTREG_STATE_DIR, else /var/lib/portreg as root,
 * else $XDG_DATA_HOME/portreg, else $HOME/.local/share/portreg. Source paths can be replaced
 * (or disabled with an empty value) by $PORTREG_WIRESHARK_SERVICES, $PORTREG_ETC_SERVICES and
 * $PORTREG_NMAP_SERVICES — for tests and unusual installs. */
int registry_paths_init(struct registry_paths *paths, const char *state_dir_override,
                        struct pr_error *err);

struct registry_open_report {
    bool rebuilt;                 /* the index was compiled during this open */
    char rebuild_reason[PATH_MAX + 600];     /* why: "no index yet", "/etc/services changed", ... */
    bool index_damaged;           /* the saved index was unreadable: reason says how */
    bool index_saved;             /* false: compiled in memory only (index_error says why) */
    struct pr_error index_error;
};

/* Open the registry. -ENOENT when no source exists at all; other errors name the file. */
int registry_open(const struct registry_paths *paths, struct registry_index **out,
                  struct registry_open_report *report, struct pr_error *err);

/* Open the saved index as it is, with every block verified (no rebuild, no look at the
 * sources, nothing written): a server's reload. -ENOENT, or -EINVAL naming the file and what is
 * wrong with it. */
int registry_open_saved(const struct registry_paths *paths, struct registry_index **out, struct pr_error *err);

/* A read found damage in *ix (registry_index_damage()): close it, note why in report, and
 * rebuild it from the sources into *ix. */
int registry_recover(const struct registry_paths *paths, struct registry_index **ix,
                     struct registry_open_report *report, struct pr_error *err);

/* Refuse a state directory that someone else could change under us: a symlink owned by
 * another user than the caller or root, or a world-writable directory without the sticky bit.
 * -EPERM naming the directory and why. A missing directory is fine (it is created 0755 when
 * something is saved); one that cannot be looked at is left for the write to report. */
int registry_state_dir_check(const char *state_dir, struct pr_error *err);

/* May portreg replace this file of its state directory? Yes when it is missing or empty, or a
 * regular file (not a symlink) that starts as portreg writes it: the index magic, or the IANA
 * CSV's header line. -EEXIST naming the file otherwise: portreg never overwrites what it did
 * not write. */
enum registry_state_file { REGISTRY_STATE_INDEX, REGISTRY_STATE_IANA_CSV };
int registry_state_file_check(const char *path, enum registry_state_file kind,
                              struct pr_error *err);

/* The IANA CSV taken from memory instead of the state directory (registry update compiles
 * the new index before installing anything): its text and the mtime and size the installed
 * file will have. */
struct registry_iana_text {
    const char *data;
    size_t size;
    int64_t mtime_ns;
    int64_t file_size;
};

/* Compile an index image (malloc'd) from the sources, with iana (may be NULL) in place of the
 * state directory's CSV. Saves nothing. */
int registry_compile(const struct registry_paths *paths, const struct registry_iana_text *iana,
                     void **image, size_t *image_size, struct pr_error *err);

/* Compile the index from the sources now and save it (atomic rename). */
int registry_rebuild(const struct registry_paths *paths, struct registry_index **out,
                     struct registry_open_report *report, struct pr_error *err);

#endif
