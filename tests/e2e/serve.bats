#!/usr/bin/env bats
# serve.bats — `portreg serve` as a real process on a loopback port with a real SQLite file:
# the request → approve → deassign → quarantine workflow over curl (the clock moved by a
# restart with --clock-offset), events by request id, auth and roles, bad bodies (400 with the
# field, 413, 415), 32 clients racing for leases and for one port, kill -9 under load and a
# restart that keeps every lease a client was given, the registry JSON of lookup --json, a
# taken address explained, SIGTERM exits 0.
load helpers

setup() {
  portreg_setup
  use_iana_fixture
  SERVER_PID=""
  DB="$BATS_TEST_TMPDIR/serve.db"
  ADMIN="$("$PORTREG" serve token create --role admin --name admin --db "sqlite:$DB")"
  READER="$("$PORTREG" serve token create --role reader --name reader --db "sqlite:$DB")"
  REQUESTER="$("$PORTREG" serve token create --role requester --name team --db "sqlite:$DB")"
}

teardown() {
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
}

# Start the server on a free loopback port (retried when the port is taken); extra args follow.
start_server() {
  local try
  for try in 1 2 3 4 5 6 7 8; do
    PORT=$((20000 + RANDOM % 10000))
    "$PORTREG" serve --listen "127.0.0.1:$PORT" --db "sqlite:$DB" "$@" 2>>"$BATS_TEST_TMPDIR/server.log" &
    SERVER_PID=$!
    local i
    for i in $(seq 100); do
      if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
        URL="http://127.0.0.1:$PORT"
        return 0
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  done
  echo "the server did not start:"; cat "$BATS_TEST_TMPDIR/server.log"
  return 1
}

stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID"
  local rc=$?
  SERVER_PID=""
  return $rc
}

# api METHOD PATH TOKEN [BODY] [extra curl args...]: sets STATUS and BODY (the response).
api() {
  local method="$1" path="$2" token="$3" body="${4:-}"
  shift 4 || shift $#
  local args=(-s -o "$BATS_TEST_TMPDIR/response" -w '%{http_code}' -X "$method")
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  STATUS="$(curl "${args[@]}" "$@" "$URL$path")"
  BODY="$(cat "$BATS_TEST_TMPDIR/response")"
}

@test "serve: request → approve → deassign → quarantine → reuse refused until its end; events by request id" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"db1","addresses":{"internal":"10.0.0.1"}}' -H 'X-Request-ID: wf-host'
  [ "$STATUS" = 201 ]
  api POST /api/v1/requests "$REQUESTER" '{"service":"orders","host":"db1","port":7100,"bind":"internal","reason":"new"}' -H 'X-Request-ID: wf-submit'
  [ "$STATUS" = 201 ]
  req="$(jq -r .id <<<"$BODY")"
  [ "$(jq -r .state <<<"$BODY")" = submitted ]
  api POST "/api/v1/requests/$req/approve" "$ADMIN" "" -H 'X-Request-ID: wf-approve'
  [ "$STATUS" = 200 ]
  [ "$(jq -r .state <<<"$BODY")" = approved ]
  assignment="$(jq -r '.assignments[0]' <<<"$BODY")"
  api GET "/api/v1/assignments/$assignment" "$READER"
  [ "$STATUS" = 200 ]
  [ "$(jq -r '.state, .port_lo, .host, .service' <<<"$BODY" | tr '\n' ' ')" = "active 7100 db1 orders " ]
  api POST "/api/v1/assignments/$assignment/deassign" "$ADMIN" "" -H 'X-Request-ID: wf-deassign'
  [ "$STATUS" = 200 ]
  [ "$(jq -r .state <<<"$BODY")" = quarantined ]
  until="$(jq -r .quarantine_until <<<"$BODY")"
  [ "$until" -gt $(( $(date +%s) + 29 * 86400 )) ]
  # another service asks for the same port: refused while quarantined, with the assignment
  api POST /api/v1/requests "$REQUESTER" '{"service":"billing","host":"db1","port":7100}'
  [ "$STATUS" = 409 ]
  [ "$(jq -r .error.code <<<"$BODY")" = quarantined ]
  [ "$(jq -r .error.conflict.id <<<"$BODY")" = "$assignment" ]
  # every step is an event carrying the request id that made it
  for step in wf-host:host.created wf-submit:request.submitted wf-approve:assignment.created \
              wf-approve:request.approved wf-deassign:assignment.quarantined; do
    api GET "/api/v1/events?request_id=${step%%:*}" "$READER"
    [ "$STATUS" = 200 ]
    jq -e --arg k "${step#*:}" '[.items[].kind] | index($k) != null' <<<"$BODY"
  done
  api GET "/api/v1/events?request_id=wf-deassign" "$READER"
  [ "$(jq -r '.items[0].before.state, .items[0].after.state' <<<"$BODY" | tr '\n' ' ')" = "active quarantined " ]
  # 31 days later (same database, the clock moved) the port can be assigned again
  stop_server
  start_server --clock-offset $((31 * 86400))
  api POST /api/v1/requests "$REQUESTER" '{"service":"billing","host":"db1","port":7100}'
  [ "$STATUS" = 201 ]
  api POST "/api/v1/requests/$(jq -r .id <<<"$BODY")/approve" "$ADMIN"
  [ "$STATUS" = 200 ]
}

