#!/usr/bin/env bats
# cli.bats — the command line's frame: version, help, the command table, usage errors, colour.
load helpers

setup() { portreg_setup; }
teardown() { remove_nobody_dirs; }

@test "--version prints the version" {
  run -0 "$PORTREG" --version
  [[ "$output" =~ ^portreg\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "--help lists every command with a summary" {
  run -0 "$PORTREG" --help
  [[ "$output" == *"lookup "*"what IANA"* ]]
  [[ "$output" == *"registry "*"info, update"* ]]
  [[ "$output" == *"Exit codes"* ]]
}

@test "help COMMAND prints the command's own help" {
  run -0 "$PORTREG" help lookup
  help_output="$output"
  run -0 "$PORTREG" lookup --help
  [ "$output" = "$help_output" ]
  [[ "$output" == *"--search"* ]]
}

@test "help for an unknown command is a usage error" {
  run --separate-stderr -2 "$PORTREG" help frobnicate
  [[ "$stderr" == "portreg: help: 'frobnicate' is not a portreg command"* ]]
}

@test "an unknown command exits 2 and says so on stderr" {
  run --separate-stderr -2 "$PORTREG" frobnicate
  [ -z "$output" ]
  [[ "$stderr" == *"'frobnicate' is not a portreg command"* ]]
}

@test "no command prints usage on stderr and exits 2" {
  run --separate-stderr -2 "$PORTREG"
  [[ "$stderr" == usage:* ]]
}

@test "an unknown option exits 2" {
  run --separate-stderr -2 "$PORTREG" lookup --frobnicate 22
  [[ "$stderr" == *"unknown option '--frobnicate'"* ]]
  run --separate-stderr -2 "$PORTREG" --color=sometimes lookup 22
  [[ "$stderr" == *'"sometimes" is not auto, always or never'* ]]
}

@test "--color always colours, NO_COLOR and pipes do not" {
  use_iana_fixture
  run -0 "$PORTREG" --color always lookup 22
  [[ "$output" == *$'\033['* ]]
  run -0 "$PORTREG" lookup 22
  [[ "$output" != *$'\033['* ]]
}

@test "--state-dir overrides PORTREG_STATE_DIR" {
  other="$BATS_TEST_TMPDIR/other"
  run -0 "$PORTREG" --state-dir "$other" registry update --from "$FIXTURES/iana-mini.csv"
  [ -f "$other/iana.csv" ] && [ -f "$other/index.bin" ]
  [ ! -e "$PORTREG_STATE_DIR/iana.csv" ]
}

@test "man pages are built from scdoc sources" {
  mandir="$(dirname "$PORTREG")/docs/man"
  for page in portreg.1 portreg-lookup.1 portreg-registry.1 portreg-completion.1; do
    [ -s "$mandir/$page" ]
    grep -q '^\.TH' "$mandir/$page"
  done
  grep -q 'ip_local_reserved_ports' "$mandir/portreg-lookup.1"
}

# Every command and subcommand with options of its own, as words ("" = the global options).
COMMANDS=("" lookup registry ls who check suggest audit scan "plan check" "plan diff" "plan export"
          "firewall generate" "firewall apply" "firewall audit" serve "serve token create"
          remote "remote request" "remote requests" "remote reject" "remote assign" "remote assignments"
          "remote deassign" "remote lease" "remote renew" "remote leases" "remote events" "remote hosts"
          "remote host add" "remote import" "remote export" completion agent)

# The options that `portreg CMD --help` lists, one per line as "NAME value|flag": the names
# column of the lines of the options sections ("  -p, --proto PROTO  only ..."); a value named
# on any spelling of the row is the value of all of them.
help_options() {
  # shellcheck disable=SC2086
  "$PORTREG" $1 --help | awk '
    /^  -|^      --/ {
      line = $0; sub(/^ +/, "", line); split(line, parts, /  +/)
      n = split(parts[1], names, /, /); kind = "flag"
      for (i = 1; i <= n; i++) if (split(names[i], w, " ") > 1) kind = "value"
      # an optional value (-v[LEVEL], --name[=VALUE]) is not part of the name
      for (i = 1; i <= n; i++) { split(names[i], w, " "); sub(/\[.*$/, "", w[1]); print w[1], kind }
    }'
}

# The options a man page defines: lines that start with *-...* and are followed by an indented
# (tab) paragraph, within the section "# SECTION" when one is given.
man_options() {
  local page="$1" section="${2:-}"
  awk -v section="$section" '
    /^# / { inside = (section == "" || $0 == "# " section) }
    inside && prev ~ /^\*-/ && /^\t/ {
      rest = prev
      while (match(rest, /\*-[-A-Za-z0-9]+\*/)) {
        print substr(rest, RSTART + 1, RLENGTH - 2); rest = substr(rest, RSTART + RLENGTH)
      }
    }
    { prev = $0 }' "$page"
}

@test "every option that takes a value, given without one, exits 2 and names itself" {
  local checked=0 cmd name kind
  for cmd in "${COMMANDS[@]}"; do
    while read -r name kind; do
      [ "$kind" = value ] || continue
      # shellcheck disable=SC2086
      run --separate-stderr -2 "$PORTREG" $cmd "$name"
      if [ -n "$cmd" ]; then
        [ "${stderr%%$'\n'*}" = "portreg: $cmd: option $name needs a value" ]
      else
        [ "${stderr%%$'\n'*}" = "portreg: option $name needs a value" ]
      fi
      checked=$((checked + 1))
    done < <(help_options "$cmd")
  done
  [ "$checked" -ge 40 ]
}

@test "an unknown option exits 2 and names itself as typed, for every command" {
  local cmd
  for cmd in "${COMMANDS[@]}"; do
    # shellcheck disable=SC2086
    run --separate-stderr -2 "$PORTREG" $cmd --frob
    [[ "$stderr" == *"unknown option '--frob'"* ]]
    # shellcheck disable=SC2086
    run --separate-stderr -2 "$PORTREG" $cmd -Z
    [[ "$stderr" == *"unknown option '-Z'"* ]]
  done
  run --separate-stderr -2 "$PORTREG" ls --json=yes
  [[ "$stderr" == *"option --json takes no value"* ]]
  run --separate-stderr -2 "$PORTREG" scan --s 1 127.0.0.1
  [[ "$stderr" == *"ambiguous option '--s': --shard, --seed"* ]]
}

@test "the options of --help and of the man page are the same, for every command" {
  local man="$PORTREG_FIXTURES/../../docs/man" cmd page section failed=""
  for cmd in "${COMMANDS[@]}"; do
    case "$cmd" in
      "") page="$man/portreg.1.scd"; section="GLOBAL OPTIONS" ;;
      serve) page="$man/portreg-serve.1.scd"; section="OPTIONS (serve)" ;;
      remote) page="$man/portreg-remote.1.scd"; section="OPTIONS (remote)" ;;
      *" "*) page="$man/portreg-${cmd%% *}.1.scd"; section="$cmd" ;;
      *) page="$man/portreg-$cmd.1.scd"; section="" ;;
    esac
    help_list="$(help_options "$cmd" | awk '$1 != "-h" && $1 != "--help" { print $1 }' | sort -u)"
    man_list="$(man_options "$page" "$section" | grep -vx -e -h -e --help | sort -u)"
    [ -n "$help_list" ] || [ "$cmd" = "plan check" ] || [ "$cmd" = completion ] || { echo "no options in '$cmd --help'"; false; }
    if [ "$help_list" != "$man_list" ]; then
      echo "portreg $cmd: --help (<) and $page ${section:+section $section }(>) differ:"
      diff <(echo "$help_list") <(echo "$man_list") || true
      failed=1
    fi
  done
  [ -z "$failed" ]
}

