/* agent_state.c — the last acknowledged report on disk (see agent_state.h). */
#include "agent/agent_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/file_io.h"
#include "util/json_writer.h"

static int state_path(const char *dir, char *path, size_t size, struct pr_error *err)
{
    int n = snprintf(path, size, "%s/%s", dir, AGENT_STATE_FILE);
    if (n < 0 || (size_t)n >= size)
        return pr_error_set(err, -ENAMETOOLONG, "the state directory's name is too long");
    return 0;
}

int agent_state_save(const char *dir, const struct agent_state *state, struct pr_error *err)
{
    char path[4096];
    int r = state_path(dir, path, sizeof path, err);
    if (r < 0)
        return r;
    struct stat st;
    if (stat(dir, &st) < 0 && errno == ENOENT && (r = dir_create_path(dir, err)) < 0)
        return r;
    struct agent_identity id = { state->host, "", 0 };
    json_t *doc = json_object();
    json_object_set_new(doc, "format", json_integer(1));
    json_object_set_new(doc, "server", json_text(state->server));
    json_object_set_new(doc, "host", json_text(state->host));
    json_object_set_new(doc, "seq", json_integer((json_int_t)state->seq));
    json_object_set_new(doc, "report", agent_report_full_json(&state->report, &id, state->seq));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return pr_error_set(err, -ENOMEM, "out of memory");
    r = file_write(path, text, strlen(text), FILE_OUTPUT_STATE, err);
    free(text);
    return r;
}

int agent_state_load(const char *dir, const char *server, const char *host, struct agent_state *out,
                     struct pr_error *err)
{
    memset(out, 0, sizeof *out);
    char path[4096];
    int r = state_path(dir, path, sizeof path, err);
    if (r < 0)
        return r;
    struct file_buffer buf = { 0 };
    r = file_read_all_limited(path, AGENT_STATE_MAX_BYTES, &buf, err);
    if (r < 0)
        return r;
    json_error_t jerr;
    json_t *doc = json_loadb(buf.data, buf.size, 0, &jerr);
    file_buffer_free(&buf);
    if (!doc) {
        pr_error_set_at(err, -EINVAL, (unsigned)(jerr.line > 0 ? jerr.line : 0),
                        (unsigned)(jerr.column > 0 ? jerr.column : 0), "not JSON: %s", jerr.text);
        pr_error_set_path(err, path);
        return -EINVAL;
    }
    const json_t *s = json_object_get(doc, "server"), *h = json_object_get(doc, "host"),
                 *seq = json_object_get(doc, "seq"), *report = json_object_get(doc, "report");
    if (json_integer_value(json_object_get(doc, "format")) != 1 || !json_is_string(s) || !json_is_string(h) ||
        !json_is_integer(seq) || json_integer_value(seq) < 0 || !json_is_object(report)) {
        json_decref(doc);
        pr_error_set(err, -EINVAL, "not an agent state (format 1 with server, host, seq, report)");
        pr_error_set_path(err, path);
        return -EINVAL;
    }
    if (strcmp(json_string_value(s), server) != 0 || strcmp(json_string_value(h), host) != 0) {
        pr_error_set(err, -ESTALE, "the saved report was for %s as host %s", json_string_value(s),
                     json_string_value(h));
        json_decref(doc);
        return -ESTALE;
    }
    snprintf(out->server, sizeof out->server, "%s", server);
    snprintf(out->host, sizeof out->host, "%s", host);
    out->seq = (uint64_t)json_integer_value(seq);
    r = agent_report_from_json(report, &out->report, err);
    json_decref(doc);
    if (r < 0) {
        char inner[160], field[512];
        snprintf(inner, sizeof inner, "%.150s", err ? err->path : "");
        snprintf(field, sizeof field, "%.300s/%s: report.%s", dir, AGENT_STATE_FILE, inner);
        pr_error_set_path(err, field);
    }
    return r;
}

void agent_state_free(struct agent_state *state)
{
    agent_report_free(&state->report);
}
