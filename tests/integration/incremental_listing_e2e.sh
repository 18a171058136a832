#!/usr/bin/env bash
# Incremental listing against the fake GCS, on a tree with long-history jobs.
# Two databases take every run side by side: inc.db as make-db runs by
# default (listings from cursors), full.db with --full-listing (the
# reference's listings). After every run both hold the same builds; the
# requests are counted from the fake's stats:
# - an unchanged run lists each snowflake job with one request (a full
#   listing needs one per 1,000 builds), other jobs in full;
# - a new snowflake build, a build whose number gains a digit, a running
#   build that finishes and a new PR build are collected by the next run;
# - with a long PR history the PR pass lists each job directory from its
#   cursor, and reads only the recent PR builds' keys from the database;
# - --full-listing lists everything again.
# usage: incremental_listing_e2e.sh KETTLE FAKEGCP SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3")
cd "$work"

# Jobs of 2,100 and 600 snowflake builds among the usual edge cases.
python3 "$src/bench/gen_tree.py" --root "$work/tree" --builds 6000 --per-job 2100 --seed 7 \
  --junit-dir "$src/tests/data/spec/junit" >/dev/null 2>&1
start_fake --root "$work/tree" --port 0 --seed 11 || { echo "FAIL the fake did not start"; exit 1; }
base=http://$host

pages() { curl -sf "$base/_fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_by_kind"].get("gcs.list", 0))'; }
reads() { curl -sf "$base/_fake/stats" | python3 -c 'import json,sys; k = json.load(sys.stdin)["requests_by_kind"]; print(k.get("gcs.media.started", 0), k.get("gcs.media.pointer", 0))'; }
# run DB LOG [flags]: one make-db; sets $pages and $reads to its list pages and (started.json, pointer) reads.
run() {
  local db=$1 log=$2; shift 2
  curl -sf -X POST "$base/_fake/reset-stats" >/dev/null
  env -i PATH="$PATH" HOME="$work" STORAGE_EMULATOR_HOST="$host" \
    "$kettle" make-db --db "$db" --buckets "$work/tree.buckets.yaml" "$@" 2>"$log"
  local rc=$?
  pages=$(pages) reads=$(reads)
  return $rc
}
builds() { sqlite3 "$1" 'select gcs_path, started_json, finished_json, finished_time from build order by gcs_path' | md5sum; }
# both NAME: one run of each database; checks exit codes and that they hold the same builds.
both() {
  run inc.db "inc_$1.log"; check "$1: make-db exits 0" 0 $?
  inc_pages=$pages inc_reads=$reads
  run full.db "full_$1.log" --full-listing; check "$1: make-db --full-listing exits 0" 0 $?
  full_pages=$pages full_reads=$reads
  check "$1: both databases hold the same builds" "$(builds full.db)" "$(builds inc.db)"
  check "$1: both read the same started.json and pointers" "$full_reads" "$inc_reads"
}
from_cursor() { grep -o '([0-9]* from a cursor)' "$1" | tr -dc 0-9; }
oracle_ok() {  # oracle_ok DB -> "OK" or the differences
  python3 "$src/bench/oracle.py" --root "$work/tree" --buckets "$work/tree.buckets.yaml" >expected.json 2>/dev/null
  if python3 "$src/bench/oracle.py" --compare-db "$1" expected.json --root "$work/tree" >compare.txt 2>&1; then
    echo OK
  else
    head -5 compare.txt
  fi
}

# The listed jobs of the tree: how many are all snowflakes, and the pages a
# full listing of them takes beyond the first.
read -r snowflake_jobs extra_pages < <(python3 - "$src/bench" "$work/tree" "$work/tree.buckets.yaml" <<'PY'
import re, sys
sys.path.insert(0, sys.argv[1])
import oracle
tree = oracle.Tree(sys.argv[2])
jobs = extra = 0
for path, opts in oracle.load_buckets(sys.argv[3]):
    bucket, prefix = oracle.split_gs(path)
    excludes = [re.compile(p) for p in (opts.get('exclude_jobs') or [])]
    sequential = opts.get('sequential', True) is not False
    for jp in tree.list_delim(bucket, prefix)[0]:
        if any(p.search(jp[len(prefix):-1]) for p in excludes):
            continue
        if sequential and oracle.parse_latest(tree.read(bucket, jp + 'latest-build.txt')) is not None:
            continue
        names = [d[len(jp):-1] for d in tree.list_delim(bucket, jp)[0]]
        if names and all(len(n) == 19 and n.isdigit() for n in names):
            jobs += 1
            extra += (len(names) - 1) // 1000
print(jobs, extra)
PY
)
echo "tree: $snowflake_jobs snowflake jobs, $extra_pages pages beyond one each in full"
check "the tree has long snowflake jobs" yes "$([[ $snowflake_jobs -ge 3 && $extra_pages -ge 2 ]] && echo yes)"

