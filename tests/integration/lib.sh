# shellcheck shell=bash disable=SC2154  # $fake: set by the sourcing script
# Helpers shared by the integration scripts. Source it first:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# It makes the temp dir $work and, on exit, kills $kettle_pid (SIGKILL) and
# $fake_pid when set, then removes $work (KEEP_WORK=1 keeps it and names it on
# stderr). A script that runs kettle in the background sets kettle_pid, and
# clears it once it has waited for it. start_fake runs $fake, the fakegcp binary.

work=$(mktemp -d)
fake_pid="" kettle_pid="" host=""
cleanup() {
  [[ -n "$kettle_pid" ]] && kill -9 "$kettle_pid" 2>/dev/null
  [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null
  wait 2>/dev/null
  if [[ -n "${KEEP_WORK:-}" ]]; then echo "work dir kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

failures=0
check() {  # check NAME EXPECTED ACTUAL: "ok   NAME", or "FAIL NAME: ..." counted in $failures
  if [[ "$2" == "$3" ]]; then echo "ok   $1"; else echo "FAIL $1: expected '$2', got '$3'"; failures=$((failures + 1)); fi
}
finish() {  # finish WHAT: prints "WHAT checks failed: N", exits 1 if any failed, else 0
  echo "$1 checks failed: $failures"
  # The work dir is removed on exit: show the newest logs, so a failure in CI can be read.
  if [[ $failures -gt 0 ]]; then
    local log
    for log in $(ls -t "$work"/*.log "$work"/fake.err 2>/dev/null | head -6); do
      echo "--- ${log#"$work"/} (last 25 lines)"; tail -n 25 "$log"
    done
  fi
  exit $((failures > 0))
}

wait_for() {  # wait_for SECONDS COMMAND... : until the command succeeds (re-run each time)
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do [[ $SECONDS -ge $deadline ]] && return 1; sleep 0.2; done
}

# start_fake FLAGS...: stops the running fake, if any, and starts "$fake" FLAGS...
# in the background (stdout in $work/fake.out, stderr in $work/fake.err). Once it
# says "listening" (60 s at most: a loaded machine starts it slowly) sets host (HOST:PORT) and points
# STORAGE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST and BIGQUERY_EMULATOR_HOST at it;
# host is empty, and the status 1, when it never listens.
start_fake() {
  if [[ -n "$fake_pid" ]]; then kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; fi
  # Emptied here, not only by the background redirection: the wait below must
  # never read the previous fake's "listening" line.
  : >"$work/fake.out"
  "$fake" "$@" >"$work/fake.out" 2>"$work/fake.err" &
  fake_pid=$!
  host=""
  wait_for 60 grep -qs listening "$work/fake.out" && host=$(sed -E 's#.*//##' "$work/fake.out")
  export STORAGE_EMULATOR_HOST=$host PUBSUB_EMULATOR_HOST=$host BIGQUERY_EMULATOR_HOST=$host
  [[ -n "$host" ]]
}

upload() {  # upload OBJECT CONTENT: into the fake's kubernetes-jenkins bucket
  curl -sf -X POST --data-binary "$2" "http://$host/upload/storage/v1/b/kubernetes-jenkins/o?uploadType=media&name=$1" >/dev/null
}
