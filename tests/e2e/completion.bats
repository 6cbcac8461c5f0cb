#!/usr/bin/env bats
# completion.bats — `portreg completion bash|zsh|fish`: each script parses in its shell, and
# a real bash (and fish, when installed) completes commands, subcommands, options, option
# values and service names through it, from the same tables as the parser and --help.
load helpers

setup() {
  portreg_setup
  "$PORTREG" completion bash >"$BATS_TEST_TMPDIR/portreg.bash"
}

# The candidates bash's completion function offers for the last word of WORDS, one a line
# (WORDS[0] is the binary, so `lookup` calls back into the built portreg).
bash_complete() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _portreg
           printf "%s\n" "${COMPREPLY[@]}"' _ "$BATS_TEST_TMPDIR/portreg.bash" "$PORTREG" "$@"
}

@test "each script is parsed by its shell" {
  run -0 bash -n "$BATS_TEST_TMPDIR/portreg.bash"
  grep -q '^complete .*-F _portreg portreg$' "$BATS_TEST_TMPDIR/portreg.bash"
  command -v zsh >/dev/null || skip "zsh is not installed (scripts/install-deps.sh test installs it)"
  "$PORTREG" completion zsh >"$BATS_TEST_TMPDIR/_portreg"
  run -0 zsh -n "$BATS_TEST_TMPDIR/_portreg"
  [ "$(head -1 "$BATS_TEST_TMPDIR/_portreg")" = "#compdef portreg" ]
  command -v fish >/dev/null || skip "fish is not installed (scripts/install-deps.sh test installs it)"
  "$PORTREG" completion fish >"$BATS_TEST_TMPDIR/portreg.fish"
  run -0 fish -n "$BATS_TEST_TMPDIR/portreg.fish"
}

@test "bash completes commands: portreg sc -> scan" {
  run -0 bash_complete sc
  [ "$output" = scan ]
  run -0 bash_complete ''
  [[ "$output" == *$'\nscan\n'* && "$output" == *$'\ncompletion\n'* && "$output" == *$'\nremote\n'* ]]
  run -0 bash_complete --state-dir /tmp sc   # a global option's value is stepped over
  [ "$output" = scan ]
}

@test "bash completes subcommands: plan, firewall, serve token create, remote" {
  run -0 bash_complete plan ''
  [ "$output" = $'check\ndiff\nexport' ]
  run -0 bash_complete firewall a
  [ "$output" = $'apply\naudit' ]
  run -0 bash_complete serve t
  [ "$output" = token ]
  run -0 bash_complete serve token ''
  [ "$output" = create ]
  run -0 bash_complete serve token create --r
  [ "$output" = --role ]
  run -0 bash_complete remote reje
  [ "$output" = reject ]
  run -0 bash_complete help loo
  [ "$output" = lookup ]
}

@test "bash completes the options of the command: scan --top -> --top-ports" {
  run -0 bash_complete scan --top
  [ "$output" = --top-ports ]
  run -0 bash_complete scan -o
  [ "$output" = $'-oX\n-oN\n-oG\n-oA' ]
  run -0 bash_complete plan export --
  [ "$output" = $'--format\n--output\n--netbox-columns\n--help' ]
  # options are per command: --top-ports is scan's, not ls's
  run -0 bash_complete ls --top
  [ -z "$output" ]
}

# The option names of `portreg CMD --help`: the first column of its lines "  -x, --name VALUE  help".
help_option_names() {
  # shellcheck disable=SC2086
  "$PORTREG" $1 --help | awk '/^  -|^      -/ { sub(/^ +/, ""); sub(/  .*/, ""); print }' |
    grep -oE '(^|[ ,])--?[A-Za-z0-9][-A-Za-z0-9]*' | tr -d ' ,' | sort -u
}

@test "every option --help lists is completed, for every command" {
  local cmd word failed="" checked=0
  for cmd in "" lookup registry ls who check suggest audit scan "plan check" "plan diff" "plan export" \
             "firewall generate" "firewall apply" "firewall audit" serve "serve token create" remote completion; do
    # shellcheck disable=SC2086
    offered="$(bash_complete $cmd -)"
    for word in $(help_option_names "$cmd"); do
      grep -qxF -- "$word" <<<"$offered" || { echo "portreg $cmd: $word is in --help, not completed"; failed=1; }
      checked=$((checked + 1))
    done
  done
  [ -z "$failed" ]
  [ "$checked" -gt 150 ]   # the --help parsing found the options (scan alone has over 40)
}

