#!/usr/bin/env bats
# check.bats — `portreg check` against real sockets: each case creates the situation with the
# bindcase helper ($BINDCASE) inside a fresh network namespace (so sysctls can change), runs
# portreg there, and asserts the verdict, the named rule, and that the simulator and the
# kernel's trial bind agree (.trial.agrees is never false).
load helpers

setup() {
  need_root
  [ -x "${BINDCASE:-}" ] || skip "BINDCASE (the bindcase test helper) is not set"
  command -v ip >/dev/null || skip "needs iproute2"
  portreg_setup
  use_iana_fixture
  NS="portreg-check-$$-${BATS_TEST_NUMBER}"
  ip netns add "$NS" || skip "cannot create a network namespace"
  ip -n "$NS" link set lo up
  ip -n "$NS" link add d0 type veth peer name d1 || true
  ip -n "$NS" link set d0 up 2>/dev/null || true
  ip -n "$NS" link set d1 up 2>/dev/null || true
  ip -n "$NS" addr add 10.9.0.1/24 dev d0 2>/dev/null || true
  ip -n "$NS" addr add 10.9.1.1/24 dev d1 2>/dev/null || true
  id -u nobody >/dev/null 2>&1 || skip "needs the user nobody"
  OTHER_UID=$(id -u nobody)
}

teardown() {
  stop_sockholds
  [ -n "${NS:-}" ] && ip netns delete "$NS" 2>/dev/null || true
}

in_ns() { ip netns exec "$NS" "$@"; }

# Start bindcase with SPEC... inside the namespace; wait until it holds its sockets.
hold() {
  local out="$BATS_TEST_TMPDIR/bindcase.$RANDOM"
  # no function in the background: $! must be bindcase itself (ip netns exec execs it), and
  # fd 3 closed, or bats waits for it
  ip netns exec "$NS" "$BINDCASE" "$@" >"$out" 2>&1 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  local waited=0
  until grep -q '^ready' "$out" 2>/dev/null; do
    sleep 0.05; waited=$((waited + 1))
    if [ "$waited" -gt 100 ] || ! kill -0 $! 2>/dev/null; then cat "$out" >&2; return 1; fi
  done
}

# expect VERDICT RULE|- [SPEC... --] CHECK-ARGS...: the case's sockets, then portreg check in
# the namespace; asserts the verdict, the first blocker's rule and sim/kernel agreement.
expect() {
  local verdict=$1 rule=$2; shift 2
  local specs=()
  if [[ " $* " == *" -- "* ]]; then
    while [ "$1" != "--" ]; do specs+=("$1"); shift; done
    shift
  fi
  [ "${#specs[@]}" -eq 0 ] || hold "${specs[@]}"
  run in_ns "$PORTREG" check --json "$@"
  echo "$output" >&2
  [ "$(echo "$output" | jq -r .verdict)" = "$verdict" ]
  echo "$output" | jq -e '.trial != null and .trial.agrees != false'
  if [ "$verdict" = free ]; then [ "$status" -eq 0 ]; else [ "$status" -eq 1 ]; fi
  if [ "$rule" != - ]; then
    [ "$(echo "$output" | jq -r '.blockers[0].rule')" = "$rule" ]
  fi
}

