#!/usr/bin/env bats
# selfcheck.bats — rules the test suite itself must keep, so that no test silently stops
# asserting: bash's errexit ignores a command negated with a bare `!`, so such a line can never
# fail a test (bats' `run !` is the assertion that can).
load helpers

@test "no end-to-end test asserts with a bare '!' (errexit ignores it; use run !)" {
  dir="$BATS_TEST_DIRNAME"
  # a line whose first word is `!` (the `if …; then` and `||` forms are conditions, not assertions)
  run grep -nE '^[[:space:]]*![[:space:]]' "$dir"/*.bats "$dir"/helpers.bash
  [ "$status" -eq 1 ] || { echo "$output"; false; }
}

@test "the check above finds a bare '!' when there is one" {
  printf '@test "x" {\n  ! false\n}\n' >"$BATS_TEST_TMPDIR/bad.bats"
  run -0 grep -nE '^[[:space:]]*![[:space:]]' "$BATS_TEST_TMPDIR/bad.bats"
}
