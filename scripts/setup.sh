#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine: system packages, the ONNX Runtime library
# (from the PyPI onnxruntime wheel), and a release build of the plugin.
# Usage: scripts/setup.sh [--no-build] [--debug]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

ORT_VERSION=${ORT_VERSION:-1.31.1}
build=1
profile=release
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --debug) profile=debug ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

pkgs=(pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
      gstreamer1.0-plugins-ugly gstreamer1.0-libav libmpeg2-4 python3-pip unzip
      python-matplotlib-data)
# dlib is optional (cargo feature `dlib`, not built by default): for it, also install
# libdlib-dev libopenblas-dev liblapack-dev, and libdlib-data for its model.
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime: the shared library from the PyPI wheel, kept in the user's data folder.
ort_dir="${XDG_DATA_HOME:-$HOME/.local/share}/talkingface/onnxruntime"
ort_lib="$ort_dir/libonnxruntime.so.$ORT_VERSION"
if [ ! -f "$ort_lib" ]; then
  echo "setup: fetching ONNX Runtime $ORT_VERSION from PyPI"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "onnxruntime==$ORT_VERSION"
  mkdir -p "$ort_dir"
  unzip -q -o -j "$tmp"/onnxruntime-*.whl "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" -d "$ort_dir"
  rm -rf "$tmp"
fi
ln -sf "libonnxruntime.so.$ORT_VERSION" "$ort_dir/libonnxruntime.so"

if [ "$build" = 1 ]; then
  if [ "$profile" = release ]; then
    cargo build --release --quiet
  else
    cargo build --quiet
  fi
  # Install the plugin into the user's GStreamer plugin folder so gst-launch finds it without variables.
  # Copied under a temporary name and renamed (scripts/install-file.sh): a pipeline running the
  # installed plugin keeps its copy.
  . scripts/install-file.sh
  plugdir="${XDG_DATA_HOME:-$HOME/.local/share}/gstreamer-1.0/plugins"
  mkdir -p "$plugdir"
  install_file "${CARGO_TARGET_DIR:-target}/$profile/libgsttalkingface.so" "$plugdir"
  # The default models, where the installed plugin looks for them.
  modeldir="${XDG_DATA_HOME:-$HOME/.local/share}/talkingface/models"
  mkdir -p "$modeldir"
  for m in models/*.onnx; do
    if [ -f "$m" ]; then install_file "$m" "$modeldir"; fi
  done
  echo "setup: plugin installed in $plugdir, models in $modeldir"
fi