# --- TCP, IPv4
@test "tcp: nothing on the port: free" { expect free - 127.0.0.1:7000; }
@test "tcp: same address listening: blocked (in-use)" { expect blocked in-use tcp4:127.0.0.1:7000 -- 127.0.0.1:7000; }
@test "tcp: another specific address: free" { expect free - tcp4:127.0.0.1:7000 -- 127.0.0.2:7000; }
@test "tcp: 0.0.0.0 over a specific listener: blocked (wildcard)" {
  expect blocked in-use tcp4:127.0.0.1:7000 -- 0.0.0.0:7000
  [ "$(echo "$output" | jq -r '.blockers[0].overlap')" = wildcard ]
}
@test "tcp: a specific address under a 0.0.0.0 listener: blocked" { expect blocked in-use tcp4:0.0.0.0:7000 -- 127.0.0.1:7000; }
@test "tcp: SO_REUSEADDR on both, but it listens: blocked (reuseaddr-listening)" {
  expect blocked reuseaddr-listening tcp4:127.0.0.1:7000:reuseaddr -- --reuseaddr 127.0.0.1:7000
}
@test "tcp: SO_REUSEADDR on both, bound not listening: free, listen race warned" {
  expect free - tcp4:127.0.0.1:7000:bound:reuseaddr -- --reuseaddr 127.0.0.1:7000
  [ "$(echo "$output" | jq -r .simulation.verdict)" = unknown ]
  echo "$output" | jq -e '[.warnings[].id] | index("listen-race") != null'
}
@test "tcp: SO_REUSEADDR only on the new socket: blocked (kernel decides)" {
  expect blocked flags-unknown tcp4:127.0.0.1:7000:bound -- --reuseaddr 127.0.0.1:7000
}
@test "tcp: SO_REUSEPORT on both, same uid: free" { expect free - tcp4:127.0.0.1:7000:reuseport -- --reuseport 127.0.0.1:7000; }
@test "tcp: SO_REUSEPORT on both, different uid: blocked (reuseport-uid)" {
  expect blocked reuseport-uid "tcp4:127.0.0.1:7000:reuseport:uid=$OTHER_UID" -- --reuseport 127.0.0.1:7000
  [ "$(echo "$output" | jq -r .simulation.verdict)" = blocked ]
}
@test "tcp: SO_REUSEPORT on both as the same other user (--user): free" {
  expect free - "tcp4:127.0.0.1:7000:reuseport:uid=$OTHER_UID" -- --reuseport --user "$OTHER_UID" 127.0.0.1:7000
  [ "$(echo "$output" | jq -r .trial.uid)" = "$OTHER_UID" ]
}
@test "tcp: SO_REUSEPORT only on the new socket: blocked" { expect blocked - tcp4:127.0.0.1:7000 -- --reuseport 127.0.0.1:7000; }
@test "tcp: TIME_WAIT left by a real connection blocks a bind without SO_REUSEADDR" {
  expect blocked time-wait tcp4:127.0.0.1:7000:timewait -- 127.0.0.1:7000
  [ "$(echo "$output" | jq -r .simulation.verdict)" = blocked ]
  echo "$output" | jq -e '[.fixes[].id] | index("wait") != null'
}
@test "tcp: TIME_WAIT of a SO_REUSEADDR server does not block --reuseaddr" {
  expect free - tcp4:127.0.0.1:7000:timewait:reuseaddr -- --reuseaddr 127.0.0.1:7000
}
@test "tcp: TIME_WAIT of a server without SO_REUSEADDR blocks even --reuseaddr" {
  expect blocked time-wait tcp4:127.0.0.1:7000:timewait -- --reuseaddr 127.0.0.1:7000
}
@test "tcp: FIN_WAIT2 of a server that closed first blocks (closing)" {
  expect blocked closing tcp4:127.0.0.1:7000:finwait -- 127.0.0.1:7000
}

# --- TCP, IPv6 and dual-stack
@test "tcp6: [::] dual-stack takes IPv4 too: 127.0.0.1 blocked (dual-stack)" {
  expect blocked in-use 'tcp6:[::]:7000:dual' -- 127.0.0.1:7000
  [ "$(echo "$output" | jq -r '.blockers[0].overlap')" = dual-stack ]
}
@test "tcp6: [::] v6only leaves IPv4 free" { expect free - 'tcp6:[::]:7000:v6only' -- 127.0.0.1:7000; }
@test "tcp6: [::] v6only and 0.0.0.0 coexist" { expect free - 'tcp6:[::]:7000:v6only' -- 0.0.0.0:7000; }
@test "tcp6: PORT alone is [::] dual-stack and collides with 0.0.0.0" {
  expect blocked in-use tcp4:0.0.0.0:7000 -- 7000
  [ "$(echo "$output" | jq -r '.check.address, .check.v6only' | paste -sd,)" = "::,false" ]
}
@test "tcp6: --v6only [::] next to 0.0.0.0: free" { expect free - tcp4:0.0.0.0:7000 -- --v6only '[::]:7000'; }
@test "tcp6: the same IPv6 address: blocked" { expect blocked in-use 'tcp6:[::1]:7000' -- '[::1]:7000'; }
@test "tcp6: [::1] v6only and 0.0.0.0 coexist" { expect free - 'tcp6:[::1]:7000:v6only' -- 0.0.0.0:7000; }
@test "tcp6: [::1] without v6only is IPv6-only all the same: 0.0.0.0 free" {
  expect free - 'tcp6:[::1]:7000:dual' -- 0.0.0.0:7000
  echo "$output" | jq -e '.trial.agrees == true'
}
@test "tcp6: a specific IPv6 address under [::] v6only: blocked" { expect blocked in-use 'tcp6:[::]:7000:v6only' -- '[::1]:7000'; }
@test "tcp6: a v4-mapped address next to [::] v6only: free, simulated as the kernel binds it" {
  expect free - 'tcp6:[::]:7000:v6only' -- '[::ffff:127.0.0.1]:7000'
  echo "$output" | jq -e '.simulation.verdict == "free" and .trial.agrees == true and .check.v6only == false'
  run -0 in_ns "$PORTREG" check --json --no-try '[::ffff:127.0.0.1]:7000'
  echo "$output" | jq -e '.verdict == "free"'
}
@test "tcp6: a v4-mapped address is its IPv4 address: blocked by 127.0.0.1" {
  expect blocked in-use tcp4:127.0.0.1:7000 -- '[::ffff:127.0.0.1]:7000'
}
@test "tcp6: a specific IPv6 address is IPv6-only without --v6only; --dual-stack on it is refused" {
  in_ns sysctl -qw net.ipv6.bindv6only=0
  expect free - '[::1]:7000'
  echo "$output" | jq -e '.check.v6only == true'
  run -0 in_ns env NO_COLOR=1 "$PORTREG" check '[::1]:7000'
  [[ "${lines[0]}" == *"(IPv6 only) as uid 0: free"* ]]
  run --separate-stderr -2 in_ns "$PORTREG" check --dual-stack '[::1]:7000'
  [[ "$stderr" == *"always IPv6-only"* ]]
  run --separate-stderr -2 in_ns "$PORTREG" check --v6only '[::ffff:127.0.0.1]:7000'
}

