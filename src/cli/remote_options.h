/* remote_options.h — option ids, option tables and help texts of `portreg remote` and its
 * subcommands (remote_options.c); cmd_remote.c parses with them, the command table and the
 * --help-vs-man test read them. */
#ifndef PORTREG_CLI_REMOTE_OPTIONS_H
#define PORTREG_CLI_REMOTE_OPTIONS_H

#include "cli_options.h"

enum {
    OPT_REMOTE_SERVER = 256, OPT_REMOTE_TOKEN, OPT_REMOTE_CACERT, OPT_REMOTE_JSON,
    OPT_REMOTE_HOST, OPT_REMOTE_GROUP, OPT_REMOTE_PORT, OPT_REMOTE_PROTO, OPT_REMOTE_BIND,
    OPT_REMOTE_EXPOSURE, OPT_REMOTE_OWNER, OPT_REMOTE_REASON, OPT_REMOTE_STATE, OPT_REMOTE_SERVICE,
    OPT_REMOTE_REQUEST, OPT_REMOTE_DAYS, OPT_REMOTE_RANGE, OPT_REMOTE_TTL, OPT_REMOTE_IDEMPOTENCY_KEY,
    OPT_REMOTE_HOLDER, OPT_REMOTE_AFTER, OPT_REMOTE_LIMIT, OPT_REMOTE_KIND, OPT_REMOTE_REQUEST_ID,
    OPT_REMOTE_ACTOR, OPT_REMOTE_OBJECT, OPT_REMOTE_NAME, OPT_REMOTE_ADDRESS, OPT_REMOTE_DRY_RUN,
    OPT_REMOTE_FORCE,
    OPT_REMOTE_OUTPUT = 'o',
};

/* One subcommand of `portreg remote`: its words ("host add"), operands and one-line summary for
 * the overview, a paragraph for its own --help, and its option table (the common options
 * --server, --token, --cacert and --json are hidden rows of every table, so they may follow
 * the subcommand too). */
struct remote_subcommand_help {
    const char *name;
    const char *operands;      /* "SERVICE (--host H... | --group G) --port PORT [...]" */
    const char *summary;
    const char *description;   /* NULL: the summary says it all */
    const struct cli_option *options;
};

extern const struct remote_subcommand_help remote_subcommand_helps[];   /* NULL-terminated */
extern const char cli_remote_usage_head[];
extern const char cli_remote_usage_tail[];

#endif
