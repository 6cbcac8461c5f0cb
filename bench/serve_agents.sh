#!/usr/bin/env bash
# serve_agents.sh — issue 11's bar: one `portreg serve` (SQLite, durable) takes reports from
# AGENTS (1,000) simulated agents (bench/agent_load.py: ~200 sockets each, one change per
# interval, gzip deltas) at a 10 s interval. Prints the sustained reports/s and latency (from
# the load generator), the server's CPU (cores busy = CPU seconds / wall seconds, from
# /proc/PID/stat) and peak RSS (VmHWM), and the time from a report with a new listener to the
# listener showing in GET /api/v1/drift (measured over DRIFT_SAMPLES reports during the load).
# usage: bench/serve_agents.sh [PATH/TO/portreg]   (AGENTS, SOCKETS, INTERVAL, DURATION)
set -euo pipefail

portreg=$(readlink -f "${1:-build/portreg}")
here=$(cd "$(dirname "$0")" && pwd)
agents=${AGENTS:-1000} sockets=${SOCKETS:-200} interval=${INTERVAL:-10} duration=${DURATION:-60}
drift_samples=${DRIFT_SAMPLES:-20}
work=$(mktemp -d /tmp/portreg-bench-agents.XXXXXX)
# shellcheck source=bench/serve_common.sh
. "$here/serve_common.sh"
trap bench_serve_cleanup EXIT
export PORTREG_STATE_DIR="$work/state"

admin=$("$portreg" serve token create --role admin --name bench)
port=$(bench_free_port)
bench_serve_start "$port"
url="http://127.0.0.1:$port"
# the hosts the agents report for (agent-0000 ...), through the API
seq 0 $((agents - 1)) | xargs -P 8 -I{} sh -c 'printf "{\"name\":\"agent-%04d\",\"addresses\":{\"internal\":\"10.9.%d.%d\"}}" {} $(({} / 250)) $(({} % 250 + 1)) |
  curl -fs -o /dev/null -H "Authorization: Bearer '"$admin"'" -H "Content-Type: application/json" --data-binary @- '"$url"'/api/v1/hosts'

cpu_seconds() {   # utime + stime of the server, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$serve_pid/stat"
}

# drift latency probe: a host of its own, reported with a new listener, then drift polled
curl -fs -o /dev/null -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  --data-binary '{"name":"probe","addresses":{"internal":"10.8.0.1"}}' "$url/api/v1/hosts"
probe() {
  local seq=1 i start end lat=()
  curl -fs -o /dev/null -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    --data-binary '{"host":"probe","seq":1,"full":true,"agent":{"interval_s":10},"listeners":[]}' "$url/api/v1/observations"
  for i in $(seq 1 "$drift_samples"); do
    sleep $((duration / (drift_samples + 2)))
    start=$(date +%s%N)
    curl -fs -o /dev/null -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
      --data-binary "{\"host\":\"probe\",\"seq\":$((seq + 1)),\"full\":false,\"base\":$seq,\"added\":[{\"proto\":\"tcp\",\"local_address\":\"0.0.0.0\",\"local_port\":$((40000 + i)),\"netns\":\"host\",\"process\":\"probe\",\"pid\":1,\"user\":\"root\",\"unit\":null,\"container\":null,\"exposure\":\"all-ipv4\"}],\"removed\":[]}" \
      "$url/api/v1/observations"
    seq=$((seq + 1))
    until curl -fs -H "Authorization: Bearer $admin" "$url/api/v1/drift?host=probe" |
        jq -e --argjson p $((40000 + i)) '[.hosts[0].items[] | select(.port == $p and .kind == "undeclared")] | length == 1' >/dev/null; do
      sleep 0.001
    done
    end=$(date +%s%N)
    lat+=("$(( (end - start) / 1000 ))")
  done
  printf '%s\n' "${lat[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "drift latency: report of a new listener → shown in /api/v1/drift: median %.1f ms, max %.1f ms (%d samples, curl and jq included)\n", v[int((NR + 1) / 2)] / 1000, v[NR] / 1000, NR }'
}

cpu0=$(cpu_seconds) t0=$(date +%s.%N)
probe >"$work/probe.out" &
probe_pid=$!
python3 "$here/agent_load.py" --server "$url" --token "$admin" --agents "$agents" --sockets "$sockets" \
  --interval "$interval" --duration "$duration"
cpu1=$(cpu_seconds) t1=$(date +%s.%N)
wait "$probe_pid"
cat "$work/probe.out"
rss=$(awk '/VmHWM/ { print $2 / 1024 }' "/proc/$serve_pid/status")
awk -v c0="$cpu0" -v c1="$cpu1" -v t0="$t0" -v t1="$t1" -v rss="$rss" 'BEGIN {
  printf "server: %.2f CPU s in %.1f s wall = %.2f cores busy (bar: <= 1); peak RSS %.1f MB\n", c1 - c0, t1 - t0, (c1 - c0) / (t1 - t0), rss }'
