/* remote_view.h — how `portreg remote` shows the server's objects and answers: a table per kind
 * (requests, assignments, leases, events, hosts), one-line summaries of a changed object on a
 * terminal and its row when piped, the policy, import diagnostics, and the server's errors with
 * the exit code they mean. Every text the server sent is escaped (util/text_escape.h). */
#ifndef PORTREG_CLI_REMOTE_VIEW_H
#define PORTREG_CLI_REMOTE_VIEW_H

#include <jansson.h>

#include "cli.h"
#include "remote/remote_client.h"

enum remote_kind {
    REMOTE_KIND_REQUESTS,
    REMOTE_KIND_ASSIGNMENTS,
    REMOTE_KIND_LEASES,
    REMOTE_KIND_EVENTS,
    REMOTE_KIND_HOSTS,
};

/* The items (a JSON array of objects) as a table: aligned with a header on a terminal,
 * tab-separated rows when piped. */
void remote_view_table(const struct cli_context *ctx, enum remote_kind kind, json_t *items);
/* One object that was created or changed: a sentence on a terminal ("lease 7 active: ci 22193/tcp
 * on db1 until ..."), its table row when piped (the columns of remote_view_table). */
void remote_view_object(const struct cli_context *ctx, enum remote_kind kind, json_t *object);
/* The policy document: SETTING VALUE rows. */
void remote_view_policy(const struct cli_context *ctx, json_t *policy);
/* Import diagnostics as file:line:column: severity: path: message, on out; path_given replaces
 * a missing file name. */
void remote_view_diagnostics(FILE *out, json_t *diagnostics, const char *path_given);

/* Report an answer that is not 2xx on stderr as "portreg: COMMAND: ..." and return its exit
 * code: 1 for 404/409/412 (409: the holder from "conflict"), 2 for 400/413/415/422 (the field
 * named; import's diagnostics), 3 for 401/403 (with a hint about the token; token_given says
 * whether one was sent), for 5xx, and for a route the server lacks. */
int remote_view_answer_error(const char *command, const char *method, const char *path,
                             const struct remote_response *resp, bool token_given);
/* Report a failure to get an answer (cannot connect, TLS, ...) on stderr; returns its exit code
 * (3; 2 for a CA file that cannot be read). server_from says where the URL came from. */
int remote_view_call_error(const char *command, const struct pr_error *err, const char *server_from);

/* GET /drift's document: a row per finding that is not "present" and per stale agent
 * (remote_view_fleet.c); GET /observations[/HOST]: a row per listener. */
void remote_view_drift(const struct cli_context *ctx, json_t *doc);
void remote_view_observations(const struct cli_context *ctx, json_t *doc);

/* "2026-12-04T08:22:42Z" of Unix seconds. */
void remote_view_time(long long seconds, char *out, size_t size);

#endif
