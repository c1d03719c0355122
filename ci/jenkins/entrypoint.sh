#!/bin/bash
# Refuse to start without an admin password: casc.yaml would otherwise create `admin` with an
# empty one. `make up` generates JENKINS_ADMIN_PASSWORD into .env (infralab/envfile.py).
set -euo pipefail
if [ -z "${JENKINS_ADMIN_PASSWORD:-}" ]; then
  echo "infra-lab jenkins: JENKINS_ADMIN_PASSWORD is empty - run \`make up\`, which writes it into .env" >&2
  exit 64
fi
if [ ! -r "${CASC_JENKINS_CONFIG}" ]; then
  echo "infra-lab jenkins: ${CASC_JENKINS_CONFIG} is missing - docker-compose.yml mounts ./ci/jenkins there" >&2
  exit 66
fi
exec /usr/local/bin/jenkins.sh "$@"
