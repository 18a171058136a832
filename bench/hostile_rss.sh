#!/usr/bin/env bash
# Peak RSS and wall time of `kettle make-db --junit` against a hostile GCS
# (tests/support/hostile_gcs.py): by default 32 builds whose JUnit bodies
# never end, 32 requests in flight. The process-wide body budget (README,
# "Limits") bounds the total; without it each download grows to its own limit.
# usage: bench/hostile_rss.sh [SCENARIO] [BUILDS] [THREADS] [MEGABYTES]
#        (default: endless 32 32 300; MEGABYTES sizes huge_started and nested_junit)
# Needs kettle built in ./build (or $KETTLE_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
scenario=${1:-endless} builds=${2:-32} threads=${3:-32} megabytes=${4:-300}
build=$(realpath "${KETTLE_BUILD_DIR:-build}")
[[ -x "$build/kettle" ]] || { echo "missing $build/kettle: ninja -C $build kettle" >&2; exit 1; }

out=$root/bench/out/hostile_rss
rm -rf "$out"
mkdir -p "$out/run"
printf 'gs://hostile/logs/:\n  prefix: ""\n  sequential: false\n' >"$out/buckets.yaml"

server_pid=""
trap '[[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
python3 tests/support/hostile_gcs.py --scenario "$scenario" --builds "$builds" --megabytes "$megabytes" \
  >"$out/server.out" 2>"$out/server.err" &
server_pid=$!
for _ in $(seq 100); do grep -qs listening "$out/server.out" && break; sleep 0.1; done
host=$(sed -E 's#.*//##' "$out/server.out")

start=$EPOCHREALTIME
set +e
(cd "$out/run" && python3 "$root/tests/support/peak_rss.py" "$out/peak_kb" \
  env -i PATH=/usr/bin:/bin HOME="$out/run" STORAGE_EMULATOR_HOST="$host" \
  "$build/kettle" make-db --db hostile.db --buckets "$out/buckets.yaml" --junit --threads "$threads" \
  2>"$out/make_db.log")
status=$?
set -e
end=$EPOCHREALTIME
awk -v s="$scenario" -v b="$builds" -v t="$threads" -v p="$(cat "$out/peak_kb")" -v rc="$status" \
  -v start="$start" -v end="$end" 'BEGIN {
  printf "%s, %d builds, --threads %d: peak RSS %.0f MiB, %.1f s, exit %d\n", s, b, t, p / 1024, end - start, rc }'
echo "log: $out/make_db.log ($(grep -c '^E' "$out/make_db.log") error lines)"