@test "scan keeps nmap's single-dash options: -sS -sT -sU -Pn -iL -oX -p-" {
  run --separate-stderr -2 "$PORTREG" scan -sX 127.0.0.1
  [[ "$stderr" == *"-sX: only -sS, -sT and -sU"* ]]
  run --separate-stderr -2 "$PORTREG" scan -oS out 127.0.0.1
  [[ "$stderr" == *"-oS: only -iL FILE and -oX, -oN, -oG FILE, -oA BASE"* ]]
  echo 10.0.0.300 >"$BATS_TEST_TMPDIR/bad-targets"
  run --separate-stderr -2 "$PORTREG" scan -sT -Pn -n -p- -iL "$BATS_TEST_TMPDIR/bad-targets" -oX "$BATS_TEST_TMPDIR/x.xml"
  [[ "$stderr" == *"bad-targets:1:"* ]]   # reached the target file: every option before it parsed
  run --separate-stderr -2 "$PORTREG" scan -sT -e bogus 127.0.0.1
  [[ "$stderr" == *'--engine "bogus"'* ]]
}

@test "a write error on stdout is an error: exit 3 with the reason, small and large outputs" {
  [ -w /dev/full ] || skip "needs /dev/full"
  use_iana_fixture
  # small outputs fail at the final flush, whose reason is known
  for args in "lookup 22" "lookup --json 22" "--version" "help lookup"; do
    run --separate-stderr bash -c "\"\$PORTREG\" $args >/dev/full"
    echo "$args: $status $stderr"
    [ "$status" -eq 3 ]
    [ "$stderr" = "portreg: write error on stdout: No space left on device" ]
  done
  # a large output may fail in an earlier flush inside stdio, whose errno is gone by the end
  # (git says "unknown write failure" then): the error and the exit code are what count
  for args in "lookup --search a" "ls -a --json" "ls -a"; do
    run --separate-stderr bash -c "\"\$PORTREG\" $args >/dev/full"
    echo "$args: $status $stderr"
    [ "$status" -eq 3 ]
    [[ "$stderr" == "portreg: write error on stdout"* ]]
  done
}

