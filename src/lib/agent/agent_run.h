/* agent_run.h — the agent's loop (`portreg agent`): resume from the saved state, report in
 * full at start (or a delta against the saved base), then every interval a delta or a
 * heartbeat; a 409 resync sends a full report; a server that cannot be reached is retried
 * with capped exponential backoff and jitter, and the next report carries every change since
 * the last acknowledged one, so nothing is lost. One line per report goes to the log callback
 * (the library never prints). Stops when *stop becomes non-zero (SIGTERM). */
#ifndef PORTREG_AGENT_AGENT_RUN_H
#define PORTREG_AGENT_AGENT_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent_report.h"
#include "remote/remote_client.h"
#include "util/error.h"

struct agent_options {
    const struct remote_config *remote;
    const char *host;                  /* the name reported as "host" */
    const char *state_dir;
    uint64_t interval_ms;
    bool once;                         /* one report, then return */
    struct agent_collect_options collect;
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    volatile sig_atomic_t *stop;       /* may be NULL */
    long *last_status;                 /* may be NULL: the HTTP status of the last answer, 0 none */
};

enum agent_run_result {
    AGENT_RUN_OK = 0,            /* --once: acknowledged; else: stopped */
    AGENT_RUN_UNAVAILABLE = 1,   /* --once: no answer, or 5xx */
    AGENT_RUN_REFUSED = 2,       /* --once: 4xx (bad token, other host, unknown host, bad body) */
};

/* Returns an enum agent_run_result, or -errno for a local failure (libcurl missing, out of
 * memory, the socket table unreadable; --once: the state could not be saved), err filled. */
int agent_run(const struct agent_options *opt, struct pr_error *err);

#endif
