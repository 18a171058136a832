#!/usr/bin/env bash
# Retention against the fake cloud: a database holding 45 days of builds,
# make-json windows of 1 and 7 days in use, `kettle prune --junit-older-than
# 10d`. Every row those windows emit stays byte-identical, the JUnit of the
# older builds leaves the file, and the next make-db fetches none of it again.
# Build times sit half a day away from every window edge, so nothing crosses
# one while the test runs.
# usage: retention_e2e.sh KETTLE FAKEGCP SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3")
cd "$work"
now=$(date +%s)

# 3 jobs, 3 builds a day each, every build with a JUnit file of 150 tests
# (about 2.4 KB stored), half a day away from every whole-day window edge.
python3 "$src/bench/gen_days.py" --root tree --end "$now" --days 45 --first 1 --buckets-out buckets.yaml
start_fake --root tree --port 0 --dataset p:k8s --bq-job-delay-ms 50
check "the fake cloud starts" 0 $?
base="http://$host"
requests() {  # requests KIND -> GCS requests of that kind since the last reset
  curl -sf "$base/_fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_by_kind"].get(sys.argv[1], 0))' "$1"
}
k() { env -i PATH=/usr/bin:/bin HOME="$work" STORAGE_EMULATOR_HOST="$host" BIGQUERY_EMULATOR_HOST="$host" \
  "$kettle" "$@"; }
sql() { sqlite3 build.db "$@"; }
cutoff=$((now - 10 * 86400))
old_builds="select rowid from build where finished_time < $cutoff"
files_under() {  # files_under "<" | ">=" -> checksum of the file rows of builds on that side of the cutoff
  sql "select f.path, hex(f.data) from file f join build b on f.path between b.gcs_path || '/' and b.gcs_path || '/~'
       where b.finished_time $1 $cutoff order by f.path" | md5sum
}

k make-db --db build.db --buckets buckets.yaml --junit --min-free 100MiB 2>make_db.log
check "make-db --junit exits 0" 0 $?
check "405 builds collected" 405 "$(sql 'select count(*) from build')"
check "405 JUnit files stored" 405 "$(sql 'select count(*) from file')"
check "a new database uses auto_vacuum=INCREMENTAL" 2 "$(sql 'pragma auto_vacuum')"
# The windows in use: make-json --days 1 and --days 7.
for d in 1 7; do
  k make-json --db build.db --buckets buckets.yaml --days $d --output day$d.json 2>/dev/null
  check "make-json --days $d exits 0" 0 $?
