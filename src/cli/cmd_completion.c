/* cmd_completion.c — `portreg completion bash|zsh|fish`: a completion script generated from the
 * command table (cli_commands[]) and the option tables, so a new option or subcommand is
 * completed without touching this file. A small walker turns the tables into nodes (a command
 * path, its options, its subcommands); each shell gets the same three lookup functions from
 * them and a driver of its own. `--service-names PREFIX` (hidden) is what the scripts call back
 * to complete `portreg lookup NAME` from the registry index. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "registry/record.h"

enum { OPT_SERVICE_NAMES = 256 };

const struct cli_option cli_completion_options[] = {
    { "service-names", 0, CLI_OPTION_REQUIRED_VALUE, "PREFIX", "the registry's service names that start with PREFIX",
      OPT_SERVICE_NAMES, CLI_OPTION_HIDDEN },
    CLI_OPTION_HELP_ENTRY,
    CLI_OPTIONS_END,
};

static const char completion_usage[] =
    "usage: portreg completion bash|zsh|fish\n\n"
    "Print the shell completion script for portreg: subcommands, options per command and the\n"
    "values of options whose set is known; `portreg lookup` completes service names from the\n"
    "registry. make install puts the scripts where each shell looks for them; to try one now:\n"
    "  source <(portreg completion bash)\n\n";
static const char completion_usage_tail[] = "Exit status: 0 printed, 2 an unknown shell.\n";

/* ---- the walker: the tables as nodes ---- */

#define NODES_MAX 96
#define PATH_MAX_LEN 64

struct completion_node {
    char path[PATH_MAX_LEN];             /* "" (portreg itself), "scan", "serve token create" */
    const struct cli_option *options;    /* NULL: --help only */
    const char *subcommands[40];         /* words that extend the path */
    size_t subcommand_count;
};

struct completion_tree {
    struct completion_node nodes[NODES_MAX];
    size_t count;
};

static struct completion_node *node_get(struct completion_tree *tree, const char *path)
{
    for (size_t i = 0; i < tree->count; i++)
        if (strcmp(tree->nodes[i].path, path) == 0)
            return &tree->nodes[i];
    if (tree->count == NODES_MAX)
        abort();   /* the tables are compiled in: more nodes is a programming error */
    struct completion_node *n = &tree->nodes[tree->count++];
    memset(n, 0, sizeof *n);
    snprintf(n->path, sizeof n->path, "%s", path);
    return n;
}

static void node_add_subcommand(struct completion_node *n, const char *word)
{
    for (size_t i = 0; i < n->subcommand_count; i++)
        if (strcmp(n->subcommands[i], word) == 0)
            return;
    if (n->subcommand_count < sizeof n->subcommands / sizeof n->subcommands[0])
        n->subcommands[n->subcommand_count++] = word;
}

/* Words of a subcommand name ("token create", "host add") become nodes one word at a time;
 * the words are kept in static storage for the subcommand lists. */
static char subcommand_words[NODES_MAX][32];
static size_t subcommand_word_count;

static const char *keep_word(const char *word, size_t len)
{
    for (size_t i = 0; i < subcommand_word_count; i++)
        if (strlen(subcommand_words[i]) == len && strncmp(subcommand_words[i], word, len) == 0)
            return subcommand_words[i];
    if (subcommand_word_count == NODES_MAX || len >= sizeof subcommand_words[0])
        abort();
    snprintf(subcommand_words[subcommand_word_count], sizeof subcommand_words[0], "%.*s", (int)len, word);
    return subcommand_words[subcommand_word_count++];
}

static void tree_add_subcommand(struct completion_tree *tree, const char *command,
                                const struct cli_subcommand *sub)
{
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "%s", command);
    for (const char *word = sub->name; *word;) {
        size_t len = strcspn(word, " ");
        node_add_subcommand(node_get(tree, path), keep_word(word, len));
        size_t used = strlen(path);
        snprintf(path + used, sizeof path - used, " %.*s", (int)len, word);
        word += len;
        word += strspn(word, " ");
    }
    node_get(tree, path)->options = sub->options;
}

static void tree_build(struct completion_tree *tree)
{
    tree->count = 0;
    struct completion_node *root = node_get(tree, "");
    root->options = cli_global_options;
    for (const struct cli_command *c = cli_commands; c->name; c++) {
        node_add_subcommand(node_get(tree, ""), c->name);
        node_get(tree, c->name)->options = c->options;
        for (const struct cli_subcommand *sub = c->subcommands; sub && sub->name; sub++)
            tree_add_subcommand(tree, c->name, sub);
    }
    /* `portreg help COMMAND` */
    struct completion_node *help = node_get(tree, "help");
    for (const struct cli_command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, "help") != 0)
            node_add_subcommand(help, c->name);
}

