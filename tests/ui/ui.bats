#!/usr/bin/env bats
# ui.bats — the web UI of `portreg serve` (issue 12): the embedded page and assets over curl
# (ETag, 304, gzip, cache lifetimes), the routes the page needs (whoami, check, registry/map),
# then the page itself in headless Chromium (ui_test.mjs, playwright-core) against a real
# server with an admin, a requester and a reader token, and an agent reporting for web2 (the
# map's live and drift layer).
load ../e2e/helpers

setup() {
  portreg_setup
  use_iana_fixture
  SERVER_PID=""
  DB="$BATS_TEST_TMPDIR/serve.db"
  ADMIN="$("$PORTREG" serve token create --role admin --name admin --db "sqlite:$DB")"
  READER="$("$PORTREG" serve token create --role reader --name reader --db "sqlite:$DB")"
  REQUESTER="$("$PORTREG" serve token create --role requester --name team --db "sqlite:$DB")"
  AGENT2="$("$PORTREG" serve token create --role agent --host web2 --name agent-web2 --db "sqlite:$DB")"
}

teardown() {
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
}

# SIGTERM: the server drains and exits 0 (under ASan, a leak makes it fail)
stop_server() {
  kill -TERM "$SERVER_PID"
  local rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  [ "$rc" -eq 0 ] || { cat "$BATS_TEST_TMPDIR/server.log" >&2; return 1; }
}

# api METHOD PATH TOKEN [BODY]: the body in $BATS_TEST_TMPDIR/out, the status echoed
api() {
  local method=$1 path=$2 token=$3 body=${4:-}
  curl -s -o "$BATS_TEST_TMPDIR/out" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $token" \
    ${body:+-H 'Content-Type: application/json' --data "$body"} "$URL$path"
}

