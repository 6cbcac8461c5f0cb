#!/usr/bin/env bash
# plan_check.sh PORTREG [SIZES...] — `portreg plan check` on generated plans of 10,000, 40,000
# and 100,000 services (default sizes; generated here with a fixed seed, never committed):
# one host per 10 services, groups of 50 hosts, 1 in 8 services on a group, 1 in 20 with
# `port: auto`, two ports each, random static ports (so there are real bind conflicts).
# Prints wall time (hyperfine median when installed, else one timed run) and peak memory
# (/usr/bin/time -v maximum resident set size) per size. Exit status 1 of `plan check`
# (the plan has errors) is the answer, not a failure.
set -euo pipefail
portreg=$(realpath "${1:?path to the portreg binary}")
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 40000 100000)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PORTREG_STATE_DIR="$work/state"

# generate SERVICES FILE: the plan (awk: no dependency beyond the base system)
generate() {
  awk -v services="$1" 'BEGIN {
    srand(42)
    hosts = int(services / 10); if (hosts < 10) hosts = 10
    groups = int((hosts + 49) / 50)
    print "policy:\n  static: 1024-49151\n  auto: 20000-29999\n  exclude: [30000-32767]"
    print "  allow_iana_assigned: true\nhosts:"
    for (h = 0; h < hosts; h++) {
      printf "  - name: h%d\n    addresses: {internal: 10.%d.%d.%d}\n", h, int(h / 62500) % 250, int(h / 250) % 250, h % 250 + 1
      printf "    groups: [g%d]\n    ephemeral: 32768-60999\n", h % groups
    }
    print "services:"
    for (s = 0; s < services; s++) {
      printf "  - name: svc%d\n", s
      if (s % 8 == 7) printf "    hosts: [g%d]\n", s % groups
      else printf "    hosts: [h%d]\n", int(rand() * hosts)
      if (s % 20 == 19) print "    port: auto"
      else printf "    ports: [%d/tcp, %d/udp]\n", 1024 + int(rand() * 36000), 1024 + int(rand() * 36000)
      printf "    bind: %s\n    exposure: internal\n    sources: [10.0.0.0/8]\n", s % 3 ? "internal" : "any"
    }
  }' >"$2"
}

for n in "${sizes[@]}"; do
  plan="$work/plan$n.yaml"
  generate "$n" "$plan"
  echo "== plan check, $n services ($(wc -c <"$plan") bytes of YAML)"
  # one run under /usr/bin/time: the old quadratic checker took minutes at 100k
  /usr/bin/time -v -o "$work/time$n" "$portreg" plan check "$plan" >"$work/out$n" 2>&1 || true
  tail -n 1 "$work/out$n"
  awk -F': ' '/Elapsed \(wall clock\)/ { print "wall (one run): " $2 }
              /Maximum resident set size/ { printf "peak memory: %.1f MB\n", $2 / 1024 }' "$work/time$n"
  if command -v hyperfine >/dev/null; then
    hyperfine -N -i --warmup 1 --runs "${RUNS:-5}" --export-json "$work/h$n.json" \
      "$portreg plan check $plan" >/dev/null 2>&1
    jq -r '.results[0] | "wall: median \(.median * 1000 | round) ms over \(.times | length) runs"' "$work/h$n.json"
  fi
done
