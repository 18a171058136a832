#!/usr/bin/env bash
# /metrics and /healthz of a running `kettle update` against the fake cloud:
# the exposition parses (tests/support/promcheck.py) and its counters move
# through collect, load and stream; /healthz fails when the fake hangs every
# request for longer than --stall-timeout and passes again once it recovers;
# SIGTERM still ends the process cleanly.
# usage: observability_e2e.sh KETTLE FAKEGCP SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3")
promcheck="python3 $src/tests/support/promcheck.py"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cd "$work"
cp "$src/tests/data/spec/schema.json" schema.json
python3 "$src/bench/gen_tree.py" --root tree --builds 120 --seed 5 --now "$(date +%s)" >/dev/null 2>&1
start_fake --root tree --port 0 --pull-hold-ms 300 --topic projects/p/topics/gcs \
  --subscription projects/p/subscriptions/kettle=projects/p/topics/gcs \
  --notify kubernetes-jenkins=projects/p/topics/gcs --dataset p:k8s --bq-job-delay-ms 50
base=http://$host
metrics=127.0.0.1:$(free_port) health=127.0.0.1:$(free_port)

status_of() { curl -s -o /dev/null -w '%{http_code}' "http://$1"; }
is_status() { [[ "$(status_of "$1")" == "$2" ]]; }  # is_status ADDRESS/PATH CODE
scrape() { curl -sf "http://$metrics/metrics" >"$1"; }
value() { $promcheck "$1" --value "$2" 2>/dev/null || echo 0; }  # value FILE SELECTOR
at_least() { python3 -c "import sys; sys.exit(0 if float('$1') >= float('$2') else 1)"; }
rows_in() { curl -sf "$base/_fake/bigquery/p/k8s/staging" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
rows_above() { [[ "$(rows_in)" -gt "$1" ]]; }  # re-evaluated on each wait_for try
faults() { curl -sf -X POST --data-binary "$1" "$base/_fake/faults" >/dev/null; }

DEPLOYMENT=staging SUBSCRIPTION_PATH=p/gcs/kettle "$kettle" update --db build.db --buckets tree.buckets.yaml \
  --dataset p:k8s --schema schema.json --metrics-addr "$metrics" --health-addr "$health" \
  --stall-timeout 3s --request-timeout 2 2>update.log &
kettle_pid=$!

wait_for 20 is_status "$health/healthz/ready" 200; check "/healthz/ready answers 200 after start-up" 0 $?
# The cycle loads the tree, then streams: wait for the stream phase.
wait_for 60 grep -q "streaming from" update.log; check "the update cycle reaches its stream phase" 0 $?
loaded=$(rows_in)
scrape before.txt; check "/metrics answers" 0 $?
$promcheck before.txt >/dev/null 2>promcheck.err; check "/metrics parses as Prometheus text format" 0 $?
cat promcheck.err
for name in kettle_build_info kettle_builds_collected_total kettle_junit_files_total kettle_junit_bytes_total \
  kettle_rows_emitted_total kettle_http_requests_total kettle_http_request_duration_seconds \
  kettle_http_requests_in_flight kettle_bigquery_load_jobs_total \
  kettle_last_bigquery_insert_timestamp_seconds kettle_db_size_bytes kettle_stage_last_progress_timestamp_seconds \
  kettle_stage_busy kettle_pubsub_messages_pulled_total kettle_http_body_budget_bytes \
  kettle_http_body_budget_waiting process_resident_memory_bytes; do
  $promcheck before.txt --require "$name" >/dev/null 2>&1; check "/metrics has $name" 0 $?
done
check "the body budget's limit is exported (256 MiB)" yes \
  "$(python3 -c "print('yes' if float('$(value before.txt 'kettle_http_body_budget_bytes{state="limit"}')') == 256 * 2**20 else 'no')")"
collected=$(value before.txt 'kettle_builds_collected_total{stage="collect"}')
at_least "$collected" 50; check "builds collected by the collect stage are counted ($collected)" 0 $?
check "JUnit files counted" 0 "$(at_least "$(value before.txt 'kettle_junit_files_total{stage="collect"}')" 1; echo $?)"
check "rows emitted equal the rows loaded" "$loaded" "$(value before.txt kettle_rows_emitted_total)"
check "the load job's rows are counted" "$loaded" "$(value before.txt 'kettle_bigquery_rows_loaded_total{table="p:k8s.staging"}')"
check "one load job succeeded" 1 "$(value before.txt 'kettle_bigquery_load_jobs_total{table="p:k8s.staging",outcome="succeeded"}')"
check "GCS requests are counted with their code" 0 \
  "$(at_least "$(value before.txt 'kettle_http_requests_total{api="gcs",code="200",outcome="success"}')" 100; echo $?)"
check "latency histogram counts every attempt" 0 \
  "$(at_least "$(value before.txt 'kettle_http_request_duration_seconds_count{api="gcs"}')" 100; echo $?)"
fresh=$(value before.txt 'kettle_last_bigquery_insert_timestamp_seconds{table="p:k8s.staging"}')
check "the freshness gauge is recent" 0 "$(at_least "$fresh" $(($(date +%s) - 120)); echo $?)"
check "the database size is exported" 0 "$(at_least "$(value before.txt kettle_db_size_bytes)" 4096; echo $?)"
check "the stream stage is busy" 1 "$(value before.txt 'kettle_stage_busy{stage="stream"}')"
check "/healthz passes while streaming" 200 "$(status_of "$health/healthz")"

# A streamed build moves the stream counters.
now=$(date +%s)
upload logs/obs-job/1/started.json "{\"timestamp\": $((now - 30))}"
upload logs/obs-job/1/artifacts/junit_01.xml '<testsuite><testcase name="t" time="1"/></testsuite>'
upload logs/obs-job/1/finished.json "{\"timestamp\": $now, \"result\": \"SUCCESS\"}"
wait_for 30 rows_above "$loaded"; check "a new build is streamed" 0 $?
# The fake shows the row before kettle has read the answer and counted it.
counted() { scrape after.txt && [[ $(value after.txt 'kettle_bigquery_rows_inserted_total{table="p:k8s.staging"}') == 1 ]]; }
wait_for 30 counted
$promcheck after.txt >/dev/null; check "/metrics still parses" 0 $?
check "a stream build was collected" 1 "$(value after.txt 'kettle_builds_collected_total{stage="stream"}')"
check "its JUnit file was collected" 1 "$(value after.txt 'kettle_junit_files_total{stage="stream"}')"
check "messages pulled" 0 "$(at_least "$(value after.txt kettle_pubsub_messages_pulled_total)" 3; echo $?)"
check "the finished.json message was acked as collected" 1 \
  "$(value after.txt 'kettle_pubsub_messages_acked_total{outcome="collected"}')"
check "started.json and JUnit messages were acked as irrelevant" 0 \
  "$(at_least "$(value after.txt 'kettle_pubsub_messages_acked_total{outcome="irrelevant"}')" 2; echo $?)"
check "the row was inserted" 1 "$(value after.txt 'kettle_bigquery_rows_inserted_total{table="p:k8s.staging"}')"
check "Pub/Sub requests are counted" 0 \
  "$(at_least "$(value after.txt 'kettle_http_requests_total{api="pubsub"}')" 3; echo $?)"

# Every request hangs: no stage progress for longer than --stall-timeout.
faults '[{"kind": "hang"}]'
wait_for 20 is_status "$health/healthz" 503; check "/healthz fails when every request hangs" 0 $?
curl -s "http://$health/healthz" | grep -q "stream: no progress for"; check "/healthz names the stalled stage" 0 $?
scrape hung.txt
check "hung attempts end as timeouts" 0 \
  "$(at_least "$(value hung.txt 'kettle_http_requests_total{api="pubsub",code="none",outcome="timeout"}')" 1; echo $?)"
check "hung attempts are retried" 0 \
  "$(at_least "$(value hung.txt 'kettle_http_retries_total{api="pubsub"}')" 1; echo $?)"
check "the stage is still busy" 1 "$(value hung.txt 'kettle_stage_busy{stage="stream"}')"
check "/metrics answers while the pipeline is stuck" 0 "$($promcheck hung.txt >/dev/null; echo $?)"
faults '[]'
wait_for 40 is_status "$health/healthz" 200; check "/healthz passes again once the fake recovers" 0 $?
upload logs/obs-job/2/finished.json "{\"timestamp\": $(date +%s), \"result\": \"FAILURE\"}"
wait_for 30 rows_above "$((loaded + 1))"; check "streaming resumed after the recovery" 0 $?

kill -TERM "$kettle_pid"
wait "$kettle_pid"; check "SIGTERM ends update with exit 0" 0 $?
kettle_pid=""
grep -q "serving /metrics on $metrics" update.log; check "the log says where /metrics is served" 0 $?

# A taken port is a clear start-up error, not a silent run without probes.
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' >port.txt &
holder=$!
wait_for 5 test -s port.txt
"$kettle" stream --db build.db --buckets tree.buckets.yaml --poll p/gcs/kettle --dataset p:k8s --tables staging:0 \
  --metrics-addr "127.0.0.1:$(cat port.txt)" --health-addr '' 2>taken.log
check "stream refuses to start when the metrics port is taken" 1 $?
grep -q -- "--metrics-addr 127.0.0.1:$(cat port.txt): cannot listen" taken.log; check "the error names the flag and address" 0 $?
kill "$holder" 2>/dev/null

if [[ $failures -ne 0 ]]; then echo "--- update.log (tail)"; tail -30 update.log; fi
finish "observability end-to-end"
