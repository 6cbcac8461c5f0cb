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
source "$(dirname "$0")/common.sh"
trap bench_cleanup EXIT
export PORTREG_STATE_DIR="$work/state"
bench_start_holders
pids=("${bench_holder_pids[@]}")

port=$((20000 + per_process / 2))
echo "== ground truth: check $port names the holders ss -tlnp shows"
ours=$({ "$portreg" check --json "$port" || true; } | jq -r '[.blockers[].socket.processes[0].pid] | sort | join(",")')
theirs=$(ss -Htlnp "sport = :$port" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | sort -n | paste -sd,)
verdict=$({ "$portreg" check --json "$port" || true; } | jq -r '.verdict + " " + (.trial.agrees | tostring)')
[ "$ours" = "$theirs" ] || { echo "MISMATCH: check names $ours, ss names $theirs"; exit 1; }
[ "$verdict" = "blocked true" ] || { echo "check $port: expected 'blocked true', got '$verdict'"; exit 1; }
echo "ok: blocked by $ours, simulation and trial bind agree"

echo "== one port with $total sockets present (ms, pooled medians)"
bench_pooled "$portreg check $port" "ss -tlnp sport = :$port"
awk -v o="$(bench_median_of "$portreg check $port")" -v s="$(bench_median_of "ss -tlnp sport = :$port")" \
  'BEGIN { printf "ratio check / ss -tlnp sport = %.3f (bar <= 0.10)\n", o / s }'
