#!/usr/bin/env bats
# suggest.bats — `portreg suggest`: ports that are free and unassigned in the fixture registry,
# the same port for the same NAME, live sockets (also in another network namespace) skipped,
# --range/--count/--proto/--json, exclude files, --reserve inside a test network namespace,
# --persist into a test sysctl.d directory, exit codes.
load helpers

setup() {
  portreg_setup
  use_iana_fixture
  export PORTREG_SUGGEST_EXCLUDE=/dev/null   # never the host's /etc/portreg/suggest.conf
  NS="portreg-suggest-$$"
}

teardown() {
  stop_sockholds
  remove_nobody_dirs
  ip netns del "$NS" 2>/dev/null || true
}

need_netns() {
  need_root
  command -v ip >/dev/null || skip "ip (iproute2) not installed"
  ip netns add "$NS" || skip "cannot create a network namespace"
  ip -n "$NS" link set lo up
}

# start_sockhold, inside the test namespace (ip netns exec execs, so the pid is sockhold's).
start_sockhold_in_netns() {
  local out="$BATS_TEST_TMPDIR/sockhold-ns.$RANDOM" waited=0
  ip netns exec "$NS" "$SOCKHOLD" "$@" >"$out" 2>&1 &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  until grep -q '^ready' "$out" 2>/dev/null; do
    sleep 0.05
    waited=$((waited + 1))
    if [ "$waited" -gt 100 ]; then cat "$out" >&2; return 1; fi
  done
}

# A port in lo-hi that nothing on the host holds (tcp and udp), for tests that bind one.
free_port_in() {
  "$PORTREG" suggest --this-netns --proto both --range "$1" --allow-assigned
}

@test "the suggested port is free and not assigned at IANA" {
  # 1433 is ms-sql-s in the fixture registry: the first candidate of the range is skipped
  if "$PORTREG" who 1434 >/dev/null 2>&1; then skip "1434 in use on this host"; fi
  run -0 --separate-stderr "$PORTREG" suggest --range 1433-1440
  [ "$output" = "1434" ]
  run -1 "$PORTREG" lookup "$output"
  [[ "$output" == *"not in the registry: unassigned"* ]]
  run -1 "$PORTREG" who 1434
  run -0 --separate-stderr "$PORTREG" suggest --range 1433-1440 --allow-assigned
  [ "$output" = "1433" ] || "$PORTREG" who 1433 >/dev/null
}

@test "the same NAME gives the same port, on every run; case does not matter" {
  run -0 --separate-stderr "$PORTREG" suggest billing-api
  first=$output
  [[ "$first" =~ ^[0-9]+$ ]]
  run -0 --separate-stderr "$PORTREG" suggest billing-api
  [ "$output" = "$first" ]
  run -0 --separate-stderr "$PORTREG" suggest Billing-API
  [ "$output" = "$first" ]
  # outside the ephemeral range, inside the user range
  eph=($(cat /proc/sys/net/ipv4/ip_local_port_range))
  [ "$first" -ge 1024 ] && [ "$first" -le 49151 ]
  [ "$first" -lt "${eph[0]}" ] || [ "$first" -gt "${eph[1]}" ]
  # without a NAME the walk starts at the range start
  run -0 --separate-stderr "$PORTREG" suggest --json --range 20000-20999
  echo "$output" | jq -e '.start == 20000 and .name == null'
}

@test "a port held by a live socket is skipped, per protocol; --verbose says why" {
  port=$(free_port_in 21000-21999)
  start_sockhold "tcp4:127.0.0.1:$port"
  run -0 --separate-stderr "$PORTREG" suggest --range "$port-$((port + 10))" --verbose
  [ "$output" = "$((port + 1))" ]
  [[ "$stderr" == *"skipped $port: in use: tcp LISTEN on 127.0.0.1 by sockhold (pid $SOCKHOLD_PID)"* ]]
  # a TCP listener does not take the UDP port
  run -0 --separate-stderr "$PORTREG" suggest --range "$port-$((port + 10))" --proto udp
  [ "$output" = "$port" ]
  run -0 --separate-stderr "$PORTREG" suggest --range "$port-$((port + 10))" --proto both
  [ "$output" = "$((port + 1))" ]
  run -0 --separate-stderr "$PORTREG" suggest --json --range "$port-$((port + 10))"
  echo "$output" | jq -e --argjson p "$port" \
    '.skipped[0] | .first == $p and .reason == "in-use" and .state == "LISTEN" and .proto == "tcp"'
}

