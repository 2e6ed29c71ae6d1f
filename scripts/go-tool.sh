#!/usr/bin/env bash
# go-tool.sh NAME PACKAGE VERSION: builds PACKAGE@VERSION (a command) from
# the Go module proxy into the user's cache directory as bin/NAME, once; a
# cached binary of the same version is reused. The setup-*.sh scripts use
# it for the servers the tests start.
set -euo pipefail

name=$1 pkg=$2 version=$3
cache="${WORKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/workbench}"
bin="$cache/bin"
stamp="$bin/$name.version"

if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "$name $version: $bin/$name (cached)"
  exit 0
fi
command -v go >/dev/null || { echo "setup: go is required to build $name" >&2; exit 1; }
echo "$name $version: building from the Go module proxy (a few minutes, once) ..."
mkdir -p "$bin"
# The stamp is written after the binary, so an interrupted build is redone.
GOBIN="$bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install "$pkg@$version"
echo "$version" >"$stamp"
echo "$name $version: $bin/$name"
