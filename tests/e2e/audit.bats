#!/usr/bin/env bats
# audit.bats — `portreg audit` against real sockets: each test builds the situation inside a
# fresh network namespace (its own sockets and port sysctls), with the sockhold helper (a
# second copy of it under another name plays a different program) and the timewait helper,
# and checks the finding's id, severity, evidence, the exit status and the JSON.
load helpers

setup() {
  need_root
  command -v ip >/dev/null || skip "needs iproute2"
  portreg_setup
  use_iana_fixture
  NS="portreg-audit-$$-${BATS_TEST_NUMBER}"
  ip netns add "$NS" || skip "cannot create a network namespace"
  ip -n "$NS" link set lo up
  OTHERHOLD="$BATS_TEST_TMPDIR/otherhold"
  cp "$SOCKHOLD" "$OTHERHOLD"
}

teardown() {
  stop_sockholds
  [ -n "${NS:-}" ] && ip netns delete "$NS" 2>/dev/null || true
}

in_ns() { ip netns exec "$NS" "$@"; }

# hold PROGRAM SPEC...: run a holder inside the namespace until teardown.
hold() {
  local program=$1; shift
  local out="$BATS_TEST_TMPDIR/hold.$RANDOM"
  ip netns exec "$NS" "$program" "$@" >"$out" 2>&1 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  local waited=0
  until grep -q '^ready' "$out" 2>/dev/null; do
    sleep 0.05; waited=$((waited + 1))
    if [ "$waited" -gt 200 ] || ! kill -0 $! 2>/dev/null; then cat "$out" >&2; return 1; fi
  done
}

# in_ns_on_tty ARG...: portreg ARG... inside the namespace on a terminal (script's pty), colour
# off; the output without the pty's carriage returns in $BATS_TEST_TMPDIR/tty.out.
in_ns_on_tty() {
  command -v script >/dev/null || skip "needs script (bsdutils)"
  local cmd="ip netns exec '$NS' '$PORTREG' --color never" arg
  for arg in "$@"; do cmd+=" '$arg'"; done
  script -qec "$cmd" /dev/null </dev/null | tr -d '\r' >"$BATS_TEST_TMPDIR/tty.out"
}

sysctl_ns() { in_ns sh -c "echo '$2' > /proc/sys/net/ipv4/$1"; }

@test "a clean namespace has no findings: exit 0" {
  hold "$SOCKHOLD" tcp4:127.0.0.1:5432 tcp6:[::1]:5432
  run --separate-stderr -0 in_ns "$PORTREG" audit
  [ -z "$output" ]   # piped: no rows; the summary is on stderr
  [ "$stderr" = "no findings at or above low (2 sockets, 2 listeners examined)" ]
  in_ns_on_tty audit
  [ "$(cat "$BATS_TEST_TMPDIR/tty.out")" = "no findings at or above low (2 sockets, 2 listeners examined)" ]
  run -0 in_ns "$PORTREG" audit --json
  echo "$output" | jq -e '.findings == [] and .listeners_examined == 2 and .min_severity == "low"'
}

@test "one socket is one socket: the summary's counts agree with their nouns" {
  hold "$SOCKHOLD" tcp4:127.0.0.1:5432
  run -0 in_ns "$PORTREG" audit
  [ "$output" = "no findings at or above low (1 socket, 1 listener examined)" ]
}

@test "a database on every address is a high finding with the holder and the fix" {
  hold "$SOCKHOLD" tcp4:0.0.0.0:3306
  in_ns_on_tty audit
  cat "$BATS_TEST_TMPDIR/tty.out"
  output=$(cat "$BATS_TEST_TMPDIR/tty.out")
  [[ "$output" == "1 finding at or above low (1 high; "* ]]
  [[ "$output" == *"HIGH    internal-exposed  tcp 0.0.0.0:3306"* ]]
  [[ "$output" == *"MySQL listens on every IPv4 address (0.0.0.0:3306)"* ]]
  [[ "$output" == *"sockhold (pid "*"(IANA: mysql)"* ]]
  [[ "$output" == *"bind-address = 127.0.0.1"* ]]
  # piped: one tab-separated row per finding, no header, no paragraphs; the summary on stderr
  run --separate-stderr -1 in_ns "$PORTREG" audit
  echo "$output"
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == $'high\tinternal-exposed\ttcp\t0.0.0.0:3306\tMySQL listens on every IPv4 address (0.0.0.0:3306)\t'*"sockhold (pid "*$'\t'*"bind-address = 127.0.0.1"* ]]
  [ "$(echo "$output" | awk -F'\t' '{print NF}')" -eq 7 ]
  [[ "$stderr" == "1 finding at or above low (1 high; "* ]]
  run -1 in_ns "$PORTREG" audit --json
  echo "$output" | jq -e '.findings[0] | .id == "internal-exposed" and .severity == "high"
    and .port == 3306 and .sockets[0].processes[0].command == "sockhold"'
  # the same service bound to loopback is fine
  stop_sockholds; rm -f "$BATS_TEST_TMPDIR/holders"
  hold "$SOCKHOLD" tcp4:127.0.0.1:3306 tcp6:[::1]:3306
  run -0 in_ns "$PORTREG" audit
}

