#!/usr/bin/env bash
# The sanitizer step of scripts/test.sh: builds the unit tests and the fuzz
# targets with clang under AddressSanitizer + UndefinedBehaviorSanitizer into
# ./build-san (or $KETTLE_SAN_BUILD_DIR), runs the unit tests and replays
# every fuzz input kept in the repository there (meson suites 'unit' and
# 'fuzz'), then fuzzes each target for KETTLE_FUZZ_SECONDS (scripts/fuzz.sh).
# Ends with "sanitizers: N passed, N failed" (a failed build counts as one
# failure); exit 1 when any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
san=${KETTLE_SAN_BUILD_DIR:-build-san}
bash scripts/setup.sh || exit 1
# One build for both: the libraries under test carry the fuzzers' coverage
# instrumentation, which costs the unit tests little. -O0 compiles three
# times faster than -O1 (meson.build still optimizes the parsers the fuzzers
# drive); line tables are enough for symbolized stack traces; lld links fast.
if [[ ! -f $san/build.ninja ]]; then
  CC=clang CXX=clang++ meson setup "$san" --buildtype=plain -Doptimization=0 \
    -Dcpp_args=-gline-tables-only -Dcpp_link_args=-fuse-ld=lld \
    -Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=enabled >/dev/null || {
    echo "sanitizers: 0 passed, 1 failed (meson setup $san)"
    exit 1
  }
fi
start=$SECONDS
if ! ninja -C "$san" ${NINJA_FLAGS:-} unit-tests fuzz-targets; then
  echo "sanitizers: 0 passed, 1 failed (build of $san)"
  exit 1
fi
echo "sanitizers: built in $((SECONDS - start))s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
log=$(mktemp)
start=$SECONDS
meson test -C "$san" --no-rebuild --suite unit --suite fuzz --print-errorlogs \
  --num-processes "$(nproc)" 2>&1 | tee "$log"
passed=$(awk '/^Ok:/ {print $2}' "$log")
failed=$(awk '/^Fail:/ {f+=$2} /^Timeout:/ {f+=$2} /^Unexpected Pass:/ {f+=$2} END {print f+0}' "$log")
echo "sanitizers: unit tests and fuzz replays in $((SECONDS - start))s"

start=$SECONDS
bash scripts/fuzz.sh "$san" 2>&1 | tee "$log"
read -r fuzz_passed fuzz_failed <<<"$(awk '/^fuzz: [0-9]+ passed/ {print $2, $4}' "$log")"
passed=$((${passed:-0} + ${fuzz_passed:-0}))
failed=$((${failed:-0} + ${fuzz_failed:-1}))
echo "sanitizers: fuzzing in $((SECONDS - start))s"
rm -f "$log"
echo "sanitizers: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
