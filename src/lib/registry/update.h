/* update.h — `portreg registry update`: fetch the IANA CSV (libcurl for URLs, a plain read for
 * paths, 64 MiB at most either way), validate it completely, compare it with the registry in
 * use, then install the CSV and the index compiled from it together: both or neither. */
#ifndef PORTREG_REGISTRY_UPDATE_H
#define PORTREG_REGISTRY_UPDATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "registry/sources.h"
#include "util/error.h"

#define REGISTRY_DEFAULT_URL \
    "https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.csv"

/* Called while downloading; total is 0 when unknown. */
typedef void (*registry_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct registry_update_options {
    const char *source;              /* URL ("scheme://...") or file path; NULL = default URL */
    bool force;                      /* accept a registry far smaller than the current one */
    registry_progress_fn progress;   /* may be NULL */
    void *progress_ctx;
};

struct registry_update_result {
    long records;                    /* records in the new registry */
    long previous_records;           /* in the registry in use before (its primary source,
                                        whatever it is); -1 when there was none */
    char previous_source[PATH_MAX];  /* that source's path, "" when none */
    uint64_t bytes;
};

int registry_update(const struct registry_paths *paths, const struct registry_update_options *opt,
                    struct registry_update_result *result, struct pr_error *err);

#endif
