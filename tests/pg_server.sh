#!/bin/bash
# pg_server.sh — run a command with a throwaway PostgreSQL (Debian's postgresql package):
# initdb as the unprivileged postgres user (when run as root) in a fresh /tmp/portreg-pg-XXXX
# (never under the repository, which may sit in a folder postgres cannot enter), listening on
# 127.0.0.1 on a free port and on a Unix socket in that folder, trust authentication (a test
# cluster nobody else reaches), a role and database "portreg". The command runs with
#   PORTREG_TEST_DB_URL   postgresql://portreg@127.0.0.1:PORT/portreg
#   PORTREG_TEST_PG_CTL   a command that runs pg_ctl on the cluster (stop -m fast, start -w)
#   PORTREG_TEST_PG_DIR   the cluster's folder (its socket is there)
# and the cluster is stopped and removed when it exits, whatever happens.
# Usage: tests/pg_server.sh COMMAND [ARGS...]      PG_FSYNC=on keeps fsync (the bench does).
set -u

PGBIN="${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
if [ ! -x "$PGBIN/initdb" ]; then
  echo "pg_server.sh: PostgreSQL is not installed (Debian package postgresql; scripts/install-deps.sh test)" >&2
  exit 77
fi
dir="$(mktemp -d /tmp/portreg-pg-XXXX)"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${as_pg[@]}" "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2; exit 1; }
fsync=off
[ "${PG_FSYNC:-off}" = on ] && fsync=on
started=""
for try in 1 2 3 4 5 6 7 8; do
  port=$((30000 + RANDOM % 20000))
  if "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
       -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=$fsync -c max_connections=200" \
       start >/dev/null 2>&1; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  echo "pg_server.sh: PostgreSQL did not start:" >&2
  cat "$dir/server.log" >&2
  exit 1
fi
"$PGBIN/psql" -q -X -h "$dir" -p "$port" -U postgres -d postgres \
  -c "CREATE ROLE portreg LOGIN" -c "CREATE DATABASE portreg OWNER portreg" >/dev/null || exit 1

export PORTREG_TEST_DB_URL="postgresql://portreg@127.0.0.1:$port/portreg"
export PORTREG_TEST_PG_DIR="$dir"
export PORTREG_TEST_PG_CTL="${as_pg[*]} $PGBIN/pg_ctl -D $dir/data -l $dir/server.log -w -t 30 -o '-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=$fsync -c max_connections=200'"
if [ $# -eq 0 ]; then
  echo "$PORTREG_TEST_DB_URL"
  exit 0
fi
"$@"
