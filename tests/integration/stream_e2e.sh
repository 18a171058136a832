#!/usr/bin/env bash
# kettle stream against the fake cloud (GCS uploads -> Pub/Sub -> BigQuery):
# the reference's scenario (finished.json of 123 twice, started.json of 124),
# excluded jobs, builds streamed into every table exactly once, redelivery of
# unacknowledged messages after a killed stream, and the stop file.
# usage: stream_e2e.sh KETTLE FAKEGCP SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3")
cd "$work"
mkdir -p tree/kubernetes-jenkins
cp "$src/tests/data/spec/schema.json" schema.json
cat >buckets.yaml <<'YAML'
gs://kubernetes-jenkins/logs/:
  prefix: "jenkins:"
  exclude_jobs:
    - ^flaky-
YAML
start_fake --root tree --port 0 --pull-hold-ms 300 --topic projects/p/topics/gcs \
  --subscription projects/p/subscriptions/kettle=projects/p/topics/gcs \
  --notify kubernetes-jenkins=projects/p/topics/gcs --dataset p:k8s --bq-job-delay-ms 50
base=http://$host

rows_in() {  # rows_in TABLE -> paths, one a line, sorted
  curl -sf "$base/_fake/bigquery/p/k8s/$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
rows = d["rows"] if isinstance(d, dict) else d
for r in rows: print(r["path"])' | sort
}
start_stream() {
  rm -f stop
  "$kettle" stream --db build.db --buckets buckets.yaml --poll p/gcs/kettle --dataset p:k8s \
    --tables day:1 all:30 --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 2>>stream.log &
  kettle_pid=$!
}
rows_are() { [[ "$(rows_in "$1")" == "$2" ]]; }    # rows_are TABLE "PATHS"
count_is() { [[ "$(rows_in "$1" | wc -l)" == "$2" ]]; }  # count_is TABLE N
now=$(date +%s)
junit='<testsuite><testcase name="t1" time="1"/><testcase name="t2" time="2"><failure message="m">x</failure></testcase></testsuite>'

start_stream
# The reference scenario: b and c are finished.json of 123, d is started.json of 124.
upload logs/job/123/started.json "{\"timestamp\": $((now - 60))}"
upload logs/job/123/artifacts/junit_01.xml "$junit"
upload logs/job/123/finished.json "{\"timestamp\": $now, \"result\": \"SUCCESS\"}"
upload logs/job/123/finished.json "{\"timestamp\": $now, \"result\": \"SUCCESS\"}"
upload logs/job/124/started.json "{\"timestamp\": $now}"
upload logs/flaky-job/1/finished.json "{\"timestamp\": $now, \"result\": \"FAILURE\"}"

wait_for 30 rows_are day "gs://kubernetes-jenkins/logs/job/123"; check "build 123 is in the day table" 0 $?
wait_for 10 rows_are all "gs://kubernetes-jenkins/logs/job/123"; check "build 123 is in the all table" 0 $?
# Every message handled (none left to trigger another insert) before counting rows.
outstanding() { curl -sf "$base/_fake/pubsub/p/kettle" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("outstanding"))'; }
none_outstanding() { [[ "$(outstanding)" == 0 ]]; }
wait_for 30 none_outstanding
check "exactly one row for 123, none for 124 or excluded jobs (day)" "gs://kubernetes-jenkins/logs/job/123" "$(rows_in day)"
tests=$(curl -sf "$base/_fake/bigquery/p/k8s/day" | python3 -c '
import json, sys
d = json.load(sys.stdin); rows = d["rows"] if isinstance(d, dict) else d
print(rows[0]["tests_run"], rows[0]["tests_failed"], rows[0]["job"])')
check "the row carries its tests" "2 1 jenkins:job" "$tests"
grep -q 'ACK irrelevant' stream.log; check "irrelevant messages acknowledged" 0 $?
grep -q 'EXTEND-ACK' stream.log; check "deadlines extended" 0 $?
grep -q 'ACK "finished.json"' stream.log; check "finished.json messages acknowledged" 0 $?
check "nothing left unacknowledged" 0 "$(outstanding)"
check "124 is not in the database" 0 "$(sqlite3 build.db "select count(*) from build where gcs_path like '%/124'")"

# More builds while it runs: each lands in both tables exactly once.
for b in 200 201 202 203 204; do
  upload logs/job/$b/started.json "{\"timestamp\": $((now - 30))}"
  upload logs/job/$b/finished.json "{\"timestamp\": $now, \"passed\": true}"
done
wait_for 30 count_is day 6; check "five more builds streamed (day)" 0 $?
wait_for 10 count_is all 6; check "five more builds streamed (all)" 0 $?

# The stop file ends the stream cleanly.
touch stop
wait_for 30 bash -c "! kill -0 $kettle_pid 2>/dev/null"; check "the stop file ends the stream" 0 $?
wait "$kettle_pid"; check "stream exits 0" 0 $?
kettle_pid=""

# A killed stream: builds published meanwhile are delivered after a restart.
: >stream.log
start_stream
wait_for 30 grep -q "streaming from" stream.log
kill -9 "$kettle_pid"; wait "$kettle_pid" 2>/dev/null; kettle_pid=""
for b in 300 301; do
  upload logs/job/$b/started.json "{\"timestamp\": $((now - 30))}"
  upload logs/job/$b/finished.json "{\"timestamp\": $now, \"passed\": false}"
done
start_stream
wait_for 40 count_is day 8; check "builds published while killed arrive after restart" 0 $?
check "no duplicates in the day table" 8 "$(rows_in day | uniq | wc -l)"
touch stop
wait "$kettle_pid"; kettle_pid=""

# Faults on every API while streaming: nothing lost, nothing duplicated.
curl -sf -X POST "$base/_fake/faults" --data '[
  {"match": "insertAll", "kind": "status", "status": 503, "probability": 0.4},
  {"match": ":pull", "kind": "status", "status": 503, "probability": 0.2},
  {"match": ":acknowledge", "kind": "reset", "probability": 0.2},
  {"match": ":modifyAckDeadline", "kind": "status", "status": 500, "probability": 0.2},
  {"match": "alt=media", "kind": "status", "status": 503, "probability": 0.2}]' >/dev/null
check "fault rules installed" 0 $?
start_stream
for b in $(seq 400 419); do
  upload logs/job/$b/started.json "{\"timestamp\": $((now - 30))}"
  upload logs/job/$b/finished.json "{\"timestamp\": $now, \"passed\": true}"
done
wait_for 90 count_is day 28; check "under faults every build reaches the day table" 0 $?
wait_for 30 count_is all 28; check "under faults every build reaches the all table" 0 $?
check "no duplicates in the day table under faults" 28 "$(rows_in day | uniq | wc -l)"
touch stop
wait "$kettle_pid"; check "stream under faults exits 0" 0 $?
kettle_pid=""

finish "stream end-to-end"
