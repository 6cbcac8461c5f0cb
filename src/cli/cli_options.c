/* cli_options.c — the option table's parser and its --help renderer (cli_options.h).
 * The parser wraps getopt_long rather than being a loop of its own: glibc already gives what
 * users rely on (options after operands by permutation, `--`, --name=value, unique prefixes
 * of long names, -abc clusters, POSIXLY_CORRECT). The struct option[] and the short-option
 * string are generated from the table; opterr = 0 and a leading ':' make getopt return ':'
 * for a missing value, so it is told apart from an unknown option, and the message names the
 * option from the table (or the word typed) instead of printing optopt as a character. */
#include "cli_options.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* getopt_long returns this plus the table index for a long option: ids may repeat (aliases) */
#define CLI_LONG_BASE 0x10000

enum cli_option_error_kind {
    CLI_OPTION_ERROR_NONE,
    CLI_OPTION_ERROR_MISSING_VALUE,
    CLI_OPTION_ERROR_UNKNOWN,
    CLI_OPTION_ERROR_UNKNOWN_SHORT,
    CLI_OPTION_ERROR_AMBIGUOUS,
    CLI_OPTION_ERROR_TAKES_NO_VALUE,
};

/* The word -iL rewritten for getopt, which only knows '-' and '--'. The rewritten words
 * stay in argv after parsing, so they live as long as the process; one slot per table row. */
static char single_dash_rewrite[CLI_OPTIONS_MAX][40];

static bool is_end(const struct cli_option *o)
{
    return !o->long_name && !o->short_name && !(o->flags & CLI_OPTION_HEADING);
}

static int has_arg_of(enum cli_option_value value)
{
    return value == CLI_OPTION_REQUIRED_VALUE ? required_argument
           : value == CLI_OPTION_OPTIONAL_VALUE ? optional_argument
                                                : no_argument;
}

static const struct cli_option *find_short(const struct cli_option_parser *p, int c);

/* The table row of a long option as getopt_long matches it: the exact name or a unique
 * prefix; NULL when unknown or ambiguous (getopt reports those). */
static const struct cli_option *find_long(const struct cli_option_parser *p, const char *name, size_t len)
{
    const struct cli_option *found = NULL;
    size_t matches = 0;
    for (const struct cli_option *o = p->options; !is_end(o); o++) {
        if (!o->long_name || (o->flags & (CLI_OPTION_HEADING | CLI_OPTION_SINGLE_DASH)) ||
            strncmp(o->long_name, name, len) != 0)
            continue;
        if (strlen(o->long_name) == len)
            return o;
        if (!found || found->id != o->id)
            matches++;
        found = o;
    }
    return matches == 1 ? found : NULL;
}

/* CLI_OPTIONS_NEGATIVE_OPERANDS: getopt takes every word that starts with '-' for options, so
 * argv is reordered (in place, as getopt itself permutes it) into the options with their
 * values, then `--` if one was given, then every operand in the order given; getopt is
 * shown only the first part (p->argc), so it ends with optind at the first operand. Which
 * word is an option's value follows the table, as getopt does. */
