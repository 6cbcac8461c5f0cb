#!/usr/bin/env bats
# ls.bats — `portreg ls` against real sockets that the test opens (sockhold): addresses,
# states, processes (also shared after fork and of another user), exposure, filters, JSON,
# other network namespaces, and agreement with ss.
load helpers

setup() {
  portreg_setup
  use_iana_fixture
}

teardown() {
  stop_sockholds
  remove_nobody_dirs
  if [ -n "${NETNS:-}" ]; then ip netns del "$NETNS" 2>/dev/null || true; fi
}

@test "a TCP listener is shown with its process, inode, state and exposure" {
  start_sockhold tcp4:127.0.0.1:0
  run -0 "$PORTREG" ls --port "${PORTS[0]}" --json
  echo "$output" | jq -e --argjson port "${PORTS[0]}" --argjson pid "$SOCKHOLD_PID" --argjson inode "${INODES[0]}" '
    .sockets | length == 1 and (.[0] | .proto == "tcp" and .family == "ipv4" and .state == "LISTEN"
      and .local_address == "127.0.0.1" and .local_port == $port and .inode == $inode
      and (.processes | length == 1) and .processes[0].pid == $pid and .processes[0].name == "sockhold"
      and .processes[0].uid == 0 and .exposure == "loopback" and .user == "root" and .v6only == null)'
  # the fd reported is the one that holds the socket in that process
  fd=$(echo "$output" | jq '.sockets[0].processes[0].fd')
  [ "$(readlink "/proc/$SOCKHOLD_PID/fd/$fd")" = "socket:[${INODES[0]}]" ]
}

@test "piped output is tab-separated with the process" {
  start_sockhold tcp4:127.0.0.1:0
  run -0 "$PORTREG" ls -t --port "${PORTS[0]}"
  [ "${#lines[@]}" -eq 1 ]
  IFS=$'\t' read -r proto state local process user unit service exposure <<<"${lines[0]}"
  [ "$proto" = tcp ] && [ "$state" = LISTEN ] && [ "$local" = "127.0.0.1:${PORTS[0]}" ]
  [ "$process" = "$SOCKHOLD_PID/sockhold" ] && [ "$user" = root ] && [ "$exposure" = loopback ]
}

@test "IPv6: v6only loopback, dual-stack wildcard counts as every IPv4 address too" {
  start_sockhold 'tcp6:[::1]:0:v6only' 'tcp6:[::]:0:dual' 'tcp6:[::]:0:v6only'
  run -0 "$PORTREG" ls --json --port "${PORTS[0]},${PORTS[1]},${PORTS[2]}"
  echo "$output" | jq -e --argjson p "${PORTS[0]}" '.sockets[] | select(.local_port == $p) | .family == "ipv6" and .local_address == "::1" and .v6only == true and .exposure == "loopback"'
  echo "$output" | jq -e --argjson p "${PORTS[1]}" '.sockets[] | select(.local_port == $p) | .local_address == "::" and .v6only == false and .exposure == "all"'
  echo "$output" | jq -e --argjson p "${PORTS[2]}" '.sockets[] | select(.local_port == $p) | .v6only == true and .exposure == "all-ipv6"'
  run -0 "$PORTREG" ls -t --port "${PORTS[1]}"
  [[ "${lines[0]}" == tcp6$'\t'LISTEN$'\t'"[::]:${PORTS[1]}"* ]]
}

@test "UDP sockets are UNCONN, and -t / -u / -4 / -6 filter" {
  start_sockhold udp4:127.0.0.1:0 'udp6:[::1]:0:v6only' tcp4:127.0.0.1:0
  spec="${PORTS[0]},${PORTS[1]},${PORTS[2]}"
  run -0 "$PORTREG" ls --json --port "$spec"
  echo "$output" | jq -e '[.sockets[] | .proto + "/" + .state] | sort == ["tcp/LISTEN", "udp/UNCONN", "udp/UNCONN"]'
  run -0 "$PORTREG" ls -u --json --port "$spec"
  echo "$output" | jq -e '[.sockets[].proto] == ["udp", "udp"]'
  run -0 "$PORTREG" ls -t --json --port "$spec"
  echo "$output" | jq -e '[.sockets[].proto] == ["tcp"]'
  run -0 "$PORTREG" ls -u -6 --json --port "$spec"
  echo "$output" | jq -e '[.sockets[].family] == ["ipv6"]'
  run -0 "$PORTREG" ls -4 --json --port "$spec"
  echo "$output" | jq -e '[.sockets[].family] | unique == ["ipv4"]'
}

