#!/usr/bin/env bash
# serve_leases_soak_pg.sh PORTREG — the soak of issue 10: two `portreg serve` instances on one
# PostgreSQL (tests/pg_server.sh, fsync on), CLIENTS (32) keep-alive clients on each
# (bench/lease_load.c with LEASE_LOAD_RELEASE=1), CYCLES (1,000,000) allocate/release cycles in
# all, on a host whose range already has TAKEN (10,000) ports leased. Then the invariant, in
# SQL: no two live claims overlap (port_claims, as the exclusion constraint would refuse) and
# no two active, unexpired leases or active assignments share a host/proto/port. Prints the
# cycle rate, p50/p99 of a cycle (lease + release), and the invariant's count (must be 0).
set -euo pipefail
portreg=$(realpath "${1:?path to the portreg binary}")
if [ -z "${PORTREG_TEST_DB_URL:-}" ]; then
  PG_FSYNC=on exec "$(dirname "$0")/../tests/pg_server.sh" "$0" "$portreg"
fi
build=$(dirname "$portreg")
clients=${CLIENTS:-32}
cycles=${CYCLES:-1000000}
taken=${TAKEN:-10000}
range=1024-60999
[ -x "$build/lease_load" ] || { echo "bench: $build/lease_load is missing" >&2; exit 1; }
work=$(mktemp -d)
source "$(dirname "$0")/serve_common.sh"
trap bench_serve_cleanup EXIT
export PORTREG_STATE_DIR="$work/state"
url=$PORTREG_TEST_DB_URL
admin=$("$portreg" serve token create --role admin --name soak-admin --db "$url")
requester=$("$portreg" serve token create --role requester --name soak --db "$url")
port1=$(bench_free_port); bench_serve_start "$port1" --db "$url"
port2=$(bench_free_port); bench_serve_start "$port2" --db "$url"
curl -fsS -X POST -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' --data '{"name":"soak-host"}' \
  "http://127.0.0.1:$port1/api/v1/hosts" >/dev/null
curl -fsS -X PUT -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' --data '{"ephemeral":"61000-65535"}' \
  "http://127.0.0.1:$port1/api/v1/policy" >/dev/null
"$build/lease_load" "http://127.0.0.1:$port1/api/v1/leases" "$requester" "$clients" $(( (taken + clients - 1) / clients )) \
  taken soak-host "$range" 86400 "$work/ports.taken" >/dev/null
per_client=$(( (cycles + 2 * clients - 1) / (2 * clients) ))
echo "soak: 2 instances x $clients clients x $per_client cycles (lease + release) on soak-host, $(wc -l <"$work/ports.taken") ports taken"
LEASE_LOAD_RELEASE=1 "$build/lease_load" "http://127.0.0.1:$port1/api/v1/leases" "$requester" "$clients" "$per_client" \
  a soak-host "$range" 3600 "$work/ports.a" >"$work/l.a" &
a=$!
LEASE_LOAD_RELEASE=1 "$build/lease_load" "http://127.0.0.1:$port2/api/v1/leases" "$requester" "$clients" "$per_client" \
  b soak-host "$range" 3600 "$work/ports.b" >"$work/l.b"
wait "$a"
cat "$work/l.a" "$work/l.b"
awk '{for (i = 1; i <= NF; i++) if ($i ~ /^(leases|seconds)=/) { split($i, kv, "="); v[kv[1]] += kv[2]; if (kv[1] == "seconds" && kv[2] > max) max = kv[2] } }
     END { printf "cycles %d in %.1f s: %.0f cycles/s (both instances)\n", v["leases"], max, v["leases"] / max }' "$work/l.a" "$work/l.b"
overlaps=$(psql -X -At "$url" -c "
  SELECT (SELECT count(*) FROM port_claims a JOIN port_claims b ON a.ctid < b.ctid AND a.host = b.host
            AND a.proto = b.proto AND a.ports && b.ports AND a.scope && b.scope AND a.during && b.during
            AND a.owner <> b.owner)
       + (SELECT count(*) FROM (SELECT host, proto, port FROM leases WHERE state = 'active'
            AND expires_at > extract(epoch FROM now())::bigint GROUP BY 1, 2, 3 HAVING count(*) > 1) d)")
echo "invariant: $overlaps overlapping live claims (must be 0); $(psql -X -At "$url" -c "SELECT count(*) FROM leases WHERE state = 'released'") leases released"
[ "$overlaps" = 0 ]
