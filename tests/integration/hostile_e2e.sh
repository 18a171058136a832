#!/usr/bin/env bash
# make-db against a hostile GCS (tests/support/hostile_gcs.py), each scenario
# from a fresh empty directory with a user's environment: bodies that never
# end, a huge started.json, a deeply nested JUnit file made on the fly, a
# listing that repeats its page token, a token endpoint echoing the signed
# assertion, and names holding a newline and a NUL. Each run is checked for
# its exit code, the error naming what failed, its peak RSS (the kernel's
# high-water mark of the kettle process, from wait4), and a sound database;
# a generous timeout bounds its wall time (printed, not asserted).
# bench/hostile_rss.sh runs the heavy versions (32 endless bodies).
# usage: hostile_e2e.sh KETTLE SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") src=$(realpath "$2")
fake=$src/tests/support/hostile_gcs.py  # start_fake runs it
cd "$work"
printf 'gs://hostile/logs/:\n  prefix: ""\n  sequential: false\n' >buckets.yaml
mib=1048576

# make_db NAME [VAR=VALUE...] -- [flags]: kettle make-db --junit in a fresh
# directory NAME with only PATH, HOME, STORAGE_EMULATOR_HOST and the given
# variables, killed after 300 s. Sets status, peak (bytes) and took (seconds);
# the log is NAME.log.
make_db() {
  local name=$1; shift
  local vars=()
  while [[ $1 != -- ]]; do vars+=("$1"); shift; done
  shift
  mkdir "$name"
  local start=$EPOCHREALTIME
  # The peak covers the reaped children of timeout: kettle (env execs it).
  (cd "$name" && exec python3 "$src/tests/support/peak_rss.py" ../"$name".peak timeout -s KILL 300 \
    env -i PATH=/usr/bin:/bin HOME="$work/home" STORAGE_EMULATOR_HOST="$host" "${vars[@]}" \
    "$kettle" make-db --db hostile.db --buckets ../buckets.yaml --junit "$@") 2>"$name.log"
  status=$?
  failures_before=$failures
  took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  peak=$(( $(cat "$name.peak" 2>/dev/null || echo 0) * 1024 ))
  echo "     $name: exit $status, peak RSS $((peak / mib)) MiB, ${took}s"
}
at_most() {  # at_most NAME BYTES ACTUAL
  check "$1 (at most $(($2 / mib)) MiB)" yes "$([[ $3 -gt 0 && $3 -le $2 ]] && echo yes || echo "no ($(($3 / mib)) MiB)")"
}
db() { sqlite3 "$1/hostile.db" "$2"; }
explain() {  # explain NAME: the end of kettle's log when a check of NAME failed
  [[ $failures -gt $failures_before ]] && tail -5 "$1.log" | cut -c1-300 | sed 's/^/     | /'
  return 0
}
sound_db() {  # sound_db NAME: integrity ok, and every build row whole (a path and at least one JSON)
  check "$1: database integrity" ok "$(db "$1" 'pragma integrity_check')"
  check "$1: no half rows" 0 "$(db "$1" "select count(*) from build where gcs_path is null or (started_json is null and finished_json is null)")"
}
# Every line kettle wrote is one log line (glog prefix), so no name forged one.
log_lines_whole() { grep -cvaE '^[DIWE][0-9]{4} [0-9:.]{8,}\] ' "$1"; }

# Bodies that never end. Each would grow to the 512 MiB object limit; the body
# budget (256 MiB) lets one response pass it alone while the others wait, so
# three at once stay near 256 + 512 MiB instead of 3 x 512 MiB.
for scenario in endless endless_chunked; do
  start_fake --scenario "$scenario" --builds 3
  make_db "$scenario" -- --threads 3
  check "$scenario: make-db exits 0 (JUnit errors are retried by a later run)" 0 "$status"
  at_most "$scenario: peak RSS within the budget plus one response" $((1024 * mib)) "$peak"
  check "$scenario: each endless body is an error naming its object" 3 \
    "$(grep -c '^E.*JUnit of gs://hostile/logs/job/[0-9] not collected.*junit_01.xml?alt=media failed (too large)' "$scenario.log")"
  sound_db "$scenario"
  check "$scenario: builds stored, no JUnit file, marks kept for a rerun" "3|0|3" \
    "$(db "$scenario" "select (select count(*) from build), (select count(*) from file), (select count(*) from build_junit_missing)")"
  explain "$scenario"
done