@test "a socket shared by parent and child lists both processes" {
  start_sockhold --fork tcp4:127.0.0.1:0
  run -0 "$PORTREG" ls --json --port "${PORTS[0]}"
  echo "$output" | jq -e --argjson a "${SOCKHOLD_PIDS[0]}" --argjson b "${SOCKHOLD_PIDS[1]}" \
    '[.sockets[0].processes[].pid] | sort == ([$a, $b] | sort)'
  run -0 "$PORTREG" ls -t --port "${PORTS[0]}"
  [[ "${lines[0]}" == *$'\t'"${SOCKHOLD_PIDS[0]}/sockhold +1"$'\t'* ]]
}

@test "a process of another user is attributed, and --user filters by it" {
  need_root
  start_sockhold --user 65534 tcp4:127.0.0.1:0
  run -0 "$PORTREG" ls --json --port "${PORTS[0]}"
  echo "$output" | jq -e --argjson pid "$SOCKHOLD_PID" '.sockets[0].processes[0] | .pid == $pid and .uid == 65534'
  # held by nobody, owned by root (it was created before the setuid)
  run -0 "$PORTREG" ls --json --user nobody --port "${PORTS[0]}"
  echo "$output" | jq -e '.sockets | length == 1 and .[0].uid == 0'
  run -0 "$PORTREG" ls --json --user root --port "${PORTS[0]}"
  echo "$output" | jq -e '.sockets | length == 1'
  run -0 "$PORTREG" ls --json --user daemon --port "${PORTS[0]}"
  echo "$output" | jq -e '.sockets | length == 0'
}

@test "--pid and --process keep only that process's sockets" {
  start_sockhold tcp4:127.0.0.1:0
  run -0 "$PORTREG" ls --json --pid "$SOCKHOLD_PID"
  echo "$output" | jq -e --argjson p "${PORTS[0]}" '[.sockets[].local_port] == [$p]'
  run -0 "$PORTREG" ls --json --process sockhold --port "${PORTS[0]}"
  echo "$output" | jq -e '.sockets | length == 1'
  run -0 "$PORTREG" ls --json --process nosuchcommand
  echo "$output" | jq -e '.sockets == []'
}

@test "--no-processes leaves processes out" {
  start_sockhold tcp4:127.0.0.1:0
  run -0 "$PORTREG" ls --no-processes --json --port "${PORTS[0]}"
  echo "$output" | jq -e '.sockets[0].processes == null and .summary.processes_looked_up == false'
}

@test "-a shows established connections with their peer" {
  start_sockhold tcp4:127.0.0.1:0
  exec 9<>"/dev/tcp/127.0.0.1/${PORTS[0]}"
  run -0 "$PORTREG" ls -a -t --json --port "${PORTS[0]}"
  exec 9>&-
  # the listener and the accepted (not yet accepted: in the queue) server side of the connection
  echo "$output" | jq -e '[.sockets[].state] | contains(["LISTEN", "ESTAB"])'
  echo "$output" | jq -e '.sockets[] | select(.state == "ESTAB") | .peer_address == "127.0.0.1" and .peer_port > 0'
}

@test "--ndjson prints one object per socket per line" {
  start_sockhold tcp4:127.0.0.1:0 udp4:127.0.0.1:0
  run -0 "$PORTREG" ls --ndjson --port "${PORTS[0]},${PORTS[1]}"
  [ "${#lines[@]}" -eq 2 ]
  for line in "${lines[@]}"; do echo "$line" | jq -e '.local_port > 0' >/dev/null; done
}