static void move_operands_last(struct cli_option_parser *p)
{
    int argc = p->argc;
    char **argv = p->argv;
    char **operands = calloc((size_t)argc, sizeof *operands);
    if (!operands)
        abort();   /* a few pointers: the CLI cannot run without them */
    int n_options = 1, n_operands = 0;
    bool dash_dash = false;
    for (int i = 1; i < argc; i++) {
        char *w = argv[i];
        if (strcmp(w, "--") == 0) {
            dash_dash = true;
            for (i++; i < argc; i++)
                operands[n_operands++] = argv[i];
            break;
        }
        bool takes_next = false;
        if (w[0] != '-' || w[1] == '\0' || (w[1] >= '0' && w[1] <= '9')) {
            operands[n_operands++] = w;
            continue;
        }
        if (w[1] == '-') {
            size_t len = strcspn(w + 2, "=");
            const struct cli_option *o = find_long(p, w + 2, len);
            takes_next = o && w[2 + len] == '\0' && o->value == CLI_OPTION_REQUIRED_VALUE;
        } else {
            for (size_t j = 1; w[j]; j++) {
                const struct cli_option *o = find_short(p, w[j]);
                if (o && o->value != CLI_OPTION_NO_VALUE) {
                    takes_next = w[j + 1] == '\0' && o->value == CLI_OPTION_REQUIRED_VALUE;
                    break;   /* the rest of the word is the value */
                }
            }
        }
        argv[n_options++] = w;
        if (takes_next && i + 1 < argc)
            argv[n_options++] = argv[++i];
    }
    int end = n_options;
    if (dash_dash)
        argv[end++] = (char *)"--";
    memcpy(argv + end, operands, (size_t)n_operands * sizeof *operands);
    free(operands);
    p->argc = end;
}

void cli_options_begin(struct cli_option_parser *p, const char *command,
                       const struct cli_option *options, int argc, char **argv, int mode)
{
    memset(p, 0, sizeof *p);
    p->command = command;
    p->options = options;
    p->argc = argc;
    p->argv = argv;
    size_t n_long = 0, n_short = 0;
    if (mode & CLI_OPTIONS_STOP_AT_OPERAND)
        p->short_options[n_short++] = '+';
    p->short_options[n_short++] = ':';
    for (size_t i = 0; !is_end(&options[i]) && i < CLI_OPTIONS_MAX; i++) {
        const struct cli_option *o = &options[i];
        if (o->flags & CLI_OPTION_HEADING)
            continue;
        if (o->flags & CLI_OPTION_SINGLE_DASH) {
            /* getopt knows the word "-iL" as the long option "\x01iL": nobody types that, and
             * it is no prefix match for --i... */
            snprintf(single_dash_rewrite[i], sizeof single_dash_rewrite[i], "--\x01%s", o->long_name);
            p->long_options[n_long++] = (struct option){ single_dash_rewrite[i] + 2, has_arg_of(o->value),
                                                         NULL, CLI_LONG_BASE + (int)i };
            for (int k = 1; k < argc && strcmp(argv[k], "--") != 0; k++)
                if (argv[k][0] == '-' && strcmp(argv[k] + 1, o->long_name) == 0)
                    argv[k] = single_dash_rewrite[i];
        } else if (o->long_name) {
            p->long_options[n_long++] = (struct option){ o->long_name, has_arg_of(o->value), NULL,
                                                         CLI_LONG_BASE + (int)i };
        }
        if (o->short_name) {
            p->short_options[n_short++] = o->short_name;
            if (o->value != CLI_OPTION_NO_VALUE)
                p->short_options[n_short++] = ':';
            if (o->value == CLI_OPTION_OPTIONAL_VALUE)
                p->short_options[n_short++] = ':';
        }
    }
    if (mode & CLI_OPTIONS_NEGATIVE_OPERANDS)
        move_operands_last(p);
    opterr = 0;
    optind = 0;   /* glibc: 0 re-initialises getopt (a command may parse twice) */
}

static const struct cli_option *find_short(const struct cli_option_parser *p, int c)
{
    for (const struct cli_option *o = p->options; !is_end(o); o++)
        if (o->short_name == c && !(o->flags & CLI_OPTION_HEADING))
            return o;
    return NULL;
}

/* How the user spells the option of table row index: --name, -iL or -n. */
static void option_spelling(const struct cli_option_parser *p, int index, char *buf, size_t size)
{
    const struct cli_option *o = &p->options[index];
    snprintf(buf, size, "%s%s", o->flags & CLI_OPTION_SINGLE_DASH ? "-" : "--", o->long_name);
}

