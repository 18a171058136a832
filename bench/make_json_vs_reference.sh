#!/usr/bin/env bash
# make-json against the reference's make_json.py run under pypy3 (as its
# update.py runs it), on the same generated DB, back to back, RUNS times in
# alternating order. Both emit every build (--reset-emitted, no --days) to a
# file; the outputs must be byte-identical. Prints each run, the medians, the
# speed-up (median reference seconds / median kettle seconds) and the load
# average around the runs.
#
# usage: KETTLE_REFERENCE=DIR bench/make_json_vs_reference.sh [BUILDS] [RUNS]
#   DIR: the reference's kettle/ folder (make_json.py and model.py), e.g. a
#        checkout of kubernetes/test-infra. BUILDS defaults to 20000, RUNS to 3.
#   KETTLE_THREADS: make-json --threads (default 2).
#   KETTLE_BEFORE: another kettle binary (e.g. an older build) run in each
#        round too, for before/after figures measured under the same load.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
builds=${1:-20000}
runs=${2:-3}
threads=${KETTLE_THREADS:-2}
build=${KETTLE_BUILD_DIR:-build}
ref_src=${KETTLE_REFERENCE:?set KETTLE_REFERENCE to the reference kettle/ folder (make_json.py, model.py)}
for f in make_json.py model.py; do
  [[ -f "$ref_src/$f" ]] || { echo "no $f in $ref_src" >&2; exit 2; }
done

# The reference runs under pypy3 and reads buckets.yaml through python3's
# ruamel.yaml (its "pypy compatibility hack").
need=()
command -v pypy3 >/dev/null || need+=(pypy3)
/usr/bin/python3 -c 'import ruamel.yaml' 2>/dev/null || need+=(python3-ruamel.yaml)
if [[ ${#need[@]} -gt 0 ]]; then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

NINJA_FLAGS="kettle" bash scripts/build.sh >/dev/null
out=$root/bench/out/vs_reference
mkdir -p "$out"
db=$root/bench/out/make_json_$builds.db
[[ -f "$db" ]] || python3 bench/gen_db.py --builds "$builds" --out "$db" --seed 7 >&2

# The reference reads buckets.yaml from its own folder and the DB from KETTLE_DB.
ref=$out/reference
rm -rf "$ref"
mkdir -p "$ref"
cp "$ref_src/make_json.py" "$ref_src/model.py" "$ref/"
cp tests/data/sample_buckets.yaml "$ref/buckets.yaml"
cp "$db" "$out/ref.db"
cp "$db" "$out/kettle.db"

# Runs a command (its output redirected by the caller); leaves
# "seconds peakRSS_MB cpu_seconds" in $out/timing.txt.
timed() {
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%M %U %S' -o "$out/time.txt" "$@"
  end=$(date +%s.%N)
  read -r rss user sys <<<"$(tail -1 "$out/time.txt")"
  awk -v s="$start" -v e="$end" -v r="$rss" -v u="$user" -v y="$sys" \
    'BEGIN { printf "%.2f %.1f %.2f\n", e - s, r / 1024, u + y }' >"$out/timing.txt"
}

run_reference() {
  (cd "$ref" && PATH=/usr/bin:$PATH KETTLE_DB="$out/ref.db" \
    timed pypy3 make_json.py --reset-emitted >"$out/ref.json" 2>"$out/ref.log")
  cat "$out/timing.txt"
}

run_kettle() {  # run_kettle BINARY OUTPUT
  timed "$1" make-json --db "$out/kettle.db" --buckets tests/data/sample_buckets.yaml \
    --reset-emitted --threads "$threads" --output "$2" 2>"$out/kettle.log"
  cat "$out/timing.txt"
}
before=${KETTLE_BEFORE:-}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
printf '%-4s %-12s %21s %21s %21s %9s\n' run order "reference s/MB/cpu_s" "kettle s/MB/cpu_s" "before s/MB/cpu_s" identical
ref_times=() kettle_times=() before_times=() ref_cpu=() kettle_cpu=() before_cpu=()
for i in $(seq "$runs"); do
  b="- - -"
  if ((i % 2)); then
    order=ref-first
    r=$(run_reference)
    k=$(run_kettle "$root/$build/kettle" "$out/kettle.json")
    [[ -z $before ]] || b=$(run_kettle "$before" "$out/before.json")
  else
    order=kettle-first
    [[ -z $before ]] || b=$(run_kettle "$before" "$out/before.json")
    k=$(run_kettle "$root/$build/kettle" "$out/kettle.json")
    r=$(run_reference)
  fi
  same=yes
  cmp -s "$out/ref.json" "$out/kettle.json" || same=NO
  [[ -z $before ]] || cmp -s "$out/ref.json" "$out/before.json" || same=NO
  read -r rs rm rc <<<"$r"
  read -r ks km kc <<<"$k"
  read -r bs bm bc <<<"$b"
  ref_times+=("$rs") kettle_times+=("$ks") ref_cpu+=("$rc") kettle_cpu+=("$kc")
  [[ -z $before ]] || { before_times+=("$bs"); before_cpu+=("$bc"); }
  printf '%-4s %-12s %21s %21s %21s %9s\n' "$i" "$order" "$rs/$rm/$rc" "$ks/$km/$kc" "$bs/$bm/$bc" "$same"
  [[ $same == yes ]] || { echo "outputs differ: $out/ref.json $out/kettle.json $out/before.json" >&2; exit 1; }
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rows=$(wc -l <"$out/kettle.json")
awk -v r="$(median "${ref_times[@]}")" -v k="$(median "${kettle_times[@]}")" \
  -v rc="$(median "${ref_cpu[@]}")" -v kc="$(median "${kettle_cpu[@]}")" \
  -v p="$([[ -z $before ]] && echo 0 || median "${before_times[@]}")" \
  -v pc="$([[ -z $before ]] && echo 0 || median "${before_cpu[@]}")" \
  -v n="$rows" -v b="$builds" -v t="$threads" -v lb="$load_before" -v la="$load_after" -v c="$(nproc)" 'BEGIN {
  printf "%d builds, %d rows, kettle --threads %d, %d cores; medians of %s runs\n", b, n, t, c, "'"$runs"'"
  printf "reference: %.2f s (%.0f rows/s), %.2f CPU s\n", r, n / r, rc
  printf "kettle:    %.2f s (%.0f rows/s), %.2f CPU s: %.1fx faster, %.1fx less CPU\n", k, n / k, kc, r / k, rc / kc
  if (p > 0) printf "before:    %.2f s (%.0f rows/s), %.2f CPU s: %.1fx faster, %.1fx less CPU\n", p, n / p, pc, r / p, rc / pc
  printf "load average before: %s, after: %s\n", lb, la
}'
