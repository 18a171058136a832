#!/usr/bin/env bash
# A user's first hour, against the fake cloud. kettle starts from a fresh,
# empty directory with only the environment a user sets (no schema.json at
# hand), against buckets that are gone or forbidden, and is stopped while the
# backend is dead, hanging, or slow. Every wait is on an event, with a
# generous bound; the seconds from SIGTERM to exit are printed, not asserted
# beyond that bound.
# usage: first_hour_e2e.sh KETTLE FAKEGCP SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3")
cd "$work"
now=$(date +%s)
python3 "$src/bench/gen_tree.py" --root tree --builds 200 --seed 31 --now "$now" >/dev/null 2>&1
cp tree.buckets.yaml buckets.yaml
serve() {  # serve [fake flags]: the tree with Pub/Sub notifications and a BigQuery dataset
  start_fake --root tree --port 0 --dataset p:k8s --bq-job-delay-ms 50 --pull-hold-ms 300 \
    --topic projects/p/topics/gcs --subscription projects/p/subscriptions/kettle=projects/p/topics/gcs \
    --notify kubernetes-jenkins=projects/p/topics/gcs "$@"
}
serve
base() { echo "http://$host"; }

# kettle as a user runs it: in DIR (made fresh and empty), with PATH, HOME,
# the emulator endpoints and the variables given (NAME=VALUE...) only.
# usage: as_user DIR [NAME=VALUE...] -- kettle args...
user_vars=()
as_user_args() {  # splits "[NAME=VALUE...] -- args" into user_vars and the count to shift
  user_vars=()
  local n=0
  while [[ $1 != -- ]]; do user_vars+=("$1"); shift; n=$((n + 1)); done
  return $((n + 1))
}
as_user() {
  local dir=$1; shift
  as_user_args "$@"; shift $?
  mkdir -p "$dir"
  (cd "$dir" && exec env -i PATH=/usr/bin:/bin HOME="$work/home" STORAGE_EMULATOR_HOST="$host" \
    PUBSUB_EMULATOR_HOST="$host" BIGQUERY_EMULATOR_HOST="$host" "${user_vars[@]}" "$kettle" "$@")
}
# Same, in the background, logging to LOG: sets kettle_pid to kettle's own pid
# (the subshell execs env, which execs kettle), so signals reach kettle.
# usage: as_user_bg DIR LOG [NAME=VALUE...] -- kettle args...
as_user_bg() {
  local dir=$1 log=$2; shift 2
  as_user_args "$@"; shift $?
  mkdir -p "$dir"
  (cd "$dir" && exec env -i PATH=/usr/bin:/bin HOME="$work/home" STORAGE_EMULATOR_HOST="$host" \
    PUBSUB_EMULATOR_HOST="$host" BIGQUERY_EMULATOR_HOST="$host" "${user_vars[@]}" "$kettle" "$@") 2>"$log" &
  kettle_pid=$!
}
rows_in() {  # rows_in TABLE -> paths, one a line, sorted
  curl -sf "$(base)/_fake/bigquery/p/k8s/$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for r in (d["rows"] if isinstance(d, dict) else d): print(r["path"])' | sort
}
count_is() { [[ "$(rows_in "$1" | wc -l)" == "$2" ]]; }
requests() {  # requests KIND -> GCS requests of that kind since the last reset
  curl -sf "$(base)/_fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_by_kind"].get(sys.argv[1], 0))' "$1"
}
faults_injected() { curl -sf "$(base)/_fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["faults_injected"])'; }
injected_above() { [[ "$(faults_injected)" -gt $1 ]]; }  # a fault fired since the count was N
set_faults() { curl -sf -X POST "$(base)/_fake/faults" --data "$1" >/dev/null; }
db_rows() { sqlite3 "$1" 'select gcs_path, started_json, finished_json from build order by 1' | md5sum; }
db_sound() { sqlite3 "$1" 'pragma integrity_check'; }
# stop_and_time NAME LOG: SIGTERM to $kettle_pid, wait (120 s at most), check
# exit 0, print the seconds it took.
stop_and_time() {
  local name=$1 start=$SECONDS code
  kill -TERM "$kettle_pid"
  wait_for 120 bash -c "! kill -0 $kettle_pid 2>/dev/null"
  check "$name: stopped within 120 s of SIGTERM" 0 $?
  wait "$kettle_pid"; code=$?
  kettle_pid=""
  check "$name: exit 0 after SIGTERM" 0 "$code"
  echo "     $name: $((SECONDS - start)) s from SIGTERM to exit"
  grep -q "again to abandon" "$2"; check "$name: the log says how to abandon" 0 $?
}

# --- update --once from an empty directory: no schema.json there ---
as_user fresh-staging DEPLOYMENT=staging -- update --once --db "$work/staging.db" --buckets "$work/buckets.yaml" \
  --dataset p:k8s --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 2>staging.log
check "update --once (staging) from an empty directory exits 0" 0 $?
# A row needs a buckets.yaml entry above the build, or the PR-logs fallback.
known="gcs_path like 'gs://kubernetes-ci-logs/pr-logs%'"
for url in $(grep -oE '^gs://[^:]+' buckets.yaml); do known="$known or gcs_path like '${url%/}/%'"; done
finished=$(sqlite3 staging.db "select count(*) from build where finished_time is not null and ($known)")
check "the staging table is loaded" "$finished" "$(rows_in staging | wc -l)"
as_user fresh-prod DEPLOYMENT=prod -- update --once --db "$work/prod.db" --buckets "$work/buckets.yaml" \
  --dataset p:k8s --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0 2>prod.log
check "update --once (prod) from an empty directory exits 0" 0 $?
for t in day week all; do
  [[ $(rows_in $t | wc -l) -gt 0 ]]; check "the prod $t table is loaded" 0 $?
done
grep -q "No schema" staging.log prod.log; check "no load job lacks a schema" 1 $?

# --- stream from an empty directory: creates its tables, each build once ---
as_user_bg fresh-stream stream.log -- stream --db "$work/stream.db" --buckets "$work/buckets.yaml" \
  --poll p/gcs/kettle --dataset p:k8s --tables s1:0 s7:7 --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0
wait_for 60 grep -q "streaming from" stream.log; check "stream starts" 0 $?
for b in 9001 9002 9003 9004 9005; do
  upload logs/fresh-job/$b/started.json "{\"timestamp\": $((now - 30))}"
  upload logs/fresh-job/$b/finished.json "{\"timestamp\": $now, \"result\": \"SUCCESS\"}"
done
upload logs/fresh-job/9001/finished.json "{\"timestamp\": $now, \"result\": \"SUCCESS\"}"  # a second notification
wait_for 90 count_is s1 5; check "every streamed build arrives (table s1)" 0 $?
wait_for 60 count_is s7 5; check "every streamed build arrives (table s7)" 0 $?
check "each exactly once" 5 "$(rows_in s1 | uniq | wc -l)"
grep -q "retried later" stream.log; check "no insert waits on a missing table" 1 $?
stop_and_time "stream" stream.log

# --- a bucket that is gone, one that is forbidden ---
as_user fresh-plain -- make-db --db "$work/plain.db" --buckets "$work/buckets.yaml" 2>plain.log
check "make-db baseline exits 0" 0 $?
{ cat buckets.yaml; printf 'gs://no-such-bucket/logs/:\n  prefix: "gone:"\ngs://forbidden-bucket/logs/:\n  prefix: "nope:"\n'; } >gone.yaml
mkdir -p tree/forbidden-bucket/logs
set_faults '[{"match": "/b/forbidden-bucket/", "kind": "status", "status": 403}]'
as_user fresh-gone -- make-db --db "$work/gone.db" --buckets "$work/gone.yaml" 2>gone.log
check "a missing and a forbidden bucket: make-db exits 0" 0 $?
grep -q "W.*gs://no-such-bucket/logs/.*404.*does not exist" gone.log; check "a warning names the missing bucket" 0 $?
grep -q "W.*gs://forbidden-bucket/logs/.*403.*credentials" gone.log; check "a warning names the forbidden bucket, with a hint" 0 $?
check "the database equals a run without those entries" "$(db_rows plain.db)" "$(db_rows gone.db)"
set_faults '[]'
mkdir -p empty-tree
printf 'gs://no-such-bucket/logs/:\n  prefix: "gone:"\n' >only-gone.yaml
start_fake --root empty-tree --port 0
as_user fresh-nothing -- make-db --db "$work/nothing.db" --buckets "$work/only-gone.yaml" 2>nothing.log
check "when every listing is absent make-db exits 1" 1 $?
grep -q "nothing could be read" nothing.log; check "and says nothing could be read" 0 $?
serve

# --- an unchanged tree: the second run reads no PR pointer ---
curl -sf -X POST "$(base)/_fake/reset-stats" >/dev/null
as_user fresh-again -- make-db --db "$work/plain.db" --buckets "$work/buckets.yaml" 2>again.log
check "second make-db exits 0" 0 $?
# The reference reads a pointer only when its (job, build) is not present
# (SPEC §2.1, §2.3): here, pointers that hold no gs:// path or name a build
# without finished.json, computed from the tree and the database.
unread=$(python3 - "$work/tree/kubernetes-ci-logs/pr-logs/directory" plain.db "$now" <<'PY'
import json, os, sqlite3, sys
root, db, now = sys.argv[1], sys.argv[2], int(sys.argv[3])
present = set()
rows = sqlite3.connect(db).execute(
    "select gcs_path, finished_json, started_json from build where gcs_path between ? and ?",
    ("gs://kubernetes-ci-logs/pr-logs\x01", "gs://kubernetes-ci-logs/pr-logs\x7f"))
for path, finished, started in rows:
    ts = None
    try:
        ts = float(json.loads(started)["timestamp"]) if started else None
    except Exception:
        pass
    if finished is not None or (ts is not None and now - ts > 5 * 86400):
        present.add(tuple(path.rstrip("/").split("/")[-2:]))
count = 0
for job in os.listdir(root):
    for name in os.listdir(os.path.join(root, job)):
        if name.endswith(".txt") and name != "latest-build.txt" and (job, name[:-4]) not in present:
            count += 1
print(count)
PY
)
check "an unchanged tree reads only the PR pointers whose build is not present" "$unread" "$(requests gcs.media.pointer)"
echo "     unchanged make-db: listings $(requests gcs.list), pointers $(requests gcs.media.pointer)," \
  "latest-build $(requests gcs.media.latest_build), started $(requests gcs.media.started)," \
  "finished $(requests gcs.media.finished)"
grep -q " 0 written" again.log; check "and writes nothing" 0 $?

# --- SIGTERM with a sick backend ---
# A server killed mid-run: connections refused, retries waiting.
serve --latency-ms 300
as_user_bg fresh-dead dead.log -- make-db --db "$work/dead.db" --buckets "$work/buckets.yaml" --junit --threads 4
wait_for 60 grep -q "PR pass:" dead.log; check "make-db (dead server) started" 0 $?
kill -9 "$fake_pid"; wait "$fake_pid" 2>/dev/null; fake_pid=""
wait_for 120 grep -q "retrying in" dead.log; check "make-db retries the dead server" 0 $?
stop_and_time "make-db, server killed" dead.log
check "make-db, server killed: the database is sound" ok "$(db_sound dead.db)"

# A server that hangs every request: attempts on the wire get the grace period.
serve
set_faults '[{"match": "/storage/", "kind": "hang"}]'
as_user_bg fresh-hang hang.log -- make-db --db "$work/hang.db" --buckets "$work/buckets.yaml" --junit
wait_for 60 injected_above 0
check "make-db (hanging server) is waiting on a hung request" 0 $?
stop_and_time "make-db, every request hangs" hang.log
check "make-db, every request hangs: the database is sound" ok "$(db_sound hang.db)"

# The stream with every request hanging (the pull is a long poll: abandoned at once).
set_faults '[]'
as_user_bg fresh-stream-hang stream-hang.log -- stream --db "$work/stream.db" --buckets "$work/buckets.yaml" \
  --poll p/gcs/kettle --dataset p:k8s --tables s1:0 --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0
wait_for 60 grep -q "streaming from" stream-hang.log; check "stream (hanging server) started" 0 $?
before=$(faults_injected)
set_faults '[{"kind": "hang"}]'
wait_for 60 injected_above "$before"
check "stream is waiting on a hung request" 0 $?
stop_and_time "stream, every request hangs" stream-hang.log
check "stream, every request hangs: the database is sound" ok "$(db_sound stream.db)"

# update, in each phase: collect, load, stream.
update_phase() {  # update_phase NAME FAULT_MATCH LOG_EVENT
  set_faults '[]'
  rm -f "$work/phase.db"
  as_user_bg "fresh-update-$1" "update-$1.log" DEPLOYMENT=prod SUBSCRIPTION_PATH=p/gcs/kettle -- update \
    --db "$work/phase.db" --buckets "$work/buckets.yaml" --dataset p:k8s --metrics-addr 127.0.0.1:0 \
    --health-addr 127.0.0.1:0
  wait_for 120 grep -q "$3" "update-$1.log"; check "update reached the $1 phase" 0 $?
  local before; before=$(faults_injected)
  set_faults "[{\"match\": \"$2\", \"kind\": \"hang\"}]"
  wait_for 60 injected_above "$before"
  check "update ($1) is waiting on a hung request" 0 $?
  stop_and_time "update in the $1 phase" "update-$1.log"
  check "update in the $1 phase: the database is sound" ok "$(db_sound "$work/phase.db")"
}
serve --latency-ms 100
update_phase collect "/storage/" "collecting with up to"
serve
update_phase load "bigquery" "JUnit pass:"
serve
update_phase stream "" "streaming from"

finish "first-hour end-to-end"
