#!/usr/bin/env bash
# kettle update --once against the fake cloud, in staging and prod modes:
# tables created and loaded with the expected row counts, incremental loads
# append only new rows, and day/week are rebuilt (replaced) when the day
# table is stale.
# usage: update_e2e.sh KETTLE FAKEGCP SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3")
cd "$work"
cp "$src/tests/data/spec/schema.json" schema.json
python3 "$src/bench/gen_tree.py" --root tree --builds 300 --seed 21 --now "$(date +%s)" >/dev/null 2>&1
start_fake --root tree --port 0 --dataset p:k8s --bq-job-delay-ms 50
rows_in() { curl -sf "http://$host/_fake/bigquery/p/k8s/$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
finished_since() {  # finished_since DAYS (empty: all) -> builds make-json emits a row for
  local where="finished_time is not null"
  [[ -n "$1" ]] && where="finished_time >= strftime('%s','now') - $1 * 86400"
  # A row needs a buckets.yaml entry above the build, or the PR-logs fallback.
  local known="gcs_path like 'gs://kubernetes-ci-logs/pr-logs%'"
  for url in $(grep -oE '^gs://[^:]+' tree.buckets.yaml); do known="$known or gcs_path like '${url%/}/%'"; done
  sqlite3 "$db" "select count(*) from build where $where and ($known)"
}
# Free ports for /metrics and /healthz: the defaults may be taken on this machine.
update() {
  "$kettle" update --once --db "$db" --buckets tree.buckets.yaml --dataset p:k8s --schema schema.json \
    --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0
}

# staging: one table with everything.
db=staging.db
DEPLOYMENT=staging update 2>staging.log; check "staging update --once exits 0" 0 $?
expected=$(finished_since "")
check "staging table holds every finished build" "$expected" "$(rows_in staging)"
DEPLOYMENT=staging update 2>>staging.log
check "a second cycle adds nothing" "$expected" "$(rows_in staging)"

# prod: day, week and all.
db=prod.db
DEPLOYMENT=prod update 2>prod.log; check "prod update --once exits 0" 0 $?
day=$(finished_since 1) week=$(finished_since 7) all=$(finished_since 30)
check "day table" "$day" "$(rows_in day)"
check "week table" "$week" "$(rows_in week)"
check "all table" "$all" "$(rows_in all)"
grep -q "rebuilding day and week" prod.log; check "first prod cycle rebuilds day and week" 0 $?
DEPLOYMENT=prod update 2>prod2.log
check "a fresh day table is not rebuilt" 0 "$(grep -c 'rebuilding day and week' prod2.log)"
check "day unchanged by a second cycle" "$day" "$(rows_in day)"
# A stale day table (nothing recorded) makes the next cycle replace day and week.
sqlite3 prod.db 'delete from build_emitted_1'
DEPLOYMENT=prod update 2>prod3.log
grep -q "rebuilding day and week" prod3.log; check "an empty day table triggers the rebuild" 0 $?
check "day replaced, not doubled" "$day" "$(rows_in day)"
check "week replaced, not doubled" "$week" "$(rows_in week)"
check "all appended only new rows" "$all" "$(rows_in all)"

# monitor: freshness of the loaded tables.
"$kettle" monitor --table p:k8s.day p:k8s.all --stale 1 >monitor.out 2>monitor.log; check "monitor of fresh tables exits 0" 0 $?
grep -q "{\"table_spec\": \"p:k8s.day\", \"size_bytes\": [0-9]*, \"modified_time\": [0-9]*, \"row_count\": $day, \"hours_old\": " monitor.out
check "monitor prints the reference's JSON line with the row count" 0 $?
"$kettle" monitor --table p:k8s.day p:k8s.nothere >monitor.out 2>>monitor.log; check "monitor of a missing table exits 1" 1 $?
grep -q "ERROR: table p:k8s.nothere does not exist" monitor.out; check "monitor names the missing table" 0 $?
"$kettle" monitor --table p:k8s.day --stale 0 >monitor.out 2>>monitor.log; check "monitor with --stale 0 calls it stale" 1 $?

# SIGTERM during a cycle (collection slowed by latency), once collection has
# begun: exit 0, and a rerun completes.
start_fake --root tree --port "${host##*:}" --dataset p:k8s --bq-job-delay-ms 50 --latency-ms 200
DEPLOYMENT=staging "$kettle" update --db term.db --buckets tree.buckets.yaml --dataset p:k8s --schema schema.json \
  --threads 2 --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 2>term.log &
kettle_pid=$!
wait_for 60 grep -q "collecting with up to" term.log
kill -TERM "$kettle_pid"
wait "$kettle_pid"; check "update exits 0 on SIGTERM" 0 $?
kettle_pid=""
grep -q "again to abandon" term.log; check "the stop is announced" 0 $?
grep -q "make-db done: .*(interrupted)" term.log; check "the collection stopped early and committed" 0 $?
db=term.db
DEPLOYMENT=staging update 2>/dev/null; check "a rerun after SIGTERM completes the cycle" 0 $?

finish "update end-to-end"
