#!/usr/bin/env bash
# The kettle binary's make-json contract: exit codes, output, emitted state.
# usage: make_json_cli.sh KETTLE SAMPLE_DB SAMPLE_BUCKETS
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") sample_db=$(realpath "$2") sample_buckets=$(realpath "$3")

cp "$sample_db" "$work/build.db"
cd "$work"

"$kettle" --help >/dev/null; check "kettle --help exits 0" 0 $?
"$kettle" >/dev/null 2>&1; check "kettle without command exits 2" 2 $?
"$kettle" make-json --help | grep -q -- '--assert-oldest'; check "make-json --help lists --assert-oldest" 0 $?
"$kettle" make-json --bogus >/dev/null 2>&1; check "unknown flag exits 2" 2 $?
"$kettle" make-json --days x >/dev/null 2>&1; check "bad number exits 2" 2 $?
"$kettle" --version | grep -qE '^kettle [0-9]+\.[0-9]+\.[0-9]+$'; check "kettle --version prints the version" 0 $?
# One validation for every command that takes a flag: a bad value is a usage error.
for cmd in make-db make-json bq-load monitor stream update; do
  "$kettle" $cmd --shutdown-timeout soon >/dev/null 2>err.txt; check "$cmd: a bad --shutdown-timeout exits 2" 2 $?
  grep -q -- "--shutdown-timeout" err.txt; check "$cmd: the error names the flag" 0 $?
done
for cmd in make-db make-json bq-load monitor stream update; do
  "$kettle" $cmd --log-format xml >/dev/null 2>err.txt; check "$cmd: --log-format xml exits 2" 2 $?
done
for cmd in make-db stream update; do
  "$kettle" $cmd --threads 0 >/dev/null 2>&1; check "$cmd: --threads 0 exits 2" 2 $?
  "$kettle" $cmd --request-timeout -1 >/dev/null 2>&1; check "$cmd: a negative --request-timeout exits 2" 2 $?
done
BUILD_LIMIT=many "$kettle" make-db >/dev/null 2>&1; check "a bad BUILD_LIMIT exits 2" 2 $?
"$kettle" update --stop_at 24 >/dev/null 2>&1; check "update --stop_at 24 exits 2" 2 $?
"$kettle" make-json --db missing.db --buckets "$sample_buckets" >/dev/null 2>err.txt; check "missing db exits 1" 1 $?
grep -q 'missing.db' err.txt; check "missing db error names the file" 0 $?
"$kettle" make-json --db missing.db --buckets "$sample_buckets" --log-format json >/dev/null 2>err.txt
python3 -c 'import json, sys; e = json.loads(open("err.txt").read()); sys.exit(e["severity"] != "ERROR" or "missing.db" not in e["message"])'
check "--log-format json: the error is one JSON line with severity ERROR" 0 $?
"$kettle" make-json --buckets nothere.yaml >/dev/null 2>err.txt; check "missing buckets exits 1" 1 $?
grep -q 'nothere.yaml' err.txt; check "missing buckets error names the file" 0 $?

total=$(sqlite3 build.db 'select count(*) from build where finished_time is not null')
"$kettle" make-json --buckets "$sample_buckets" >rows.json 2>err.txt; check "make-json exits 0" 0 $?
check "one line per finished build" "$total" "$(wc -l <rows.json)"
python3 -c '
import json, sys
lines = open("rows.json").readlines()
assert lines, "no rows"
for line in lines:
    row = json.loads(line)
    assert list(row) == sorted(row), row["path"]
    assert json.dumps(row, sort_keys=True) == line.rstrip("\n"), row["path"]
' ; check "every line is Python-identical sorted JSON" 0 $?
grep -q 'incremental progress gen #0' err.txt; check "gen #0 reported on stderr" 0 $?
KETTLE_DB=build.db "$kettle" make-json --buckets "$sample_buckets" >again.json 2>err.txt
check "second run emits nothing" 0 "$(wc -l <again.json)"
grep -q 'no rows emitted' err.txt; check "no rows emitted reported" 0 $?

"$kettle" make-json --days 1 --assert-oldest 1.9 --buckets "$sample_buckets"; check "assert-oldest on empty table exits 1" 1 $?
"$kettle" make-json --reset-emitted --buckets "$sample_buckets" --output all.json.gz --gzip 2>/dev/null
check "gzip output exits 0" 0 $?
check "gzip output holds the same rows" "$(cat rows.json)" "$(gzip -dc all.json.gz)"
# Sample builds are fixed in time: a window of 100000 days always covers them.
"$kettle" make-json --assert-oldest 100000 --buckets "$sample_buckets"; check "assert-oldest within the window exits 0" 0 $?
"$kettle" make-json --assert-oldest 0.0001 --buckets "$sample_buckets"; check "assert-oldest past the window exits 1" 1 $?

first=$(head -1 rows.json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["path"])')
"$kettle" make-json --buckets "$sample_buckets" "$first" >one.json 2>/dev/null
check "explicit path emits that build" 1 "$(wc -l <one.json)"

finish "make-json CLI"
