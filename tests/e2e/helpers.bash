# helpers.bash — shared set-up for the end-to-end tests: the built binary ($PORTREG, set by
bats_require_minimum_version 1.5.0
# meson), a fresh state directory per test, and registry sources pointed at the fixtures so no
# test depends on (or touches) the host's registry.
FIXTURES="${PORTREG_FIXTURES:?set by meson}/e2e"

portreg_setup() {
  export PORTREG_STATE_DIR="$BATS_TEST_TMPDIR/state"
  export PORTREG_WIRESHARK_SERVICES="$FIXTURES/wireshark-mini"
  export PORTREG_ETC_SERVICES="$FIXTURES/services-mini"
  export PORTREG_NMAP_SERVICES="$FIXTURES/nmap-mini"
  export NO_COLOR=1
}

# Install the small IANA fixture as the registry.
use_iana_fixture() {
  "$PORTREG" registry update --from "$FIXTURES/iana-mini.csv" >/dev/null
}

# The real IANA CSV from ../shared, or skip.
use_real_iana() {
  if [ ! -f "${PORTREG_IANA_CSV:-}" ]; then
    skip "IANA CSV not found at ${PORTREG_IANA_CSV:-<unset>} (../shared/data/iana)"
  fi
  "$PORTREG" registry update --from "$PORTREG_IANA_CSV" >/dev/null
}

# Start sockhold with the given sockets; sets SOCKHOLD_PID, SOCKHOLD_PIDS (all holders) and
# PORTS (the bound ports in order) and INODES. Killed in teardown by stop_sockholds.
start_sockhold() {
  local out="$BATS_TEST_TMPDIR/sockhold.$RANDOM"
  # 3>&-: bats waits for its fd 3 to close; a background holder must not keep it open
  "$SOCKHOLD" "$@" >"$out" 2>&1 3>&- &
  local waited=0
  until grep -q '^ready' "$out" 2>/dev/null; do
    sleep 0.05
    waited=$((waited + 1))
    if [ "$waited" -gt 100 ]; then cat "$out" >&2; return 1; fi
  done
  SOCKHOLD_PIDS=($(awk '$1 == "pid" {print $2}' "$out"))
  SOCKHOLD_PID=${SOCKHOLD_PIDS[0]}
  PORTS=($(awk '$1 == "socket" {print $4}' "$out"))
  INODES=($(awk '$1 == "socket" {print $5}' "$out"))
  echo "${SOCKHOLD_PIDS[@]}" >>"$BATS_TEST_TMPDIR/holders"
}

stop_sockholds() {
  if [ -f "$BATS_TEST_TMPDIR/holders" ]; then
    kill $(cat "$BATS_TEST_TMPDIR/holders") 2>/dev/null || true
  fi
}

need_root() {
  [ "$(id -u)" -eq 0 ] || skip "needs root"
}

# A copy of the binary that user nobody can run, in a world-readable temporary folder: the
# checkout may lie where other users cannot enter (root's home, a mktemp -d folder).
# Sets NOBODY_PORTREG and NOBODY_DIR (also world-writable with the sticky bit, for state).
prepare_nobody_portreg() {
  need_root
  command -v setpriv >/dev/null || skip "setpriv (util-linux) missing"
  NOBODY_DIR=$(mktemp -d /tmp/portreg-nobody.XXXXXX)
  chmod 1777 "$NOBODY_DIR"
  cp "$PORTREG" "$NOBODY_DIR/portreg"
  chmod 755 "$NOBODY_DIR/portreg"
  NOBODY_PORTREG="$NOBODY_DIR/portreg"
  echo "$NOBODY_DIR" >>"$BATS_TEST_TMPDIR/nobody-dirs"
}

# as_nobody CMD... — run a command as user nobody (uid/gid 65534, no groups).
as_nobody() {
  setpriv --reuid 65534 --regid 65534 --clear-groups "$@"
}

remove_nobody_dirs() {
  if [ -f "$BATS_TEST_TMPDIR/nobody-dirs" ]; then
    rm -rf $(cat "$BATS_TEST_TMPDIR/nobody-dirs")
  fi
}