static bool option_is_completed(const struct cli_option *o)
{
    return !(o->flags & (CLI_OPTION_HIDDEN | CLI_OPTION_HEADING)) && (o->long_name || o->short_name);
}

static bool is_end(const struct cli_option *o)
{
    return !o->long_name && !o->short_name && !(o->flags & CLI_OPTION_HEADING);
}

/* What follows an option as its own word, from the table's value name: "" none, "=" anything,
 * "<file", "<dir", or the choices separated by spaces ("text|json", a digit range "0-5"). */
static void option_value_kind(const struct cli_option *o, char *buf, size_t size)
{
    const char *v = o->value_name ? o->value_name : "";
    buf[0] = '\0';
    if (o->value != CLI_OPTION_REQUIRED_VALUE)
        return;
    if (strchr(v, '|') && !strchr(v, ' ')) {
        snprintf(buf, size, "%s", v);
        for (char *p = buf; *p; p++)
            if (*p == '|')
                *p = ' ';
    } else if (strlen(v) == 3 && v[0] >= '0' && v[0] <= '9' && v[1] == '-' && v[2] > v[0] && v[2] <= '9') {
        size_t used = 0;
        for (char d = v[0]; d <= v[2] && used + 3 < size; d++)
            used += (size_t)snprintf(buf + used, size - used, "%s%c", used ? " " : "", d);
    } else if (strcmp(v, "DIR") == 0) {
        snprintf(buf, size, "<dir");
    } else if (strstr(v, "FILE") || strcmp(v, "BASE") == 0 || strstr(v, ".json") || strstr(v, ".yaml")) {
        snprintf(buf, size, "<file");
    } else {
        snprintf(buf, size, "=");
    }
}

/* The words that name option o: --name, -iL, -p; a short option with a digit or letter set
 * (-T 0-5) also as -T0 ... -T5, as nmap users type it. */
static void option_words(const struct cli_option *o, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (o->long_name)
        used += (size_t)snprintf(buf, size, "%s%s", o->flags & CLI_OPTION_SINGLE_DASH ? "-" : "--", o->long_name);
    if (o->short_name && used < size) {
        used += (size_t)snprintf(buf + used, size - used, "%s-%c", used ? " " : "", o->short_name);
        char kind[128];
        option_value_kind(o, kind, sizeof kind);
        if (kind[0] && kind[0] != '<' && kind[0] != '=')
            for (char *choice = strtok(kind, " "); choice && used < size; choice = strtok(NULL, " "))
                used += (size_t)snprintf(buf + used, size - used, " -%c%s", o->short_name, choice);
    }
}

/* ---- the three lookups, in sh (bash and zsh) and in fish ---- */

static void print_options_list(FILE *out, const struct completion_node *n)
{
    char words[256];
    bool first = true;
    if (!n->options) {
        fputs("--help", out);
        return;
    }
    for (const struct cli_option *o = n->options; !is_end(o); o++) {
        if (!option_is_completed(o))
            continue;
        option_words(o, words, sizeof words);
        fprintf(out, "%s%s", first ? "" : " ", words);
        first = false;
    }
}

static void print_subcommand_list(FILE *out, const struct completion_node *n)
{
    for (size_t i = 0; i < n->subcommand_count; i++)
        fprintf(out, "%s%s", i ? " " : "", n->subcommands[i]);
}

/* Every option that takes a value as its own word, with its kind: "node:word" keys. Hidden
 * options are listed too, so that their value is skipped when walking a command line. */
static void each_value_option(const struct completion_tree *tree, FILE *out,
                              void (*emit)(FILE *out, const char *path, const char *word, const char *kind))
{
    for (size_t i = 0; i < tree->count; i++) {
        const struct completion_node *n = &tree->nodes[i];
        for (const struct cli_option *o = n->options; o && !is_end(o); o++) {
            char kind[128], word[64];
            if (o->flags & CLI_OPTION_HEADING)
                continue;
            option_value_kind(o, kind, sizeof kind);
            if (!kind[0])
                continue;
            if (o->long_name) {
                snprintf(word, sizeof word, "%s%s", o->flags & CLI_OPTION_SINGLE_DASH ? "-" : "--", o->long_name);
                emit(out, n->path, word, kind);
            }
            if (o->short_name) {
                snprintf(word, sizeof word, "-%c", o->short_name);
                emit(out, n->path, word, kind);
            }
        }
    }
}

