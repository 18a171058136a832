#!/usr/bin/env bash
# Production-size simulation: kettle's own command line against fakegcp's
# synthetic buckets (tests/fakegcp/README.md), at several sizes of one model,
# and a markdown table of what each step cost.
#
# usage: bench/scale.sh [PERCENT...]     (default: 1 10 100)
#   SCALE_WORK=DIR   where the databases and logs go (default bench/out/scale)
#   KETTLE_BUILD_DIR the build folder (default build)
#   SCALE_MAKE_DB_FLAGS  more make-db flags for steps 1-3 (e.g. --full-listing, to compare)
#
# The model at 100%: 3,000 CI jobs (2,900 listed jobs in kubernetes-ci-logs,
# 2% of them numbered 1..N, the rest with Prow's 19-digit ids; 100
# sequential jobs with latest-build.txt in kubernetes-jenkins) with
# 1,500,000 builds, and 1,000 PR jobs with 500,000 PR builds, each found
# through its pointer in pr-logs/directory/: 2,000,000 builds over 180 days.
# A size scales the history's length (days, and so builds and pointers) at
# one pace; the jobs stay, so a larger size is the same CI system after a
# longer time, with as many builds running at once.
#
# Per size, on a fresh fake and an empty database:
#   1. make-db --junit                 the first full collection
#   2. make-db --junit                 an unchanged cycle (requests, names listed)
#   3. advance 1%; make-db --junit     a cycle with 1% new builds (and the running ones finished)
#   4. make-json --days 1              on the resulting database
#   5. update --once (prod)            the first cycle: builds the day, week and all tables
#   6. advance 1%; update --once       a steady cycle; seconds per phase from its log
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${KETTLE_BUILD_DIR:-build}
read -r -a make_db_flags <<<"${SCALE_MAKE_DB_FLAGS:-}"
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1 10 100)
NINJA_FLAGS="kettle tests/fakegcp/fakegcp" bash scripts/build.sh >/dev/null
kettle=$root/$build/kettle
fakegcp=$root/$build/tests/fakegcp/fakegcp
work=${SCALE_WORK:-$root/bench/out/scale}
mkdir -p "$work"

# The model at 100%.
ci_jobs=2900 ci_builds=1450000 short=0.02 history_days=180
seq_jobs=100 seq_builds=50000
pr_jobs=1000 pr_builds=500000 repos=50
project=scale dataset=k8s

scaled() {  # scaled TOTAL PERCENT MIN -> TOTAL * PERCENT / 100, at least MIN
  awk -v t="$1" -v p="$2" -v m="$3" 'BEGIN { n = int(t * p / 100 + 0.5); print (n < m ? m : n) }'
}

# The disk the databases go to: about 2 KB per build at most, plus the NDJSON files.
need_gb=$(awk -v s="${sizes[*]}" 'BEGIN { n = split(s, a, " "); m = 0; for (i = 1; i <= n; i++) if (a[i] > m) m = a[i]; print int(m / 100 * 2000000 * 4000 / 1e9) + 1 }')
free_gb=$(df -Pk "$work" | awk 'NR == 2 { print int($4 / 1024 / 1024) }')
if [[ $free_gb -lt $need_gb ]]; then
  echo "scale: $work has $free_gb GB free, the largest size needs about $need_gb GB; set SCALE_WORK" >&2
  exit 1
fi

