#!/usr/bin/env bash
# Load path: make-json --gzip over a generated DB, then bq-load into the fake
# BigQuery; rows/s and peak RSS of each step.
# usage: bench/load_bench.sh [BUILDS] (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
builds=${1:-100000}
build=${KETTLE_BUILD_DIR:-build}
NINJA_FLAGS="kettle tests/fakegcp/fakegcp" bash scripts/build.sh >/dev/null
out=$root/bench/out/load
mkdir -p "$out"
db=$out/load_$builds.db
[[ -f "$db" ]] || python3 bench/gen_db.py --builds "$builds" --out "$db" --seed 3 --junit-per-build 1 --tests-per-file 20 >&2
cd "$out"
"$root/$build/tests/fakegcp/fakegcp" --root . --port 0 --dataset bench:kettle --bq-job-delay-ms 10 >fake.out 2>fake.log &
fake_pid=$!
trap 'kill $fake_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening fake.out 2>/dev/null && break; sleep 0.1; done
export BIGQUERY_EMULATOR_HOST=$(sed -E 's#.*//##' fake.out)

t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o mj.rss "$root/$build/kettle" make-json --db "$db" --buckets "$root/tests/data/sample_buckets.yaml" \
  --reset-emitted --gzip --output rows.json.gz 2>mj.log
t1=$(date +%s.%N)
/usr/bin/time -f '%M' -o bq.rss "$root/$build/kettle" bq-load --dataset bench:kettle --table all --replace \
  --schema "$root/tests/data/spec/schema.json" --max-bad-records 1000 rows.json.gz 2>bq.log
t2=$(date +%s.%N)
rows=$(grep -o 'done: [0-9]*' mj.log | awk '{print $2}')
loaded=$(grep -o 'loaded [0-9]* rows' bq.log | tail -1 | awk '{print $2}')
awk -v r="$rows" -v l="$loaded" -v a="$t0" -v b="$t1" -v c="$t2" -v m1="$(cat mj.rss)" -v m2="$(cat bq.rss)" \
  -v gz="$(stat -c %s rows.json.gz)" 'BEGIN {
  printf "make-json: %d rows in %.1fs (%.0f rows/s), %.1f MB gzip, peak RSS %.1f MB\n", r, b - a, r / (b - a), gz / 1e6, m1 / 1024
  printf "bq-load:   %d rows in %.1fs (%.0f rows/s), peak RSS %.1f MB\n", l, c - b, l / (c - b), m2 / 1024
  printf "together:  %.0f rows/s\n", r / (c - a) }'