@test "GET / is the embedded page: strong ETag, no-cache, 304, gzip; hashed assets are immutable" {
  start_server
  run curl -s -D "$BATS_TEST_TMPDIR/h" -o "$BATS_TEST_TMPDIR/index.html" "$URL/"
  [ "$status" -eq 0 ]
  grep -qi '^content-type: text/html; charset=utf-8' "$BATS_TEST_TMPDIR/h"
  grep -qi '^cache-control: no-cache' "$BATS_TEST_TMPDIR/h"
  grep -qi "^content-security-policy: default-src 'self'" "$BATS_TEST_TMPDIR/h"
  etag=$(awk 'tolower($1) == "etag:" {print $2}' "$BATS_TEST_TMPDIR/h" | tr -d '\r')
  [[ "$etag" =~ ^\"[0-9a-f]{32}\"$ ]]
  # the page names its script and style by content hash
  js=$(grep -o '/ui/app\.[0-9a-f]\{16\}\.js' "$BATS_TEST_TMPDIR/index.html")
  css=$(grep -o '/ui/app\.[0-9a-f]\{16\}\.css' "$BATS_TEST_TMPDIR/index.html")
  [ -n "$js" ] && [ -n "$css" ]
  # revalidation: 304 without a body
  run curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$URL/"
  [ "$output" = "304 0" ]
  run curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "other"' "$URL/"
  [ "$output" = "200" ]
  # the asset: a year, immutable, the same bytes gzip'd when asked
  run curl -s -D "$BATS_TEST_TMPDIR/h2" -o "$BATS_TEST_TMPDIR/app.js" "$URL$js"
  grep -qi '^cache-control: public, max-age=31536000, immutable' "$BATS_TEST_TMPDIR/h2"
  grep -qi '^content-type: text/javascript' "$BATS_TEST_TMPDIR/h2"
  grep -q 'portregUI' "$BATS_TEST_TMPDIR/app.js"
  run curl -s -D "$BATS_TEST_TMPDIR/h3" -o "$BATS_TEST_TMPDIR/app.js.gz" -H 'Accept-Encoding: gzip' "$URL$js"
  grep -qi '^content-encoding: gzip' "$BATS_TEST_TMPDIR/h3"
  grep -qi '^vary: accept-encoding' "$BATS_TEST_TMPDIR/h3"
  [[ "$(awk 'tolower($1) == "etag:" {print $2}' "$BATS_TEST_TMPDIR/h3" | tr -d '\r')" =~ ^\"[0-9a-f]{32}-gz\"$ ]]
  gunzip -c "$BATS_TEST_TMPDIR/app.js.gz" | cmp - "$BATS_TEST_TMPDIR/app.js"
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/app.js.gz")" -lt "$(stat -c %s "$BATS_TEST_TMPDIR/app.js")" ]
  # q=0 refuses gzip
  run curl -s -D "$BATS_TEST_TMPDIR/h4" -o /dev/null -H 'Accept-Encoding: gzip;q=0' "$URL$js"
  run grep -qi '^content-encoding' "$BATS_TEST_TMPDIR/h4"
  [ "$status" -ne 0 ]
  # an old or unknown hash: 404, not another file
  run curl -s -o /dev/null -w '%{http_code}' "$URL/ui/app.0000000000000000.js"
  [ "$output" = "404" ]
  run curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/"
  [ "$output" = "405" ]
  stop_server
}

@test "GET /api/v1/whoami answers the token's name and role" {
  start_server
  [ "$(api GET /api/v1/whoami "$REQUESTER")" = 200 ]
  run jq -c . "$BATS_TEST_TMPDIR/out"
  [ "$output" = '{"name":"team","role":"requester","anonymous":false}' ]
  [ "$(api GET /api/v1/whoami "$ADMIN")" = 200 ]
  [ "$(jq -r .role "$BATS_TEST_TMPDIR/out")" = admin ]
  run curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/whoami"
  [ "$output" = 401 ]
  [ "$(api GET /api/v1/whoami portreg_nonsense)" = 401 ]
}

@test "GET /api/v1/whoami without a token under --anonymous-read is the anonymous reader" {
  start_server --anonymous-read
  run curl -s "$URL/api/v1/whoami"
  [ "$status" -eq 0 ]
  [ "$(jq -c . <<<"$output")" = '{"name":"anonymous","role":"reader","anonymous":true}' ]
}

@test "GET /api/v1/check: free, taken (with the holder), refused by the policy; nothing is written" {
  start_server
  [ "$(api POST /api/v1/hosts "$ADMIN" '{"name":"web1","addresses":{"internal":"10.0.0.1"}}')" = 201 ]
  [ "$(api GET '/api/v1/check?service=api&host=web1&port=8080' "$READER")" = 200 ]
  [ "$(jq -c '[.free, .hosts, .port]' "$BATS_TEST_TMPDIR/out")" = '[true,["web1"],8080]' ]
  [ "$(api POST /api/v1/assignments "$ADMIN" '{"service":"api","host":"web1","port":8080}')" = 201 ]
  events_before=$(api GET /api/v1/events "$ADMIN" >/dev/null; jq '.items | length' "$BATS_TEST_TMPDIR/out")
  [ "$(api GET '/api/v1/check?service=other&host=web1&port=8080&bind=internal' "$READER")" = 200 ]
  [ "$(jq -c '[.free, .refusal.code, .refusal.conflict.service]' "$BATS_TEST_TMPDIR/out")" = '[false,"port-taken","api"]' ]
  # another protocol is another port
  [ "$(api GET '/api/v1/check?service=other&host=web1&port=8080&proto=udp' "$READER")" = 200 ]
  [ "$(jq .free "$BATS_TEST_TMPDIR/out")" = true ]
  [ "$(api GET '/api/v1/check?service=x&host=web1&port=40000' "$READER")" = 200 ]
  [ "$(jq -c '[.free, .refusal.code]' "$BATS_TEST_TMPDIR/out")" = '[false,"ephemeral"]' ]
  [ "$(api GET '/api/v1/check?service=x&host=web1&port=8000-8100&proto=tcp' "$READER")" = 200 ]
  [ "$(jq -r .refusal.code "$BATS_TEST_TMPDIR/out")" = port-taken ]
  # bad questions are 400 naming the field
  [ "$(api GET '/api/v1/check?service=x&host=nowhere&port=80' "$READER")" = 400 ]
  [ "$(jq -r .error.field "$BATS_TEST_TMPDIR/out")" = host ]
  [ "$(api GET '/api/v1/check?service=x&host=web1&port=70000' "$READER")" = 400 ]
  [ "$(jq -r .error.field "$BATS_TEST_TMPDIR/out")" = port ]
  [ "$(api GET '/api/v1/check?service=x&host=web1&port=80&bind=nowhere' "$READER")" = 400 ]
  [ "$(jq -r .error.field "$BATS_TEST_TMPDIR/out")" = bind ]
  [ "$(api GET '/api/v1/check?service=x&host=web1&port=80&colour=red' "$READER")" = 400 ]
  [ "$(jq -r .error.code "$BATS_TEST_TMPDIR/out")" = unknown-field ]
  # a question changes nothing: no request, no event
  api GET /api/v1/events "$ADMIN" >/dev/null
  [ "$(jq '.items | length' "$BATS_TEST_TMPDIR/out")" = "$events_before" ]
  api GET /api/v1/requests "$ADMIN" >/dev/null
  [ "$(jq '.items | length' "$BATS_TEST_TMPDIR/out")" = 1 ]
  stop_server
}

@test "GET /api/v1/registry/map: 2 bits a port of registry density, gzip and 304" {
  start_server
  [ "$(api GET /api/v1/registry/map "$READER")" = 200 ]
  [ "$(stat -c %s "$BATS_TEST_TMPDIR/out")" = 16384 ]
  # port p: (byte[p/4] >> 2*(p%4)) & 3 — 22 has ssh on tcp, udp, sctp (3 records: 2), 53 two
  # (1), 1023 only Reserved (0), 6010 inside x11's 6000-6063 (1), 9999 nothing (0)
  density() { od -An -tu1 -j $(($1 / 4)) -N1 "$BATS_TEST_TMPDIR/out" | awk -v s=$((2 * ($1 % 4))) '{print int($1 / 2^s) % 4}'; }
  [ "$(density 22)" = 2 ]
  [ "$(density 53)" = 1 ]
  [ "$(density 1023)" = 0 ]
  [ "$(density 6010)" = 1 ]
  [ "$(density 9999)" = 0 ]
  etag=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $READER" "$URL/api/v1/registry/map" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')
  [ -n "$etag" ]
  run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $READER" -H "If-None-Match: $etag" "$URL/api/v1/registry/map"
  [ "$output" = 304 ]
  curl -s -D "$BATS_TEST_TMPDIR/gz.h" -o "$BATS_TEST_TMPDIR/map.gz" -H "Authorization: Bearer $READER" \
    -H 'Accept-Encoding: gzip' "$URL/api/v1/registry/map"
  gunzip -c "$BATS_TEST_TMPDIR/map.gz" | cmp - "$BATS_TEST_TMPDIR/out"
  # the gzip form is another representation: a strong ETag of its own, revalidated as well
  gz_etag=$(awk 'tolower($1) == "etag:" {print $2}' "$BATS_TEST_TMPDIR/gz.h" | tr -d '\r')
  [ "$gz_etag" = "${etag%\"}-gz\"" ]
  run curl -s -o /dev/null -D "$BATS_TEST_TMPDIR/304.h" -w '%{http_code}' -H "Authorization: Bearer $READER" \
    -H 'Accept-Encoding: gzip' -H "If-None-Match: $gz_etag" "$URL/api/v1/registry/map"
  [ "$output" = 304 ]
  [ "$(awk 'tolower($1) == "etag:" {print $2}' "$BATS_TEST_TMPDIR/304.h" | tr -d '\r')" = "$gz_etag" ]
  run curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/registry/map"
  [ "$output" = 401 ]
  stop_server
}

@test "the web UI in headless Chromium: map, search, request and approval, roles, screenshots, first-load size" {
  [ -x /usr/bin/chromium ] || { echo "chromium is missing: scripts/install-deps.sh test" >&2; return 1; }
  [ -d "$BATS_TEST_DIRNAME/node_modules/playwright-core" ] ||
    { echo "playwright-core is missing: scripts/install-deps.sh test" >&2; return 1; }
  # the real IANA registry when it is there (the map's density layer looks like the real one)
  if [ -f "${PORTREG_IANA_CSV:-}" ]; then "$PORTREG" registry update --from "$PORTREG_IANA_CSV" >/dev/null; fi
  start_server
  [ "$(api POST /api/v1/hosts "$ADMIN" '{"name":"web1","addresses":{"internal":"10.0.0.11"}}')" = 201 ]
  [ "$(api POST /api/v1/hosts "$ADMIN" '{"name":"web2","addresses":{"internal":"10.0.0.12"}}')" = 201 ]
  [ "$(api POST /api/v1/groups "$ADMIN" '{"name":"web","hosts":["web1","web2"]}')" = 201 ]
  [ "$(api POST /api/v1/assignments "$ADMIN" '{"service":"api","host":"web1","port":8080,"owner":"team-web"}')" = 201 ]
  [ "$(api POST /api/v1/leases "$ADMIN" '{"service":"ci","host":"web1","port":12000,"ttl":3600}')" = 201 ]
  # a range: its port page lists it on every port inside
  [ "$(api POST /api/v1/assignments "$ADMIN" '{"service":"exporters","host":"web1","port":"9100-9110"}')" = 201 ]
  [ "$(api GET '/api/v1/assignments?port=9105' "$READER")" = 200 ]
  [ "$(jq -c '[.items[] | .service]' "$BATS_TEST_TMPDIR/out")" = '["exporters"]' ]
  [ "$(api GET '/api/v1/assignments?port=9111' "$READER")" = 200 ]
  [ "$(jq '.items | length' "$BATS_TEST_TMPDIR/out")" = 0 ]
  # web2's agent: 7000 assigned and listening (live), 7001 assigned and silent (absent),
  # sshd on 2222 with nothing assigned (undeclared)
  [ "$(api POST /api/v1/assignments "$ADMIN" '{"service":"api2","host":"web2","port":7000}')" = 201 ]
  [ "$(api POST /api/v1/assignments "$ADMIN" '{"service":"api3","host":"web2","port":7001}')" = 201 ]
  L() { printf '{"proto":"tcp","local_address":"0.0.0.0","local_port":%s,"netns":"host","process":"%s","pid":%s,"user":"root","unit":null,"container":null,"exposure":"all-ipv4"}' "$@"; }
  [ "$(api POST /api/v1/observations "$AGENT2" "{\"host\":\"web2\",\"seq\":1,\"full\":true,\"agent\":{\"version\":\"0.1\",\"interval_s\":30},\"listeners\":[$(L 7000 api2 700),$(L 2222 sshd 640)],\"findings\":[]}")" = 200 ]
  shots="${PORTREG_UI_SCREENSHOTS:-$BATS_TEST_TMPDIR/screenshots}"
  mkdir -p "$shots"
  run env UI_URL="$URL" UI_ADMIN="$ADMIN" UI_READER="$READER" UI_REQUESTER="$REQUESTER" UI_SCREENSHOTS="$shots" \
    UI_ASSIGNED_PORT=8080 UI_HOST=web1 UI_AGENT_HOST=web2 UI_LIVE_PORT=7000 UI_ABSENT_PORT=7001 UI_UNDECLARED_PORT=2222 \
    UI_RANGE=9100-9110 node "$BATS_TEST_DIRNAME/ui_test.mjs"
  echo "$output"
  [ "$status" -eq 0 ]
  # the figures, in the TAP output
  grep '^figure' <<<"$output" | sed 's/^/# /' >&3
  # the request the requester made in the page and the admin approved there is an assignment
  [ "$(api GET '/api/v1/assignments?port_lo=9090&host=web1' "$READER")" = 200 ]
  [ "$(jq -r '.items[0].service' "$BATS_TEST_TMPDIR/out")" = orders ]
}
