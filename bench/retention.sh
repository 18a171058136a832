#!/usr/bin/env bash
# Database size over simulated days of collection, without and with
# retention. Each simulated day, bench/gen_days.py adds the day's builds to
# the tree served by the fake cloud; then, at the end of that day (the clock
# set by faketime), `kettle update --once` (staging: prune, collect with JUnit,
# load) runs into three databases: without retention; with --retain-junit 72h
# in a file kettle created (auto_vacuum=INCREMENTAL); and the same in a file
# created as the reference does (auto_vacuum off: freed pages are only
# reused). `make-json --days 2` keeps a short window in use. Prints one line a
# day: builds, each file's size after a checkpoint, and free pages.
# usage: bench/retention.sh [DAYS] [JOBS] [BUILDS_PER_JOB_PER_DAY] [TESTS_PER_JUNIT]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
days=${1:-10} jobs=${2:-10} per_day=${3:-30} tests=${4:-1000}
build=${KETTLE_BUILD_DIR:-build}
NINJA_FLAGS="kettle tests/fakegcp/fakegcp" bash scripts/build.sh >/dev/null
out=$root/bench/out/retention
rm -rf "$out"
mkdir -p "$out"
cd "$out"
fake_pid=""
cleanup() { [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
mkdir tree
"$root/$build/tests/fakegcp/fakegcp" --root tree --port 0 --dataset p:k8s --bq-job-delay-ms 10 >fake.out 2>/dev/null &
fake_pid=$!
for _ in $(seq 100); do grep -q listening fake.out 2>/dev/null && break; sleep 0.1; done
host=$(sed -E 's#.*//##' fake.out)

# Simulated day d ends at midnight UTC d days after day 0 (40 days ago); its
# builds finish between 18 h and 6 h before that.
day0=$(( $(date +%s) / 86400 * 86400 - 40 * 86400 ))
kettle() {  # kettle EPOCH ARGS...: kettle with its clock at EPOCH (monotonic time untouched), against the fake
  env -i PATH=/usr/bin:/bin STORAGE_EMULATOR_HOST="$host" BIGQUERY_EMULATOR_HOST="$host" DEPLOYMENT=staging \
    DONT_FAKE_MONOTONIC=1 faketime -f "@$(date -u -d "@$1" '+%Y-%m-%d %H:%M:%S')" "$root/$build/kettle" "${@:2}"
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
size_of() {  # size_of DB -> "MiB free_pages"
  sqlite3 "$1" 'pragma wal_checkpoint(TRUNCATE)' >/dev/null
  echo "$(mib "$(stat -c %s "$1")") $(sqlite3 "$1" 'pragma freelist_count')"
}

echo "$jobs jobs x $per_day builds a day, JUnit of $tests tests; update --once at each day's end"
# The reference's schema, created outside kettle: auto_vacuum stays off.
sqlite3 old.db 'create table build(gcs_path primary key, started_json, finished_json, finished_time);
  create table file(path string primary key, data); create table build_junit_missing(build_id integer primary key);
  create index build_finished_time_idx on build(finished_time)'
printf '%-4s %7s %12s %12s %14s %14s\n' day builds without_MiB with_72h_MiB with_72h_old_MiB old_free_pages
for d in $(seq 1 "$days"); do
  end=$((day0 + d * 86400))
  python3 "$root/bench/gen_days.py" --root tree --end "$end" --days 1 --jobs "$jobs" --per-day "$per_day" \
    --tests "$tests" --first $((d * 100000)) --seed 7 --buckets-out buckets.yaml
  for variant in without with old; do
    retain=(--retain-junit 72h)
    [[ $variant == without ]] && retain=()
    kettle "$end" update --once --db "$variant.db" --buckets buckets.yaml --dataset p:k8s --min-free 0 \
      --metrics-addr '' --health-addr '' "${retain[@]}" 2>>"$variant.log"
    kettle "$end" make-json --db "$variant.db" --buckets buckets.yaml --days 2 --output "rows_$variant.json" \
      2>>"$variant.log"
  done
  read -r without _ <<<"$(size_of without.db)"
  read -r with _ <<<"$(size_of with.db)"
  read -r old old_free <<<"$(size_of old.db)"
  printf '%-4s %7s %12s %12s %14s %14s\n' "$d" "$(sqlite3 with.db 'select count(*) from build')" "$without" "$with" \
    "$old" "$old_free"
done
for variant in with old; do
  grep -h "pruned the JUnit" $variant.log | tail -1 | sed "s/^/last prune ($variant): /"
done
