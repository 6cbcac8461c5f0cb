/* portreg.c — entry point: global options, then dispatch through the command table, in the
 * style of git.c: adding a subcommand is one row here and one file cmd_NAME.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_STATE_DIR = 256, OPT_COLOR };

const struct cli_option cli_global_options[] = {
    { "state-dir", 0, CLI_OPTION_REQUIRED_VALUE, "DIR",
      "registry state (default /var/lib/portreg as root,\n"
      "$XDG_DATA_HOME/portreg otherwise; or $PORTREG_STATE_DIR)", OPT_STATE_DIR, 0 },
    { "color", 0, CLI_OPTION_REQUIRED_VALUE, "WHEN",
      "auto (default), always, never; NO_COLOR turns colour off", OPT_COLOR, 0 },
    { "colour", 0, CLI_OPTION_REQUIRED_VALUE, "WHEN", NULL, OPT_COLOR, CLI_OPTION_HIDDEN },
    { "version", 'V', CLI_OPTION_NO_VALUE, NULL, "print the version", 'V', 0 },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

const struct cli_command cli_commands[] = {
    { "lookup", cmd_lookup, "what IANA and this host's services files say about a port or name",
      cli_lookup_options, NULL },
    { "registry", cmd_registry, "the registry's sources and index: info, update, rebuild",
      cli_registry_options, NULL },
    { "ls", cmd_ls, "sockets with their processes, units, containers and IANA services",
      cli_ls_options, NULL },
    { "who", cmd_who, "every socket on a port and who holds it",
      cli_who_options, NULL },
    { "check", cmd_check, "would a bind succeed; if not, why and what to do",
      cli_check_options, NULL },
    { "suggest", cmd_suggest, "conflict-free ports by policy; --reserve keeps them free",
      cli_suggest_options, NULL },
    { "scan", cmd_scan, "open, closed and filtered ports of hosts and networks (connect, syn, udp)",
      cli_scan_options, NULL },
    { "plan", cmd_plan, "the port plan: check it, diff it against live sockets or a scan, export it",
      NULL, cli_plan_subcommands },
    { "firewall", cmd_firewall, "firewall rules from the plan: generate, apply (nftables), audit the live ruleset",
      NULL, cli_firewall_subcommands },
    { "audit", cmd_audit, "this host's port health: latent conflicts, exposure, registry mismatches",
      cli_audit_options, NULL },
    { "serve", cmd_serve, "the organisation's port registry over HTTP: requests, assignments, leases",
      cli_serve_options, cli_serve_subcommands },
    { "remote", cmd_remote, "a portreg server's client: request, approve, assign, lease, events, import, export",
      cli_remote_options, cli_remote_subcommands },
    { "agent", cmd_agent, "report this host's listeners and findings to a portreg server, then their changes",
      cli_agent_options, NULL },
    { "completion", cmd_completion, "the shell completion script: bash, zsh or fish",
      cli_completion_options, NULL },
    { "help", cmd_help, "show help for portreg or one of its commands",
      NULL, NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

const struct cli_command *cli_command_find(const char *name)
{
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static void print_main_help(FILE *out)
{
    fputs("usage: portreg [--state-dir DIR] [--color WHEN] COMMAND [ARGS]\n"
          "       portreg --version | --help | help COMMAND\n\n"
          "portreg knows every TCP/UDP port: what IANA registered it for, and what this host\n"
          "says about it.\n\ncommands:\n", out);
    for (const struct cli_command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fputs("\nglobal options:\n", out);
    cli_options_print(out, cli_global_options);
    fputs("\nExit codes: 0 ok/found, 1 the answer is no, 2 usage or bad input, 3 runtime failure.\n"
          "See 'portreg help COMMAND' and man portreg(1).\n", out);
}

int cmd_help(int argc, char **argv, struct cli_context *ctx)
{
    if (argc < 2) {
        print_main_help(stdout);
        return CLI_EXIT_OK;
    }
    const struct cli_command *c = cli_command_find(argv[1]);
    if (!c || c->run == cmd_help)
        return cli_error(CLI_EXIT_USAGE, "help", "'%s' is not a portreg command; see 'portreg --help'",
                         argv[1]);
    char *help_argv[] = { argv[1], (char *)"--help", NULL };
    return c->run(2, help_argv, ctx);
}

int main(int argc, char **argv)
{
    struct cli_context ctx = {
        .stdout_is_tty = isatty(STDOUT_FILENO) == 1,
        .stderr_is_tty = isatty(STDERR_FILENO) == 1,
    };
    const char *no_color = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    ctx.color = ctx.stdout_is_tty && !(no_color && no_color[0]) && !(term && strcmp(term, "dumb") == 0);

    int opt;
    struct cli_option_parser parser;
    cli_options_begin(&parser, NULL, cli_global_options, argc, argv, CLI_OPTIONS_STOP_AT_OPERAND);
    while ((opt = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (opt) {
        case OPT_STATE_DIR:
            ctx.state_dir = optarg;
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "always") == 0)
                ctx.color = true;
            else if (strcmp(optarg, "never") == 0)
                ctx.color = false;
            else if (strcmp(optarg, "auto") != 0)
                return cli_error(CLI_EXIT_USAGE, "--color", "\"%s\" is not auto, always or never", optarg);
            break;
        case 'V':
            printf("portreg %s\n", PORTREG_VERSION);
            return cli_finish_stdout(CLI_EXIT_OK);
        case 'h':
            print_main_help(stdout);
            return cli_finish_stdout(CLI_EXIT_OK);
        default:
            return cli_options_error(&parser);
        }
    }
    if (optind >= argc) {
        print_main_help(stderr);
        return CLI_EXIT_USAGE;
    }
    int command_index = optind;
    const struct cli_command *c = cli_command_find(argv[command_index]);
    if (!c)
        return cli_error(CLI_EXIT_USAGE, "usage", "'%s' is not a portreg command; see 'portreg --help'",
                         argv[command_index]);
    optind = 0;   /* glibc: 0 re-initialises getopt for the subcommand's own parsing */
    return cli_finish_stdout(c->run(argc - command_index, argv + command_index, &ctx));
}
