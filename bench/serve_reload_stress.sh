#!/usr/bin/env bash
# serve_reload_stress.sh PORTREG — the registry reload under load, for the ASan build
# (build-asan/portreg): curl loops (registry lookups and the registry map with 8 parallel
# keep-alive transfers each, searches, import dry runs and leases whose policy reads IANA's
# ports, portmaps) while the index file is swapped and the server gets SIGHUP every 0.25 s,
# 60 times (index A, index B from a changed copy of the CSV, garbage: a failed reload).
# Passes when the server exits 0 after SIGTERM and its log has no sanitizer report.
set -euo pipefail
portreg=$(realpath "${1:?path to the portreg binary (build-asan/portreg)}")
root=$(cd "$(dirname "$0")/.." && pwd)
csv="${PORTREG_IANA_CSV:-$root/../shared/data/iana/service-names-port-numbers.csv}"
[ -f "$csv" ] || { echo "stress: skipped: the IANA CSV is not at $csv" >&2; exit 0; }
work=$(mktemp -d)
source "$root/bench/serve_common.sh"
trap bench_serve_cleanup EXIT
export PORTREG_STATE_DIR="$work/state" PORTREG_WIRESHARK_SERVICES="$root/tests/fixtures/e2e/wireshark-mini" \
  PORTREG_ETC_SERVICES="$root/tests/fixtures/e2e/services-mini" PORTREG_NMAP_SERVICES="$root/tests/fixtures/e2e/nmap-mini"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$work"
cp "$csv" a.csv
sed 's/^mysql,3306,/mysqx,3307,/' "$csv" >b.csv
PORTREG_STATE_DIR="$work/other" "$portreg" registry update --from b.csv >/dev/null
cp other/index.bin index.b
"$portreg" registry update --from a.csv >/dev/null
cp state/index.bin index.a
head -c 100000 /dev/urandom >index.bad
token=$("$portreg" serve token create --role admin --name stress --db "sqlite:$work/db")
port=$(bench_free_port)
"$portreg" serve --listen "127.0.0.1:$port" --db "sqlite:$work/db" 2>"$work/server.log" &
server=$!
bench_serve_pids+=("$server")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
url="http://127.0.0.1:$port"
auth=(-H "Authorization: Bearer $token")
curl -sf "${auth[@]}" -X PUT -H 'Content-Type: application/json' -d '{"iana_assigned_allowed":false}' "$url/api/v1/policy" >/dev/null
curl -sf "${auth[@]}" -H 'Content-Type: application/json' -d '{"name":"h1","addresses":{"internal":"10.0.0.1"}}' "$url/api/v1/hosts" >/dev/null
printf 'services:\n  - name: pg\n    hosts: [h1]\n    port: 3306/tcp\n    exposure: internal\n    bind: internal\n' >plan.yaml
stop="$work/stop"
loop() { while [ ! -f "$stop" ]; do "$@" >/dev/null 2>&1 || true; done; }
# many URL CURL-ARGS...: 200 transfers of URL, 8 at a time on kept-alive connections
many() {
  local target=$1 args=()
  shift
  for _ in $(seq 200); do args+=("$target" -o /dev/null); done
  curl -s --parallel --parallel-max 8 "$@" "${args[@]}"
}
loops=()
loop many "$url/api/v1/registry/3306" "${auth[@]}" & loops+=($!)
loop many "$url/api/v1/registry/mysqx" "${auth[@]}" & loops+=($!)
loop many "$url/api/v1/registry/map" --compressed "${auth[@]}" & loops+=($!)
loop curl -s "${auth[@]}" "$url/api/v1/registry?search=sql" & loops+=($!)
loop curl -s "${auth[@]}" -H 'Content-Type: application/yaml' --data-binary @plan.yaml "$url/api/v1/import?dry_run=1" & loops+=($!)
loop curl -s "${auth[@]}" -H 'Content-Type: application/json' -d '{"service":"x","host":"h1","proto":"tcp","port":3306,"ttl":1}' "$url/api/v1/leases" & loops+=($!)
loop curl -s "${auth[@]}" "$url/api/v1/portmap/h1/tcp" & loops+=($!)
for i in $(seq 60); do
  case $((i % 3)) in 0) cp index.a state/index.new ;; 1) cp index.b state/index.new ;; 2) cp index.bad state/index.new ;; esac
  mv state/index.new state/index.bin
  kill -HUP "$server"
  sleep 0.25
done
touch "$stop"
wait "${loops[@]}"
kill -TERM "$server"
rc=0
wait "$server" || rc=$?
bench_serve_pids=()
echo "stress: server exit $rc; $(grep -c ' /api/' server.log) requests;" \
  "$(grep -c 'registry reloaded' server.log) reloads, $(grep -c 'registry reload (.*) failed' server.log) failed (the garbage)"
if grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error' server.log; then
  grep -A30 'AddressSanitizer\|LeakSanitizer\|runtime error' server.log | head -60 >&2
  exit 1
fi
[ "$rc" -eq 0 ]
