#!/usr/bin/env bash
# kettle's network backend, epoll (default) against io_uring
# (-Dnet_backend=io_uring), on the same machine against the same fake cloud
# (always epoll) with injected latency. Builds both variants (build dirs
# $KETTLE_BUILD_DIR or build, and build-net-uring), then, alternating the
# variants, RUNS times each:
#   make-db at each --threads: requests/s, CPU seconds (user, sys) per 1,000
#   requests, peak RSS (GNU time);
#   stream at RATE builds/s offered: p50 and p99 latency, CPU ms per build.
# Prints the medians, and the load average seen (the machine may be shared:
# CPU per request is the robust figure there).
# usage: bench/io_backend.sh [BUILDS (6000)] [LATENCY_MS (50)] [RUNS (3)] [THREADS... (128 512)]
#   env: STREAM_RATE (200), STREAM_BUILDS (3000; 0 skips the stream)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
builds=${1:-6000}
latency=${2:-50}
runs=${3:-3}
shift $(($# < 3 ? $# : 3))
threads_list=("$@")
[[ ${#threads_list[@]} -gt 0 ]] || threads_list=(128 512)
rate=${STREAM_RATE:-200}
stream_builds=${STREAM_BUILDS:-3000}
# Each writer uploads started.json and finished.json, each delayed by the
# injected latency: enough writers to offer RATE builds/s.
writers=$(( (rate * 2 * latency + 999) / 1000 + 8 ))

epoll_build=${KETTLE_BUILD_DIR:-build}
uring_build=build-net-uring
NINJA_FLAGS="kettle tests/fakegcp/fakegcp" KETTLE_BUILD_DIR=$epoll_build bash scripts/build.sh >/dev/null
if [[ ! -f $uring_build/build.ninja ]]; then
  meson setup "$uring_build" --buildtype=release -Dnet_backend=io_uring -Dtests=disabled >/dev/null
fi
ninja -C "$uring_build" kettle >/dev/null
fake=$root/$epoll_build/tests/fakegcp/fakegcp
declare -A kettle=([epoll]=$root/$epoll_build/kettle [io_uring]=$root/$uring_build/kettle)

out=$root/bench/out/io_backend
mkdir -p "$out"
tree=$out/tree_$builds
[[ -d $tree ]] || python3 bench/gen_tree.py --root "$tree" --builds "$builds" --seed 9 >&2
results=$out/results.tsv
: >"$results"

fake_pid=""
cleanup() {
  if [[ -n $fake_pid ]]; then kill "$fake_pid" 2>/dev/null || true; fi
  fake_pid=""
  wait 2>/dev/null || true
}
trap cleanup EXIT
start_fake() {
  cleanup
  "$fake" --root "$tree" --port 0 --latency-ms "$latency" >"$out/fake.out" 2>/dev/null &
  fake_pid=$!
  for _ in $(seq 100); do grep -q listening "$out/fake.out" 2>/dev/null && break; sleep 0.1; done
  export STORAGE_EMULATOR_HOST=$(sed -E 's#.*//##' "$out/fake.out")
}
requests() {
  curl -s "http://$STORAGE_EMULATOR_HOST/_fake/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_total"])'
}
load1() { cut -d' ' -f1 /proc/loadavg; }

make_db() {  # make_db VARIANT THREADS -> a results line
  local variant=$1 threads=$2
  start_fake
  rm -f "$out/bench.db"*
  local r0 start end r1 la
  la=$(load1)
  r0=$(requests)
  start=$(date +%s.%N)
  /usr/bin/time -f '%U %S %M' -o "$out/time.txt" "${kettle[$variant]}" make-db --db "$out/bench.db" \
    --buckets "$tree.buckets.yaml" --threads "$threads" --metrics-addr '' --health-addr '' 2>"$out/make_db.log"
  end=$(date +%s.%N)
  r1=$(requests)
  read -r user sys rss <"$out/time.txt"
  # The stats request itself is counted once.
  awk -v v="$variant" -v t="$threads" -v s="$start" -v e="$end" -v r=$((r1 - r0 - 1)) -v u="$user" -v y="$sys" \
    -v m="$rss" -v la="$la" 'BEGIN { d = e - s
      printf "make-db\t%s\t%s\t%.0f\t%.4f\t%.4f\t%.1f\t%s\t%d\n", v, t, r / d, 1000 * u / r, 1000 * y / r, m / 1024, la, r }' \
    >>"$results"
}

stream() {  # stream VARIANT -> a results line
  local variant=$1 la line
  cleanup
  la=$(load1)
  line=$(python3 bench/stream_bench.py "${kettle[$variant]}" "$fake" --builds "$stream_builds" --rate "$rate" \
    --latency-ms "$latency" --writers "$writers")
  echo "$line" >>"$out/stream.txt"
  python3 - "$variant" "$la" "$stream_builds" "$line" >>"$results" <<'PY'
import re, sys
variant, la, builds, line = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
g = lambda pat: float(re.search(pat, line).group(1))
num = r"([0-9.]+)"
p50, p99 = g("p50 " + num), g("p99 " + num)
sustained, rss = g("sustained " + num), g("peak RSS " + num)
cpu = g("user " + num) + g("sys " + num)
print(f"stream\t{variant}\t{p50:.2f}\t{p99:.2f}\t{sustained:.0f}\t{1000 * cpu / builds:.3f}\t{rss}\t{la}")
PY
}

echo "tree: $builds builds; ${latency} ms injected latency; $runs runs per figure; $(nproc) cores" >&2
for ((i = 1; i <= runs; i++)); do
  for t in "${threads_list[@]}"; do
    for v in epoll io_uring; do make_db "$v" "$t"; done
  done
  [[ $stream_builds -eq 0 ]] || for v in epoll io_uring; do stream "$v"; done
  echo "run $i of $runs done (load average $(load1))" >&2
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
med = lambda xs: statistics.median(float(x) for x in xs)
print("make-db (medians)")
print(f"{'backend':<9} {'threads':>7} {'requests/s':>10} {'user s/1k':>9} {'sys s/1k':>8} {'cpu s/1k':>8} {'peakRSS MB':>10} {'load':>5} {'runs':>4}")
keys = sorted({(r[2], r[1]) for r in rows if r[0] == "make-db"}, key=lambda k: (int(k[0]), k[1] != "epoll"))
for threads, variant in keys:
    g = [r for r in rows if r[0] == "make-db" and r[1] == variant and r[2] == threads]
    u, s = med(r[4] for r in g), med(r[5] for r in g)
    cpu = med(float(r[4]) + float(r[5]) for r in g)
    print(f"{variant:<9} {threads:>7} {med(r[3] for r in g):>10.0f} {u:>9.3f} {s:>8.3f} {cpu:>8.3f} "
          f"{med(r[6] for r in g):>10.1f} {med(r[7] for r in g):>5.1f} {len(g):>4}")
print("stream (medians)")
print(f"{'backend':<9} {'p50 s':>6} {'p99 s':>6} {'builds/s':>8} {'cpu ms/build':>12} {'peakRSS MB':>10} {'load':>5} {'runs':>4}")
for variant in ("epoll", "io_uring"):
    g = [r for r in rows if r[0] == "stream" and r[1] == variant]
    if g:
        print(f"{variant:<9} {med(r[2] for r in g):>6.2f} {med(r[3] for r in g):>6.2f} {med(r[4] for r in g):>8.0f} "
              f"{med(r[5] for r in g):>12.3f} {med(r[6] for r in g):>10.1f} {med(r[7] for r in g):>5.1f} {len(g):>4}")
PY
echo "every run: $results" >&2
