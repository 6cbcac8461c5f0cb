#!/usr/bin/env bats
# systemd.bats — `portreg serve` as systemd runs it: the sockets of socket activation
# (LISTEN_FDS) served instead of --listen, READY=1 and STOPPING=1 on the NOTIFY_SOCKET, a
# missing libsystemd named by its package, and the units in systemd/ (as built) accepted by
# systemd-analyze verify with a security exposure below 3.0.
load helpers

setup() {
  portreg_setup
  use_iana_fixture
  SERVER_PID=""
  LISTENER_PID=""
  DB="$BATS_TEST_TMPDIR/serve.db"
  NOTIFY_LOG="$BATS_TEST_TMPDIR/notify.log"
  UNIT_DIR="${PORTREG_UNIT_DIR:?set by meson}"
}

teardown() {
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$LISTENER_PID" ]; then kill "$LISTENER_PID" 2>/dev/null || true; fi
}

# The service manager's notify socket; exports NOTIFY_SOCKET.
start_notify_listener() {
  export NOTIFY_SOCKET="$BATS_TEST_TMPDIR/notify.sock"
  python3 "$BATS_TEST_DIRNAME/notify_listener.py" "$NOTIFY_SOCKET" "$NOTIFY_LOG" 3>&- &
  LISTENER_PID=$!
  local i
  for i in $(seq 200); do [ -S "$NOTIFY_SOCKET" ] && return 0; sleep 0.05; done
  echo "the notify listener did not start"; return 1
}

# wait_for_notify LINE: until LINE is a line of the notify log (10 s at most).
wait_for_notify() {
  local i
  for i in $(seq 200); do
    grep -qx "$1" "$NOTIFY_LOG" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "no $1 on the notify socket; it got:"; cat "$NOTIFY_LOG" 2>/dev/null
  echo "server log:"; cat "$BATS_TEST_TMPDIR/server.log"
  return 1
}

@test "serve answers on the sockets systemd passes (LISTEN_FDS), not on --listen, and says READY=1 then STOPPING=1" {
  start_notify_listener
  python3 "$BATS_TEST_DIRNAME/socket_activate.py" "$BATS_TEST_TMPDIR/ports" 127.0.0.1,::1 \
    "$PORTREG" serve --db "sqlite:$DB" --listen 127.0.0.1:1 2>"$BATS_TEST_TMPDIR/server.log" 3>&- &
  SERVER_PID=$!
  wait_for_notify READY=1
  v4=$(awk '$1 == "127.0.0.1" {print $2}' "$BATS_TEST_TMPDIR/ports")
  v6=$(awk '$1 == "::1" {print $2}' "$BATS_TEST_TMPDIR/ports")
  run curl -sf "http://127.0.0.1:$v4/healthz"
  [ "$status" -eq 0 ]
  [ "$output" = '{"status":"ok"}' ]
  run curl -sf "http://[::1]:$v6/healthz"
  [ "$status" -eq 0 ]
  [ "$output" = '{"status":"ok"}' ]
  grep -qx "STATUS=listening on 127.0.0.1:$v4 and more" "$NOTIFY_LOG"
  grep -q "listening on http://127.0.0.1:$v4/" "$BATS_TEST_TMPDIR/server.log"
  grep -q "listening on http://\[::1\]:$v6/" "$BATS_TEST_TMPDIR/server.log"
  grep -q -- "--listen ignored: systemd passed 2 listening sockets" "$BATS_TEST_TMPDIR/server.log"
  run ! grep -q "127.0.0.1:1/" "$BATS_TEST_TMPDIR/server.log"
  run ! grep -q STOPPING=1 "$NOTIFY_LOG"
  kill -TERM "$SERVER_PID"
  rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  [ "$rc" -eq 0 ]
  wait_for_notify STOPPING=1
}