@test "the IANA service of the port is shown" {
  start_sockhold tcp4:127.0.0.1:0
  # port 1433 is ms-sql-s in the fixture registry; bind it if free
  if "$PORTREG" who 1433/tcp >/dev/null 2>&1; then skip "1433 in use on this host"; fi
  start_sockhold tcp4:127.0.0.1:1433
  run -0 "$PORTREG" ls --json --port 1433
  echo "$output" | jq -e '.sockets[0].service == "ms-sql-s" and .sockets[0].service_mismatch == false'
}

@test "the listening TCP ports agree with ss" {
  # as root in a namespace of its own, so nothing else opens or closes listeners between the
  # two snapshots
  in=()
  if [ "$(id -u)" -eq 0 ] && ip netns add "portreg-ls-ss-$$" 2>/dev/null; then
    NETNS="portreg-ls-ss-$$"
    ip -n "$NETNS" link set lo up
    in=(ip netns exec "$NETNS")
    "${in[@]}" "$SOCKHOLD" tcp4:127.0.0.1:0 'tcp6:[::]:0:dual' tcp4:0.0.0.0:0 >"$BATS_TEST_TMPDIR/h" 3>&- &
    echo $! >>"$BATS_TEST_TMPDIR/holders"
    until grep -q ready "$BATS_TEST_TMPDIR/h"; do sleep 0.05; done
  else
    start_sockhold tcp4:127.0.0.1:0 'tcp6:[::]:0:dual'
  fi
  ours=$("${in[@]}" "$PORTREG" ls -t --no-processes | awk -F'\t' '{print $3}' | sort)
  # ss writes a dual-stack [::] listener as *:PORT
  theirs=$("${in[@]}" ss -Htln | awk '{print $4}' | sed 's/^\*:/[::]:/' | sort)
  [ "$ours" = "$theirs" ]
  [ -n "$ours" ]
}

@test "the processes agree with ss -p" {
  start_sockhold tcp4:127.0.0.1:0
  ss -Htlnp "sport = :${PORTS[0]}" | grep -q "pid=$SOCKHOLD_PID,"
  run -0 "$PORTREG" ls -t --port "${PORTS[0]}"
  [[ "$output" == *"$SOCKHOLD_PID/sockhold"* ]]
}

@test "--all-netns finds a listener inside another network namespace" {
  need_root
  NETNS="portreg-e2e-$$"
  ip netns add "$NETNS"
  ip -n "$NETNS" link set lo up
  out="$BATS_TEST_TMPDIR/inner"
  ip netns exec "$NETNS" "$SOCKHOLD" tcp4:127.0.0.1:0 >"$out" &
  until grep -q ready "$out" 2>/dev/null; do sleep 0.05; done
  inner_pid=$(awk '$1 == "pid" {print $2}' "$out")
  echo "$inner_pid" >>"$BATS_TEST_TMPDIR/holders"
  port=$(awk '$1 == "socket" {print $4}' "$out")
  run -0 "$PORTREG" ls --json --port "$port"
  echo "$output" | jq -e '[.sockets[] | select(.processes[0].pid == '"$inner_pid"')] == []'
  run -0 "$PORTREG" ls --all-netns --json --port "$port"
  echo "$output" | jq -e --arg ns "$NETNS" --argjson pid "$inner_pid" \
    '[.sockets[] | select(.netns_name == $ns)] | length == 1 and .[0].processes[0].pid == $pid'
  run -0 "$PORTREG" ls --all-netns -t --port "$port"
  [[ "$output" == *$'\t'"$NETNS"* ]]
}

@test "--all-netns: a /run/netns name with a control byte is shown escaped" {
  need_root
  NETNS=$'portreg-e2e-\e[31m'"$$"
  ip netns add "$NETNS" || skip "ip netns add refuses the name"
  ip -n "$NETNS" link set lo up
  out="$BATS_TEST_TMPDIR/inner"
  ip netns exec "$NETNS" "$SOCKHOLD" tcp4:127.0.0.1:0 >"$out" &
  until grep -q ready "$out" 2>/dev/null; do sleep 0.05; done
  awk '$1 == "pid" {print $2}' "$out" >>"$BATS_TEST_TMPDIR/holders"
  port=$(awk '$1 == "socket" {print $4}' "$out")
  run -0 "$PORTREG" ls --all-netns -t --port "$port"
  [[ "$output" == *$'\t'"portreg-e2e-\\x1b[31m$$"* && "$output" != *$'\e'* ]]
  run -0 "$PORTREG" ls --all-netns --json --port "$port"
  echo "$output" | jq -e --arg ns "portreg-e2e-\\x1b[31m$$" '[.sockets[] | select(.netns_name == $ns)] | length == 1'
}

