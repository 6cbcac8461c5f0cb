#!/usr/bin/env bats
# remote.bats — `portreg remote` against a real `portreg serve` on a free loopback port with a
# temporary SQLite file: the workflow host add → request → approve → assignments → deassign →
# quarantine → the same port refused (exit 1, the holder printed) until the end date (the
# server restarted with --clock-offset) → events of each step; leases; --json documents that
# parse; exit codes of 404, 409, 400 (field), 422, 401, 403, server down; PORTREG_SERVER and
# PORTREG_TOKEN; import and export. Answers the real server never gives on purpose (500,
# escapes, redirects, TLS with a test CA, the API contract's import answers exactly) come from
# tests/e2e/remote_fake_server.py.
load helpers

setup() {
  portreg_setup
  SERVER_PID=""
  FAKE_PID=""
  DB="$BATS_TEST_TMPDIR/serve.db"
  unset PORTREG_SERVER PORTREG_TOKEN PORTREG_CACERT
}

teardown() {
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null || true; fi
}

make_tokens() {
  ADMIN="$("$PORTREG" serve token create --role admin --name alice --db "sqlite:$DB")"
  READER="$("$PORTREG" serve token create --role reader --name rita --db "sqlite:$DB")"
  REQUESTER="$("$PORTREG" serve token create --role requester --name team --db "sqlite:$DB")"
}

# start_server (helpers.bash), and PORTREG_SERVER pointed at it.
start_remote_server() {
  start_server "$@"
  export PORTREG_SERVER="$URL"
}

stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || true
  SERVER_PID=""
}

# remote ROLE ARGS...: portreg remote with that role's token (from the environment)
remote() {
  local token="$1"
  shift
  PORTREG_TOKEN="$token" "$PORTREG" remote "$@"
}

# Start the fake server (http, or https with CERT KEY); sets FAKE_PORT and FAKE_LOG.
start_fake() {
  FAKE_LOG="$BATS_TEST_TMPDIR/fake.log"
  rm -f "$BATS_TEST_TMPDIR/fake.port"
  python3 "$BATS_TEST_DIRNAME/remote_fake_server.py" "$BATS_TEST_TMPDIR/fake.port" "$FAKE_LOG" "$@" \
    2>>"$BATS_TEST_TMPDIR/fake.err" 3>&- &
  FAKE_PID=$!
  local i
  for i in $(seq 100); do
    [ -s "$BATS_TEST_TMPDIR/fake.port" ] && break
    sleep 0.05
  done
  FAKE_PORT="$(cat "$BATS_TEST_TMPDIR/fake.port")"
  [ -n "$FAKE_PORT" ]
}

