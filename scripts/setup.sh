#!/usr/bin/env bash
# Installs the Debian packages kettle builds and tests with. Idempotent; quiet
# when everything is already present.
set -euo pipefail

packages=(
  g++ meson ninja-build pkg-config python3 sqlite3
  libboost1.81-dev libboost-json1.81-dev libboost-test1.81-dev libboost-system1.81-dev
  libssl-dev liburing-dev libsqlite3-dev libexpat1-dev zlib1g-dev libyaml-cpp-dev libre2-dev
  ca-certificates curl openssl python3-yaml python3-kubernetes
  prometheus  # promtool and prometheus: the monitoring tests (deploy/monitoring)
  kubectl     # `kubectl kustomize` renders deploy/prod and deploy/staging (deploy/check.sh)
  time        # GNU time: peak RSS in the benchmarks (bench/)
  faketime    # bench/retention.sh runs kettle on simulated days
  clang libclang-rt-14-dev lld llvm  # the sanitizer build and the fuzz targets (scripts/sanitize.sh)
  ccache      # meson compiles through it: the image and io_uring smoke builds reuse the first build's objects
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
