#!/usr/bin/env bash
# Installs libjpeg-turbo's TurboJPEG library (Debian/Ubuntu package
# libturbojpeg0), which workbench loads at run time for --decoder turbo|auto.
# Without it workbench still runs, decoding with Go's image/jpeg.
#
#   scripts/setup-turbo.sh          install the runtime library if missing
#   scripts/setup-turbo.sh --bench  also djpeg and vipsthumbnail, the
#                                   references of vision's decoder benchmarks
#
# Needs root (or passwordless sudo) and apt-get; otherwise it explains what
# to do and exits 0, because the library is optional.
set -euo pipefail

pkgs=(libturbojpeg0)
if [ "${1:-}" = "--bench" ]; then
  pkgs+=(libjpeg-turbo-progs libvips-tools)
fi

have_lib() {
  if [ -n "${WORKBENCH_TURBOJPEG:-}" ]; then
    [ -e "$WORKBENCH_TURBOJPEG" ]
    return
  fi
  ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so\.0 '
}

if [ -n "${WORKBENCH_TURBOJPEG:-}" ] && [ ! -e "$WORKBENCH_TURBOJPEG" ]; then
  echo "libjpeg-turbo: WORKBENCH_TURBOJPEG=$WORKBENCH_TURBOJPEG does not exist; unset it to use the system library." >&2
  exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
  case "$p" in
    libturbojpeg0) have_lib || missing+=("$p") ;;
    libjpeg-turbo-progs) command -v djpeg >/dev/null || missing+=("$p") ;;
    libvips-tools) command -v vipsthumbnail >/dev/null || missing+=("$p") ;;
  esac
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "libjpeg-turbo: present (${WORKBENCH_TURBOJPEG:-$(ldconfig -p 2>/dev/null | awk '/libturbojpeg\.so\.0 /{print $NF; exit}')})"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "libjpeg-turbo: not installed and apt-get is not available here." >&2
  echo "  Install libjpeg-turbo's TurboJPEG library (libturbojpeg.so.0) with your package manager," >&2
  echo "  or copy it anywhere and set WORKBENCH_TURBOJPEG=/path/to/libturbojpeg.so.0." >&2
  echo "  Until then workbench decodes with Go (--decoder auto falls back by itself)." >&2
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    echo "libjpeg-turbo: not installed, and installing needs root:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    echo "  (or copy libturbojpeg.so.0 anywhere and set WORKBENCH_TURBOJPEG to its path)." >&2
    echo "  Until then workbench decodes with Go (--decoder auto falls back by itself)." >&2
    exit 0
  fi
fi

echo "libjpeg-turbo: installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
  || { $sudo apt-get update >/dev/null && $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
echo "libjpeg-turbo: $(ldconfig -p | awk '/libturbojpeg\.so\.0 /{print $NF; exit}')"
