#!/usr/bin/env bash
# The cost of an unchanged make-db run as history grows: the same jobs with
# BUILDS builds in all, then ten times as many (gen_tree.py --per-job keeps
# the jobs). For each tree: the first collection, then an unchanged run
# with --full-listing (the reference's listings) and one from the cursors,
# each against the fake GCS with LATENCY_MS per request. Prints GCS listing
# requests, all GCS requests and seconds.
# usage: bench/listing_bench.sh [BUILDS] [PER_JOB] [LATENCY_MS]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
builds=${1:-10000}
per_job=${2:-1000}
latency=${3:-20}
build=${KETTLE_BUILD_DIR:-build}
NINJA_FLAGS="kettle tests/fakegcp/fakegcp" bash scripts/build.sh >/dev/null
out=$root/bench/out/listing
mkdir -p "$out"
fake_pid=""
cleanup() { [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

start_fake() {  # start_fake TREE
  cleanup
  "$root/$build/tests/fakegcp/fakegcp" --root "$1" --port 0 --latency-ms "$latency" >"$out/fake.out" 2>/dev/null &
  fake_pid=$!
  for _ in $(seq 100); do grep -q listening "$out/fake.out" 2>/dev/null && break; sleep 0.1; done
  export STORAGE_EMULATOR_HOST=$(sed -E 's#.*//##' "$out/fake.out")
}
stats() {  # list requests, all requests (then zeroes them)
  curl -s "http://$STORAGE_EMULATOR_HOST/_fake/stats" |
    python3 -c 'import json,sys; d = json.load(sys.stdin); print(d["requests_by_kind"].get("gcs.list", 0), d["requests_total"])'
  curl -s -X POST "http://$STORAGE_EMULATOR_HOST/_fake/reset-stats" >/dev/null
}
make_db() {  # make_db TREE [flags] -> "seconds list-requests requests"
  local tree=$1; shift
  stats >/dev/null
  local start end
  start=$(date +%s.%N)
  "$root/$build/kettle" make-db --db "$tree.db" --buckets "$tree.buckets.yaml" --threads 64 "$@" 2>"$out/make_db.log"
  end=$(date +%s.%N)
  echo "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }') $(stats)"
}

printf '%-9s %-6s %9s | %-24s | %-24s\n' builds jobs first_s "unchanged, full listing" "unchanged, from cursors"
printf '%-9s %-6s %9s | %6s %8s %8s | %6s %8s %8s\n' "" "" "" lists requests seconds lists requests seconds
for n in "$builds" $((builds * 10)); do
  pj=$per_job
  [[ $n -ne $builds ]] && pj=$((per_job * 10))
  tree=$out/tree_${n}_$pj
  if [[ ! -d "$tree" ]]; then
    python3 bench/gen_tree.py --root "$tree" --builds "$n" --per-job "$pj" --seed 9 >&2
  fi
  rm -f "$tree.db"*
  start_fake "$tree"
  read -r first _ _ < <(make_db "$tree")
  jobs=$(sqlite3 "$tree.db" "select count(*) from listing_cursor where cursor != ''")
  read -r full_s full_lists full_requests < <(make_db "$tree" --full-listing)
  read -r inc_s inc_lists inc_requests < <(make_db "$tree")
  printf '%-9s %-6s %9s | %6s %8s %8s | %6s %8s %8s\n' "$n" "$jobs" "$first" \
    "$full_lists" "$full_requests" "$full_s" "$inc_lists" "$inc_requests" "$inc_s"
done
echo "(jobs: those listed from a cursor; requests include the builds every run fetches again: running,"
echo " failed, or never written, as SPEC §2.3 has it; latency ${latency} ms a request, 64 in flight)"