static void emit_sh_value(FILE *out, const char *path, const char *word, const char *kind)
{
    fprintf(out, "        '%s:%s') REPLY='%s' ;;\n", path, word, kind);
}

static void emit_fish_value(FILE *out, const char *path, const char *word, const char *kind)
{
    fprintf(out, "        case '%s:%s'\n            echo '%s'\n", path, word, kind);
}

static void print_sh_lookups(FILE *out, const struct completion_tree *tree)
{
    fputs("# _portreg_subcommands NODE, _portreg_options NODE: words in REPLY. NODE is the command\n"
          "# path (\"\", \"scan\", \"serve token create\").\n"
          "_portreg_subcommands() {\n    case \"$1\" in\n", out);
    for (size_t i = 0; i < tree->count; i++)
        if (tree->nodes[i].subcommand_count) {
            fprintf(out, "        '%s') REPLY='", tree->nodes[i].path);
            print_subcommand_list(out, &tree->nodes[i]);
            fputs("' ;;\n", out);
        }
    fputs("        *) REPLY='' ;;\n    esac\n}\n_portreg_options() {\n    case \"$1\" in\n", out);
    for (size_t i = 0; i < tree->count; i++) {
        fprintf(out, "        '%s') REPLY='", tree->nodes[i].path);
        print_options_list(out, &tree->nodes[i]);
        fputs("' ;;\n", out);
    }
    fputs("        *) REPLY='' ;;\n    esac\n}\n"
          "# _portreg_value NODE OPTION: what follows OPTION: '' nothing, '=' any word, '<file',\n"
          "# '<dir', or the choices.\n"
          "_portreg_value() {\n    case \"$1:$2\" in\n", out);
    each_value_option(tree, out, emit_sh_value);
    fputs("        *) REPLY='' ;;\n    esac\n}\n", out);
}

static void print_fish_lookups(FILE *out, const struct completion_tree *tree)
{
    fputs("function __portreg_subcommands\n    switch \"$argv[1]\"\n", out);
    for (size_t i = 0; i < tree->count; i++)
        if (tree->nodes[i].subcommand_count) {
            fprintf(out, "        case '%s'\n            printf '%%s\\n' ", tree->nodes[i].path);
            print_subcommand_list(out, &tree->nodes[i]);
            fputc('\n', out);
        }
    fputs("    end\nend\nfunction __portreg_options\n    switch \"$argv[1]\"\n", out);
    for (size_t i = 0; i < tree->count; i++) {
        fprintf(out, "        case '%s'\n            printf '%%s\\n' -- ", tree->nodes[i].path);
        print_options_list(out, &tree->nodes[i]);
        fputc('\n', out);
    }
    fputs("    end\nend\nfunction __portreg_value\n    switch \"$argv[1]:$argv[2]\"\n", out);
    each_value_option(tree, out, emit_fish_value);
    fputs("    end\nend\n", out);
}

/* ---- the drivers ---- */

/* The walk over the words before the cursor, the same in bash and zsh: options and their
 * values are stepped over, a word that is a subcommand of the node extends it. A word "=" is
 * bash's split of --name=value and keeps waiting for the value. */
#define SH_WALK(FIRST, WORD, LAST)                                                                 \
    "    local node='' word i skip=0 valueof='' option='' state_dir='' REPLY=''\n"                 \
    "    for ((i = " FIRST "; i < " LAST "; i++)); do\n"                                           \
    "        word=" WORD "\n"                                                                      \
    "        if ((skip)); then\n"                                                                  \
    "            [[ $word == = ]] && continue\n"                                                   \
    "            skip=0\n"                                                                         \
    "            [[ $option == --state-dir ]] && state_dir=$word\n"                                \
    "            continue\n"                                                                       \
    "        fi\n"                                                                                 \
    "        if [[ $word == -* ]]; then\n"                                                         \
    "            _portreg_value \"$node\" \"$word\"\n"                                             \
    "            [[ -n $REPLY ]] && { skip=1; valueof=$REPLY; option=$word; }\n"                   \
    "            continue\n"                                                                       \
    "        fi\n"                                                                                 \
    "        _portreg_subcommands \"$node\"\n"                                                     \
    "        [[ \" $REPLY \" == *\" $word \"* ]] && node=${node:+$node }$word\n"                   \
    "    done\n"

