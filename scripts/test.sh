#!/usr/bin/env bash
# Builds kettle and runs every test (unit + integration); ends with the runner's
# summary and a line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
build=${KETTLE_BUILD_DIR:-build}
bash scripts/build.sh || exit 1

log=$(mktemp)
meson test -C "$build" --print-errorlogs --num-processes "$(nproc)" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(awk '/^Ok:/ {print $2}' "$log")
failed=$(awk '/^Fail:/ {f+=$2} /^Timeout:/ {f+=$2} /^Unexpected Pass:/ {f+=$2} END {print f+0}' "$log")
rm -f "$log"
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$rc"
