/* sources.h — where the registry comes from and how it is opened.
 * Candidates in order of preference: the IANA CSV fetched into the state directory, the
 * IANA-derived services file of libwireshark-data, /etc/services (also merged into a better
 * primary for host-local names and aliases), and nmap-services for open-frequency.
 * registry_open() maps the compiled index and rebuilds it (atomic rename) when it is missing,
 * damaged, or older than a source. */
#ifndef PORTREG_REGISTRY_SOURCES_H
#define PORTREG_REGISTRY_SOURCES_H

#include <limits.h>
#include <stdbool.h>

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

/* A read found damage in *ix (registry_index_damage()): close it, note why in report, and
 * rebuild it from the sources into *ix. */
int registry_recover(const struct registry_paths *paths, struct registry_index **ix,
                     struct registry_open_report *report, struct pr_error *err);

/* Compile the index from the sources now and save it (atomic rename). */
int registry_rebuild(const struct registry_paths *paths, struct registry_index **out,
                     struct registry_open_report *report, struct pr_error *err);

#endif
