#!/usr/bin/env bash
# Starts dockerd where no init system does (CI, containers, this kind of machine); never
# restarts one that already runs.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  echo "docker engine running: $(docker version --format '{{.Server.Version}}')"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "start Docker first (sudo systemctl start docker)" >&2; exit 1; }

# A dockerd told to stop takes ~10 s to exit; a new one before that refuses ("pid file found").
if [ -f /var/run/docker.pid ]; then
  old="$(cat /var/run/docker.pid)"
  for _ in $(seq 30); do kill -0 "$old" 2>/dev/null || break; sleep 1; done
  kill -0 "$old" 2>/dev/null && { echo "an old dockerd ($old) is still stopping" >&2; exit 1; }
  rm -f /var/run/docker.pid
fi
nohup dockerd >/var/log/dockerd.log 2>&1 &
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && { echo "docker engine started: $(docker version --format '{{.Server.Version}}')"; exit 0; }
  sleep 1
done
echo "dockerd did not come up; last lines of /var/log/dockerd.log:" >&2
tail -20 /var/log/dockerd.log >&2
exit 1