@test "serve: 401 without or with a bad token, 403 for the wrong role, X-Request-ID on every answer" {
  start_server
  api GET /api/v1/hosts ""
  [ "$STATUS" = 401 ]
  [ "$(jq -r .error.code <<<"$BODY")" = unauthorized ]
  api GET /api/v1/hosts "portreg_notatoken"
  [ "$STATUS" = 401 ]
  # well formed (the checksum fits) but unknown to this server
  other="$("$PORTREG" serve token create --role admin --db "sqlite:$BATS_TEST_TMPDIR/other.db")"
  api GET /api/v1/hosts "$other"
  [ "$STATUS" = 401 ]
  api POST /api/v1/hosts "$ADMIN" '{"name":"h1"}'
  api POST /api/v1/requests "$REQUESTER" '{"service":"s","host":"h1","port":7200}'
  [ "$STATUS" = 201 ]
  api POST "/api/v1/requests/$(jq -r .id <<<"$BODY")/approve" "$READER"
  [ "$STATUS" = 403 ]
  api POST /api/v1/hosts "$REQUESTER" '{"name":"h2"}'
  [ "$STATUS" = 403 ]
  run curl -si "$URL/healthz"
  [[ "$output" == *"X-Request-ID: "* ]]
  run curl -si -H 'X-Request-ID: mine-1' "$URL/nowhere"
  [[ "$output" == *"404 Not Found"* ]]
  [[ "$output" == *"X-Request-ID: mine-1"* ]]
  run curl -si -H 'X-Request-ID: bad id with spaces' "$URL/healthz"
  [[ "$output" != *"X-Request-ID: bad"* ]]
}

@test "serve: bad bodies: 400 naming the field, 413, 415, unknown fields" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"h1"}'
  api POST /api/v1/requests "$REQUESTER" '{"service":"s","host":"h1","port":70000}'
  [ "$STATUS" = 400 ]
  [ "$(jq -r .error.field <<<"$BODY")" = port ]
  api POST /api/v1/requests "$REQUESTER" '{"service":"s","host":"nowhere","port":7000}'
  [ "$STATUS" = 400 ]
  [ "$(jq -r .error.field <<<"$BODY")" = host ]
  api POST /api/v1/requests "$REQUESTER" '{"service":"s","host":"h1","port":"7010-7000"}'
  [ "$STATUS" = 400 ]
  [ "$(jq -r .error.field <<<"$BODY")" = port ]
  api POST /api/v1/requests "$REQUESTER" '{"service":"s","host":"h1","port":7000,"prot":"tcp"}'
  [ "$STATUS" = 400 ]
  [ "$(jq -r '.error.code, .error.field' <<<"$BODY" | tr '\n' ' ')" = "unknown-field prot " ]
  api POST /api/v1/requests "$REQUESTER" '{"service":'
  [ "$STATUS" = 400 ]
  head -c 70000 /dev/zero | tr '\0' 'a' >"$BATS_TEST_TMPDIR/big"
  STATUS="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
            --data-binary "@$BATS_TEST_TMPDIR/big" "$URL/api/v1/hosts")"
  [ "$STATUS" = 413 ]
  STATUS="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" -H 'Content-Type: text/plain' \
            --data-binary '{"name":"h3"}' "$URL/api/v1/hosts")"
  [ "$STATUS" = 415 ]
  # the ephemeral range is the kernel's: refused by policy
  api POST /api/v1/requests "$REQUESTER" '{"service":"s","host":"h1","port":40000}'
  [ "$STATUS" = 422 ]
  [ "$(jq -r .error.code <<<"$BODY")" = ephemeral ]
}

