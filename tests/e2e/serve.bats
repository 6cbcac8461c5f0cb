#!/usr/bin/env bats
# serve.bats — `portreg serve` as a real process on a loopback port with a real SQLite file
# (e2e_serve_pg runs it again on a throwaway PostgreSQL, tests/pg_server.sh):
# the request → approve → deassign → quarantine workflow over curl (the clock moved by a
# restart with --clock-offset), events by request id, auth and roles, bad bodies (400 with the
# field, 413, 415), 32 clients racing for leases and for one port, kill -9 under load and a
# restart that keeps every lease a client was given, the registry JSON of lookup --json, a
# taken address explained, a host's address change refused when two assignments would then
# overlap, SIGTERM exits 0.
load helpers

setup() {
  portreg_setup
  use_iana_fixture
  SERVER_PID=""
  DB="$BATS_TEST_TMPDIR/serve.db"
  test_db_url
  ADMIN="$("$PORTREG" serve token create --role admin --name admin --db "$DB_URL")"
  READER="$("$PORTREG" serve token create --role reader --name reader --db "$DB_URL")"
  REQUESTER="$("$PORTREG" serve token create --role requester --name team --db "$DB_URL")"
}

teardown() {
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "${HOLDER:-}" ]; then exec 7>&- || true; kill "$HOLDER" 2>/dev/null || true; fi
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

@test "serve: 64 parallel leases share batches: all unique, each with its event; one on a taken port gets 409 alone" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"burst"}'
  api POST /api/v1/leases "$REQUESTER" '{"service":"first","host":"burst","port":26000}'
  [ "$STATUS" = 201 ]
  # 64 auto leases and one for the taken port 26000, all at once (one curl each)
  { seq 64; echo taken; } | xargs -P 65 -I{} sh -c '
    if [ {} = taken ]; then body="{\"service\":\"late\",\"host\":\"burst\",\"port\":26000}"
    else body="{\"service\":\"w-{}\",\"host\":\"burst\",\"range\":\"26000-26999\"}"; fi
    curl -s -o "$0/lease.{}" -w "%{http_code} {}\n" -H "Authorization: Bearer $1" \
      -H "Content-Type: application/json" --data-binary "$body" "$2/api/v1/leases"' \
    "$BATS_TEST_TMPDIR" "$REQUESTER" "$URL" >"$BATS_TEST_TMPDIR/codes"
  [ "$(grep -c '^201 [0-9]' "$BATS_TEST_TMPDIR/codes")" -eq 64 ]
  grep -qx '409 taken' "$BATS_TEST_TMPDIR/codes"
  [ "$(jq -r .error.code "$BATS_TEST_TMPDIR/lease.taken")" = port-taken ]
  for i in $(seq 64); do jq -r .port "$BATS_TEST_TMPDIR/lease.$i"; done >"$BATS_TEST_TMPDIR/ports"
  [ "$(sort -u "$BATS_TEST_TMPDIR/ports" | grep -cvx 26000)" -eq 64 ]
  # every lease is in the database and has its own event
  api GET '/api/v1/leases?host=burst&limit=1000' "$READER"
  [ "$(jq '.items | length' <<<"$BODY")" -eq 65 ]
  api GET '/api/v1/events?kind=lease.created&limit=1000' "$READER"
  [ "$(jq '.items | length' <<<"$BODY")" -eq 65 ]
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
  # kill once leases are being answered (on a loaded machine the 32 clients' first requests,
  # each recording its token's first use, may take longer than a fixed pause)
  for i in $(seq 300); do
    grep -q 'POST /api/v1/leases 201' "$BATS_TEST_TMPDIR/server.log" && break
    sleep 0.1
  done
  sleep 0.5
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

# registry_service PORT: the service names the server's registry answers for PORT, one line.
registry_service() {
  api GET "/api/v1/registry/$1" "$READER"
  [ "$STATUS" = 200 ] || return 1
  jq -r '[.queries[0].records[].service] | unique | join(" ")' <<<"$BODY"
}

@test "serve: SIGHUP reloads the registry index (answers, map) with no restart; a corrupt index keeps the old one; a registry update is seen" {
  # the index from a copy of the fixture whose path is as long as the changed copy's below
  cp "$FIXTURES/iana-mini.csv" "$BATS_TEST_TMPDIR/orig.csv"
  "$PORTREG" registry update --from "$BATS_TEST_TMPDIR/orig.csv" >/dev/null
  start_server
  local pid="$SERVER_PID" index="$PORTREG_STATE_DIR/index.bin"
  [ "$(registry_service 7001)" = quotesvc ]
  # the policy's IANA rule reads the index too: 7002 is nobody's yet
  api PUT /api/v1/policy "$ADMIN" '{"iana_assigned_allowed":false}'
  [ "$STATUS" = 200 ]
  api POST /api/v1/hosts "$ADMIN" '{"name":"h1"}'
  api GET "/api/v1/check?service=mine&host=h1&port=7002" "$READER"
  [ "$(jq -r .free <<<"$BODY")" = true ]
  curl -sf -D "$BATS_TEST_TMPDIR/map.h" -o /dev/null -H "Authorization: Bearer $READER" "$URL/api/v1/registry/map"
  local etag_before
  etag_before="$(grep -i '^etag:' "$BATS_TEST_TMPDIR/map.h" | tr -d '\r')"
  [ -n "$etag_before" ]
  # an index built elsewhere from a changed CSV (7001's service moved to 7002; the same length
  # of text, so the same file size),
  # renamed over the server's with the old file's time: only the signal can make it seen
  sed 's/^quotesvc,7001,/quotesvz,7002,/' "$FIXTURES/iana-mini.csv" >"$BATS_TEST_TMPDIR/chan.csv"
  PORTREG_STATE_DIR="$BATS_TEST_TMPDIR/other" "$PORTREG" registry update --from "$BATS_TEST_TMPDIR/chan.csv" >/dev/null
  cp "$BATS_TEST_TMPDIR/other/index.bin" "$PORTREG_STATE_DIR/index.new"
  [ "$(stat -c %s "$PORTREG_STATE_DIR/index.new")" = "$(stat -c %s "$index")" ]
  touch -r "$index" "$PORTREG_STATE_DIR/index.new"
  mv "$PORTREG_STATE_DIR/index.new" "$index"
  sleep 1.5
  [ "$(registry_service 7001)" = quotesvc ]
  kill -HUP "$pid"
  local i
  for i in $(seq 50); do [ "$(registry_service 7002)" = quotesvz ] && break; sleep 0.1; done
  [ "$(registry_service 7002)" = quotesvz ]
  [ "$(registry_service 7001)" = "" ]
  [ "$(registry_service quotesvz)" = quotesvz ]
  api GET "/api/v1/check?service=mine&host=h1&port=7002" "$READER"
  [ "$(jq -r '.free, .refusal.code' <<<"$BODY" | tr '\n' ' ')" = "false iana-assigned " ]
  kill -0 "$pid"
  [ "$SERVER_PID" = "$pid" ]
  grep -Eq 'registry reloaded \(SIGHUP\): [0-9]+ entries from .*index.bin' "$BATS_TEST_TMPDIR/server.log"
  curl -sf -D "$BATS_TEST_TMPDIR/map.h" -o /dev/null -H "Authorization: Bearer $READER" "$URL/api/v1/registry/map"
  [ "$(grep -i '^etag:' "$BATS_TEST_TMPDIR/map.h" | tr -d '\r')" != "$etag_before" ]
  # a corrupt index: one line says the reload failed, the server keeps answering from the index it had
  head -c 8192 /dev/urandom >"$PORTREG_STATE_DIR/index.new"
  mv "$PORTREG_STATE_DIR/index.new" "$index"
  kill -HUP "$pid"
  for i in $(seq 50); do grep -q 'registry reload (SIGHUP) failed' "$BATS_TEST_TMPDIR/server.log" && break; sleep 0.1; done
  run grep -c 'registry reload (SIGHUP) failed, still serving the index loaded before: .*index.bin' "$BATS_TEST_TMPDIR/server.log"
  [ "$output" = 1 ]
  [ "$(registry_service 7002)" = quotesvz ]
  kill -0 "$pid"
  # `portreg registry update` rewrites the index (it leaves a file it did not write alone, so the
  # garbage goes first): the server sees the file change within a second or two, no signal
  rm "$index"
  "$PORTREG" registry update --from "$FIXTURES/iana-mini.csv" >/dev/null
  for i in $(seq 50); do [ "$(registry_service 7001)" = quotesvc ] && break; sleep 0.1; done
  [ "$(registry_service 7001)" = quotesvc ]
  grep -Eq 'registry reloaded \(index file changed\): [0-9]+ entries' "$BATS_TEST_TMPDIR/server.log"
  kill -0 "$pid"
  stop_server
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
  # libpq is loaded only when a PostgreSQL URL is given (dlopen), not even by the module
  [[ "$output" != *libpq* ]]
  # and a lookup does not load them at run time either
  run -0 env LD_DEBUG=files "$PORTREG" lookup 22
  [[ "$output" != *libmicrohttpd* && "$output" != *libsqlite3* && "$output" != *libpq* ]]
  run --separate-stderr -3 env PORTREG_SERVE_MODULE=/nonexistent/portreg-serve.so "$PORTREG" serve --help
  [[ "$stderr" == "portreg: serve: cannot load the server module /nonexistent/portreg-serve.so: "* ]]
}