@test "remote: host add → request → approve → deassign → quarantine → refused until the end date; events" {
  make_tokens
  start_remote_server
  run -0 remote "$ADMIN" host add db1 --address internal=10.0.0.1 --address public=192.0.2.1
  [ "$(cut -f2 <<<"$output")" = db1 ]
  run -0 remote "$REQUESTER" request orders --host db1 --port 7100 --bind internal --owner team-db --reason "new"
  # piped: the request's row: ID STATE SERVICE HOSTS PORT PROTO BIND OWNER ASSIGNMENTS REQUESTED-BY
  [ "$(cut -f2-8 <<<"$output")" = "$(printf 'submitted\torders\tdb1\t7100\ttcp\tinternal\tteam-db')" ]
  req="$(cut -f1 <<<"$output")"
  run -0 remote "$ADMIN" approve "$req"
  [ "$(cut -f2 <<<"$output")" = approved ]
  assignment="$(cut -f9 <<<"$output")"
  [[ "$assignment" =~ ^[0-9]+$ ]]
  run -0 remote "$READER" requests --state approved
  [ "$(cut -f1 <<<"$output")" = "$req" ]
  run -0 remote "$READER" assignments --host db1
  [ "$(cut -f1-6 <<<"$output")" = "$(printf '%s\tactive\torders\tdb1\t7100\ttcp' "$assignment")" ]
  run -0 remote "$READER" assignments --port 7100 --state active
  [ "$(wc -l <<<"$output")" -eq 1 ]
  run -0 remote "$READER" assignments --port 7101
  [ -z "$output" ]
  run -0 remote "$ADMIN" deassign "$assignment" --days 30 --reason "orders moved"
  [ "$(cut -f2 <<<"$output")" = quarantined ]
  until_date="$(cut -f9 <<<"$output")"
  [[ "$until_date" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]
  # another service asks for the port: no (exit 1), and who holds it is said
  run --separate-stderr -1 remote "$REQUESTER" request billing --host db1 --port 7100
  [ -z "$output" ]
  [[ "$stderr" == *"(409 quarantined)"* ]]
  [[ "$stderr" == *"held by assignment $assignment of orders: 7100/tcp on db1, quarantined until $until_date"* ]]
  # the same with --json: the server's error document on stdout
  run --separate-stderr -1 remote "$REQUESTER" --json request billing --host db1 --port 7100
  jq -e --arg a "$assignment" '.error.code == "quarantined" and (.error.conflict.id | tostring) == $a' <<<"$output"
  # every step is an event, in order, with the actor
  run -0 remote "$READER" events
  kinds="$(cut -f3,4 <<<"$output" | grep -v token.created | tr '\t\n' ': ')"
  [ "$kinds" = "alice:host.created team:request.submitted alice:assignment.created alice:request.approved alice:assignment.quarantined " ]
  run -0 remote "$READER" events --object "assignments/$assignment"
  [ "$(cut -f4 <<<"$output" | tr '\n' ' ')" = "assignment.created assignment.quarantined " ]
  run -0 remote "$READER" --json events --kind assignment.quarantined
  jq -e '.items[0].before.state == "active" and .items[0].after.state == "quarantined"' <<<"$output"
  # a rejection keeps its reason, in the request and its event
  run -0 remote "$REQUESTER" request billing --host db1 --port 7200
  rejected="$(cut -f1 <<<"$output")"
  run -0 remote "$ADMIN" reject "$rejected" --reason "use the shared billing port"
  [ "$(cut -f2 <<<"$output")" = rejected ]
  run -0 remote "$READER" --json requests --state rejected
  jq -e '.items[0].decision_reason == "use the shared billing port" and .items[0].decided_by == "alice"' <<<"$output"
  run -0 remote "$READER" --json events --kind request.rejected
  jq -e '.items[0].after.decision_reason == "use the shared billing port"' <<<"$output"
  # 31 days later (the same database, the clock moved) the port can be had again
  stop_server
  start_remote_server --clock-offset $((31 * 86400))
  run -0 remote "$REQUESTER" request billing --host db1 --port 7100
  run -0 remote "$ADMIN" approve "$(cut -f1 <<<"$output")"
  [ "$(cut -f2,3 <<<"$output")" = "$(printf 'approved\tbilling')" ]
}

@test "remote: assignments --port N finds the ranges that hold N, filtered by the server" {
  make_tokens
  start_remote_server
  run -0 remote "$ADMIN" host add db1 --address internal=10.0.0.1
  run -0 remote "$REQUESTER" request workers --host db1 --port 7150-7159 --bind internal --reason "a pool"
  run -0 remote "$ADMIN" approve "$(cut -f1 <<<"$output")"
  range="$(cut -f9 <<<"$output")"
  [[ "$range" =~ ^[0-9]+$ ]]
  run -0 remote "$REQUESTER" request orders --host db1 --port 7100 --bind internal --reason "one port"
  run -0 remote "$ADMIN" approve "$(cut -f1 <<<"$output")"
  local port
  for port in 7150 7155 7159; do
    run -0 remote "$READER" assignments --port "$port"
    [ "$(cut -f1 <<<"$output")" = "$range" ]
  done
  for port in 7149 7160; do
    run -0 remote "$READER" assignments --port "$port"
    [ -z "$output" ]
  done
  run -0 remote "$READER" --json assignments --port 7155 --host db1
  jq -e --arg id "$range" '(.items | map(.id | tostring)) == [$id] and .items[0].port_lo == 7150 and .items[0].port_hi == 7159' <<<"$output"
  # the server filters (one query with port=N), the client does not fetch every assignment
  start_fake
  PORTREG_SERVER="http://127.0.0.1:$FAKE_PORT" run -0 remote "$READER" assignments --port 7155 --state active
  [ -z "$output" ]
  tail -1 "$FAKE_LOG" | jq -e '.method == "GET" and .path == "/api/v1/assignments?state=active&port=7155&limit=1000"'
}

@test "remote: lease, renew, release; the port is the fifth column; idempotency key" {
  make_tokens
  start_remote_server
  run -0 remote "$ADMIN" host add ci
  run -0 remote "$REQUESTER" lease runner --host ci --range 12000-12999 --ttl 600 --holder job-1
  lease="$(cut -f1 <<<"$output")"
  port="$(cut -f5 <<<"$output")"
  [ "$port" -ge 12000 ] && [ "$port" -le 12999 ]
  [ "$(cut -f2,3,4,8 <<<"$output")" = "$(printf 'active\trunner\tci\tjob-1')" ]
  expires="$(cut -f7 <<<"$output")"
  run -0 remote "$REQUESTER" --json renew "$lease" --ttl 1200
  jq -e '.state == "active" and .version == 2' <<<"$output"
  run -0 remote "$READER" leases --host ci --state active
  [ "$(cut -f1,5 <<<"$output")" = "$(printf '%s\t%s' "$lease" "$port")" ]
  [[ "$(cut -f7 <<<"$output")" > "$expires" ]]
  run -0 remote "$REQUESTER" release "$lease"
  [ "$(cut -f2 <<<"$output")" = released ]
  # a released lease cannot be renewed: no (exit 1)
  run --separate-stderr -1 remote "$REQUESTER" renew "$lease"
  [[ "$stderr" == *"409 not-active"* ]]
  # the same Idempotency-Key gives the same lease
  run -0 remote "$REQUESTER" lease worker --host ci --idempotency-key job-42
  first="$output"
  run -0 remote "$REQUESTER" lease worker --host ci --idempotency-key job-42
  [ "$output" = "$first" ]
  # a fixed port that a lease holds: no, and the lease is named
  run --separate-stderr -1 remote "$REQUESTER" lease other --host ci --port "$(cut -f5 <<<"$first")"
  [[ "$stderr" == *"held by lease $(cut -f1 <<<"$first") of worker: $(cut -f5 <<<"$first")/tcp on ci"* ]]
}

@test "remote: --json documents parse, lists of every page joined" {
  make_tokens
  start_remote_server
  remote "$ADMIN" host add h1 >/dev/null
  for i in $(seq 3); do remote "$REQUESTER" lease "s$i" --host h1 >/dev/null; done
  for args in "hosts" "leases" "requests" "assignments" "events" "policy" "events --limit 2" \
              "lease s9 --host h1" "host add h2"; do
    token="$ADMIN"
    # shellcheck disable=SC2086
    run -0 remote "$token" --json $args
    python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$output"
    jq -e 'type == "object"' <<<"$output"
  done
  run -0 remote "$READER" leases --json
  jq -e '(.items | length) == 4 and .next_after == null' <<<"$output"
  run -0 remote "$READER" events --limit 2 --json
  jq -e '(.items | length) == 2 and (.next_after | type) == "number"' <<<"$output"
  after="$(jq -r .next_after <<<"$output")"
  run -0 remote "$READER" events --after "$after" --limit 1 --json
  jq -e --argjson a "$after" '.items[0].id > $a' <<<"$output"
  run -0 remote "$READER" policy
  grep -qx "$(printf 'quarantine_days\t30')" <<<"$output"
}

@test "remote: exit codes: 404 and 409 are 1, 400 names the field, 422 is 2, bad token and wrong role are 3" {
  make_tokens
  start_remote_server
  remote "$ADMIN" host add db1 >/dev/null
  run --separate-stderr -1 remote "$ADMIN" approve 999
  [[ "$stderr" == *"404 not-found"* ]]
  run --separate-stderr -2 remote "$REQUESTER" request s --host db1 --port 70000
  [[ "$stderr" == "portreg: remote request: field port: "*"(400 bad-port)" ]]
  run --separate-stderr -2 remote "$REQUESTER" request s --host nowhere --port 7000
  [[ "$stderr" == *"field host: "* ]]
  run --separate-stderr -2 remote "$REQUESTER" request s --host db1 --port 40000
  [[ "$stderr" == *"(422 ephemeral)"* ]]
  run -0 remote "$REQUESTER" request s --host db1 --port 7000
  run -0 remote "$ADMIN" approve "$(cut -f1 <<<"$output")"
  assignment="$(cut -f9 <<<"$output")"
  run --separate-stderr -1 remote "$REQUESTER" request t --host db1 --port 7000
  [[ "$stderr" == *"(409 port-taken)"* && "$stderr" == *"held by assignment $assignment of s: 7000/tcp on db1, active"* ]]
  run --separate-stderr -1 remote "$ADMIN" approve "$(cut -f1 <<<"$(remote "$READER" requests --state approved)")"
  [[ "$stderr" == *"409 wrong-state"* && "$stderr" != *"held by"* ]]
  # a token the server does not know: 3, the token is not printed
  other="$("$PORTREG" serve token create --role admin --db "sqlite:$BATS_TEST_TMPDIR/other.db")"
  run --separate-stderr -3 remote "$other" hosts
  [[ "$stderr" == *"401"* && "$stderr" == *"token"* ]]
  [[ "$stderr" != *"$other"* ]]
  run --separate-stderr -3 remote "portreg_notatoken" hosts
  [[ "$stderr" == *"401"* ]]
  [[ "$stderr" != *"portreg_notatoken"* ]]
  run --separate-stderr -3 "$PORTREG" remote hosts
  [[ "$stderr" == *"no token was given: set PORTREG_TOKEN or --token"* ]]
  # the role is too low: 3, with the role named
  run --separate-stderr -3 remote "$READER" approve 2
  [[ "$stderr" == *"403 forbidden"* && "$stderr" == *"admin role"* ]]
  run --separate-stderr -3 remote "$REQUESTER" host add db2
  [[ "$stderr" == *"403 forbidden"* ]]
  # the server is down: 3, and where the address came from is said
  stop_server
  run --separate-stderr -3 remote "$ADMIN" hosts
  [[ "$stderr" == *"$URL: cannot connect"* && "$stderr" == *"PORTREG_SERVER"* ]]
}

@test "remote: PORTREG_SERVER and PORTREG_TOKEN, and the options over them" {
  make_tokens
  start_remote_server
  # options win over the environment
  run -0 env PORTREG_SERVER=http://127.0.0.1:1 PORTREG_TOKEN=portreg_wrong "$PORTREG" remote \
    --server "$URL" --token "$ADMIN" host add h1
  # options after the subcommand too
  run -0 env -u PORTREG_SERVER "$PORTREG" remote hosts --server "$URL" --token "$READER"
  [ "$(cut -f2 <<<"$output")" = h1 ]
  # the environment alone
  run -0 env PORTREG_SERVER="$URL/" PORTREG_TOKEN="$READER" "$PORTREG" remote hosts
  [ "$(cut -f2 <<<"$output")" = h1 ]
  # the token stays out of the process list: nothing in argv when it comes from the environment
  run --separate-stderr -2 env PORTREG_SERVER="ftp://$URL" "$PORTREG" remote hosts
  [[ "$stderr" == *"PORTREG_SERVER: \"ftp://"* ]]
  run --separate-stderr -2 env PORTREG_TOKEN=$'portreg_x\r\nX-Injected: 1' "$PORTREG" remote hosts
  [[ "$stderr" == "portreg: remote hosts: PORTREG_TOKEN: the token is not one"* ]]
  [[ "$stderr" != *"X-Injected"* ]]
}

@test "remote: usage errors exit 2 before any connection" {
  export PORTREG_SERVER=http://127.0.0.1:1
  run --separate-stderr -2 "$PORTREG" remote approve abc
  [[ "$stderr" == *'"abc" is not a request ID'* ]]
  run --separate-stderr -2 "$PORTREG" remote approve 1/../../hosts
  run --separate-stderr -2 "$PORTREG" remote request svc --port 80
  [[ "$stderr" == *"give --host HOST (repeatable) or --group GROUP"* ]]
  run --separate-stderr -2 "$PORTREG" remote request svc --host a --group g --port 80
  run --separate-stderr -2 "$PORTREG" remote request svc --host a
  [[ "$stderr" == *"give --port"* ]]
  run --separate-stderr -2 "$PORTREG" remote lease svc
  run --separate-stderr -2 "$PORTREG" remote lease svc --host a --ttl soon
  [[ "$stderr" == *'--ttl: "soon" is not a number'* ]]
  run --separate-stderr -2 "$PORTREG" remote host add h --address internal
  [[ "$stderr" == *"NAME=ADDRESS"* ]]
  run --separate-stderr -2 "$PORTREG" remote events --object ""
  run --separate-stderr -2 "$PORTREG" remote export json
  run --separate-stderr -2 "$PORTREG" remote frob
  [[ "$stderr" == *"'frob' is not a remote subcommand"* ]]
  run --separate-stderr -2 "$PORTREG" remote host list
  run --separate-stderr -2 "$PORTREG" remote import "$BATS_TEST_TMPDIR/missing.yaml"
  [[ "$stderr" == *"missing.yaml: cannot read"* ]]
  run --separate-stderr -2 "$PORTREG" remote --server "http://user:pw@127.0.0.1:1" hosts
  [[ "$stderr" == *"is not a server URL"* ]]
  run -0 "$PORTREG" remote request --help
  [[ "$output" == *"--port PORT"* ]]
  run -0 "$PORTREG" help remote
  [[ "$output" == *"host add"* ]]
}

@test "remote: tables and sentences on a terminal, server texts escaped" {
  make_tokens
  start_remote_server
  remote "$ADMIN" host add db1 >/dev/null
  export OWNER=$'team\e[31mred'
  run -0 script -qec "PORTREG_TOKEN=$REQUESTER $PORTREG remote request web --host db1 --port 8080 --owner \"\$OWNER\"" /dev/null
  [[ "$output" == *"request 1 submitted: web 8080/tcp on db1"* ]]
  run -0 script -qec "PORTREG_TOKEN=$READER $PORTREG remote requests" /dev/null
  [[ "$output" == *"ID"*"STATE"*"SERVICE"*"HOSTS"* ]]
  [[ "$output" == *'team\x1b[31mred'* ]]
  [[ "$output" != *$'\e[31m'* ]]
  # the owner escaped when piped too
  run -0 remote "$READER" requests
  [ "$(cut -f8 <<<"$output")" = 'team\x1b[31mred' ]
  run -0 script -qec "PORTREG_TOKEN=$REQUESTER $PORTREG remote lease ci --host db1" /dev/null
  [[ "$output" == *"lease 1 active: ci "*"/tcp on db1 until "*Z* ]]
}

@test "remote: import and export as the API contract says (a stand-in server)" {
  start_fake
  export PORTREG_SERVER="http://127.0.0.1:$FAKE_PORT" PORTREG_TOKEN=portreg_fake
  printf 'hosts:\n  - name: web\nservices: []\n' >"$BATS_TEST_TMPDIR/plan.yaml"
  run --separate-stderr -0 "$PORTREG" remote import "$BATS_TEST_TMPDIR/plan.yaml"
  [ "$output" = "$(printf 'hosts\t1\nservices\t2')" ]
  [ "$stderr" = "plan.yaml:5:3: warning: services[1]: IANA assigns 8080 to http-alt" ]
  jq -e --rawfile plan "$BATS_TEST_TMPDIR/plan.yaml" \
    'select(.path | startswith("/api/v1/import?file=")) | .method == "POST" and .content_type == "application/yaml" and .body == $plan and .authorization == "Bearer portreg_fake"' \
    "$FAKE_LOG"
  # standard input, --dry-run
  run -0 "$PORTREG" remote import --dry-run - <"$BATS_TEST_TMPDIR/plan.yaml"
  tail -1 "$FAKE_LOG" | jq -e '.path == "/api/v1/import?dry_run=1&file=-"'
  run -0 "$PORTREG" remote --json import "$BATS_TEST_TMPDIR/plan.yaml"
  jq -e '.created.services == 2' <<<"$output"
  # a plan with errors: 422, its diagnostics as file:line:column with the file given, exit 2
  printf 'services:\n  - name: a\n    port: broken\n' >"$BATS_TEST_TMPDIR/bad.yaml"
  run --separate-stderr -2 "$PORTREG" remote import "$BATS_TEST_TMPDIR/bad.yaml"
  [[ "$stderr" == "$BATS_TEST_TMPDIR/bad.yaml:3:11: error: services[0].port: port must be 1-65535"$'\n'* ]]
  [[ "$stderr" == *"the plan has 1 error (422 plan-invalid)"* ]]
  # export: the text as sent, to stdout or a file
  run -0 "$PORTREG" remote export services
  [ "$output" = "$(printf 'orders-db\t5432/tcp\nbilling\t7100/tcp')" ]
  run -0 "$PORTREG" remote export services -o "$BATS_TEST_TMPDIR/services"
  [ -z "$output" ]
  [ "$(cat "$BATS_TEST_TMPDIR/services")" = "$(printf 'orders-db\t5432/tcp\nbilling\t7100/tcp')" ]
  run --separate-stderr -2 "$PORTREG" remote export services -o "$BATS_TEST_TMPDIR/no/such/dir/file"
}

@test "remote: import and export against the real server: created counts, a dry run, 422 diagnostics with the file, the exports" {
  make_tokens
  start_remote_server
  plan="$BATS_TEST_DIRNAME/../../examples/plan.yaml"
  run --separate-stderr -0 remote "$ADMIN" import --dry-run "$plan"
  echo "$output"
  [[ "$output" == *$'hosts\t3'* && "$output" == *$'assignments\t13'* ]]
  run -0 remote "$READER" --json hosts
  [ "$(jq '.items | length' <<<"$output")" = 0 ]
  run --separate-stderr -3 remote "$REQUESTER" import "$plan"
  run --separate-stderr -0 remote "$ADMIN" --json import "$plan"
  jq -e '.created == {"hosts":3,"groups":2,"services":5,"assignments":13}' <<<"$output"
  run -0 remote "$READER" --json hosts
  [ "$(jq '.items | length' <<<"$output")" = 3 ]
  # a plan with errors: 422, the diagnostics placed in the file given, exit 2, nothing imported
  printf 'hosts:\n  - name: new1\nservices:\n  - name: x\n    hosts: [new1]\n    port: 70000\n    exposure: public\n' >"$BATS_TEST_TMPDIR/bad.yaml"
  run --separate-stderr -2 remote "$ADMIN" import "$BATS_TEST_TMPDIR/bad.yaml"
  echo "$stderr"
  [[ "$stderr" == *"bad.yaml:6:11: error: services[0].port"* ]]
  run -0 remote "$READER" --json hosts
  [ "$(jq '.items | length' <<<"$output")" = 3 ]
  # exports: the plan the registry holds is one plan check accepts; services(5) lines
  run -0 remote "$READER" export plan -o "$BATS_TEST_TMPDIR/exported.yaml"
  run -0 "$PORTREG" plan check "$BATS_TEST_TMPDIR/exported.yaml"
  run -0 remote "$READER" export services
  [[ "$output" == *"/tcp"* ]]
  run --separate-stderr -2 remote "$READER" export bogus
  [[ "$stderr" == *bogus* ]]
}

@test "remote: 5xx is 3 with the request id, escapes in errors, redirects not followed" {
  start_fake
  export PORTREG_TOKEN=portreg_fake
  run --separate-stderr -3 "$PORTREG" remote --server "http://127.0.0.1:$FAKE_PORT/boom" policy
  [[ "$stderr" == *'the server failed: disk on fire \x1b[2J (500 internal, request id fake-42)'* ]]
  [[ "$stderr" != *$'\e'* ]]
  run --separate-stderr -1 "$PORTREG" remote --server "http://127.0.0.1:$FAKE_PORT/evil" request s --host h --port 80
  [[ "$stderr" != *$'\e'* && "$stderr" != *$'\a'* ]]
  [[ "$stderr" == *'held by assignment 9 of x\x1b[2Jy: 80/tcp on h, active'* ]]
  run -0 "$PORTREG" remote --server "http://127.0.0.1:$FAKE_PORT/evil" hosts
  [ "$output" = "$(printf '1\tdb\\x1b[31mred\ta\\tb=10.0.0.1')" ]
  run --separate-stderr -3 "$PORTREG" remote --server "http://127.0.0.1:$FAKE_PORT/redirect" hosts
  [[ "$stderr" == *"HTTP 302"* ]]
  run -1 grep -q elsewhere "$FAKE_LOG"   # the redirect was not followed
}

@test "remote: https with a test CA: refused without it, trusted with --cacert or PORTREG_CACERT" {
  local d="$BATS_TEST_TMPDIR/tls"
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/ca.key" \
    -out "$d/ca.pem" -days 2 -subj /CN=portreg-test-ca 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/server.key" \
    -out "$d/server.csr" -subj /CN=127.0.0.1 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -out "$d/server.pem" -days 2 -extfile "$d/ext" 2>/dev/null
  start_fake "$d/server.pem" "$d/server.key"
  export PORTREG_SERVER="https://127.0.0.1:$FAKE_PORT" PORTREG_TOKEN=portreg_fake
  run --separate-stderr -3 "$PORTREG" remote policy
  [[ "$stderr" == *"TLS failed"* && "$stderr" == *"--cacert"* ]]
  run -0 "$PORTREG" remote --cacert "$d/ca.pem" policy
  grep -qx "$(printf 'quarantine_days\t30')" <<<"$output"
  run -0 env PORTREG_CACERT="$d/ca.pem" "$PORTREG" remote policy --json
  jq -e '.excluded == ["8000-8099"]' <<<"$output"
  run --separate-stderr -2 "$PORTREG" remote --cacert "$d/missing.pem" policy
  [[ "$stderr" == *"missing.pem: cannot read the CA certificate"* ]]
}
