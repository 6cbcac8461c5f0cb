/* agent_diff.h — what changed between the last acknowledged report (the base) and the
 * current one: listeners added (new keys, or a key whose process, user, unit, container or
 * exposure changed: the server replaces a listener by its key), listeners removed (keys gone),
 * and whether the ephemeral range, the reserved ports or the findings changed. Nothing changed
 * is a heartbeat. Both reports are sorted by key (agent_report.h), so this is one merge. */
#ifndef PORTREG_AGENT_AGENT_DIFF_H
#define PORTREG_AGENT_AGENT_DIFF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent/agent_report.h"

struct agent_delta {
    size_t *added;             /* indexes into the current report's listeners */
    size_t added_count;
    size_t *removed;           /* indexes into the base's listeners */
    size_t removed_count;
    bool ephemeral_changed, reserved_changed, findings_changed;
};

int agent_diff(const struct agent_report *base, const struct agent_report *current, struct agent_delta *out,
               struct pr_error *err);
bool agent_delta_empty(const struct agent_delta *delta);
void agent_delta_free(struct agent_delta *delta);

/* The delta report {"host","seq","full":false,"base","added","removed"[,"ephemeral",
 * "reserved","findings" when changed]}; a heartbeat when the delta is empty. */
json_t *agent_delta_json(const struct agent_delta *delta, const struct agent_report *base,
                         const struct agent_report *current, const char *host, uint64_t seq, uint64_t base_seq);

#endif