fake_pid=""
cleanup() {
  if [[ -n "$fake_pid" ]]; then kill "$fake_pid" 2>/dev/null || true; wait "$fake_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

start_fake() {  # start_fake DIR PERCENT
  local dir=$1 p=$2
  cleanup
  local ci seq pr days
  days=$(awk -v d=$history_days -v p="$p" 'BEGIN { print d * p / 100 }')
  ci="jobs=$ci_jobs,builds=$(scaled $ci_builds "$p" $ci_jobs),short=$short,days=$days"
  ci="$ci,pr_jobs=$pr_jobs,pr=$(scaled $pr_builds "$p" $pr_jobs),repos=$repos"
  seq="jobs=$seq_jobs,builds=$(scaled $seq_builds "$p" $seq_jobs),sequential=1,short=0,seed=2,days=$days"
  "$fakegcp" --synthetic "kubernetes-ci-logs=$ci" --synthetic "kubernetes-jenkins=$seq" \
    --port 0 --dataset "$project:$dataset" --bq-job-delay-ms 50 >"$dir/fake.out" 2>"$dir/fake.err" &
  fake_pid=$!
  for _ in $(seq 300); do grep -qs listening "$dir/fake.out" && break; sleep 0.2; done
  host=$(sed -E 's#.*//##' "$dir/fake.out")
  [[ -n "$host" ]] || { echo "scale: the fake did not start (see $dir/fake.err)" >&2; exit 1; }
}

fake() { curl -sf "$@"; }
json_field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
reset_stats() { fake -X POST "http://$host/_fake/reset-stats" >/dev/null; }
# GCS requests and, in parentheses, the names and prefixes their listings answered.
requests() { fake "http://$host/_fake/stats" | json_field '"%d (%d)" % (d["requests_total"], d["gcs_listed_names"])'; }
advance() { fake -X POST -d '{"percent": 1}' "http://$host/_fake/synthetic/advance" >/dev/null; }
fake_rss_mb() { awk -v k="$1" '$1 == k":" { printf "%.0f", $2 / 1024 }' "/proc/$fake_pid/status"; }
fake_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$fake_pid/stat"; }

# kettle as a user runs it: a clean environment with the emulator endpoints.
run_kettle() {  # run_kettle DIR NAME ARGS...: NAME.log, NAME.secs, NAME.rss (KiB, CPU s); exits on failure
  local dir=$1 name=$2
  shift 2
  local start end
  start=$(date +%s.%N)
  if ! (cd "$dir" && env -i PATH=/usr/bin:/bin HOME="$dir" KETTLE_DB="$dir/build.db" \
    STORAGE_EMULATOR_HOST="$host" BIGQUERY_EMULATOR_HOST="$host" PUBSUB_EMULATOR_HOST="$host" \
    DEPLOYMENT=prod /usr/bin/time -f '%M %U %S' -o "$dir/$name.rss" "$kettle" "$@" 2>"$dir/$name.log"); then
    echo "scale: kettle $* failed; see $dir/$name.log" >&2
    tail -n 5 "$dir/$name.log" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }' >"$dir/$name.secs"
}

secs() { cat "$1.secs"; }
rss_mb() { awk '{ printf "%.0f", $1 / 1024 }' "$1.rss"; }
cpu_s() { awk '{ printf "%.0f", $2 + $3 }' "$1.rss"; }
# From a make-db log: builds written.
written() { grep -o 'make-db done: [0-9]* builds fetched, [0-9]* written' "$1.log" | awk '{ print $6 }'; }

# Seconds per phase of an update log, from its glog timestamps: collect
# (start to "make-db done"), load (the BigQuery load jobs), emit (the rest:
# make-json runs and the day-table check), total.
update_phases() {
  python3 - "$1.log" <<'EOF'
import re, sys
stamps = []
for line in open(sys.argv[1], errors='replace'):
    m = re.match(r'[IWEF]\d{4} (\d\d):(\d\d):(\d\d\.\d+)\] (.*)', line)
    if m:
        t = int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        if stamps and t < stamps[-1][0] - 43200:
            t += 86400  # past midnight
        stamps.append((t, m[4]))
start = next((t for t, msg in stamps if msg.startswith('update cycle')), None)
collected = next((t for t, msg in stamps if msg.startswith('make-db done')), None)
if start is None or collected is None:
    print('? (log format)')
    sys.exit()
end = stamps[-1][0]
load = 0.0
loading = None
for t, msg in stamps:
    if msg.startswith('loading '):
        loading = t
    elif msg.startswith('loaded ') and loading is not None:
        load += t - loading
        loading = None
emit = end - collected - load
print(f'{collected - start:.1f} / {emit:.1f} / {load:.1f}')
EOF
}

