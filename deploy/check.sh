#!/usr/bin/env bash
# Validates deploy/ without a cluster or Docker: renders each overlay
# (deploy/prod, deploy/staging) with `kubectl kustomize`, asserts the fields
# kettle's deployment relies on in what it renders, and checks the Dockerfile.
#   bash deploy/check.sh        exit 0 when every check passes
# Rendering needs kubectl (scripts/setup.sh installs it); a render that fails
# is a FAIL.
# Rules: checks.py (python3 + PyYAML) checks what a deployment over a running
# Python kettle relies on (names, namespaces, volume names and sizes, env,
# the image tag: the project version, never `latest`, the metrics Service and
# ServiceMonitor, prod's alerts and dashboard) and buckets.yaml;
# checks_test.py tests those rules. Without PyYAML: textual checks of the
# rendered YAML; else installs python3-yaml with apt-get.
# Schema: validate_manifests.py checks every rendered document against the API
# types of the official Python client (python3-kubernetes, installed with
# apt-get when missing; a FAIL when it cannot be), and
# validate_manifests_test.py checks that the validator rejects broken variants
# of the rendered overlays.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

passed=0
failed=0
ok()  { passed=$((passed + 1)); echo "ok   - $*"; }
bad() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { local msg=$1; shift; if "$@" >/dev/null 2>&1; then ok "$msg"; else bad "$msg"; fi; }

overlays=(prod staging)
render=$(mktemp -d)
trap 'rm -rf "$render"' EXIT

have_pyyaml() { command -v python3 >/dev/null 2>&1 && python3 -c 'import yaml' >/dev/null 2>&1; }

# apt_install PKG...: quiet; sudo (never prompting) when not root. Callers
# only call it when something is missing, so reruns do nothing.
apt_install() {
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo -n"
  export DEBIAN_FRONTEND=noninteractive
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$@"; } >/dev/null 2>&1
}

if ! have_pyyaml && ! command -v kubectl >/dev/null 2>&1; then
  echo "check: installing python3-yaml" >&2
  apt_install python3 python3-yaml || echo "check: apt-get install python3-yaml failed" >&2
fi

# ---- render ------------------------------------------------------------------
# rendered/ENV.yaml is what `kubectl apply -k deploy/ENV` applies; every check
# below reads these files (named relative to $render in the output).
manifests=() env_manifests=()
if command -v kubectl >/dev/null 2>&1; then
  mkdir "$render/rendered"
  for o in "${overlays[@]}"; do
    if err=$(kubectl kustomize "$o" 2>&1 >"$render/rendered/$o.yaml"); then
      ok "deploy/$o: kubectl kustomize renders it ($(grep -c '^kind:' "$render/rendered/$o.yaml") objects)"
      manifests+=("rendered/$o.yaml") env_manifests+=("$o=rendered/$o.yaml")
    else
      bad "deploy/$o: kubectl kustomize renders it ($(tr '\n' ' ' <<<"$err"))"
    fi
  done
else
  bad "kubectl is not installed: the manifests are kustomizations that \`kubectl kustomize\` renders (run scripts/setup.sh)"
fi

