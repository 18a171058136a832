#!/usr/bin/env bash
# deploy/monitoring checked offline with the real Prometheus tools: the rules
# (promtool check rules), a unit test of every alert firing and staying quiet
# (promtool test rules), the dashboard's PromQL found and its variables known,
# the Services against the Kubernetes API types, and the kustomization
# rendered (kubectl kustomize, when kubectl is installed).
# usage: monitoring_rules.sh SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src=$(realpath "$1")
mon=$src/deploy/monitoring

command -v promtool >/dev/null; check "promtool is installed (scripts/setup.sh: prometheus)" 0 $?
python3 "$mon/rules.py" >"$work/kettle.rules.yaml"; check "rules.py prints the PrometheusRule's groups" 0 $?
promtool check rules "$work/kettle.rules.yaml" >"$work/check.out" 2>&1; check "promtool check rules" 0 $?
cat "$work/check.out"
cp "$mon/rules_test.yaml" "$work/"
promtool test rules "$work/rules_test.yaml" >"$work/test.out" 2>&1; check "promtool test rules: every alert fires and stays quiet" 0 $?
cat "$work/test.out"

# Every alert has a test that expects it to fire.
alerts=$(python3 -c 'import sys, yaml
for g in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for r in g["rules"]:
        print(r["alert"])' "$work/kettle.rules.yaml")
for alert in $alerts; do
  python3 - "$work/rules_test.yaml" "$alert" <<'PY'
import sys, yaml
tests = yaml.safe_load(open(sys.argv[1]))["tests"]
fired = [c for t in tests for c in t.get("alert_rule_test", []) if c["alertname"] == sys.argv[2] and c.get("exp_alerts")]
sys.exit(0 if fired else 1)
PY
  check "rules_test.yaml makes $alert fire" 0 $?
done
# The test-only overrides the end-to-end test uses still apply.
python3 "$mon/rules.py" --replace KettleTableStale '6 * 3600' 15 --for KettleTableStale 0s >/dev/null
check "rules.py shortens KettleTableStale" 0 $?

python3 "$src/tests/support/promexprs.py" list "$mon/prometheus-rule.yaml" "$mon/kettle-dashboard.json" >"$work/exprs.txt"
check "the dashboard parses and uses only known variables" 0 $?
check "the dashboard queries every kettle_ metric family" 0 "$(python3 - "$work/exprs.txt" "$mon/kettle-dashboard.json" <<'PY'
import json, re, sys
names = {re.match(r"selector ([a-z_]+)", l).group(1) for l in open(sys.argv[1]) if l.startswith("selector")}
names = {re.sub(r"_bucket$", "", n) for n in names}
want = {"kettle_last_bigquery_insert_timestamp_seconds", "kettle_builds_collected_total", "kettle_http_requests_total",
        "kettle_http_request_duration_seconds", "kettle_pubsub_messages_pulled_total", "kettle_pubsub_messages_acked_total",
        "kettle_bigquery_rows_inserted_total", "kettle_bigquery_rows_loaded_total", "kettle_db_size_bytes",
        "kettle_db_filesystem_free_bytes", "kettle_stage_busy", "kettle_collect_errors_total"}
missing = sorted(want - names)
print(0 if not missing else "missing " + " ".join(missing))
ids = [p["id"] for p in json.load(open(sys.argv[2]))["panels"]]
assert len(ids) == len(set(ids)), "panel ids repeat"
PY
)"

py=/usr/bin/python3
[[ -x $py ]] || py=python3
"$py" "$src/deploy/validate_manifests.py" "$mon/service.yaml" >"$work/validate.out" 2>&1
check "service.yaml is valid against the Kubernetes API types" 0 $?
cat "$work/validate.out"
check "the ServiceMonitor selects the Services and their port" 0 "$(python3 - "$mon" <<'PY'
import sys, yaml
d = sys.argv[1]
services = list(yaml.safe_load_all(open(d + "/service.yaml")))
monitor = yaml.safe_load(open(d + "/servicemonitor.yaml"))
want = monitor["spec"]["selector"]["matchLabels"]
ports = {e["port"] for e in monitor["spec"]["endpoints"]}
problems = [s["metadata"]["name"] for s in services
            if not all(s["metadata"]["labels"].get(k) == v for k, v in want.items())
            or not ports <= {p["name"] for p in s["spec"]["ports"]}
            or s["metadata"]["namespace"] not in monitor["spec"]["namespaceSelector"]["matchNames"]]
job = monitor["spec"]["jobLabel"]
problems += [f"job label {s['metadata']['labels'].get(job)}" for s in services if s["metadata"]["labels"].get(job) != "kettle"]
print(0 if not problems else " ".join(problems))
PY
)"
if command -v kubectl >/dev/null; then
  kubectl kustomize "$mon" >"$work/rendered.yaml" 2>&1; check "kubectl kustomize deploy/monitoring renders" 0 $?
  check "it renders the Services, ServiceMonitor, PrometheusRule and dashboard ConfigMap" \
    "ConfigMap PrometheusRule Service Service ServiceMonitor" "$(sed -n 's/^kind: //p' "$work/rendered.yaml" | sort | xargs)"
else
  echo "skip kubectl kustomize: kubectl is not installed"
fi
finish "monitoring rules"
