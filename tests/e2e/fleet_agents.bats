#!/usr/bin/env bats
# fleet_agents.bats — three network namespaces as three hosts, each with a real `portreg
# agent` reporting to one real `portreg serve` (issue 11): listeners started and stopped show
# in drift within two intervals; the server killed while listeners change, then restarted:
# the agents resync and nothing is lost; a bad token and another host's token are refused;
# a scan of one namespace imported shows an unassigned open port. Needs root (netns) and
# `portreg agent` (skipped with a message when this build has none).
load helpers

NS=(a b c)

setup() {
  portreg_setup
  need_root
  SERVER_PID=""
  AGENT_PIDS=()
  DB="$BATS_TEST_TMPDIR/serve.db"
  TAG="pf$$"
  unset PORTREG_SERVER PORTREG_TOKEN PORTREG_CACERT
  local i=1 n
  for n in "${NS[@]}"; do
    ip netns add "$TAG$n"
    ip link add "$TAG${n}h" type veth peer name "$TAG${n}g"
    ip link set "$TAG${n}g" netns "$TAG$n"
    ip addr add "10.77.$i.1/24" dev "$TAG${n}h"
    ip link set "$TAG${n}h" up
    ip -n "$TAG$n" addr add "10.77.$i.2/24" dev "$TAG${n}g"
    ip -n "$TAG$n" link set "$TAG${n}g" up
    ip -n "$TAG$n" link set lo up
    i=$((i + 1))
  done
}

need_agent() {
  "$PORTREG" agent --help >/dev/null 2>&1 || skip "portreg agent is not built here (the agent's branch)"
}

teardown() {
  local p n
  [ -n "${TAG:-}" ] || return 0
  for p in "${AGENT_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
  stop_sockholds
  for n in "${NS[@]}"; do
    ip link del "$TAG${n}h" 2>/dev/null || true
    ip netns del "$TAG$n" 2>/dev/null || true
  done
}

# the server on the host ends of the three veths (and loopback for the test's own calls)
serve() {
  local try
  for try in 1 2 3 4 5; do
    PORT="${PORT:-$((20000 + RANDOM % 10000))}"
    "$PORTREG" serve --listen "127.0.0.1:$PORT" --listen "10.77.1.1:$PORT" --listen "10.77.2.1:$PORT" \
      --listen "10.77.3.1:$PORT" --db "sqlite:$DB" 2>>"$BATS_TEST_TMPDIR/server.log" 3>&- &
    SERVER_PID=$!
    local i
    for i in $(seq 100); do
      curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && { URL="http://127.0.0.1:$PORT"; return 0; }
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    SERVER_PID=""
    [ -n "${KEEP_PORT:-}" ] || PORT=""
  done
  cat "$BATS_TEST_TMPDIR/server.log"
  return 1
}

# agent N TOKEN [ARGS...]: portreg agent in namespace N reporting every 500 ms
agent() {
  local n="$1" token="$2" i
  shift 2
  case "$n" in a) i=1 ;; b) i=2 ;; c) i=3 ;; esac
  mkdir -p "$BATS_TEST_TMPDIR/agent-$n"
  ${EXEC:-} ip netns exec "$TAG$n" "$PORTREG" agent --server "http://10.77.$i.1:$PORT" --token "$token" --name "$n" \
    --interval 500ms --state-dir "$BATS_TEST_TMPDIR/agent-$n" "$@"
}

# start_agent N TOKEN [ARGS...]: agent in the background; its PID is the agent's own (exec:
# a killed subshell would leave the agent running after the test)
start_agent() {
  EXEC=exec agent "$@" 2>>"$BATS_TEST_TMPDIR/agent-$1.log" 3>&- &
  AGENT_PIDS+=($!)
}

# eventually SECONDS COMMAND...: true once COMMAND succeeds, polling every 100 ms
eventually() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

drift_has() { # HOST KIND PORT
  curl -sf -H "Authorization: Bearer $READER" "$URL/api/v1/drift?host=$1" |
    jq -e --arg k "$2" --argjson p "$3" '[.hosts[0].items[] | select(.kind == $k and .port == $p)] | length > 0'
}
no_drift() { # HOST KIND PORT
  curl -sf -H "Authorization: Bearer $READER" "$URL/api/v1/drift?host=$1" |
    jq -e --arg k "$2" --argjson p "$3" '[.hosts[0].items[] | select(.kind == $k and .port == $p)] | length == 0'
}
listens() { # HOST PORT
  curl -sf -H "Authorization: Bearer $READER" "$URL/api/v1/observations/$1" |
    jq -e --argjson p "$2" '[.listeners[] | select(.local_port == $p)] | length > 0'
}

