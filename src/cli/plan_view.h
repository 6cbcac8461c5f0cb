/* plan_view.h — what `plan` and `firewall` share: loading plan files with every diagnostic
 * printed as "FILE:LINE:COLUMN: severity: field: message" (plus the fix and the related place),
 * and the same diagnostics as JSON. */
#ifndef PORTREG_CLI_PLAN_VIEW_H
#define PORTREG_CLI_PLAN_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "plan/plan.h"

/* Load paths into plan (plan_init'ed by the call). Diagnostics go to diag. Returns CLI_EXIT_OK,
 * CLI_EXIT_NO when the plan has errors (printed unless quiet), CLI_EXIT_USAGE when a file is
 * not YAML (diag holds the syntax error; printed unless quiet), or CLI_EXIT_USAGE /
 * CLI_EXIT_FAILURE when a file cannot be read (printed; cli_exit_for_input_error). */
int cli_load_plan(const char *command, char *const *paths, size_t count, struct plan *plan,
                  struct plan_diagnostics *diag, bool quiet);
/* Every diagnostic at or above min (PLAN_SEVERITY_ERROR is the highest) to out. */
void cli_print_plan_diagnostics(const struct cli_context *ctx, const struct plan_diagnostics *diag,
                                enum plan_severity least, FILE *out);
json_t *cli_plan_diagnostics_json(const struct plan_diagnostics *diag);

#endif