/* An unknown "--word[=value]": unknown, or a prefix of several long names (ambiguous). */
static void classify_unknown_long(struct cli_option_parser *p, const char *word)
{
    const char *name = word + 2;
    size_t len = strcspn(name, "=");
    snprintf(p->error_word, sizeof p->error_word, "--%.*s", (int)len, name);
    p->error_kind = CLI_OPTION_ERROR_UNKNOWN;
    size_t matches = 0, used = 0;
    p->error_candidates[0] = '\0';
    for (const struct cli_option *o = p->options; !is_end(o); o++)
        if (o->long_name && !(o->flags & (CLI_OPTION_HEADING | CLI_OPTION_SINGLE_DASH | CLI_OPTION_HIDDEN)) &&
            strncmp(o->long_name, name, len) == 0) {
            int n = snprintf(p->error_candidates + used, sizeof p->error_candidates - used, "%s--%s",
                             matches ? ", " : "", o->long_name);
            if (n > 0 && (size_t)n < sizeof p->error_candidates - used)
                used += (size_t)n;
            matches++;
        }
    if (len > 0 && matches > 1)
        p->error_kind = CLI_OPTION_ERROR_AMBIGUOUS;
}

int cli_options_next(struct cli_option_parser *p)
{
    int c = getopt_long(p->argc, p->argv, p->short_options, p->long_options, NULL);
    if (c == -1)
        return CLI_OPTIONS_DONE;
    if (c >= CLI_LONG_BASE && c < CLI_LONG_BASE + CLI_OPTIONS_MAX)
        return p->options[c - CLI_LONG_BASE].id;
    if (c == ':') {
        p->error_kind = CLI_OPTION_ERROR_MISSING_VALUE;
        if (optopt >= CLI_LONG_BASE)
            option_spelling(p, optopt - CLI_LONG_BASE, p->error_word, sizeof p->error_word);
        else
            snprintf(p->error_word, sizeof p->error_word, "-%c", optopt);
        return CLI_OPTIONS_ERROR;
    }
    if (c == '?') {
        if (optopt >= CLI_LONG_BASE) {   /* --json=1 */
            p->error_kind = CLI_OPTION_ERROR_TAKES_NO_VALUE;
            option_spelling(p, optopt - CLI_LONG_BASE, p->error_word, sizeof p->error_word);
        } else if (optopt) {
            p->error_kind = CLI_OPTION_ERROR_UNKNOWN_SHORT;
            snprintf(p->error_word, sizeof p->error_word, "-%c", optopt);
        } else {   /* glibc has stepped over the unknown long option */
            const char *word = optind > 0 && optind <= p->argc ? p->argv[optind - 1] : "--";
            classify_unknown_long(p, strncmp(word, "--", 2) == 0 ? word : "--");
        }
        return CLI_OPTIONS_ERROR;
    }
    const struct cli_option *o = find_short(p, c);
    if (!o) {   /* cannot happen: getopt returns only letters of the string */
        p->error_kind = CLI_OPTION_ERROR_UNKNOWN_SHORT;
        snprintf(p->error_word, sizeof p->error_word, "-%c", c);
        return CLI_OPTIONS_ERROR;
    }
    return o->id;
}

int cli_options_error(const struct cli_option_parser *p)
{
    char message[320];
    switch (p->error_kind) {
    case CLI_OPTION_ERROR_MISSING_VALUE:
        snprintf(message, sizeof message, "option %s needs a value", p->error_word);
        break;
    case CLI_OPTION_ERROR_TAKES_NO_VALUE:
        snprintf(message, sizeof message, "option %s takes no value", p->error_word);
        break;
    case CLI_OPTION_ERROR_AMBIGUOUS:
        snprintf(message, sizeof message, "ambiguous option '%s': %s", p->error_word, p->error_candidates);
        break;
    default:
        snprintf(message, sizeof message, "unknown option '%s'", p->error_word);
        break;
    }
    if (p->command)
        fprintf(stderr, "portreg: %s: %s\nSee 'portreg %s --help'.\n", p->command, message, p->command);
    else
        fprintf(stderr, "portreg: %s\nSee 'portreg --help'.\n", message);
    return CLI_EXIT_USAGE;
}

