/* agent_run.c — the agent's loop (see agent_run.h). */
#include "agent/agent_run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "agent/agent_backoff.h"
#include "agent/agent_diff.h"
#include "agent/agent_duration.h"
#include "agent/agent_send.h"
#include "agent/agent_state.h"
#include "util/text_escape.h"

static void log_line(const struct agent_options *opt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(const struct agent_options *opt, const char *fmt, ...)
{
    if (!opt->log)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    opt->log(opt->log_ctx, line);
}

static bool stopping(const struct agent_options *opt)
{
    return opt->stop && *opt->stop;
}

/* Sleep ms, in slices so that a stop request is seen within 100 ms. */
static void wait_ms(const struct agent_options *opt, uint64_t ms)
{
    while (ms && !stopping(opt)) {
        uint64_t slice = ms < 100 ? ms : 100;
        struct timespec ts = { (time_t)(slice / 1000), (long)(slice % 1000) * 1000000L };
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

static uint32_t random_u32(void)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec;
}

struct agent_loop {
    const struct agent_options *opt;
    struct agent_state base;           /* the last acknowledged report and its seq */
    bool have_base;
    bool need_full;
};

static void load_state(struct agent_loop *loop)
{
    const struct agent_options *opt = loop->opt;
    struct pr_error err;
    pr_error_clear(&err);
    int r = agent_state_load(opt->state_dir, opt->remote->server, opt->host, &loop->base, &err);
    if (r == 0) {
        loop->have_base = true;
        log_line(opt, "resuming from the saved report seq %llu (%zu listeners)",
                 (unsigned long long)loop->base.seq, loop->base.report.listener_count);
        return;
    }
    char why[1200], esc[1400];
    pr_error_format(&err, why, sizeof why);
    text_escape(why, strlen(why), esc, sizeof esc);
    if (r == -ENOENT)
        log_line(opt, "no saved report in %s: starting with a full report", opt->state_dir);
    else
        log_line(opt, "not using the saved state (%s): starting with a full report", esc);
    memset(&loop->base, 0, sizeof loop->base);
    snprintf(loop->base.server, sizeof loop->base.server, "%s", opt->remote->server);
    snprintf(loop->base.host, sizeof loop->base.host, "%s", opt->host);
    loop->have_base = false;
}

/* What was sent, for the log line: "full report seq 3 (12 listeners, 2 findings)". */
static void describe(char *buf, size_t size, bool full, const struct agent_delta *delta,
                     const struct agent_report *current, uint64_t seq, uint64_t base_seq)
{
    if (full)
        snprintf(buf, size, "full report seq %llu (%zu listeners, %zu findings)", (unsigned long long)seq,
                 current->listener_count, current->finding_count);
    else if (agent_delta_empty(delta))
        snprintf(buf, size, "heartbeat seq %llu base %llu", (unsigned long long)seq, (unsigned long long)base_seq);
    else
        snprintf(buf, size, "delta seq %llu base %llu (+%zu -%zu%s%s%s)", (unsigned long long)seq,
                 (unsigned long long)base_seq, delta->added_count, delta->removed_count,
                 delta->ephemeral_changed ? ", ephemeral" : "", delta->reserved_changed ? ", reserved" : "",
                 delta->findings_changed ? ", findings" : "");
}

int agent_run(const struct agent_options *opt, struct pr_error *err)
{
    struct agent_loop loop = { .opt = opt };
    load_state(&loop);
    loop.need_full = !loop.have_base;
    struct remote_client *client;
    int r = remote_client_open(&client, opt->remote, err);
    if (r < 0) {
        agent_state_free(&loop.base);
        return r;
    }
    struct agent_backoff backoff;
    agent_backoff_init(&backoff, opt->interval_ms);
    struct agent_identity id = { opt->host, PORTREG_VERSION, opt->interval_ms };
    unsigned resyncs_in_a_row = 0;
    int result = AGENT_RUN_OK;
    char interval_text[32];
    agent_duration_format(opt->interval_ms, interval_text, sizeof interval_text);

    while (!stopping(opt)) {
        struct agent_report current;
        struct pr_error collect_err;
        pr_error_clear(&collect_err);
        r = agent_report_collect(&opt->collect, &current, &collect_err);
        if (r < 0) {
            if (opt->once || r == -ENOMEM) {
                if (err)
                    *err = collect_err;
                result = r;
                break;
            }
            char why[1200], esc[1400];
            pr_error_format(&collect_err, why, sizeof why);
            text_escape(why, strlen(why), esc, sizeof esc);
            log_line(opt, "cannot read this host's sockets: %s; trying again in %s", esc, interval_text);
            wait_ms(opt, opt->interval_ms);
            continue;
        }
        bool full = loop.need_full || !loop.have_base;
        uint64_t seq = loop.base.seq + 1;
        struct agent_delta delta = { 0 };
        json_t *doc;
        if (full) {
            doc = agent_report_full_json(&current, &id, seq);
        } else {
            r = agent_diff(&loop.base.report, &current, &delta, err);
            if (r < 0) {
                agent_report_free(&current);
                result = r;
                break;
            }
            doc = agent_delta_json(&delta, &loop.base.report, &current, opt->host, seq, loop.base.seq);
        }
        char what[256];
        describe(what, sizeof what, full, &delta, &current, seq, loop.base.seq);
        agent_delta_free(&delta);
        struct agent_answer answer;
        r = agent_send_report(client, doc, seq, &answer, err);
        json_decref(doc);
        if (r < 0) {
            agent_report_free(&current);
            result = r;
            break;
        }
        if (opt->last_status)
            *opt->last_status = answer.status;
        char sizes[96];
        snprintf(sizes, sizeof sizes, "%zu bytes, %zu gzip", answer.body_bytes, answer.sent_bytes);
        if (answer.kind == AGENT_ANSWER_ACCEPTED) {
            agent_report_free(&loop.base.report);
            loop.base.report = current;
            loop.base.seq = answer.seq;
            loop.have_base = true;
            loop.need_full = false;
            resyncs_in_a_row = 0;
            agent_backoff_reset(&backoff);
            struct pr_error save_err;
            pr_error_clear(&save_err);
            int saved = agent_state_save(opt->state_dir, &loop.base, &save_err);
            char listeners[48] = "";
            if (answer.listeners >= 0)
                snprintf(listeners, sizeof listeners, ", %lld listeners", answer.listeners);
            log_line(opt, "%s: accepted as seq %llu%s [%s]", what, (unsigned long long)answer.seq, listeners, sizes);
            if (saved < 0) {
                char why[1200], esc[1400];
                pr_error_format(&save_err, why, sizeof why);
                text_escape(why, strlen(why), esc, sizeof esc);
                log_line(opt, "cannot save the state in %s: %s", opt->state_dir, esc);
                if (opt->once) {
                    if (err)
                        *err = save_err;
                    result = saved;
                    break;
                }
            }
            if (opt->once)
                break;
            wait_ms(opt, opt->interval_ms);
            continue;
        }
        agent_report_free(&current);
        if (stopping(opt) && !opt->once)
            break;   /* the exchange was ended by the stop: nothing to try again */
        if (answer.kind == AGENT_ANSWER_RESYNC) {
            loop.need_full = true;
            resyncs_in_a_row++;
            log_line(opt, "%s: the server asks for a full report (409 resync%s%s)", what,
                     answer.message[0] ? ": " : "", answer.message);
            if (resyncs_in_a_row <= 1)
                continue;   /* at once: the full report needs no base */
            uint64_t wait = agent_backoff_next(&backoff, random_u32());
            if (opt->once) {
                result = AGENT_RUN_REFUSED;
                break;
            }
            wait_ms(opt, wait);
            continue;
        }
        bool refused = answer.kind == AGENT_ANSWER_REFUSED;
        char status[48] = "no answer";
        if (answer.status)
            snprintf(status, sizeof status, "HTTP %ld", answer.status);
        if (opt->once) {
            log_line(opt, "%s: %s: %s%s%s", what, refused ? "refused" : "server unavailable", status,
                     answer.message[0] ? ": " : "", answer.message);
            result = refused ? AGENT_RUN_REFUSED : AGENT_RUN_UNAVAILABLE;
            break;
        }
        uint64_t wait = agent_backoff_next(&backoff, random_u32());
        char wait_text[32];
        agent_duration_format(wait, wait_text, sizeof wait_text);
        log_line(opt, "%s: %s: %s%s%s; trying again in %s", what, refused ? "refused" : "server unavailable", status,
                 answer.message[0] ? ": " : "", answer.message, wait_text);
        wait_ms(opt, wait);
    }
    if (stopping(opt) && !opt->once)
        log_line(opt, "stopping; the last acknowledged report is seq %llu", (unsigned long long)loop.base.seq);
    remote_client_close(client);
    agent_state_free(&loop.base);
    return result;
}
