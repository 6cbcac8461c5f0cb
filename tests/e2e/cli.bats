#!/usr/bin/env bats
# cli.bats — the command line's frame: version, help, the command table, usage errors, colour.
load helpers

setup() { portreg_setup; }

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
  [[ "$stderr" == *"unknown or incomplete option '--frobnicate'"* ]]
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
  for page in portreg.1 portreg-lookup.1 portreg-registry.1; do
    [ -s "$mandir/$page" ]
    grep -q '^\.TH' "$mandir/$page"
  done
  grep -q 'ip_local_reserved_ports' "$mandir/portreg-lookup.1"
}

@test "a write error on stdout is an error: exit 3 with the reason, small and large outputs" {
  [ -w /dev/full ] || skip "needs /dev/full"
  use_iana_fixture
  for args in "lookup 22" "lookup --json 22" "--version" "help lookup" "lookup --search a" "ls -a --json" "ls -a"; do
    run --separate-stderr bash -c "\"\$PORTREG\" $args >/dev/full"
    echo "$args: $status $stderr"
    [ "$status" -eq 3 ]
    [ "$stderr" = "portreg: write error on stdout: No space left on device" ]
  done
}
