#!/usr/bin/env bash
# The main job, end to end on the local fake cloud: builds kettle, generates a
# Prow tree, serves it with tests/fakegcp (GCS + Pub/Sub + BigQuery), runs
# `kettle update --once` (collect, make-json, load), then publishes a few new
# builds and shows `kettle stream` putting them into BigQuery.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${KETTLE_BUILD_DIR:-build}
NINJA_FLAGS="kettle tests/fakegcp/fakegcp" bash scripts/build.sh >/dev/null
kettle=$root/$build/kettle

work=${KETTLE_DEMO_DIR:-$root/$build/demo}
rm -rf "$work" && mkdir -p "$work"
cd "$work"
cp "$root/tests/data/spec/schema.json" schema.json
echo "== generating a Prow tree (300 builds)"
python3 "$root/bench/gen_tree.py" --root tree --builds 300 --seed 1 --now "$(date +%s)" \
  --buckets-out buckets.yaml >/dev/null 2>&1

"$root/$build/tests/fakegcp/fakegcp" --root tree --port 0 --pull-hold-ms 1000 \
  --topic projects/demo/topics/gcs --subscription projects/demo/subscriptions/kettle=projects/demo/topics/gcs \
  --notify kubernetes-jenkins=projects/demo/topics/gcs --dataset demo:kettle >fake.out 2>fake.log &
fake_pid=$!
trap 'kill $fake_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening fake.out 2>/dev/null && break; sleep 0.1; done
host=$(sed -E 's#.*//##' fake.out)
export STORAGE_EMULATOR_HOST=$host PUBSUB_EMULATOR_HOST=$host BIGQUERY_EMULATOR_HOST=$host
export DEPLOYMENT=staging SUBSCRIPTION_PATH=demo/gcs/kettle KETTLE_DB=$work/build.db
echo "== fake cloud at http://$host"

echo "== kettle update --once (make-db --junit, make-json, bq-load into demo:kettle.staging)"
"$kettle" update --once --buckets buckets.yaml --dataset demo:kettle --schema schema.json \
  --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 2>update.log
grep -E "make-db done|loaded demo" update.log | sed 's/^[IWE][0-9]* [0-9:.]*] /   /'

rows() { curl -sf "http://$host/_fake/bigquery/demo/kettle/$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
before=$(rows staging)

echo "== publishing 3 new builds to gs://kubernetes-jenkins/logs/demo-job/ and streaming them"
now=$(date +%s)
"$kettle" stream --buckets buckets.yaml --poll demo/gcs/kettle --dataset demo:kettle --tables staging:0 \
  --schema schema.json --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 2>stream.log &
stream_pid=$!
for b in 1 2 3; do
  for f in started finished; do
    body="{\"timestamp\": $now}"
    [[ $f == finished ]] && body="{\"timestamp\": $((now + 60)), \"result\": \"SUCCESS\", \"passed\": true}"
    curl -sf -X POST --data-binary "$body" \
      "http://$host/upload/storage/v1/b/kubernetes-jenkins/o?uploadType=media&name=logs/demo-job/$b/$f.json" >/dev/null
  done
done
for _ in $(seq 100); do [[ $(rows staging) -ge $((before + 3)) ]] && break; sleep 0.2; done
# What Prometheus and the kubelet would see.
obs=$(sed -nE 's/.*serving \/metrics on ([^ ]+).*/\1/p' stream.log | head -1)
health=$(sed -nE 's/.*serving \/healthz and \/healthz\/ready on ([^ ]+).*/\1/p' stream.log | head -1)
echo "== http://$obs/metrics (a few of them) and http://$health/healthz"
curl -sf "http://$obs/metrics" | grep -E '^kettle_(builds_collected|pubsub_messages_acked|bigquery_rows_inserted|last_bigquery_insert|stage_busy)' \
  | sed 's/^/   /'
echo "   /healthz: $(curl -s -o /dev/null -w '%{http_code}' "http://$health/healthz") $(curl -s "http://$health/healthz" | tr '\n' ' ')"
touch stop
wait $stream_pid || true
rm -f stop
grep -E "PULLED|ACK|inserted" stream.log | sed 's/^[IWE][0-9]* [0-9:.]*] /   /' | head -8

echo
echo "summary:"
echo "  builds in the database: $(sqlite3 build.db 'select count(*) from build')"
echo "  rows in demo:kettle.staging: $before after update, $(rows staging) after streaming"
echo "  database:  $work/build.db"
echo "  NDJSON:    $work/build_staging.json.gz"
echo "  logs:      $work/update.log, $work/stream.log"