observed_hosts_are() { # JSON-ARRAY: the hosts with observations, sorted
  curl -sf -H "Authorization: Bearer $READER" "$URL/api/v1/observations" |
    jq -e --argjson want "$1" '[.items[].host] | sort == $want'
}

fleet() {
  ADMIN="$("$PORTREG" serve token create --role admin --db "sqlite:$DB")"
  READER="$("$PORTREG" serve token create --role reader --db "sqlite:$DB")"
  REQUESTER="$("$PORTREG" serve token create --role requester --db "sqlite:$DB")"
  local n i=1
  for n in "${NS[@]}"; do
    eval "TOKEN_$n=\"\$(\"\$PORTREG\" serve token create --role agent --host $n --db \"sqlite:\$DB\")\""
  done
  serve
  for n in "${NS[@]}"; do
    curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
      -d "{\"name\":\"$n\",\"addresses\":{\"internal\":\"10.77.$i.2\"}}" "$URL/api/v1/hosts" >/dev/null
    i=$((i + 1))
  done
  curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d '{"service":"web","host":"a","port":8080}' "$URL/api/v1/assignments" >/dev/null
}

@test "fleet agents: three hosts report; drift appears and disappears within two intervals" {
  need_agent
  fleet
  ip netns exec "${TAG}a" "$SOCKHOLD" tcp4:0.0.0.0:8080 >"$BATS_TEST_TMPDIR/a.hold" 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  start_agent a "$TOKEN_a"
  start_agent b "$TOKEN_b"
  start_agent c "$TOKEN_c"
  eventually 5 listens a 8080
  eventually 5 drift_has a present 8080
  # all three have reported (a's report may come before b's and c's first one)
  eventually 5 observed_hosts_are '["a","b","c"]'
  # a listener no one assigned, on b: drift within two intervals (1 s), gone after it stops
  ip netns exec "${TAG}b" "$SOCKHOLD" tcp4:0.0.0.0:9400 >"$BATS_TEST_TMPDIR/b.hold" 3>&- &
  holder=$!
  eventually 2 drift_has b undeclared 9400
  kill "$holder"
  eventually 2 no_drift b undeclared 9400
  # a's service stops: absent
  kill $(cat "$BATS_TEST_TMPDIR/holders")
  eventually 2 drift_has a absent 8080
  PORTREG_SERVER="$URL" PORTREG_TOKEN="$READER" run -1 "$PORTREG" remote drift --host a
}

@test "fleet agents: the server is killed while listeners change; restarted, the agents catch up" {
  need_agent
  fleet
  start_agent a "$TOKEN_a"
  start_agent c "$TOKEN_c"
  eventually 5 curl -sf -H "Authorization: Bearer $READER" "$URL/api/v1/observations/c"
  kill -9 "$SERVER_PID"
  SERVER_PID=""
  ip netns exec "${TAG}c" "$SOCKHOLD" tcp4:0.0.0.0:7300 udp4:0.0.0.0:7301 >"$BATS_TEST_TMPDIR/c.hold" 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  sleep 2
  KEEP_PORT=1 serve
  eventually 10 listens c 7300
  eventually 2 listens c 7301
  # nothing lost, nothing twice: the events tell each listener once
  run -0 curl -sf -H "Authorization: Bearer $READER" "$URL/api/v1/events?kind=observation.added&limit=1000"
  jq -e '[.items[] | select(.after.host == "c" and .after.local_port == 7300)] | length == 1' <<<"$output"
}

@test "fleet agents: a bad token and another host's token are refused" {
  need_agent
  fleet
  run -3 agent a "portreg_notatokenatallnotatokenatall00000000" --once
  run -3 agent a "$TOKEN_b" --once
  run -0 curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $READER" "$URL/api/v1/observations/a"
  [ "$output" = 404 ]
  run -0 agent a "$TOKEN_a" --once
  run -0 curl -sf -H "Authorization: Bearer $READER" "$URL/api/v1/observations/a"
}

@test "fleet agents: a scan of one namespace imported shows an unassigned open port" {
  fleet
  ip netns exec "${TAG}b" "$SOCKHOLD" tcp4:0.0.0.0:6400 >"$BATS_TEST_TMPDIR/b.hold" 3>&- &
  echo $! >>"$BATS_TEST_TMPDIR/holders"
  sleep 0.3
  "$PORTREG" scan -sT -p 6390-6410 --json 10.77.2.2 >"$BATS_TEST_TMPDIR/scan.json"
  PORTREG_SERVER="$URL" PORTREG_TOKEN="$REQUESTER" run -0 "$PORTREG" remote observe-scan "$BATS_TEST_TMPDIR/scan.json"
  [ "$output" = "$(printf 'host\tb')" ]
  drift_has b undeclared 6400
}