/* ---- --help ---- */

/* The names of one row: "-p, --proto PROTO", "    --port SPEC", "-iL FILE", "-4". */
static size_t format_names(const struct cli_option *o, bool first, char *buf, size_t size)
{
    bool is_long = o->long_name && !(o->flags & CLI_OPTION_SINGLE_DASH);
    char prefix[8] = "";
    if (is_long && o->short_name)
        snprintf(prefix, sizeof prefix, "-%c, ", o->short_name);
    else if (is_long && first)
        snprintf(prefix, sizeof prefix, "    ");
    char name[64];
    if (o->long_name)
        snprintf(name, sizeof name, "%s%s", is_long ? "--" : "-", o->long_name);
    else
        snprintf(name, sizeof name, "-%c", o->short_name);
    const char *value = o->value_name ? o->value_name : "VALUE";
    char value_text[64] = "";
    if (o->value == CLI_OPTION_REQUIRED_VALUE)
        snprintf(value_text, sizeof value_text, " %s", value);
    else if (o->value == CLI_OPTION_OPTIONAL_VALUE)
        snprintf(value_text, sizeof value_text, o->long_name ? "[=%s]" : "[%s]", value);
    int n = snprintf(buf, size, "%s%s%s", prefix, name, value_text);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* The names of a row and of the aliases after it (rows whose help is NULL). */
static size_t format_group(const struct cli_option *o, char *buf, size_t size, const struct cli_option **next)
{
    size_t used = format_names(o, true, buf, size);
    for (o++; !is_end(o) && !o->help && !(o->flags & CLI_OPTION_HEADING); o++) {
        if (o->flags & CLI_OPTION_HIDDEN)
            continue;
        used += (size_t)snprintf(buf + used, size - used, ", ");
        if (used < size)
            used += format_names(o, false, buf + used, size - used);
        if (used >= size)
            used = size - 1;
    }
    *next = o;
    return used;
}

#define HELP_NAMES_MAX 30

void cli_options_print(FILE *out, const struct cli_option *options)
{
    size_t width = 0;
    char names[256];
    const struct cli_option *next;
    for (const struct cli_option *o = options; !is_end(o); o = next) {
        next = o + 1;
        if (o->flags & (CLI_OPTION_HEADING | CLI_OPTION_HIDDEN))
            continue;
        size_t w = format_group(o, names, sizeof names, &next);
        if (w <= HELP_NAMES_MAX && w > width)
            width = w;
    }
    bool first = true;
    for (const struct cli_option *o = options; !is_end(o); o = next) {
        next = o + 1;
        if (o->flags & CLI_OPTION_HEADING) {
            fprintf(out, "%s%s\n", first ? "" : "\n", o->help);
            first = false;
            continue;
        }
        if (o->flags & CLI_OPTION_HIDDEN)
            continue;
        first = false;
        size_t w = format_group(o, names, sizeof names, &next);
        const char *help = o->help ? o->help : "";
        fprintf(out, "  %s", names);
        if (w > width)
            fprintf(out, "\n%*s", (int)width + 2, "");
        else
            fprintf(out, "%*s", (int)(width - w), "");
        /* continuation lines of the help go under its first line */
        for (const char *line = help; *line;) {
            size_t len = strcspn(line, "\n");
            fprintf(out, "  %.*s\n", (int)len, line);
            line += len;
            if (*line == '\n' && line[1])
                fprintf(out, "%*s", (int)width + 2, "");
            if (*line == '\n')
                line++;
        }
        if (!*help)
            fputc('\n', out);
    }
}

void cli_options_print_help(FILE *out, const char *head, const struct cli_option *options,
                            const char *tail)
{
    fputs(head, out);
    if (!(options[0].flags & CLI_OPTION_HEADING))
        fputs("options:\n", out);
    cli_options_print(out, options);
    if (tail) {
        fputc('\n', out);
        fputs(tail, out);
    }
}
