# serve_common.sh — shared by the server benchmarks (sourced, not run): a free loopback port,
# starting `portreg serve` and waiting until it answers, and medians. Expects $portreg and
# $work to be set; bench_serve_pids collects what was started, for the EXIT trap.

bench_serve_pids=()

bench_serve_cleanup() {
  local pid
  for pid in "${bench_serve_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${bench_serve_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}

# A loopback TCP port nobody listens on now (the caller retries if it is taken in between).
bench_free_port() {
  local port
  while :; do
    port=$(shuf -i 20000-29999 -n 1)
    [ -z "$(ss -Htln "sport = :$port")" ] && { echo "$port"; return; }
  done
}

# bench_serve_start PORT ARGS... : portreg serve on 127.0.0.1:PORT in the background, its
# stderr (one log line per request) to $work/serve.PORT.log; sets serve_pid; waits for /healthz.
bench_serve_start() {
  local port=$1
  shift
  "$portreg" serve --listen "127.0.0.1:$port" "$@" 2>"$work/serve.$port.log" &
  serve_pid=$!
  bench_serve_pids+=("$serve_pid")
  local i
  for i in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench: portreg serve did not start:" >&2
  cat "$work/serve.$port.log" >&2
  return 1
}

bench_serve_stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# The median of the numbers on stdin, one a line.
bench_median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The value of KEY=VALUE in a WRK_REPORT / LEASE_REPORT line.
bench_field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