# A test CA and a certificate for 127.0.0.1 signed by it, in $BATS_TEST_TMPDIR/tls.
make_test_ca() {
  local d="$BATS_TEST_TMPDIR/tls"
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=portreg test CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext" -out "$d/server.pem" 2>/dev/null
  TLS="$d"
}

@test "serve --tls-cert --tls-key: a client with the test CA verifies the server; plain HTTP and clients without the CA fail" {
  make_test_ca
  SCHEME=https HEALTH_CA="$TLS/ca.pem" start_server --tls-cert "$TLS/server.pem" --tls-key "$TLS/server.key"
  grep -q "listening on https://127.0.0.1:$PORT/" "$BATS_TEST_TMPDIR/server.log"
  api GET /api/v1/hosts "$READER" "" --cacert "$TLS/ca.pem"
  [ "$STATUS" = 200 ]
  [ "$(jq -r '.items | length' <<<"$BODY")" = 0 ]
  # no CA: the certificate cannot be verified (curl 60)
  run curl -s -o /dev/null "$URL/healthz"
  [ "$status" -eq 60 ]
  # plain HTTP to the TLS port gets no HTTP answer
  run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz"
  [ "$status" -ne 0 ]
  [ "$output" = 000 ]
  stop_server
}

@test "serve TLS options: both or neither, unreadable files named (exit 2), a bad pair said clearly, nothing started" {
  make_test_ca
  run --separate-stderr -2 "$PORTREG" serve --db "$DB_URL" --tls-cert "$TLS/server.pem"
  [[ "$stderr" == *"--tls-cert needs --tls-key"* ]]
  run --separate-stderr -2 "$PORTREG" serve --db "$DB_URL" --tls-key "$TLS/server.key"
  [[ "$stderr" == *"--tls-key needs --tls-cert"* ]]
  run --separate-stderr -2 "$PORTREG" serve --db "$DB_URL" --tls-cert "$TLS/nowhere.pem" --tls-key "$TLS/server.key"
  [[ "$stderr" == *"--tls-cert $TLS/nowhere.pem: cannot read: No such file or directory"* ]]
  run --separate-stderr -2 "$PORTREG" serve --db "$DB_URL" --tls-cert "$TLS/server.pem" --tls-key "$TLS/ext"
  [[ "$stderr" == *"--tls-key $TLS/ext: not a PEM file"* ]]
  # the CA's key is not the certificate's
  run --separate-stderr -2 "$PORTREG" serve --db "$DB_URL" --tls-cert "$TLS/server.pem" --tls-key "$TLS/ca.key"
  [[ "$stderr" == *"the key does not belong to the certificate"* ]]
  [[ "$stderr" != *"listening"* ]]
}

@test "serve --anonymous-read: reader routes without a token; writes still 401; off by default" {
  start_server
  api GET /api/v1/hosts ""
  [ "$STATUS" = 401 ]
  api GET /api/v1/registry/22 ""
  [ "$STATUS" = 401 ]
  stop_server
  start_server --anonymous-read
  api GET /api/v1/hosts ""
  [ "$STATUS" = 200 ]
  api GET /api/v1/registry/22 ""
  [ "$STATUS" = 200 ]
  api GET /api/v1/events ""
  [ "$STATUS" = 200 ]
  api POST /api/v1/hosts "" '{"name":"anon"}'
  [ "$STATUS" = 401 ]
  [ "$(jq -r .error.code <<<"$BODY")" = unauthorized ]
  api POST /api/v1/leases "" '{"service":"s","host":"anon"}'
  [ "$STATUS" = 401 ]
  # a token that is sent is still checked
  api GET /api/v1/hosts "portreg_notatoken"
  [ "$STATUS" = 401 ]
  # and the log names the anonymous reader
  grep -q 'GET /api/v1/hosts 200 .* actor=anonymous' "$BATS_TEST_TMPDIR/server.log"
}

@test "serve --rate-limit: 429 with Retry-After and the JSON error past the burst, per token, per address without one" {
  start_server --rate-limit 1 --rate-burst 3 --anonymous-read
  # the bucket starts full (3); then one request a second: of 8 quick requests the first 3
  # pass whatever the timing, and some of the rest do not
  for i in $(seq 8); do
    curl -s -i -H "Authorization: Bearer $READER" "$URL/api/v1/hosts" >"$BATS_TEST_TMPDIR/rl.$i"
  done
  for i in 1 2 3; do grep -q '^HTTP/1.1 200' "$BATS_TEST_TMPDIR/rl.$i"; done
  limited="$(grep -l '^HTTP/1.1 429' "$BATS_TEST_TMPDIR"/rl.* | head -1)"
  [ -n "$limited" ]
  grep -q '^Retry-After: 1' "$limited"
  tail -1 "$limited" | jq -e '.error.code == "rate-limited" and (.error.message | test("1 requests a second"))'
  # another token has a bucket of its own; so have anonymous clients (by address)
  api GET /api/v1/hosts "$ADMIN"
  [ "$STATUS" = 200 ]
  api GET /api/v1/hosts ""
  [ "$STATUS" = 200 ]
  # health checks and metrics are not limited
  for i in 1 2 3 4 5; do
    STATUS="$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")"
    [ "$STATUS" = 200 ]
  done
  # the bucket refills: one request a second
  sleep 1.1
  api GET /api/v1/hosts "$READER"
  [ "$STATUS" = 200 ]
}

