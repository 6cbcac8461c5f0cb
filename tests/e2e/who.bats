#!/usr/bin/env bats
# who.bats — `portreg who`: the sockets on a port, the verdict line, names, exit codes.
load helpers

setup() {
  portreg_setup
  use_iana_fixture
}

teardown() { stop_sockholds; netns_teardown; }

@test "who PORT names the holder, the address and the exposure; exit 0" {
  start_sockhold tcp4:127.0.0.1:0
  run -0 "$PORTREG" who "${PORTS[0]}"
  [[ "$output" == *"tcp ${PORTS[0]} listening: sockhold (pid $SOCKHOLD_PID) on 127.0.0.1 — loopback only"* ]]
}

@test "dual-stack listener: the verdict says every IPv4 and IPv6 address" {
  start_sockhold 'tcp6:[::]:0:dual'
  run -0 "$PORTREG" who "${PORTS[0]}/tcp"
  [[ "$output" == *"on [::] — every IPv4 and IPv6 address (dual-stack)"* ]]
}

@test "who PORT/udp looks only at UDP" {
  start_sockhold udp4:127.0.0.1:0
  run -0 "$PORTREG" who "${PORTS[0]}/udp"
  [[ "$output" == *"udp ${PORTS[0]} bound: sockhold"* ]]
  run -1 "$PORTREG" who "${PORTS[0]}/tcp"
}

@test "a free port: nothing holds it, exit 1" {
  start_sockhold tcp4:127.0.0.1:0
  port=${PORTS[0]}
  stop_sockholds; sleep 0.2
  run -1 "$PORTREG" who "$port"
  [ "$output" = "nothing holds $port" ]
  run -1 "$PORTREG" who --json "$port"
  echo "$output" | jq -e '.sockets == []'
}

@test "a service name is resolved through the registry" {
  if "$PORTREG" who 3306 >/dev/null 2>&1; then skip "3306 in use on this host"; fi
  start_sockhold tcp4:127.0.0.1:3306
  run -0 "$PORTREG" who mysql
  [[ "$output" == *"tcp 3306 listening: sockhold"* ]]
}

@test "connections on the port are shown with the listener" {
  start_sockhold tcp4:127.0.0.1:0
  exec 9<>"/dev/tcp/127.0.0.1/${PORTS[0]}"
  run -0 "$PORTREG" who --json "${PORTS[0]}"
  exec 9>&-
  echo "$output" | jq -e '[.sockets[].state] | sort == ["ESTAB", "LISTEN"]'
}

@test "piped: stdout is the tab-separated rows only; the verdicts go to stderr, in words that agree" {
  start_sockhold tcp4:127.0.0.1:0
  exec 9<>"/dev/tcp/127.0.0.1/${PORTS[0]}"
  run --separate-stderr -0 "$PORTREG" who "${PORTS[0]}"
  exec 9>&-
  echo "$output"; echo "$stderr"
  [ "${#lines[@]}" -eq 2 ]
  [ "$(echo "$output" | awk -F'\t' 'NF != 9' | wc -l)" -eq 0 ]
  [[ "$output" != *"listening:"* ]]
  [[ "$stderr" == *"tcp ${PORTS[0]} listening: sockhold (pid $SOCKHOLD_PID) on 127.0.0.1"* ]]
  [[ "$stderr" == *"1 connection uses the port"* ]]
  # a free port: nothing on stdout, the sentence on stderr, exit 1
  run --separate-stderr -1 "$PORTREG" who 1
  [ -z "$output" ]
  [ "$stderr" = "nothing holds 1" ]
  # on a terminal the verdict stays under the table
  run_on_tty who "${PORTS[0]}"
  grep -q "^tcp ${PORTS[0]} listening: sockhold" "$BATS_TEST_TMPDIR/tty.out"
  head -1 "$BATS_TEST_TMPDIR/tty.out" | grep -q '^PROTO'
}

@test "bad input exits 2" {
  run --separate-stderr -2 "$PORTREG" who 70000
  [[ "$stderr" == *"out of range"* ]]
  run --separate-stderr -2 "$PORTREG" who nosuchservicename
  [[ "$stderr" == *'unknown service name'* ]]
  run --separate-stderr -2 "$PORTREG" who
}

@test "who -N is an open range without --; a bad one is named as typed" {
  start_sockhold tcp4:127.0.0.1:0
  run -0 "$PORTREG" who -65535
  [[ "$output" == *"tcp ${PORTS[0]} listening: sockhold (pid $SOCKHOLD_PID)"* ]]
  run --separate-stderr -2 "$PORTREG" who -10x
  [ "${stderr%%$'\n'*}" = 'portreg: who: "-10x": column 4: unexpected character '"'x'" ]
  run --separate-stderr -2 "$PORTREG" who --all-netns -10 -70000
  [[ "$stderr" == *'"-70000": column 2: port "70000" is out of range'* ]]
}

