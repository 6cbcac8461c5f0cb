#!/usr/bin/env bats
# agent.bats — end-to-end tests of `portreg agent` against tests/e2e/agent_fake_server.py, a
# test double of POST /api/v1/observations that answers per the agent contract (docs/API.md)
# and keeps its own view of each host. The real-server e2e (three network namespaces as three
# hosts, a real `portreg serve`) comes with the server side of agents (the s-fleet branch).
# Every socket is on loopback or inside a namespace the test created.

load helpers

setup() {
  portreg_setup
  FAKE_DIR="$BATS_TEST_TMPDIR/fake"
  mkdir -p "$FAKE_DIR"
  FAKE_LOG="$FAKE_DIR/requests.jsonl"
  FAKE_STATE="$FAKE_DIR/server-state.json"
  AGENT_STATE="$BATS_TEST_TMPDIR/agent-state"
  AGENT_LOG="$BATS_TEST_TMPDIR/agent.log"
  TOKEN="portreg_agenttesttoken"
  : >"$FAKE_LOG"
}

teardown() {
  [ -n "${AGENT_PID:-}" ] && kill "$AGENT_PID" 2>/dev/null
  [ -n "${FAKE_PID:-}" ] && kill "$FAKE_PID" 2>/dev/null
  [ -n "${LISTENER_PID:-}" ] && kill "$LISTENER_PID" 2>/dev/null
  if [ -n "${AGENT_NS:-}" ]; then ip netns del "$AGENT_NS" 2>/dev/null || true; fi
  true
}

# Start the fake server (extra arguments: --port N to come back on the same port).
start_fake() {
  rm -f "$FAKE_DIR/port"
  python3 "$BATS_TEST_DIRNAME/agent_fake_server.py" "$FAKE_DIR/port" "$FAKE_LOG" "$FAKE_STATE" \
    --token "$TOKEN" --host agent-test "$@" 3>&- &
  FAKE_PID=$!
  local waited=0
  until [ -s "$FAKE_DIR/port" ]; do
    sleep 0.05
    waited=$((waited + 1))
    [ "$waited" -lt 200 ] || { echo "the fake server did not start" >&2; return 1; }
  done
  FAKE_PORT=$(cat "$FAKE_DIR/port")
  FAKE_URL="http://127.0.0.1:$FAKE_PORT"
}

stop_fake() {
  kill "$FAKE_PID"
  wait "$FAKE_PID" 2>/dev/null || true
  FAKE_PID=
}

# A TCP listener on 127.0.0.1 (a free port) held by python3; sets LISTENER_PID, LISTENER_PORT.
# With a namespace name as $1, inside that namespace.
open_listener() {
  local out="$BATS_TEST_TMPDIR/listener.$RANDOM"
  local prefix=()
  [ -n "${1:-}" ] && prefix=(ip netns exec "$1")
  "${prefix[@]}" python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(3600)' >"$out" 3>&- &
  LISTENER_PID=$!
  local waited=0
  until [ -s "$out" ]; do
    sleep 0.05
    waited=$((waited + 1))
    [ "$waited" -lt 200 ] || return 1
  done
  LISTENER_PORT=$(cat "$out")
}

close_listener() {
  kill "$LISTENER_PID"
  wait "$LISTENER_PID" 2>/dev/null || true
  LISTENER_PID=
}

start_agent() {
  "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test --state-dir "$AGENT_STATE" \
    --interval 300ms "$@" 2>>"$AGENT_LOG" 3>&- &
  AGENT_PID=$!
}

# The bodies the fake server received and answered with STATUS (default 200), one per line.
bodies() {
  jq -c --argjson status "${1:-200}" 'select(.status == $status) | .body' "$FAKE_LOG"
}

# Wait until the fake server logged a request matching the jq filter (over one log line).
wait_for_request() {
  local filter=$1 waited=0
  until [ "$(jq -c "select($filter)" "$FAKE_LOG" | wc -l)" -gt 0 ]; do
    sleep 0.1
    waited=$((waited + 1))
    if [ "$waited" -gt 150 ]; then
      echo "no request matched: $filter" >&2
      cat "$FAKE_LOG" "$AGENT_LOG" >&2
      return 1
    fi
  done
}

