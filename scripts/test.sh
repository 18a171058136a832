#!/usr/bin/env bash
# Builds kettle and runs every test (unit + integration), then the image smoke
# test (the Dockerfile's build stage, deploy/build-stage.sh, into build-image/,
# and the image's `kettle update --once` on the fake cloud; counted as one
# test; KETTLE_IMAGE_SMOKE=0 skips it), a smoke test of the io_uring
# network backend (one more; KETTLE_NET_URING_SMOKE=0 skips it), then the
# sanitizer step (scripts/sanitize.sh: unit tests under ASan+UBSan, fuzz
# replays, and each fuzz target for KETTLE_FUZZ_SECONDS; KETTLE_SANITIZE=0
# skips it). Ends with the runner's summary and a line "N passed, N failed".
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
passed=${passed:-0} failed=${failed:-0}

if [[ ${KETTLE_IMAGE_SMOKE:-1} != 0 ]]; then
  echo "== image smoke (tests/integration/image_smoke.sh)"
  start=$SECONDS
  fake=$build/tests/fakegcp/fakegcp
  if [[ -x $fake ]]; then
    timeout --kill-after=10 480 bash tests/integration/image_smoke.sh . "$fake"
    smoke_rc=$?
  else
    echo "FAIL image smoke: $fake not built"
    smoke_rc=1
  fi
  if [[ $smoke_rc -eq 0 ]]; then
    passed=$((passed + 1))
    echo "image smoke: OK ($((SECONDS - start))s)"
  else
    failed=$((failed + 1))
    [[ $rc -ne 0 ]] || rc=1
    echo "image smoke: FAIL, exit $smoke_rc ($((SECONDS - start))s)"
  fi
fi

# The other network backend (-Dnet_backend=io_uring): kettle alone in its own
# build dir, then one integration script against the default build's fake.
# Counted as one test; skipped with a message where the kernel or a seccomp
# profile refuses io_uring (that build cannot start there).
# KETTLE_NET_URING_SMOKE=0 skips it.
net_uring_smoke() {
  local uring_build=build-net-uring start=$SECONDS smoke_rc=0
  echo "== io_uring network backend smoke ($uring_build, tests/integration/stream_e2e.sh)"
  # 425 is io_uring_setup on every Linux architecture.
  if ! python3 -c 'import ctypes, sys; sys.exit(ctypes.CDLL(None, use_errno=True).syscall(425, 1, ctypes.create_string_buffer(120)) < 0)'; then
    echo "io_uring smoke: SKIPPED, io_uring_setup is refused here (kernel or seccomp)"
    return
  fi
  if [[ ! -f $uring_build/build.ninja ]]; then
    meson setup "$uring_build" --buildtype=release -Dnet_backend=io_uring -Dtests=disabled >/dev/null || smoke_rc=1
  fi
  # Only the last lines: the build's progress, or the compiler's error.
  [[ $smoke_rc -ne 0 ]] || ninja -C "$uring_build" kettle 2>&1 | tail -n 15 || smoke_rc=1
  if [[ $smoke_rc -eq 0 ]]; then
    timeout --kill-after=10 300 bash tests/integration/stream_e2e.sh "$uring_build/kettle" "$build/tests/fakegcp/fakegcp" .
    smoke_rc=$?
  fi
  if [[ $smoke_rc -eq 0 ]]; then
    passed=$((passed + 1))
    echo "io_uring smoke: OK ($((SECONDS - start))s)"
  else
    failed=$((failed + 1))
    [[ $rc -ne 0 ]] || rc=1
    echo "io_uring smoke: FAIL, exit $smoke_rc ($((SECONDS - start))s)"
  fi
}
[[ ${KETTLE_NET_URING_SMOKE:-1} == 0 ]] || net_uring_smoke

if [[ ${KETTLE_SANITIZE:-1} != 0 ]]; then
  echo "== sanitizers (scripts/sanitize.sh)"
  start=$SECONDS
  san_log=$(mktemp)
  bash scripts/sanitize.sh 2>&1 | tee "$san_log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || { [[ $rc -ne 0 ]] || rc=1; }
  counts=$(awk '/^sanitizers: [0-9]+ passed, [0-9]+ failed/ {print $2, $4}' "$san_log" | tail -1)
  rm -f "$san_log"
  read -r san_passed san_failed <<<"${counts:-0 1}"
  passed=$((passed + san_passed))
  failed=$((failed + san_failed))
  echo "sanitizers: $san_passed passed, $san_failed failed ($((SECONDS - start))s)"
fi

echo "$passed passed, $failed failed"
exit "$rc"