@test "serve without --rate-limit answers a burst of 100 requests from one token" {
  start_server
  local args=() i
  for i in $(seq 100); do
    args+=(--next -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $READER" "$URL/api/v1/hosts")
  done
  codes="$(curl "${args[@]:1}")"
  [ "$(grep -cx 200 <<<"$codes")" -eq 100 ]
}

# The value of one sample of /metrics ("0" when absent).
metric() {
  awk -v name="$1" '$1 == name { print $2; found = 1 } END { if (!found) print 0 }' <<<"$METRICS"
}

@test "serve /metrics: Prometheus text; request counts, the histogram and the gauges follow the requests" {
  start_server
  METRICS="$(curl -sf "$URL/metrics")"
  [ "$(metric 'portreg_http_requests_total{method="POST",route="/api/v1/hosts",status="201"}')" = 0 ]
  start="$(metric process_start_time_seconds)"
  [ "$start" -le "$(date +%s)" ] && [ "$start" -gt $(( $(date +%s) - 600 )) ]
  [ "$(metric 'portreg_database_up')" = 1 ]
  [ "$(metric 'portreg_leases{state="active"}')" = 0 ]
  for h in m1 m2 m3; do api POST /api/v1/hosts "$ADMIN" "{\"name\":\"$h\"}"; [ "$STATUS" = 201 ]; done
  api POST /api/v1/hosts "$ADMIN" '{"name":"m1"}'
  [ "$STATUS" = 409 ]
  api GET /api/v1/hosts/1 "$READER"
  api GET /api/v1/hosts/2 "$READER"
  api GET /nowhere ""
  api POST /api/v1/leases "$REQUESTER" '{"service":"web","host":"m1","ttl":600}'
  [ "$STATUS" = 201 ]
  api POST /api/v1/requests "$REQUESTER" '{"service":"db","host":"m2","port":7300}'
  [ "$STATUS" = 201 ]
  METRICS="$(curl -sf -D "$BATS_TEST_TMPDIR/headers" "$URL/metrics")"
  grep -qi '^Content-Type: text/plain; version=0.0.4' "$BATS_TEST_TMPDIR/headers"
  [ "$(metric 'portreg_http_requests_total{method="POST",route="/api/v1/hosts",status="201"}')" = 3 ]
  [ "$(metric 'portreg_http_requests_total{method="POST",route="/api/v1/hosts",status="409"}')" = 1 ]
  [ "$(metric 'portreg_http_requests_total{method="GET",route="/api/v1/hosts/{id}",status="200"}')" = 2 ]
  [ "$(metric 'portreg_http_requests_total{method="GET",route="unmatched",status="404"}')" = 1 ]
  [ "$(metric 'portreg_http_request_duration_seconds_count{method="POST",route="/api/v1/hosts"}')" = 4 ]
  [ "$(metric 'portreg_http_request_duration_seconds_bucket{method="POST",route="/api/v1/hosts",le="+Inf"}')" = 4 ]
  [ "$(metric 'portreg_leases{state="active"}')" = 1 ]
  [ "$(metric 'portreg_requests{state="submitted"}')" = 1 ]
  [ "$(metric 'portreg_requests_submitted')" = 1 ]
  [ "$(metric 'portreg_assignments{state="active"}')" = 0 ]
  # every sample line is NAME{LABELS} VALUE or NAME VALUE, and every metric has its TYPE
  run -0 awk '!/^#/ && !/^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$/ { print "bad: " $0; bad = 1 } END { exit bad }' <<<"$METRICS"
  for name in portreg_http_requests_total portreg_http_request_duration_seconds portreg_assignments portreg_leases \
              portreg_requests process_start_time_seconds; do
    grep -q "^# TYPE $name " <<<"$METRICS"
  done
  # the histogram's buckets are cumulative
  run -0 awk -F' ' '/^portreg_http_request_duration_seconds_bucket\{method="POST",route="\/api\/v1\/hosts"/ {
           if ($2 < last) exit 1; last = $2 }' <<<"$METRICS"
}

@test "serve --config: options from a YAML file, the command line overrides them" {
  PORT=$((20000 + RANDOM % 10000))
  FILE_PORT=$PORT
  cat >"$BATS_TEST_TMPDIR/serve.yaml" <<YAML
# portreg serve's options; keys are the long options
listen:
  - 127.0.0.1:$PORT
db: $DB_URL
log-format: json
anonymous-read: true
threads: 2
YAML
  "$PORTREG" serve --config "$BATS_TEST_TMPDIR/serve.yaml" 2>>"$BATS_TEST_TMPDIR/server.log" &
  SERVER_PID=$!
  URL="http://127.0.0.1:$PORT"
  for i in $(seq 100); do curl -sf "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
  api GET /api/v1/hosts ""                      # anonymous-read from the file
  [ "$STATUS" = 200 ]
  stop_server
  # a JSON line per request (log-format from the file)
  grep '"path":"/api/v1/hosts"' "$BATS_TEST_TMPDIR/server.log" | jq -e '.status == 200 and .actor == "anonymous"'
  # the command line wins: another address, text lines
  : >"$BATS_TEST_TMPDIR/server.log"
  start_server --config "$BATS_TEST_TMPDIR/serve.yaml" --log-format text
  [ "$PORT" != "$FILE_PORT" ]
  api GET /api/v1/hosts ""
  [ "$STATUS" = 200 ]
  stop_server
  grep -q "GET /api/v1/hosts 200 .* actor=anonymous" "$BATS_TEST_TMPDIR/server.log"
}

@test "serve --config errors name file:line:column and the key, exit 2, nothing started" {
  conf="$BATS_TEST_TMPDIR/bad.yaml"
  printf 'listen: [127.0.0.1:7999]\nthreds: 4\n' >"$conf"
  run --separate-stderr -2 "$PORTREG" serve --config "$conf"
  [ "$stderr" = "portreg: serve: --config $conf:2:1: \"threds\": unknown key (did you mean threads?)" ]
  printf 'listen: 127.0.0.1:7999\nlog-format: xml\n' >"$conf"
  run --separate-stderr -2 "$PORTREG" serve --config "$conf"
  [ "$stderr" = "portreg: serve: --config $conf:2:13: log-format: \"xml\" is not text or json" ]
  printf 'anonymous-read: yes\n' >"$conf"
  run --separate-stderr -2 "$PORTREG" serve --config "$conf"
  [[ "$stderr" == *"$conf:1:17: anonymous-read: true or false"* ]]
  printf 'threads: [1, 2]\n' >"$conf"
  run --separate-stderr -2 "$PORTREG" serve --config "$conf"
  [[ "$stderr" == *"$conf:1:10: threads: one value, not a list"* ]]
  printf 'listen: [127.0.0.1:7999\n' >"$conf"
  run --separate-stderr -2 "$PORTREG" serve --config "$conf"
  [[ "$stderr" == *"$conf:"*": YAML: "* ]]
  run --separate-stderr -2 "$PORTREG" serve --config "$BATS_TEST_TMPDIR/none.yaml"
  [[ "$stderr" == *"--config $BATS_TEST_TMPDIR/none.yaml: cannot read: No such file or directory"* ]]
  # a bad value on the command line is still the command line's error
  printf 'threads: 2\n' >"$conf"
  run --separate-stderr -2 "$PORTREG" serve --config "$conf" --threads 0
  [[ "$stderr" == *'--threads: "0" is not 1-1024'* ]]
  [[ "$stderr" != *"listening"* ]]
}

