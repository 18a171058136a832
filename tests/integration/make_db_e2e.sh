#!/usr/bin/env bash
# make-db against the local fake GCS on a generated Prow tree: the database
# must equal what the oracle derives from the tree (SPEC §2, §4), reruns fetch
# only what is new, faults lose nothing, a hung object cannot stall the run,
# SIGTERM stops cleanly with a rerun completing the work, and an exclude_jobs
# pattern RE2 refuses stops the run before any request.
# usage: make_db_e2e.sh KETTLE FAKEGCP SOURCE_ROOT
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3")
serve_tree() { start_fake --root "$work/tree" --port 0 --seed 11 "$@"; }  # serve_tree [extra flags]
oracle_ok() {  # oracle_ok DB [oracle flags] -> "OK" or the differences
  local db=$1; shift
  python3 "$src/bench/oracle.py" --root "$work/tree" --buckets "$work/tree.buckets.yaml" --junit "$@" >"$work/expected.json" 2>/dev/null
  if python3 "$src/bench/oracle.py" --compare-db "$db" "$work/expected.json" --root "$work/tree" >"$work/compare.txt" 2>&1; then
    echo OK
  else
    head -5 "$work/compare.txt"
  fi
}
make_db() {  # make_db DB [flags]
  local db=$1; shift
  "$kettle" make-db --db "$db" --buckets "$work/tree.buckets.yaml" --junit "$@"
}

cd "$work"
python3 "$src/bench/gen_tree.py" --root "$work/tree" --builds 400 --seed 5 --junit-dir "$src/tests/data/spec/junit" >/dev/null 2>&1
serve_tree

# A fresh collection equals the oracle.
make_db fresh.db 2>first.log; check "make-db exits 0" 0 $?
check "database equals the oracle" OK "$(oracle_ok fresh.db)"
grep -q "0 errors" first.log; check "no errors reported" 0 $?

# A rerun writes nothing; new builds are collected exactly.
make_db fresh.db 2>second.log
check "rerun writes nothing" 1 "$(grep -c ' 0 written' second.log)"
python3 "$src/bench/gen_tree.py" --root "$work/tree" --add 25 >/dev/null 2>&1
make_db fresh.db 2>third.log
check "after adding builds the database equals the oracle" OK "$(oracle_ok fresh.db)"
grep -q " 0 written" third.log; check "the rerun wrote the new builds" 1 $?

# An exclude_jobs pattern RE2 cannot take stops make-db at load, before any
# request, naming the file, line, pattern and reason.
{ cat "$work/tree.buckets.yaml"; printf 'gs://bad/logs/:\n  prefix: "bad:"\n  exclude_jobs:\n    - ok\n    - ^ci-(?!flaky)\n'; } >bad.yaml
bad_line=$(grep -n '(?!flaky)' bad.yaml | cut -d: -f1)
curl -sf -X POST "http://$STORAGE_EMULATOR_HOST/_fake/reset-stats" >/dev/null
"$kettle" make-db --db bad.db --buckets bad.yaml 2>bad.log; check "make-db with a lookahead pattern exits 1" 1 $?
grep -qF "bad.yaml:$bad_line: bucket gs://bad/logs/: invalid exclude_jobs regex '^ci-(?!flaky)' (RE2 syntax): invalid perl operator: (?! (lookaround is not supported)" bad.log
check "the error names the file, line, pattern and reason" 0 $?
requests=$(curl -sf "http://$STORAGE_EMULATOR_HOST/_fake/stats" | python3 -c 'import json,sys; k = json.load(sys.stdin)["requests_by_kind"]; print(sum(n for kind, n in k.items() if kind != "control"))' 2>/dev/null)
check "no request was made" 0 "$requests"

