#!/usr/bin/env bash
# The container image without Docker: runs the Dockerfile's build stage
# (deploy/build-stage.sh, into build-image/ so that build/ is left alone), then
# reproduces the runtime stage in a temp dir laid out like the image and runs
# the image's entrypoint command line, `kettle update --once`, against the fake
# cloud with the image's default buckets.yaml and schema.json.
# Checks: exit 0, the DB is created on the data volume, the staging table holds
# rows, and the binary is stripped and dynamically linked only against
# libraries the runtime stage installs (or that debian:12-slim has).
# usage: image_smoke.sh SOURCE_ROOT FAKEGCP        (KEEP_WORK=1 keeps the temp dir)
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src=$(realpath "$1") fake=$(realpath "$2")
trap 'exit 143' TERM INT
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

dockerfile=$src/deploy/Dockerfile
build_dir=build-image
# The dataset and environment the deployments use (deploy/staging).
project=kubernetes-public dataset=k8s_infra_kettle build_limit=1000

# ---- build stage -------------------------------------------------------------
t0=$SECONDS
(cd "$src" && bash deploy/build-stage.sh "$build_dir") >"$work/build-stage.log" 2>&1
rc=$?
if [[ $rc -eq 0 ]]; then
  pass "build stage: deploy/build-stage.sh $build_dir ($((SECONDS - t0))s)"
else
  fail "build stage: deploy/build-stage.sh $build_dir exited $rc; last lines:"
  tail -n 30 "$work/build-stage.log" | sed 's/^/     /'
  finish "image smoke"
fi
bin=$src/$build_dir/kettle
[[ -x $bin ]]; check "build stage leaves $build_dir/kettle" 0 $?

# ---- the binary the image ships ------------------------------------------------
readelf -S -W "$bin" | grep -Eq '\.(symtab|debug_info)( |$)'
check "binary is stripped (no .symtab, no .debug_info)" 1 $?
readelf -l -W "$bin" | grep -q 'INTERP' && readelf -d -W "$bin" | grep -q '(NEEDED)'
check "binary is dynamically linked" 0 $?

# The runtime stage's apt-get install list (the stage after the last FROM).
runtime_pkgs=$(python3 - "$dockerfile" <<'PY'
import re, sys
text = re.sub(r'\\\n', ' ', open(sys.argv[1]).read())
runtime = re.split(r'(?m)^FROM\s', text)[-1]
for m in re.finditer(r'apt-get\s+install\s+([^&\n]*)', runtime):
    for tok in m.group(1).split():
        if not tok.startswith('-'):
            print(tok)
PY
)
[[ -n $runtime_pkgs ]]; check "Dockerfile runtime stage installs packages" 0 $?
# In debian:12-slim already: libc6 (libc, libm, ld-linux), libstdc++6, libgcc-s1.
base_pkgs="libc6 libstdc++6 libgcc-s1"

owner() {  # owner PATH -> Debian package (merged /usr: try both spellings and the target)
  local p=$1 r c out
  r=$(realpath "$p" 2>/dev/null || echo "$p")
  for c in "$p" "${p#/usr}" "/usr$p" "$r" "${r#/usr}" "/usr$r"; do
    out=$(dpkg -S "$c" 2>/dev/null | head -1) || continue
    [[ -n $out ]] && { echo "${out%%:*}"; return 0; }
  done
  return 1
}
ldd_out=$(ldd "$bin" 2>&1); rc=$?
check "ldd runs on the binary" 0 $rc
if grep -q 'not found' <<<"$ldd_out"; then
  fail "every needed library resolves: $(grep 'not found' <<<"$ldd_out" | xargs)"
fi
libs_ok=0 libs_bad=0
while read -r lib path; do
  if ! pkg=$(owner "$path"); then
    fail "$lib ($path): no Debian package owns it"; libs_bad=$((libs_bad + 1)); continue
  fi
  if grep -qxF "$pkg" <<<"$runtime_pkgs"$'\n'"${base_pkgs// /$'\n'}"; then
    libs_ok=$((libs_ok + 1))
  else
    fail "$lib comes from $pkg, which the Dockerfile's runtime stage does not install"
    libs_bad=$((libs_bad + 1))
  fi
