#!/usr/bin/env bash
# Fetches the CUDA 13 build of ONNX Runtime 1.29.0 from npm into the user's
# cache directory, next to (not instead of) the CPU build from setup-ort.sh.
#
#   com.github.asus4.onnxruntime@0.4.9           package/Plugins/Linux/x64/libonnxruntime.so
#                                                package/Plugins/Linux/x64/libonnxruntime_providers_shared.so
#   com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
#                                                package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so
#
# ORT loads its providers from the folder its core library sits in, so all
# three files land in one folder. The shared-provider bridge comes from the
# core package because it must match the core build (the GPU package carries
# a byte-different copy). The packages are only `npm pack`ed, never installed.
#
# The CUDA provider also needs the CUDA 13 libraries, which this script does
# not fetch: libcudart.so.13, libcublas.so.13, libcublasLt.so.13,
# libcurand.so.10 and libcuda.so.1 (its readelf NEEDED entries), plus
# libcudnn.so.9 and libcufft.so.12, which it dlopens. `workbench doctor`
# names the ones the loader cannot find.
set -euo pipefail

version=1.29.0
pkgver=0.4.9
cache="${WORKBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/workbench}"
dest="$cache/onnxruntime-gpu-$version"
inner=package/Plugins/Linux/x64
files=(libonnxruntime.so.1 libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so)

complete=1
for f in "${files[@]}"; do [ -s "$dest/$f" ] || complete=0; done
if [ "$complete" = 1 ]; then
  echo "onnxruntime-gpu $version: $dest (cached)"
  exit 0
fi
command -v npm >/dev/null || { echo "setup-gpu: npm is required to fetch ONNX Runtime (apt-get install -y npm)" >&2; exit 1; }

mkdir -p "$cache"
tmp=$(mktemp -d)
# The staging folder lives in the cache so the final rename stays on one
# file system and is atomic: the folder either holds all three files or does
# not exist.
stage=$(mktemp -d "$cache/.onnxruntime-gpu-$version.XXXXXX")
trap 'rm -rf "$tmp" "$stage"' EXIT

echo "onnxruntime-gpu $version: fetching com.github.asus4.onnxruntime@$pkgver and ...linux-x64-gpu@$pkgver from npm (about 330 MB) ..."
(cd "$tmp" && npm pack --silent "com.github.asus4.onnxruntime@$pkgver" "com.github.asus4.onnxruntime.linux-x64-gpu@$pkgver" >/dev/null)
mkdir -p "$tmp/core" "$tmp/gpu"
tar --no-same-owner -xzf "$tmp/com.github.asus4.onnxruntime-$pkgver.tgz" -C "$tmp/core" \
  "$inner/libonnxruntime.so" "$inner/libonnxruntime_providers_shared.so"
tar --no-same-owner -xzf "$tmp/com.github.asus4.onnxruntime.linux-x64-gpu-$pkgver.tgz" -C "$tmp/gpu" \
  "$inner/libonnxruntime_providers_cuda.so"

# libonnxruntime.so's SONAME is libonnxruntime.so.1; naming the file after it
# matches the CPU build's layout.
mv "$tmp/core/$inner/libonnxruntime.so" "$stage/libonnxruntime.so.1"
mv "$tmp/core/$inner/libonnxruntime_providers_shared.so" "$stage/"
mv "$tmp/gpu/$inner/libonnxruntime_providers_cuda.so" "$stage/"
chmod 0755 "$stage" "$stage"/*.so*

rm -rf "$dest" # an incomplete folder left by hand; a complete one exited above
mv "$stage" "$dest"
echo "onnxruntime-gpu $version: $dest"
echo "  --device cuda and --device auto now use it when no --ort-lib or \$ONNXRUNTIME_LIB is given."
echo "  It needs CUDA 13 and cuDNN 9 on the loader path; check with: workbench doctor"
