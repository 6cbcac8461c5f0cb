/* plan_yaml.h — reading port plans from YAML (libfyaml's event parser) into struct plan, and
 * writing the ports that plan_check chose for `auto` back into the files. Every problem becomes
 * a diagnostic with file:line:column and the field path ("services[2].ports[1]"); the loader
 * collects all of them instead of stopping at the first. The format is documented at the top of
 * plan_yaml.c and in examples/plan.yaml. */
#ifndef PORTREG_PLAN_PLAN_YAML_H
#define PORTREG_PLAN_PLAN_YAML_H

#include <stddef.h>

#include "plan/plan.h"
#include "util/error.h"

/* Parse one file's text (name is what diagnostics call it) and append its hosts, networks,
 * services and policy to plan, which must have been plan_init()ed. Cross-file rules (duplicate
 * names, references to hosts, groups, networks and address names) wait for plan_load_finish.
 * Returns 0, -EINVAL when this text added an error to diag (what parsed is still in the plan),
 * or -ENOMEM (err filled). */
int plan_parse_buffer(struct plan *plan, const char *name, const char *text, size_t len,
                      struct plan_diagnostics *diag, struct pr_error *err);

/* The rules over everything parsed so far: duplicate names (naming both places), one namespace
 * for hosts, groups and networks, and every reference resolved (services' hosts, sources, bind
 * address names). Returns 0, -EINVAL when it added an error, -ENOMEM. */
int plan_load_finish(struct plan *plan, struct plan_diagnostics *diag, struct pr_error *err);

/* plan_parse_buffer + plan_load_finish for a single text (tests, fuzzing). -EINVAL when any
 * error was added. */
int plan_load_buffer(struct plan *plan, const char *name, const char *text, size_t len,
                     struct plan_diagnostics *diag, struct pr_error *err);

/* Read and parse every path, then plan_load_finish. -EINVAL when diag got an error (all files
 * are still read, so all errors are reported); -errno with err naming the path when a file
 * cannot be read (then the files before it are in the plan and the rest are not). */
int plan_load_files(struct plan *plan, const char *const *paths, size_t count,
                    struct plan_diagnostics *diag, struct pr_error *err);

/* The text of file (one of plan->files, as loaded from text/len) with every `auto` that
 * plan_check resolved replaced by its port: "auto" -> "24817", "auto/udp" -> "24817/udp",
 * byte for byte everything else (comments, quotes, spacing). *out is malloc'd (NUL-terminated);
 * *replaced counts the replacements (0: *out is a copy). -ESTALE when the text no longer holds
 * "auto" where it was read (the file changed), -ENOMEM. */
int plan_render_resolved(const struct plan *plan, const char *file, const char *text,
                         size_t len, char **out, size_t *out_len, size_t *replaced,
                         struct pr_error *err);

/* For each file of the plan that has resolved `auto` ports: read it again, render, and replace
 * it atomically (temporary file + rename). All files are rendered before the first is written,
 * so a stale file changes nothing. *files_written and *ports_written may be NULL. Files without
 * anything to resolve are not touched, so a second run writes nothing. */
int plan_write_resolved(const struct plan *plan, size_t *files_written, size_t *ports_written,
                        struct pr_error *err);

#endif
