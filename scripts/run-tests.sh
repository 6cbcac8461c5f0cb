#!/usr/bin/env bash
# run-tests.sh BUILD ASAN_BUILD FUZZ_BUILD FUZZ_SECONDS — run every suite (unit and end-to-end
# in the plain and the ASan+UBSan build, then a short run of every fuzzer) and end with one line
# "N passed, N failed, N skipped" counting every individual test (TAP lines), as CI reads it.
set -uo pipefail
plain=${1:?} asan=${2:?} fuzz=${3:?} fuzz_seconds=${4:-5}
passed=0 failed=0 skipped=0 status=0

count_tap() {   # stdin: TAP; adds to the counters
  local line
  while IFS= read -r line; do
    case "$line" in
      "ok "*"# skip"*|"ok "*"# SKIP"*|"not ok "*"# SKIP"*|"not ok "*"# skip"*)
        skipped=$((skipped + 1)) ;;   # cmocka 1.1 writes a skip as "not ok N # SKIP"
      "not ok "*) failed=$((failed + 1)) ;;
      "ok "*) passed=$((passed + 1)) ;;
    esac
  done
}

for dir in "$plain" "$asan"; do
  echo "=== meson test -C $dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
  log="$dir/meson-logs/testlog.json"
  while IFS= read -r entry; do
    result=$(jq -r .result <<<"$entry")
    out=$(jq -r '.stdout // ""' <<<"$entry")
    before=$failed
    count_tap <<<"$out"
    if [ "$result" != OK ] && [ "$result" != SKIP ] && [ "$failed" -eq "$before" ]; then
      failed=$((failed + 1))   # crashed or timed out without a "not ok" line
      echo "FAILED without TAP detail: $(jq -r .name <<<"$entry") ($result)"
    fi
  done <"$log"
done

echo "=== fuzzers, ${fuzz_seconds}s each"
fuzz_out=$(scripts/fuzz.sh "$fuzz" "$fuzz_seconds") || status=1
echo "$fuzz_out"
count_tap <<<"$fuzz_out"

[ "$failed" -eq 0 ] || status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