# The fake server's view: is tcp 127.0.0.1:PORT a listener of the host?
server_sees() {
  jq -e --arg key "tcp|127.0.0.1|$1|host" '.["agent-test"].listeners | has($key)' "$FAKE_STATE" >/dev/null
}

@test "a full report at start holds a listener the test opened, gzip-compressed" {
  open_listener
  start_fake
  run -0 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test --state-dir "$AGENT_STATE" --once
  [ "$(jq -s length "$FAKE_LOG")" -eq 1 ]
  run -0 jq -r '.encoding + " " + .content_type' "$FAKE_LOG"
  [ "$output" = "gzip application/json" ]
  run -0 jq -e --argjson port "$LISTENER_PORT" --argjson pid "$LISTENER_PID" '.body
    | .full == true and .seq == 1 and .host == "agent-test" and (.ephemeral.lo | type) == "number"
      and (.reserved | type) == "string" and (.findings | type) == "array"
    and ([.listeners[] | select(.local_port == $port)] | length == 1
         and .[0].proto == "tcp" and .[0].local_address == "127.0.0.1" and .[0].netns == "host"
         and .[0].process == "python3" and .[0].pid == $pid and .[0].exposure == "loopback"
         and (.[0] | keys) == (["container","exposure","local_address","local_port","netns","pid","process","proto","unit","user"]))' "$FAKE_LOG"
  [ -f "$AGENT_STATE/agent-state.json" ]
}

@test "a closed listener is a delta that removes it; nothing changed is a heartbeat" {
  open_listener
  local port=$LISTENER_PORT
  start_fake
  start_agent
  wait_for_request '.body.full == true and .status == 200'
  server_sees "$port"
  wait_for_request '.body.full == false and (.body | has("added") | not) and .status == 200'
  run -0 jq -e 'select(.body.full == false and (.body | has("added") | not)) | .body | keys == ["base","full","host","seq"]' "$FAKE_LOG"
  close_listener
  wait_for_request "[.body.removed[]? | select(.local_port == $port and .proto == \"tcp\" and .netns == \"host\")] | length == 1"
  run ! server_sees "$port"
  # seq and base chain: every delta's base is the seq accepted before it
  run -0 jq -s -e '[.[] | select(.status == 200) | .body] as $b
    | [range(1; $b | length) | $b[.].base == $b[. - 1].seq] | all' "$FAKE_LOG"
  kill -TERM "$AGENT_PID"
  local rc=0
  wait "$AGENT_PID" || rc=$?
  AGENT_PID=
  [ "$rc" -eq 0 ]
  grep -q 'stopping; the last acknowledged report is seq' "$AGENT_LOG"
}

@test "SIGTERM ends a report the server never answers: stopped within two seconds, exit 0" {
  open_listener   # accepts connections (the backlog) and never answers
  "$PORTREG" agent --server "http://127.0.0.1:$LISTENER_PORT" --token "$TOKEN" --name agent-test \
    --state-dir "$AGENT_STATE" --interval 300ms 2>>"$AGENT_LOG" 3>&- &
  AGENT_PID=$!
  sleep 1.5   # the first report is waiting for its answer (it would for 30 s)
  local start rc=0
  start=$(date +%s%N)
  kill -TERM "$AGENT_PID"
  wait "$AGENT_PID" || rc=$?
  AGENT_PID=
  [ "$rc" -eq 0 ]
  [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 2000 ]
  grep -q 'stopping; the last acknowledged report is seq 0' "$AGENT_LOG"
  run ! grep -q 'trying again' "$AGENT_LOG"
}

@test "409 resync: the agent sends a full report next" {
  start_fake
  start_agent
  wait_for_request '.body.full == false and .status == 200'
  echo resync >"$FAKE_STATE.control"
  wait_for_request '.status == 409'
  wait_for_request '.body.full == true and .status == 200 and .body.seq > 1'
  grep -q 'asks for a full report (409 resync' "$AGENT_LOG"
}

