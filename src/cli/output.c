/* output.c — the CLI's shared output: errors and warnings on stderr in the contract's form,
 * colours (off unless stdout is a TTY and NO_COLOR is unset), the one table renderer, JSON
 * documents, and opening the registry with its warnings. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_error(int code, const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "portreg: %s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

unsigned cli_argument_column(const char *text, unsigned line, unsigned column)
{
    size_t offset = 0;
    for (unsigned l = 1; l < line; l++) {
        const char *newline = strchr(text + offset, '\n');
        if (!newline)
            break;
        offset = (size_t)(newline - text) + 1;
    }
    return (unsigned)offset + column;
}

int cli_exit_for_error(int code)
{
    return code == -EINVAL || code == -ERANGE ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}

int cli_exit_for_input_error(int code)
{
    switch (-code) {
    case ENOENT: case ENOTDIR: case EISDIR: case EACCES: case EPERM: case ELOOP:
    case ENAMETOOLONG: case ENXIO: case EINVAL: case ERANGE: case EFBIG: case E2BIG:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_FAILURE;
    }
}

int cli_exit_for_output_error(int code)
{
    /* the file the user named cannot be: a missing directory, a directory, not a directory */
    return code == -ENOENT || code == -EISDIR || code == -ENOTDIR ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}

int cli_error_from(int code, const char *what, const struct pr_error *err)
{
    char buf[2048];
    return cli_error(code, what, "%s", pr_error_format(err, buf, sizeof buf));
}

void cli_warning(const char *fmt, ...)
{
    va_list ap;
    fputs("portreg: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "portreg: %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nSee 'portreg %s --help'.\n", command);
    return CLI_EXIT_USAGE;
}

const char *cli_bold(const struct cli_context *ctx) { return ctx->color ? "\033[1m" : ""; }
const char *cli_dim(const struct cli_context *ctx) { return ctx->color ? "\033[2m" : ""; }
const char *cli_green(const struct cli_context *ctx) { return ctx->color ? "\033[32m" : ""; }
const char *cli_yellow(const struct cli_context *ctx) { return ctx->color ? "\033[33m" : ""; }
const char *cli_reset(const struct cli_context *ctx) { return ctx->color ? "\033[0m" : ""; }

FILE *cli_summary_stream(const struct cli_context *ctx)
{
    return ctx->stdout_is_tty ? stdout : stderr;
}

int cli_print_json(const struct cli_context *ctx, json_t *doc)
{
    size_t flags = (ctx->stdout_is_tty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_REAL_PRECISION(6);
    int r = json_dumpf(doc, stdout, flags);
    fputc('\n', stdout);
    json_decref(doc);
    if (r < 0 && ferror(stdout))
        return CLI_EXIT_FAILURE;   /* a write error: cli_finish_stdout says which */
    return r < 0 ? cli_error(CLI_EXIT_FAILURE, "json", "cannot write output") : CLI_EXIT_OK;
}

int cli_finish_stdout(int code)
{
    /* as git's run_builtin: a full disk or a closed file must not look like success */
    errno = 0;
    int flush_failed = fflush(stdout) != 0;
    int flush_errno = errno;
    int had_error = ferror(stdout);
    errno = 0;
    int close_failed = fclose(stdout) != 0;
    int close_errno = errno;
    int cause = flush_failed ? flush_errno : close_failed ? close_errno : 0;
    if (!flush_failed && !had_error && !close_failed)
        return code;
    if (cause == EPIPE)
        return code;               /* the reader stopped reading (SIGPIPE ignored): as git */
    if (cause)
        cli_error(CLI_EXIT_FAILURE, "write error on stdout", "%s", strerror(cause));
    else
        fputs("portreg: write error on stdout\n", stderr);
    return CLI_EXIT_FAILURE;
}

struct cli_table {
    unsigned columns;
    char **cells;          /* row-major, rows * columns, first row is the header */
    size_t rows, capacity;
};

static char *strdup_or_empty(const char *s)
{
    char *copy = strdup(s ? s : "");
    if (!copy)
        abort();   /* the CLI cannot render anything without memory */
    return copy;
}

struct cli_table *cli_table_new(unsigned columns, const char *const *headers)
{
    struct cli_table *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->columns = columns;
    cli_table_add_row(t, headers);
    return t;
}

void cli_table_add_row(struct cli_table *t, const char *const *cells)
{
    if (t->rows == t->capacity) {
        t->capacity = t->capacity ? t->capacity * 2 : 16;
        t->cells = realloc(t->cells, t->capacity * t->columns * sizeof *t->cells);
        if (!t->cells)
            abort();
    }
    for (unsigned c = 0; c < t->columns; c++)
        t->cells[t->rows * t->columns + c] = strdup_or_empty(cells[c]);
    t->rows++;
}

/* Display width of UTF-8 text: code points, not bytes (good enough for our ASCII + dashes). */
static size_t display_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

void cli_table_print(struct cli_table *t, const struct cli_context *ctx, FILE *out)
{
    if (!ctx->stdout_is_tty) {
        for (size_t r = 1; r < t->rows; r++)
            for (unsigned c = 0; c < t->columns; c++)
                fprintf(out, "%s%c", t->cells[r * t->columns + c], c + 1 == t->columns ? '\n' : '\t');
        return;
    }
    size_t *width = calloc(t->columns, sizeof *width);
    if (!width)
        abort();
    for (size_t r = 0; r < t->rows; r++)
        for (unsigned c = 0; c < t->columns; c++) {
            size_t w = display_width(t->cells[r * t->columns + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->rows; r++) {
        if (r == 0)
            fputs(cli_bold(ctx), out);
        for (unsigned c = 0; c < t->columns; c++) {
            const char *cell = t->cells[r * t->columns + c];
            fputs(cell, out);
            if (c + 1 < t->columns)
                fprintf(out, "%*s", (int)(width[c] - display_width(cell) + 2), "");
        }
        if (r == 0)
            fputs(cli_reset(ctx), out);
        fputc('\n', out);
    }
    free(width);
}

void cli_table_free(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->rows * t->columns; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

int cli_open_registry(const struct cli_context *ctx, struct registry_paths *paths,
                      struct registry_index **ix, struct registry_open_report *report)
{
    struct pr_error err;
    pr_error_clear(&err);
    if (registry_paths_init(paths, ctx->state_dir, &err) < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "registry", &err);
    if (registry_open(paths, ix, report, &err) < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "registry", &err);
    return cli_report_registry_open(report);
}

int cli_recover_registry(const struct registry_paths *paths, struct registry_index **ix,
                         struct registry_open_report *report)
{
    struct pr_error err;
    pr_error_clear(&err);
    if (registry_recover(paths, ix, report, &err) < 0)
        return cli_error_from(CLI_EXIT_FAILURE, "registry", &err);
    return cli_report_registry_open(report);
}

int cli_report_registry_open(const struct registry_open_report *report)
{
    if (report->index_damaged)
        cli_warning("%s; rebuilt it from the sources", report->rebuild_reason);
    if (report->rebuilt && !report->index_saved) {
        char buf[2048];
        cli_warning("cannot save the registry index (%s); using it from memory",
                    pr_error_format(&report->index_error, buf, sizeof buf));
    }
    return CLI_EXIT_OK;
}