# --buildlimit caps builds per job in both passes (D18).
make_db limited.db --buildlimit 2 2>limited.log
check "buildlimit 2 equals the oracle" OK "$(oracle_ok limited.db --buildlimit 2)"
BUILD_LIMIT=2 make_db limited_env.db 2>limited_env.log
check "BUILD_LIMIT equals --buildlimit" "$(sqlite3 limited.db 'select count(*) from build')" "$(sqlite3 limited_env.db 'select count(*) from build')"

# Faults: hangs, resets, 503s and truncated bodies; every build still collected.
cat >faults.json <<'JSON'
[{"match": "/storage/", "kind": "hang", "probability": 0.05},
 {"match": "/storage/", "kind": "reset", "probability": 0.05},
 {"match": "/storage/", "kind": "status", "status": 503, "probability": 0.05},
 {"match": "alt=media", "kind": "truncate", "probability": 0.01}]
JSON
serve_tree --faults faults.json
make_db faults.db --request-timeout 0.5 --threads 64 2>faults.log; check "make-db under faults exits 0" 0 $?
check "under faults the database equals the oracle" OK "$(oracle_ok faults.db)"
injected=$(curl -s "http://$STORAGE_EMULATOR_HOST/_fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["faults_injected"] > 0)' 2>/dev/null)
check "faults were injected" True "$injected"

# One object that always hangs: that build fails with a logged error, the run ends.
# The 3 s deadline leaves a loaded machine room for the other requests.
hung=$(python3 -c '
import json; e = json.load(open("expected.json"))["builds"]
print(sorted(p for p, b in e.items() if "started_json" in b and "finished_json" in b)[0])')
hung_obj=${hung#gs://*/}
cat >hang.json <<JSON
[{"match": "$(python3 -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1], safe="")[:-1] if False else u.quote(sys.argv[1] + "/finished.json", safe=""))' "$hung_obj")", "kind": "hang"}]
JSON
serve_tree --faults hang.json
start=$(date +%s)
make_db hang.db --request-timeout 3 --max-attempts 3 2>hang.log; check "make-db with a hung object exits 0" 0 $?
elapsed=$(( $(date +%s) - start ))
check "the hung object cost a bounded time" yes "$([[ $elapsed -lt 120 ]] && echo yes || echo "no (${elapsed}s)")"
grep -q "build $hung not collected" hang.log; check "the hung build is named in an error" 0 $?
check "the hung build is not stored" 0 "$(sqlite3 hang.db "select count(*) from build where gcs_path = '$hung'")"
serve_tree
make_db hang.db 2>hang_rerun.log; check "the rerun without the fault exits 0" 0 $?
check "a rerun without the fault completes the database" OK "$(oracle_ok hang.db)"

# SIGTERM: finish what is in flight, commit, exit 0; a rerun completes.
# Slow enough (200 ms a request, 4 at once) that the run is still going when
# the signal comes, which is sent once the PR pass has begun.
serve_tree --latency-ms 200
# kettle itself in the background (not a shell function), so $! is its pid.
"$kettle" make-db --db term.db --buckets "$work/tree.buckets.yaml" --junit --threads 4 2>term.log &
kettle_pid=$!
wait_for 60 grep -q "PR pass: .* new pointers" term.log
kill -TERM $kettle_pid
wait $kettle_pid; check "make-db exits 0 on SIGTERM" 0 $?
kettle_pid=""
grep -q "interrupted" term.log; check "the interruption is reported" 0 $?
serve_tree
make_db term.db 2>term_rerun.log
check "a rerun after SIGTERM completes the database" OK "$(oracle_ok term.db)"

# Service-account credentials against a fake that requires a token.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
serve_tree --require-auth --sa-public-key sa.pub --token-ttl 3600
base=http://$STORAGE_EMULATOR_HOST
python3 - "$base" <<'PY'
import json, sys
json.dump({"type": "service_account", "client_email": "kettle@test.iam.gserviceaccount.com",
           "private_key_id": "k1", "private_key": open("sa.key").read(),
           "token_uri": sys.argv[1] + "/token"}, open("sa.json", "w"))
PY
(unset STORAGE_EMULATOR_HOST; export KETTLE_GCS_ENDPOINT=$base GOOGLE_APPLICATION_CREDENTIALS=$work/sa.json
 make_db auth.db -v 2>auth.log); check "make-db with a service-account key exits 0" 0 $?
check "with credentials the database equals the oracle" OK "$(oracle_ok auth.db)"
grep -q "^D" auth.log; check "-v adds debug lines" 0 $?
grep -q "BEGIN PRIVATE KEY\|Bearer \|ya29\|access_token" auth.log; check "no secret in the log, even with -v" 1 $?
(unset STORAGE_EMULATOR_HOST; export KETTLE_GCS_ENDPOINT=$base
 make_db anon.db 2>anon.log); check "anonymous against a fake requiring auth exits 1" 1 $?

# TLS: a test CA trusted through SSL_CERT_FILE; wrong host name refused.
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=kettle-test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null
serve_tree --tls-cert server.pem --tls-key server.key
port=${STORAGE_EMULATOR_HOST##*:}
(unset STORAGE_EMULATOR_HOST; export KETTLE_GCS_ENDPOINT=https://127.0.0.1:$port SSL_CERT_FILE=$work/ca.pem
 make_db tls.db 2>tls.log); check "make-db over https with a trusted CA exits 0" 0 $?
check "over https the database equals the oracle" OK "$(oracle_ok tls.db)"
(unset STORAGE_EMULATOR_HOST; export KETTLE_GCS_ENDPOINT=https://localhost:$port SSL_CERT_FILE=$work/ca.pem
 make_db tls_wrong.db --max-attempts 2 2>tls_wrong.log); check "a wrong host name exits 1" 1 $?
grep -qi "tls" tls_wrong.log; check "a wrong host name is a TLS error in the log" 0 $?
(unset STORAGE_EMULATOR_HOST; export KETTLE_GCS_ENDPOINT=https://127.0.0.1:$port
 make_db tls_untrusted.db --max-attempts 2 2>tls_untrusted.log); check "an untrusted certificate exits 1" 1 $?
grep -qi "certificate\|tls" tls_untrusted.log; check "an untrusted certificate is named in the log" 0 $?

# Hostile sizes (last: the oracle does not know these builds). A started.json
# over the 1 MiB build JSON limit reads as absent with a warning: build 1 is
# kept for its finished.json, build 2 (both too large) stores nothing, and
# neither counts as an error (an error would be retried by every run).
sizes=$work/tree/oddities/logs/hostile-sizes
mkdir -p "$sizes/1" "$sizes/2"
python3 - "$sizes" <<'PY'
import json, sys
def padded(n): return json.dumps({"timestamp": 1700000000, "pad": "x" * n})
small = json.dumps({"timestamp": 1700000100, "result": "SUCCESS"})
for build, started, finished in ((1, padded(2 << 20), small), (2, padded(2 << 20), padded(3 << 20))):
    open(f"{sys.argv[1]}/{build}/started.json", "w").write(started)
    open(f"{sys.argv[1]}/{build}/finished.json", "w").write(finished)
PY
serve_tree
cp fresh.db sizes.db
make_db sizes.db 2>sizes.log; check "make-db with a 2 MiB started.json exits 0" 0 $?
grep -q " 0 errors" sizes.log; check "a too-large started.json is no error" 0 $?
grep -q "^W.*hostile-sizes/1/started.json is too large" sizes.log; check "a too-large started.json is named in a warning" 0 $?
check "the build is stored with started absent" "1|1|0" \
  "$(sqlite3 sizes.db "select count(*), finished_json is not null, started_json is not null from build where gcs_path = 'gs://oddities/logs/hostile-sizes/1'")"
check "a build with both too large is not stored" 0 \
  "$(sqlite3 sizes.db "select count(*) from build where gcs_path = 'gs://oddities/logs/hostile-sizes/2'")"

finish "make-db end-to-end"
