#!/usr/bin/env bash
# Fetches the ONNX Runtime shared library from npm into the user's cache
# directory. Only the one file is extracted; the package is never
# `npm install`ed, because its install script reaches for an unreachable host.
set -euo pipefail

version=1.30.0
cache="${WORKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/workbench}"
dest="$cache/onnxruntime-$version"
lib="$dest/libonnxruntime.so.1"

if [ -s "$lib" ]; then
  echo "onnxruntime $version: $lib (cached)"
  exit 0
fi
command -v npm >/dev/null || { echo "setup: npm is required to fetch ONNX Runtime (apt-get install -y npm)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "onnxruntime $version: fetching onnxruntime-node@$version from npm ..."
(cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
tar -xzf "$tmp"/onnxruntime-node-"$version".tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
mkdir -p "$dest"
# Rename into place so a half-extracted file is never mistaken for the library.
mv "$tmp"/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 "$lib.partial"
mv "$lib.partial" "$lib"
echo "onnxruntime $version: $lib"