@test "sockets of other network namespaces are checked by default; --this-netns does not" {
  need_netns
  port=$(free_port_in 22000-22999)
  start_sockhold_in_netns "udp4:0.0.0.0:$port"
  run -0 --separate-stderr "$PORTREG" suggest --proto udp --range "$port-$((port + 5))"
  [ "$output" = "$((port + 1))" ]
  run -0 --separate-stderr "$PORTREG" suggest --proto udp --range "$port-$((port + 5))" --this-netns
  [ "$output" = "$port" ]
}

@test "--count, --range and --json; exit 1 when fewer ports are free" {
  run -0 --separate-stderr "$PORTREG" suggest --range 6060-6070 --count 3 --json
  echo "$output" | jq -e '.range == {"first": 6060, "last": 6070} and .count == 3 and .found == 3
                          and .complete == true and (.ports | length) == 3
                          and (.ports | all(. >= 6064))
                          and .skipped[0] == (.skipped[0] + {"first": 6060, "last": 6063,
                                              "reason": "assigned", "service": "x11"})
                          and .proto == "tcp" and .policy.netns == "all"
                          and .policy.registry == true and .reserve == null'
  # 1433 is assigned: nothing in 1433-1433
  run -1 --separate-stderr "$PORTREG" suggest --range 1433-1433
  [ "$output" = "" ]
  [[ "$stderr" == *"only 0 of 1 port free in 1433-1433"* ]]
  run -1 --separate-stderr "$PORTREG" suggest --range 1433-1434 --count 2 --json
  echo "$output" | jq -e '.found <= 1 and .complete == false'
  # the ephemeral range is avoided
  eph=($(cat /proc/sys/net/ipv4/ip_local_port_range))
  run -1 --separate-stderr "$PORTREG" suggest --range "${eph[0]}-$((eph[0] + 3))" --json
  echo "$output" | jq -e --argjson e "${eph[0]}" \
    '.ports == [] and .skipped == [{"first": $e, "last": ($e + 3), "reason": "ephemeral",
                                     "why": "inside the ephemeral range \(.policy.ephemeral.first)-\(.policy.ephemeral.last) (ip_local_port_range)"}]'
}

@test "the exclude file: option, environment, errors at line:column" {
  printf '# ours\n23000-23004  # the cluster\nU:23005\n' >"$BATS_TEST_TMPDIR/exclude"
  run -0 --separate-stderr "$PORTREG" suggest --range 23000-23010 --exclude-file "$BATS_TEST_TMPDIR/exclude"
  [ "$output" = "23005" ] || "$PORTREG" who 23005 >/dev/null
  run -0 --separate-stderr "$PORTREG" suggest --range 23000-23010 --proto both --json \
    --exclude-file "$BATS_TEST_TMPDIR/exclude"
  echo "$output" | jq -e '.skipped[0] | .first == 23000 and .last == 23005 and .reason == "excluded"'
  PORTREG_SUGGEST_EXCLUDE="$BATS_TEST_TMPDIR/exclude" run -1 --separate-stderr "$PORTREG" suggest --range 23000-23004
  printf '8080\n  9000-70000\n' >"$BATS_TEST_TMPDIR/bad"
  run -2 --separate-stderr "$PORTREG" suggest --exclude-file "$BATS_TEST_TMPDIR/bad"
  [[ "$stderr" == *"$BATS_TEST_TMPDIR/bad:2:8: "*"out of range"* ]]
  run -2 --separate-stderr "$PORTREG" suggest --exclude-file "$BATS_TEST_TMPDIR/missing"
  [[ "$stderr" == *"$BATS_TEST_TMPDIR/missing"* ]]
}

@test "--reserve: a port outside the ephemeral range needs no reservation and is not added" {
  need_netns
  host_before=$(cat /proc/sys/net/ipv4/ip_local_reserved_ports)
  ip netns exec "$NS" sysctl -q -w net.ipv4.ip_local_port_range="32768 60999"
  ip netns exec "$NS" sysctl -q -w net.ipv4.ip_local_reserved_ports=20000-20002,30000
  run -0 --separate-stderr ip netns exec "$NS" "$PORTREG" suggest web-frontend --count 2 --reserve
  ports=($output)
  [ "${#ports[@]}" -eq 2 ]
  [[ "$stderr" == "${ports[0]}"[,-]*" are outside the ephemeral range 32768-60999"*"they need no reservation; not added"* ]]
  [ "$(ip netns exec "$NS" cat /proc/sys/net/ipv4/ip_local_reserved_ports)" = "20000-20002,30000" ]
  # the same name gets the same ports again, and a second --reserve adds nothing either
  run -0 --separate-stderr ip netns exec "$NS" "$PORTREG" suggest web-frontend --count 2 --reserve --json
  echo "$output" | jq -e --argjson a "${ports[0]}" --argjson b "${ports[1]}" \
    '.ports == [$a, $b] and .reservation_not_needed == [$a, $b]
     and .reserve.changed == false and .reserve.added == "" and .reserve.before == "20000-20002,30000"'
  [ "$(ip netns exec "$NS" cat /proc/sys/net/ipv4/ip_local_reserved_ports)" = "20000-20002,30000" ]
  [ "$(cat /proc/sys/net/ipv4/ip_local_reserved_ports)" = "$host_before" ]
}

