#!/usr/bin/env bats
# serve_pg.bats — two `portreg serve` instances on one PostgreSQL database (started by
# tests/pg_server.sh, which sets PORTREG_TEST_DB_URL; e2e_serve_pg_cluster): clients split
# across both never get one port twice (checked through the API and in SQL), one success when
# they race for one port, kill -9 of one instance under load loses no acknowledged lease and
# the other keeps serving, PostgreSQL stopped for 5 s gives 503s (never 500) and the servers
# recover by themselves, two instances starting at once migrate once, an expired lease is
# reclaimed once, --db-file, the claims of an assignment bound by an address name follow the
# host's address (an overlapping move refused by the ledger and by PostgreSQL).
# The loads are scaled for 2 busy cores; bench/serve_leases_pg.sh has the full figures.
load helpers

setup() {
  [ -n "${PORTREG_TEST_DB_URL:-}" ] || skip "needs PostgreSQL: run through tests/pg_server.sh (meson test e2e_serve_pg_cluster)"
  portreg_setup
  use_iana_fixture
  SERVER_PID="" PID1="" PID2=""
  DB="$BATS_TEST_TMPDIR/serve.db"
  test_db_url
  ADMIN="$("$PORTREG" serve token create --role admin --name admin --db "$DB_URL")"
  READER="$("$PORTREG" serve token create --role reader --name reader --db "$DB_URL")"
  REQUESTER="$("$PORTREG" serve token create --role requester --name team --db "$DB_URL")"
}

teardown() {
  local pid
  for pid in $SERVER_PID $PID1 $PID2; do kill -9 "$pid" 2>/dev/null || true; done
  # PostgreSQL back up for the next test whatever happened
  pg_isready -q -d "$PORTREG_TEST_DB_URL" 2>/dev/null || eval "$PORTREG_TEST_PG_CTL start" >/dev/null 2>&1 3>&- || true
}

# Two servers on the database: URL1/PID1 and URL2/PID2.
start_two() {
  start_server "$@"; URL1="$URL" PID1="$SERVER_PID"
  start_server "$@"; URL2="$URL" PID2="$SERVER_PID"
  SERVER_PID=""
}

sql() {
  psql -X -q -At -v ON_ERROR_STOP=1 "$DB_URL" -c "$1"
}

# api METHOD URL PATH TOKEN [BODY]: sets STATUS and BODY.
api() {
  local method="$1" base="$2" path="$3" token="$4" body="${5:-}"
  local args=(-s -o "$BATS_TEST_TMPDIR/response" -w '%{http_code}' -X "$method")
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  STATUS="$(curl "${args[@]}" "$base$path")"
  BODY="$(cat "$BATS_TEST_TMPDIR/response")"
}

# lease_client N COUNT BASE HOST: COUNT lease requests on one connection; codes and bodies
# to $OUT/client.N
lease_client() {
  local args=() i
  for i in $(seq "$2"); do
    args+=(--next -s -m 10 -H "Authorization: Bearer $REQUESTER" -H 'Content-Type: application/json'
           --data-binary "{\"service\":\"c-$1-$i\",\"host\":\"$4\",\"range\":\"20000-29999\",\"ttl\":3600}"
           -w '\n%{http_code}\n' "$3/api/v1/leases")
  done
  curl "${args[@]:1}" >"$OUT/client.$1" 2>/dev/null
}

# granted FILES...: the lease bodies that came with a 201
granted() {
  cat "$@" | awk '/^\{/ { body = $0; next } $0 == "201" && body != "" { print body } /./ { body = "" }'
}