@test "a server that lost its data answers 409 to the saved base: --once resends in full" {
  start_fake
  run -0 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test --state-dir "$AGENT_STATE" --once
  rm -f "$FAKE_STATE"
  run -0 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test --state-dir "$AGENT_STATE" --once
  run -0 jq -s -e 'map(.status) == [200, 409, 200] and .[1].body.full == false and .[2].body.full == true' "$FAKE_LOG"
}

@test "server down: backoff, then catch-up without losing the change" {
  open_listener
  local port=$LISTENER_PORT
  start_fake
  start_agent
  wait_for_request '.body.full == true and .status == 200'
  server_sees "$port"
  stop_fake
  close_listener                       # the change happens while the server is away
  sleep 2.5
  grep -q 'server unavailable: no answer: .*trying again in' "$AGENT_LOG"
  # the waits start at 1 s and double, capped at the interval: 300ms here, jitter only lower
  local waits w
  waits=$(grep -o 'trying again in [0-9a-z]*' "$AGENT_LOG" | awk '{print $4}')
  [ "$(echo "$waits" | wc -l)" -ge 4 ]
  for w in $waits; do
    [[ "$w" =~ ^([0-9]+)ms$ ]]
    [ "${BASH_REMATCH[1]}" -ge 240 ] && [ "${BASH_REMATCH[1]}" -le 300 ]
  done
  start_fake --port "$FAKE_PORT"
  wait_for_request "([.body.removed[]? | select(.local_port == $port)] | length == 1) and .status == 200"
  run ! server_sees "$port"
}

@test "503: the agent retries with backoff and delivers when the server recovers" {
  open_listener
  local port=$LISTENER_PORT
  start_fake
  echo 503 >"$FAKE_STATE.control"
  start_agent
  wait_for_request '.status == 503'
  sleep 1
  rm -f "$FAKE_STATE.control"
  wait_for_request '.body.full == true and .status == 200'
  server_sees "$port"
  grep -q 'server unavailable: HTTP 503: the store is not available; trying again in' "$AGENT_LOG"
}

@test "a restarted agent resumes from its state: a delta against the saved base" {
  start_fake
  run -0 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test --state-dir "$AGENT_STATE" --once
  open_listener
  start_agent
  wait_for_request "([.body.added[]? | select(.local_port == $LISTENER_PORT)] | length == 1) and .status == 200"
  run -0 jq -s -e '[.[] | .body.full] | .[0] == true and (.[1:] | all(. == false))' "$FAKE_LOG"
  grep -q 'resuming from the saved report seq 1' "$AGENT_LOG"
  server_sees "$LISTENER_PORT"
}

@test "--once: 0 acknowledged, 3 nobody listening, 3 on 5xx, 2 on bad usage" {
  start_fake
  run -0 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test --state-dir "$AGENT_STATE" --once
  [[ "$output" == *"accepted as seq 1"* ]]
  echo 503 >"$FAKE_STATE.control"
  run -3 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test --state-dir "$AGENT_STATE" --once
  [[ "$output" == *"HTTP 503"* ]]
  stop_fake
  run -3 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test --state-dir "$AGENT_STATE" --once
  [[ "$output" == *"did not answer or failed"* ]]
  run -2 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --interval 5x --once
  [[ "$output" == *'--interval "5x": column 2: unknown unit'* ]]
  run -2 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --interval 10ms --once
  run -2 env -u PORTREG_SERVER "$PORTREG" agent --token "$TOKEN" --once
  [[ "$output" == *"no server"* ]]
  run -2 env -u PORTREG_TOKEN "$PORTREG" agent --server "$FAKE_URL" --once
  [[ "$output" == *"no token"* ]]
  run -2 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name 'a b' --once
  run -2 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --bogus
}

