#!/usr/bin/env bash
# serve_registry.sh PORTREG — `GET /api/v1/registry/3306` (reader token) from `portreg serve`
# against nginx returning the same bytes as a fixed 200 application/json body, both on loopback
# in the same run: wrk with one thread per core and 64 connections, keep-alive and then with
# `Connection: close`; ROUNDS (5) rounds of DURATION (5) seconds per server after a warm-up, the
# order alternating. Prints median requests/s, the ratio portreg/nginx (bar >= 0.85 keep-alive)
# and the median p99 latency (bar < 5 ms keep-alive). nginx runs as root from a temporary prefix
# (workers = cores) on a free loopback port, twice: with access_log off (the bar's peer) and
# with its default access log to a file (like portreg serve, which logs every request). Then
# (reported, with 2 cores or more) the keep-alive runs again with the load generator off the
# server's core: every thread of the server under test (portreg, or nginx's master and workers)
# pinned to CPU 0 with taskset and `wrk -t1` on CPU 1, so the p99 is the server's own, not
# wrk's competition for its core. Ground truth first: the answer must
# be byte for byte what `portreg lookup --json 3306` prints, and every wrk response a 200.
set -euo pipefail
portreg=$(realpath "${1:?path to the portreg binary}")
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
rounds=${ROUNDS:-5}
duration=${DURATION:-5}
connections=${CONNECTIONS:-64}
threads=$(nproc)
csv="$root/../shared/data/iana/service-names-port-numbers.csv"
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "bench: skipped: $tool is not installed (make deps-bench)" >&2; exit 0; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench: skipped: nginx is started as root from a temporary prefix" >&2; exit 0; }
[ -f "$csv" ] || { echo "bench: skipped: the IANA CSV is not at $csv" >&2; exit 0; }
work=$(mktemp -d)
source "$bench/serve_common.sh"
trap bench_serve_cleanup EXIT
export PORTREG_STATE_DIR="$work/state"
"$portreg" registry update --from "$csv" >/dev/null
"$portreg" lookup 3306 >/dev/null
token=$("$portreg" serve token create --role reader --name bench)

ours_port=$(bench_free_port)
bench_serve_start "$ours_port"
ours_url="http://127.0.0.1:$ours_port/api/v1/registry/3306"

echo "== ground truth: the route answers what lookup --json prints, byte for byte"
curl -fsS -H "Authorization: Bearer $token" "$ours_url" >"$work/ours.json"
"$portreg" lookup --json 3306 >"$work/cli.json"
cmp -s "$work/ours.json" "$work/cli.json" || { echo "MISMATCH: the API's document differs from lookup --json"; diff <(jq -S . "$work/ours.json") <(jq -S . "$work/cli.json") | head; exit 1; }
jq -e '[.queries[0].records[].service] | unique == ["mysql"]' "$work/ours.json" >/dev/null
size=$(stat -c %s "$work/ours.json")
echo "ok: $size bytes, the same as lookup --json 3306"

# nginx: the same bytes from a file under a temporary prefix, as application/json
mkdir -p "$work/nginx/logs" "$work/nginx/www/api/v1/registry"
cp "$work/ours.json" "$work/nginx/www/api/v1/registry/3306"
# start_nginx NAME ACCESS_LOG: an nginx with that access_log setting; sets NAME_port
start_nginx() {
  local name=$1 access_log=$2 nginx_port
  nginx_port=$(bench_free_port)
  cat >"$work/nginx/$name.conf" <<EOF
user root;
daemon off;
worker_processes $threads;
pid $work/nginx/$name.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log $access_log;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 1000000;
  open_file_cache max=16;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/nginx/www;
    location /api/v1/registry/ { default_type application/json; }
  }
}
EOF
  nginx -p "$work/nginx" -c "$work/nginx/$name.conf" 2>>"$work/nginx/logs/start.log" &
  local nginx_pid=$!
  bench_serve_pids+=("$nginx_pid")
  declare -g "${name}_port=$nginx_port" "${name}_pid=$nginx_pid"
  local i
  for i in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$nginx_port/api/v1/registry/3306" >/dev/null 2>&1 && return 0
    kill -0 "$nginx_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
