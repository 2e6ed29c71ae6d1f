#!/usr/bin/env bash
# Builds versitygw, a real S3-compatible server (posix backend), from the Go
# module proxy into the user's cache directory, for the datasource tests and
# benchmarks against S3. Built once; a cached binary is reused.
set -euo pipefail

version=v1.8.0
cache="${WORKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/workbench}"
bin="$cache/bin"
stamp="$bin/versitygw.version"

if [ -x "$bin/versitygw" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "versitygw $version: $bin/versitygw (cached)"
  exit 0
fi
command -v go >/dev/null || { echo "setup: go is required to build versitygw" >&2; exit 1; }
echo "versitygw $version: building from the Go module proxy (a few minutes, once) ..."
mkdir -p "$bin"
GOBIN="$bin" CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$version"
echo "$version" >"$stamp"
echo "versitygw $version: $bin/versitygw"
