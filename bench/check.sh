#!/usr/bin/env bash
# check.sh PORTREG — `portreg check PORT` against `ss -tlnp 'sport = :PORT'` with ~100,000 TCP
# listeners held by 5 processes (19,500 each, as inspector.sh). Ground truth first: check must
# name the 5 holders ss shows and call the port blocked. Then hyperfine rounds in alternating
# order, pooled medians and the ratio (bar <= 0.10). Needs root (as ss -p does for every pid).
set -euo pipefail
portreg=$(realpath "${1:?path to the portreg binary}")
build=$(dirname "$portreg")
per_process=${PER_PROCESS:-19500}
rounds=${ROUNDS:-6}
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export PORTREG_STATE_DIR="$work/state"

for k in 1 2 3 4 5; do
  "$build/manylisten" "127.0.3.$k" 20000 "$per_process" >"$work/hold.$k" &
  pids+=($!)
done
for k in 1 2 3 4 5; do
  until grep -q ready "$work/hold.$k"; do sleep 0.1; done
done
total=$((per_process * 5))
echo "== $total listeners held by 5 processes (${pids[*]})"
"$portreg" lookup 22 >/dev/null 2>&1 || true   # compile the registry index once

port=$((20000 + per_process / 2))
echo "== ground truth: check $port names the holders ss -tlnp shows"
ours=$({ "$portreg" check --json "$port" || true; } | jq -r '[.blockers[].socket.processes[0].pid] | sort | join(",")')
theirs=$(ss -Htlnp "sport = :$port" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | sort -n | paste -sd,)
verdict=$({ "$portreg" check --json "$port" || true; } | jq -r '.verdict + " " + (.trial.agrees | tostring)')
[ "$ours" = "$theirs" ] || { echo "MISMATCH: check names $ours, ss names $theirs"; exit 1; }
[ "$verdict" = "blocked true" ] || { echo "check $port: expected 'blocked true', got '$verdict'"; exit 1; }
echo "ok: blocked by $ours, simulation and trial bind agree"

for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then
    hyperfine -N -i --warmup 1 --runs 3 --export-json "$work/r$r.json" "$portreg check $port" "ss -tlnp sport = :$port" >/dev/null 2>&1
  else
    hyperfine -N -i --warmup 1 --runs 3 --export-json "$work/r$r.json" "ss -tlnp sport = :$port" "$portreg check $port" >/dev/null 2>&1
  fi
done
jq -s -r 'def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  [.[].results[]] | group_by(.command)[] | "\(map(.times[]) | median * 1000 | . * 10 | round / 10) ms\t\(length * 3) runs\t\(.[0].command)"' "$work"/r*.json >"$work/pooled"
echo "== one port with $total sockets present (ms, pooled medians)"
cat "$work/pooled"
median_of() { awk -F'\t' -v cmd="$1" '$3 == cmd {print $1+0}' "$work/pooled"; }
awk -v o="$(median_of "$portreg check $port")" -v s="$(median_of "ss -tlnp sport = :$port")" \
  'BEGIN { printf "ratio check / ss -tlnp sport = %.3f (bar <= 0.10)\n", o / s }'