@test "serve under systemd-socket-activate answers the connection that started it" {
  command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate missing (Debian package systemd)"
  start_notify_listener
  local try
  for try in 1 2 3 4 5 6; do
    PORT=$((20000 + RANDOM % 10000))
    # it passes only the variables named by -E; it execs at the first connection
    systemd-socket-activate -l "127.0.0.1:$PORT" -E NOTIFY_SOCKET -E PORTREG_STATE_DIR \
      "$PORTREG" serve --db "sqlite:$DB" 2>>"$BATS_TEST_TMPDIR/server.log" 3>&- &
    SERVER_PID=$!
    local i
    for i in $(seq 100); do
      grep -q "Listening on 127.0.0.1:$PORT" "$BATS_TEST_TMPDIR/server.log" && break 2
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  done
  run curl -sf --max-time 20 "http://127.0.0.1:$PORT/healthz"
  [ "$status" -eq 0 ]
  [ "$output" = '{"status":"ok"}' ]
  wait_for_notify READY=1
  kill -TERM "$SERVER_PID"
  rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  [ "$rc" -eq 0 ]
}

@test "a passed fd that is not a listening TCP socket is refused, naming the socket unit's setting" {
  run sh -c 'exec 3</dev/null; LISTEN_FDS=1 LISTEN_PID=$$ exec "$0" serve --db "sqlite:$1"' \
    "$PORTREG" "$DB"
  [ "$status" -eq 3 ]
  [[ "$output" == *"systemd passed fd 3, which is not a listening TCP socket (the socket unit needs ListenStream=ADDR:PORT)"* ]]
}

@test "socket activation without libsystemd names the Debian package to install" {
  need_root
  run without_library libsystemd.so.0 env LISTEN_FDS=1 LISTEN_PID=self "$PORTREG" serve --db "sqlite:$DB"
  [ "$status" -eq 3 ]
  [[ "$output" == *"libsystemd is not installed (Debian package libsystemd0)"* ]]
}

# A copy of the built units whose ExecStart runs the built binary (verify wants it to exist).
units_for_verify() {
  mkdir -p "$BATS_TEST_TMPDIR/units"
  sed "s|^ExecStart=[^ ]*/portreg |ExecStart=$PORTREG |" "$UNIT_DIR/portreg-serve.service" \
    >"$BATS_TEST_TMPDIR/units/portreg-serve.service"
  cp "$UNIT_DIR/portreg-serve.socket" "$BATS_TEST_TMPDIR/units/"
}

@test "systemd-analyze verify accepts the units, without a warning" {
  command -v systemd-analyze >/dev/null || skip "systemd-analyze missing (Debian package systemd)"
  units_for_verify
  run systemd-analyze verify --man=no "$BATS_TEST_TMPDIR/units/portreg-serve.socket" \
    "$BATS_TEST_TMPDIR/units/portreg-serve.service"
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # and it does warn about a unit with a mistake, so the empty output above means something
  sed 's/^ProtectSystem=strict/ProtectSytem=strict/' "$BATS_TEST_TMPDIR/units/portreg-serve.service" \
    >"$BATS_TEST_TMPDIR/units/portreg-typo.service"
  run systemd-analyze verify --man=no "$BATS_TEST_TMPDIR/units/portreg-typo.service"
  [[ "$output" == *"Unknown key 'ProtectSytem'"* ]]
}

@test "the service's systemd-analyze security exposure is below 3.0, with no capability and DynamicUser" {
  command -v systemd-analyze >/dev/null || skip "systemd-analyze missing (Debian package systemd)"
  units_for_verify
  run systemd-analyze security --offline=yes --no-pager "$BATS_TEST_TMPDIR/units/portreg-serve.service"
  [ "$status" -eq 0 ]
  exposure=$(sed -n 's/.*Overall exposure level for portreg-serve.service: \([0-9.]*\).*/\1/p' <<<"$output")
  echo "exposure $exposure"
  [ -n "$exposure" ]
  awk -v e="$exposure" 'BEGIN { exit !(e < 3.0) }'
  grep -qx 'CapabilityBoundingSet=' "$UNIT_DIR/portreg-serve.service"
  grep -qx 'DynamicUser=yes' "$UNIT_DIR/portreg-serve.service"
  grep -qx 'Type=notify' "$UNIT_DIR/portreg-serve.service"
  grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$UNIT_DIR/portreg-serve.service"
}
