#!/usr/bin/env bats
# fleet.bats — agents and drift against a real `portreg serve` (issue 11): reports posted
# with curl as `portreg agent` sends them (full, delta, heartbeat; gzip), resync on a wrong
# base, agent tokens bound to a host (403 for another, 401 for a bad token), drift appearing
# and disappearing, deassign refused while an agent sees the port listening (force
# overrides), a quarantine that ends only after 3 clean reports, a real `portreg scan -sT
# --json` imported with `remote observe-scan`, `remote drift` exit codes, and
# `firewall generate --server`.
load helpers

setup() {
  portreg_setup
  SERVER_PID=""
  HOLD_PID=""
  DB="$BATS_TEST_TMPDIR/serve.db"
  test_db_url   # SQLite, or PostgreSQL in e2e_fleet_pg
  unset PORTREG_SERVER PORTREG_TOKEN PORTREG_CACERT
}

teardown() {
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$HOLD_PID" ]; then kill "$HOLD_PID" 2>/dev/null || true; fi
}

tokens() {
  ADMIN="$("$PORTREG" serve token create --role admin --name alice --db "$DB_URL")"
  READER="$("$PORTREG" serve token create --role reader --name rita --db "$DB_URL")"
  REQUESTER="$("$PORTREG" serve token create --role requester --name team --db "$DB_URL")"
  AGENT1="$("$PORTREG" serve token create --role agent --host web1 --name agent-web1 --db "$DB_URL")"
  AGENT2="$("$PORTREG" serve token create --role agent --host web2 --db "$DB_URL")"
}

# api TOKEN METHOD PATH [BODY]: curl; prints the body, then the status on the last line
api() {
  local token="$1" method="$2" path="$3" body="${4:-}"
  curl -s -X "$method" -H "Authorization: Bearer $token" ${body:+-H 'Content-Type: application/json' --data-binary "$body"} \
    -w '\n%{http_code}' "$URL$path"
}

# report TOKEN BODY [gzip]: POST /api/v1/observations; output: body, then status
report() {
  if [ "${3:-}" = gzip ]; then
    printf '%s' "$2" | gzip -c | curl -s -X POST -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
      -H 'Content-Encoding: gzip' --data-binary @- -w '\n%{http_code}' "$URL/api/v1/observations"
  else
    api "$1" POST /api/v1/observations "$2"
  fi
}

status() { tail -n1 <<<"$output"; }
body() { sed '$d' <<<"$output"; }

L() { # L PORT [ADDRESS] [PROCESS] [PROTO]
  printf '{"proto":"%s","local_address":"%s","local_port":%s,"netns":"host","process":"%s","pid":4242,"user":"root","unit":null,"container":null,"exposure":"all-ipv4"}' \
    "${4:-tcp}" "${2:-0.0.0.0}" "$1" "${3:-daemon}"
}
K() { printf '{"proto":"tcp","local_address":"%s","local_port":%s,"netns":"host"}' "${2:-0.0.0.0}" "$1"; }

hosts() {
  run -0 api "$ADMIN" POST /api/v1/hosts '{"name":"web1","addresses":{"lo":"127.0.0.1"}}'
  run -0 api "$ADMIN" POST /api/v1/hosts '{"name":"web2","addresses":{"internal":"10.9.9.2"}}'
}

