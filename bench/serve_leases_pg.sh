#!/usr/bin/env bash
# serve_leases_pg.sh PORTREG — leases through the HTTP API with CLIENTS (32) keep-alive clients
# (bench/lease_load.c) split over two `portreg serve` instances on one PostgreSQL (started by
# tests/pg_server.sh with fsync on), on a host whose range already has TAKEN (10,000) ports
# leased (a host of its own each round, so that every round starts from that state: leases
# of earlier rounds filling the range would measure a fuller range each time), against the
# peer: pgbench on the same server in the same run, CLIENTS clients each
# running a single-row INSERT ... ON CONFLICT DO NOTHING into a table with a unique index, for
# DURATION (10) seconds. ROUNDS (3) rounds alternating the order; a round is CLIENTS x
# PER_CLIENT (200) leases. Prints the median leases/s (both instances together: leases over
# the longer of the two loads' times), p50/p99 (ms, the median over rounds of each instance's,
# the worse instance), pgbench's TPS and the ratio (bar >= 0.35). Ground truth: every lease
# answered 201, no port granted twice (the files of both instances, and in SQL).
set -euo pipefail
portreg=$(realpath "${1:?path to the portreg binary}")
if [ -z "${PORTREG_TEST_DB_URL:-}" ]; then
  PG_FSYNC=on exec "$(dirname "$0")/../tests/pg_server.sh" "$0" "$portreg"
fi
build=$(dirname "$portreg")
rounds=${ROUNDS:-3}
duration=${DURATION:-10}
clients=${CLIENTS:-32}
per_client=${PER_CLIENT:-200}
taken=${TAKEN:-10000}
range=1024-60999
command -v pgbench >/dev/null || { echo "bench: skipped: pgbench is not installed (postgresql-contrib)" >&2; exit 0; }
[ -x "$build/lease_load" ] || { echo "bench: $build/lease_load is missing" >&2; exit 1; }
work=$(mktemp -d)
source "$(dirname "$0")/serve_common.sh"
trap bench_serve_cleanup EXIT
export PORTREG_STATE_DIR="$work/state"
url=$PORTREG_TEST_DB_URL
echo "PostgreSQL: $(psql -X -At "$url" -c 'SHOW server_version'), fsync=$(psql -X -At "$url" -c 'SHOW fsync'), synchronous_commit=$(psql -X -At "$url" -c 'SHOW synchronous_commit')"

api() {  # METHOD PATH TOKEN BODY
  curl -fsS -X "$1" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' --data "$4" \
    "http://127.0.0.1:$port1$2"
}

admin=$("$portreg" serve token create --role admin --name bench-admin --db "$url")
requester=$("$portreg" serve token create --role requester --name bench --db "$url")
port1=$(bench_free_port); bench_serve_start "$port1" --db "$url"; pid1=$serve_pid
port2=$(bench_free_port); bench_serve_start "$port2" --db "$url"; pid2=$serve_pid
api PUT /api/v1/policy "$admin" '{"ephemeral":"61000-65535"}' >/dev/null
# take_host N: host bench-host-N with TAKEN ports of its range leased through the API
take_host() {
  api POST /api/v1/hosts "$admin" "{\"name\":\"bench-host-$1\"}" >/dev/null
  "$build/lease_load" "http://127.0.0.1:$port1/api/v1/leases" "$requester" "$clients" $(( (taken + clients - 1) / clients )) \
    taken "bench-host-$1" "$range" 86400 "$work/ports.$1.taken" >"$work/setup"
  echo "$(wc -l <"$work/ports.$1.taken") ports of bench-host-$1 taken through the API"
}

psql -X -q "$url" -c 'CREATE TABLE bench_pk (k bigint PRIMARY KEY)'
cat >"$work/insert.sql" <<'SQL'
\set k random(1, 1000000000000)
INSERT INTO bench_pk (k) VALUES (:k) ON CONFLICT DO NOTHING;
SQL
half=$((clients / 2))
run_leases() {
  "$build/lease_load" "http://127.0.0.1:$port1/api/v1/leases" "$requester" "$half" "$per_client" "r$1a" "bench-host-$1" \
    "$range" 3600 "$work/ports.$1.a" >"$work/l.$1a" &
  local a=$!
  "$build/lease_load" "http://127.0.0.1:$port2/api/v1/leases" "$requester" "$((clients - half))" "$per_client" "r$1b" \
    "bench-host-$1" "$range" 3600 "$work/ports.$1.b" >"$work/l.$1b"
  wait "$a"
  local sa sb
  sa=$(bench_field "$(cat "$work/l.$1a")" seconds); sb=$(bench_field "$(cat "$work/l.$1b")" seconds)
  awk -v n=$((clients * per_client)) -v a="$sa" -v b="$sb" 'BEGIN { printf "%f\n", n / (a > b ? a : b) }' >>"$work/rates"
  for f in a b; do
    bench_field "$(cat "$work/l.$1$f")" p50_ms >>"$work/p50.$f"
    bench_field "$(cat "$work/l.$1$f")" p99_ms >>"$work/p99.$f"
  done
}
run_pgbench() {
  pgbench -n -c "$clients" -j 2 -T "$duration" -f "$work/insert.sql" "$url" 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p' >>"$work/tps"
}
for round in $(seq 1 "$rounds"); do
  take_host "$round"
  if [ $((round % 2)) -eq 1 ]; then run_pgbench; run_leases "$round"; else run_leases "$round"; run_pgbench; fi
done
for round in $(seq 1 "$rounds"); do
  dup=$(cat "$work"/ports."$round".* | sort -n | uniq -d | head -5)
  [ -z "$dup" ] || { echo "MISMATCH: ports of bench-host-$round granted twice: $dup"; exit 1; }
done
sqldup=$(psql -X -At "$url" -c "SELECT count(*) FROM (SELECT host, port FROM leases WHERE state = 'active' GROUP BY 1, 2 HAVING count(*) > 1) d")
[ "$sqldup" = 0 ] || { echo "MISMATCH: $sqldup ports leased twice in the database"; exit 1; }
echo "ok: $(cat "$work"/ports.* | wc -l) leases granted, every port once (API and SQL)"
rate=$(bench_median <"$work/rates")
tps=$(bench_median <"$work/tps")
p50=$(for f in a b; do bench_median <"$work/p50.$f"; done | sort -g | tail -1)
p99=$(for f in a b; do bench_median <"$work/p99.$f"; done | sort -g | tail -1)
printf 'leases via HTTP (2 instances)  median %7.0f leases/s  p50 %6.2f ms  p99 %6.2f ms  (%s rounds of %s x %s)\n' \
  "$rate" "$p50" "$p99" "$rounds" "$clients" "$per_client"
printf 'pgbench INSERT ON CONFLICT     median %7.0f TPS  (%s clients, %s x %ss)\n' "$tps" "$clients" "$rounds" "$duration"
awk -v o="$rate" -v p="$tps" 'BEGIN { printf "ratio leases/pgbench: %.3f  (bar >= 0.35)\n", o / p }'
bench_serve_stop "$pid1"
bench_serve_stop "$pid2"
