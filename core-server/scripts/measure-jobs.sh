#!/usr/bin/env bash
# Runs the built jar against a throwaway PostgreSQL (scripts/test-postgres.sh) and a stand-in
# worker (scripts/measure-jobs.py), prints start-to-ready and jobs-path latencies, then stops both.
# Usage: scripts/measure-jobs.sh   (needs target/core-server.jar, PostgreSQL binaries, python3)
set -euo pipefail
cd "$(dirname "$0")/.."

JAR=target/core-server.jar
export APP_PORT=${APP_PORT:-18080} OPS_PORT=${OPS_PORT:-18081} WORKER_PORT=${WORKER_PORT:-18090}
[ -f "$JAR" ] || { echo "build first: mvn -B -q -DskipTests package" >&2; exit 1; }

pg=$(scripts/test-postgres.sh start)
eval "$(echo "$pg" | sed 's/^/export /')"
log=$(mktemp)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  scripts/test-postgres.sh stop "$PGDIR"
  rm -f "$log"
}
trap cleanup EXIT

start=$(date +%s.%N)
WORKER_URL=http://127.0.0.1:$WORKER_PORT CORE_CALLBACK_BASE_URL=http://127.0.0.1:$APP_PORT \
  java -XX:MaxRAM=512m @jvm.options -jar "$JAR" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  if curl -fsS "http://127.0.0.1:$OPS_PORT/actuator/health/readiness" >/dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$log"; echo "process died" >&2; exit 1; }
  sleep 0.1
done
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "start-to-ready (with Flyway on an empty database): %.2f s\n", b - a }'

python3 scripts/measure-jobs.py
echo "RSS after the run: $(( $(ps -o rss= -p "$pid") / 1024 )) MiB"
grep -c '"level":"warn"' "$log" | sed 's/^/warn lines in the core log: /'