@test "unprivileged: what cannot be attributed is said once on stderr" {
  prepare_nobody_portreg
  start_sockhold tcp4:127.0.0.1:0
  state="$NOBODY_DIR/state"; mkdir -m 777 "$state"
  run --separate-stderr -0 as_nobody \
    env PORTREG_STATE_DIR="$state" "$NOBODY_PORTREG" ls -t --port "${PORTS[0]}"
  [[ "${lines[0]}" == tcp$'\t'LISTEN$'\t'"127.0.0.1:${PORTS[0]}"$'\t-\t'* ]]
  [[ "$stderr" == *"1 socket not attributed to a process"*"run as root"* ]]
}

@test "bad options exit 2" {
  run --separate-stderr -2 "$PORTREG" ls --port 70000
  [[ "$stderr" == *'--port "70000": column 1: port "70000" is out of range'* ]]
  run --separate-stderr -2 "$PORTREG" ls --sort size
  run --separate-stderr -2 "$PORTREG" ls --user nosuchuser
  [[ "$stderr" == *"no such user"* ]]
  run --separate-stderr -2 "$PORTREG" ls --pid abc
  run --separate-stderr -2 "$PORTREG" ls extra
}

@test "-S asks for SCTP and is not an error where the kernel has no sctp_diag" {
  run -0 "$PORTREG" ls -S --json
  echo "$output" | jq -e '[.sockets[].proto] | all(. == "sctp")'
}

@test "--all-netns unprivileged: the namespaces that could not be entered are said on stderr" {
  prepare_nobody_portreg
  mkdir -m 777 "$NOBODY_DIR/state"
  LS_NS="portreg-ls-$$-${BATS_TEST_NUMBER}"
  ip netns add "$LS_NS" || skip "cannot create a network namespace"
  run --separate-stderr -0 as_nobody \
    env PORTREG_STATE_DIR="$NOBODY_DIR/state" "$NOBODY_PORTREG" ls --all-netns -t
  ip netns delete "$LS_NS"
  echo "$stderr" >&2
  [[ "$stderr" =~ "portreg: ls: could not enter "[0-9]+" network namespace"s?" (permission denied; run as root)" ]]
}

@test "a process name with escapes, tabs, newlines or bad UTF-8 is shown escaped in JSON, TSV and the table" {
  start_sockhold --comm "$HOSTILE_COMM" tcp4:127.0.0.1:0
  hostile_pid=$SOCKHOLD_PID hostile_port=${PORTS[0]}
  start_sockhold --comm "$FORGING_COMM" tcp4:127.0.0.1:0
  forging_pid=$SOCKHOLD_PID forging_port=${PORTS[0]}
  [ "$(cat /proc/$hostile_pid/comm)" = "$HOSTILE_COMM" ]
  run -0 "$PORTREG" ls --port "$hostile_port,$forging_port" --json
  echo "$output" | jq -e --arg a "$HOSTILE_COMM_ESCAPED" --arg b "$FORGING_COMM_ESCAPED" \
    --argjson pa "$hostile_pid" --argjson pb "$forging_pid" '
    [.sockets[].processes[] | {(.pid | tostring): .name}] | add == {($pa | tostring): $a, ($pb | tostring): $b}'
  "$PORTREG" ls --port "$hostile_port,$forging_port" --ndjson >"$BATS_TEST_TMPDIR/ndjson"
  [ "$(jq -s length "$BATS_TEST_TMPDIR/ndjson")" -eq 2 ]
  # piped: TSV, one row per socket, 8 columns each, the names escaped
  "$PORTREG" ls --port "$hostile_port,$forging_port" >"$BATS_TEST_TMPDIR/tsv"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/tsv"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/tsv")" -eq 2 ]
  [ "$(awk -F'\t' 'NF != 8' "$BATS_TEST_TMPDIR/tsv" | wc -l)" -eq 0 ]
  grep -qF "$hostile_pid/$HOSTILE_COMM_ESCAPED"$'\t' "$BATS_TEST_TMPDIR/tsv"
  grep -qF "$forging_pid/$FORGING_COMM_ESCAPED"$'\t' "$BATS_TEST_TMPDIR/tsv"
  # on a terminal: the table
  run_on_tty ls --port "$hostile_port,$forging_port"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/tty.out"
  grep -qF "$HOSTILE_COMM_ESCAPED" "$BATS_TEST_TMPDIR/tty.out"
  grep -qF "$FORGING_COMM_ESCAPED" "$BATS_TEST_TMPDIR/tty.out"
  # --process takes the name as it is shown
  run -0 "$PORTREG" ls --process "$FORGING_COMM_ESCAPED" --json
  echo "$output" | jq -e --argjson p "$forging_port" '[.sockets[].local_port] == [$p]'
}