@test "serve: SIGTERM lets a request in flight finish (its answer arrives), then exits 0" {
  start_server
  # a 40 KB body sent at 16 KB/s: about 2.5 s in flight
  { printf '{"name":"slow"'; head -c 40000 /dev/zero | tr '\0' ' '; printf '}'; } >"$BATS_TEST_TMPDIR/slow.json"
  curl -s -o "$BATS_TEST_TMPDIR/slow.out" -w '%{http_code}' --limit-rate 16k -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' --data-binary "@$BATS_TEST_TMPDIR/slow.json" "$URL/api/v1/hosts" \
    >"$BATS_TEST_TMPDIR/slow.code" &
  client=$!
  sleep 0.8
  kill -TERM "$SERVER_PID"
  sleep 0.3
  # no new connections once draining
  run curl -s -o /dev/null -m 2 "$URL/healthz"
  [ "$status" -ne 0 ]
  wait "$client"
  [ "$(cat "$BATS_TEST_TMPDIR/slow.code")" = 201 ]
  jq -e '.name == "slow"' "$BATS_TEST_TMPDIR/slow.out"
  wait "$SERVER_PID"   # exit 0, else the test fails
  SERVER_PID=""
  grep -q 'serve: stopped' "$BATS_TEST_TMPDIR/server.log"
}

@test "serve --log-format json: one JSON object per request with time, remote, method, path, status, duration, request id, actor" {
  start_server --log-format json
  api GET /api/v1/hosts "$READER" "" -H 'X-Request-ID: log-1'
  api GET /healthz ""
  stop_server
  line="$(grep '"request_id":"log-1"' "$BATS_TEST_TMPDIR/server.log")"
  [ "$(wc -l <<<"$line")" -eq 1 ]
  jq -e '.method == "GET" and .path == "/api/v1/hosts" and .status == 200 and .remote == "127.0.0.1"
         and .actor == "reader" and (.duration_ms | type) == "number" and (.time | test("^[0-9-]+T"))' <<<"$line"
  [ "$(grep -c '^{' "$BATS_TEST_TMPDIR/server.log")" -eq "$(grep -c '"path":' "$BATS_TEST_TMPDIR/server.log")" ]
}

@test "serve: 503 with the JSON error while the database cannot be written (another process holds its lock)" {
  command -v sqlite3 >/dev/null || skip "needs sqlite3 (scripts/install-deps.sh test)"
  on_postgres && skip "SQLite's write lock (serve_pg.bats stops PostgreSQL instead)"
  start_server
  # another process takes SQLite's write lock and keeps it until told (a token's first use
  # records its time, a write of its own: done before the lock is taken)
  api GET /api/v1/hosts "$ADMIN"
  mkfifo "$BATS_TEST_TMPDIR/sql"
  sqlite3 "$DB" <"$BATS_TEST_TMPDIR/sql" >"$BATS_TEST_TMPDIR/sqlite.out" 2>&1 &
  HOLDER=$!
  exec 7>"$BATS_TEST_TMPDIR/sql"
  printf "BEGIN IMMEDIATE;\nINSERT INTO policy (key, value) VALUES ('held', '1');\n" >&7
  sleep 0.5
  # the write waits SQLite's busy timeout (10 s), then 503
  api POST /api/v1/hosts "$ADMIN" '{"name":"blocked"}' -m 40
  [ "$STATUS" = 503 ]
  [ "$(jq -r .error.code <<<"$BODY")" = busy ]
  [[ "$(jq -r .error.message <<<"$BODY")" == *"database is busy"* ]]
  # readers are not blocked by a writer (WAL)
  api GET /api/v1/hosts "$READER"
  [ "$STATUS" = 200 ]
  printf 'ROLLBACK;\n' >&7
  exec 7>&-
  wait "$HOLDER"
  HOLDER=""
  api POST /api/v1/hosts "$ADMIN" '{"name":"unblocked"}'
  [ "$STATUS" = 201 ]
}

@test "serve: groups and services: create, GET, PATCH with If-Match, DELETE; a request by group expands at approval" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"w1","addresses":{"internal":"10.0.0.1"}}'
  api POST /api/v1/hosts "$ADMIN" '{"name":"w2","addresses":{"internal":"10.0.0.2"}}'
  api POST /api/v1/groups "$ADMIN" '{"name":"web","hosts":["w1"]}'
  [ "$STATUS" = 201 ]
  group="$(jq -r .id <<<"$BODY")"
  api POST /api/v1/groups "$ADMIN" '{"name":"bad","hosts":["nowhere"]}'
  [ "$STATUS" = 400 ]
  [ "$(jq -r .error.field <<<"$BODY")" = hosts ]
  api POST /api/v1/groups "$REQUESTER" '{"name":"g2","hosts":["w1"]}'
  [ "$STATUS" = 403 ]
  api POST /api/v1/requests "$REQUESTER" '{"service":"nginx","group":"web","port":8443,"bind":"internal"}'
  [ "$STATUS" = 201 ]
  req="$(jq -r .id <<<"$BODY")"
  [ "$(jq -r .group <<<"$BODY")" = web ]
  api PATCH "/api/v1/groups/$group" "$ADMIN" '{"hosts":["w1","w2"]}' -H 'If-Match: "7"'
  [ "$STATUS" = 412 ]
  api PATCH "/api/v1/groups/$group" "$ADMIN" '{"hosts":["w1","w2"]}' -H 'If-Match: "1"'
  [ "$STATUS" = 200 ]
  [ "$(curl -s -o /dev/null -D - -H "Authorization: Bearer $READER" "$URL/api/v1/groups/$group" | tr -d '\r' | sed -n 's/^ETag: //Ip')" = '"2"' ]
  api POST "/api/v1/requests/$req/approve" "$ADMIN"
  [ "$STATUS" = 200 ]
  [ "$(jq -r '.hosts | join(",")' <<<"$BODY")" = "w1,w2" ]
  api GET "/api/v1/assignments?group=web" "$READER"
  [ "$(jq -r '[.items[].host] | join(",")' <<<"$BODY")" = "w1,w2" ]
  api DELETE "/api/v1/groups/$group" "$ADMIN"
  [ "$STATUS" = 409 ]
  [ "$(jq -r .error.code <<<"$BODY")" = group-in-use ]
  # services
  api POST /api/v1/services "$ADMIN" '{"name":"nginx","owner":"web-team","description":"front"}'
  [ "$STATUS" = 201 ]
  svc="$(jq -r .id <<<"$BODY")"
  api PATCH "/api/v1/services/$svc" "$ADMIN" '{"colour":"red"}'
  [ "$STATUS" = 400 ]
  [ "$(jq -r .error.field <<<"$BODY")" = colour ]
  api PATCH "/api/v1/services/$svc" "$ADMIN" '{"owner":"edge"}' -H 'If-Match: "1"'
  [ "$STATUS" = 200 ]
  [ "$(jq -r '.owner, .description, .version' <<<"$BODY" | tr '\n' ' ')" = "edge front 2 " ]
  api GET "/api/v1/services?owner=edge" "$READER"
  [ "$(jq -r '.items | length' <<<"$BODY")" = 1 ]
  api DELETE "/api/v1/services/$svc" "$ADMIN"
  [ "$STATUS" = 409 ]
  api POST /api/v1/services "$ADMIN" '{"name":"spare"}'
  api DELETE "/api/v1/services/$(jq -r .id <<<"$BODY")" "$ADMIN"
  [ "$STATUS" = 200 ]
  [ "$(jq -r .deleted <<<"$BODY")" = true ]
}

