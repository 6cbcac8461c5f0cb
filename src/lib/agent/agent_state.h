/* agent_state.h — the agent's memory across restarts: the last report the server acknowledged
 * (its full form), the seq the server answered for it, and which server and host name it was
 * for, in STATE_DIR/agent-state.json, replaced atomically (util/file_io.h's state writer) so a
 * crash leaves the old state or the new one, never half of one. */
#ifndef PORTREG_AGENT_AGENT_STATE_H
#define PORTREG_AGENT_AGENT_STATE_H

#include <stdint.h>

#include "agent/agent_report.h"

#define AGENT_STATE_FILE "agent-state.json"
#define AGENT_STATE_MAX_BYTES (64u * 1024u * 1024u)

struct agent_state {
    char server[1024];
    char host[256];
    uint64_t seq;                  /* the server's seq of the acknowledged report */
    struct agent_report report;    /* owned */
};

/* Write state to dir/agent-state.json (dir is created when missing). */
int agent_state_save(const char *dir, const struct agent_state *state, struct pr_error *err);
/* Read dir/agent-state.json into out (out->report owned by the caller: agent_state_free).
 * -ENOENT when there is none; -EINVAL when it is damaged (err says where); -ESTALE when it
 * was for another server or host name (server/host): the caller starts with a full report. */
int agent_state_load(const char *dir, const char *server, const char *host, struct agent_state *out,
                     struct pr_error *err);
void agent_state_free(struct agent_state *state);

#endif