@test "fleet: full, delta (gzip), heartbeat, resync; observations and liveness" {
  tokens
  start_server
  hosts
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":1,\"full\":true,\"agent\":{\"version\":\"0.1\",\"interval_s\":30},\"ephemeral\":{\"lo\":32768,\"hi\":60999},\"reserved\":\"\",\"listeners\":[$(L 22 0.0.0.0 sshd),$(L 8080)],\"findings\":[]}"
  [ "$(status)" = 200 ]
  body | jq -e '.host == "web1" and .seq == 1 and .listeners == 2'
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":2,\"full\":false,\"base\":1,\"added\":[$(L 9090)],\"removed\":[$(K 8080)]}" gzip
  [ "$(status)" = 200 ]
  body | jq -e '.seq == 2 and .listeners == 2'
  run -0 report "$AGENT1" '{"host":"web1","seq":3,"full":false,"base":2}'
  [ "$(status)" = 200 ]
  # a base the server does not have: 409 resync, then a full report is taken
  run -0 report "$AGENT1" '{"host":"web1","seq":5,"full":false,"base":4}'
  [ "$(status)" = 409 ]
  body | jq -e '.error.code == "resync" and .error.field == "base"'
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":6,\"full\":true,\"listeners\":[$(L 22 0.0.0.0 sshd),$(L 9090)]}"
  [ "$(status)" = 200 ]
  run -0 api "$READER" GET /api/v1/observations/web1
  [ "$(status)" = 200 ]
  body | jq -e '.seq == 6 and (.listeners | map(.local_port) | sort) == [22, 9090] and .stale == false and .interval_s == 30'
  run -0 api "$READER" GET /api/v1/observations
  body | jq -e '.items | length == 1'
  # remote observations: a row per listener (HOST PROTO ADDRESS PORT NETNS PROCESS PID UNIT)
  run -0 env PORTREG_SERVER="$URL" PORTREG_TOKEN="$READER" "$PORTREG" remote observations web1
  [ "$(cut -f1,2,4,6 <<<"$output" | sort)" = "$(printf 'web1\ttcp\t22\tsshd\nweb1\ttcp\t9090\tdaemon')" ]
  run -1 env PORTREG_SERVER="$URL" PORTREG_TOKEN="$READER" "$PORTREG" remote observations web2
  # history: one event per listener that came or went, none for the heartbeat
  run -0 api "$READER" GET '/api/v1/events?object_kind=observations'
  body | jq -e '[.items[].kind] == ["observation.added","observation.added","observation.removed","observation.added"]'
  body | jq -e '.items[2].before.local_port == 8080 and .items[3].after.local_port == 9090'
  # stale after three intervals without a report (the clock moved by a restart)
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true
  start_server --clock-offset 200
  run -0 api "$READER" GET /api/v1/observations/web1
  body | jq -e '.stale == true and .age_s >= 200'
}

@test "fleet: tokens and bad input: another host 403, bad token 401, reader 403, unknown host 404, 400 names the field, 413, 415" {
  tokens
  start_server
  hosts
  run -0 report "$AGENT2" "{\"host\":\"web1\",\"seq\":1,\"full\":true,\"listeners\":[]}"
  [ "$(status)" = 403 ]
  body | jq -e '.error.field == "host"'
  run -0 report "portreg_notatokenatallnotatokenatall00000000" '{"host":"web1","seq":1,"full":true,"listeners":[]}'
  [ "$(status)" = 401 ]
  run -0 report "$READER" '{"host":"web1","seq":1,"full":true,"listeners":[]}'
  [ "$(status)" = 403 ]
  run -0 report "$REQUESTER" '{"host":"web1","seq":1,"full":true,"listeners":[]}'
  [ "$(status)" = 403 ]
  # an admin may report for any host; an unknown host is 404 naming host
  run -0 report "$ADMIN" '{"host":"nohost","seq":1,"full":true,"listeners":[]}'
  [ "$(status)" = 404 ]
  body | jq -e '.error.field == "host"'
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":1,\"full\":true,\"listeners\":[{\"proto\":\"tcp\",\"local_address\":\"0.0.0.0\",\"local_port\":99999,\"netns\":\"host\"}]}"
  [ "$(status)" = 400 ]
  body | jq -e '.error.field == "listeners[0].local_port"'
  run -0 report "$AGENT1" 'not json' gzip
  [ "$(status)" = 400 ]
  # 9 MiB of JSON whitespace, gzip-compressed to a few KiB: too large once inflated
  run -0 bash -c "head -c 9437184 /dev/zero | tr '\\0' ' ' | gzip -c | curl -s -X POST -H 'Authorization: Bearer $AGENT1' -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' --data-binary @- -w '\n%{http_code}' $URL/api/v1/observations"
  [ "$(status)" = 413 ]
  run -0 curl -s -X POST -H "Authorization: Bearer $AGENT1" -H 'Content-Type: text/plain' --data-binary '{}' -w '\n%{http_code}' "$URL/api/v1/observations"
  [ "$(status)" = 415 ]
  # an agent token reads like a reader, and writes nothing else
  run -0 api "$AGENT1" GET /api/v1/hosts
  [ "$(status)" = 200 ]
  run -0 api "$AGENT1" POST /api/v1/hosts '{"name":"web3"}'
  [ "$(status)" = 403 ]
  run -2 "$PORTREG" serve token create --role agent --db "$DB_URL"
}