@test "serve pg: 64 clients across two servers x 20 leases on one range: every port once (API and SQL)" {
  start_two
  api POST "$URL1" /api/v1/hosts "$ADMIN" '{"name":"farm"}'
  [ "$STATUS" = 201 ]
  export -f lease_client
  export REQUESTER OUT="$BATS_TEST_TMPDIR" URL1 URL2
  seq 64 | xargs -P 64 -I{} bash -c 'n={}; if [ $((n % 2)) = 1 ]; then u=$URL1; else u=$URL2; fi; lease_client $n 20 $u farm'
  granted "$BATS_TEST_TMPDIR"/client.* >"$BATS_TEST_TMPDIR/granted"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/granted")" -eq 1280 ]
  jq -r .port "$BATS_TEST_TMPDIR/granted" | sort | uniq -d >"$BATS_TEST_TMPDIR/dups"
  [ ! -s "$BATS_TEST_TMPDIR/dups" ]
  # both servers answered
  grep -q "POST /api/v1/leases 201" "$BATS_TEST_TMPDIR/server.log"
  [ "$(sql "SELECT count(*) FROM leases WHERE state = 'active'")" -eq 1280 ]
  [ "$(sql "SELECT count(*) FROM (SELECT port FROM leases WHERE state = 'active' GROUP BY host, proto, port HAVING count(*) > 1) d")" -eq 0 ]
  [ "$(sql "SELECT count(DISTINCT claim_id) FROM port_claims WHERE claim_kind = 'l'")" -eq 1280 ]
  [ "$(sql "SELECT count(*) FROM events WHERE kind = 'lease.created'")" -eq 1280 ]
}

