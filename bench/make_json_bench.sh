#!/usr/bin/env bash
# make-json throughput: rows/s, MB/s of output and peak RSS for 1 and 2 row
# threads, on a generated DB of N builds and on one twice as large (memory
# must stay flat).
# usage: bench/make_json_bench.sh [BUILDS] (default 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
builds=${1:-20000}
build=${KETTLE_BUILD_DIR:-build}
NINJA_FLAGS="kettle" bash scripts/build.sh >/dev/null
out=$root/bench/out
mkdir -p "$out"

for n in "$builds" $((builds * 2)); do
  db=$out/make_json_$n.db
  [[ -f "$db" ]] || python3 bench/gen_db.py --builds "$n" --out "$db" --seed 7 >&2
done

printf '%-8s %-7s %-6s %9s %8s %8s %10s\n' builds threads gzip seconds rows/s MB/s peakRSS_MB
for n in "$builds" $((builds * 2)); do
  for threads in 1 2; do
    for gz in no yes; do
      db=$out/make_json_$n.db
      flags=()
      file=$out/rows.json
      [[ $gz == yes ]] && { flags+=(--gzip); file=$out/rows.json.gz; }
      start=$(date +%s.%N)
      /usr/bin/time -f '%M' -o "$out/rss.txt" "$root/$build/kettle" make-json --db "$db" \
        --buckets tests/data/sample_buckets.yaml --reset-emitted --threads "$threads" \
        --output "$file" "${flags[@]}" 2>"$out/stderr.txt"
      end=$(date +%s.%N)
      rows=$(grep -o 'done: [0-9]*' "$out/stderr.txt" | awk '{print $2}')
      bytes=$(grep -o '[0-9.]* MB written' "$out/stderr.txt" | awk '{print $1}')
      awk -v n="$n" -v t="$threads" -v g="$gz" -v s="$start" -v e="$end" -v r="$rows" -v b="$bytes" \
        -v rss="$(cat "$out/rss.txt")" 'BEGIN { d = e - s; printf "%-8s %-7s %-6s %9.2f %8.0f %8.1f %10.1f\n", n, t, g, d, r / d, b / d, rss / 1024 }'
    done
  done
done
