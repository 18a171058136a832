#!/usr/bin/env bash
# kettle stream when a build's JUnit cannot be read (GCS answers 503 for its
# artifacts): its row waits while the other builds stream, and arrives with
# its tests once the reads succeed; with a short --junit-hold, a build whose
# JUnit stays unreadable gets its row without tests and one warning.
# usage: junit_hold_e2e.sh KETTLE FAKEGCP SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3")
cd "$work"
mkdir -p tree/kubernetes-jenkins
cp "$src/tests/data/spec/schema.json" schema.json
cat >buckets.yaml <<'YAML'
gs://kubernetes-jenkins/logs/:
  prefix: "jenkins:"
YAML
start_fake --root tree --port 0 --pull-hold-ms 300 --topic projects/p/topics/gcs \
  --subscription projects/p/subscriptions/kettle=projects/p/topics/gcs \
  --notify kubernetes-jenkins=projects/p/topics/gcs --dataset p:k8s --bq-job-delay-ms 50
base=http://$host

# rows_of TABLE: "PATH TESTS_RUN" per row, sorted.
rows_of() {
  curl -sf "$base/_fake/bigquery/p/k8s/$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for r in (d["rows"] if isinstance(d, dict) else d): print(r["path"], r.get("tests_run", 0))' | sort
}
has_row() { rows_of "$1" | grep -q "/job/$2 "; }  # has_row TABLE BUILD
tests_of() { rows_of "$1" | awk -v p="gs://kubernetes-jenkins/logs/job/$2" '$1 == p {print $2}' | paste -sd' '; }
start_stream() {  # start_stream [FLAGS...]
  rm -f stop
  "$kettle" stream --db build.db --buckets buckets.yaml --poll p/gcs/kettle --dataset p:k8s \
    --tables day:1 all:30 --metrics-addr 127.0.0.1:0 --health-addr '' "$@" 2>>stream.log &
  kettle_pid=$!
}
stop_stream() {
  touch stop
  wait_for 60 bash -c "! kill -0 $kettle_pid 2>/dev/null"
  wait "$kettle_pid"; local rc=$?
  kettle_pid=""
  return $rc
}
metric() {  # metric NAME: its value on the running stream's /metrics
  local addr
  addr=$(sed -nE 's/.*serving \/metrics on ([0-9.]+:[0-9]+).*/\1/p' stream.log | tail -1)
  curl -sf "http://$addr/metrics" | awk -v n="$1" '$1 == n {print $2}'
}
metric_is() { [[ "$(metric "$1")" == "$2" ]]; }
# fail_junit_of BUILD...: GCS answers 503 to every listing and read (not upload) of their artifacts.
fail_junit_of() {
  local rules="" b
  for b in "$@"; do rules+="${rules:+,}{\"match\": \"job(/|%2F)$b(/|%2F)artifacts\", \"method\": \"GET\", \"kind\": \"status\", \"status\": 503}"; done
  curl -sf -X POST "$base/_fake/faults" --data "[$rules]" >/dev/null
}
now=$(date +%s)
junit='<testsuite><testcase name="t1" time="1"/><testcase name="t2" time="2"><failure message="m">x</failure></testcase></testsuite>'
upload_build() {  # upload_build BUILD: started, one JUnit file, finished
  upload "logs/job/$1/started.json" "{\"timestamp\": $((now - 60))}"
  upload "logs/job/$1/artifacts/junit_01.xml" "$junit"
  upload "logs/job/$1/finished.json" "{\"timestamp\": $now, \"result\": \"SUCCESS\"}"
}

# 1. The default hold (30 minutes): the row of 500 waits while 501 streams.
fail_junit_of 500; check "fault on the JUnit of 500 installed" 0 $?
start_stream
upload_build 500
wait_for 120 grep -q "JUnit of gs://kubernetes-jenkins/logs/job/500 not collected" stream.log
check "the JUnit download of 500 fails" 0 $?
# 501 comes after 500 is in the database: the rounds that insert it consider 500 too.
upload_build 501
wait_for 120 has_row day 501; check "501 reaches the day table" 0 $?
wait_for 60 has_row all 501; check "501 reaches the all table" 0 $?
check "501 carries its tests" "2" "$(tests_of all 501)"
has_row day 500; check "500 is not in the day table while its JUnit is missing" 1 $?
has_row all 500; check "500 is not in the all table while its JUnit is missing" 1 $?
wait_for 30 metric_is kettle_junit_held_builds 1; check "kettle_junit_held_builds counts it" 0 $?

# The reads succeed again: the row arrives, with its tests, once per table.
curl -sf -X POST "$base/_fake/faults" --data '[]' >/dev/null
wait_for 120 has_row day 500; check "500 reaches the day table once its JUnit is stored" 0 $?
wait_for 60 has_row all 500; check "500 reaches the all table once its JUnit is stored" 0 $?
check "500's day row carries its tests, once" "2" "$(tests_of day 500)"
check "500's all row carries its tests, once" "2" "$(tests_of all 500)"
wait_for 30 metric_is kettle_junit_held_builds 0; check "nothing held any more" 0 $?
check "no row went without tests" 0 "$(metric kettle_junit_hold_expired_total)"
stop_stream; check "stream exits 0" 0 $?

# 2. A short hold: a JUnit that stays unreadable costs the tests, not the row.
: >stream.log
fail_junit_of 502
start_stream --junit-hold 2s
upload_build 502
wait_for 180 has_row day 502; check "502 reaches the day table after the hold" 0 $?
wait_for 60 has_row all 502; check "502 reaches the all table after the hold" 0 $?
check "502's rows have no tests" "0 0" "$(tests_of day 502) $(tests_of all 502)"
check "one warning names 502" 1 \
  "$(grep -c 'JUnit of gs://kubernetes-jenkins/logs/job/502 still missing after the --junit-hold wait: its row goes without tests' stream.log)"
check "kettle_junit_hold_expired_total counts it" 1 "$(metric kettle_junit_hold_expired_total)"
curl -sf -X POST "$base/_fake/faults" --data '[]' >/dev/null
stop_stream; check "stream with a short hold exits 0" 0 $?

# 3. update's load: the row of a build whose JUnit collection failed is not
# loaded while the others are; the next cycle loads it with its tests, once.
update_once() {  # update_once LOG
  DEPLOYMENT=prod "$kettle" update --once --db update.db --buckets buckets.yaml --dataset p:k8s \
    --schema schema.json --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 2>"$1"
}
upload_build 510
upload_build 511
fail_junit_of 510
update_once update1.log; check "update --once with a failing JUnit exits 0" 0 $?
check "511 is loaded with its tests" "2 2" "$(tests_of day 511) $(tests_of all 511)"
has_row all 510; check "510 is not loaded while its JUnit is missing" 1 $?
grep -q "1 finished builds held back for their JUnit" update1.log; check "the load says it held one build" 0 $?
curl -sf -X POST "$base/_fake/faults" --data '[]' >/dev/null
update_once update2.log; check "the next update --once exits 0" 0 $?
check "510 is loaded with its tests, once per table" "2 2" "$(tests_of day 510) $(tests_of all 510)"
check "511 is not loaded again" "2" "$(tests_of all 511)"
grep -q "0 finished builds held back for their JUnit" update2.log; check "the next load holds nothing" 0 $?
check "no row went without tests" 0 "$(grep -c 'still missing' update1.log update2.log | awk -F: '{s += $2} END {print s}')"

finish "JUnit hold end-to-end"
