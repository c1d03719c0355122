#!/usr/bin/env bash
# Measures start-to-ready time and idle RSS of the built jar on this host, then checks that
# SIGTERM ends it with exit code 0. Usage: scripts/measure-startup.sh [java options...]
# Without options it uses jvm.options (the container settings) plus -XX:MaxRAM=512m, which
# makes the JVM size itself as inside a 512 MiB container on a host that has more memory.
set -euo pipefail
cd "$(dirname "$0")/.."

JAR=target/core-server.jar
APP_PORT=${APP_PORT:-18080}
OPS_PORT=${OPS_PORT:-18081}
if [ "$#" -eq 0 ]; then
  set -- -XX:MaxRAM=512m @jvm.options
fi
[ -f "$JAR" ] || { echo "build first: mvn -B -q -DskipTests package" >&2; exit 1; }

# The service needs PostgreSQL: without DB_PASSWORD in the environment, use a throwaway cluster.
PGDIR=
if [ -z "${DB_PASSWORD:-}" ]; then
  eval "$(scripts/test-postgres.sh start | sed 's/^/export /')"
fi
log=$(mktemp)
start=$(date +%s.%N)
APP_PORT=$APP_PORT OPS_PORT=$OPS_PORT JOBS_DISPATCH_ENABLED=false java "$@" -jar "$JAR" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"; [ -n "$PGDIR" ] && scripts/test-postgres.sh stop "$PGDIR"' EXIT

# Bounded wait: 60 s at most.
for _ in $(seq 1 600); do
  if curl -fsS "http://127.0.0.1:$OPS_PORT/actuator/health/readiness" >/dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "process died" >&2; exit 1; }
  sleep 0.1
done
ready=$(date +%s.%N)
awk -v a="$start" -v b="$ready" 'BEGIN { printf "start-to-ready: %.2f s\n", b - a }'

# A little traffic so the idle figure includes warmed request paths, then let it settle.
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$APP_PORT/api/health" >/dev/null; done
curl -fsS "http://127.0.0.1:$OPS_PORT/actuator/prometheus" >/dev/null
sleep 10
echo "idle RSS: $(( $(ps -o rss= -p "$pid") / 1024 )) MiB"

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
echo "exit code after SIGTERM: $rc"
echo "non-JSON stdout/stderr lines: $(grep -vc '^{' "$log" || true)"
grep -v '^{' "$log" || true