@test "serve: 32 clients x 20 leases on one range: every port unique, none in the ephemeral range" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"farm"}'
  # one curl per client, its 20 requests on one keep-alive connection, its own output file
  client() {
    local args=() i
    for i in $(seq 20); do
      args+=(--next -s -H "Authorization: Bearer $REQUESTER" -H 'Content-Type: application/json'
             --data-binary "{\"service\":\"worker-$1-$i\",\"host\":\"farm\",\"range\":\"32000-33999\",\"ttl\":600}"
             -w '%{http_code}\n' "$URL/api/v1/leases")
    done
    curl "${args[@]:1}" >"$OUT/client.$1"
  }
  export -f client
  export REQUESTER URL OUT="$BATS_TEST_TMPDIR"
  seq 32 | xargs -P 32 -I{} bash -c 'client {}'
  cat "$BATS_TEST_TMPDIR"/client.* >"$BATS_TEST_TMPDIR/leases"
  [ "$(grep -cx 201 "$BATS_TEST_TMPDIR/leases")" -eq 640 ]
  grep '^{' "$BATS_TEST_TMPDIR/leases" | jq -r .port >"$BATS_TEST_TMPDIR/ports"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/ports")" -eq 640 ]
  [ "$(sort -u "$BATS_TEST_TMPDIR/ports" | wc -l)" -eq 640 ]
  [ "$(awk '$1 < 32000 || $1 >= 32768' "$BATS_TEST_TMPDIR/ports" | wc -l)" -eq 0 ]
}

@test "serve: 32 clients racing for one port: exactly one 201, the rest 409" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"race"}'
  seq 32 | xargs -P 32 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $REQUESTER" \
    -H 'Content-Type: application/json' --data-binary '{"service":"svc-{}","host":"race","port":25000}' \
    "$URL/api/v1/leases" >"$BATS_TEST_TMPDIR/codes"
  [ "$(grep -cx 201 "$BATS_TEST_TMPDIR/codes")" -eq 1 ]
  [ "$(grep -cx 409 "$BATS_TEST_TMPDIR/codes")" -eq 31 ]
  # and an assignment request for it now conflicts with the lease
  api POST /api/v1/requests "$REQUESTER" '{"service":"late","host":"race","port":25000}'
  [ "$STATUS" = 409 ]
}