for variant in "nginx off" "nginxlog $work/nginx/logs/access.log"; do
  set -- $variant
  start_nginx "$1" "$2" || start_nginx "$1" "$2" || { echo "bench: nginx did not start:" >&2; cat "$work/nginx/logs/"* >&2; exit 1; }
done
nginx_url="http://127.0.0.1:$nginx_port/api/v1/registry/3306"
nginxlog_url="http://127.0.0.1:$nginxlog_port/api/v1/registry/3306"
curl -fsS -D "$work/nginx.headers" "$nginx_url" | cmp -s - "$work/ours.json" || { echo "nginx does not serve the same body"; exit 1; }
grep -qi '^content-type: application/json' "$work/nginx.headers"
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'): 127.0.0.1:$nginx_port (access_log off) and 127.0.0.1:$nginxlog_port (access log to a file), $threads workers each"
echo "portreg serve: pid $serve_pid on 127.0.0.1:$ours_port"

printf 'Authorization: Bearer %s\n' "$token" >"$work/headers.keepalive"
printf 'Authorization: Bearer %s\nConnection: close\n' "$token" >"$work/headers.close"

# run_wrk NAME URL MODE SECONDS: one wrk run; its report line appended to $work/NAME.MODE
run_wrk() {
  local out
  out=$(WRK_HEADER_FILE="$work/headers.$3" wrk -t"$threads" -c"$connections" -d"$4"s -s "$bench/wrk_report.lua" "$2" | grep '^WRK_REPORT')
  local errors
  errors=$(( $(bench_field "$out" status) + $(bench_field "$out" timeout) + $(bench_field "$out" connect) ))
  if [ "$errors" -ne 0 ] || [ "$(bench_field "$out" requests)" -eq 0 ]; then
    echo "bench: $1 ($3): errors in the run: $out" >&2
    exit 1
  fi
  echo "$out" >>"$work/$1.$3"
}

for mode in keepalive close; do
  label=$([ "$mode" = keepalive ] && echo "keep-alive" || echo "Connection: close")
  echo "== GET /api/v1/registry/3306, $label: $threads wrk threads, $connections connections, $rounds x ${duration}s each"
  run_wrk portreg "$ours_url" "$mode" 2 && run_wrk nginx "$nginx_url" "$mode" 2   # warm-up
  run_wrk nginxlog "$nginxlog_url" "$mode" 2
  : >"$work/portreg.$mode"; : >"$work/nginx.$mode"; : >"$work/nginxlog.$mode"
  for round in $(seq 1 "$rounds"); do
    if [ $((round % 2)) -eq 1 ]; then
      run_wrk portreg "$ours_url" "$mode" "$duration"; run_wrk nginx "$nginx_url" "$mode" "$duration"
      run_wrk nginxlog "$nginxlog_url" "$mode" "$duration"
    else
      run_wrk nginxlog "$nginxlog_url" "$mode" "$duration"
      run_wrk nginx "$nginx_url" "$mode" "$duration"; run_wrk portreg "$ours_url" "$mode" "$duration"
    fi
  done
  for who in portreg nginx nginxlog; do
    rps=$(while read -r line; do bench_field "$line" rps; done <"$work/$who.$mode" | bench_median)
    p50=$(while read -r line; do bench_field "$line" p50_ms; done <"$work/$who.$mode" | bench_median)
    p99=$(while read -r line; do bench_field "$line" p99_ms; done <"$work/$who.$mode" | bench_median)
    printf '%-8s median %8.0f requests/s   p50 %6.3f ms   p99 %6.3f ms   (%s runs)\n' "$who" "$rps" "$p50" "$p99" "$rounds"
    declare "rps_$who=$rps" "p99_$who=$p99"
  done
  # shellcheck disable=SC2154
  if [ "$mode" = keepalive ]; then
    awk -v o="$rps_portreg" -v n="$rps_nginx" -v l="$rps_nginxlog" -v p="$p99_portreg" 'BEGIN {
      printf "ratio portreg/nginx (median requests/s): %.3f  (bar >= 0.85)\n", o / n
      printf "ratio portreg/nginx with its access log (both log every request): %.3f  (reported)\n", o / l
      printf "portreg p99: %.3f ms  (bar < 5 ms)\n", p }'
  else
    awk -v o="$rps_portreg" -v n="$rps_nginx" -v l="$rps_nginxlog" 'BEGIN {
      printf "ratio portreg/nginx (median requests/s): %.3f  (reported)\n", o / n
      printf "ratio portreg/nginx with its access log: %.3f  (reported)\n", o / l }'
  fi
