#!/bin/sh
# Build toxiproxy-server from its Go module into admin-server/.tools/bin (git-ignored)
# unless it is already there, and print its path. Used by the driver tests' TestMain.
#
# Version: v2.12.0 is the newest release and builds with Go 1.26.8 (its go.mod says
# go 1.23.0, so admin-server's `go 1.26` line is untouched: the tool builds in its own
# module). Since v2.2 the server lives at cmd/server, not cmd/toxiproxy-server.
set -eu
VERSION="${TOXIPROXY_VERSION:-v2.12.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="$ROOT/.tools/bin"
OUT="$BIN_DIR/toxiproxy-server-$VERSION"
if [ ! -x "$OUT" ]; then
	mkdir -p "$BIN_DIR"
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	# GOFLAGS=-mod=mod: build outside this module; GOBIN collects the binary ("server").
	(cd "$tmp" && GOFLAGS=-mod=mod GOBIN="$tmp" CGO_ENABLED=0 go install "github.com/Shopify/toxiproxy/v2/cmd/server@$VERSION") >&2
	mv "$tmp/server" "$OUT"
fi
echo "$OUT"