@test "serve: kill -9 under lease load, restart on the same file: every lease answered 201 is there" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"crash"}'
  # 32 clients, each one curl with 100 requests on one connection and its own output file;
  # a lease counts as granted when its 201 was received
  client() {
    local args=() i
    for i in $(seq 100); do
      args+=(--next -s -m 10 -H "Authorization: Bearer $REQUESTER" -H 'Content-Type: application/json'
             --data-binary "{\"service\":\"c-$1-$i\",\"host\":\"crash\",\"ttl\":3600}"
             -w '%{http_code}\n' "$URL/api/v1/leases")
    done
    curl "${args[@]:1}" >"$OUT/crash.$1" 2>/dev/null
  }
  export -f client
  export REQUESTER URL OUT="$BATS_TEST_TMPDIR"
  (seq 32 | xargs -P 32 -I{} bash -c 'client {}' || true) &
  loader=$!
  sleep 1.5
  kill -9 "$SERVER_PID"
  SERVER_PID=""
  wait "$loader" || true
  # a body line followed by its 201: granted
  cat "$BATS_TEST_TMPDIR"/crash.* | awk '/^\{/ { body = $0; next } $0 == "201" && body != "" { print body } { body = "" }' \
    >"$BATS_TEST_TMPDIR/granted"
  granted="$(grep -c '^{' "$BATS_TEST_TMPDIR/granted" || true)"
  [ "$granted" -gt 0 ]
  start_server
  while read -r line; do
    id="$(jq -r .id <<<"$line")"; port="$(jq -r .port <<<"$line")"
    api GET "/api/v1/leases/$id" "$READER"
    [ "$STATUS" = 200 ] || { echo "lease $id missing after the crash"; false; }
    [ "$(jq -r .port <<<"$BODY")" = "$port" ]
  done < <(grep '^{' "$BATS_TEST_TMPDIR/granted")
  api GET /readyz ""
  [ "$STATUS" = 200 ]
}

@test "serve: the registry route serves what lookup --json prints" {
  start_server
  api GET /api/v1/registry/3306 "$READER"
  [ "$STATUS" = 200 ]
  [ "$(jq -S . <<<"$BODY")" = "$("$PORTREG" lookup --json 3306 | jq -S .)" ]
  api GET "/api/v1/registry?search=mysql" "$READER"
  [ "$STATUS" = 200 ]
  [ "$(jq -S . <<<"$BODY")" = "$("$PORTREG" lookup --json --search mysql | jq -S .)" ]
  api GET /api/v1/registry/70000 "$READER"
  [ "$STATUS" = 400 ]
}

@test "serve: repeated registry answers (served from memory) stay what lookup --json prints, per query" {
  start_server
  local query
  for query in 3306 53 3306 mysql 53 http; do
    api GET "/api/v1/registry/$query" "$READER"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "$("$PORTREG" lookup --json "$query")" ]
  done
  for _ in 1 2; do
    api GET "/api/v1/registry?search=mysql" "$READER"
    [ "$STATUS" = 200 ]
    [ "$BODY" = "$("$PORTREG" lookup --json --search mysql)" ]
  done
  # a reader's token is still needed for an answer from memory
  api GET /api/v1/registry/3306 ""
  [ "$STATUS" = 401 ]
}

@test "serve: a taken address is explained (who holds it) with exit 3; SIGTERM exits 0" {
  start_server
  run --separate-stderr "$PORTREG" serve --listen "127.0.0.1:$PORT" --db "sqlite:$BATS_TEST_TMPDIR/second.db"
  [ "$status" -eq 3 ]
  [[ "$stderr" == *"127.0.0.1:$PORT"* ]]
  [[ "$stderr" == *"in-use"* || "$stderr" == *"listens"* ]]
  [[ "$stderr" == *"portreg"* ]]
  stop_server   # fails the test unless the server exits 0
  grep -q 'serve: stopped' "$BATS_TEST_TMPDIR/server.log"
}

@test "the server's libraries are a module: other commands do not map them, a missing module is said" {
  # portreg itself needs none of libmicrohttpd, SQLite, GnuTLS (start-up of lookup, ls...)
  run -0 readelf -d "$PORTREG"
  [[ "$output" != *libmicrohttpd* && "$output" != *libsqlite3* && "$output" != *libgnutls* ]]
  run -0 readelf -d "$(dirname "$PORTREG")/portreg-serve.so"
  [[ "$output" == *libmicrohttpd* && "$output" == *libsqlite3* ]]
  # and a lookup does not load them at run time either
  run -0 env LD_DEBUG=files "$PORTREG" lookup 22
  [[ "$output" != *libmicrohttpd* && "$output" != *libsqlite3* ]]
  run --separate-stderr -3 env PORTREG_SERVE_MODULE=/nonexistent/portreg-serve.so "$PORTREG" serve --help
  [[ "$stderr" == "portreg: serve: cannot load the server module /nonexistent/portreg-serve.so: "* ]]
}
