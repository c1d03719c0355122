#!/usr/bin/env bash
# Builds toxiproxy's server and CLI from its Go module into .lab/tools/toxiproxy/ (git-ignored)
# unless they are there, then prints the server's path. One build serves the offline image
# and the worker-server and admin-server tests that run against a real toxiproxy.
# `go install module@version` would name the binaries after their folders (server, cli),
# so they are built inside the downloaded module. Needs the Go module proxy once.
set -euo pipefail

version="${TOXIPROXY_VERSION:-v2.12.0}"
out="$(cd "$(dirname "$0")/.." && pwd)/.lab/tools/toxiproxy"
if [ ! -x "$out/toxiproxy-server" ] || [ ! -x "$out/toxiproxy-cli" ] \
   || [ "$(cat "$out/VERSION" 2>/dev/null)" != "$version" ]; then
  dir="$(go mod download -json "github.com/Shopify/toxiproxy/v2@${version}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  mkdir -p "$out"
  ldflags="-s -w -X github.com/Shopify/toxiproxy/v2.Version=${version#v}"
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/toxiproxy-server" ./cmd/server \
             && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/toxiproxy-cli" ./cmd/cli) >&2
  echo "$version" > "$out/VERSION"
fi
echo "$out/toxiproxy-server"
