#!/usr/bin/env bash
# Configures (once) and builds kettle into ./build (or $KETTLE_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${KETTLE_BUILD_DIR:-build}
bash scripts/setup.sh
if [[ ! -f "$build/build.ninja" ]]; then
  meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" ${NINJA_FLAGS:-}