static void print_bash(FILE *out, const struct completion_tree *tree)
{
    fputs("# bash completion for portreg; generated by `portreg completion bash` from its option tables.\n",
          out);
    print_sh_lookups(out, tree);
    fputs("_portreg() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]}\n"
          SH_WALK("1", "${COMP_WORDS[i]}", "COMP_CWORD")
          "    COMPREPLY=()\n"
          "    # bash splits --name=value at the '=' (COMP_WORDBREAKS): the value follows it\n"
          "    ((skip)) && [[ $cur == = ]] && cur=''\n"
          "    if ((skip)); then\n"
          "        case $valueof in\n"
          "            '<file') mapfile -t COMPREPLY < <(compgen -f -- \"$cur\") ;;\n"
          "            '<dir') mapfile -t COMPREPLY < <(compgen -d -- \"$cur\") ;;\n"
          "            '=') ;;\n"
          "            *) mapfile -t COMPREPLY < <(compgen -W \"$valueof\" -- \"$cur\") ;;\n"
          "        esac\n"
          "        return 0\n"
          "    fi\n"
          "    if [[ $cur == -* ]]; then\n"
          "        _portreg_options \"$node\"\n"
          "        mapfile -t COMPREPLY < <(compgen -W \"$REPLY\" -- \"$cur\")\n"
          "        return 0\n"
          "    fi\n"
          "    _portreg_subcommands \"$node\"\n"
          "    if [[ -n $REPLY ]]; then\n"
          "        mapfile -t COMPREPLY < <(compgen -W \"$REPLY\" -- \"$cur\")\n"
          "    elif [[ $node == lookup ]]; then\n"
          "        mapfile -t COMPREPLY < <(\"${COMP_WORDS[0]}\" ${state_dir:+--state-dir \"$state_dir\"} \\\n"
          "            completion --service-names \"$cur\" 2>/dev/null)\n"
          "    fi\n"
          "    return 0\n"
          "}\n"
          "complete -o bashdefault -o default -F _portreg portreg\n", out);
}

static void print_zsh(FILE *out, const struct completion_tree *tree)
{
    fputs("#compdef portreg\n"
          "# zsh completion for portreg; generated by `portreg completion zsh` from its option tables.\n",
          out);
    print_sh_lookups(out, tree);
    fputs("_portreg() {\n"
          "    local cur=${words[CURRENT]}\n"
          SH_WALK("2", "${words[i]}", "CURRENT")
          "    if ((skip)); then\n"
          "        case $valueof in\n"
          "            '<file') _files ;;\n"
          "            '<dir') _files -/ ;;\n"
          "            '=') _message 'value' ;;\n"
          "            *) compadd -- ${=valueof} ;;\n"
          "        esac\n"
          "        return\n"
          "    fi\n"
          "    if [[ $cur == -* ]]; then\n"
          "        _portreg_options \"$node\"\n"
          "        compadd -- ${=REPLY}\n"
          "        return\n"
          "    fi\n"
          "    _portreg_subcommands \"$node\"\n"
          "    if [[ -n $REPLY ]]; then\n"
          "        compadd -- ${=REPLY}\n"
          "    elif [[ $node == lookup ]]; then\n"
          "        compadd -- ${(f)\"$(${words[1]} ${state_dir:+--state-dir \"$state_dir\"} \\\n"
          "            completion --service-names \"$cur\" 2>/dev/null)\"}\n"
          "    else\n"
          "        _files\n"
          "    fi\n"
          "}\n"
          "if [[ $funcstack[1] == _portreg ]]; then\n"
          "    _portreg \"$@\"\n"
          "else\n"
          "    compdef _portreg portreg\n"
          "fi\n", out);
}