@test "fleet: drift appears and disappears; remote drift exit codes and --json" {
  tokens
  start_server
  hosts
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"api","host":"web1","port":8080}'
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"db","host":"web1","port":5432,"bind":"loopback"}'
  # no agent yet: nothing to compare
  export PORTREG_SERVER="$URL"
  run -0 env PORTREG_TOKEN="$READER" "$PORTREG" remote drift
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":1,\"full\":true,\"listeners\":[$(L 8080),$(L 5432 0.0.0.0 postgres),$(L 22 0.0.0.0 sshd)]}"
  run -0 api "$READER" GET '/api/v1/drift?host=web1'
  body | jq -e '.hosts[0].counts == {"present":1,"absent":0,"wrong-address":1,"undeclared":1,"unauthorized":0,"lease-unused":0,"filtered":0}'
  body | jq -e '.hosts[0].items[] | select(.kind == "undeclared") | .port == 22 and .process == "sshd"'
  run -1 env PORTREG_TOKEN="$READER" "$PORTREG" remote drift --host web1
  [[ "$output" == *wrong-address* ]]
  [[ "$output" == *sshd* ]]
  run -1 env PORTREG_TOKEN="$READER" "$PORTREG" remote --json drift
  jq -e '.drift == 2' <<<"$output"
  # fixed on the host: the next report clears it
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":2,\"full\":false,\"base\":1,\"added\":[$(L 5432 127.0.0.1 postgres)],\"removed\":[$(K 5432),$(K 22)]}"
  run -0 env PORTREG_TOKEN="$READER" "$PORTREG" remote drift --host web1
  run -0 api "$READER" GET /api/v1/drift
  body | jq -e '.drift == 0 and .counts.present == 2'
  # the service stops: absent
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":3,\"full\":false,\"base\":2,\"removed\":[$(K 8080)]}"
  run -1 env PORTREG_TOKEN="$READER" "$PORTREG" remote drift
  [[ "$output" == *absent* ]]
  run -1 env PORTREG_TOKEN="$READER" "$PORTREG" remote drift --host nohost
}

@test "fleet: deassign refused while the agent sees the port listening; force; quarantine free only after 3 clean reports" {
  tokens
  start_server
  hosts
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"api","host":"web1","port":8080}'
  id="$(body | jq -r .id)"
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":1,\"full\":true,\"agent\":{\"interval_s\":30},\"listeners\":[$(L 8080 0.0.0.0 apid)]}"
  run -0 api "$ADMIN" POST "/api/v1/assignments/$id/deassign" '{"days":0}'
  [ "$(status)" = 409 ]
  body | jq -e '.error.code == "still-listening" and .error.conflict.listeners[0].process == "apid"'
  [[ "$(body | jq -r .error.message)" == *apid* ]]
  run -0 api "$ADMIN" POST "/api/v1/assignments/$id/deassign" '{"days":0,"force":true}'
  [ "$(status)" = 200 ]
  body | jq -e '.state == "quarantined"'
  # still listening: the port stays quarantined, and the listener is unauthorized use
  run -0 report "$AGENT1" '{"host":"web1","seq":2,"full":false,"base":1}'
  run -0 api "$READER" GET '/api/v1/drift?host=web1'
  body | jq -e '.hosts[0].counts.unauthorized == 1'
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"other","host":"web1","port":8080}'
  [ "$(status)" = 409 ]
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":3,\"full\":false,\"base\":2,\"removed\":[$(K 8080)]}"
  run -0 report "$AGENT1" '{"host":"web1","seq":4,"full":false,"base":3}'
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"other","host":"web1","port":8080}'
  [ "$(status)" = 409 ]
  body | jq -e '.error.code == "quarantined"'
  # the third clean report frees it
  run -0 report "$AGENT1" '{"host":"web1","seq":5,"full":false,"base":4}'
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"other","host":"web1","port":8080}'
  [ "$(status)" = 201 ]
  # a host without an agent: the end date alone (days 0 → free at once)
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"cache","host":"web2","port":6379}'
  id2="$(body | jq -r .id)"
  run -0 api "$ADMIN" POST "/api/v1/assignments/$id2/deassign" '{"days":0}'
  [ "$(status)" = 200 ]
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"other","host":"web2","port":6379}'
  [ "$(status)" = 201 ]
  # an agent that stopped reporting (stale) does not block a deassign
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"side","host":"web1","port":8090}'
  id3="$(body | jq -r .id)"
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":6,\"full\":false,\"base\":5,\"added\":[$(L 8090)]}"
  run -0 api "$ADMIN" POST "/api/v1/assignments/$id3/deassign" '{"days":0}'
  [ "$(status)" = 409 ]
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true
  start_server --clock-offset 200
  run -0 api "$ADMIN" POST "/api/v1/assignments/$id3/deassign" '{"days":0}'
  [ "$(status)" = 200 ]
}

