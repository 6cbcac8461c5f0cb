#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS — run every libFuzzer harness for SECONDS over a scratch copy of its
# seed corpus (fuzz/corpus/NAME), printing one TAP line per harness. Crashes are kept in
# fuzz/artifacts/. Exit 1 when a harness found a problem.
set -uo pipefail
build=${1:?build dir}
seconds=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/fuzz/artifacts"
n=0 failed=0
harnesses=$(cd "$root/fuzz" && ls fuzz_*.c | sed 's/\.c$//')
echo "1..$(echo "$harnesses" | wc -l)"
for name in $harnesses; do
  n=$((n + 1))
  scratch=$(mktemp -d)
  cp -r "$root/fuzz/corpus/$name/." "$scratch/" 2>/dev/null || true
  # the index seed is generated, not kept in the repository as a binary blob
  [ "$name" = fuzz_index ] && "$build/fuzz/make_index_seed" "$scratch/seed.bin"
  log=$(mktemp)
  if "$build/fuzz/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$root/fuzz/artifacts/$name-" "$scratch" >"$log" 2>&1; then
    runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1)
    echo "ok $n - $name ($runs in ${seconds}s)"
  else
    failed=$((failed + 1))
    echo "not ok $n - $name"
    tail -40 "$log" | sed 's/^/# /'
  fi
  rm -rf "$scratch" "$log"
done
[ "$failed" -eq 0 ]