@test "serve: POST /assignments (admin): one host gives the object, hosts or a group {items}; 409 and 422 as requests" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"a1"}'
  api POST /api/v1/hosts "$ADMIN" '{"name":"a2"}'
  api POST /api/v1/groups "$ADMIN" '{"name":"pair","hosts":["a1","a2"]}'
  api POST /api/v1/assignments "$REQUESTER" '{"service":"x","host":"a1","port":9100}'
  [ "$STATUS" = 403 ]
  api POST /api/v1/assignments "$ADMIN" '{"service":"api","host":"a1","port":9100,"reason":"direct"}'
  [ "$STATUS" = 201 ]
  [ "$(jq -r '.state, .port_lo, .host' <<<"$BODY" | tr '\n' ' ')" = "active 9100 a1 " ]
  api GET "/api/v1/requests/$(jq -r .request <<<"$BODY")" "$READER"
  [ "$(jq -r '.state, .decided_by, .reason' <<<"$BODY" | tr '\n' ' ')" = "approved admin direct " ]
  api POST /api/v1/assignments "$ADMIN" '{"service":"metrics","group":"pair","port":"auto","exposure":"internal"}'
  [ "$STATUS" = 201 ]
  [ "$(jq -r '.items | length' <<<"$BODY")" = 2 ]
  [ "$(jq -r '[.items[].port_lo] | unique | length' <<<"$BODY")" = 1 ]
  [ "$(jq -r '.items[0].group, .items[0].exposure' <<<"$BODY" | tr '\n' ' ')" = "pair internal " ]
  api POST /api/v1/assignments "$ADMIN" '{"service":"other","host":"a1","port":9100}'
  [ "$STATUS" = 409 ]
  [ "$(jq -r .error.conflict.service <<<"$BODY")" = api ]
  api POST /api/v1/assignments "$ADMIN" '{"service":"other","host":"a1","port":40000}'
  [ "$STATUS" = 422 ]
  api POST /api/v1/assignments "$ADMIN" '{"service":"other","group":"none","port":9200}'
  [ "$STATUS" = 400 ]
  [ "$(jq -r .error.field <<<"$BODY")" = group ]
}

@test "serve: PATCH /hosts/ID: an address change that would make two assignments overlap is 409 (field addresses), nothing changed; a harmless one moves the name's claims" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"mv","addresses":{"internal":"10.0.0.1"}}'
  [ "$STATUS" = 201 ]
  id="$(jq .id <<<"$BODY")"
  api POST /api/v1/assignments "$ADMIN" '{"service":"pg","host":"mv","port":5432,"bind":"internal"}'
  [ "$STATUS" = 201 ]
  api POST /api/v1/assignments "$ADMIN" '{"service":"api","host":"mv","port":5432,"bind":"10.0.0.2"}'
  [ "$STATUS" = 201 ]
  api PATCH "/api/v1/hosts/$id" "$ADMIN" '{"addresses":{"internal":"10.0.0.2"}}' -H 'If-Match: "1"'
  [ "$STATUS" = 409 ]
  [ "$(jq -r '.error.code, .error.field, .error.conflict.service' <<<"$BODY" | tr '\n' ' ')" = "port-taken addresses api " ]
  [[ "$(jq -r .error.message <<<"$BODY")" == *"of pg (bind internal) would overlap assignment "*" of api on port 5432/tcp of mv" ]]
  api GET "/api/v1/hosts/$id" "$READER"
  [ "$(jq -r '.version, .addresses.internal' <<<"$BODY" | tr '\n' ' ')" = "1 10.0.0.1 " ]
  api GET "/api/v1/events?kind=host.updated" "$READER"
  [ "$(jq '.items | length' <<<"$BODY")" = 0 ]
  api PATCH "/api/v1/hosts/$id" "$ADMIN" '{"addresses":{"internal":"10.0.0.3"}}' -H 'If-Match: "1"'
  [ "$STATUS" = 200 ]
  api POST /api/v1/assignments "$ADMIN" '{"service":"web","host":"mv","port":5432,"bind":"10.0.0.1"}'
  [ "$STATUS" = 201 ]
  api POST /api/v1/assignments "$ADMIN" '{"service":"web2","host":"mv","port":5432,"bind":"10.0.0.3"}'
  [ "$STATUS" = 409 ]
  [ "$(jq -r .error.conflict.service <<<"$BODY")" = pg ]
}

@test "serve: portmap: 16 KiB, 2 bits a port (free, assigned, leased, unavailable); JSON form; gzip when taken; a quarantine frees when it ends" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"pm"}'
  api POST /api/v1/assignments "$ADMIN" '{"service":"a","host":"pm","port":9100}'
  assignment="$(jq -r .id <<<"$BODY")"
  api POST /api/v1/leases "$REQUESTER" '{"service":"l","host":"pm","port":9101}'
  [ "$STATUS" = 201 ]
  curl -sf -H "Authorization: Bearer $READER" -o "$BATS_TEST_TMPDIR/map" -D "$BATS_TEST_TMPDIR/headers" "$URL/api/v1/portmap/pm/tcp"
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/map")" = 16384 ]
  grep -qi '^content-type: application/octet-stream' "$BATS_TEST_TMPDIR/headers"
  # port p: byte p/4, bits 2*(p%4): 9100 = byte 2275 bits 0-1, 9101 bits 2-3, 9102 free, 40000 ephemeral
  byte="$(od -An -tu1 -j 2275 -N1 "$BATS_TEST_TMPDIR/map" | tr -d ' ')"
  [ $((byte & 3)) = 1 ]
  [ $(((byte >> 2) & 3)) = 2 ]
  [ $(((byte >> 4) & 3)) = 0 ]
  byte="$(od -An -tu1 -j 10000 -N1 "$BATS_TEST_TMPDIR/map" | tr -d ' ')"
  [ $((byte & 3)) = 3 ]
  api GET "/api/v1/portmap/pm/tcp?format=json" "$READER"
  [ "$STATUS" = 200 ]
  [ "$(jq -r '.counts.assigned, .counts.leased, .legend."2"' <<<"$BODY" | tr '\n' ' ')" = "1 1 leased " ]
  jq -r .map <<<"$BODY" | base64 -d | cmp - "$BATS_TEST_TMPDIR/map"
  # gzip when the client takes it (the web UI fetches a map per host): the same bytes decoded,
  # far fewer sent; Vary on both forms (a cache keeps them apart), no ETag on either
  run ! grep -qi '^content-encoding' "$BATS_TEST_TMPDIR/headers"
  grep -qi '^vary: accept-encoding' "$BATS_TEST_TMPDIR/headers"
  curl -sf --compressed -H "Authorization: Bearer $READER" -o "$BATS_TEST_TMPDIR/map.decoded" \
    -D "$BATS_TEST_TMPDIR/headers.gzip" "$URL/api/v1/portmap/pm/tcp"
  grep -qi '^content-encoding: gzip' "$BATS_TEST_TMPDIR/headers.gzip"
  grep -qi '^vary: accept-encoding' "$BATS_TEST_TMPDIR/headers.gzip"
  run ! grep -qi '^etag' "$BATS_TEST_TMPDIR/headers.gzip"
  cmp "$BATS_TEST_TMPDIR/map.decoded" "$BATS_TEST_TMPDIR/map"
  curl -sf -H 'Accept-Encoding: gzip' -H "Authorization: Bearer $READER" -o "$BATS_TEST_TMPDIR/map.gz" \
    "$URL/api/v1/portmap/pm/tcp"
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/map.gz")" -lt 1024 ]
  gunzip -c "$BATS_TEST_TMPDIR/map.gz" | cmp - "$BATS_TEST_TMPDIR/map"
  api GET /api/v1/portmap/nowhere/tcp "$READER"
  [ "$STATUS" = 404 ]
  api GET /api/v1/portmap/pm/icmp "$READER"
  [ "$STATUS" = 400 ]
  api GET /api/v1/portmap/pm/tcp ""
  [ "$STATUS" = 401 ]
  # deassigned: unavailable (3) while quarantined
  api POST "/api/v1/assignments/$assignment/deassign" "$ADMIN" '{"days":1}'
  [ "$STATUS" = 200 ]
  api GET "/api/v1/portmap/pm/tcp?format=json" "$READER"
  [ "$(jq -r '.counts.assigned' <<<"$BODY")" = 0 ]
  jq -r .map <<<"$BODY" | base64 -d > "$BATS_TEST_TMPDIR/map2"
  byte="$(od -An -tu1 -j 2275 -N1 "$BATS_TEST_TMPDIR/map2" | tr -d ' ')"
  [ $((byte & 3)) = 3 ]
}