done < <(awk '$2 == "=>" && $3 ~ /^\// {print $1, $3} $1 ~ /^\// {print $1, $1}' <<<"$ldd_out")
[[ $libs_ok -gt 0 && $libs_bad -eq 0 ]]
check "all $libs_ok shared libraries come from runtime-stage packages or debian:12-slim" 0 $?

# ---- runtime stage ---------------------------------------------------------------
# The image: /usr/local/bin/kettle, /kettle/{schema.json,buckets.yaml} (WORKDIR),
# KETTLE_DB=/data/build.db; here all under $work.
mkdir -p "$work/usr/local/bin" "$work/kettle" "$work/data"
cp "$bin" "$work/usr/local/bin/kettle"
cp "$src/tests/data/spec/schema.json" "$work/kettle/schema.json"
cp "$src/deploy/buckets.yaml" "$work/kettle/buckets.yaml"

# A Prow tree: gen_tree.py's buckets include the deploy/buckets.yaml one
# (kubernetes-ci-logs/logs) and others (kubernetes-jenkins, istio-prow,
# oddities) that the default config must leave alone.
python3 "$src/bench/gen_tree.py" --root "$work/tree" --builds 300 --seed 7 --now "$(date +%s)" \
  >"$work/gen_tree.log" 2>&1
check "generate a Prow tree" 0 $?

start_fake --root "$work/tree" --port 0 --dataset "$project:$dataset" --bq-job-delay-ms 50
[[ -n $host ]]; check "fake cloud is listening" 0 $?
[[ -n $host ]] || finish "image smoke"

# The entrypoint (`kettle update`), --once, plus what the staging deployment adds
# (start_fake has exported STORAGE_, PUBSUB_ and BIGQUERY_EMULATOR_HOST).
t0=$SECONDS
(
  cd "$work/kettle" || exit 1
  unset SUBSCRIPTION_PATH GOOGLE_APPLICATION_CREDENTIALS
  export PATH=$work/usr/local/bin:$PATH KETTLE_DB=$work/data/build.db
  export DEPLOYMENT=staging BUILD_LIMIT=$build_limit
  # Free ports for /metrics and /healthz: :9090/:8081 may be taken on a CI machine.
  exec kettle update --once --dataset "$project:$dataset" \
    --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0
) >"$work/update.out" 2>"$work/update.log"
rc=$?
check "kettle update --once exits 0 ($((SECONDS - t0))s)" 0 $rc
if [[ $rc -ne 0 ]]; then tail -n 20 "$work/update.log" | sed 's/^/     /'; fi

db=$work/data/build.db
[[ -s $db ]]; check "database created on the data volume (KETTLE_DB)" 0 $?
check "no database in the working dir" 0 "$(find "$work/kettle" -name '*.db' | wc -l)"
builds=$(sqlite3 "$db" 'select count(*) from build' 2>/dev/null || echo 0)
[[ $builds -gt 0 ]]; check "database holds builds ($builds)" 0 $?
# (A pr-logs/directory entry may point into another bucket: only the job trees count.)
others=$(sqlite3 "$db" "select count(*) from build where gcs_path like 'gs://istio-prow/logs/%' or gcs_path like 'gs://oddities/logs/%' or gcs_path like 'gs://kubernetes-jenkins/logs/%'" 2>/dev/null || echo error)
check "buckets missing from the default buckets.yaml are not collected" 0 "$others"

rows=$(curl -sf "http://$host/_fake/bigquery/$project/$dataset/staging" \
  | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0)
[[ $rows -gt 0 ]]; check "BigQuery $project:$dataset.staging holds rows ($rows)" 0 $?
# A row for every finished build under a buckets.yaml entry (or the PR-logs fallback).
known="gcs_path like 'gs://kubernetes-ci-logs/pr-logs%'"
for url in $(grep -oE '^gs://[^:]+' "$work/kettle/buckets.yaml"); do known="$known or gcs_path like '${url%/}/%'"; done
expected=$(sqlite3 "$db" "select count(*) from build where finished_time is not null and ($known)" 2>/dev/null)
check "staging table has a row per finished build" "$expected" "$rows"

finish "image smoke"