@test "PORTREG_SERVER and PORTREG_TOKEN stand for --server and --token" {
  start_fake
  PORTREG_SERVER="$FAKE_URL" PORTREG_TOKEN="$TOKEN" run -0 "$PORTREG" agent --name agent-test \
    --state-dir "$AGENT_STATE" --once
  [ "$(bodies | wc -l)" -eq 1 ]
}

@test "a bad token is refused: 401, exit 3 with a clear message, the token never printed" {
  start_fake
  run -3 "$PORTREG" agent --server "$FAKE_URL" --token portreg_wrongtoken --name agent-test \
    --state-dir "$AGENT_STATE" --once
  [[ "$output" == *"refused: HTTP 401: missing or invalid token"* ]]
  [[ "$output" == *"refused the report with HTTP 401: the token is not valid"* ]]
  [[ "$output" != *portreg_wrongtoken* ]]
  [ ! -f "$AGENT_STATE/agent-state.json" ]
  # another host's name with this host's token: 403
  run -3 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name other-host --state-dir "$AGENT_STATE" --once
  [[ "$output" == *"HTTP 403"* ]]
}

@test "--all-netns reports a listener in a network namespace the test created, labelled with its name" {
  need_root
  AGENT_NS="portreg-agent-$$"
  ip netns add "$AGENT_NS" || skip "cannot create a network namespace"
  ip netns exec "$AGENT_NS" ip link set lo up
  open_listener "$AGENT_NS"
  start_fake
  run -0 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test --state-dir "$AGENT_STATE" \
    --once --all-netns
  run -0 jq -e --arg ns "$AGENT_NS" --argjson port "$LISTENER_PORT" \
    '[.body.listeners[] | select(.netns == $ns and .local_port == $port and .process == "python3")] | length == 1' "$FAKE_LOG"
  # without --all-netns it is not there
  rm -rf "$AGENT_STATE" "$FAKE_STATE"; : >"$FAKE_LOG"
  run -0 "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test --state-dir "$AGENT_STATE" --once
  run -0 jq -e --arg ns "$AGENT_NS" '[.body.listeners[] | select(.netns == $ns)] | length == 0' "$FAKE_LOG"
}

@test "log lines are escaped: a server message with terminal escapes does not reach the terminal raw" {
  start_fake
  echo evil >"$FAKE_STATE.control"
  run -3 --separate-stderr "$PORTREG" agent --server "$FAKE_URL" --token "$TOKEN" --name agent-test \
    --state-dir "$AGENT_STATE" --once
  printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/err"
  assert_no_control_bytes "$BATS_TEST_TMPDIR/err"
  grep -qF 'refused: HTTP 400: bad\x1b[2J\athing (field listeners)' "$BATS_TEST_TMPDIR/err"
}

@test "the systemd unit is valid and hardened, with only the capabilities it names" {
  command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
  local unit="$BATS_TEST_TMPDIR/portreg-agent.service"
  sed "s|@bindir@|$(dirname "$PORTREG")|" "$BATS_TEST_DIRNAME/../../systemd/portreg-agent.service.in" >"$unit"
  run -0 systemd-analyze verify --man=no "$unit"
  for line in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=read-only PrivateTmp=yes \
              StateDirectory=portreg-agent EnvironmentFile=-/etc/default/portreg-agent \
              'CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE' \
              'AmbientCapabilities=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE'; do
    grep -qxF "$line" "$unit"
  done
  run -1 grep -E '^(CapabilityBoundingSet|AmbientCapabilities)=.*(CAP_SYS_ADMIN|CAP_NET_ADMIN)' "$unit"
}

@test "STATE_DIRECTORY (systemd's StateDirectory=) is the default state folder" {
  start_fake
  mkdir -p "$BATS_TEST_TMPDIR/sd1"
  STATE_DIRECTORY="$BATS_TEST_TMPDIR/sd1:$BATS_TEST_TMPDIR/sd2" run -0 "$PORTREG" agent --server "$FAKE_URL" \
    --token "$TOKEN" --name agent-test --once
  [ -f "$BATS_TEST_TMPDIR/sd1/agent-state.json" ]
  [ ! -e "$BATS_TEST_TMPDIR/sd2" ]
}