@test "serve: a requester renews and releases only the leases it took (403), an admin any" {
  start_server
  other="$("$PORTREG" serve token create --role requester --name other --db "$DB_URL")"
  api POST /api/v1/hosts "$ADMIN" '{"name":"lh"}'
  api POST /api/v1/leases "$REQUESTER" '{"service":"job","host":"lh"}'
  [ "$STATUS" = 201 ]
  lease="$(jq -r .id <<<"$BODY")"
  api POST "/api/v1/leases/$lease/release" "$other"
  [ "$STATUS" = 403 ]
  [ "$(jq -r .error.code <<<"$BODY")" = not-yours ]
  api POST "/api/v1/leases/$lease/renew" "$other" '{"ttl":60}'
  [ "$STATUS" = 403 ]
  api POST "/api/v1/leases/$lease/renew" "$REQUESTER" '{"ttl":60}'
  [ "$STATUS" = 200 ]
  api POST "/api/v1/leases/$lease/release" "$ADMIN"
  [ "$STATUS" = 200 ]
}

@test "serve: exports: plan (YAML plan check accepts), services, iana-csv, netbox-csv, nft for a host" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"db1","addresses":{"internal":"10.0.0.5"}}'
  api POST /api/v1/hosts "$ADMIN" '{"name":"db2","addresses":{"internal":"10.0.0.6"}}'
  api POST /api/v1/groups "$ADMIN" '{"name":"dbs","hosts":["db1","db2"]}'
  api POST /api/v1/services "$ADMIN" '{"name":"pg","owner":"team-db","description":"orders \"db\""}'
  api POST /api/v1/assignments "$ADMIN" '{"service":"pg","group":"dbs","port":5432,"bind":"internal","exposure":"internal"}'
  [ "$STATUS" = 201 ]
  api POST /api/v1/assignments "$ADMIN" '{"service":"web","host":"db1","port":"8080-8081","exposure":"public"}'
  [ "$STATUS" = 201 ]
  curl -sf -D "$BATS_TEST_TMPDIR/h" -H "Authorization: Bearer $READER" -o "$BATS_TEST_TMPDIR/plan.yaml" "$URL/api/v1/exports/plan"
  grep -qi '^content-type: application/yaml' "$BATS_TEST_TMPDIR/h"
  run "$PORTREG" plan check "$BATS_TEST_TMPDIR/plan.yaml"
  [ "$status" -eq 0 ]
  [[ "$output" == *"2 hosts, 2 services: 0 errors"* ]]
  # the same plan's services(5) lines as plan export writes them
  curl -sf -H "Authorization: Bearer $READER" -o "$BATS_TEST_TMPDIR/services" "$URL/api/v1/exports/services"
  "$PORTREG" plan export "$BATS_TEST_TMPDIR/plan.yaml" --format services -o "$BATS_TEST_TMPDIR/services.cli"
  diff <(grep -v '^#' "$BATS_TEST_TMPDIR/services") <(grep -v '^#' "$BATS_TEST_TMPDIR/services.cli")
  grep -q '^pg  *5432/tcp  *# team-db; orders "db"$' "$BATS_TEST_TMPDIR/services"
  curl -sf -D "$BATS_TEST_TMPDIR/h" -H "Authorization: Bearer $READER" -o "$BATS_TEST_TMPDIR/netbox" "$URL/api/v1/exports/netbox-csv"
  grep -qi '^content-type: text/csv' "$BATS_TEST_TMPDIR/h"
  tr -d '\r' <"$BATS_TEST_TMPDIR/netbox" | grep -qx 'dcim.device,db2,pg,tcp,5432,"team-db; orders ""db"""'
  # the columns of NetBox up to 4.2, as plan export --netbox-columns pre-4.3 writes them
  curl -sf -H "Authorization: Bearer $READER" -o "$BATS_TEST_TMPDIR/netbox.old" "$URL/api/v1/exports/netbox-csv-pre-4.3"
  [ "$(head -1 "$BATS_TEST_TMPDIR/netbox.old" | tr -d '\r')" = "device,name,protocol,ports,description" ]
  tr -d '\r' <"$BATS_TEST_TMPDIR/netbox.old" | grep -qx 'db2,pg,tcp,5432,"team-db; orders ""db"""'
  curl -sf -H "Authorization: Bearer $READER" -o "$BATS_TEST_TMPDIR/iana" "$URL/api/v1/exports/iana-csv"
  grep -q '^web,8081,tcp,' "$BATS_TEST_TMPDIR/iana"
  curl -sf -H "Authorization: Bearer $READER" -o "$BATS_TEST_TMPDIR/nft" "$URL/api/v1/exports/nft?host=db1"
  grep -q 'elements = { 8080, 8081 }' "$BATS_TEST_TMPDIR/nft"
  api GET /api/v1/exports/nft "$READER"
  [ "$STATUS" = 400 ]
  [ "$(jq -r .error.field <<<"$BODY")" = host ]
  api GET "/api/v1/exports/nft?host=nowhere" "$READER"
  [ "$STATUS" = 404 ]
  api GET /api/v1/exports/bogus "$READER"
  [ "$STATUS" = 404 ]
}

# api_yaml PATH TOKEN FILE [curl args]: POST a YAML body; sets STATUS and BODY.
api_yaml() {
  local path="$1" token="$2" file="$3"
  shift 3
  STATUS="$(curl -s -o "$BATS_TEST_TMPDIR/response" -w '%{http_code}' -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/yaml' --data-binary "@$file" "$@" "$URL$path")"
  BODY="$(cat "$BATS_TEST_TMPDIR/response")"
}

