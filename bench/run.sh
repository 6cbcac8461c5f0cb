#!/usr/bin/env bash
# run.sh PORTREG — every registry benchmark of BENCHMARKS.md, peers in the same run:
#   1. `portreg lookup 3306` (full IANA registry, whole process) vs `getent services 3306`,
#      alternating, hyperfine, >= 5 runs after warm-up; prints medians and the ratio (bar <= 1.0)
#   2. parse + compile of the IANA CSV in memory (bar <= 50 ms)
# Ground truth first: both commands must name mysql for 3306, or the benchmark stops.
set -euo pipefail
portreg=$(realpath "${1:?path to the portreg binary}")
build=$(dirname "$portreg")
root=$(cd "$(dirname "$0")/.." && pwd)
csv="$root/../shared/data/iana/service-names-port-numbers.csv"
if [ ! -f "$csv" ]; then
  echo "bench: skipped: the IANA CSV is not at $csv (../shared/data/iana)" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PORTREG_STATE_DIR="$work/state"
"$portreg" registry update --from "$csv" >/dev/null
"$portreg" lookup 3306 >/dev/null   # the index is built and current

echo "== ground truth"
"$portreg" lookup --json 3306 | jq -e '[.queries[0].records[].service] | unique == ["mysql"]' >/dev/null
getent services 3306 | grep -q '^mysql ' 
records=$("$portreg" registry info --json | jq .records)
echo "registry: $records records; /etc/services: $(wc -l </etc/services) lines"

echo "== lookup 3306: portreg vs getent (whole process)"
hyperfine -N --warmup 20 --runs 300 --export-json "$work/lookup.json" \
  "getent services 3306" "$portreg lookup 3306" >/dev/null
jq -r '.results[] | "\(.command)\tmedian \(.median * 1000 | . * 1000 | round / 1000) ms\tmean \(.mean * 1000 | . * 1000 | round / 1000) ms"' "$work/lookup.json"
jq -r '"ratio portreg/getent (median): \(.results[1].median / .results[0].median | . * 1000 | round / 1000)  (bar <= 1.0)"' "$work/lookup.json"

echo "== import: parse + compile the IANA CSV in memory"
"$build/bench_import" "$csv" 31
