#!/usr/bin/env bash
# serve_leases.sh PORTREG — leases through the HTTP API (POST /api/v1/leases, requester token)
# with CLIENTS (32) concurrent keep-alive clients (bench/lease_load.c, libcurl) on a host whose
# range already has TAKEN (10,000) ports leased (through the API, before timing), SQLite with
# durable commits (WAL, synchronous=FULL), against the peer: the single-row durable commit rate
# of the same SQLite on the same file system (bench/sqlite_commit_rate.c: WAL,
# synchronous=FULL, one row per transaction), measured in the same run. ROUNDS (5) rounds, the
# order alternating; a round is CLIENTS x PER_CLIENT (200) leases, and DURATION (3) seconds of
# commits. Prints median leases/s, p50/p99 (ms) and the ratio (bar >= 0.75); then the same with
# sqlite:PATH?synchronous=normal against the peer with synchronous=NORMAL; and the server's
# peak RSS (VmHWM). Ground truth: every lease answered 201 with a port, no port granted twice,
# none in the policy's ephemeral range. The policy's ephemeral range is moved to 61000-65535
# and leases ask for 1024-60999, so the rounds never run out of free ports.
set -euo pipefail
portreg=$(realpath "${1:?path to the portreg binary}")
build=$(dirname "$portreg")
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-5}
duration=${DURATION:-3}
clients=${CLIENTS:-32}
per_client=${PER_CLIENT:-200}
taken=${TAKEN:-10000}
range=1024-60999
command -v curl >/dev/null || { echo "bench: skipped: curl is not installed" >&2; exit 0; }
for helper in lease_load sqlite_commit_rate; do
  [ -x "$build/$helper" ] || { echo "bench: $build/$helper is missing (meson compile -C $build)" >&2; exit 1; }
done
# the database and the peer's file under one directory: the same file system (BENCH_DIR moves both)
work=$(mktemp -d -p "${BENCH_DIR:-${TMPDIR:-/tmp}}")
source "$(dirname "$0")/serve_common.sh"
trap bench_serve_cleanup EXIT
export PORTREG_STATE_DIR="$work/state"
echo "database directory: $work ($(df -T "$work" | awk 'NR == 2 { print $2 }'))"

api() {  # METHOD PATH TOKEN BODY: the body of a 2xx answer, else the benchmark stops
  curl -fsS -X "$1" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' --data "$4" \
    "http://127.0.0.1:$port$2"
}

# bench_mode SYNC: one server on a fresh database (sqlite:PATH or sqlite:PATH?synchronous=normal)
bench_mode() {
  local sync=$1 db="$work/leases-$1.db" url
  url="sqlite:$db"
  [ "$sync" = normal ] && url="sqlite:$db?synchronous=normal"
  local admin requester
  admin=$("$portreg" serve token create --role admin --name bench-admin --db "$url")
  requester=$("$portreg" serve token create --role requester --name bench --db "$url")
  port=$(bench_free_port)
  bench_serve_start "$port" --db "$url"
  local pid=$serve_pid
  api POST /api/v1/hosts "$admin" '{"name":"bench-host","addresses":{"internal":"10.9.0.1"}}' >/dev/null
  api PUT /api/v1/policy "$admin" '{"ephemeral":"61000-65535"}' >/dev/null
  local lease_url="http://127.0.0.1:$port/api/v1/leases"
  local setup_clients=$clients setup_each=$(( (taken + clients - 1) / clients ))
  "$build/lease_load" "$lease_url" "$requester" "$setup_clients" "$setup_each" taken bench-host "$range" 86400 \
    "$work/ports.$sync.taken" >"$work/setup.$sync"
  echo "== synchronous=$sync: $(wc -l <"$work/ports.$sync.taken") ports of bench-host taken through the API" \
       "($(bench_field "$(cat "$work/setup.$sync")" rate | cut -d. -f1) leases/s while setting up)"
  : >"$work/leases.$sync"; : >"$work/commits.$sync"
  run_commits() {
    "$build/sqlite_commit_rate" "$work/peer-$sync.db" "$duration" "$sync" >>"$work/commits.$sync"
    rm -f "$work/peer-$sync.db" "$work/peer-$sync.db-wal" "$work/peer-$sync.db-shm"
  }
  cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
  run_leases() {
    local before after line
    before=$(cpu_ticks)
    line=$("$build/lease_load" "$lease_url" "$requester" "$clients" "$per_client" "round$1" bench-host "$range" 3600 \
      "$work/ports.$sync.round$1")
    after=$(cpu_ticks)
    # the server's own CPU time per lease (user + system): steadier than rates on a busy machine
    echo "$line cpu_us=$(( (after - before) * 1000000 / $(getconf CLK_TCK) / (clients * per_client) ))" >>"$work/leases.$sync"
  }
  local round
  for round in $(seq 1 "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then run_commits; run_leases "$round"; else run_leases "$round"; run_commits; fi
  done
  local hwm
  hwm=$(awk '/^VmHWM/ { print $2 " " $3 }' "/proc/$pid/status")
  # ground truth: every port once, none in the ephemeral range the policy keeps free
  local dup
  dup=$(cat "$work"/ports."$sync".* | sort -n | uniq -d | head -5)
  [ -z "$dup" ] || { echo "MISMATCH: ports granted twice: $dup"; exit 1; }
  awk '$1 < 1024 || $1 > 60999 { bad = 1 } END { exit bad }' "$work"/ports."$sync".* ||
    { echo "MISMATCH: a port outside $range was granted"; exit 1; }
  local granted
  granted=$(cat "$work"/ports."$sync".* | wc -l)
  bench_serve_stop "$pid"
  local rate p50 p99 peer cpu
  rate=$(while read -r l; do bench_field "$l" rate; done <"$work/leases.$sync" | bench_median)
  p50=$(while read -r l; do bench_field "$l" p50_ms; done <"$work/leases.$sync" | bench_median)
  p99=$(while read -r l; do bench_field "$l" p99_ms; done <"$work/leases.$sync" | bench_median)
  peer=$(while read -r l; do bench_field "$l" rate; done <"$work/commits.$sync" | bench_median)
  cpu=$(while read -r l; do bench_field "$l" cpu_us; done <"$work/leases.$sync" | bench_median)
  echo "ok: $granted leases granted, every port once, none outside $range"
  printf 'leases via HTTP   median %7.0f leases/s   p50 %6.2f ms   p99 %6.2f ms   (%s rounds of %s x %s)\n' \
    "$rate" "$p50" "$p99" "$rounds" "$clients" "$per_client"
  printf 'SQLite commits    median %7.0f commits/s  (one row per transaction, synchronous=%s, %s x %ss)\n' \
    "$peer" "$sync" "$rounds" "$duration"
  if [ "$sync" = full ]; then
    awk -v o="$rate" -v p="$peer" 'BEGIN { printf "ratio leases/commits: %.3f  (bar >= 0.75)\n", o / p }'
  else
    awk -v o="$rate" -v p="$peer" 'BEGIN { printf "ratio leases/commits: %.3f  (reported)\n", o / p }'
  fi
  echo "server CPU per lease (user + system, median): $cpu us"
  echo "server peak RSS (VmHWM): $hwm"
}

bench_mode full
bench_mode normal
