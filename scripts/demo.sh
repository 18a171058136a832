#!/usr/bin/env bash
# Builds kettle and runs the main job locally on the sample data shipped in
# tests/data: make-json over a copy of the sample database, gzip NDJSON out.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${KETTLE_BUILD_DIR:-build}
NINJA_FLAGS="kettle" bash scripts/build.sh >/dev/null

work=${KETTLE_DEMO_DIR:-$root/$build/demo}
rm -rf "$work" && mkdir -p "$work"
cp tests/data/sample.db "$work/build.db"
cp tests/data/sample_buckets.yaml "$work/buckets.yaml"
cd "$work"

echo "== kettle make-json (all builds) -> rows.json.gz"
"$root/$build/kettle" make-json --db build.db --buckets buckets.yaml --output rows.json.gz --gzip
echo "== kettle make-json again: nothing new to emit"
"$root/$build/kettle" make-json --db build.db --buckets buckets.yaml --output again.json

rows=$(gzip -dc rows.json.gz | wc -l)
tests=$(gzip -dc rows.json.gz | python3 -c 'import json,sys; print(sum(json.loads(l)["tests_run"] for l in sys.stdin))')
echo
echo "summary: $rows rows with $tests tests"
echo "  database: $work/build.db"
echo "  rows:     $work/rows.json.gz"
echo "first row:"
gzip -dc rows.json.gz | head -1 | cut -c1-400