# 1. The first run lists everything (no cursor yet); full.db starts as its copy.
run inc.db inc_first.log; check "first: make-db exits 0" 0 $?
check "first: nothing listed from a cursor" 0 "$(from_cursor inc_first.log)"
check "first: the database equals the oracle" OK "$(oracle_ok inc.db)"
sqlite3 inc.db ".backup full.db"
check "first: the cursors are stored" yes \
  "$([[ $(sqlite3 inc.db "select count(*) from listing_cursor where cursor != ''") -ge $snowflake_jobs ]] && echo yes)"

# 2. Unchanged: one request per snowflake job, the rest as before.
both unchanged
echo "unchanged run: $inc_pages listing requests from cursors, $full_pages in full"
check "unchanged: each snowflake job listed from its cursor" "$snowflake_jobs" "$(from_cursor inc_unchanged.log)"
check "unchanged: one request per snowflake job" "$extra_pages" "$((full_pages - inc_pages))"
check "unchanged: nothing written" 1 "$(grep -c ' 0 written' inc_unchanged.log)"

# 3. A new snowflake build, a number gaining a digit, a running build that
#    finishes, new builds here and there (gen_tree --add: PR builds too).
upload_to() {  # upload_to BUCKET OBJECT CONTENT
  curl -sf -X POST --data-binary "$3" "$base/upload/storage/v1/b/$1/o?uploadType=media&name=$2" >/dev/null
}
now=$(date +%s)
long_job=$(sqlite3 inc.db "select prefix from listing_cursor where prefix like 'gs://kubernetes-ci-logs/logs/%' order by names desc limit 1")
long_job=${long_job#gs://kubernetes-ci-logs/}
new_id=$(python3 -c "import sys; print((int(sys.argv[1]) * 1000 - 1288834974657) << 22 | 12345)" "$now")
upload_to kubernetes-ci-logs "${long_job}$new_id/started.json" "{\"timestamp\": $now}"
upload_to kubernetes-ci-logs "${long_job}$new_id/finished.json" "{\"timestamp\": $((now + 60)), \"result\": \"SUCCESS\"}"
upload_to kubernetes-ci-logs "logs/ci-kettle-natural-order/1000/started.json" "{\"timestamp\": $now}"
upload_to kubernetes-ci-logs "logs/ci-kettle-natural-order/1000/finished.json" "{\"timestamp\": $((now + 60)), \"passed\": true}"
running=$(sqlite3 inc.db "select gcs_path from build where gcs_path like 'gs://kubernetes-ci-logs/logs/ci-kettle-running/%' and finished_json is null order by gcs_path desc limit 1")
upload_to kubernetes-ci-logs "${running#gs://kubernetes-ci-logs/}/finished.json" "{\"timestamp\": $now, \"result\": \"SUCCESS\"}"
python3 "$src/bench/gen_tree.py" --root "$work/tree" --add 30 >/dev/null 2>&1
both changed
check "changed: the database equals the oracle" OK "$(oracle_ok inc.db)"
finished() { sqlite3 inc.db "select count(*) from build where gcs_path = '$1' and finished_json is not null"; }
check "changed: the new snowflake build is collected" 1 "$(finished "gs://kubernetes-ci-logs/$long_job$new_id")"
check "changed: the build whose number gained a digit is collected" 1 \
  "$(finished gs://kubernetes-ci-logs/logs/ci-kettle-natural-order/1000)"
check "changed: the running build that finished is collected again" 1 "$(finished "$running")"
added_pr=$(python3 -c 'import json,sys; print(sum(1 for p in json.load(open(sys.argv[1]))["added"] if "/pr-logs/pull/" in p))' tree.manifest.json)
check "changed: new PR builds were added" yes "$([[ $added_pr -gt 0 ]] && echo yes)"
check "changed: the snowflake jobs were still listed from their cursors" "$snowflake_jobs" "$(from_cursor inc_changed.log)"

# 4. A long PR history: 30,000 pointers in 6 job directories, their builds
#    already in both databases. Listing each job directory from its cursor
#    (and the directory of jobs) costs fewer requests than all pointers.
python3 - "$work/tree" inc.db full.db <<'PY'
import json, os, sqlite3, sys
root, dbs = sys.argv[1], sys.argv[2:]
epoch, day = 1288834974657, 86400
first = json.load(open(root + '.manifest.json'))['now'] - 90 * day
rows = []
for j in range(6):
    job = 'pull-history-%d' % j
    d = os.path.join(root, 'kubernetes-ci-logs', 'pr-logs', 'directory', job)
    os.makedirs(d, exist_ok=True)
    for i in range(5000):
        ts = first + i * 1500 + j  # over 87 days
        build = str(((ts * 1000 - epoch) << 22) | i)
        path = 'gs://kubernetes-ci-logs/pr-logs/pull/org_repo/%d/%s/%s' % (i, job, build)
        with open(os.path.join(d, build + '.txt'), 'w') as f:
            f.write(path + '\n')
        rows.append((path, '{"timestamp": %d}' % ts, '{"result": "SUCCESS", "timestamp": %d}' % (ts + 600), ts + 600))
for db in dbs:
    c = sqlite3.connect(db)
    c.executemany('insert into build values (?,?,?,?)', rows)
    c.commit()
PY
both pr_history
check "pr_history: one listing of all pointers (the directory is new)" 1 "$(grep -c 'PR pass: one listing of every pointer' inc_pr_history.log)"
both pr_unchanged
echo "unchanged run with a PR history: $inc_pages listing requests per job directory, $full_pages in full"
check "pr_unchanged: a listing per job directory" 1 "$(grep -c 'PR pass: a listing per job directory' inc_pr_unchanged.log)"
check "pr_unchanged: fewer listing requests" yes "$([[ $inc_pages -lt $((full_pages - 10)) ]] && echo yes)"
known=$(grep -o 'PR pass: [0-9]* present PR builds known' inc_pr_unchanged.log | tr -dc 0-9)
check "pr_unchanged: only recent PR builds' keys are read" yes "$([[ $known -lt 1000 ]] && echo yes)"
# A new PR build in a history directory, and a running one that finishes.
ts=$(date +%s)
id=$(python3 -c "import sys; print((int(sys.argv[1]) * 1000 - 1288834974657) << 22 | 7)" "$ts")
pr_dir=gs://kubernetes-ci-logs/pr-logs/pull/org_repo/9/pull-history-1/$id
upload_to kubernetes-ci-logs "pr-logs/directory/pull-history-1/$id.txt" "$pr_dir"
upload_to kubernetes-ci-logs "pr-logs/pull/org_repo/9/pull-history-1/$id/started.json" "{\"timestamp\": $ts}"
both pr_new
check "pr_new: the new PR build is collected, started only" 1 \
  "$(sqlite3 inc.db "select count(*) from build where gcs_path = '$pr_dir' and finished_json is null")"
upload_to kubernetes-ci-logs "pr-logs/pull/org_repo/9/pull-history-1/$id/finished.json" "{\"timestamp\": $((ts + 60)), \"result\": \"FAILURE\"}"
both pr_finished
check "pr_finished: the running PR build that finished is collected" 1 \
  "$(sqlite3 inc.db "select count(*) from build where gcs_path = '$pr_dir' and finished_json is not null")"
check "pr_finished: job directories listed from their cursors" yes "$([[ $(from_cursor inc_pr_finished.log) -gt $snowflake_jobs ]] && echo yes)"

# 5. --full-listing on the database with cursors lists everything again.
run inc.db forced.log --full-listing; check "--full-listing exits 0" 0 $?
forced_pages=$pages
run full.db full_forced.log --full-listing
check "--full-listing lists as many pages as the full listings" "$pages" "$forced_pages"
check "--full-listing lists nothing from a cursor" 0 "$(from_cursor forced.log)"

finish "incremental listing end-to-end"
