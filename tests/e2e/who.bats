#!/usr/bin/env bats
# who.bats — `portreg who`: the sockets on a port, the verdict line, names, exit codes.
load helpers

setup() {
  portreg_setup
  use_iana_fixture
}

teardown() { stop_sockholds; }

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

@test "bad input exits 2" {
  run --separate-stderr -2 "$PORTREG" who 70000
  [[ "$stderr" == *"out of range"* ]]
  run --separate-stderr -2 "$PORTREG" who nosuchservicename
  [[ "$stderr" == *'unknown service name'* ]]
  run --separate-stderr -2 "$PORTREG" who
}

@test "who shows a hostile process name escaped, on a terminal, piped and in JSON" {
  start_sockhold --comm "$HOSTILE_COMM" tcp4:127.0.0.1:0
  "$PORTREG" who "${PORTS[0]}" >"$BATS_TEST_TMPDIR/plain"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/plain"
  grep -qF "listening: $HOSTILE_COMM_ESCAPED (pid $SOCKHOLD_PID)" "$BATS_TEST_TMPDIR/plain"
  run_on_tty who "${PORTS[0]}"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/tty.out"
  grep -qF "listening: $HOSTILE_COMM_ESCAPED (pid $SOCKHOLD_PID)" "$BATS_TEST_TMPDIR/tty.out"
  run -0 "$PORTREG" who --json "${PORTS[0]}"
  echo "$output" | jq -e --arg n "$HOSTILE_COMM_ESCAPED" '[.sockets[].processes[].name] == [$n]'
  start_sockhold --comm "$FORGING_COMM" tcp4:127.0.0.1:0
  "$PORTREG" who "${PORTS[0]}" >"$BATS_TEST_TMPDIR/plain"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/plain"
  grep -qF "listening: $FORGING_COMM_ESCAPED (pid $SOCKHOLD_PID)" "$BATS_TEST_TMPDIR/plain"
}
