#!/usr/bin/env python3
"""The rules deploy/check.sh applies to the manifests and to buckets.yaml
(python3 + PyYAML, offline).

    python3 deploy/checks.py [--buckets FILE] [ENV=RENDERED...]

Each RENDERED file is the output of `kubectl kustomize deploy/ENV` (ENV: prod
or staging), checked against that environment. The rules pin what lets the
manifests apply over a running Python kettle (object names, namespaces,
selector, volume names and sizes), what kettle reads from its environment
(DEPLOYMENT, SUBSCRIPTION_PATH, BUCKETS_URL, no TZ), the image tag (the
project version, never `latest`) and the monitoring objects (the metrics
Service and ServiceMonitor of each deployment; prod: the alerts and the
dashboard). --buckets checks a buckets.yaml.

Prints one line per check, "ok<TAB>message" or "FAIL<TAB>message"; exits 1
when a check fails. validate_manifests.py checks the same manifests against
the Kubernetes API types; checks_test.py tests these rules.
"""
import json
import os
import re
import subprocess
import sys

import yaml

try:  # Python 3.11+
    from re import _constants as sre_constants, _parser as sre_parse
except ImportError:
    import sre_constants
    import sre_parse

HERE = os.path.dirname(os.path.abspath(__file__))
MESON_BUILD = os.path.join(HERE, "..", "meson.build")
PROMETHEUS_RULE = os.path.join(HERE, "monitoring", "prometheus-rule.yaml")

IMAGE_REPOSITORY = "gcr.io/k8s-staging-test-infra/kettle"
BUCKETS_URL = "https://raw.githubusercontent.com/kubernetes/test-infra/master/kettle/buckets.yaml"
SERVICE_ACCOUNT_EMAIL = "kettle@kubernetes-public.iam.gserviceaccount.com"

# What each environment must be called and sized so that `kubectl apply`
# takes over the objects of the running Python kettle (selectors, volume
# sources and claims cannot change, and a claim cannot shrink). The alerts
# and the dashboard (PrometheusRule, ConfigMap) are the cluster's, in prod.
EXPECT = {
    "prod": {
        "kinds": {"Namespace", "ServiceAccount", "PersistentVolumeClaim", "Deployment", "Service",
                  "ServiceMonitor", "PrometheusRule", "ConfigMap"},
        "namespace": "kettle",
        "service_account": "kettle",
        "pvc": "kettle-data",
        "pvc_gi": 3001,
        "pv": None,
        "deployment": "kettle",
        "app": "kettle",
        "container": "kettle",
        "service": "kettle-metrics",
        "env": {
            "DEPLOYMENT": "prod",
            "SUBSCRIPTION_PATH": "kubernetes-public/kubernetes-ci-logs-updates/k8s-infra-kettle",
            "BUILD_LIMIT": None,
        },
    },
    "staging": {
        "kinds": {"ServiceAccount", "PersistentVolume", "PersistentVolumeClaim", "Deployment", "Service",
                  "ServiceMonitor"},
        "namespace": "default",
        "service_account": "kettle",
        "pvc": "kettle-data-staging",
        "pvc_gi": 201,
        "pv": {"name": "kettle-data-staging", "pd_name": "kettle-data-staging", "fs_type": "ext4"},
        "deployment": "kettle-staging",
        "app": "kettle-staging",
        "container": "kettle-staging",
        "service": "kettle-staging-metrics",
        "env": {
            "DEPLOYMENT": "staging",
            "SUBSCRIPTION_PATH": "kubernetes-public/kubernetes-ci-logs-updates/k8s-infra-kettle-staging",
            "BUILD_LIMIT": "1000",
        },
    },
}

# Every env the manifests must set; None: must not be set.
COMMON_ENV = {"KETTLE_DB": "/data/build.db", "BUCKETS_URL": BUCKETS_URL, "TZ": None}

