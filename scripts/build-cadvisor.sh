#!/usr/bin/env bash
# Builds the lab's cAdvisor (compose/offline/cadvisor: our thin main over cAdvisor's library,
# pinned in its go.mod) into .lab/tools/cadvisor/ (git-ignored) unless the same build is
# there, then prints the binary's path. Upstream's own main (github.com/google/cadvisor/cmd)
# is not served by the Go module proxy; see main.go. Needs the Go module proxy once.
# The cache key is the pinned version plus a hash of the sources, so editing main.go rebuilds.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/compose/offline/cadvisor"
out="$root/.lab/tools/cadvisor"
version="$(cd "$src" && go list -m -f '{{.Version}}' github.com/google/cadvisor)"
stamp="$version $(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)"

if [ ! -x "$out/cadvisor" ] || [ "$(cat "$out/VERSION" 2>/dev/null)" != "$stamp" ]; then
  mkdir -p "$out"
  ldflags="-s -w -X github.com/google/cadvisor/lib/version.Version=${version}"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/cadvisor" .) >&2
  echo "$stamp" > "$out/VERSION"
else
  touch "$out/cadvisor"  # same build: fresh for infralab.images' mtime check
fi
echo "$out/cadvisor"