@test "serve: import: a plan in one transaction (dry run changes nothing, twice changes nothing), 422 with diagnostics, 409, 415, 413" {
  start_server
  plan="$BATS_TEST_DIRNAME/../../examples/plan.yaml"
  api_yaml "/api/v1/import?dry_run=1" "$ADMIN" "$plan"
  [ "$STATUS" = 200 ]
  [ "$(jq -c .created <<<"$BODY")" = '{"hosts":3,"groups":2,"services":5,"assignments":13}' ]
  [ "$(jq -r .dry_run <<<"$BODY")" = true ]
  api GET /api/v1/hosts "$READER"
  [ "$(jq -r '.items | length' <<<"$BODY")" = 0 ]
  api_yaml /api/v1/import "$REQUESTER" "$plan"
  [ "$STATUS" = 403 ]
  api_yaml /api/v1/import "$ADMIN" "$plan"
  [ "$STATUS" = 200 ]
  [ "$(jq -c .created <<<"$BODY")" = '{"hosts":3,"groups":2,"services":5,"assignments":13}' ]
  # every diagnostic has its place
  jq -e '.diagnostics | all(has("file") and has("line") and has("column") and has("path") and has("severity") and has("message"))' <<<"$BODY"
  api_yaml /api/v1/import "$ADMIN" "$plan"
  [ "$(jq -c .created <<<"$BODY")" = '{"hosts":0,"groups":0,"services":0,"assignments":0}' ]
  # auto ports come from the registry's allocator: one port for the service on both hosts of web
  api GET "/api/v1/assignments?service=app" "$READER"
  [ "$(jq -r '[.items[].port_lo] | unique | length' <<<"$BODY")" = 1 ]
  [ "$(jq -r '[.items[].group] | unique | join(",")' <<<"$BODY")" = web ]
  # a plan with errors: 422, the diagnostics with file:line:column, nothing imported
  printf 'hosts:\n  - name: new1\nservices:\n  - name: x\n    hosts: [nowhere]\n    port: 70000\n    exposure: public\n' >"$BATS_TEST_TMPDIR/bad.yaml"
  api_yaml "/api/v1/import?file=bad.yaml" "$ADMIN" "$BATS_TEST_TMPDIR/bad.yaml"
  [ "$STATUS" = 422 ]
  [ "$(jq -r .error.code <<<"$BODY")" = plan-errors ]
  [ "$(jq -r '.diagnostics[] | select(.path == "services[0].port") | "\(.file):\(.line):\(.column) \(.severity)"' <<<"$BODY")" = "bad.yaml:6:11 error" ]
  api GET "/api/v1/hosts?name=new1" "$READER"
  [ "$(jq -r '.items | length' <<<"$BODY")" = 0 ]
  # a port the registry holds for another service: 409 with the assignment, and nothing else stays
  printf 'hosts:\n  - name: new2\n  - name: web1\n    addresses: {public: 203.0.113.10, internal: 10.0.0.10}\nservices:\n  - name: other\n    hosts: [web1]\n    port: 443/tcp\n    exposure: public\n' >"$BATS_TEST_TMPDIR/clash.yaml"
  api_yaml /api/v1/import "$ADMIN" "$BATS_TEST_TMPDIR/clash.yaml"
  [ "$STATUS" = 409 ]
  [ "$(jq -r .error.conflict.service <<<"$BODY")" = nginx ]
  api GET "/api/v1/hosts?name=new2" "$READER"
  [ "$(jq -r '.items | length' <<<"$BODY")" = 0 ]
  # JSON is not a plan: 415; a body over 8 MiB: 413 (64 KiB bodies are fine here)
  api POST /api/v1/import "$ADMIN" '{}'
  [ "$STATUS" = 415 ]
  { echo "services: []"; head -c 200000 /dev/zero | tr '\0' '#'; echo; } >"$BATS_TEST_TMPDIR/big.yaml"
  api_yaml "/api/v1/import?dry_run=1" "$ADMIN" "$BATS_TEST_TMPDIR/big.yaml"
  [ "$STATUS" = 200 ]
  head -c $((8 * 1024 * 1024 + 1)) /dev/zero | tr '\0' '#' >"$BATS_TEST_TMPDIR/huge.yaml"
  api_yaml /api/v1/import "$ADMIN" "$BATS_TEST_TMPDIR/huge.yaml"
  [ "$STATUS" = 413 ]
}

@test "serve: import: a service names the server's hosts and groups (their addresses checked for overlaps); an unknown name is an error at file:line:column; a skipped address names its place" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"db1","addresses":{"internal":"10.0.0.1"}}'
  [ "$STATUS" = 201 ]
  api POST /api/v1/hosts "$ADMIN" '{"name":"db2","addresses":{"internal":"10.0.0.2"}}'
  api POST /api/v1/groups "$ADMIN" '{"name":"dbs","hosts":["db1","db2"]}'
  [ "$STATUS" = 201 ]
  cat >"$BATS_TEST_TMPDIR/partial.yaml" <<'PLAN'
hosts:
  - name: app1
    addresses: {internal: [10.0.1.1, 10.0.1.2]}
services:
  - name: pg
    hosts: [dbs]
    port: 5432/tcp
    bind: internal
    exposure: internal
  - name: api
    hosts: [db1, app1]
    port: 8080/tcp
    bind: internal
    exposure: internal
PLAN
  api_yaml "/api/v1/import?file=partial.yaml" "$ADMIN" "$BATS_TEST_TMPDIR/partial.yaml"
  [ "$STATUS" = 200 ]
  [ "$(jq -c .created <<<"$BODY")" = '{"hosts":1,"groups":0,"services":2,"assignments":4}' ]
  # the second address of a name is skipped with a warning at its place
  [ "$(jq -r '.diagnostics[] | select(.code == "import-address-skipped") | "\(.file):\(.line):\(.column) \(.severity)"' <<<"$BODY")" = "partial.yaml:3:38 warning" ]
  jq -e '.diagnostics[] | select(.code == "import-address-skipped") | .message | contains("10.0.1.2 of host app1 (partial.yaml:3:38)")' <<<"$BODY"
  api GET "/api/v1/assignments?service=pg" "$READER"
  [ "$(jq -r '[.items[] | "\(.host)/\(.group)"] | sort | join(" ")' <<<"$BODY")" = "db1/dbs db2/dbs" ]
  api GET "/api/v1/assignments?service=api" "$READER"
  [ "$(jq -r '[.items[].host] | sort | join(" ")' <<<"$BODY")" = "app1 db1" ]
  # the server's hosts and group are as they were; a second import changes nothing
  api GET "/api/v1/groups?name=dbs" "$READER"
  [ "$(jq -c '.items[0].hosts' <<<"$BODY")" = '["db1","db2"]' ]
  api_yaml "/api/v1/import?file=partial.yaml" "$ADMIN" "$BATS_TEST_TMPDIR/partial.yaml"
  [ "$STATUS" = 200 ]
  [ "$(jq -c .created <<<"$BODY")" = '{"hosts":0,"groups":0,"services":0,"assignments":0}' ]
  # the check knows db1's addresses: bind internal and bind 10.0.0.1 on the same port collide there
  cat >"$BATS_TEST_TMPDIR/overlap.yaml" <<'PLAN'
