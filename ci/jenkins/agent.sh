#!/usr/bin/env bash
# Start the Jenkins agent `docker-host` on this machine (the Docker host of the lab), connected
# to the lab's Jenkins over WebSocket through nginx. Run it from the lab checkout, as the user
# who runs `make up` / `make test` (that user's Docker access and toolchains are what the nightly
# uses), after `make up` has started Jenkins:
#
#   ci/jenkins/agent.sh            # foreground; Ctrl-C stops it
#   nohup ci/jenkins/agent.sh > .lab/jenkins-agent.log 2>&1 &
#
# Needs: Java 21 or newer (this Jenkins core's agents do; `make test` itself needs only 17), curl,
# docker. Reconnects by itself when Jenkins restarts (the nightly stops it: the suite stops the
# `make up` lab, see ci/jenkins/run-tests.sh). While the lab's Jenkins container is not healthy it
# asks only Docker, never nginx: its retries must not reach the suite's test lab as 502s on
# /jenkins/, which would page (EntryPoint5xxRatioHigh).
#   JENKINS_AGENT_DIR   agent's directory (workspaces live below it)  [~/.infra-lab/jenkins-agent]
#   JENKINS_AGENT_JAVA  the java that runs agent.jar                   [java on PATH]
#   LAB_GIT_URL         repository the nightly checks out              [file://<this checkout>]
#   --once              one attempt, then exit (1 when Jenkins was not there), for checking the setup
set -euo pipefail
once=false
[ "${1:-}" = --once ] && once=true

LAB_HOME=$(cd "$(dirname "$0")/../.." && pwd -P)
cd "$LAB_HOME"
[ -f .env ] || { echo "no .env in $LAB_HOME: run \`make up\` first" >&2; exit 1; }

env_value() { sed -n "s/^$1=//p" .env | tail -n 1; }
public_url=$(env_value LAB_PUBLIC_URL)
JENKINS_URL="${public_url:-http://127.0.0.1:8080}/jenkins/"
admin_password=$(env_value JENKINS_ADMIN_PASSWORD)  # not exported: builds never see it
[ -n "$admin_password" ] || { echo "JENKINS_ADMIN_PASSWORD is empty in .env: run \`make up\`" >&2; exit 1; }

JAVA=${JENKINS_AGENT_JAVA:-java}
java_version=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
java_major=${java_version%%.*}  # 1.8 -> 1, 21 -> 21
if ! [[ "$java_major" =~ ^[0-9]+$ ]] || [ "$java_major" -lt 21 ]; then
  echo "$JAVA is Java ${java_version:-?}: the Jenkins agent needs Java 21 or newer." >&2
  echo "Install one (Debian: openjdk-21-jre-headless or Temurin 21; macOS: brew install openjdk@21) and set JENKINS_AGENT_JAVA=/path/to/bin/java" >&2
  exit 1
fi

# The people's lab's Jenkins, asked through Docker (no HTTP while it is away).
jenkins_healthy() {
  [ -n "$(docker ps -q --filter label=com.docker.compose.project=infralab \
    --filter label=com.docker.compose.service=jenkins --filter health=healthy)" ]
}

AGENT_DIR=${JENKINS_AGENT_DIR:-$HOME/.infra-lab/jenkins-agent}
# Under $HOME on purpose: Colima shares $HOME with its VM, so the suite's bind mounts of the
# workspace (nginx.conf, ...) resolve inside the Docker VM too.
mkdir -p "$AGENT_DIR"
chmod 700 "$AGENT_DIR"

export LAB_HOME
export LAB_GIT_URL=${LAB_GIT_URL:-file://$LAB_HOME}

# curl reads the credentials from stdin, so the password never shows in `ps`.
jenkins_get() {
  printf 'user = "admin:%s"\n' "$admin_password" |
    curl --config - --fail --silent --show-error --max-time 20 "$@"
}

while true; do
  # agent.jar and the secret come from the running controller (its version, its node secret).
  if ! jenkins_healthy; then
    echo "[agent] the lab's Jenkins container is not running or not healthy yet (make up; the nightly stops it while it runs); retrying in 10 s"
  elif jenkins_get -o "$AGENT_DIR/agent.jar.new" "${JENKINS_URL}jnlpJars/agent.jar" &&
    jenkins_get "${JENKINS_URL}computer/docker-host/jenkins-agent.jnlp" |
    grep -oE '<argument>[0-9a-f]{64}</argument>' | head -n 1 |
      sed -E 's/<\/?argument>//g' > "$AGENT_DIR/secret.new" &&
    [ -s "$AGENT_DIR/secret.new" ]; then
    mv "$AGENT_DIR/agent.jar.new" "$AGENT_DIR/agent.jar"
    mv "$AGENT_DIR/secret.new" "$AGENT_DIR/secret"
    chmod 600 "$AGENT_DIR/secret"
    echo "[agent] connecting to ${JENKINS_URL} as docker-host (LAB_HOME=$LAB_HOME)"
    # The node's remoteFS (`agent`) is relative to this directory.
    (cd "$AGENT_DIR" && "$JAVA" -jar agent.jar -url "$JENKINS_URL" -webSocket -name docker-host \
      -secret @secret -workDir "$AGENT_DIR") || true
    echo "[agent] disconnected; reconnecting in 10 s"
    $once && exit 0
  else
    rm -f "$AGENT_DIR/agent.jar.new" "$AGENT_DIR/secret.new"
    echo "[agent] Jenkins not reachable at ${JENKINS_URL}; retrying in 10 s"
  fi
  $once && exit 1
  sleep 10
done