@test "--all-netns on an 80-column terminal keeps NETNS; this host's namespace is 'host'" {
  need_root
  NETNS="portreg-ls-netns-column-$$"
  ip netns add "$NETNS"
  ip -n "$NETNS" link set lo up
  out="$BATS_TEST_TMPDIR/inner"
  ip netns exec "$NETNS" "$SOCKHOLD" tcp4:127.0.0.1:0 >"$out" 3>&- &
  until grep -q ready "$out" 2>/dev/null; do sleep 0.05; done
  awk '$1 == "pid" {print $2}' "$out" >>"$BATS_TEST_TMPDIR/holders"
  inner_port=$(awk '$1 == "socket" {print $4}' "$out")
  start_sockhold tcp4:127.0.0.1:0
  host_port=${PORTS[0]}
  export COLUMNS=80
  run_on_tty ls --all-netns -t --port "$inner_port,$host_port"
  cat "$BATS_TEST_TMPDIR/tty.out"
  head -1 "$BATS_TEST_TMPDIR/tty.out" | grep -q 'NETNS$'
  grep -E "127\.0\.0\.1:$inner_port .* $NETNS\$" "$BATS_TEST_TMPDIR/tty.out"
  grep -E "127\.0\.0\.1:$host_port .* host\$" "$BATS_TEST_TMPDIR/tty.out"
  # a column went instead, so the table fits
  [ "$(awk '{ if (length($0) > 80) n++ } END { print n + 0 }' "$BATS_TEST_TMPDIR/tty.out")" -eq 0 ]
  # piped: every column, the namespace last
  run -0 "$PORTREG" ls --all-netns -t --port "$host_port"
  [ "$(echo "$output" | awk -F'\t' '{print $NF}')" = host ]
  run -0 "$PORTREG" ls --all-netns -t --port "$inner_port"
  [ "$(echo "$output" | awk -F'\t' '{print $NF}')" = "$NETNS" ]
}

@test "TIME-WAIT sockets belong to no user: USER is '-', uid and user are null in JSON" {
  [ -x "${TIMEWAIT:-}" ] || skip "TIMEWAIT (the timewait test helper) is not set"
  out="$BATS_TEST_TMPDIR/tw"
  "$TIMEWAIT" 127.0.0.1 0 3 >"$out" 2>&1 3>&- &
  pid=$!
  until grep -q ready "$out" 2>/dev/null; do sleep 0.05; done
  port=$(awk '$1 == "port" {print $2}' "$out")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  run -0 "$PORTREG" ls -a -t --port "$port"
  echo "$output"
  [ "$(echo "$output" | awk -F'\t' '$2 == "TIME-WAIT"' | wc -l)" -eq 3 ]
  [ "$(echo "$output" | awk -F'\t' '$2 == "TIME-WAIT" && $6 != "-"' | wc -l)" -eq 0 ]
  run -0 "$PORTREG" ls -a -t --port "$port" --json
  echo "$output" | jq -e '[.sockets[] | select(.state == "TIME-WAIT")] | length == 3 and all(.uid == null and .user == null)'
}
