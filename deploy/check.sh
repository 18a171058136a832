#!/usr/bin/env bash
# Validates deploy/ without a cluster or Docker: parses every manifest, asserts
# the fields kettle's deployment relies on, and checks the Dockerfile.
#   bash deploy/check.sh        exit 0 when every check passes
# YAML parsing: python3 + PyYAML; else `kubectl kustomize` (offline) with
# textual checks; else installs python3-yaml with apt-get.
# Schema: validate_manifests.py checks every document against the API types of
# the official Python client (python3-kubernetes, installed with apt-get when
# missing; a FAIL when it cannot be), and validate_manifests_test.py checks
# that the validator rejects broken variants of prod/kettle.yaml.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

passed=0
failed=0
ok()  { passed=$((passed + 1)); echo "ok   - $*"; }
bad() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() { local msg=$1; shift; if "$@" >/dev/null 2>&1; then ok "$msg"; else bad "$msg"; fi; }

manifests=(prod/kettle.yaml staging/kettle.yaml)
for f in "${manifests[@]}"; do
  [[ -f $f ]] || bad "$f exists"
done

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

# ---- manifests -------------------------------------------------------------
if have_pyyaml; then
  # Full structural checks. Each output line is "ok|FAIL<TAB>message".
  while IFS=$'\t' read -r status msg; do
    if [[ $status == ok ]]; then ok "$msg"; else bad "$msg"; fi
  done < <(python3 - "${manifests[@]}" <<'PY'
import sys, yaml

def out(cond, msg):
    print(("ok" if cond else "FAIL") + "\t" + msg, flush=True)

def get(d, *path):
    for p in path:
        if isinstance(d, dict):
            d = d.get(p)
        elif isinstance(d, list) and isinstance(p, int) and p < len(d):
            d = d[p]
        else:
            return None
    return d

def qty_gi(s):
    s = str(s)
    return int(s[:-2]) if s.endswith("Gi") and s[:-2].isdigit() else None

expect = {
    "prod":    {"deployment": "prod", "pvc_gi": 1001, "sub": "kubernetes-public/kubernetes-ci-logs-updates/k8s-infra-kettle", "build_limit": None},
    "staging": {"deployment": "staging", "pvc_gi": 101, "sub": "kubernetes-public/kubernetes-ci-logs-updates/k8s-infra-kettle-staging", "build_limit": "1000"},
}

for path in sys.argv[1:]:
    env_name = path.split("/")[0]
    exp = expect[env_name]
    try:
        with open(path) as fh:
            docs = [d for d in yaml.safe_load_all(fh) if d is not None]
        out(True, f"{path}: parses ({len(docs)} documents)")
    except Exception as e:  # noqa: BLE001
        out(False, f"{path}: parses ({e})")
        continue

    by_kind = {}
    for i, d in enumerate(docs):
        where = f"{path}[{i}]"
        out(isinstance(d, dict) and bool(d.get("apiVersion")), f"{where}: apiVersion")
        out(isinstance(d, dict) and bool(d.get("kind")), f"{where}: kind")
        out(bool(get(d, "metadata", "name")), f"{where}: metadata.name")
        if isinstance(d, dict):
            by_kind.setdefault(d.get("kind"), []).append(d)

    # ServiceAccount
    sas = by_kind.get("ServiceAccount", [])
    out(len(sas) == 1, f"{path}: one ServiceAccount")
    sa = sas[0] if sas else {}
    out(get(sa, "metadata", "annotations", "iam.gke.io/gcp-service-account")
        == "kettle@kubernetes-public.iam.gserviceaccount.com",
        f"{path}: ServiceAccount workload identity annotation")

    # PersistentVolumeClaim
    pvcs = by_kind.get("PersistentVolumeClaim", [])
    out(len(pvcs) == 1, f"{path}: one PersistentVolumeClaim")
    pvc = pvcs[0] if pvcs else {}
    out(qty_gi(get(pvc, "spec", "resources", "requests", "storage")) == exp["pvc_gi"],
        f"{path}: PVC size {exp['pvc_gi']}Gi")
    out(get(pvc, "spec", "storageClassName") == "ssd", f"{path}: PVC storage class ssd")

    # Deployment
    deps = by_kind.get("Deployment", [])
    out(len(deps) == 1, f"{path}: one Deployment")
    dep = deps[0] if deps else {}
    out(get(dep, "apiVersion") == "apps/v1", f"{path}: Deployment apiVersion apps/v1")
    out(get(dep, "spec", "replicas") == 1, f"{path}: Deployment 1 replica")
    out(get(dep, "spec", "strategy", "type") == "Recreate", f"{path}: Deployment strategy Recreate")
    sel = get(dep, "spec", "selector", "matchLabels") or {}
    labels = get(dep, "spec", "template", "metadata", "labels") or {}
    out(bool(sel) and all(labels.get(k) == v for k, v in sel.items()),
        f"{path}: selector matches template labels")
    pod = get(dep, "spec", "template", "spec") or {}
    out(pod.get("serviceAccountName") == get(sa, "metadata", "name"),
        f"{path}: pod uses the ServiceAccount")
    out(pod.get("terminationGracePeriodSeconds") == 300, f"{path}: terminationGracePeriodSeconds 300")
    ann = get(dep, "spec", "template", "metadata", "annotations") or {}
    out(str(ann.get("prometheus.io/scrape")) == "true" and str(ann.get("prometheus.io/port")) == "9090",
        f"{path}: prometheus.io scrape annotations on 9090")
    uid = get(pod, "securityContext", "runAsUser")
    out(uid is not None and uid != 0, f"{path}: pod runs as non-root")

    containers = pod.get("containers") or []
    out(len(containers) == 1, f"{path}: one container")
    c = containers[0] if containers else {}
    out(str(c.get("image", "")).startswith("gcr.io/k8s-staging-test-infra/kettle:"), f"{path}: image")
    env = {e.get("name"): e.get("value") for e in (c.get("env") or [])}
    out(env.get("DEPLOYMENT") == exp["deployment"], f"{path}: env DEPLOYMENT={exp['deployment']}")
    out(env.get("SUBSCRIPTION_PATH") == exp["sub"], f"{path}: env SUBSCRIPTION_PATH")
    out(env.get("BUILD_LIMIT") == exp["build_limit"],
        f"{path}: env BUILD_LIMIT={exp['build_limit'] or '(unset)'}")
    for probe, p in (("livenessProbe", "/healthz"), ("readinessProbe", "/healthz/ready")):
        out(get(c, probe, "httpGet", "path") == p and get(c, probe, "httpGet", "port") == 8081,
            f"{path}: {probe} httpGet {p} on 8081")
    ports = {get(p, "containerPort") for p in (c.get("ports") or [])}
    out({9090, 8081} <= ports, f"{path}: container ports 9090 and 8081")
    res = c.get("resources") or {}
    out(all(get(res, k, r) for k in ("requests", "limits") for r in ("cpu", "memory")),
        f"{path}: resources requests and limits (cpu, memory)")
    mounts = {m.get("name"): m.get("mountPath") for m in (c.get("volumeMounts") or [])}
    data_vol = next((n for n, mp in mounts.items() if mp == "/data"), None)
    out(data_vol is not None, f"{path}: volume mounted at /data")
    vols = {v.get("name"): v for v in (pod.get("volumes") or [])}
    out(get(vols.get(data_vol), "persistentVolumeClaim", "claimName") == get(pvc, "metadata", "name"),
        f"{path}: /data volume is the PVC")
    ns = {get(d, "metadata", "namespace") for k in ("ServiceAccount", "PersistentVolumeClaim", "Deployment")
          for d in by_kind.get(k, [])}
    out(len(ns) == 1, f"{path}: one namespace for all objects")
PY
)
elif command -v kubectl >/dev/null 2>&1; then
  # Offline fallback: kustomize parses the YAML; the assertions are textual.
  echo "check: PyYAML not available, minimal checks with kubectl kustomize" >&2
  for f in "${manifests[@]}"; do
    tmp=$(mktemp -d)
    cp "$f" "$tmp/kettle.yaml"
    printf 'resources:\n  - kettle.yaml\n' > "$tmp/kustomization.yaml"
    if rendered=$(kubectl kustomize "$tmp" 2>&1); then
      ok "$f: parses"
      n_docs=$(grep -c '^kind:' <<<"$rendered")
      n_api=$(grep -c '^apiVersion:' <<<"$rendered")
      [[ $n_docs -ge 4 && $n_docs -eq $n_api ]] && ok "$f: apiVersion and kind on every document" || bad "$f: apiVersion and kind on every document"
      for k in Namespace ServiceAccount PersistentVolumeClaim Deployment; do
        check "$f: has $k" grep -qx "kind: $k" <<<"$rendered"
      done
      check "$f: workload identity annotation" grep -q 'iam.gke.io/gcp-service-account: kettle@kubernetes-public.iam.gserviceaccount.com' <<<"$rendered"
      check "$f: probes on 8081" test "$(grep -c 'port: 8081' <<<"$rendered")" -ge 2
      check "$f: liveness /healthz" grep -q 'path: /healthz$' <<<"$rendered"
      check "$f: readiness /healthz/ready" grep -q 'path: /healthz/ready$' <<<"$rendered"
      check "$f: env DEPLOYMENT" grep -q 'name: DEPLOYMENT' <<<"$rendered"
      check "$f: /data mount" grep -q 'mountPath: /data$' <<<"$rendered"
      check "$f: resources" grep -q 'requests:' <<<"$rendered"
      check "$f: strategy Recreate" grep -q 'type: Recreate' <<<"$rendered"
      if [[ $f == prod/* ]]; then size=1001Gi; else size=101Gi; fi
      check "$f: PVC size $size" grep -q "storage: $size" <<<"$rendered"
    else
      bad "$f: parses ($rendered)"
    fi
    rm -rf "$tmp"
  done
else
  bad "no YAML parser (python3-yaml or kubectl) available"
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
if [[ -z $kpy ]]; then
  bad "schema validation: python3-kubernetes is not importable and apt-get could not install it (run scripts/setup.sh)"
else
  # One line per document ("ok   - FILE: Kind name valid ...") or per problem
  # ("FAIL - FILE: Kind name: PATH: problem").
  out=$("$kpy" validate_manifests.py "${manifests[@]}" 2>&1)
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
    ok "validate_manifests_test.py: broken variants of prod/kettle.yaml rejected, real manifests accepted ($(grep -Eo 'Ran [0-9]+ tests?' <<<"$out"))"
  else
    bad "validate_manifests_test.py: broken variants of prod/kettle.yaml rejected, real manifests accepted"
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
  for pkg in libboost-json1.81.0 libssl3 liburing2 libsqlite3-0 libexpat1 zlib1g libyaml-cpp0.7 ca-certificates tzdata; do
    check "$df: runtime package $pkg" grep -Eq "(^|[[:space:]])$pkg([[:space:]]|$)" "$df"
  done
else
  bad "$df exists"
fi

# ---- buckets.yaml ------------------------------------------------------------
if have_pyyaml; then
  check "buckets.yaml: parses, gs:// keys with contact and prefix" python3 - <<'PY'
import yaml
b = yaml.safe_load(open("buckets.yaml"))
assert isinstance(b, dict) and b
for k, v in b.items():
    assert k.startswith("gs://") and k.endswith("/"), k
    assert "contact" in v and "prefix" in v, k
main = b["gs://kubernetes-ci-logs/logs/"]
assert main["prefix"] == "" and main["sequential"] is False
assert isinstance(main["exclude_jobs"], list) and main["exclude_jobs"]
PY
else
  check "buckets.yaml: main bucket" grep -q '^gs://kubernetes-ci-logs/logs/:' buckets.yaml
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
