#!/usr/bin/env bash
# deploy/monitoring against a real Prometheus scraping a running `kettle
# update` on the fake cloud: /metrics passes `promtool check metrics`; every
# expression of the rules and the dashboard evaluates and every selector in
# them returns series; with BigQuery hanging, KettleTableStale fires (its
# threshold shortened to 15s for the test, the rest of the rule as shipped).
# The log, in --log-format json, is one JSON object per line with Cloud
# Logging's fields, and a healthy cycle writes no ERROR line.
# usage: monitoring_e2e.sh KETTLE FAKEGCP SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3")
mon=$src/deploy/monitoring
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
prom_pid=""
trap '[[ -n "$prom_pid" ]] && kill "$prom_pid" 2>/dev/null; cleanup' EXIT

cd "$work"
cp "$src/tests/data/spec/schema.json" schema.json
python3 "$src/bench/gen_tree.py" --root tree --builds 40 --seed 5 --now "$(date +%s)" >/dev/null 2>&1
start_fake --root tree --port 0 --pull-hold-ms 300 --topic projects/p/topics/gcs \
  --subscription projects/p/subscriptions/kettle=projects/p/topics/gcs \
  --notify kubernetes-jenkins=projects/p/topics/gcs --dataset p:k8s --bq-job-delay-ms 50
check "the fake cloud starts" 0 $?
metrics=127.0.0.1:$(free_port) prom=127.0.0.1:$(free_port)

# The shipped rules, with the staleness threshold cut from 6h to 15s.
python3 "$mon/rules.py" --replace KettleTableStale '6 * 3600' 15 --for KettleTableStale 0s >rules.yaml
cat >prometheus.yml <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - rules.yaml
scrape_configs:
  - job_name: kettle
    static_configs:
      - targets: ["$metrics"]
YAML
prometheus --config.file=prometheus.yml --storage.tsdb.path=tsdb --web.listen-address="$prom" \
  >prometheus.log 2>&1 &
prom_pid=$!
ready() { curl -sf "http://$prom/-/ready" >/dev/null; }
wait_for 60 ready; check "prometheus starts and loads the rules" 0 $?

DEPLOYMENT=staging SUBSCRIPTION_PATH=p/gcs/kettle "$kettle" update --db build.db --buckets tree.buckets.yaml \
  --dataset p:k8s --schema schema.json --metrics-addr "$metrics" --health-addr '' --request-timeout 2 \
  --log-format json 2>update.log &
kettle_pid=$!
wait_for 60 grep -q "streaming from" update.log; check "the update cycle reaches its stream phase" 0 $?

curl -sf "http://$metrics/metrics" >metrics.txt; check "/metrics answers" 0 $?
promtool check metrics <metrics.txt >lint.txt 2>&1; check "promtool check metrics: exit 0" 0 $?
check "promtool check metrics: no complaint" "" "$(cat lint.txt)"

# Series appear after a scrape or two; rate() needs two samples.
exprs=(python3 "$src/tests/support/promexprs.py" check "http://$prom" "$mon/prometheus-rule.yaml" "$mon/kettle-dashboard.json")
wait_for 60 "${exprs[@]}" >/dev/null
"${exprs[@]}" >exprs.txt; check "every expression evaluates and every selector returns series" 0 $?
grep -v '^ok' exprs.txt

cp update.log healthy.log
check "every log line is a JSON object with severity, time and message" 0 "$(python3 - healthy.log <<'PY'
import json, re, sys
bad = 0
for line in open(sys.argv[1], encoding="utf-8"):
    entry = json.loads(line)
    ok = (entry.get("severity") in {"DEBUG", "INFO", "WARNING", "ERROR"} and isinstance(entry.get("message"), str)
          and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry.get("time", "")))
    bad += not ok
print(bad)
PY
)"
check "a healthy cycle logs no ERROR line" 0 "$(grep -c '"severity":"ERROR"' healthy.log)"
grep -q '"logging.googleapis.com/labels":{"stage":"load","table":"p:k8s.staging"}' healthy.log
check "load lines carry the stage and table labels" 0 $?

# BigQuery hangs: nothing reaches the table and the gauge ages past 15s.
curl -sf -X POST --data-binary '[{"match": "/bigquery/", "kind": "hang"}]' "http://$host/_fake/faults" >/dev/null
check "BigQuery hangs" 0 $?
now=$(date +%s)
upload logs/mon-job/1/started.json "{\"timestamp\": $((now - 30))}"
upload logs/mon-job/1/finished.json "{\"timestamp\": $now, \"result\": \"SUCCESS\"}"
firing() {
  curl -sf "http://$prom/api/v1/alerts" | python3 -c 'import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
sys.exit(0 if any(a["labels"].get("alertname") == "KettleTableStale" and a["state"] == "firing"
                  and a["labels"].get("table") == "p:k8s.staging" for a in alerts) else 1)'
}
wait_for 90 firing; check "KettleTableStale fires for p:k8s.staging" 0 $?
curl -sf "http://$prom/api/v1/alerts" >alerts.json
python3 -c 'import json, sys
for a in json.load(open(sys.argv[1]))["data"]["alerts"]: print("alert", a["labels"]["alertname"], a["state"], a["annotations"].get("summary", ""))' alerts.json

finish "monitoring end-to-end"
