#!/usr/bin/env bash
# make-db collection speed against the local fake GCS with injected latency:
# builds/s and requests/s at several --threads, peak RSS, and the
# latency-bound limit (threads / latency) beside each. Also measures what the
# fake can serve at all (no latency, 512 in flight) as the ceiling.
# usage: bench/make_db_bench.sh [BUILDS] [LATENCY_MS] [THREADS...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
builds=${1:-20000}
latency=${2:-50}
shift $(($# < 2 ? $# : 2))
threads_list=("$@")
[[ ${#threads_list[@]} -gt 0 ]] || threads_list=(32 128 512)
build=${KETTLE_BUILD_DIR:-build}
NINJA_FLAGS="kettle tests/fakegcp/fakegcp" bash scripts/build.sh >/dev/null
out=$root/bench/out/make_db
mkdir -p "$out"
tree=$out/tree_$builds
if [[ ! -d "$tree" ]]; then
  python3 bench/gen_tree.py --root "$tree" --builds "$builds" --seed 9 >&2
fi
fake_pid=""
cleanup() { [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

start_fake() {  # start_fake LATENCY_MS
  cleanup
  "$root/$build/tests/fakegcp/fakegcp" --root "$tree" --port 0 --threads 1 --latency-ms "$1" >"$out/fake.out" 2>/dev/null &
  fake_pid=$!
  for _ in $(seq 50); do grep -q listening "$out/fake.out" 2>/dev/null && break; sleep 0.1; done
  export STORAGE_EMULATOR_HOST=$(sed -E 's#.*//##' "$out/fake.out")
}
requests() { curl -s "http://$STORAGE_EMULATOR_HOST/_fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_total"])'; }

run() {  # run LATENCY THREADS -> one table line
  local lat=$1 threads=$2
  start_fake "$lat"
  rm -f "$out/bench.db"*
  local r0 start end r1
  r0=$(requests)
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$out/rss.txt" "$root/$build/kettle" make-db --db "$out/bench.db" \
    --buckets "$tree.buckets.yaml" --threads "$threads" 2>"$out/make_db.log"
  end=$(date +%s.%N)
  r1=$(requests)
  local fetched
  fetched=$(grep -o '[0-9]* builds fetched' "$out/make_db.log" | tail -1 | awk '{print $1}')
  awk -v lat="$lat" -v t="$threads" -v s="$start" -v e="$end" -v b="$fetched" -v r=$((r1 - r0 - 1)) \
    -v rss="$(cat "$out/rss.txt")" 'BEGIN {
      d = e - s; limit = (lat > 0) ? t / (lat / 1000) : 0
      printf "%-8s %-8s %8.2f %9.0f %10.0f %14s %8.1f%% %10.1f\n", lat, t, d, b / d, r / d,
        (limit > 0 ? sprintf("%.0f", limit) : "-"), (limit > 0 ? 100 * (r / d) / limit : 0), rss / 1024 }'
}

echo "tree: $builds builds ($tree)"
printf '%-8s %-8s %8s %9s %10s %14s %9s %10s\n' latency threads seconds builds/s requests/s latency-limit of-limit peakRSS_MB
run 0 512
for t in "${threads_list[@]}"; do run "$latency" "$t"; done