BUCKET_KEYS = ("contact", "prefix", "sequential", "exclude_jobs")
MAIN_BUCKET = "gs://kubernetes-ci-logs/logs/"

# The scrape job every rule and dashboard query selects (job="kettle").
JOB = "kettle"


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


def project_version(meson_build=MESON_BUILD):
    """The version in meson.build's project() call: what `kettle --version` prints."""
    with open(meson_build) as fh:
        text = fh.read()
    m = re.search(r"project\(\s*'kettle'[^)]*?\bversion\s*:\s*'([^']+)'", text)
    if not m:
        raise ValueError(f"{meson_build}: no version in project('kettle', ...)")
    return m.group(1)


def split_image(image):
    """(repository, tag or None, digest or None) of an image reference."""
    ref, _, digest = image.partition("@")
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:], digest or None
    return ref, None, digest or None


def image_problem(image, version):
    """None when image is IMAGE_REPOSITORY:version, else what is wrong."""
    if not isinstance(image, str) or not image:
        return "no image"
    repo, tag, _ = split_image(image)
    if repo != IMAGE_REPOSITORY:
        return f"image {image!r} is not from {IMAGE_REPOSITORY}"
    if tag is None:
        return f"image {image!r} has no tag (it would pull `latest`); tag it with the version"
    if tag.lower() == "latest":
        return f"image {image!r} is tagged `latest`; use the version tag {version!r}"
    if tag != version:
        return (f"image tag {tag!r} is not the project version {version!r} "
                "(meson.build, `kettle --version`)")
    return None


def render(env_name, deploy_dir=HERE):
    """The text `kubectl kustomize deploy/ENV` prints, as deploy/check.sh
    renders it (the tests' fixtures). Raises RuntimeError without kubectl."""
    try:
        out = subprocess.run(["kubectl", "kustomize", os.path.join(deploy_dir, env_name)],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"kubectl kustomize deploy/{env_name}: {e} (scripts/setup.sh installs kubectl)") from e
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize deploy/{env_name}: {out.stderr.strip()}")
    return out.stdout


def load_documents(path):
    with open(path) as fh:
        return [d for d in yaml.safe_load_all(fh) if d is not None]


