#!/usr/bin/env bash
# run-tests.sh BUILD ASAN_BUILD FUZZ_BUILD FUZZ_SECONDS — run every suite (unit and end-to-end
# in the plain and the ASan+UBSan build, then a short run of every fuzzer) and end with one line
# "N passed, N failed, N skipped" as CI reads it. N counts distinct tests: a unit or end-to-end
# test runs in both builds and counts once — passed only if it passed in both, failed if it
# failed in either, skipped if it was skipped in both; each fuzzer counts once.
set -uo pipefail
plain=${1:?} asan=${2:?} fuzz=${3:?} fuzz_seconds=${4:-5}
status=0
declare -A outcome=()   # "suite-test name: TAP description" -> pass | fail | skip
order=()                # keys in the order first seen, for the list of failures
declare -A details=()   # key -> the first diagnostic lines ("# ...") a failing run printed

record() {   # KEY RESULT — merge one run's result into the distinct test's outcome
  local key=$1 result=$2 before=${outcome[$1]:-}
  [ -n "$before" ] || order+=("$key")
  case "$before:$result" in
    fail:*|*:fail) outcome[$key]=fail ;;
    pass:*|*:pass) outcome[$key]=pass ;;
    *) outcome[$key]=skip ;;
  esac
}

record_tap() {   # TEST-NAME; stdin: TAP. Sets tap_lines to how many result lines it saw.
  local name=$1 line result desc failing="" kept=0
  tap_lines=0
  while IFS= read -r line; do
    # a failed test's diagnostics follow its "not ok" line; the first 30 are kept, so that the
    # end of the log (all CI shows) says where it failed
    if [ -n "$failing" ] && [[ $line == "#"* ]]; then
      if [ "$kept" -lt 30 ]; then details[$failing]+="    $line"$'\n'; kept=$((kept + 1)); fi
      continue
    fi
    failing=""
    case "$line" in
      "ok "*"# skip"*|"ok "*"# SKIP"*|"not ok "*"# SKIP"*|"not ok "*"# skip"*)
        result=skip ;;   # cmocka 1.1 writes a skip as "not ok N # SKIP"
      "not ok "*) result=fail ;;
      "ok "*) result=pass ;;
      *) continue ;;
    esac
    # the description without the number (and cmocka's "- "), and without a skip reason
    desc=$line
    [[ $desc =~ ^(not )?ok\ [0-9]+\ (-\ )?(.*)$ ]] && desc=${BASH_REMATCH[3]}
    [[ $desc =~ ^(.*[^ ])\ *#\ *(skip|SKIP) ]] && desc=${BASH_REMATCH[1]}
    record "$name: $desc" "$result"
    if [ "$result" = fail ]; then failing="$name: $desc" kept=0; details[$failing]=""; fi
    tap_lines=$((tap_lines + 1))
  done
}

for dir in "$plain" "$asan"; do
  echo "=== meson test -C $dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
  log="$dir/meson-logs/testlog.json"
  while IFS= read -r entry; do
    name=$(jq -r .name <<<"$entry")
    result=$(jq -r .result <<<"$entry")
    record_tap "$name" < <(jq -r '.stdout // ""' <<<"$entry")   # not a pipe: a subshell would lose the results
    if [ "$result" != OK ] && [ "$result" != SKIP ]; then
      # crashed or timed out: the test executable counts as a failed test of its own
      record "$name: (the whole suite: $result)" fail
      echo "FAILED: $name ($result) in $dir after $tap_lines result lines"
    fi
  done <"$log"
done

echo "=== fuzzers, ${fuzz_seconds}s each"
fuzz_out=$(scripts/fuzz.sh "$fuzz" "$fuzz_seconds") || status=1
echo "$fuzz_out"
record_tap fuzz <<<"$fuzz_out"

passed=0 failed=0 skipped=0
for key in "${order[@]}"; do
  case ${outcome[$key]} in
    pass) passed=$((passed + 1)) ;;
    fail) failed=$((failed + 1)); echo "failed: $key"; printf '%s' "${details[$key]:-}" ;;
    skip) skipped=$((skipped + 1)) ;;
  esac
done
[ "$failed" -eq 0 ] || status=1
echo "distinct tests: each unit and end-to-end test ran in the plain and the ASan+UBSan build and counts once"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