@test "serve pg: 64 clients racing for one port across two servers: exactly one 201, the rest 409" {
  start_two
  api POST "$URL1" /api/v1/hosts "$ADMIN" '{"name":"race"}'
  export REQUESTER URL1 URL2
  seq 64 | xargs -P 64 -I{} bash -c 'n={}; if [ $((n % 2)) = 1 ]; then u=$URL1; else u=$URL2; fi
    curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $REQUESTER" -H "Content-Type: application/json" \
      --data-binary "{\"service\":\"svc-$n\",\"host\":\"race\",\"port\":25000}" "$u/api/v1/leases"' >"$BATS_TEST_TMPDIR/codes"
  [ "$(grep -cx 201 "$BATS_TEST_TMPDIR/codes")" -eq 1 ]
  [ "$(grep -cx 409 "$BATS_TEST_TMPDIR/codes")" -eq 63 ]
  [ "$(sql "SELECT count(*) FROM leases WHERE port = 25000")" -eq 1 ]
  # an assignment request for it through the other server conflicts with the lease
  api POST "$URL2" /api/v1/requests "$REQUESTER" '{"service":"late","host":"race","port":25000}'
  [ "$STATUS" = 409 ]
}

@test "serve pg: kill -9 of one server under lease load: the other keeps serving, every lease answered 201 is in the database, restart is clean" {
  start_two
  api POST "$URL1" /api/v1/hosts "$ADMIN" '{"name":"crash"}'
  export -f lease_client
  export REQUESTER OUT="$BATS_TEST_TMPDIR" URL1 URL2
  (seq 32 | xargs -P 32 -I{} bash -c 'n={}; if [ $((n % 2)) = 1 ]; then u=$URL1; else u=$URL2; fi; lease_client $n 40 $u crash' || true) &
  loader=$!
  for i in $(seq 300); do
    grep -q 'POST /api/v1/leases 201' "$BATS_TEST_TMPDIR/server.log" && break
    sleep 0.1
  done
  sleep 0.5
  kill -9 "$PID1"
  PID1=""
  wait "$loader" || true
  granted "$BATS_TEST_TMPDIR"/client.* >"$BATS_TEST_TMPDIR/granted"
  [ "$(wc -l <"$BATS_TEST_TMPDIR/granted")" -gt 0 ]
  # the clients of the surviving server got all their answers
  for n in $(seq 2 2 32); do
    [ "$(grep -cx 201 "$BATS_TEST_TMPDIR/client.$n")" -eq 40 ] || { echo "client $n of the survivor:"; cat "$BATS_TEST_TMPDIR/client.$n"; false; }
  done
  jq -r .id "$BATS_TEST_TMPDIR/granted" | sort -n >"$BATS_TEST_TMPDIR/granted.ids"
  sql "SELECT id FROM leases WHERE state = 'active' ORDER BY id" >"$BATS_TEST_TMPDIR/db.ids"
  # every acknowledged lease is in the database (comm -23: granted but not there)
  [ -z "$(comm -23 <(sort "$BATS_TEST_TMPDIR/granted.ids") <(sort "$BATS_TEST_TMPDIR/db.ids"))" ]
  start_server
  api GET "$URL" /readyz ""
  [ "$STATUS" = 200 ]
  api POST "$URL" /api/v1/leases "$REQUESTER" '{"service":"after","host":"crash"}'
  [ "$STATUS" = 201 ]
  api POST "$URL2" /api/v1/leases "$REQUESTER" '{"service":"after2","host":"crash"}'
  [ "$STATUS" = 201 ]
  [ "$(sql "SELECT count(*) FROM (SELECT port FROM leases WHERE state = 'active' GROUP BY port HAVING count(*) > 1) d")" -eq 0 ]
}

@test "serve pg: PostgreSQL stopped for 5 s under load: 503 with the error while it is down, never 500, both servers recover" {
  start_two
  api POST "$URL1" /api/v1/hosts "$ADMIN" '{"name":"outage"}'
  # 8 clients lease in a loop until told to stop, one request at a time, codes to a file each
  loop_client() {
    local n=0 u
    while [ ! -e "$OUT/stop" ]; do
      n=$((n + 1))
      if [ $(($1 % 2)) = 1 ]; then u=$URL1; else u=$URL2; fi
      curl -s -m 10 -o "$OUT/body.$1" -w '%{http_code}\n' -H "Authorization: Bearer $REQUESTER" \
        -H 'Content-Type: application/json' --data-binary "{\"service\":\"o-$1-$n\",\"host\":\"outage\"}" \
        "$u/api/v1/leases" >>"$OUT/codes.$1"
      if grep -q '"code"' "$OUT/body.$1" 2>/dev/null; then jq -c .error "$OUT/body.$1" >>"$OUT/errors.$1" 2>/dev/null; fi
    done
  }
  export -f loop_client
  export REQUESTER OUT="$BATS_TEST_TMPDIR" URL1 URL2
  (seq 8 | xargs -P 8 -I{} bash -c 'loop_client {}' || true) &
  loader=$!
  sleep 1
  eval "$PORTREG_TEST_PG_CTL stop -m fast" >/dev/null 2>&1 3>&-
  sleep 1
  api GET "$URL1" /readyz ""
  [ "$STATUS" = 503 ]
  sleep 4
  eval "$PORTREG_TEST_PG_CTL start" >/dev/null 2>&1 3>&-
  sleep 2
  touch "$BATS_TEST_TMPDIR/stop"
  wait "$loader" || true
  cat "$BATS_TEST_TMPDIR"/codes.* >"$BATS_TEST_TMPDIR/codes"
  grep -qx 503 "$BATS_TEST_TMPDIR/codes"
  grep -qx 201 "$BATS_TEST_TMPDIR/codes"
  [ "$(grep -cx 500 "$BATS_TEST_TMPDIR/codes" || true)" -eq 0 ]
  [ "$(grep -cvx -e 201 -e 503 "$BATS_TEST_TMPDIR/codes" || true)" -eq 0 ]
  # the 503 says why
  cat "$BATS_TEST_TMPDIR"/errors.* | grep -q 'PostgreSQL is unreachable'
  # recovered by themselves: both ready, both lease
  for u in "$URL1" "$URL2"; do
    api GET "$u" /readyz ""
    [ "$STATUS" = 200 ]
    api POST "$u" /api/v1/leases "$REQUESTER" '{"service":"back","host":"outage"}'
    [ "$STATUS" = 201 ]
  done
  [ "$(sql "SELECT count(*) FROM (SELECT port FROM leases WHERE state = 'active' GROUP BY port HAVING count(*) > 1) d")" -eq 0 ]
}

@test "serve pg: two servers starting at once on an empty database migrate once" {
  sql "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public"
  P1=$((20000 + RANDOM % 10000)); P2=$((P1 + 1))
  "$PORTREG" serve --listen "127.0.0.1:$P1" --db "$DB_URL" 2>>"$BATS_TEST_TMPDIR/server.log" &
  PID1=$!
  "$PORTREG" serve --listen "127.0.0.1:$P2" --db "$DB_URL" 2>>"$BATS_TEST_TMPDIR/server.log" &
  PID2=$!
  for p in $P1 $P2; do
    for i in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
    run -0 curl -sf "http://127.0.0.1:$p/readyz"
  done
  [ "$(sql "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations")" = "1,2,3,4,5,6,7" ]
}

@test "serve pg: an expired lease is reclaimed once although two servers reclaim (one lease.expired event)" {
  start_two
  api POST "$URL1" /api/v1/hosts "$ADMIN" '{"name":"short"}'
  for i in $(seq 10); do
    api POST "$URL1" /api/v1/leases "$REQUESTER" "{\"service\":\"s$i\",\"host\":\"short\",\"ttl\":60}"
    [ "$STATUS" = 201 ]
  done
  kill -9 "$PID1" "$PID2"; PID1="" PID2=""
  # two hours later, both servers reclaim on their own
  start_two --clock-offset 7200
  for i in $(seq 100); do
    [ "$(sql "SELECT count(*) FROM leases WHERE state = 'expired'")" -eq 10 ] && break
    sleep 0.1
  done
  [ "$(sql "SELECT count(*) FROM leases WHERE state = 'expired'")" -eq 10 ]
  [ "$(sql "SELECT count(*) FROM events WHERE kind = 'lease.expired'")" -eq 10 ]
  [ "$(sql "SELECT count(*) FROM (SELECT object_id FROM events WHERE kind = 'lease.expired' GROUP BY object_id HAVING count(*) > 1) d")" -eq 0 ]
}

@test "serve pg: --db-file reads a libpq connection string; the log hides the URL's password; --db and --db-file together are refused" {
  port="$(sed -E 's|.*:([0-9]+)/.*|\1|' <<<"$DB_URL")"
  printf 'host=127.0.0.1 port=%s dbname=portreg user=portreg\n' "$port" >"$BATS_TEST_TMPDIR/conninfo"
  DB_URL=none start_server --db-file "$BATS_TEST_TMPDIR/conninfo" --db-pool 3
  api GET "$URL" /api/v1/hosts "$READER"
  [ "$STATUS" = 200 ]
  kill -9 "$SERVER_PID"; SERVER_PID=""
  DB_URL="${DB_URL/portreg@/portreg:secret@}" start_server
  grep -q 'database postgresql://\.\.\.@127.0.0.1' "$BATS_TEST_TMPDIR/server.log"
  run ! grep -q secret "$BATS_TEST_TMPDIR/server.log"
  run --separate-stderr -2 "$PORTREG" serve --db "$DB_URL" --db-file "$BATS_TEST_TMPDIR/conninfo"
  [[ "$stderr" == *"--db or --db-file"* ]]
}

# every collection of a server as one JSON document (what export-db must carry over)
snapshot() {
  local kind
  for kind in hosts groups services requests assignments leases events; do
    api GET "$1" "/api/v1/$kind?limit=1000" "$ADMIN"
    [ "$STATUS" = 200 ] || { echo "GET $kind: $STATUS $BODY"; return 1; }
    echo "$kind $BODY"
  done
  api GET "$1" /api/v1/policy "$ADMIN"
  echo "policy $BODY"
}

@test "serve pg: export-db copies a SQLite registry into PostgreSQL: every row and event equal, ids kept; a second copy is refused" {
  local pg_url="$DB_URL"
  # the registry on SQLite, with history: a host, an approved request, a quarantine, a lease, a policy
  DB_URL="sqlite:$DB"
  ADMIN="$("$PORTREG" serve token create --role admin --name admin --db "$DB_URL")"
  REQUESTER="$("$PORTREG" serve token create --role requester --name team --db "$DB_URL")"
  start_server
  api POST "$URL" /api/v1/hosts "$ADMIN" '{"name":"db1","addresses":{"internal":"10.0.0.1"}}'
  [ "$STATUS" = 201 ]
  api POST "$URL" /api/v1/requests "$REQUESTER" '{"service":"orders","host":"db1","port":7100,"bind":"internal","reason":"new"}'
  req="$(jq -r .id <<<"$BODY")"
  api POST "$URL" "/api/v1/requests/$req/approve" "$ADMIN" '{"reason":"fine"}'
  [ "$STATUS" = 200 ]
  api POST "$URL" "/api/v1/assignments/$(jq -r '.assignments[0]' <<<"$BODY")/deassign" "$ADMIN" ""
  [ "$STATUS" = 200 ]
  api POST "$URL" /api/v1/leases "$REQUESTER" '{"service":"ci","host":"db1","range":"20000-20100","ttl":3600}'
  [ "$STATUS" = 201 ]
  lease_port="$(jq -r .port <<<"$BODY")"
  api PUT "$URL" /api/v1/policy "$ADMIN" '{"quarantine_days":7}'
  [ "$STATUS" = 200 ]
  before="$(snapshot "$URL")"
  kill "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""

  # into an empty PostgreSQL database (setup's tokens went to it: emptied first)
  psql -q -X -v ON_ERROR_STOP=1 "$pg_url" \
    -c "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null
  run -0 "$PORTREG" serve export-db --db "$DB_URL" --to "$pg_url" --json
  echo "$output" | jq -e '.hosts == 1 and .requests == 1 and .assignments == 1 and .leases == 1 and .policy == true
    and .events >= 5 and .tokens == 2'

  # the same answers from a server on PostgreSQL, with the same tokens
  DB_URL="$pg_url"
  start_server
  after="$(snapshot "$URL")"
  [ "$before" = "$after" ]
  # the copy holds its ports and new ids follow the copied ones, in every table (the id
  # sequences moved once per table after its rows)
  copied_events="$(sql 'SELECT max(id) FROM events')"
  [ "$copied_events" -ge 5 ]
  api POST "$URL" /api/v1/leases "$REQUESTER" "{\"service\":\"other\",\"host\":\"db1\",\"port\":$lease_port}"
  [ "$STATUS" = 409 ]
  api POST "$URL" /api/v1/hosts "$ADMIN" '{"name":"db2","addresses":{"internal":"10.0.0.2"}}'
  [ "$STATUS" = 201 ]
  [ "$(jq -r .id <<<"$BODY")" = 2 ]
  api POST "$URL" /api/v1/leases "$REQUESTER" '{"service":"ci2","host":"db1","range":"20000-20100","ttl":3600}'
  [ "$STATUS" = 201 ]
  [ "$(jq -r .id <<<"$BODY")" = 2 ]
  api GET "$URL" "/api/v1/events?object_kind=hosts&object_id=2" "$ADMIN"
  [ "$(jq -r '.items | length' <<<"$BODY")" = 1 ]
  [ "$(jq -r '.items[0].id' <<<"$BODY")" -gt "$copied_events" ]

  # into a database that has rows: refused (exit 1), naming the table, nothing written
  run -1 --separate-stderr "$PORTREG" serve export-db --db "sqlite:$DB" --to "$pg_url"
  [[ "$stderr" == *"the target database is not empty (its hosts table has rows)"* ]]
  [ "$(sql 'SELECT count(*) FROM hosts')" = 2 ]
  run -0 "$PORTREG" serve migrate --db "$pg_url" --json
  echo "$output" | jq -e '.schema_version == 7'
}

# claim_ok BIND PORT: whether PostgreSQL takes an active assignment of service b on host
# $CLAIM_HOST (h) with BIND and PORT (written past the ledger, rolled back either way)
claim_ok() {
  psql -X -q -At -v ON_ERROR_STOP=1 "$DB_URL" >/dev/null 2>&1 <<SQL
BEGIN;
INSERT INTO assignments (service, host, proto, port_lo, port_hi, bind, state, version, created)
  VALUES ('b', '${CLAIM_HOST:-h}', 'tcp', $2, $2, '$1', 'active', 1, 0);
ROLLBACK;
SQL
}

# claim_refused BIND PORT: PostgreSQL refuses it
claim_refused() {
  if claim_ok "$@"; then
    echo "PostgreSQL took $1 port $2" >&2
    return 1
  fi
}

@test "serve pg: the exclusion constraint refuses exactly the overlaps of plan check (IPv4 as IPv4-mapped IPv6: a lease or any is one claim row)" {
  sql "INSERT INTO hosts (name, addresses, version) VALUES ('h', '{\"internal\":\"10.0.0.1\",\"v6\":\"2001:db8::1\"}', 1)"
  sql "INSERT INTO assignments (service, host, proto, port_lo, port_hi, bind, state, version, created) VALUES
         ('a', 'h', 'tcp', 100, 100, 'internal', 'active', 1, 0), ('a', 'h', 'tcp', 200, 200, 'v6', 'active', 1, 0),
         ('a', 'h', 'tcp', 400, 400, '0.0.0.0', 'active', 1, 0), ('a', 'h', 'tcp', 500, 500, 'loopback', 'active', 1, 0)"
  sql "INSERT INTO leases (service, host, proto, port, expires_at, state, version, created)
         VALUES ('l', 'h', 'tcp', 300, 99999999999, 'active', 1, 0)"
  # one row per claim, but loopback's two; IPv4 stored IPv4-mapped
  [ "$(sql "SELECT string_agg(scope::text, ' ' ORDER BY lower(ports), scope) FROM port_claims")" = \
    "::ffff:10.0.0.1/128 2001:db8::1/128 ::/0 ::ffff:0.0.0.0/96 ::1/128 ::ffff:127.0.0.1/128" ]
  # port 100 held on 10.0.0.1
  claim_refused 0.0.0.0 100
  claim_refused any 100
  claim_refused :: 100
  claim_refused 10.0.0.1 100
  claim_refused ::ffff:10.0.0.1 100
  claim_ok 10.0.0.2 100
  claim_ok 2001:db8::1 100
  claim_ok loopback 100
  # port 200 held on 2001:db8::1
  claim_ok 0.0.0.0 200
  claim_ok 10.0.0.1 200
  claim_refused :: 200
  claim_refused v6 200
  claim_ok 2001:db8::2 200
  # port 300 leased: every address of both families
  claim_refused 10.0.0.9 300
  claim_refused 2001:db8::9 300
  claim_refused loopback 300
  # port 400 held on 0.0.0.0: every IPv4 address, no IPv6 one
  claim_refused 10.0.0.9 400
  claim_refused ::ffff:10.0.0.9 400
  claim_refused any 400
  claim_ok 2001:db8::9 400
  claim_ok ::1 400
  # port 500 held on loopback
  claim_refused 127.0.0.1 500
  claim_refused ::1 500
  claim_ok 127.0.0.2 500
  claim_ok internal 500
  # udp ports are apart from tcp ones
  psql -X -q -At -v ON_ERROR_STOP=1 "$DB_URL" -c "BEGIN; INSERT INTO assignments (service, host, proto, port_lo, port_hi, bind, state, version, created) VALUES ('b', 'h', 'udp', 100, 100, 'any', 'active', 1, 0); ROLLBACK"
}

@test "serve pg: a schema-5 database (tests/fixtures/ledger/ledger-pg-schema-5.sql) is upgraded: a claim of any becomes one row, IPv4 IPv4-mapped, every overlap still refused" {
  test_db_url   # empty again
  psql -X -q -v ON_ERROR_STOP=1 "$DB_URL" -f "$PORTREG_FIXTURES/ledger/ledger-pg-schema-5.sql" >/dev/null
  [ "$(sql "SELECT max(version) FROM schema_migrations")" = 5 ]
  [ "$(sql "SELECT count(*) FROM port_claims")" = 9 ]
  run "$PORTREG" serve migrate --db "$DB_URL"
  [ "$status" -eq 0 ]
  [ "$(sql "SELECT max(version) FROM schema_migrations")" = 7 ]
  [ "$(sql "SELECT string_agg(claim_kind || claim_id || ' ' || scope::text, ', ' ORDER BY claim_kind, claim_id, scope::text) FROM port_claims")" = \
    "a1 ::/0, a2 ::ffff:10.0.0.1/128, a3 2001:db8::1/128, a4 ::1/128, a4 ::ffff:127.0.0.1/128, a5 ::ffff:0.0.0.0/96, l1 ::/0" ]
  CLAIM_HOST=web1
  claim_refused 10.0.0.9 8080
  claim_refused 2001:db8::9 8080
  claim_refused internal 5432
  claim_ok 10.0.0.2 5432
  claim_refused :: 9000
  claim_ok 0.0.0.0 9000
  claim_refused ::1 9100
  claim_refused 10.0.0.9 30000
  claim_ok any 30001
  # the quarantined udp range: refused to another service, on IPv4 only
  psql -X -q -v ON_ERROR_STOP=1 "$DB_URL" -c "BEGIN; INSERT INTO assignments (service, host, proto, port_lo, port_hi, bind, state, version, created) VALUES ('b', 'web1', 'udp', 7005, 7005, '2001:db8::9', 'active', 1, 0); ROLLBACK"
  run psql -X -q -v ON_ERROR_STOP=1 "$DB_URL" -c "INSERT INTO assignments (service, host, proto, port_lo, port_hi, bind, state, version, created) VALUES ('b', 'web1', 'udp', 7005, 7005, '10.0.0.9', 'active', 1, 0)"
  [ "$status" -ne 0 ]
  [[ "$output" == *port_claims_no_overlap* ]]
  # the server works on it: a new lease is one claim row, a lease on 8080 is not given
  REQUESTER="$("$PORTREG" serve token create --role requester --name team --db "$DB_URL")"
  start_server
  api POST "$URL" /api/v1/leases "$REQUESTER" '{"service":"new","host":"web1","range":"8080-8081"}'
  [ "$STATUS" = 201 ]
  [ "$(echo "$BODY" | jq .port)" = 8081 ]
  [ "$(sql "SELECT count(*) || ' ' || min(scope::text) FROM port_claims WHERE claim_kind = 'l' AND claim_id = $(echo "$BODY" | jq .id)")" = "1 ::/0" ]
  api POST "$URL" /api/v1/leases "$REQUESTER" '{"service":"new2","host":"web1","range":"8080-8081"}'
  [ "$STATUS" = 409 ]
}

@test "serve pg: a host's address changes: port_claims follow an assignment bound by its name; an overlap is refused by the ledger (409) and by PostgreSQL" {
  start_two
  api POST "$URL1" /api/v1/hosts "$ADMIN" '{"name":"m","addresses":{"internal":"10.0.0.1"}}'
  [ "$STATUS" = 201 ]
  host_id="$(jq .id <<<"$BODY")"
  api POST "$URL1" /api/v1/assignments "$ADMIN" '{"service":"pg","host":"m","port":5432,"bind":"internal"}'
  [ "$STATUS" = 201 ]
  pg_id="$(jq .id <<<"$BODY")"
  api POST "$URL1" /api/v1/assignments "$ADMIN" '{"service":"api","host":"m","port":5432,"bind":"10.0.0.2"}'
  [ "$STATUS" = 201 ]
  [ "$(sql "SELECT string_agg(scope::text, ' ') FROM port_claims WHERE claim_kind = 'a' AND claim_id = $pg_id")" = "::ffff:10.0.0.1/128" ]
  # internal onto api's address, through the other server: 409 naming both, nothing changed
  api PATCH "$URL2" "/api/v1/hosts/$host_id" "$ADMIN" '{"addresses":{"internal":"10.0.0.2"}}'
  [ "$STATUS" = 409 ]
  jq -e '.error.field == "addresses" and .error.conflict.service == "api"' <<<"$BODY"
  [[ "$(jq -r .error.message <<<"$BODY")" == *"of pg"*"of api on port 5432/tcp"* ]]
  [ "$(sql "SELECT (addresses::jsonb ->> 'internal') || ' ' || version FROM hosts WHERE name = 'm'")" = "10.0.0.1 1" ]
  [ "$(sql "SELECT string_agg(scope::text, ' ') FROM port_claims WHERE claim_kind = 'a' AND claim_id = $pg_id")" = "::ffff:10.0.0.1/128" ]
  [ "$(sql "SELECT count(*) FROM events WHERE kind = 'host.updated'")" = 0 ]
  # past the ledger, PostgreSQL refuses it too
  run psql -X -q -v ON_ERROR_STOP=1 "$DB_URL" -c "UPDATE hosts SET addresses = '{\"internal\":\"10.0.0.2\"}' WHERE name = 'm'"
  [ "$status" -ne 0 ]
  [[ "$output" == *port_claims_no_overlap* ]]
  # a move onto a free address: the claim follows, one claim change tells the other server
  changes="$(sql "SELECT count(*) FROM claim_changes WHERE host = 'm' AND lo = 5432")"
  api PATCH "$URL2" "/api/v1/hosts/$host_id" "$ADMIN" '{"addresses":{"internal":"10.0.0.3"}}'
  [ "$STATUS" = 200 ]
  [ "$(sql "SELECT string_agg(scope::text, ' ') FROM port_claims WHERE claim_kind = 'a' AND claim_id = $pg_id")" = "::ffff:10.0.0.3/128" ]
  [ "$(sql "SELECT count(*) FROM claim_changes WHERE host = 'm' AND lo = 5432")" = $((changes + 1)) ]
  # the first server: the old address is free on 5432, the new one is pg's
  api POST "$URL1" /api/v1/assignments "$ADMIN" '{"service":"web","host":"m","port":5432,"bind":"10.0.0.1"}'
  [ "$STATUS" = 201 ]
  api POST "$URL1" /api/v1/assignments "$ADMIN" '{"service":"web2","host":"m","port":5432,"bind":"10.0.0.3"}'
  [ "$STATUS" = 409 ]
  jq -e '.error.conflict.service == "pg"' <<<"$BODY"
}