done
sqlite3 build.db ".backup before.db"
old_bytes=$(sql "select sum(length(f.data)) from file f join build b on f.path between b.gcs_path || '/' and
                 b.gcs_path || '/~' where b.finished_time < $cutoff")
young_files=$(files_under ">=")
sql 'pragma wal_checkpoint(TRUNCATE)' >/dev/null
size_before=$(stat -c %s build.db)

# --- a cutoff inside a window is refused, naming the table ---
k prune --db build.db --junit-older-than 7d 2>short.log
check "prune --junit-older-than 7d with a 7-day window: usage error (exit 2)" 2 $?
grep -q "build_emitted_7" short.log; check "the error names build_emitted_7" 0 $?
grep -q "longer than" short.log; check "and says what is needed" 0 $?

# --- prune 10d ---
k prune --db build.db --junit-older-than 10d 2>prune.log
check "prune --junit-older-than 10d exits 0" 0 $?
cat prune.log | sed 's/^/     /'
grep -q "pruned the JUnit of 315 builds" prune.log; check "the log counts the 35 days x 9 older builds" 0 $?
check "no JUnit is left of the older builds" 0 "$(sql "select count(*) from file f join build b on f.path
  between b.gcs_path || '/' and b.gcs_path || '/~' where b.finished_time < $cutoff")"
check "the JUnit of the younger builds is untouched" "$young_files" "$(files_under ">=")"
check "the build rows stay" 405 "$(sql 'select count(*) from build')"
check "no missing-JUnit mark is left to fetch again" 0 "$(sql 'select count(*) from build_junit_missing')"
check "every pruned build is recorded" 315 "$(sql "select count(*) from build_junit_pruned where build_id in ($old_builds)")"
size_after=$(stat -c %s build.db)
freed=$((size_before - size_after))
echo "     database file $size_before -> $size_after bytes ($freed freed; $old_bytes bytes of JUnit pruned)," \
  "freelist $(sql 'pragma freelist_count') pages"
[[ $freed -ge $((old_bytes * 9 / 10)) ]]; check "the file shrank by at least 90% of the pruned JUnit bytes" 0 $?
check "the database is sound" ok "$(sql 'pragma integrity_check')"

# --- every row the windows emit is byte-identical ---
for d in 1 7; do
  for db in before build; do
    k make-json --db $db.db --buckets buckets.yaml --days $d --reset-emitted --output $db.$d.json 2>/dev/null
  done
  [[ -s before.$d.json ]]; check "the $d-day window emits rows" 0 $?
  cmp -s before.$d.json build.$d.json; check "the $d-day window's rows are byte-identical after the prune" 0 $?
done
check "the 7-day window holds 63 builds" 63 "$(wc -l <build.7.json)"
# The runbook's warning: make-json without --days re-emits pruned builds without their tests.
k make-json --db build.db --buckets buckets.yaml --output all.json 2>/dev/null
check "make-json without --days emits every build" 405 "$(wc -l <all.json)"
check "... the pruned ones without tests" 315 "$(grep -c '"tests_run": 0' all.json)"

# --- the next make-db fetches no pruned JUnit again, only the new builds' ---
# 9 new builds (3 per job), finished 8 to 16 h ago
python3 "$src/bench/gen_days.py" --root tree --end "$now" --days 1 --first 10001
curl -sf -X POST "$base/_fake/reset-stats" >/dev/null
k make-db --db build.db --buckets buckets.yaml --junit --min-free 100MiB 2>again.log
check "make-db --junit after the prune exits 0" 0 $?
grep -q "JUnit pass: 9 builds missing JUnit" again.log; check "only the 9 new builds miss JUnit" 0 $?
check "JUnit downloads: the 9 new files only" 9 "$(requests gcs.media.junit)"
check "started.json reads: the 9 new builds only" 9 "$(requests gcs.media.started)"
check "the database is sound after make-db" ok "$(sql 'pragma integrity_check')"

# --- update --retain-junit: staging prunes only builds its table has loaded ---
rm -f staging.db*; cp before.db staging.db
sqlite3 staging.db 'drop table build_emitted_1; drop table build_emitted_7'
u() { env -i PATH=/usr/bin:/bin HOME="$work" STORAGE_EMULATOR_HOST="$host" BIGQUERY_EMULATOR_HOST="$host" \
  DEPLOYMENT=staging "$kettle" update --once --db staging.db --buckets buckets.yaml --dataset p:k8s \
  --retain-junit 10d --min-free 100MiB --metrics-addr '' --health-addr '' "$@"; }
u --db fresh.db 2>fresh.log
check "update --once --retain-junit on a new database exits 0" 0 $?
u 2>update1.log
check "update --once --retain-junit 10d (staging) exits 0" 0 $?
grep -q "pruned the JUnit of 0 builds" update1.log; check "nothing is pruned before the staging table is loaded" 0 $?
u 2>update2.log
check "a second cycle exits 0" 0 $?
grep -q "pruned the JUnit of 315 builds" update2.log; check "the next cycle prunes what staging has loaded" 0 $?
k prune --db staging.db --junit-older-than 0s 2>zero.log
check "a zero period is a usage error" 2 $?
env -i PATH=/usr/bin:/bin DEPLOYMENT=prod "$kettle" update --once --retain-junit 30d --db x.db 2>prod.log
check "prod refuses --retain-junit within the all table's 30 days (exit 2)" 2 $?
grep -q "longer than 30d" prod.log; check "and says so" 0 $?

finish "retention end-to-end"
