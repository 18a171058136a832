#!/usr/bin/env bash
# The file paths on every I/O backend: make-json --output (plain and gzip)
# and bq-load's upload give the same bytes through io_uring, with
# KETTLE_NO_IO_URING=1, and under a seccomp filter that blocks io_uring (as
# Docker's default profile does), where the block is detected at start and
# logged once, and the command still succeeds.
# usage: io_backend_e2e.sh KETTLE FAKEGCP SOURCE_ROOT NO_IO_URING
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kettle=$(realpath "$1") fake=$(realpath "$2") src=$(realpath "$3") no_io_uring=$(realpath "$4")
cd "$work"
cp "$src/tests/data/spec/schema.json" schema.json
cp "$src/tests/data/sample_buckets.yaml" buckets.yaml
# 1.6 MB of rows: more than one of the writer's 1 MiB buffers.
python3 "$src/bench/gen_db.py" --builds 400 --junit-per-build 2 --tests-per-file 20 --seed 5 \
  --now "$(date +%s)" --out corpus.db >/dev/null

modes=(io_uring syscalls blocked)
if ! "$no_io_uring" true 2>blocked_probe.log; then
  echo "SKIP the blocked mode: $(cat blocked_probe.log)"
  modes=(io_uring syscalls)
fi
# run MODE COMMAND...: kettle COMMAND... as that mode runs it, from a clean environment.
run() {
  local mode=$1; shift
  local env=(env -i "PATH=$PATH" "HOME=$work" "TZ=UTC" "BIGQUERY_EMULATOR_HOST=${host:-}")
  case $mode in
    io_uring) "${env[@]}" "$kettle" "$@" ;;
    syscalls) "${env[@]}" KETTLE_NO_IO_URING=1 "$kettle" "$@" ;;
    blocked) "${env[@]}" "$no_io_uring" "$kettle" "$@" ;;
  esac
}
# The line each mode's probe logs, once.
expected_line() {
  case $1 in
    io_uring) echo "file I/O uses io_uring" ;;
    syscalls) echo "KETTLE_NO_IO_URING is set: file I/O uses read/write syscalls" ;;
    blocked) echo "io_uring unavailable (Operation not permitted" ;;
  esac
}
cp corpus.db probe.db
run io_uring make-json --db probe.db --buckets buckets.yaml --output probe.json 2>probe.log
if ! grep -q "file I/O uses io_uring" probe.log; then
  echo "note: io_uring is unavailable on this host; the io_uring mode runs on syscalls"
  modes=("${modes[@]/io_uring/}")
fi

for mode in "${modes[@]}"; do
  [[ -n $mode ]] || continue
  for kind in json json.gz; do
    cp corpus.db "$mode.$kind.db"
    gzip_flag=() && [[ $kind == json.gz ]] && gzip_flag=(--gzip)
    run "$mode" make-json --db "$mode.$kind.db" --buckets buckets.yaml --output "rows.$mode.$kind" "${gzip_flag[@]}" \
      2>"make_json.$mode.$kind.log"
    check "$mode: make-json --output rows.$kind exits 0" 0 $?
    check "$mode: the probe says so once" 1 "$(grep -cF "$(expected_line "$mode")" "make_json.$mode.$kind.log")"
  done
done
for kind in json json.gz; do
  check "make-json output has rows" 1 "$(($(wc -c <"rows.syscalls.$kind") > 100000))"
  for mode in "${modes[@]}"; do
    [[ -n $mode && $mode != syscalls ]] || continue
    cmp -s "rows.syscalls.$kind" "rows.$mode.$kind"; check "rows.$kind: $mode output identical to syscalls" 0 $?
  done
done

start_fake --root tree --port 0 --dataset p:ds --bq-job-delay-ms 0 || { echo "FAIL the fake did not start"; exit 1; }
# Over 8 MiB: two upload chunks, the second one short.
for _ in 1 2 3 4 5 6; do cat rows.syscalls.json; done >big.json
uploaded() {  # uploaded TABLE -> "BYTES SHA256" of its last load job, as the fake received it
  curl -sf "http://$host/_fake/bigquery/p/ds/$1/stats" |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["last_load_bytes"], s["last_load_sha256"])'
}
for mode in "${modes[@]}"; do
  [[ -n $mode ]] || continue
  for file in rows.syscalls.json.gz big.json; do
    table="${mode}_${file//./_}"
    run "$mode" bq-load --dataset p:ds --table "$table" --schema schema.json "$file" 2>"bq_load.$table.log"
    check "$mode: bq-load $file exits 0" 0 $?
    check "$mode: the probe says so once ($file)" 1 "$(grep -cF "$(expected_line "$mode")" "bq_load.$table.log")"
    check "$mode: uploaded bytes of $file" "$(wc -c <"$file") $(sha256sum "$file" | cut -d' ' -f1)" "$(uploaded "$table")"
    [[ $mode != io_uring ]] || check "io_uring: the upload's reader kept io_uring ($file)" 0 "$(grep -c 'with pread' "bq_load.$table.log")"
  done
done

# One process writing and uploading several files while io_uring is blocked:
# the block is found and logged once, and the cycle completes.
if [[ " ${modes[*]} " == *" blocked "* ]]; then
  python3 "$src/bench/gen_tree.py" --root tree --builds 40 --seed 3 --now "$(date +%s)" >/dev/null 2>&1
  start_fake --root tree --port 0 --dataset p:ds --bq-job-delay-ms 0 || { echo "FAIL the fake did not start"; exit 1; }
  "$no_io_uring" env -i "PATH=$PATH" "HOME=$work" DEPLOYMENT=prod "STORAGE_EMULATOR_HOST=$host" \
    "BIGQUERY_EMULATOR_HOST=$host" "$kettle" update --once --db update.db --buckets tree.buckets.yaml \
    --dataset p:ds --schema schema.json --metrics-addr '' --health-addr '' 2>update.log
  check "blocked: update --once exits 0" 0 $?
  check "blocked: the cycle loaded day, week and all" 3 "$(grep -c 'loaded p:ds\.' update.log)"
  check "blocked: the block is logged once" 1 "$(grep -cF "$(expected_line blocked)" update.log)"
fi

finish "I/O backends end-to-end"