def check_manifest(path, env_name, version):
    """Yields (passed, message) for one environment's manifest."""
    exp = EXPECT[env_name]
    try:
        docs = load_documents(path)
    except (OSError, yaml.YAMLError) as e:
        yield False, f"{path}: parses ({' '.join(str(e).split())})"
        return
    yield True, f"{path}: parses ({len(docs)} documents)"

    by_kind = {}
    for i, d in enumerate(docs):
        where = f"{path}[{i}]"
        yield isinstance(d, dict) and bool(d.get("apiVersion")), f"{where}: apiVersion"
        yield isinstance(d, dict) and bool(d.get("kind")), f"{where}: kind"
        yield bool(get(d, "metadata", "name")), f"{where}: metadata.name"
        if isinstance(d, dict):
            by_kind.setdefault(d.get("kind"), []).append(d)
    kinds = set(by_kind)
    yield (kinds == exp["kinds"] and all(len(v) == 1 for v in by_kind.values()),
           f"{path}: one each of {', '.join(sorted(exp['kinds']))} (got "
           + ", ".join(f"{len(v)} {k}" for k, v in sorted(by_kind.items(), key=lambda kv: str(kv[0]))) + ")")

    def one(kind):
        return (by_kind.get(kind) or [{}])[0]

    # Namespace: every namespaced object in the expected one, set explicitly.
    ns = exp["namespace"]
    if "Namespace" in exp["kinds"]:
        yield get(one("Namespace"), "metadata", "name") == ns, f"{path}: Namespace {ns}"
    namespaced = [d for k, ds in by_kind.items() if k not in ("Namespace", "PersistentVolume") for d in ds]
    got = sorted({str(get(d, "metadata", "namespace")) for d in namespaced})
    yield got == [ns], f"{path}: namespace {ns} on every namespaced object (got {', '.join(got) or 'none'})"

    # ServiceAccount
    sa = one("ServiceAccount")
    yield (get(sa, "metadata", "name") == exp["service_account"],
           f"{path}: ServiceAccount {exp['service_account']}")
    yield (get(sa, "metadata", "annotations", "iam.gke.io/gcp-service-account") == SERVICE_ACCOUNT_EMAIL,
           f"{path}: ServiceAccount workload identity annotation")

    # PersistentVolumeClaim (and the staging PersistentVolume it binds)
    pvc = one("PersistentVolumeClaim")
    size = get(pvc, "spec", "resources", "requests", "storage")
    yield get(pvc, "metadata", "name") == exp["pvc"], f"{path}: PVC name {exp['pvc']}"
    yield qty_gi(size) == exp["pvc_gi"], f"{path}: PVC size {exp['pvc_gi']}Gi (got {size})"
    yield get(pvc, "spec", "storageClassName") == "ssd", f"{path}: PVC storage class ssd"
    yield get(pvc, "spec", "accessModes") == ["ReadWriteOnce"], f"{path}: PVC access mode ReadWriteOnce"
    pv_exp = exp["pv"]
    if pv_exp:
        pv = one("PersistentVolume")
        yield get(pv, "metadata", "name") == pv_exp["name"], f"{path}: PersistentVolume {pv_exp['name']}"
        yield (get(pv, "spec", "gcePersistentDisk", "pdName") == pv_exp["pd_name"]
               and get(pv, "spec", "gcePersistentDisk", "fsType") == pv_exp["fs_type"],
               f"{path}: PersistentVolume on GCE disk {pv_exp['pd_name']} ({pv_exp['fs_type']})")
        yield (get(pv, "spec", "persistentVolumeReclaimPolicy") == "Retain",
               f"{path}: PersistentVolume reclaim policy Retain")
        yield get(pv, "spec", "storageClassName") == "ssd", f"{path}: PersistentVolume storage class ssd"
        yield get(pv, "spec", "accessModes") == ["ReadWriteOnce"], f"{path}: PersistentVolume access mode ReadWriteOnce"
        cap = get(pv, "spec", "capacity", "storage")
        yield qty_gi(cap) == exp["pvc_gi"], f"{path}: PersistentVolume capacity {exp['pvc_gi']}Gi (got {cap})"
        yield (get(pvc, "spec", "volumeName") == pv_exp["name"],
               f"{path}: PVC bound to PersistentVolume {pv_exp['name']} (volumeName)")
    else:
        yield get(pvc, "spec", "volumeName") is None, f"{path}: PVC provisioned by its storage class (no volumeName)"

    # Deployment
    dep = one("Deployment")
    yield get(dep, "metadata", "name") == exp["deployment"], f"{path}: Deployment {exp['deployment']}"
    yield get(dep, "apiVersion") == "apps/v1", f"{path}: Deployment apiVersion apps/v1"
    yield get(dep, "spec", "replicas") == 1, f"{path}: Deployment 1 replica"
    strategy = get(dep, "spec", "strategy") or {}
    yield get(strategy, "type") == "Recreate", f"{path}: Deployment strategy Recreate"
    yield ("rollingUpdate" in strategy and strategy["rollingUpdate"] is None,
           f"{path}: strategy clears rollingUpdate (`rollingUpdate: null`, so apply can switch from RollingUpdate)")
    sel = get(dep, "spec", "selector", "matchLabels") or {}
    labels = get(dep, "spec", "template", "metadata", "labels") or {}
    yield sel == {"app": exp["app"]}, f"{path}: selector app={exp['app']} (a selector cannot change)"
    yield bool(sel) and all(labels.get(k) == v for k, v in sel.items()), f"{path}: selector matches template labels"
    pod = get(dep, "spec", "template", "spec") or {}
    yield pod.get("serviceAccountName") == exp["service_account"], f"{path}: pod uses the ServiceAccount"
    yield pod.get("terminationGracePeriodSeconds") == 300, f"{path}: terminationGracePeriodSeconds 300"
    ann = get(dep, "spec", "template", "metadata", "annotations") or {}
    yield (str(ann.get("prometheus.io/scrape")) == "true" and str(ann.get("prometheus.io/port")) == "9090",
           f"{path}: prometheus.io scrape annotations on 9090")
    uid = get(pod, "securityContext", "runAsUser")
    yield uid is not None and uid != 0, f"{path}: pod runs as non-root"

    containers = pod.get("containers") or []
    yield len(containers) == 1, f"{path}: one container"
    c = containers[0] if containers else {}
    yield c.get("name") == exp["container"], f"{path}: container name {exp['container']}"
    problem = image_problem(c.get("image"), version)
    yield problem is None, f"{path}: image {IMAGE_REPOSITORY}:{version}" + (f" ({problem})" if problem else "")
    env = {}
    for e in c.get("env") or []:
        if isinstance(e, dict):
            env[e.get("name")] = e.get("value")
    for name, value in {**exp["env"], **COMMON_ENV}.items():
        if value is None:
            yield name not in env, f"{path}: env {name} not set"
        else:
            yield env.get(name) == value, f"{path}: env {name}={value}"
    for probe, p in (("livenessProbe", "/healthz"), ("readinessProbe", "/healthz/ready")):
        yield (get(c, probe, "httpGet", "path") == p and get(c, probe, "httpGet", "port") == 8081,
               f"{path}: {probe} httpGet {p} on 8081")
    ports = {get(p, "containerPort") for p in (c.get("ports") or [])}
    yield {9090, 8081} <= ports, f"{path}: container ports 9090 and 8081"
    res = c.get("resources") or {}
    yield (all(get(res, k, r) for k in ("requests", "limits") for r in ("cpu", "memory")),
           f"{path}: resources requests and limits (cpu, memory)")
    mounts = {m.get("name"): m.get("mountPath") for m in (c.get("volumeMounts") or []) if isinstance(m, dict)}
    data_vol = next((n for n, mp in mounts.items() if mp == "/data"), None)
    yield data_vol is not None, f"{path}: volume mounted at /data"
    vols = {v.get("name"): v for v in (pod.get("volumes") or []) if isinstance(v, dict)}
    yield (get(vols.get(data_vol), "persistentVolumeClaim", "claimName") == exp["pvc"],
           f"{path}: /data volume is the PVC {exp['pvc']}")

    yield from check_monitoring(path, env_name, one, c, labels)


