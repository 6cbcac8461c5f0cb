#!/usr/bin/env bash
# scan.sh PORTREG — the scanner benchmarks of BENCHMARKS.md against nmap, in the same run, inside
# a network namespace of their own (root), so the ground truth is exactly the listeners made here:
#   1. every TCP port of 127.0.0.1 with 100 accepting listeners on random ports:
#      portreg -sS vs nmap -sS -p- -T5 -n -Pn, and portreg -sT vs nmap -sT (bar <= 0.5 each);
#      every run of every tool must report exactly the 100 ports open, or the benchmark stops
#   2. 127.0.1.0/24 x the top 1000 ports (nmap's list, given to both), listeners on some
#      addresses: portreg -sS vs nmap -sS (bar <= 0.5), same open set
#   3. peak RSS of portreg for the /24 x 1000 ports and a /16 x 2 ports (memory stays flat)
# Rounds alternate the order of the tools; medians over all rounds.
set -euo pipefail
portreg=$(realpath "${1:?path to the portreg binary}")
build=$(dirname "$portreg")
rounds=${ROUNDS:-5}
command -v nmap >/dev/null || { echo "bench: skipped: nmap is not installed" >&2; exit 0; }
[ "$(id -u)" -eq 0 ] || { echo "bench: skipped: needs root (raw sockets, a namespace)" >&2; exit 0; }
work=$(mktemp -d)
ns="prbench-scan-$$"
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  ip netns delete "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

# 100 accepting listeners on random distinct ports of 127.0.0.1, plus a few on 127.0.1.x
shuf -i 1-65535 -n 100 | sort -n >"$work/truth"
specs=()
while read -r p; do specs+=("tcp4:127.0.0.1:$p"); done <"$work/truth"
for a in 5 77 200; do for p in 22 80 443 3306; do specs+=("tcp4:127.0.1.$a:$p"); done; done
# not through the function: $! must be the server itself (ip netns exec execs it) for the cleanup
ip netns exec "$ns" "$build/tests/echoserve" "${specs[@]}" >"$work/server" 2>&1 &
server=$!
until grep -q ready "$work/server"; do sleep 0.1; done
printf '127.0.1.%s %s\n' 5 22 5 80 5 443 5 3306 77 22 77 80 77 443 77 3306 200 22 200 80 200 443 200 3306 \
  | sort >"$work/truth24"

# open ports found by each tool, "ADDRESS PORT" per line
portreg_open() { jq -r '.hosts[] | .address as $a | .ports[] | select(.state == "open") | "\($a) \(.port)"' "$1" | sort; }
nmap_open() { grep -o 'Host: [0-9.]*.*Ports: .*' "$1" | awk '{addr=$2; sub(/.*Ports: /, ""); n=split($0, f, ", "); for (i = 1; i <= n; i++) { split(f[i], q, "/"); if (q[2] == "open") print addr, q[1] } }' | sort; }

# time_run NAME CHECK-FILE COMMAND... : run, record wall time and peak RSS, verify
declare -A times
time_run() {
  local name=$1 out=$2; shift 2
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || {
    status=$?; [ "$status" -eq 1 ] || { cat "$work/err" >&2; echo "bench: $name failed" >&2; exit 1; }; }
  read -r seconds rss < <(tail -1 "$work/time")   # "Command exited with non-zero status" comes first
  times[$name]="${times[$name]:-} $seconds"
  echo "$rss" >"$work/rss.$name"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

check_set() {   # NAME GOT EXPECTED
  if ! diff -q "$2" "$3" >/dev/null; then
    echo "bench: $1 reported a different open set:" >&2
    diff "$2" "$3" | head -10 >&2
    exit 1
  fi
}

full_tools=(portreg-syn nmap-syn portreg-connect nmap-connect)

echo "== 1. all 65535 TCP ports of 127.0.0.1, 100 accepting listeners; $rounds rounds"
sed 's/^/127.0.0.1 /' "$work/truth" | sort >"$work/truth1"
for r in $(seq 1 "$rounds"); do
  order=("${full_tools[@]}")
  [ $((r % 2)) -eq 0 ] && order=(nmap-connect portreg-connect nmap-syn portreg-syn)
  for t in "${order[@]}"; do
    case $t in
      portreg-syn)
        time_run "$t" - ip netns exec "$ns" sh -c "'$portreg' scan -sS -p- --no-progress --json 127.0.0.1 >'$work/p.json'"
        portreg_open "$work/p.json" >"$work/got" ;;
      portreg-connect)
        time_run "$t" - ip netns exec "$ns" sh -c "'$portreg' scan -sT -p- --no-progress --json 127.0.0.1 >'$work/p.json'"
        portreg_open "$work/p.json" >"$work/got" ;;
      nmap-syn)
        time_run "$t" - ip netns exec "$ns" nmap -sS -p- -T5 -n -Pn -oG "$work/n.txt" 127.0.0.1
        nmap_open "$work/n.txt" >"$work/got" ;;
      nmap-connect)
        time_run "$t" - ip netns exec "$ns" nmap -sT -p- -T5 -n -Pn -oG "$work/n.txt" 127.0.0.1
        nmap_open "$work/n.txt" >"$work/got" ;;
    esac
    check_set "$t (round $r)" "$work/got" "$work/truth1"
  done