static void print_fish(FILE *out, const struct completion_tree *tree)
{
    fputs("# fish completion for portreg; generated by `portreg completion fish` from its option tables.\n",
          out);
    print_fish_lookups(out, tree);
    fputs("function __portreg_complete\n"
          "    set -l tokens (commandline -opc)\n"
          "    set -l cur (commandline -ct)\n"
          "    set -l rest $tokens\n"
          "    set -e rest[1]\n"
          "    set -l node ''\n"
          "    set -l skip 0\n"
          "    set -l valueof ''\n"
          "    set -l option ''\n"
          "    set -l state_dir\n"
          "    for word in $rest\n"
          "        if test $skip = 1\n"
          "            set skip 0\n"
          "            test \"$option\" = --state-dir; and set state_dir --state-dir $word\n"
          "            continue\n"
          "        end\n"
          "        if string match -q -- '-*' $word\n"
          "            set -l kind (__portreg_value \"$node\" $word)\n"
          "            if test -n \"$kind\"\n"
          "                set skip 1\n"
          "                set valueof $kind\n"
          "                set option $word\n"
          "            end\n"
          "            continue\n"
          "        end\n"
          "        if contains -- $word (__portreg_subcommands \"$node\")\n"
          "            set node (string trim -- \"$node $word\")\n"
          "        end\n"
          "    end\n"
          "    if test $skip = 1\n"
          "        switch $valueof\n"
          "            case '<file'\n"
          "                __fish_complete_path $cur\n"
          "            case '<dir'\n"
          "                __fish_complete_directories $cur\n"
          "            case '='\n"
          "                return\n"
          "            case '*'\n"
          "                string split ' ' -- $valueof\n"
          "        end\n"
          "        return\n"
          "    end\n"
          "    if string match -q -- '-*' $cur\n"
          "        __portreg_options \"$node\" | string split ' '\n"
          "        return\n"
          "    end\n"
          "    set -l subcommands (__portreg_subcommands \"$node\" | string split ' ')\n"
          "    if test (count $subcommands) -gt 0\n"
          "        printf '%s\\n' $subcommands\n"
          "    else if test \"$node\" = lookup\n"
          "        $tokens[1] $state_dir completion --service-names $cur 2>/dev/null\n"
          "    else\n"
          "        __fish_complete_path $cur\n"
          "    end\n"
          "end\n"
          "complete -c portreg -f -a '(__portreg_complete)'\n", out);
}

/* ---- --service-names ---- */

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The service names and aliases of every record that start with prefix (ASCII case-insensitive),
 * sorted and unique, one a line. One pass over the mapped index: cheap enough for a Tab. */
static int print_service_names(const struct cli_context *ctx, const char *prefix)
{
    struct registry_paths paths;
    struct registry_index *ix = NULL;
    struct registry_open_report report;
    int rc = cli_open_registry(ctx, &paths, &ix, &report);
    if (rc != CLI_EXIT_OK)
        return rc;
    size_t prefix_len = strlen(prefix), count = 0, capacity = 0;
    char **names = NULL;
    uint32_t records = registry_index_record_count(ix);
    for (uint32_t id = 0; id < records; id++) {
        struct registry_record rec;
        if (!registry_index_record(ix, id, &rec))
            continue;
        const char *words[2] = { rec.service, rec.aliases };
        for (size_t w = 0; w < 2; w++)
            for (const char *p = words[w] ? words[w] : ""; *p;) {
                size_t len = strcspn(p, " ");
                if (len >= prefix_len && len > 0 && strncasecmp(p, prefix, prefix_len) == 0) {
                    if (count == capacity) {
                        capacity = capacity ? 2 * capacity : 64;
                        char **grown = realloc(names, capacity * sizeof *names);
                        if (!grown)
                            abort();
                        names = grown;
                    }
                    names[count] = strndup(p, len);
                    if (!names[count])
                        abort();
                    count++;
                }
                p += len;
                p += strspn(p, " ");
            }
    }
    registry_index_close(ix);
    if (count > 0)   /* qsort wants a non-NULL array even for 0 names */
        qsort(names, count, sizeof *names, compare_strings);
    for (size_t i = 0; i < count; i++)
        if (i == 0 || strcmp(names[i], names[i - 1]) != 0)
            printf("%s\n", names[i]);
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return CLI_EXIT_OK;
}

int cmd_completion(int argc, char **argv, struct cli_context *ctx)
{
    struct cli_option_parser parser;
    cli_options_begin(&parser, "completion", cli_completion_options, argc, argv, 0);
    int opt;
    while ((opt = cli_options_next(&parser)) != CLI_OPTIONS_DONE) {
        switch (opt) {
        case 'h':
            cli_options_print_help(stdout, completion_usage, cli_completion_options, completion_usage_tail);
            return CLI_EXIT_OK;
        case OPT_SERVICE_NAMES:
            return print_service_names(ctx, optarg);
        default:
            return cli_options_error(&parser);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("completion", "name one shell: bash, zsh or fish");
    static struct completion_tree tree;
    tree_build(&tree);
    const char *shell = argv[optind];
    if (strcmp(shell, "bash") == 0)
        print_bash(stdout, &tree);
    else if (strcmp(shell, "zsh") == 0)
        print_zsh(stdout, &tree);
    else if (strcmp(shell, "fish") == 0)
        print_fish(stdout, &tree);
    else
        return cli_usage_error("completion", "\"%s\" is not bash, zsh or fish", shell);
    return CLI_EXIT_OK;
}
