#!/usr/bin/env bash
# The update cycle's emission in prod (day, week, all as gzip files) on a
# generated DB whose builds finished over the last 30 days: three make-json
# runs against one scan (bench/cycle_emit_bench.cpp, which also checks that
# both give the same files and tables), for a first cycle (day and week
# rebuilt) and a next one with 1% new builds. With KETTLE_BEFORE=BINARY, the
# first cycle is also run as that binary's three make-json commands.
# usage: bench/cycle_emit_bench.sh [BUILDS] (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
builds=${1:-20000}
build=${KETTLE_BUILD_DIR:-build}
NINJA_FLAGS="kettle bench/cycle_emit_bench" bash scripts/build.sh >/dev/null
out=$root/bench/out/cycle
mkdir -p "$out"
db=$out/cycle_$builds.db
# Windows are relative to the clock: the DB is made now.
python3 bench/gen_db.py --builds "$builds" --out "$db" --seed 7 --now "$(date +%s)" >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$root/$build/bench/cycle_emit_bench" "$db" tests/data/sample_buckets.yaml --threads 2 --dir "$out/work" 2>"$out/bench.log"

if [[ -n ${KETTLE_BEFORE:-} ]]; then
  cp "$db" "$out/before.db"
  start=$(date +%s.%N)
  cpu=0
  for step in "1 --reset-emitted day" "7 --reset-emitted week" "30 '' all"; do
    read -r days reset table <<<"$step"
    [[ $reset == "''" ]] && reset=""
    /usr/bin/time -f '%U %S' -o "$out/time.txt" "$KETTLE_BEFORE" make-json --db "$out/before.db" \
      --buckets tests/data/sample_buckets.yaml --days "$days" $reset --threads 2 --gzip \
      --output "$out/build_$table.json.gz" 2>>"$out/before.log"
    cpu=$(awk -v c="$cpu" '{ print c + $1 + $2 }' "$out/time.txt")
  done
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v c="$cpu" 'BEGIN { printf "%-12s %-11s %9.2f %9.2f   (KETTLE_BEFORE, three make-json commands)\n", "first", "before", e - s, c }'
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