done
for t in "${full_tools[@]}"; do
  printf '%-16s median %.3f s  (runs:%s)\n' "$t" "$(echo "${times[$t]}" | median)" "${times[$t]}"
done
syn_ratio=$(awk -v a="$(echo "${times[portreg-syn]}" | median)" -v b="$(echo "${times[nmap-syn]}" | median)" 'BEGIN {printf "%.2f", a / b}')
connect_ratio=$(awk -v a="$(echo "${times[portreg-connect]}" | median)" -v b="$(echo "${times[nmap-connect]}" | median)" 'BEGIN {printf "%.2f", a / b}')
echo "ratio portreg -sS / nmap -sS: $syn_ratio (bar <= 0.5); portreg -sT / nmap -sT: $connect_ratio (bar <= 0.5)"
echo "every run of every tool found exactly the 100 listeners"

echo "== 2. 127.0.1.0/24 x top 1000 ports (nmap's list for both); $rounds rounds"
ports=$(nmap -sS --top-ports 1000 -oX - -n -Pn 127.0.0.1 2>/dev/null | grep -o ' services="[^"]*"' | head -1 | cut -d'"' -f2)
[ -n "$ports" ] || { echo "bench: cannot read nmap's top 1000 ports" >&2; exit 1; }
for r in $(seq 1 "$rounds"); do
  order=(portreg-24 nmap-24)
  [ $((r % 2)) -eq 0 ] && order=(nmap-24 portreg-24)
  for t in "${order[@]}"; do
    if [ "$t" = portreg-24 ]; then
      time_run "$t" - ip netns exec "$ns" sh -c "'$portreg' scan -sS -p '$ports' --no-progress --json 127.0.1.0/24 >'$work/p.json'"
      portreg_open "$work/p.json" >"$work/got"
    else
      time_run "$t" - ip netns exec "$ns" nmap -sS -p "$ports" -T5 -n -Pn -oG "$work/n.txt" 127.0.1.0/24
      nmap_open "$work/n.txt" >"$work/got"
    fi
    check_set "$t (round $r)" "$work/got" "$work/truth24"
  done
done
for t in portreg-24 nmap-24; do
  printf '%-16s median %.3f s  (runs:%s)\n' "$t" "$(echo "${times[$t]}" | median)" "${times[$t]}"
done
net_ratio=$(awk -v a="$(echo "${times[portreg-24]}" | median)" -v b="$(echo "${times[nmap-24]}" | median)" 'BEGIN {printf "%.2f", a / b}')
echo "ratio portreg / nmap on the /24: $net_ratio (bar <= 0.5); same open set (12 ports) in every run"

echo "== 3. memory (peak RSS)"
echo "portreg /24 x 1000 ports (256,000 probes): $(cat "$work/rss.portreg-24") KiB; nmap: $(cat "$work/rss.nmap-24") KiB"
time_run portreg-16 - ip netns exec "$ns" sh -c "'$portreg' scan -sS -p 80,443 --no-progress --json 127.1.0.0/16 >/dev/null"
echo "portreg /16 x 2 ports (131,072 probes): $(cat "$work/rss.portreg-16") KiB in $(echo "${times[portreg-16]}" | median) s"
time_run portreg-1 - ip netns exec "$ns" sh -c "'$portreg' scan -sS -p 80,443 --no-progress --json 127.1.0.1 >/dev/null"
echo "portreg 1 host x 2 ports: $(cat "$work/rss.portreg-1") KiB"
