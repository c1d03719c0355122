#!/usr/bin/env bash
# Installs Docker Compose v2 as a Docker CLI plugin, built from its Go module, for
# machines whose distribution packages only Compose v1 (Debian 12). Needs Go >= 1.26.8.
set -euo pipefail

version="${COMPOSE_VERSION:-v5.6.0}"
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

if docker compose version >/dev/null 2>&1; then
  echo "compose v2 present: $(docker compose version)"
  exit 0
fi
command -v go >/dev/null || { echo "Go is needed to build Compose v2 (apt-get install golang or go.dev)" >&2; exit 1; }

# `go install module@version` refuses modules with exclude directives (compose has some),
# so build inside the downloaded module, where they apply as its authors intend.
dir="$(go mod download -json "github.com/docker/compose/v5@${version}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
mkdir -p "$plugins"
(cd "$dir" && CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=${version}" \
  -o "$plugins/docker-compose" ./cmd)
echo "installed $(docker compose version) into $plugins"
