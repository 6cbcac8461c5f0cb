/* plan_export.h — `portreg plan export`: the port plan written in other tools' formats. Each
 * format is an output module (a struct of callbacks chosen by name, as zmap's output modules):
 * services(5) lines for the organisation's own names, IANA's service-names-port-numbers.csv
 * layout, the whole plan as JSON (field names as in the YAML), and NetBox's service CSV import.
 * Pure: a loaded plan in, text out; ports that are still `auto` become warnings. */
#ifndef PORTREG_PLAN_PLAN_EXPORT_H
#define PORTREG_PLAN_PLAN_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "plan/plan.h"
#include "util/error.h"

struct plan_export_format {
    const char *name;                /* "services", "iana-csv", "json", "netbox-csv" */
    const char *summary;             /* one line for --help */
    /* Write the plan to out. Unresolved `auto` ports are skipped and each adds a warning
     * "auto-unresolved" to warnings (may be NULL). 0, -ENOMEM or -EIO (err filled). */
    int (*write)(FILE *out, const struct plan *plan, struct plan_diagnostics *warnings,
                 struct pr_error *err);
};

/* The module called name, or NULL. */
const struct plan_export_format *plan_export_find(const char *name);
/* Every module, in the order --help lists them; *count gets their number. */
const struct plan_export_format *plan_export_formats(size_t *count);

/* The plan in format as one malloc'd NUL-terminated text (*text, *len without the NUL; free()).
 * -EINVAL when format is unknown (err names it and the valid ones), -ENOMEM, -EIO. */
int plan_export(const struct plan *plan, const char *format, char **text, size_t *len,
                struct plan_diagnostics *warnings, struct pr_error *err);

#endif