# input_file_commands FILE GOOD_PLAN: every command line that reads a file the user named, one
# per line, with FILE in the file's place.
input_file_commands() {
  local f=$1 good=$2
  printf '%s\n' \
    "plan check $f" \
    "plan diff $f --live" \
    "plan diff $good --scan $f" \
    "plan export $f --format json" \
    "scan -iL $f" \
    "registry update --from $f" \
    "suggest --exclude-file $f" \
    "firewall generate $f --host web" \
    "firewall apply $f --host web --dry-run" \
    "firewall audit $f"
}

@test "a file named by the user that cannot be read is bad input, exit 2, in every command" {
  local good="$BATS_TEST_TMPDIR/good.yaml" cmdline f checked=0
  printf 'hosts:\n  - name: web\n    addresses: {a: 192.0.2.1}\n' >"$good"
  : >"$BATS_TEST_TMPDIR/plain-file"
  for f in "$BATS_TEST_TMPDIR/missing" "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR/plain-file/below"; do
    while read -r cmdline; do
      # shellcheck disable=SC2086
      run --separate-stderr "$PORTREG" $cmdline
      echo "$cmdline: $status: $stderr"
      [ "$status" -eq 2 ]
      [[ "$stderr" == *"$f: cannot read: "* ]]
      checked=$((checked + 1))
    done < <(input_file_commands "$f" "$good")
  done
  [ "$checked" -eq 30 ]
}

@test "a file the user may not read is bad input, exit 2, in every command" {
  prepare_nobody_portreg
  local good="$NOBODY_DIR/good.yaml" secret="$NOBODY_DIR/secret" cmdline checked=0
  printf 'hosts:\n  - name: web\n    addresses: {a: 192.0.2.1}\n' >"$good"
  chmod 644 "$good"
  echo "hosts: {}" >"$secret"
  chmod 600 "$secret"
  while read -r cmdline; do
    # shellcheck disable=SC2086
    run --separate-stderr as_nobody env PORTREG_STATE_DIR="$NOBODY_DIR/state" "$NOBODY_PORTREG" $cmdline
    echo "$cmdline: $status: $stderr"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"$secret: cannot read: Permission denied"* ]]
    checked=$((checked + 1))
  done < <(input_file_commands "$secret" "$good")
  [ "$checked" -eq 10 ]
}

@test "a plan that is not YAML is bad input (2), a plan with errors is 1" {
  printf 'hosts: [\n' >"$BATS_TEST_TMPDIR/broken.yaml"
  # plan check's findings, a syntax error too, are its output (stdout, as lint tools)
  run --separate-stderr -2 "$PORTREG" plan check "$BATS_TEST_TMPDIR/broken.yaml"
  [[ "$output" == *"broken.yaml:2:1: error: "* ]]
  # for commands that take the plan as input it is bad input, on stderr
  run --separate-stderr -2 "$PORTREG" plan export --format json "$BATS_TEST_TMPDIR/broken.yaml"
  [[ "$stderr" == *"broken.yaml:2:1: error: "* ]]
  run -2 "$PORTREG" plan check --json "$BATS_TEST_TMPDIR/broken.yaml"
  echo "$output" | jq -e '.errors == 1 and .diagnostics[0].code == "yaml-syntax"'
  printf 'hosts:\n  - name: web\n    addresses: {a: 192.0.2.1}\nservices:\n  - name: a\n    host: nowhere\n    port: 80\n' \
    >"$BATS_TEST_TMPDIR/wrong.yaml"
  run -1 "$PORTREG" plan check "$BATS_TEST_TMPDIR/wrong.yaml"
}