# portreg as nobody: a copy of the binary in a world-readable temp dir (the checkout may be in
# a folder nobody cannot enter) and a state directory nobody can write.
nobody_setup() {
  prepare_nobody_portreg
  command -v ip >/dev/null || skip "needs iproute2"
  mkdir -m 777 "$NOBODY_DIR/state"
}
portreg_as_nobody() {
  as_nobody env PORTREG_STATE_DIR="$NOBODY_DIR/state" "$NOBODY_PORTREG" "$@"
}
# A listener in a network namespace of its own; sets NS_PORT.
listener_in_new_netns() {
  WHO_NS="portreg-who-$$-${BATS_TEST_NUMBER}"
  ip netns add "$WHO_NS" || skip "cannot create a network namespace"
  ip -n "$WHO_NS" link set lo up
  local out="$BATS_TEST_TMPDIR/inner"
  ip netns exec "$WHO_NS" "$SOCKHOLD" tcp4:127.0.0.1:0 >"$out" 2>&1 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/ns-holders"
  until grep -q ready "$out" 2>/dev/null; do sleep 0.05; done
  NS_PORT=$(awk '$1 == "socket" {print $4}' "$out")
}
netns_teardown() {
  if [ -f "$BATS_TEST_TMPDIR/ns-holders" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$BATS_TEST_TMPDIR/ns-holders"
  fi
  [ -n "${WHO_NS:-}" ] && ip netns delete "$WHO_NS" 2>/dev/null || true
  remove_nobody_dirs
  return 0
}

@test "--all-netns unprivileged: namespaces it cannot enter are said, and 'nothing' is not the answer (exit 3)" {
  nobody_setup
  listener_in_new_netns
  run -0 "$PORTREG" who --all-netns "$NS_PORT"
  [[ "$output" == *"sockhold"* ]]
  run --separate-stderr -3 portreg_as_nobody who --all-netns "$NS_PORT"
  echo "$stderr" >&2
  [[ "$stderr" =~ "portreg: who: could not enter "[0-9]+" network namespace"s?" (permission denied; run as root)" ]]
  [ -z "$output" ]   # piped: the sentence is on stderr
  [[ "$stderr" != *"nothing holds $NS_PORT"$'\n'* ]]
  [[ "$stderr" == *"nothing holds $NS_PORT in the network namespaces that could be searched; not every one could"* ]]
  run --separate-stderr -3 portreg_as_nobody who --all-netns --json "$NS_PORT"
  echo "$output" | jq -e '.sockets == []'
  # without --all-netns the answer is about this namespace only, and complete
  run --separate-stderr -1 portreg_as_nobody who "$NS_PORT"
  [ -z "$output" ]
  [ "${stderr_lines[-1]}" = "nothing holds $NS_PORT" ]
  netns_teardown
}

@test "who shows a hostile process name escaped, on a terminal, piped and in JSON" {
  start_sockhold --comm "$HOSTILE_COMM" tcp4:127.0.0.1:0
  # piped, the verdict is on stderr
  "$PORTREG" who "${PORTS[0]}" >"$BATS_TEST_TMPDIR/plain" 2>"$BATS_TEST_TMPDIR/plain.err"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/plain"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/plain.err"
  grep -qF "$HOSTILE_COMM_ESCAPED" "$BATS_TEST_TMPDIR/plain"
  grep -qF "listening: $HOSTILE_COMM_ESCAPED (pid $SOCKHOLD_PID)" "$BATS_TEST_TMPDIR/plain.err"
  run_on_tty who "${PORTS[0]}"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/tty.out"
  grep -qF "listening: $HOSTILE_COMM_ESCAPED (pid $SOCKHOLD_PID)" "$BATS_TEST_TMPDIR/tty.out"
  run -0 "$PORTREG" who --json "${PORTS[0]}"
  echo "$output" | jq -e --arg n "$HOSTILE_COMM_ESCAPED" '[.sockets[].processes[].name] == [$n]'
  start_sockhold --comm "$FORGING_COMM" tcp4:127.0.0.1:0
  "$PORTREG" who "${PORTS[0]}" >"$BATS_TEST_TMPDIR/plain" 2>"$BATS_TEST_TMPDIR/plain.err"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/plain"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/plain.err"
  grep -qF "listening: $FORGING_COMM_ESCAPED (pid $SOCKHOLD_PID)" "$BATS_TEST_TMPDIR/plain.err"
}