done

# Pinned (reported): the server under test on CPU 0, wrk with one thread on CPU 1.
if [ "$threads" -lt 2 ] || ! command -v taskset >/dev/null; then
  echo "pinned variant: skipped (needs 2 cores and taskset)"
  exit 0
fi
# pin_all PID CPUS: every thread of PID and of its children (nginx's workers)
pin_all() {
  local pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    taskset -a -p -c "$2" "$pid" >/dev/null
  done
}
all_cpus=0-$((threads - 1))
# shellcheck disable=SC2154
declare -A server_pid=([portreg]=$serve_pid [nginx]=$nginx_pid [nginxlog]=$nginxlog_pid)
run_wrk_pinned() {  # NAME URL SECONDS
  pin_all "${server_pid[$1]}" 0
  local out errors
  out=$(WRK_HEADER_FILE="$work/headers.keepalive" taskset -c 1 wrk -t1 -c"$connections" -d"$3"s \
        -s "$bench/wrk_report.lua" "$2" | grep '^WRK_REPORT')
  pin_all "${server_pid[$1]}" "$all_cpus"
  errors=$(( $(bench_field "$out" status) + $(bench_field "$out" timeout) + $(bench_field "$out" connect) ))
  if [ "$errors" -ne 0 ] || [ "$(bench_field "$out" requests)" -eq 0 ]; then
    echo "bench: $1 (pinned): errors in the run: $out" >&2
    exit 1
  fi
  echo "$out" >>"$work/$1.pinned"
}
echo "== GET /api/v1/registry/3306, keep-alive, pinned: the server on CPU 0, wrk -t1 on CPU 1," \
     "$connections connections, $rounds x ${duration}s each"
: >"$work/portreg.pinned"; : >"$work/nginx.pinned"; : >"$work/nginxlog.pinned"
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then
    run_wrk_pinned portreg "$ours_url" "$duration"; run_wrk_pinned nginx "$nginx_url" "$duration"
    run_wrk_pinned nginxlog "$nginxlog_url" "$duration"
  else
    run_wrk_pinned nginxlog "$nginxlog_url" "$duration"
    run_wrk_pinned nginx "$nginx_url" "$duration"; run_wrk_pinned portreg "$ours_url" "$duration"
  fi
done
for who in portreg nginx nginxlog; do
  rps=$(while read -r line; do bench_field "$line" rps; done <"$work/$who.pinned" | bench_median)
  p50=$(while read -r line; do bench_field "$line" p50_ms; done <"$work/$who.pinned" | bench_median)
  p99=$(while read -r line; do bench_field "$line" p99_ms; done <"$work/$who.pinned" | bench_median)
  printf '%-8s median %8.0f requests/s   p50 %6.3f ms   p99 %6.3f ms   (%s runs, pinned)\n' "$who" "$rps" "$p50" "$p99" "$rounds"
  declare "rps_$who=$rps" "p99_$who=$p99"
done
awk -v o="$rps_portreg" -v n="$rps_nginx" -v p="$p99_portreg" -v q="$p99_nginx" 'BEGIN {
  printf "pinned: ratio portreg/nginx (median requests/s): %.3f  (reported)\n", o / n
  printf "pinned: p99 portreg %.3f ms, nginx %.3f ms  (bar < 5 ms for portreg)\n", p, q }'