services:
  - name: a
    hosts: [db1]
    port: 9000/tcp
    bind: internal
    exposure: internal
  - name: b
    hosts: [dbs]
    port: 9000/tcp
    bind: 10.0.0.1
    exposure: internal
PLAN
  api_yaml "/api/v1/import?file=overlap.yaml" "$ADMIN" "$BATS_TEST_TMPDIR/overlap.yaml"
  [ "$STATUS" = 422 ]
  [ "$(jq -r '.diagnostics[] | select(.severity == "error") | "\(.file):\(.line):\(.column) \(.code)"' <<<"$BODY")" = "overlap.yaml:9:11 bind-conflict" ]
  # a name neither in the plan nor on the server: an error at its place, nothing imported
  printf 'services:\n  - name: c\n    hosts: [db1, nowhere]\n    port: 9001/tcp\n    exposure: internal\n' >"$BATS_TEST_TMPDIR/unknown.yaml"
  api_yaml "/api/v1/import?file=unknown.yaml" "$ADMIN" "$BATS_TEST_TMPDIR/unknown.yaml"
  [ "$STATUS" = 422 ]
  [ "$(jq -r '.diagnostics[] | select(.severity == "error") | "\(.file):\(.line):\(.column) \(.code)"' <<<"$BODY")" = "unknown.yaml:3:18 unknown-host" ]
  api GET "/api/v1/assignments?service=c" "$READER"
  [ "$(jq -r '.items | length' <<<"$BODY")" = 0 ]
}

@test "serve: an expired lease is reclaimed by the server itself (no other request needed): expired, its event, its port free" {
  start_server
  api POST /api/v1/hosts "$ADMIN" '{"name":"rc"}'
  api POST /api/v1/leases "$REQUESTER" '{"service":"short","host":"rc","port":9300,"ttl":1}'
  [ "$STATUS" = 201 ]
  lease="$(jq -r .id <<<"$BODY")"
  # the server reclaims every 2 s; no lease request is made meanwhile
  for i in $(seq 50); do
    api GET "/api/v1/leases/$lease" "$READER"
    [ "$(jq -r .state <<<"$BODY")" = expired ] && break
    sleep 0.2
  done
  [ "$(jq -r .state <<<"$BODY")" = expired ]
  api GET "/api/v1/events?kind=lease.expired" "$READER"
  [ "$(jq -r '.items[0].actor' <<<"$BODY")" = portreg-serve ]
  api GET "/api/v1/portmap/rc/tcp?format=json" "$READER"
  [ "$(jq -r .counts.leased <<<"$BODY")" = 0 ]
}

@test "serve: the request log under a burst: every request has one whole line, written without stopping the server" {
  start_server --log-format json
  args=()
  for i in $(seq 200); do args+=(-o /dev/null "$URL/healthz"); done
  curl -s --parallel --parallel-max 32 -H 'X-Request-ID: burst' "${args[@]}"
  # gathered lines reach the log by the server's 100 ms tick; the server keeps running
  for i in $(seq 30); do
    [ "$(grep -c '"request_id":"burst"' "$BATS_TEST_TMPDIR/server.log")" -eq 200 ] && break
    sleep 0.1
  done
  [ "$(grep -c '"request_id":"burst"' "$BATS_TEST_TMPDIR/server.log")" -eq 200 ]
  kill -0 "$SERVER_PID"
  # every line is one JSON object: none split or run together
  grep '"request_id":"burst"' "$BATS_TEST_TMPDIR/server.log" | jq -e 'select(.status != 200 or .path != "/healthz")' && false
  [ "$(grep -c '^{.*}$' "$BATS_TEST_TMPDIR/server.log")" -eq "$(grep -c '"path":' "$BATS_TEST_TMPDIR/server.log")" ]
}

@test "serve: a schema-1 database (tests/fixtures/ledger) is upgraded to the current schema at start: its rows kept, the new columns work" {
  on_postgres && skip "a SQLite file made by the version-1 schema (PostgreSQL starts at the current one)"
  DB="$BATS_TEST_TMPDIR/schema1.db" DB_URL="sqlite:$BATS_TEST_TMPDIR/schema1.db"
  sqlite3 "$DB" <"$PORTREG_FIXTURES/ledger/ledger-schema-1.sql"
  [ "$(sqlite3 "$DB" 'SELECT max(version) FROM schema_migrations')" = 1 ]
  start_server --anonymous-read
  [ "$(sqlite3 "$DB" 'SELECT max(version) FROM schema_migrations')" = 7 ]
  api GET /api/v1/hosts/1 ""
  [ "$STATUS" = 200 ]
  [ "$(jq -r '.name + " " + .addresses.internal' <<<"$BODY")" = "old-web 10.1.0.5" ]
  api GET /api/v1/assignments/1 ""
  [ "$(jq -r '.service + " " + (.port_lo|tostring) + " " + .state' <<<"$BODY")" = "old-api 8443 active" ]
  api GET /api/v1/leases/1 ""
  [ "$(jq -r '.port, .idempotency_key' <<<"$BODY" | tr '\n' ' ')" = "31000 old-key " ]
  api GET /api/v1/events/1 ""
  [ "$(jq -r .kind <<<"$BODY")" = request.approved ]
  # the old rows still hold their ports: the assignment and the lease conflict
  stop_server
  ADMIN="$("$PORTREG" serve token create --role admin --name admin --db "sqlite:$DB")"
  REQUESTER="$("$PORTREG" serve token create --role requester --name team --db "sqlite:$DB")"
  start_server
  api POST /api/v1/leases "$REQUESTER" '{"service":"new","host":"old-web","port":31000}'
  [ "$STATUS" = 409 ]
  api POST /api/v1/leases "$REQUESTER" '{"service":"new","host":"old-web","port":8443}'
  [ "$STATUS" = 409 ]
  # version 2's columns: a service's description, a group's created, a lease's requested_by
  api PATCH /api/v1/services/1 "$ADMIN" '{"description":"from version 1"}'
  [ "$STATUS" = 200 ]
  [ "$(jq -r .description <<<"$BODY")" = "from version 1" ]
  api POST /api/v1/leases "$REQUESTER" '{"service":"new","host":"old-web","port":31001}'
  [ "$STATUS" = 201 ]
  [ "$(jq -r .requested_by <<<"$BODY")" = team ]
  # version 3's: a decision's reason
  api POST /api/v1/requests "$REQUESTER" '{"service":"old-api","hosts":["old-web"],"port":9443}'
  [ "$STATUS" = 201 ]
  id="$(jq -r .id <<<"$BODY")"
  api POST "/api/v1/requests/$id/reject" "$ADMIN" '{"reason":"not after the upgrade"}'
  [ "$STATUS" = 200 ]
  [ "$(jq -r .decision_reason <<<"$BODY")" = "not after the upgrade" ]
  # version 4's: an agent token bound to a host, and its report
  stop_server
  AGENT="$("$PORTREG" serve token create --role agent --host old-web --db "sqlite:$DB")"
  start_server
  api POST /api/v1/observations "$AGENT" '{"host":"old-web","seq":1,"full":true,"listeners":[]}'
  [ "$STATUS" = 200 ]
}