@test "--persist: ports outside the ephemeral range are not written to the drop-in" {
  need_netns
  dir="$BATS_TEST_TMPDIR/sysctl.d"
  mkdir -p "$dir"
  ip netns exec "$NS" sysctl -q -w net.ipv4.ip_local_reserved_ports=20000
  printf 'net.ipv4.ip_local_reserved_ports = 11000-11001\nvm.swappiness = 10\n' \
    >"$dir/99-portreg-reserved-ports.conf"
  cp "$dir/99-portreg-reserved-ports.conf" "$BATS_TEST_TMPDIR/before.conf"
  PORTREG_SYSCTL_DIR="$dir" run -0 --separate-stderr ip netns exec "$NS" "$PORTREG" suggest --range 24000-24100 --persist --json
  port=$(echo "$output" | jq '.ports[0]')
  echo "$output" | jq -e --argjson p "$port" '.persist == null and .reserve == null and .reservation_not_needed == [$p]'
  cmp "$dir/99-portreg-reserved-ports.conf" "$BATS_TEST_TMPDIR/before.conf"
  [ "$(ip netns exec "$NS" cat /proc/sys/net/ipv4/ip_local_reserved_ports)" = "20000" ]
}

@test "--reserve without root: a port that needs no reservation needs no permission either" {
  prepare_nobody_portreg
  run -0 --separate-stderr as_nobody \
    "$NOBODY_PORTREG" suggest --allow-assigned --this-netns --range 26000-26100 --reserve
  [ "$output" = 26000 ]
  [[ "$stderr" == *"26000 is outside the ephemeral range"*"it needs no reservation; not added"* ]]
}

@test "ports IANA marks for unauthorized use are avoided" {
  printf '%s\n' 'Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes' \
    'alpha,23100,tcp,Alpha,,,,,,,,' \
    ',23101-23103,,Unassigned,,,,,,,Unauthorized Use Known on ports 23101-23103,' \
    ',23104-23110,,Unassigned,,,,,,,,' >"$BATS_TEST_TMPDIR/unauth.csv"
  "$PORTREG" registry update --from "$BATS_TEST_TMPDIR/unauth.csv" --force >/dev/null
  run -0 --separate-stderr "$PORTREG" suggest --range 23100-23110 --this-netns -v
  [ "$output" = 23104 ]
  [[ "$stderr" == *"skipped 23101-23103: IANA notes unauthorized use (Unauthorized Use Known on ports 23101-23103)"* ]]
  run -0 "$PORTREG" suggest --range 23100-23110 --this-netns --json
  echo "$output" | jq -e '.skipped[1] | .first == 23101 and .last == 23103 and .reason == "unauthorized-use"
    and .unauthorized_use_reported == "Unauthorized Use Known on ports 23101-23103"'
}

@test "full IANA registry: myapp is not given 2194 (Unauthorized Use Known on 2194-2196)" {
  use_real_iana
  run -0 --separate-stderr "$PORTREG" suggest myapp --this-netns -v
  [ "$output" -lt 2194 ] || [ "$output" -gt 2196 ]
  [[ "$stderr" == *"skipped 2194-2196: IANA notes unauthorized use"* ]]
}

@test "bad input exits 2" {
  run -2 --separate-stderr "$PORTREG" suggest --range 0-10
  [[ "$stderr" == *"--range 0-10"* ]]
  run -2 --separate-stderr "$PORTREG" suggest --range 500-100
  run -2 --separate-stderr "$PORTREG" suggest --range 1000-70000
  run -2 --separate-stderr "$PORTREG" suggest --range abc
  run -2 --separate-stderr "$PORTREG" suggest --count 0
  run -2 --separate-stderr "$PORTREG" suggest --count 5x
  run -2 --separate-stderr "$PORTREG" suggest --proto sctp
  [[ "$stderr" == *"tcp, udp or both"* ]]
  run -2 --separate-stderr "$PORTREG" suggest one two
  run -2 --separate-stderr "$PORTREG" suggest --no-such-option
  run -2 --separate-stderr "$PORTREG" suggest --range
}