# ---- manifests -------------------------------------------------------------
if [[ ${#manifests[@]} -eq 0 ]]; then
  bad "no rendered overlay to check"
elif have_pyyaml; then
  # Full structural checks (checks.py: names, sizes, env, image tag). Each
  # output line is "ok|FAIL<TAB>message".
  n_lines=0
  while IFS=$'\t' read -r status msg; do
    n_lines=$((n_lines + 1))
    if [[ $status == ok ]]; then ok "$msg"; else bad "$msg"; fi
  done < <(cd "$render" && python3 "$here/checks.py" "${env_manifests[@]}" 2>&1)
  [[ $n_lines -gt 0 ]] || bad "checks.py ran no check"
  if out=$(python3 checks_test.py 2>&1); then
    ok "checks_test.py: rendered variants with other names or sizes, a latest image, no BUCKETS_URL, a TZ or a Service selecting nothing refused ($(grep -Eo 'Ran [0-9]+ tests?' <<<"$out"))"
  else
    bad "checks_test.py: rendered variants with other names or sizes, a latest image, no BUCKETS_URL, a TZ or a Service selecting nothing refused"
    while IFS= read -r line; do echo "    $line"; done <<<"$out"
  fi
else
  # Fallback: kustomize parsed the YAML; the assertions are textual.
  echo "check: PyYAML not available, minimal textual checks of the rendered YAML" >&2
  # The project version (what `kettle --version` prints) is the image tag.
  version=$(sed -nE "s/^[[:space:]]*version:[[:space:]]*'([^']+)'.*/\1/p" ../meson.build | head -1)
  [[ -n $version ]] && ok "project version $version (meson.build)" || bad "project version in meson.build"
  for f in "${manifests[@]}"; do
    rendered=$(<"$render/$f")
    n_docs=$(grep -c '^kind:' <<<"$rendered")
    n_api=$(grep -c '^apiVersion:' <<<"$rendered")
    [[ $n_docs -ge 6 && $n_docs -eq $n_api ]] && ok "$f: apiVersion and kind on every document" || bad "$f: apiVersion and kind on every document"
    if [[ $f == rendered/prod.yaml ]]; then
      kinds="Namespace ServiceAccount PersistentVolumeClaim Deployment Service ServiceMonitor PrometheusRule ConfigMap"
      size=3001Gi pvc=kettle-data ns=kettle
    else
      kinds="ServiceAccount PersistentVolume PersistentVolumeClaim Deployment Service ServiceMonitor"
      size=201Gi pvc=kettle-data-staging ns=default
    fi
    for k in $kinds; do
      check "$f: has $k" grep -qx "kind: $k" <<<"$rendered"
    done
    check "$f: PVC $pvc" grep -q "claimName: $pvc\$" <<<"$rendered"
    check "$f: PVC size $size" grep -q "storage: $size" <<<"$rendered"
    check "$f: namespace $ns" grep -q "namespace: $ns\$" <<<"$rendered"
    check "$f: image tagged $version (meson.build)" grep -q "image: gcr.io/k8s-staging-test-infra/kettle:$version\$" <<<"$rendered"
    check "$f: no latest or untagged image" bash -c '! grep -Eq "image: [^@]*/kettle(:latest)?([@[:space:]]|\$)" <<<"$1"' _ "$rendered"
    check "$f: env BUCKETS_URL" grep -q 'name: BUCKETS_URL' <<<"$rendered"
    check "$f: env TZ not set" bash -c '! grep -q "name: TZ\$" <<<"$1"' _ "$rendered"
    check "$f: workload identity annotation" grep -q 'iam.gke.io/gcp-service-account: kettle@kubernetes-public.iam.gserviceaccount.com' <<<"$rendered"
    check "$f: probes on 8081" test "$(grep -c 'port: 8081' <<<"$rendered")" -ge 2
    check "$f: liveness /healthz" grep -q 'path: /healthz$' <<<"$rendered"
    check "$f: readiness /healthz/ready" grep -q 'path: /healthz/ready$' <<<"$rendered"
    check "$f: env DEPLOYMENT" grep -q 'name: DEPLOYMENT' <<<"$rendered"
    check "$f: /data mount" grep -q 'mountPath: /data$' <<<"$rendered"
    check "$f: resources" grep -q 'requests:' <<<"$rendered"
    check "$f: strategy Recreate" grep -q 'type: Recreate' <<<"$rendered"
    check "$f: metrics Service and ServiceMonitor" grep -q 'targetPort: metrics$' <<<"$rendered"
  done
fi

# ---- schema: every document against the kubernetes.client models ------------
# Debian's python3-kubernetes is only importable by /usr/bin/python3, which may
# not be the python3 first on PATH (pyenv, venv).
k8s_python() {
  local py
  for py in /usr/bin/python3 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import kubernetes.client, yaml' >/dev/null 2>&1; then
      echo "$py"
      return 0
    fi
  done
  return 1
}

if ! kpy=$(k8s_python); then
  echo "check: installing python3-kubernetes" >&2
  apt_install python3 python3-yaml python3-kubernetes || echo "check: apt-get install python3-kubernetes failed" >&2
  kpy=$(k8s_python) || kpy=""
fi
if [[ ${#manifests[@]} -eq 0 ]]; then
  bad "schema validation: no rendered overlay to validate"
elif [[ -z $kpy ]]; then
  bad "schema validation: python3-kubernetes is not importable and apt-get could not install it (run scripts/setup.sh)"
else
  # One line per document ("ok   - FILE: Kind name valid ...") or per problem
  # ("FAIL - FILE: Kind name: PATH: problem").
  out=$(cd "$render" && "$kpy" "$here/validate_manifests.py" "${manifests[@]}" 2>&1)
  rc=$?
  n_ok=0 n_bad=0
  while IFS= read -r line; do
    case $line in
      "ok   - "*) ok "${line#ok   - }"; n_ok=$((n_ok + 1)) ;;
      "FAIL - "*) bad "${line#FAIL - }"; n_bad=$((n_bad + 1)) ;;
      ?*) echo "    $line" ;;
    esac
  done <<<"$out"
  if [[ $rc -ne 0 && $n_bad -eq 0 ]]; then
    bad "validate_manifests.py exited $rc without a result"
  elif [[ $rc -eq 0 && ( $n_bad -ne 0 || $n_ok -eq 0 ) ]]; then
    bad "validate_manifests.py exited 0 but validated no document or reported a problem"
  fi

  if out=$("$kpy" validate_manifests_test.py 2>&1); then
    ok "validate_manifests_test.py: broken variants of the rendered overlays rejected, the overlays accepted ($(grep -Eo 'Ran [0-9]+ tests?' <<<"$out"))"
  else
    bad "validate_manifests_test.py: broken variants of the rendered overlays rejected, the overlays accepted"
    while IFS= read -r line; do echo "    $line"; done <<<"$out"
  fi
fi

# ---- Dockerfile --------------------------------------------------------------
df=Dockerfile
if [[ -f $df ]]; then
  check "$df: build stage FROM debian:12" grep -Eq '^FROM debian:12( |$)' "$df"
  check "$df: runtime stage FROM debian:12-slim" grep -Eq '^FROM debian:12-slim' "$df"
  # The build stage is deploy/build-stage.sh (CI runs the same script).
  bs=build-stage.sh
  check "$df: build stage runs deploy/$bs" grep -Eq '^RUN bash deploy/build-stage\.sh$' "$df"
  check "$df: build stage is only that script" test "$(awk '/^FROM /{n++} n==1 && /^RUN /' "$df" | wc -l)" -eq 1
  check "$bs exists and parses" bash -n "$bs"
  check "$bs: set -euo pipefail" grep -Eq '^set -euo pipefail' "$bs"
  check "$bs: default BUILD_DIR build" grep -Fq 'build=${1:-build}' "$bs"
  check "$bs: removes a stale build dir" grep -Eq 'rm -rf "\$build"' "$bs"
  check "$bs: runs scripts/setup.sh" grep -q 'bash scripts/setup.sh' "$bs"
  check "$bs: meson release build without tests" grep -Eq 'meson setup "\$build" --buildtype=release -Dtests=disabled' "$bs"
  check "$bs: ninja builds kettle" grep -Eq 'ninja -C "\$build" kettle' "$bs"
  check "$bs: strips the binary" grep -Eq 'strip "\$build/kettle"' "$bs"
  check "$bs: smoke-runs kettle --help" grep -Eq '"\$build/kettle" --help' "$bs"
  check "$df: binary from /src/build/kettle to /usr/local/bin/kettle" grep -Eq '^COPY --from=build /src/build/kettle /usr/local/bin/kettle$' "$df"
  check "$df: schema.json" grep -Eq '^COPY tests/data/spec/schema.json /kettle/schema.json' "$df"
  check "$df: buckets.yaml" grep -Eq '^COPY deploy/buckets.yaml /kettle/buckets.yaml' "$df"
  user=$(grep -E '^USER ' "$df" | tail -1 | awk '{print $2}')
  check "$df: USER non-root ($user)" test -n "$user" -a "${user%%:*}" != 0 -a "${user%%:*}" != root
  check "$df: WORKDIR /kettle" grep -Eq '^WORKDIR /kettle$' "$df"
  check "$df: ENV KETTLE_DB=/data/build.db" grep -Eq '^ENV KETTLE_DB=/data/build.db' "$df"
  check "$df: VOLUME /data" grep -Eq '^VOLUME /data' "$df"
  check "$df: EXPOSE 9090 8081" grep -Eq '^EXPOSE 9090 8081' "$df"
  check "$df: ENTRYPOINT kettle update" grep -Fxq 'ENTRYPOINT ["kettle", "update"]' "$df"
  # The stop hour is read in America/Los_Angeles unless TZ is set: the image
  # leaves TZ unset (tzdata is installed for the zone files).
  check "$df: TZ not set" bash -c '! grep -Eq "^(ENV|ARG)[[:space:]].*\<TZ[[:space:]=]" "$1"' _ "$df"
  for pkg in libboost-json1.81.0 libssl3 liburing2 libsqlite3-0 libexpat1 zlib1g libyaml-cpp0.7 libre2-9 ca-certificates tzdata; do
    check "$df: runtime package $pkg" grep -Eq "(^|[[:space:]])$pkg([[:space:]]|$)" "$df"
  done
else
  bad "$df exists"
fi

# ---- buckets.yaml ------------------------------------------------------------
# The image's default list (the copy of the published list; BUCKETS_URL
# refreshes it every cycle). It must parse and every entry keep its keys.
if have_pyyaml; then
  while IFS=$'\t' read -r status msg; do
    if [[ $status == ok ]]; then ok "$msg"; else bad "$msg"; fi
  done < <(python3 checks.py --buckets buckets.yaml 2>&1)
else
  check "buckets.yaml: main bucket" grep -q '^gs://kubernetes-ci-logs/logs/:' buckets.yaml
  for key in contact prefix sequential exclude_jobs; do
    check "buckets.yaml: main bucket keeps $key" grep -Eq "^  $key:" buckets.yaml
  done
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