# --- device binding
@test "device: sockets bound to different devices share the port" {
  expect free - tcp4:0.0.0.0:7000:dev=d0 -- --device d1 0.0.0.0:7000
  echo "$output" | jq -e '.shared[0].reason == "device"'
}
@test "device: no device on the new socket overlaps every device: blocked" { expect blocked in-use tcp4:0.0.0.0:7000:dev=d0 -- 0.0.0.0:7000; }
@test "device: the same device: blocked" { expect blocked in-use tcp4:0.0.0.0:7000:dev=lo -- --device lo 0.0.0.0:7000; }

# --- UDP
@test "udp: same address: blocked" { expect blocked in-use udp4:127.0.0.1:7000 -- 127.0.0.1:7000/udp; }
@test "udp: SO_REUSEADDR on both shares the port" { expect free - udp4:127.0.0.1:7000:reuseaddr -- --reuseaddr 127.0.0.1:7000/udp; }
@test "udp: SO_REUSEADDR only on the new socket: blocked" { expect blocked flags-unknown udp4:127.0.0.1:7000 -- --reuseaddr 127.0.0.1:7000/udp; }
@test "udp: SO_REUSEPORT on both, same uid: free" { expect free - udp4:0.0.0.0:7000:reuseport -- --reuseport 0.0.0.0:7000/udp; }
@test "udp: SO_REUSEPORT on both, different uid: blocked (reuseport-uid)" {
  expect blocked reuseport-uid "udp4:0.0.0.0:7000:reuseport:uid=$OTHER_UID" -- --reuseport 0.0.0.0:7000/udp
}
@test "udp6: [::] dual-stack takes IPv4: blocked" { expect blocked in-use 'udp6:[::]:7000:dual' -- 127.0.0.1:7000/udp; }
@test "udp6: [::] v6only leaves 0.0.0.0 free" { expect free - 'udp6:[::]:7000:v6only' -- 0.0.0.0:7000/udp; }
@test "udp6: the same IPv6 address: blocked" { expect blocked in-use 'udp6:[::1]:7000' -- '[::1]:7000/udp'; }
@test "udp: different devices share the port" { expect free - udp4:0.0.0.0:7000:dev=d0 -- --device d1 0.0.0.0:7000/udp; }
@test "udp: a TCP listener does not block UDP" { expect free - tcp4:127.0.0.1:7000 -- 127.0.0.1:7000/udp; }
@test "tcp: a UDP socket does not block TCP" { expect free - udp4:127.0.0.1:7000 -- 127.0.0.1:7000/tcp; }