# Fail when file holds a terminal control or text that is not UTF-8: a byte below 0x20 other
# than tab and newline, DEL, or a C1 control (U+0080-U+009F).
assert_no_control_bytes() {
  local file=$1
  if LC_ALL=C grep -naP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$file" >&2; then
    echo "control bytes in $file" >&2
    return 1
  fi
  iconv -f UTF-8 -t UTF-8 "$file" >/dev/null || { echo "$file is not UTF-8" >&2; return 1; }
}

# Run a portreg command on a terminal (script's pty), colour off; its output, without the
# carriage returns the pty adds, in $BATS_TEST_TMPDIR/tty.out.
run_on_tty() {
  command -v script >/dev/null || skip "needs script (bsdutils)"
  local cmd="'$PORTREG' --color never"
  local arg
  for arg in "$@"; do cmd+=" '$arg'"; done
  script -qec "$cmd" /dev/null </dev/null | tr -d '\r' >"$BATS_TEST_TMPDIR/tty.out"
}

# A process name no process should be allowed to print raw: terminal escapes (clear the
# screen, set the title), BEL and bytes that are not UTF-8; and its escaped form.
HOSTILE_COMM=$'\e[2J\e]0;X\a\xff\xfe'
HOSTILE_COMM_ESCAPED='\x1b[2J\x1b]0;X\a\xff\xfe'
# One that forges TSV columns and rows.
FORGING_COMM=$'x\tforged\ny'
FORGING_COMM_ESCAPED='x\tforged\ny'

# test_db_url: the database of a serve test: $PORTREG_TEST_DB_URL (PostgreSQL, set by
# tests/pg_server.sh for the *_pg suites), emptied first, or the SQLite file $DB. Sets DB_URL.
test_db_url() {
  if [ -n "${PORTREG_TEST_DB_URL:-}" ]; then
    DB_URL="$PORTREG_TEST_DB_URL"
    psql -q -X -v ON_ERROR_STOP=1 "$DB_URL" \
      -c "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null
  else
    DB_URL="sqlite:$DB"
  fi
}

# on_postgres: true when the suite runs against PostgreSQL (for a test that cannot apply).
on_postgres() {
  [ -n "${PORTREG_TEST_DB_URL:-}" ]
}

# start_server ARGS...: portreg serve with $DB_URL (default the SQLite file $DB) on a free loopback port (retried
# when the port is taken); sets PORT, SERVER_PID and URL; its stderr goes to
# $BATS_TEST_TMPDIR/server.log.
# SCHEME=https and HEALTH_CA=CA.pem check its health over TLS.
start_server() {
  local try
  for try in 1 2 3 4 5 6 7 8; do
    PORT=$((20000 + RANDOM % 10000))
    local db=(--db "${DB_URL:-sqlite:$DB}")
    [ "${DB_URL:-}" = none ] && db=()   # the caller gives the database (--db-file)
    "$PORTREG" serve --listen "127.0.0.1:$PORT" "${db[@]}" "$@" 2>>"$BATS_TEST_TMPDIR/server.log" &
    SERVER_PID=$!
    local i
    for i in $(seq 100); do
      if curl -sf ${HEALTH_CA:+--cacert "$HEALTH_CA"} "${SCHEME:-http}://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
        URL="${SCHEME:-http}://127.0.0.1:$PORT"
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

# without_library SONAME CMD...: run CMD as if the shared library SONAME were not installed
# (the file is covered by /dev/null in a mount namespace of its own, so dlopen fails); root
# only (need_root). LISTEN_PID=self in CMD's environment becomes CMD's own pid.
without_library() {
  local soname=$1 file
  shift
  file=$(readlink -f "/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/$soname")
  [ -f "$file" ] || skip "$soname is not installed here"
  unshare -m true 2>/dev/null || skip "cannot make a mount namespace (unshare -m)"
  unshare -m sh -c 'mount --bind /dev/null "$0" || exit 99
    for a in "$@"; do [ "$a" = LISTEN_PID=self ] && set -- "$@" "LISTEN_PID=$$" || set -- "$@" "$a"; shift; done
    exec "$@"' "$file" "$@" 2>&1
}