@test "fleet: a real scan -sT --json imported with remote observe-scan shows an open unassigned port" {
  tokens
  start_server
  hosts
  "$SOCKHOLD" tcp4:127.0.0.1:0 >"$BATS_TEST_TMPDIR/hold" 2>&1 &
  HOLD_PID=$!
  for i in $(seq 100); do grep -q ready "$BATS_TEST_TMPDIR/hold" && break; sleep 0.05; done
  port="$(awk '$1 == "socket" { print $4; exit }' "$BATS_TEST_TMPDIR/hold")"
  [ -n "$port" ]
  "$PORTREG" scan -sT -p "$port" --json 127.0.0.1 >"$BATS_TEST_TMPDIR/scan.json"
  jq -e --argjson p "$port" '.hosts[0].ports[] | select(.port == $p) | .state == "open"' "$BATS_TEST_TMPDIR/scan.json"
  export PORTREG_SERVER="$URL"
  run -0 env PORTREG_TOKEN="$REQUESTER" "$PORTREG" remote observe-scan "$BATS_TEST_TMPDIR/scan.json"
  [[ "$output" == *web1* ]]
  run -1 env PORTREG_TOKEN="$READER" "$PORTREG" remote --json drift --host web1
  jq -e --argjson p "$port" '.hosts[0].items[] | select(.port == $p) | .kind == "undeclared" and .source == "scan"' <<<"$output"
  run -0 api "$READER" GET '/api/v1/scans?host=web1'
  body | jq -e --argjson p "$port" '.items[0].open == [{"proto":"tcp","port":$p,"address":"127.0.0.1"}] and .items[0].addresses == ["127.0.0.1"]'
  # from stdin too; a reader may not (403: exit 3)
  run -3 env PORTREG_TOKEN="$READER" "$PORTREG" remote observe-scan - <"$BATS_TEST_TMPDIR/scan.json"
  run -0 env PORTREG_TOKEN="$REQUESTER" "$PORTREG" remote observe-scan - <"$BATS_TEST_TMPDIR/scan.json"
}

@test "fleet: firewall generate --server builds the plan path's rules from the host's assignments" {
  tokens
  start_server
  hosts
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"api","host":"web1","port":8080,"exposure":"public"}'
  run -0 api "$ADMIN" POST /api/v1/assignments '{"service":"dns","host":"web1","port":5353,"proto":"udp","exposure":"public"}'
  curl -sf -H "Authorization: Bearer $READER" "$URL/api/v1/exports/plan" >"$BATS_TEST_TMPDIR/plan.yaml"
  run -0 "$PORTREG" firewall generate "$BATS_TEST_TMPDIR/plan.yaml" --host web1
  from_plan="$(grep -v '^# portreg firewall' <<<"$output")"
  run -0 "$PORTREG" firewall generate --server "$URL" --token "$READER" --host web1
  # the same rules; the header names the plan: the server's URL
  [[ "$output" == *"from plan \"$URL/api/v1/exports/plan\""* ]]
  [ "$(grep -v '^# portreg firewall' <<<"$output")" = "$from_plan" ]
  [[ "$output" == *8080* ]]
  [[ "$output" == *5353* ]]
  run -0 env PORTREG_TOKEN="$READER" "$PORTREG" firewall generate --server "$URL" --host web1 --format iptables
  [[ "$output" == *8080* ]]
  # a bad token: 401 (exit 3); no such host: exit 2; plan and --server together: usage
  run -3 "$PORTREG" firewall generate --server "$URL" --token portreg_notatokenatallnotatokenatall00000000 --host web1
  run -2 "$PORTREG" firewall generate --server "$URL" --token "$READER" --host nohost
  run -2 "$PORTREG" firewall generate "$BATS_TEST_TMPDIR/plan.yaml" --server "$URL" --token "$READER" --host web1
}

@test "fleet: /metrics has drift per host and kind, stale hosts and report age" {
  tokens
  start_server
  hosts
  run -0 report "$AGENT1" "{\"host\":\"web1\",\"seq\":1,\"full\":true,\"agent\":{\"interval_s\":10},\"listeners\":[$(L 22 0.0.0.0 sshd)]}"
  run -0 curl -sf "$URL/metrics"
  grep -qx 'portreg_drift{host="web1",kind="undeclared"} 1' <<<"$output"
  grep -qx 'portreg_drift{host="web1",kind="absent"} 0' <<<"$output"
  grep -qx 'portreg_hosts_stale 0' <<<"$output"
  grep -q '^portreg_agent_report_age_seconds{host="web1"} ' <<<"$output"
  run ! grep -q 'host="web2"' <<<"$output"
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true
  start_server --clock-offset 100
  run -0 curl -sf "$URL/metrics"
  grep -qx 'portreg_hosts_stale 1' <<<"$output"
}