cat >"$work/buckets.yaml" <<'EOF'
gs://kubernetes-ci-logs/logs/:
  contact: sig-testing
  prefix: ""
  sequential: false
gs://kubernetes-jenkins/logs/:
  contact: sig-testing
  prefix: "jenkins:"
EOF

echo "# kettle $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
rows=()
for p in "${sizes[@]}"; do
  dir=$work/size_$p
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$work/buckets.yaml" "$dir/buckets.yaml"
  start_fake "$dir" "$p"
  total=$(fake "http://$host/_fake/synthetic" | json_field 'sum(b["builds"] + b["pr_builds"] for b in d.values())')
  echo "size $p%: $total builds; work dir $dir" >&2

  reset_stats
  fake_cpu0=$(fake_cpu)
  run_kettle "$dir" first make-db --buckets buckets.yaml --junit "${make_db_flags[@]}"
  fake_first_cpu=$(awk -v a="$fake_cpu0" -v b="$(fake_cpu)" 'BEGIN { printf "%.0f", b - a }')
  first_builds=$(written "$dir/first")
  db_bytes=$(cat "$dir"/build.db* | wc -c)
  fake "http://$host/_fake/stats" >"$dir/first.stats.json"

  reset_stats
  run_kettle "$dir" unchanged make-db --buckets buckets.yaml --junit "${make_db_flags[@]}"
  unchanged_requests=$(requests)
  fake "http://$host/_fake/stats" >"$dir/unchanged.stats.json"

  advance
  reset_stats
  run_kettle "$dir" new1 make-db --buckets buckets.yaml --junit "${make_db_flags[@]}"
  new_requests=$(requests)
  fake "http://$host/_fake/stats" >"$dir/new1.stats.json"
  fake_collect_mb=$(fake_rss_mb VmRSS)

  run_kettle "$dir" make_json make-json --days 1 --buckets buckets.yaml --output "$dir/day.json"
  day_rows=$(wc -l <"$dir/day.json")
  rm -f "$dir/day.json"

  update=(update --once --buckets buckets.yaml --dataset "$project:$dataset"
    --metrics-addr 127.0.0.1:0 --health-addr 127.0.0.1:0)
  run_kettle "$dir" update_first "${update[@]}"
  advance
  run_kettle "$dir" update "${update[@]}"
  rm -f "$dir"/build_*.json.gz
  fake_peak_mb=$(fake_rss_mb VmHWM)

  rows+=("$(printf '| %s%% | %s | %s | %s | %s / %s | %s | %s | %s | %s | %s | %s | %s (%s rows) | %s | %s / %s | %s (%s) | %s / %s |' \
    "$p" "$total" \
    "$(awk -v b="$first_builds" -v s="$(secs "$dir/first")" 'BEGIN { printf "%.0f", b / s }')" \
    "$(secs "$dir/first")" "$(cpu_s "$dir/first")" "$fake_first_cpu" "$(rss_mb "$dir/first")" \
    "$(awk -v d="$db_bytes" -v b="$first_builds" 'BEGIN { printf "%.0f", d / b }')" \
    "$unchanged_requests" "$(secs "$dir/unchanged")" "$new_requests" "$(secs "$dir/new1")" \
    "$(secs "$dir/make_json")" "$day_rows" "$(rss_mb "$dir/make_json")" \
    "$(secs "$dir/update_first")" "$(rss_mb "$dir/update_first")" \
    "$(update_phases "$dir/update")" "$(secs "$dir/update")" \
    "$fake_collect_mb" "$fake_peak_mb")")
  echo "${rows[-1]}" >&2
  cleanup
  fake_pid=""
done

echo
echo "| size | builds | first collection: builds/s | s | CPU s: kettle / fake | peak RSS MB | DB bytes/build | unchanged cycle: GCS requests (names listed) | s | 1% new: GCS requests (names listed) | s | make-json --days 1: s | peak RSS MB | update --once, first: s / peak RSS MB | update --once, 1% new: collect / emit / load s (total) | fakegcp RSS MB: after collection / peak |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