# A 64 MiB started.json, announced (refused at its headers) or not (refused
# once 1 MiB has arrived): read as absent, with a warning; finished.json kept.
start_fake --scenario huge_started --builds 2 --megabytes 64
make_db huge_started -- --threads 4
check "huge_started: make-db exits 0" 0 "$status"
at_most "huge_started: peak RSS" $((200 * mib)) "$peak"
check "huge_started: each started.json is named in a warning" 2 \
  "$(grep -c '^W.*gs://hostile/logs/job/[12]/started.json is too large' huge_started.log)"
sound_db huge_started
check "huge_started: builds kept without started.json" "2|0|2" \
  "$(db huge_started "select count(*), count(started_json), count(finished_json) from build")"
explain huge_started

# A JUnit file of 40 MiB of <a> elements that never close: stored unchanged
# (malformed), in memory of the order of its size.
start_fake --scenario nested_junit --builds 1 --megabytes 40
make_db nested_junit --
check "nested_junit: make-db exits 0" 0 "$status"
at_most "nested_junit: peak RSS" $((200 * mib)) "$peak"
sound_db nested_junit
check "nested_junit: the file is stored whole" $((40 * mib)) "$(python3 -c '
import sqlite3, sys, zlib
(data,) = sqlite3.connect(sys.argv[1]).execute("select data from file").fetchone()
print(len(zlib.decompress(data)))' nested_junit/hostile.db 2>&1)"
explain nested_junit

# A listing whose next page token repeats: stopped at once, an error naming
# the listing, exit 1.
start_fake --scenario repeating_token --builds 3
make_db repeating_token --
check "repeating_token: make-db exits 1" 1 "$status"
grep -q "^E.*listing builds of gs://hostile/logs/job/ failed.*nextPageToken already seen" repeating_token.log
check "repeating_token: the error names the listing and the repeat" 0 $?
listings=$(curl -sf "http://$host/_hostile/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_by_kind"]["listing"])')
check "repeating_token: few listing requests" yes "$([[ $listings -le 6 ]] && echo yes || echo "no ($listings)")"
sound_db repeating_token
explain repeating_token

# A token endpoint that answers 400 quoting the signed assertion it received.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
start_fake --scenario jwt_echo --record "$work/assertions.txt"
python3 - "http://$host" <<'PY'
import json, sys
json.dump({"type": "service_account", "client_email": "kettle@test.iam.gserviceaccount.com",
           "private_key_id": "k1", "private_key": open("sa.key").read(),
           "token_uri": sys.argv[1] + "/token"}, open("sa.json", "w"))
PY
make_db jwt_echo STORAGE_EMULATOR_HOST= KETTLE_GCS_ENDPOINT="http://$host" \
  GOOGLE_APPLICATION_CREDENTIALS="$work/sa.json" -- --max-attempts 2
check "jwt_echo: make-db exits 1" 1 "$status"
grep -q "^W.*HTTP request to http://$host/token failed (HTTP status 400): token request refused: invalid_grant" jwt_echo.log
check "jwt_echo: the refusal is logged, naming the token endpoint" 0 $?
assertion=$(head -1 assertions.txt)
check "jwt_echo: the token endpoint got an assertion" yes "$([[ ${#assertion} -gt 100 ]] && echo yes || echo no)"
grep -qF "${assertion##*.}" jwt_echo.log; check "jwt_echo: its signature is not in the log" 1 $?
grep -qF "${assertion%%.*}." jwt_echo.log; check "jwt_echo: nor its header" 1 $?
grep -q "redacted JWT" jwt_echo.log; check "jwt_echo: the log says it was redacted" 0 $?
explain jwt_echo

# Job names with a newline (the rest looks like a log line) and a NUL; listing
# the newline job's builds answers 503 with a body trying the same.
start_fake --scenario control_names
make_db control_names -- --max-attempts 2
check "control_names: make-db exits 1 (a listing failed)" 1 "$status"
check "control_names: every line is one log line" 0 "$(log_lines_whole control_names.log)"
check "control_names: no NUL reaches the log" 0 "$(tr -cd '\000' <control_names.log | wc -c)"
grep -qF '] listing builds of gs://hostile/logs/evil\nE0101 00:00:00.000000 forged.go:1] forged line/ failed' control_names.log
check "control_names: the name is logged escaped, on its error line" 0 $?
sound_db control_names
check "control_names: the NUL job's build is stored" 1 "$(db control_names "select count(*) from build where instr(gcs_path, 'nul')")"
explain control_names

finish "hostile make-db"