def check_monitoring(path, env_name, one, container, pod_labels):
    """The metrics Service and ServiceMonitor of the deployment and, in prod,
    the cluster's alerts and dashboard."""
    exp = EXPECT[env_name]
    svc = one("Service")
    yield get(svc, "metadata", "name") == exp["service"], f"{path}: Service {exp['service']}"
    sel = get(svc, "spec", "selector") or {}
    yield (sel == {"app": exp["app"]} and all(pod_labels.get(k) == v for k, v in sel.items()),
           f"{path}: Service selects the Deployment's pods (app={exp['app']})")
    container_ports = {p.get("name") for p in (container.get("ports") or []) if isinstance(p, dict)}
    svc_ports = {p.get("name"): p for p in (get(svc, "spec", "ports") or []) if isinstance(p, dict)}
    metrics = svc_ports.get("metrics") or {}
    yield (metrics.get("port") == 9090 and metrics.get("targetPort") in container_ports | {9090},
           f"{path}: Service port metrics (9090) targets the container's metrics port")

    sm = one("ServiceMonitor")
    want = get(sm, "spec", "selector", "matchLabels") or {}
    svc_labels = get(svc, "metadata", "labels") or {}
    yield (bool(want) and all(svc_labels.get(k) == v for k, v in want.items()),
           f"{path}: ServiceMonitor selects the Service")
    ns_names = get(sm, "spec", "namespaceSelector", "matchNames")
    yield (ns_names is None or exp["namespace"] in ns_names,
           f"{path}: ServiceMonitor looks in namespace {exp['namespace']}")
    endpoints = get(sm, "spec", "endpoints") or []
    yield (bool(endpoints) and all(get(e, "port") in svc_ports for e in endpoints),
           f"{path}: ServiceMonitor endpoints name the Service's ports")
    job_label = get(sm, "spec", "jobLabel")
    yield (job_label is not None and svc_labels.get(job_label) == JOB,
           f"{path}: scrape job label {JOB!r} (ServiceMonitor jobLabel {job_label} on the Service)")

    if "PrometheusRule" not in exp["kinds"]:
        return
    rule = one("PrometheusRule")
    try:
        with open(PROMETHEUS_RULE) as fh:
            shipped = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as e:
        shipped = None
        yield False, f"{PROMETHEUS_RULE}: parses ({' '.join(str(e).split())})"
    yield (shipped is not None and get(rule, "spec") == get(shipped, "spec") and bool(get(rule, "spec", "groups")),
           f"{path}: PrometheusRule carries deploy/monitoring/prometheus-rule.yaml's groups")
    cm = one("ConfigMap")
    yield get(cm, "metadata", "name") == "kettle-dashboard", f"{path}: ConfigMap kettle-dashboard"
    yield (str(get(cm, "metadata", "labels", "grafana_dashboard")) == "1",
           f"{path}: dashboard labelled grafana_dashboard=1 for Grafana's sidecar")
    try:
        dashboard = json.loads(get(cm, "data", "kettle-dashboard.json") or "")
    except ValueError:
        dashboard = None
    yield (isinstance(dashboard, dict) and dashboard.get("uid") == "kettle",
           f"{path}: ConfigMap holds kettle-dashboard.json (JSON, uid kettle)")


