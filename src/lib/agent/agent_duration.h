/* agent_duration.h — the agent's --interval: a duration as people write it ("30s", "2m",
 * "500ms", "1h", "1m30s"; a bare number is seconds, as sleep(1) reads it) into milliseconds.
 * Pure parser (unit-tested and fuzzed: fuzz/fuzz_agent_duration.c). */
#ifndef PORTREG_AGENT_AGENT_DURATION_H
#define PORTREG_AGENT_AGENT_DURATION_H

#include <stdint.h>

#include "util/error.h"

/* the longest duration accepted: one week */
#define AGENT_DURATION_MAX_MS (7ull * 24 * 3600 * 1000)

/* Parse text: one or more NUMBER UNIT groups (units ms, s, m, h; no spaces, no signs, no
 * fractions), or one bare NUMBER of seconds. 0 with *ms; -EINVAL with err->column (1-based)
 * on bad text, -ERANGE when the total is above AGENT_DURATION_MAX_MS. *ms is untouched on
 * error. */
int agent_duration_parse(const char *text, uint64_t *ms, struct pr_error *err);

/* "30s", "2m", "500ms", "1m30s", "1h": the shortest text agent_duration_parse reads back. */
const char *agent_duration_format(uint64_t ms, char *buf, unsigned long size);

#endif
