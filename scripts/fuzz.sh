#!/usr/bin/env bash
# Fuzzes the libFuzzer targets of a -Dfuzz=enabled build, each for
# KETTLE_FUZZ_SECONDS seconds (default 25), KETTLE_FUZZ_JOBS (default: the
# number of cores) at a time:
#   bash scripts/fuzz.sh BUILD_DIR [TARGET...] [-- LIBFUZZER_FLAGS...]
# TARGET is a name under tests/fuzz/corpus/ (default: all). Each starts from
# its seed corpus and regression inputs; what it learns goes to a scratch
# corpus ($KETTLE_FUZZ_WORK/TARGET/corpus, a temporary folder by default),
# never into the repository. A crash leaves its input in
# $KETTLE_FUZZ_WORK/TARGET/ and fails the target. Prints executions per
# target, then "fuzz: N passed, N failed"; exit 1 when any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/fuzz.sh BUILD_DIR [TARGET...] [-- LIBFUZZER_FLAGS...]}
shift
targets=()
while [[ $# -gt 0 && $1 != -- ]]; do targets+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
flags=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for dir in tests/fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi
seconds=${KETTLE_FUZZ_SECONDS:-25}
work=${KETTLE_FUZZ_WORK:-$(mktemp -d -t kettle-fuzz.XXXXXX)}
# UBSan findings must stop the run, or libFuzzer never sees them.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# fuzz_one TARGET: fuzzes one target, then prints its report (also kept in
# $work/TARGET/report); its status goes to $work/TARGET/status (ok or FAIL).
fuzz_one() {
  fuzz_target "$1"
  cat "$work/$1/report"
}
fuzz_target() {
  local target=$1 exe=$build/tests/fuzz/fuzz_$1 dir=$work/$1 start=$SECONDS
  mkdir -p "$dir/corpus"
  if [[ ! -x $exe ]]; then
    echo "fuzz_$target: FAIL, $exe not built" >"$dir/report"
    echo FAIL >"$dir/status"
    return
  fi
  # -timeout: one input taking 10 s is a finding (hostile input must cost
  # bounded time); -rss_limit_mb: so is 2 GB of memory.
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -error_exitcode=1 \
    -artifact_prefix="$dir/" "${flags[@]}" \
    "$dir/corpus" "tests/fuzz/corpus/$target" "tests/fuzz/regressions/$target" >"$dir/log" 2>&1
  local rc=$? runs
  runs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$dir/log")
  if [[ $rc -eq 0 ]]; then
    echo "fuzz_$target: OK, ${runs:-?} executions in $((SECONDS - start))s" >"$dir/report"
    echo ok >"$dir/status"
    return
  fi
  {
    echo "fuzz_$target: FAIL, exit $rc after ${runs:-?} executions in $((SECONDS - start))s; log $dir/log"
    grep -E -A30 '^==[0-9]+==ERROR|invariant failed|^SUMMARY' "$dir/log" | head -60
    for input in "$dir"/crash-* "$dir"/timeout-* "$dir"/oom-* "$dir"/leak-*; do
      [[ -e $input ]] && echo "  input: $input (replay: $exe $input)"
    done
  } >"$dir/report"
  echo FAIL >"$dir/status"
}

# Targets run side by side, one per core (KETTLE_FUZZ_JOBS), so the step's
# wall time shrinks while each target keeps its full time.
jobs=${KETTLE_FUZZ_JOBS:-$(nproc)}
running=0
for target in "${targets[@]}"; do
  if [[ $running -ge $jobs ]]; then
    wait -n
    running=$((running - 1))
  fi
  fuzz_one "$target" &
  running=$((running + 1))
done
wait

passed=0 failed=0
for target in "${targets[@]}"; do
  [[ -s $work/$target/report ]] || echo "fuzz_$target: FAIL, no report"
  if [[ $(cat "$work/$target/status" 2>/dev/null) == ok ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