def re2_refuses(pattern):
    """Why kettle (RE2 syntax) refuses a pattern Python's re accepts, or None.
    RE2 matches in linear time and so has no backreferences, lookaround,
    conditionals, atomic groups or possessive repeats; it also has no \\Z,
    no verbose mode and no repeat count above 1000. kettle's own load is the
    final word; this catches what published lists may plausibly contain."""
    c = sre_constants
    found = []

    def walk(sub):
        for op, av in sub:
            if op in (c.GROUPREF, c.GROUPREF_EXISTS):
                found.append("backreferences" if op is c.GROUPREF else "conditionals")
            elif op in (c.ASSERT, c.ASSERT_NOT):
                found.append("lookaround")
            elif op is getattr(c, "ATOMIC_GROUP", None) or op is getattr(c, "POSSESSIVE_REPEAT", None):
                found.append("atomic groups or possessive repeats")
            elif op is c.AT and av is c.AT_END_STRING:
                found.append("\\Z (use \\z)")
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and max(n for n in av[:2] if n != c.MAXREPEAT) > 1000:
                found.append("repeat counts above 1000")
            elif op is c.SUBPATTERN and (av[1] | av[2]) & c.SRE_FLAG_VERBOSE:
                found.append("verbose mode (?x)")
            for item in av if isinstance(av, (list, tuple)) else [av]:
                if isinstance(item, sre_parse.SubPattern):
                    walk(item)
                elif isinstance(item, list):  # BRANCH alternatives
                    for alt in item:
                        if isinstance(alt, sre_parse.SubPattern):
                            walk(alt)

    parsed = sre_parse.parse(pattern)
    if parsed.state.flags & c.SRE_FLAG_VERBOSE:
        found.append("verbose mode (?x)")
    walk(parsed)
    return f"RE2 syntax has no {found[0]}" if found else None


