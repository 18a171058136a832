#!/usr/bin/env bash
# A disk that runs low, then full, under a running `kettle update` against the
# fake cloud. Below --min-free, collection pauses with an error while the
# stream goes on; a write that meets a full disk (SQLITE_FULL) is rolled back,
# logged, and retried once space is freed, without the process exiting; the
# database stays sound; collection resumes by itself once space is freed.
#
# The small disk is a tmpfs mounted in a private mount namespace: directly as
# root, or through an unprivileged user namespace. Where neither is allowed
# the parts that need it are skipped (said so on stdout), and the headroom
# check is shown with a --min-free larger than the real disk.
# usage: disk_full_e2e.sh KETTLE FAKEGCP SOURCE_ROOT
set -uo pipefail
if [[ -z "${KETTLE_DISK_NS:-}" ]]; then
  # Re-run this script in a mount namespace of its own; the tmpfs ends with it.
  if [[ $(id -u) -eq 0 ]] && unshare --mount true 2>/dev/null; then
    KETTLE_DISK_NS=1 exec unshare --mount --propagation private "$BASH" "$0" "$@"
  elif unshare --user --map-root-user --mount true 2>/dev/null; then
    KETTLE_DISK_NS=1 exec unshare --user --map-root-user --mount --propagation private "$BASH" "$0" "$@"
  fi
  KETTLE_DISK_NS=none
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3")
cd "$work"
now=$(date +%s)
# 135 builds with JUnit of 600 tests (about 10 KB stored each).
python3 "$src/bench/gen_days.py" --root tree --end "$now" --days 15 --tests 600 --first 1 --buckets-out buckets.yaml
start_fake --root tree --port 0 --dataset p:k8s --bq-job-delay-ms 50 --pull-hold-ms 300 \
  --topic projects/p/topics/gcs --subscription projects/p/subscriptions/kettle=projects/p/topics/gcs \
  --notify kubernetes-jenkins=projects/p/topics/gcs
