/* cli.h — what every subcommand shares: the context from global options, exit codes of the
 * contract (PRODUCT.md), error and warning printing, colour, the table renderer, JSON output,
 * and opening the registry with its warnings. Subcommands live in cmd_NAME.c. */
#ifndef PORTREG_CLI_H
#define PORTREG_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli_options.h"
#include "registry/index.h"
#include "registry/sources.h"
#include "util/error.h"

enum cli_exit {
    CLI_EXIT_OK = 0,       /* ok / found / free */
    CLI_EXIT_NO = 1,       /* the answer is "no" */
    CLI_EXIT_USAGE = 2,    /* usage error or bad input */
    CLI_EXIT_FAILURE = 3,  /* runtime failure: permission, I/O, network */
};

struct cli_context {
    const char *state_dir;     /* --state-dir, NULL when not given */
    bool color;                /* colour on stdout */
    bool stdout_is_tty;
    bool stderr_is_tty;
};

struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv, struct cli_context *ctx);
    const char *summary;
    const struct cli_option *options;            /* NULL when only subcommands have options */
    const struct cli_subcommand *subcommands;    /* NULL-terminated, or NULL */
};

/* The option tables (cli_options.h), one per command and subcommand; cmd_NAME.c defines them
 * beside its --help text. */
extern const struct cli_option cli_global_options[];
extern const struct cli_option cli_lookup_options[];
extern const struct cli_option cli_registry_options[];
extern const struct cli_option cli_ls_options[];
extern const struct cli_option cli_who_options[];
extern const struct cli_option cli_check_options[];
extern const struct cli_option cli_suggest_options[];
extern const struct cli_option cli_audit_options[];
extern const struct cli_option cli_scan_options[];
extern const struct cli_subcommand cli_plan_subcommands[];
extern const struct cli_subcommand cli_firewall_subcommands[];
extern const struct cli_option cli_serve_options[];
extern const struct cli_option cli_serve_token_options[];
extern const struct cli_option cli_serve_migrate_options[];
extern const struct cli_option cli_serve_export_db_options[];
extern const struct cli_subcommand cli_serve_subcommands[];
extern const struct cli_option cli_remote_options[];
extern const struct cli_subcommand cli_remote_subcommands[];
extern const struct cli_option cli_completion_options[];
extern const struct cli_option cli_agent_options[];

extern const struct cli_command cli_commands[];
const struct cli_command *cli_command_find(const char *name);

int cmd_help(int argc, char **argv, struct cli_context *ctx);
int cmd_lookup(int argc, char **argv, struct cli_context *ctx);
int cmd_registry(int argc, char **argv, struct cli_context *ctx);
int cmd_ls(int argc, char **argv, struct cli_context *ctx);
int cmd_who(int argc, char **argv, struct cli_context *ctx);
int cmd_check(int argc, char **argv, struct cli_context *ctx);
int cmd_suggest(int argc, char **argv, struct cli_context *ctx);
int cmd_audit(int argc, char **argv, struct cli_context *ctx);
int cmd_scan(int argc, char **argv, struct cli_context *ctx);
int cmd_plan(int argc, char **argv, struct cli_context *ctx);
int cmd_firewall(int argc, char **argv, struct cli_context *ctx);
int cmd_serve(int argc, char **argv, struct cli_context *ctx);
int cmd_remote(int argc, char **argv, struct cli_context *ctx);
int cmd_completion(int argc, char **argv, struct cli_context *ctx);
int cmd_agent(int argc, char **argv, struct cli_context *ctx);

/* The 1-based byte column in a command-line argument of a library error at line:column (the
 * parsers count lines at '\n'; an argument is one line to its user: "80\n443" has its '4' at
 * column 4). */
unsigned cli_argument_column(const char *text, unsigned line, unsigned column);

/* "portreg: <what>: <why>" on stderr; returns code. */
int cli_error(int code, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same for a library error: "portreg: <what>: <path:line:col>: <message>". */
int cli_error_from(int code, const char *what, const struct pr_error *err);
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit code for a library error code: -ENOMEM/-EIO/-EACCES... → 3, -EINVAL → 2. */
int cli_exit_for_error(int code);
/* Exit code for a failure to read a file the user named (a plan, -iL, --from, --scan,
 * --exclude-file): one rule for every command. The file cannot be read because of what was
 * named (missing, a directory, not a directory, permission, a symlink loop, a name too long)
 * or what it holds (-EINVAL, -ERANGE, -EFBIG): bad input, 2. I/O errors and memory: 3. */
int cli_exit_for_input_error(int code);
/* Exit code for a failure to write a file the user named (-o, -oX, --output): 2 when the name
 * cannot be a file (missing directory, a directory), 3 for I/O and permission failures. */
int cli_exit_for_output_error(int code);
/* Print the unknown-option / missing-argument hint and return CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* SGR colour helpers: return "" when colour is off. */
const char *cli_bold(const struct cli_context *ctx);
const char *cli_dim(const struct cli_context *ctx);
const char *cli_green(const struct cli_context *ctx);
const char *cli_yellow(const struct cli_context *ctx);
const char *cli_reset(const struct cli_context *ctx);

/* After the command: flush and close stdout; a write error (a full disk, a closed file) is
 * "portreg: write error on stdout: <why>" and CLI_EXIT_FAILURE, else code is returned. */
int cli_finish_stdout(int code);

/* Where a command's summary and verdict lines go (the "N findings" line, who's verdicts, plan
 * diff's counts): stdout on a terminal, under the table; stderr when stdout is piped, so the
 * piped output is rows only, as fuser(1) keeps its PIDs on stdout and the rest on stderr. */
FILE *cli_summary_stream(const struct cli_context *ctx);

/* Write one JSON document to stdout (indented on a TTY, compact otherwise); steals doc. */
int cli_print_json(const struct cli_context *ctx, json_t *doc);

/* Table renderer: aligned columns with a bold header on a TTY; tab-separated rows without a
 * header when piped, so scripts get stable columns. Cells are copied. */
struct cli_table;
struct cli_table *cli_table_new(unsigned columns, const char *const *headers);
void cli_table_add_row(struct cli_table *table, const char *const *cells);
void cli_table_print(struct cli_table *table, const struct cli_context *ctx, FILE *out);
void cli_table_free(struct cli_table *table);

/* Resolve paths and open the registry; prints warnings (damaged index rebuilt, index not
 * saved) and errors itself. Returns CLI_EXIT_OK or the exit code to return. */
int cli_open_registry(const struct cli_context *ctx, struct registry_paths *paths,
                      struct registry_index **ix, struct registry_open_report *report);
/* A query found the index damaged: warn, rebuild it, and return CLI_EXIT_OK to ask again. */
int cli_recover_registry(const struct registry_paths *paths, struct registry_index **ix,
                         struct registry_open_report *report);
/* Print the warnings of an open or rebuild (damaged index rebuilt, index kept in memory). */
int cli_report_registry_open(const struct registry_open_report *report);

#endif