def check_buckets(path):
    """Yields (passed, message) for a buckets.yaml: it parses, and every entry
    keeps its keys (contact, prefix, sequential, exclude_jobs) with valid values
    (exclude_jobs: regular expressions in the RE2 syntax kettle compiles)."""
    try:
        with open(path) as fh:
            buckets = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as e:
        yield False, f"{path}: parses ({' '.join(str(e).split())})"
        return
    if not isinstance(buckets, dict) or not buckets:
        yield False, f"{path}: parses to a mapping of buckets (got {type(buckets).__name__})"
        return
    yield True, f"{path}: parses ({len(buckets)} bucket{'s' if len(buckets) != 1 else ''})"
    for url, entry in buckets.items():
        where = f"{path}: {url}"
        problems = []
        if not (isinstance(url, str) and url.startswith("gs://") and url.endswith("/")):
            problems.append("key is not a gs://BUCKET/PATH/ URL")
        if not isinstance(entry, dict):
            yield False, f"{where}: expected a mapping of {', '.join(BUCKET_KEYS)}, got {type(entry).__name__}"
            continue
        unknown = sorted(str(k) for k in entry if k not in BUCKET_KEYS)
        if unknown:
            problems.append(f"unknown keys {', '.join(unknown)} (known: {', '.join(BUCKET_KEYS)})")
        for key in ("contact", "prefix"):
            if key not in entry:
                problems.append(f"missing {key}")
            elif not isinstance(entry[key], str):
                problems.append(f"{key} is not a string")
        prefix = entry.get("prefix")
        if isinstance(prefix, str) and prefix and not prefix.endswith(":"):
            problems.append(f"prefix {prefix!r} does not end in ':'")
        if "sequential" in entry and not isinstance(entry["sequential"], bool):
            problems.append(f"sequential {entry['sequential']!r} is not true or false")
        patterns = entry.get("exclude_jobs", [])
        if not isinstance(patterns, list):
            problems.append("exclude_jobs is not a list")
            patterns = []
        for p in patterns:
            if not isinstance(p, str):
                problems.append(f"exclude_jobs entry {p!r} is not a string")
                continue
            try:
                re.compile(p)
                refused = re2_refuses(p)
            except re.error as e:
                problems.append(f"exclude_jobs entry {p!r} is not a regular expression ({e})")
                continue
            if refused:
                problems.append(f"exclude_jobs entry {p!r} is refused by kettle ({refused})")
        keys = ", ".join(k for k in BUCKET_KEYS if k in entry)
        yield not problems, f"{where}: keys {keys}" + (f" ({'; '.join(problems)})" if problems else "")
    main = buckets.get(MAIN_BUCKET)
    yield (isinstance(main, dict) and all(k in main for k in BUCKET_KEYS)
           and main.get("prefix") == "" and main.get("sequential") is False
           and isinstance(main.get("exclude_jobs"), list) and bool(main["exclude_jobs"]),
           f"{path}: {MAIN_BUCKET} with prefix \"\", sequential false and exclude_jobs")


def main(argv):
    buckets = None
    paths = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--buckets" and args:
            buckets = args.pop(0)
        elif a.startswith("-"):
            print(f"usage: {sys.argv[0]} [--buckets FILE] [ENV=RENDERED...]", file=sys.stderr)
            return 2
        else:
            paths.append(a)
    results = []
    if paths:
        try:
            version = project_version()
            results.append((True, f"project version {version} (meson.build)"))
        except (OSError, ValueError) as e:
            version = None
            results.append((False, f"project version: {e}"))
    for arg in paths:
        env_name, eq, path = arg.partition("=")
        if not eq or env_name not in EXPECT:
            results.append((False, f"{arg}: not ENV=RENDERED with ENV {' or '.join(EXPECT)}"))
            continue
        results.extend(check_manifest(path, env_name, version))
    if buckets:
        results.extend(check_buckets(buckets))
    for passed, msg in results:
        print(("ok" if passed else "FAIL") + "\t" + msg, flush=True)
    return 0 if results and all(p for p, _ in results) else 1


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main(sys.argv[1:]))
