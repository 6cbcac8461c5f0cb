#!/usr/bin/env bash
# inspector.sh PORTREG — `portreg ls` and `portreg who` against ss and lsof with ~100,000 TCP
# listeners held by 5 processes (19,500 each: the open-file limit is 20,000 per process).
# Ground truth first: portreg and ss must report the same sockets and the same pid for each.
# Then hyperfine rounds in alternating order, pooled medians, ratios; peak memory from
# /usr/bin/time -v. Needs root for a complete process view (as the peers do).
set -euo pipefail
portreg=$(realpath "${1:?path to the portreg binary}")
build=$(dirname "$portreg")
per_process=${PER_PROCESS:-19500}
rounds=${ROUNDS:-6}
work=$(mktemp -d)
source "$(dirname "$0")/common.sh"
trap bench_cleanup EXIT
export PORTREG_STATE_DIR="$work/state"
bench_start_holders
pids=("${bench_holder_pids[@]}")

echo "== ground truth: the same sockets and pids as ss -tlnp"
"$portreg" ls -tl --json | jq -r '.sockets[] | "\(.local_address):\(.local_port) \(.processes[0].pid // "-")"' | sort >"$work/ours"
ss -Htlnp | awk '{ split($0, m, "pid="); split(m[2], p, ","); addr = $4; sub(/^\*:/, "[::]:", addr); gsub(/[\[\]]/, "", addr); print addr, (p[1] == "" ? "-" : p[1]) }' | sort >"$work/theirs"
if ! diff -q "$work/ours" "$work/theirs" >/dev/null; then
  echo "MISMATCH between portreg and ss (first differences):"
  diff "$work/ours" "$work/theirs" | head -20
  exit 1
fi
echo "ok: $(wc -l <"$work/ours") sockets, each with the same pid"

port=$((20000 + per_process / 2))
# every holder process binds the same ports on its own address: five sockets on this port
who_truth=$("$portreg" who --json "$port" | jq -r '[.sockets[] | select(.state == "LISTEN") | .processes[0].pid] | sort | join(",")')
expected=$(printf '%s\n' "${pids[@]}" | sort -n | paste -sd,)
[ "$who_truth" = "$expected" ] || { echo "who $port: expected pids $expected, got $who_truth"; exit 1; }
echo "ok: who $port names the 5 holders"


echo "== listing listeners with processes (ms, pooled medians)"
bench_pooled "$portreg ls -tl" "ss -tlnp" "ss -tln" "$portreg ls -tl --json" "$portreg ls -tl --no-processes"
ours=$(bench_median_of "$portreg ls -tl"); ssp=$(bench_median_of "ss -tlnp"); ssn=$(bench_median_of "ss -tln"); json=$(bench_median_of "$portreg ls -tl --json")
awk -v o="$ours" -v p="$ssp" -v n="$ssn" -v j="$json" 'BEGIN {
  printf "ratio ls -tl / ss -tlnp = %.3f (bar <= 0.10)\n", o / p
  printf "ratio ls -tl / ss -tln  = %.3f (bar <= 1.5)\n", o / n
  printf "ratio ls -tl --json / ls -tl = %.3f (bar <= 1.3)\n", j / o }'

echo "== one port with $total sockets present (ms, pooled medians)"
bench_pooled "$portreg who $port" "ss -tlnp sport = :$port" "lsof -nP -iTCP:$port"
who=$(bench_median_of "$portreg who $port"); sswho=$(bench_median_of "ss -tlnp sport = :$port"); lsofwho=$(bench_median_of "lsof -nP -iTCP:$port")
awk -v o="$who" -v s="$sswho" -v l="$lsofwho" 'BEGIN {
  printf "ratio who / ss -tlnp sport = %.3f (bar <= 0.10)\n", o / s
  printf "ratio who / lsof -iTCP:PORT = %.3f (bar < 1)\n", o / l }'

echo "== peak memory (/usr/bin/time -v)"
for cmd in "$portreg ls -tl" "$portreg ls -tl --json" "ss -tlnp"; do
  /usr/bin/time -v $cmd >/dev/null 2>"$work/time" || true
  echo "$(awk -F': ' '/Maximum resident/ {print $2}' "$work/time") KiB	$cmd"
done