@test "hidden options are not offered" {
  run -0 bash_complete --col
  [ "$output" = --color ]            # not the hidden spelling --colour
  run -0 bash_complete serve --cl
  [ -z "$output" ]                   # --clock-offset is for tests only
  run -0 bash_complete scan -s
  [[ "$output" == *-sS* && "$output" != *$'\n-s\n'* && "${output%%$'\n'*}" != -s ]]
  run -0 bash_complete completion --
  [ "$output" = --help ]             # not --service-names
  run -0 bash_complete remote request --s
  [ -z "$output" ]                   # the top-level --server, hidden after the subcommand
}

@test "bash completes option values from the tables: --log-format, --format, -T, files" {
  run -0 bash_complete serve --log-format ''
  [ "$output" = $'text\njson' ]
  run -0 bash_complete plan export --format n
  [ "$output" = netbox-csv ]
  run -0 bash_complete serve --log-format = j   # bash splits --log-format=j at the '='
  [ "$output" = json ]
  run -0 bash_complete serve --log-format =
  [ "$output" = $'text\njson' ]
  run -0 bash_complete firewall generate --format f
  [ "$output" = firewalld ]
  run -0 bash_complete scan -T
  [[ "$output" == *$'-T0\n-T1\n-T2\n-T3\n-T4\n-T5'* ]]
  touch "$BATS_TEST_TMPDIR/targets.txt"
  run -0 bash_complete scan -iL "$BATS_TEST_TMPDIR/targ"
  [ "$output" = "$BATS_TEST_TMPDIR/targets.txt" ]
  # a value that is free text is not completed as an option or a command
  run -0 bash_complete scan --top-ports ''
  [ -z "$output" ]
}

@test "bash completes lookup's service names from the registry: lookup mysq -> mysql" {
  use_iana_fixture
  run -0 bash_complete lookup mysq
  [ "$output" = mysql ]
  run -0 "$PORTREG" completion --service-names MYSQ
  [ "$output" = mysql ]
  run -0 "$PORTREG" completion --service-names zzzz-no-such
  [ -z "$output" ]
}

@test "fish completes through the script (complete -C)" {
  command -v fish >/dev/null || skip "fish is not installed (scripts/install-deps.sh test installs it)"
  "$PORTREG" completion fish >"$BATS_TEST_TMPDIR/portreg.fish"
  run -0 fish --no-config -c "source '$BATS_TEST_TMPDIR/portreg.fish'; complete -C 'portreg sc'"
  [ "$output" = scan ]
  run -0 fish --no-config -c "source '$BATS_TEST_TMPDIR/portreg.fish'; complete -C 'portreg scan --top'"
  [ "$output" = --top-ports ]
  run -0 fish --no-config -c "source '$BATS_TEST_TMPDIR/portreg.fish'; complete -C 'portreg plan '"
  [ "$output" = $'check\ndiff\nexport' ]
}

# The candidates zsh's _portreg offers for the last of WORDS: compadd, _files and compdef are
# stand-ins (they exist only inside the completion system) and compadd keeps what matches the
# word typed, as the real one does.
zsh_complete() {
  zsh -f -c 'compdef() { :; }
             compadd() { [[ $1 == -- ]] && shift; local w; for w; do [[ $w == ${words[CURRENT]}* ]] && print -r -- $w; done; return 0; }
             _files() { print -r -- "<files>"; }
             source "$1"; shift; words=("$@"); CURRENT=$#; _portreg' _ "$BATS_TEST_TMPDIR/_portreg" "$PORTREG" "$@"
}

@test "zsh completes through the script's _portreg" {
  command -v zsh >/dev/null || skip "zsh is not installed (scripts/install-deps.sh test installs it)"
  "$PORTREG" completion zsh >"$BATS_TEST_TMPDIR/_portreg"
  use_iana_fixture
  run -0 zsh_complete sc
  [ "$output" = scan ]
  run -0 zsh_complete scan --top
  [ "$output" = --top-ports ]
  run -0 zsh_complete plan ''
  [ "$output" = $'check\ndiff\nexport' ]
  run -0 zsh_complete serve --log-format ''
  [ "$output" = $'text\njson' ]
  run -0 zsh_complete lookup mysq
  [ "$output" = mysql ]
  run -0 zsh_complete --col
  [ "$output" = --color ]
}

@test "an unknown shell, or none, exits 2" {
  run --separate-stderr -2 "$PORTREG" completion tcsh
  [[ "$stderr" == *'"tcsh" is not bash, zsh or fish'* ]]
  [ -z "$output" ]
  run --separate-stderr -2 "$PORTREG" completion
  [[ "$stderr" == *"name one shell"* ]]
}

@test "the build generates the installed scripts from the binary" {
  local dir
  dir="$(dirname "$PORTREG")/completions"
  cmp "$dir/portreg" <("$PORTREG" completion bash)
  cmp "$dir/_portreg" <("$PORTREG" completion zsh)
  cmp "$dir/portreg.fish" <("$PORTREG" completion fish)
}
