#!/usr/bin/env bash
# The container image's build stage: deploy/Dockerfile runs exactly this
# (`bash deploy/build-stage.sh` in /src), and CI runs it too
# (tests/integration/image_smoke.sh, with BUILD_DIR build-image).
#   bash deploy/build-stage.sh [BUILD_DIR]     default BUILD_DIR: build
# Paths are relative to the repository root. Makes a clean release build of
# the kettle binary alone (no tests), strips it, and smoke-runs it:
# BUILD_DIR/kettle is what the image ships as /usr/local/bin/kettle.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=${1:-build}
case $build in
  "" | . | .. | / | ./ | ../) echo "build-stage: refusing BUILD_DIR '$build'" >&2; exit 2 ;;
esac

run() { echo "build-stage: $*" >&2; "$@"; }

# A leftover build folder (or one from the build context) would make
# `meson setup` fail or reuse a configuration this stage did not make.
run rm -rf "$build"
run bash scripts/setup.sh
run meson setup "$build" --buildtype=release -Dtests=disabled
run ninja -C "$build" kettle
run strip "$build/kettle"
run "$build/kettle" --help >/dev/null
echo "build-stage: built $build/kettle ($(stat -c %s "$build/kettle") bytes)" >&2
