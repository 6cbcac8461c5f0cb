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
# hyperfine runs one command's batch, then the other's: 10 rounds of 100 runs each, in
# alternating order, pooled, so drift on a shared machine hits both alike.
peer="getent services 3306" ours="$portreg lookup 3306"
for round in $(seq 1 10); do
  if [ $((round % 2)) -eq 1 ]; then first=$peer second=$ours; else first=$ours second=$peer; fi
  hyperfine -N --warmup 20 --runs 100 --export-json "$work/round$round.json" "$first" "$second" >/dev/null 2>&1
done
jq -s --arg peer "$peer" --arg ours "$ours" '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  [.[].results[]] as $all
  | ($all | map(select(.command == $peer) | .times[]) | median) as $p
  | ($all | map(select(.command == $ours) | .times[]) | median) as $o
  | "getent services 3306\tmedian \($p * 1e6 | round) us over \($all | map(select(.command == $peer) | .times[]) | length) runs",
    "portreg lookup 3306\tmedian \($o * 1e6 | round) us over \($all | map(select(.command == $ours) | .times[]) | length) runs",
    "ratio portreg/getent (median): \($o / $p * 1000 | round / 1000)  (bar <= 1.0)"' -r "$work"/round*.json

echo "== import: parse + compile the IANA CSV in memory"
"$build/bench_import" "$csv" 31
