/* plan_view.c — loading plans and showing their diagnostics (see plan_view.h). */
#include "plan_view.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "plan/plan_yaml.h"

void cli_print_plan_diagnostics(const struct cli_context *ctx, const struct plan_diagnostics *diag,
                                enum plan_severity least, FILE *out)
{
    char buf[2048];
    for (size_t i = 0; i < diag->count; i++) {
        const struct plan_diagnostic *d = &diag->items[i];
        if (d->severity > least)
            continue;
        const char *colour = d->severity == PLAN_SEVERITY_ERROR ? cli_yellow(ctx) : "";
        fprintf(out, "%s%s%s\n", colour, plan_diagnostic_format(d, buf, sizeof buf),
                colour[0] ? cli_reset(ctx) : "");
        if (d->related.file)
            fprintf(out, "  %s:%u:%u: see also\n", d->related.file, d->related.line, d->related.column);
        if (d->fix)
            fprintf(out, "  fix: %s\n", d->fix);
    }
}

json_t *cli_plan_diagnostics_json(const struct plan_diagnostics *diag)
{
    json_t *a = json_array();
    for (size_t i = 0; i < diag->count; i++) {
        const struct plan_diagnostic *d = &diag->items[i];
        json_t *o = json_object();
        json_object_set_new(o, "severity", json_string(plan_severity_name(d->severity)));
        json_object_set_new(o, "code", json_string(d->code ? d->code : ""));
        json_object_set_new(o, "file", d->pos.file ? json_string(d->pos.file) : json_null());
        json_object_set_new(o, "line", d->pos.line ? json_integer(d->pos.line) : json_null());
        json_object_set_new(o, "column", d->pos.line ? json_integer(d->pos.column) : json_null());
        json_object_set_new(o, "field", d->field && d->field[0] ? json_string(d->field) : json_null());
        json_object_set_new(o, "message", json_string(d->message));
        json_object_set_new(o, "fix", d->fix ? json_string(d->fix) : json_null());
        if (d->related.file) {
            json_t *r = json_object();
            json_object_set_new(r, "file", json_string(d->related.file));
            json_object_set_new(r, "line", json_integer(d->related.line));
            json_object_set_new(r, "column", json_integer(d->related.column));
            json_object_set_new(o, "related", r);
        } else {
            json_object_set_new(o, "related", json_null());
        }
        json_array_append_new(a, o);
    }
    return a;
}

int cli_load_plan(const char *command, char *const *paths, size_t count, struct plan *plan,
                  struct plan_diagnostics *diag, bool quiet)
{
    plan_init(plan);
    plan_diagnostics_init(diag);
    struct pr_error err;
    pr_error_clear(&err);
    int rc = plan_load_files(plan, (const char *const *)paths, count, diag, &err);
    if (rc == -EINVAL || diag->errors) {
        /* a file that is not YAML is bad input (2), as an unreadable one; a plan whose YAML
         * parses but whose content is wrong is "the plan has errors" (1) */
        bool not_yaml = false;
        for (size_t i = 0; i < diag->count && !not_yaml; i++)
            not_yaml = diag->items[i].code && strcmp(diag->items[i].code, "yaml-syntax") == 0;
        plan_diagnostics_sort(diag);
        if (!quiet) {
            struct cli_context plain = { 0 };
            cli_print_plan_diagnostics(&plain, diag, PLAN_SEVERITY_WARNING, stderr);
            fprintf(stderr, "portreg: %s: the plan has %zu error%s\n", command, diag->errors,
                    diag->errors == 1 ? "" : "s");
        }
        return not_yaml ? CLI_EXIT_USAGE : CLI_EXIT_NO;
    }
    if (rc < 0)
        return cli_error_from(cli_exit_for_input_error(rc), command, &err);
    return CLI_EXIT_OK;
}