check "the fake cloud starts" 0 $?
base="http://$host"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
metrics=127.0.0.1:$(free_port)
rows_in() { curl -sf "$base/_fake/bigquery/p/k8s/staging" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
rows_are() { [[ "$(rows_in)" == "$1" ]]; }
metric() { curl -sf "http://$metrics/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
logged() { grep -qs "$1" "$2"; }
upload() { curl -sf -X POST --data-binary "$2" "$base/upload/storage/v1/b/kubernetes-jenkins/o?uploadType=media&name=$1" >/dev/null; }
# stream_builds FIRST: three new builds, announced through Pub/Sub.
stream_builds() {
  for b in $1 $(($1 + 1)) $(($1 + 2)); do
    upload "logs/ci-days-0/$b/started.json" "{\"timestamp\": $((now - 60))}"
    upload "logs/ci-days-0/$b/finished.json" "{\"timestamp\": $now, \"result\": \"SUCCESS\"}"
  done
}
# update in the background as staging, logging to LOG; sets kettle_pid.
# usage: run_update LOG DB [flags...]
run_update() {
  local log=$1 db=$2; shift 2
  env -i PATH=/usr/bin:/bin HOME="$work" STORAGE_EMULATOR_HOST="$host" PUBSUB_EMULATOR_HOST="$host" \
    BIGQUERY_EMULATOR_HOST="$host" DEPLOYMENT=staging SUBSCRIPTION_PATH=p/gcs/kettle \
    "$kettle" update --db "$db" --buckets buckets.yaml --dataset p:k8s --metrics-addr "$metrics" \
    --health-addr '' "$@" 2>"$log" &
  kettle_pid=$!
}
stop_update() {  # stop_update NAME: SIGTERM, exit 0
  kill -TERM "$kettle_pid"
  wait "$kettle_pid"; check "$1: exit 0 after SIGTERM" 0 $?
  kettle_pid=""
}
alive() { kill -0 "$kettle_pid" 2>/dev/null; }
expected_builds=135  # gen_days: 3 jobs x 3 a day x 15 days

# --- headroom on the real disk: a --min-free no disk has ---
env -i PATH=/usr/bin:/bin HOME="$work" STORAGE_EMULATOR_HOST="$host" "$kettle" make-db --db real.db \
  --buckets buckets.yaml --junit --min-free 1000000TiB 2>make_db_low.log
check "make-db below --min-free exits 1" 1 $?
logged "not collecting: only .* free on the file system holding real.db, less than --min-free" make_db_low.log
check "and says how much is free, where, and the limit" 0 $?
logged "kettle prune --junit-older-than" make_db_low.log; check "with a hint" 0 $?
run_update real.log real.db --min-free 1000000TiB
wait_for 60 logged "streaming from" real.log; check "below --min-free, update still reaches its stream phase" 0 $?
logged "E.*collection and loads paused: only" real.log; check "collection pauses with an error" 0 $?
logged "make-db done" real.log; check "nothing was collected" 1 $?
check "the pause is a metric" 1 "$(metric kettle_collection_paused)"
[[ -n "$(metric kettle_db_filesystem_free_bytes)" && -n "$(metric kettle_db_filesystem_size_bytes)" ]]
check "free and size of the database's file system are metrics" 0 $?
stream_builds 9001
wait_for 90 rows_are 3; check "the stream goes on: its builds reach the table" 0 $?
stop_update "paused update"

small=$work/small
mkdir -p "$small"
if [[ $KETTLE_DISK_NS != 1 ]] || ! mount -t tmpfs -o size=16m tmpfs "$small" 2>/dev/null; then
  echo "SKIP the small-disk parts: no private mount namespace here (needs root or unprivileged user namespaces)"
  finish "disk full end-to-end"
fi
# kettle first (it holds files there), then the tmpfs, then lib.sh's cleanup.
unmount_small() {
  if [[ -n "$kettle_pid" ]]; then kill -9 "$kettle_pid" 2>/dev/null; wait "$kettle_pid" 2>/dev/null; kettle_pid=""; fi
  umount "$small" 2>/dev/null
  cleanup
}
trap unmount_small EXIT
avail() { df -B1 --output=avail "$small" | tail -1 | tr -d ' '; }
# fill_to BYTES: a filler file leaves about BYTES available.
fill_to() { rm -f "$small/filler"; fallocate -l $(($(avail) - $1)) "$small/filler"; }
sound() { sqlite3 "$1" 'pragma integrity_check'; }
builds_in() { sqlite3 "$1" 'select count(*) from build'; }
MiB=$((1 << 20))

# --- below --min-free on a small disk: paused, the stream goes on, resumed once freed ---
fill_to $((2 * MiB))
run_update low.log "$small/low.db" --min-free 4MiB
wait_for 60 logged "streaming from" low.log; check "small disk below --min-free: the stream phase starts" 0 $?
logged "E.*collection and loads paused: only .* less than --min-free 4.0 MiB" low.log
check "collection pauses with a headroom error" 0 $?
stream_builds 9101
wait_for 90 rows_are 6; check "the stream's builds reach the table meanwhile" 0 $?
rm -f "$small/filler"
wait_for 120 logged "make-db done" low.log; check "collection resumes once space is freed" 0 $?
logged "disk space is back" low.log; check "the log says why it resumed" 0 $?
# The load adds every collected build the stream did not insert (9001-9003 were
# streamed by the first update, into its own database, so they come again).
wait_for 90 rows_are $((6 + expected_builds + 3)); check "the loads resume too" 0 $?
check "the pause metric is back to 0" 0 "$(metric kettle_collection_paused)"
stop_update "resumed update"
check "the database is sound" ok "$(sound "$small/low.db")"
check "every build is collected" $((expected_builds + 6)) "$(builds_in "$small/low.db")"

# --- SQLITE_FULL in the middle of collection: rolled back, retried after space is freed ---
fill_to $((1 * MiB + 256 * 1024))
run_update full.log "$small/full.db" --min-free 1MiB
wait_for 120 logged "collection stopped by a full disk" full.log
check "a full disk stops collection with an error" 0 $?
logged "is full; the unfinished transaction was rolled back" full.log; check "the error says what happened" 0 $?
wait_for 60 logged "streaming from" full.log; check "update goes on to its stream phase" 0 $?
alive; check "the process is still running" 0 $?
check "the database is sound after the full disk" ok "$(sound "$small/full.db")"
rm -f "$small/filler"
wait_for 120 logged "make-db done" full.log; check "collection is retried once space is freed" 0 $?
stop_update "update after a full disk"
check "the database is sound" ok "$(sound "$small/full.db")"
check "every build is collected after the retry" $((expected_builds + 6)) "$(builds_in "$small/full.db")"
check "and every JUnit file" $((expected_builds)) "$(sqlite3 "$small/full.db" 'select count(*) from file')"

# --- make-db alone on a full disk: a clear error, exit 1, nothing half-written ---
fill_to $((256 * 1024))
env -i PATH=/usr/bin:/bin HOME="$work" STORAGE_EMULATOR_HOST="$host" "$kettle" make-db --db "$small/alone.db" \
  --buckets buckets.yaml --junit --min-free 0 2>alone.log
check "make-db on a full disk exits 1" 1 $?
logged "E.*is full; the unfinished transaction was rolled back.*kettle prune" alone.log
check "with what happened and what to do" 0 $?
[[ ! -e "$small/alone.db" ]] || [[ "$(sound "$small/alone.db")" == ok ]]; check "the database is sound" 0 $?
rm -f "$small/filler"
env -i PATH=/usr/bin:/bin HOME="$work" STORAGE_EMULATOR_HOST="$host" "$kettle" make-db --db "$small/alone.db" \
  --buckets buckets.yaml --junit --min-free 1MiB 2>>alone.log
check "after freeing space, make-db completes" 0 $?
check "every build is there" $((expected_builds + 6)) "$(builds_in "$small/alone.db")"

finish "disk full end-to-end"
