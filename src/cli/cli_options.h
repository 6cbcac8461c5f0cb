/* cli_options.h — one option table per command: the table drives both the parser (a wrapper of
 * getopt_long) and the options section of `--help`, so what is accepted and what is documented
 * cannot drift apart. Tables are reachable through cli_commands[] (portreg.c), for the shell
 * completions. A missing value or an unknown option is reported as the user typed it. */
#ifndef PORTREG_CLI_OPTIONS_H
#define PORTREG_CLI_OPTIONS_H

#include <getopt.h>
#include <stdio.h>

enum cli_option_value {
    CLI_OPTION_NO_VALUE,
    CLI_OPTION_REQUIRED_VALUE,   /* --name VALUE, --name=VALUE, -n VALUE, -nVALUE */
    CLI_OPTION_OPTIONAL_VALUE,   /* --name[=VALUE], -n[VALUE] */
};

enum cli_option_flags {
    CLI_OPTION_HIDDEN = 1u << 0,        /* accepted, not in --help (e.g. the spelling --colour) */
    CLI_OPTION_SINGLE_DASH = 1u << 1,   /* nmap style: long_name is spelt -iL, -sS, -Pn; a value
                                           is the next word */
    CLI_OPTION_HEADING = 1u << 2,       /* not an option: `help` starts a group in --help */
};

struct cli_option {
    const char *long_name;    /* without dashes; NULL for a short-only option */
    char short_name;          /* 0 for none */
    enum cli_option_value value;
    const char *value_name;   /* FILE, SPEC, ... (NULL when no value) */
    /* one line, or several separated by '\n' (indented under the first); NULL: an alias,
     * shown on the line of the previous entry ("-iL FILE, --input-file FILE") */
    const char *help;
    int id;                   /* what cli_options_next() returns for it; > 0 */
    unsigned flags;
};

#define CLI_OPTION_HELP_ENTRY { "help", 'h', CLI_OPTION_NO_VALUE, NULL, "this help", 'h', 0 }
#define CLI_OPTIONS_END { NULL, 0, CLI_OPTION_NO_VALUE, NULL, NULL, 0, 0 }

/* A subcommand with options of its own: `plan diff`, `firewall apply`. */
struct cli_subcommand {
    const char *name;
    const struct cli_option *options;
};

#define CLI_OPTIONS_MAX 64

struct cli_option_parser {
    const char *command;      /* "ls", "plan diff"; NULL for portreg's global options */
    const struct cli_option *options;
    int argc;
    char **argv;
    struct option long_options[CLI_OPTIONS_MAX + 1];
    char short_options[3 * CLI_OPTIONS_MAX + 4];
    /* the last error, for cli_options_error() */
    int error_kind;
    char error_word[96];
    char error_candidates[160];   /* of an ambiguous prefix: "--seed, --shard" */
};

enum { CLI_OPTIONS_DONE = -1, CLI_OPTIONS_ERROR = -2 };

/* How cli_options_begin() parses (flags, or 0). */
enum cli_options_mode {
    /* stop at the first operand (portreg's global options before the command name) */
    CLI_OPTIONS_STOP_AT_OPERAND = 1,
    /* a word that is '-' and a digit (-1024, -10) is an operand, not an option cluster:
     * lookup and who take open port ranges such as -1024 (0-1024) without `--` */
    CLI_OPTIONS_NEGATIVE_OPERANDS = 2,
};

/* Prepare to parse argv[1..] with the table; resets getopt (optind = 0). mode: see
 * enum cli_options_mode; without CLI_OPTIONS_STOP_AT_OPERAND options and operands may be
 * mixed (GNU permutation) and the operands end up at argv[optind..argc-1], in the order
 * given. Single-dash options (-iL FILE) are rewritten in argv to their generated long form
 * first. */
void cli_options_begin(struct cli_option_parser *p, const char *command,
                       const struct cli_option *options, int argc, char **argv, int mode);
/* The id of the next option (its value in optarg, NULL when an optional value is absent),
 * CLI_OPTIONS_DONE at the end, or CLI_OPTIONS_ERROR: an unknown option, a missing value, a
 * value given to an option that takes none; cli_options_error() reports it. */
int cli_options_next(struct cli_option_parser *p);
/* Print "portreg: COMMAND: option --port needs a value" (or unknown option '--frob', ...)
 * and the hint to --help on stderr; returns CLI_EXIT_USAGE. */
int cli_options_error(const struct cli_option_parser *p);

/* The options section of --help: "  -p, --proto PROTO  only tcp, ...", names aligned. */
void cli_options_print(FILE *out, const struct cli_option *options);
/* head (synopsis and description), "options:" and the table, then tail (exit status). */
void cli_options_print_help(FILE *out, const char *head, const struct cli_option *options,
                            const char *tail);

#endif
