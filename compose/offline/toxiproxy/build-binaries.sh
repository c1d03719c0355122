#!/usr/bin/env bash
# Builds toxiproxy's server and CLI from its Go module (the offline path's only source).
# `go install module@version` would name the binaries after their folders (server, cli).
set -euo pipefail

version="${TOXIPROXY_VERSION:-v2.12.0}"
out="${1:?usage: build-binaries.sh OUT_DIR}"
dir="$(go mod download -json "github.com/Shopify/toxiproxy/v2@${version}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
mkdir -p "$out"
cd "$dir"
export CGO_ENABLED=0
go build -trimpath -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=${version#v}" -o "$out/toxiproxy-server" ./cmd/server
go build -trimpath -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=${version#v}" -o "$out/toxiproxy-cli" ./cmd/cli
