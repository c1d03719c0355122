#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for core-server's integration tests (Debian's postgresql, no containers).
#
#   scripts/test-postgres.sh start [port]   -> prints PGDIR=, DB_URL=, DB_USER=, DB_PASSWORD= (one per line)
#   scripts/test-postgres.sh stop <PGDIR>   -> stops the cluster and deletes its directory
#
# The cluster lives in a fresh temp dir, listens on 127.0.0.1 only (unix socket inside the temp dir),
# and has a database "core" owned by user "core". As root, initdb/pg_ctl run as the "postgres" system
# user (initdb refuses root). The Maven test run calls this script itself (TestPostgres, a JUnit
# LauncherSessionListener): one cluster per test JVM, stopped at the end.
set -euo pipefail

PG_BIN="${PG_BIN:-}"
if [[ -z "$PG_BIN" ]]; then
  for dir in /usr/lib/postgresql/*/bin; do [[ -x "$dir/initdb" ]] && PG_BIN="$dir"; done
fi
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
  echo "test-postgres: initdb not found; install PostgreSQL (Debian: apt-get install -y postgresql) or set PG_BIN" >&2
  exit 2
fi

as_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  echo "test-postgres: no free port found" >&2; exit 3
}

cmd="${1:-}"
case "$cmd" in
  start)
    port="${2:-$(free_port)}"
    dir="$(mktemp -d "${TMPDIR:-/tmp}/core-test-pg.XXXXXX")"
    chmod 755 "$dir"
    if [[ "$(id -u)" == 0 ]]; then chown postgres:postgres "$dir"; fi
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 4; }
    # Tuned for throwaway speed: no fsync, small footprint.
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100 -c shared_buffers=32MB" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 5; }
    password="core-test-$RANDOM$RANDOM"
    as_pg "$PG_BIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
      -c "CREATE ROLE core LOGIN PASSWORD '$password'" \
      -c "CREATE DATABASE core OWNER core" >/dev/null
    echo "PGDIR=$dir"
    echo "DB_URL=jdbc:postgresql://127.0.0.1:$port/core"
    echo "DB_USER=core"
    echo "DB_PASSWORD=$password"
    ;;
  stop)
    dir="${2:?usage: $0 stop <PGDIR>}"
    [[ -d "$dir/data" ]] && as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    case "$dir" in */core-test-pg.*) rm -rf "$dir" ;; esac
    ;;
  *)
    echo "usage: $0 start [port] | stop <PGDIR>" >&2; exit 1 ;;
esac