# --- warnings, output, input
@test "warning: a port inside the unreserved ephemeral range; --strict exits 1; reserving it clears it" {
  in_ns sysctl -qw net.ipv4.ip_local_port_range="7000 7100"
  expect free - 127.0.0.1:7050
  echo "$output" | jq -e '[.warnings[].id] | index("ephemeral") != null'
  run -1 in_ns "$PORTREG" check --strict 127.0.0.1:7050
  in_ns sysctl -qw net.ipv4.ip_local_reserved_ports=7050
  run -0 in_ns "$PORTREG" check --strict --json 127.0.0.1:7050
  echo "$output" | jq -e '[.warnings[].id] | index("ephemeral") == null'
}
@test "privileged port for another user, checked as root: blocked, the trial drops root's capabilities" {
  in_ns sysctl -qw net.ipv4.ip_unprivileged_port_start=1024
  expect blocked - --user 123456 127.0.0.1:800
  echo "$output" | jq -e '.reason == "privileged-port" and .trial.errno == "EACCES" and .trial.agrees == true'
  echo "$output" | jq -e '.trial.uid == 123456 and .trial.without_capabilities == true'
  echo "$output" | jq -e '[.fixes[].id] | index("capability") != null and index("unprivileged-port") != null'
  echo "$output" | jq -e '[.warnings[].id] | index("privileged") != null'
  run -1 in_ns env NO_COLOR=1 "$PORTREG" check --user 123456 127.0.0.1:800
  [[ "${lines[0]}" == *"as uid 123456: blocked: privileged port"* ]]
  [[ "$output" == *"AmbientCapabilities=CAP_NET_BIND_SERVICE"* ]]
  [[ "$output" == *"a port >= 1024"* ]]
  run -1 in_ns "$PORTREG" check --json --no-try --user 123456 127.0.0.1:800
  echo "$output" | jq -e '.verdict == "blocked" and .reason == "privileged-port"'
  # root itself keeps its capabilities; a lower ip_unprivileged_port_start frees the port
  expect free - 127.0.0.1:800
  in_ns sysctl -qw net.ipv4.ip_unprivileged_port_start=500
  expect free - --user "$OTHER_UID" 127.0.0.1:800
  echo "$output" | jq -e '([.warnings[].id] | index("privileged") == null) and .trial.without_capabilities == true'
}
@test "warning: IANA registered the port to a service" {
  expect free - 127.0.0.1:3306
  echo "$output" | jq -e '.warnings[] | select(.id == "iana") | .message | contains("mysql")'
}
@test "text output names the holder, the rule and a fix" {
  hold tcp4:0.0.0.0:7000
  run -1 in_ns env NO_COLOR=1 "$PORTREG" check 7000
  [[ "$output" == *"tcp [::]:7000 (dual-stack) as uid 0: blocked"* ]]
  [[ "$output" == *"bindcase"* ]]
  [[ "$output" == *"[::] without IPV6_V6ONLY (dual-stack) also takes every IPv4 address"* ]]
  [[ "$output" == *"set IPV6_V6ONLY (--v6only)"* ]]
}
@test "--no-try: no trial bind, the simulation's verdict" {
  hold tcp4:127.0.0.1:7000
  run -1 in_ns "$PORTREG" check --json --no-try 127.0.0.1:7000
  echo "$output" | jq -e '.trial == null and .verdict == "blocked"'
}
@test "bad input exits 2" {
  run --separate-stderr -2 "$PORTREG" check 70000
  [[ "$stderr" == *"not a port"* ]]
  run -2 "$PORTREG" check 127.0.0.1:0
  run -2 "$PORTREG" check '[::1:80'
  run -2 "$PORTREG" check ::1:80
  run -2 "$PORTREG" check 300.1.1.1:80
  run -2 "$PORTREG" check 80/sctp
  run -2 "$PORTREG" check --v6only 127.0.0.1:80
  run -2 "$PORTREG" check --device nosuchif0 80
  run -2 "$PORTREG" check --user nosuchuser-xyz 80
  run -2 "$PORTREG" check
}

@test "text: 50 TIME-WAIT sockets are one paragraph with their count and no user; a free verdict has no 'blocking sockets'" {
  [ -x "${TIMEWAIT:-}" ] || skip "TIMEWAIT (the timewait test helper) is not set"
  out="$BATS_TEST_TMPDIR/tw"
  ip netns exec "$NS" "$TIMEWAIT" 127.0.0.1 7000 50 >"$out" 2>&1 3>&- &
  pid=$!
  until grep -q ready "$out" 2>/dev/null; do sleep 0.05; done
  kill "$pid"; wait "$pid" 2>/dev/null || true   # the listener goes, its TIME-WAIT sockets stay
  run -1 in_ns "$PORTREG" check 127.0.0.1:7000
  echo "$output"
  [[ "${lines[0]}" == *": blocked" ]]
  [[ "$output" == *$'\nblocking sockets:\n'* ]]
  [ "$(grep -c 'TIME-WAIT 127.0.0.1:7000' <<<"$output")" -eq 1 ]
  [[ "$output" == *"tcp TIME-WAIT 127.0.0.1:7000  no process (kernel-held)  no user  (50 sockets)"* ]]
  [[ "$output" != *"(root)"* ]]
  run -1 in_ns "$PORTREG" check --json 127.0.0.1:7000
  echo "$output" | jq -e '(.blockers | length) == 50 and all(.blockers[]; .socket.user == null and .socket.uid == null)'
  # the server set SO_REUSEADDR: with --reuseaddr the bind succeeds, and nothing is "blocking"
  run -0 in_ns "$PORTREG" check --reuseaddr 127.0.0.1:7000
  echo "$output"
  [[ "${lines[0]}" == *": free" ]]
  [[ "$output" != *"blocking socket"* ]]
  [[ "$output" == *"sockets the simulation expected to block (the trial bind succeeded):"* ]]
}
