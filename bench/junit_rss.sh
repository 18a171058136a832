#!/usr/bin/env bash
# Peak RSS of `kettle make-db --junit` storing one large JUnit file served by
# the local fake GCS, against the size of the file.
# Shapes: nested (elements that never close, the hostile case: stored
# unchanged), output (testcases with <system-out>, mostly cut before storing),
# plain (testcases without output: stored whole).
# usage: bench/junit_rss.sh [MEGABYTES] [SHAPE]    (default: 300 nested)
# Needs kettle and tests/fakegcp/fakegcp built in ./build (or $KETTLE_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
megabytes=${1:-300}
shape=${2:-nested}
build=${KETTLE_BUILD_DIR:-build}
for binary in kettle tests/fakegcp/fakegcp; do
  [[ -x "$build/$binary" ]] || { echo "missing $build/$binary: ninja -C $build $binary" >&2; exit 1; }
done

out=$root/bench/out/junit_rss
rm -rf "$out"
build_dir=$out/tree/bucket/logs/job/1
mkdir -p "$build_dir/artifacts"
echo '{"timestamp": 1700000000}' >"$build_dir/started.json"
echo '{"timestamp": 1700000100, "result": "SUCCESS"}' >"$build_dir/finished.json"
printf 'gs://bucket/logs/:\n  prefix: ""\n  sequential: false\n' >"$out/buckets.yaml"
python3 - "$build_dir/artifacts/junit_big.xml" "$megabytes" "$shape" <<'EOF'
import sys
path, megabytes, shape = sys.argv[1], int(sys.argv[2]), sys.argv[3]
size = megabytes << 20
pieces = {
    "nested": ("<testsuites>", "<a>", ""),
    "output": ("<testsuite>", "<testcase name='t'><system-out>line of output</system-out></testcase>",
               "</testsuite>"),
    "plain": ("<testsuite>", "<testcase name='t' time='1'/>", "</testsuite>"),
}
head, piece, tail = pieces[shape]
block = piece * ((1 << 20) // len(piece))
with open(path, "w") as f:
    written = f.write(head)
    while written + len(block) + len(tail) <= size:
        written += f.write(block)
    while written + len(piece) + len(tail) <= size:
        written += f.write(piece)
    f.write(tail)
EOF
file_bytes=$(stat -c %s "$build_dir/artifacts/junit_big.xml")

fake_pid=""
trap '[[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
"$build/tests/fakegcp/fakegcp" --root "$out/tree" --port 0 >"$out/fake.out" 2>"$out/fake.err" &
fake_pid=$!
for _ in $(seq 100); do grep -qs listening "$out/fake.out" && break; sleep 0.1; done
export STORAGE_EMULATOR_HOST=$(sed -E 's#.*//##' "$out/fake.out")

/usr/bin/time -v "$build/kettle" make-db --db "$out/junit.db" --buckets "$out/buckets.yaml" --junit \
  2>"$out/make_db.log"
peak_kb=$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' "$out/make_db.log")
stored=$(sqlite3 "$out/junit.db" "select count(*) || ' file(s), ' || coalesce(sum(length(data)), 0) || ' compressed bytes' from file")
awk -v shape="$shape" -v f="$file_bytes" -v p="$peak_kb" -v s="$stored" 'BEGIN {
  printf "shape %s: file %.1f MiB, stored %s, peak RSS %.1f MiB = %.2fx the file\n",
    shape, f / 1048576, s, p / 1024, p * 1024 / f }'