@test "a listener inside the unreserved ephemeral range, and the reservation that fixes it" {
  sysctl_ns ip_local_port_range "40000 40100"
  hold "$SOCKHOLD" tcp4:127.0.0.1:40050 tcp6:[::1]:40050
  run -1 in_ns "$PORTREG" audit --json
  echo "$output" | jq -e '[.findings[] | select(.id == "ephemeral-listener")] | length == 1'
  echo "$output" | jq -e '.findings[] | select(.id == "ephemeral-listener") | .severity == "medium"
    and (.fix | contains("ip_local_reserved_ports=40050"))'
  # apply the suggested fix: the finding goes away
  sysctl_ns ip_local_reserved_ports 40050
  run -0 in_ns "$PORTREG" audit
}

@test "SO_REUSEPORT shared by two different programs is high; by one program it is fine" {
  hold "$SOCKHOLD" tcp4:0.0.0.0:9000:reuseport tcp4:0.0.0.0:9001:reuseport
  hold "$OTHERHOLD" tcp4:0.0.0.0:9000:reuseport
  hold "$SOCKHOLD" tcp4:0.0.0.0:9001:reuseport
  run -1 in_ns "$PORTREG" audit --json
  echo "$output"
  echo "$output" | jq -e '[.findings[] | select(.id == "reuseport-mixed")] | length == 1'
  echo "$output" | jq -e '.findings[] | select(.id == "reuseport-mixed") | .port == 9000
    and (.sockets | length == 2) and ([.sockets[].processes[0].command] | sort == ["otherhold", "sockhold"])'
}

@test "IPv4 and IPv6 of one port held by different programs is a dual-stack finding" {
  hold "$SOCKHOLD" tcp6:[::]:7000:v6only
  hold "$OTHERHOLD" tcp4:0.0.0.0:7000
  run -1 in_ns "$PORTREG" audit
  echo "$output"
  [[ "$output" == *$'medium\tdual-stack-split\ttcp\t*:7000\t'* ]]
  [[ "$output" == *"0.0.0.0:7000 is held by otherhold"*"[::]:7000 by sockhold"* ]]
}

@test "localhost on one family only is an info finding, hidden at the default level" {
  hold "$SOCKHOLD" tcp4:127.0.0.1:7100
  run -0 in_ns "$PORTREG" audit
  run -1 in_ns "$PORTREG" audit --min-severity info
  [[ "$output" == *$'info\tloopback-one-family\ttcp\t127.0.0.1:7100\t'* ]]
  [[ "$output" == *"nothing on [::1]:7100"* ]]
}

@test "a system port held by another program than IANA's is a registry mismatch" {
  hold "$SOCKHOLD" tcp4:127.0.0.1:22 tcp6:[::1]:22
  run -1 in_ns "$PORTREG" audit --json
  echo "$output" | jq -e '.findings[] | select(.id == "registry-mismatch") | .port == 22 and .severity == "low"
    and (.title | contains("registered to ssh but held by sockhold"))'
}

@test "a pile of TIME_WAIT on a server port, from real connections the server closed first" {
  [ -x "${TIMEWAIT:-}" ] || skip "TIMEWAIT (the timewait test helper) is not set"
  hold "$TIMEWAIT" 127.0.0.1 8080 60
  run -0 in_ns "$PORTREG" audit --min-severity medium
  run -1 in_ns "$PORTREG" audit --time-wait-threshold 50 --json
  echo "$output"
  echo "$output" | jq -e '.findings[] | select(.id == "time-wait-pile") | .port == 8080 and .severity == "medium"
    and (.title | test("^[0-9]+ connections in TIME_WAIT on server port 8080$"))'
  count=$(echo "$output" | jq -r '.findings[] | select(.id == "time-wait-pile") | .title' | cut -d' ' -f1)
  [ "$count" -ge 50 ] && [ "$count" -le 60 ]
}

@test "reserved ports nobody listens on are reported as ranges with the release command" {
  sysctl_ns ip_local_reserved_ports "5000-5003,7000"
  hold "$SOCKHOLD" tcp4:127.0.0.1:5002 tcp6:[::1]:5002
  run -1 in_ns "$PORTREG" audit --json
  echo "$output"
  echo "$output" | jq -e '[.findings[] | select(.id == "reserved-unused") | [.port, .port_last]]
    == [[5000, 5001], [5003, 5003], [7000, 7000]]'
  echo "$output" | jq -e '.findings[] | select(.id == "reserved-unused" and .port == 7000)
    | .fix | contains("ip_local_reserved_ports=5000-5003 ")'
}

@test "--min-severity filters the report and the exit status" {
  hold "$SOCKHOLD" tcp4:127.0.0.1:22 tcp6:[::1]:22
  run -1 in_ns "$PORTREG" audit --min-severity low
  run -0 in_ns "$PORTREG" audit --min-severity medium
  [[ "$output" == "no findings at or above medium"* ]]
  run -0 in_ns "$PORTREG" audit --min-severity HIGH --json
  echo "$output" | jq -e '.findings == [] and .counts.low == 1'
}

@test "bad arguments name the argument and exit 2" {
  run -2 "$PORTREG" audit --min-severity critical
  [[ "$output" == *'--min-severity "critical": expected info, low, medium or high'* ]]
  run -2 "$PORTREG" audit --time-wait-threshold 0
  [[ "$output" == *'--time-wait-threshold "0"'* ]]
  run -2 "$PORTREG" audit extra
  [[ "$output" == *'unexpected argument "extra"'* ]]
  run -0 "$PORTREG" audit --help
  [[ "$output" == "usage: portreg audit"* ]]
}
