#!/usr/bin/env python3
"""Generate a kettle build.db with the reference schema, for benchmarks and the demo.

The file is what the reference `make_db --junit` leaves behind: one `build` row
per build (started/finished JSON as sorted `json.dumps` text, finished_time the
finished timestamp), zlib-compressed JUnit XML in `file`, and a few builds
still marked in `build_junit_missing`. Paths match tests/data/sample_buckets.yaml.

Output is a function of --seed, --now and the size flags only. The shipped
sample is: --builds 60 --seed 1 --now 1700000000 --junit-per-build 2
--tests-per-file 8 --out tests/data/sample.db

usage: gen_db.py --builds N --out FILE [--seed S] [--junit-per-build K]
                 [--tests-per-file T] [--days D] [--now EPOCH]
"""

import argparse
import json
import os
import random
import sqlite3
import sys
import time
import zlib
from xml.sax.saxutils import escape

SCHEMA = """
create table if not exists build(gcs_path primary key, started_json, finished_json, finished_time);
create table if not exists file(path string primary key, data);
create table if not exists build_junit_missing(build_id integer primary key);
create index if not exists build_finished_time_idx on build(finished_time);
"""

# Prow's snowflake build ids count milliseconds from this epoch.
SNOWFLAKE_EPOCH_MS = 1288834974657

# (bucket path, style, share of builds, jobs). Styles pick the path layout and
# the started/finished shapes; job kinds pick the JUnit shape.
LAYOUT = [
    ("gs://kubernetes-ci-logs/pr-logs/pull/", "pr", 0.35, [
        ("pull-kubernetes-e2e-gce", "e2e"),
        ("pull-kubernetes-unit", "unit"),
        ("pull-kubernetes-integration", "unit"),
        ("pull-kubernetes-node-e2e-containerd", "node"),
        ("pull-kubernetes-verify", "verify"),
        ("pull-test-infra-unit-test", "unit"),
        ("pull-kind-e2e-kubernetes", "e2e"),
    ]),
    ("gs://kubernetes-ci-logs/logs/", "ci", 0.45, [
        ("ci-kubernetes-e2e-gci-gce", "e2e"),
        ("ci-kubernetes-unit", "unit"),
        ("ci-kubernetes-node-kubelet-serial-containerd", "node"),
        ("ci-kubernetes-kind-e2e-parallel", "e2e"),
        ("ci-kubernetes-e2e-gce-scale-performance", "e2e"),
        ("ci-cri-containerd-e2e-cos-gce", "e2e"),
        ("ci-kubernetes-integration-master", "unit"),
        ("ci-kubernetes-verify-master", "verify"),
    ]),
    ("gs://kubernetes-jenkins/logs/", "jenkins", 0.12, [
        ("ci-kubernetes-node-e2e", "node"),
        ("ci-kubernetes-soak-gce-test", "e2e"),
        ("ci-kubernetes-build", "verify"),
    ]),
    ("gs://istio-prow/logs/", "istio", 0.08, [
        ("unit-tests_istio_postsubmit", "unit"),
        ("integ-pilot-k8s-tests_istio_postsubmit", "e2e"),
    ]),
]

PR_REPOS = ["kubernetes_kubernetes", "kubernetes_test-infra", "kubernetes-sigs_kind"]

SIGS = ["node", "storage", "network", "apps", "cli", "api-machinery", "auth", "scheduling",
        "instrumentation", "autoscaling", "windows", "cloud-provider"]
SUBJECTS = ["Pods", "Services", "Deployment", "StatefulSet", "DNS", "Networking", "PersistentVolumes",
            "ConfigMap", "Secrets", "Kubectl client", "Probing container", "Container Runtime",
            "EmptyDir volumes", "Garbage collector", "ResourceQuota", "Job", "CronJob", "DaemonSet",
            "Ephemeral Containers", "In-tree Volumes [Driver: local][LocalVolumeType: dir]",
            "CSI Volumes [Driver: csi-hostpath]", "Downward API volume", "Lease", "Events API"]
BEHAVIOURS = [
    "should be submitted and removed", "should serve a basic endpoint from pods",
    "should provide DNS for services", "should create a ResourceQuota and capture the life of a pod",
    "should *not* be restarted with a exec \"cat /tmp/health\" liveness probe",
    "should support (non-root,0644,tmpfs)", "should function for intra-pod communication: http",
    "should run through the lifecycle of a ServiceAccount", "should delete pods created by rc when not orphaning",
    "should have a working scale subresource", "should perform rolling updates and roll backs of template modifications",
    "should be able to change the type from ExternalName to ClusterIP", "should update labels on modification",
    "should mount an API token into pods", "should allow substituting values in a container's command",
    "should provide container's cpu limit", "should serve multiport endpoints from pods",
    "should handle in-cluster config", "should honor timeout < 0 && retries > 3",
    "should list, patch and delete a collection of objects",
]
TAGS = ["[Conformance]", "[NodeConformance]", "[Slow]", "[Serial]", "[Disruptive]", "[LinuxOnly]",
        "[Feature:SidecarContainers]", "[Flaky]", "[NodeFeature:Eviction]"]
UNICODE_BITS = ["with label café", "for volume 日本語", "with annotation \U0001F680", "über-long names", "ñandú"]
PACKAGES = ["pkg/kubelet/cm", "pkg/scheduler/framework", "pkg/controller/job", "pkg/api/pod",
            "staging/src/k8s.io/apiserver/pkg/storage", "pkg/proxy/iptables", "cmd/kubeadm/app/util",
            "pkg/volume/csi", "test/integration/apiserver", "pkg/registry/core/service"]
GO_WORDS = ["Pod", "Container", "Manager", "Limits", "Update", "Validate", "Convert", "Sync", "Queue", "Status",
            "Lease", "Proxy", "Endpoint", "Quota", "Volume", "Admission", "Cache", "Watch", "Retry", "Policy"]
VERIFY_SCRIPTS = ["verify-gofmt.sh", "verify-golint.sh", "verify-typecheck.sh", "verify-codegen.sh",
                  "verify-vendor.sh", "verify-spelling.sh", "verify-boilerplate.sh", "verify-openapi-spec.sh",
                  "verify-generated-docs.sh", "verify-shellcheck.sh", "verify-api-groups.sh", "verify-imports.sh"]


def attr(value):
    """A double-quoted XML attribute; newlines survive attribute normalisation."""
    return '"' + escape(value, {'"': "&quot;", "\n": "&#10;", "\t": "&#9;"}) + '"'


def sha(rng):
    return "%040x" % rng.getrandbits(160)


def pyjson(obj):
    """The reference stores JSON text exactly like this."""
    return json.dumps(obj, sort_keys=True)


# ---------------------------------------------------------------------------
# Test universes: each job runs the same tests every build, as real jobs do.

def ginkgo_name(rng, use_unicode):
    tags = " ".join(sorted(rng.sample(TAGS, rng.choice([0, 0, 1, 1, 2]))))
    name = "[sig-%s] %s %s" % (rng.choice(SIGS), rng.choice(SUBJECTS), rng.choice(BEHAVIOURS))
    if use_unicode:
        name += " " + rng.choice(UNICODE_BITS)
    return (name + " " + tags).strip()


def go_test_name(rng):
    name = "Test" + "".join(rng.sample(GO_WORDS, rng.randint(1, 3)))
    if rng.random() < 0.5:
        name += "/" + rng.choice(["with_limits", "empty_spec", "nil_pointer", "v1beta1", "happy_path", "too_many"])
        if rng.random() < 0.08:  # go test numbers repeated subtest names
            name += "#%02d" % rng.randint(1, 3)
    return name


def unique_names(rng, count, make):
    names, seen = [], set()
    attempts = 0
    while len(names) < count:
        attempts += 1
        name = make()
        if name in seen:
            if attempts > count * 20:
                name = "%s (%d)" % (name, attempts)
            else:
                continue
        seen.add(name)
        names.append(name)
    return names


def with_heads(suites):
    """Escapes each name once per job: [(suite, [(name, '<testcase name=.. classname=..')])]."""
    return [(suite, [(n, "<testcase name=%s classname=%s" % (attr(n), attr(suite))) for n in names])
            for suite, names in suites]


def job_universe(seed, job, kind, files, tests_per_file):
    """Per JUnit file of the job: (root style, suites), suites as with_heads() returns them."""
    rng = random.Random("%s/%s" % (seed, job))
    out = []
    for index in range(files):
        count = max(1, tests_per_file)
        if kind in ("e2e", "node"):
            suite = "Kubernetes e2e suite" if kind == "e2e" else "E2eNode Suite"
            names = unique_names(rng, count, lambda: ginkgo_name(rng, rng.random() < 0.01))
            if index == 0:
                names[0] = "[SynchronizedBeforeSuite]"
            root = "testsuite" if rng.random() < 0.6 else "testsuites"
            if root == "testsuites":  # ginkgo v2 prefixes the node type
                names = [n if n.startswith("[Sync") else "[It] " + n for n in names]
            out.append((root, with_heads([(suite, names)])))
        elif kind == "verify":
            names = rng.sample(VERIFY_SCRIPTS, min(count, len(VERIFY_SCRIPTS)))
            out.append(("testsuites", with_heads([("verify", names)])))
        else:
            packages = rng.sample(PACKAGES, rng.randint(2, 4))
            suites = []
            per = max(1, count // len(packages))
            for pkg in packages:
                suites.append(("k8s.io/kubernetes/" + pkg, unique_names(rng, per, lambda: go_test_name(rng))))
            out.append(("testsuites", with_heads(suites)))
    return out


# ---------------------------------------------------------------------------
# JUnit text of one file of one build.

def failure_element(rng, name, kind):
    line = rng.randint(40, 900)
    if kind in ("e2e", "node"):
        detail = rng.choice([
            "Timed out after %.3fs.\nExpected\n    <bool>: false\nto be true" % rng.uniform(30, 900),
            "error waiting for pod \"pod-%x\" to be running: pod ran to completion & failed" % rng.getrandbits(24),
            "Unexpected error:\n    <*errors.errorString | 0xc000%x>: {\n        s: \"context deadline exceeded\",\n    }"
            % rng.getrandbits(20),
        ])
        if rng.random() < 0.5:  # ginkgo v1: text only
            text = "test/e2e/framework/pod/wait.go:%d\n%s\ntest/e2e/common/node/pods.go:%d" % (line, detail, line + 7)
            return "<failure type=\"Failure\">%s</failure>" % escape(text)
        message = "[FAILED] " + detail
        text = "%s\nIn [It] at: test/e2e/common/node/pods.go:%d" % (message, line)
        return "<failure message=%s type=\"failed\">%s</failure>" % (attr(message), escape(text))
    want, got = rng.randint(0, 9), rng.randint(10, 99)
    text = "    %s_test.go:%d: expected %d, got %d\n    %s_test.go:%d: cleanup failed: <nil> != \"ok\"" % (
        name.split("/")[0].lower(), line, want, got, name.split("/")[0].lower(), line + 3)
    return "<failure message=\"Failed\" type=\"\">%s</failure>" % escape(text)


def test_time(rng, kind):
    r = rng.random()
    if r < 0.02:
        return ""  # no time attribute at all
    if r < 0.03:
        return ' time=""'
    if kind in ("e2e", "node"):
        return ' time="%.9f"' % rng.expovariate(1 / 40.0)
    return ' time="%.3f"' % rng.expovariate(1 / 0.8)


def testcase(rng, name, head, kind, fail_rate, stats):
    """One <testcase> element; counts go into stats."""
    head += test_time(rng, kind)
    skip_rate = 0.15 if kind in ("e2e", "node") else 0.02
    r = rng.random()
    stats["tests"] += 1
    if r < skip_rate:
        stats["skipped"] += 1
        return head + "><skipped message=\"skipped\"></skipped></testcase>"
    if rng.random() < fail_rate:
        stats["failures"] += 1
        return head + ">" + failure_element(rng, name, kind) + "</testcase>"
    if rng.random() < 0.003:  # <error> is not a failure for kettle
        return head + "><error message=\"panic: runtime error\">goroutine 1 [running]</error></testcase>"
    return head + "></testcase>"


def junit_xml(rng, root, suites, kind, fail_rate, tests_per_file):
    """Stored JUnit text: <system-out> below depth 1 is already stripped (SPEC 3.3)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n']
    total = {"tests": 0, "failures": 0, "skipped": 0}
    bodies = []
    for suite, tests in suites:
        # Builds run a varying subset: a few tests come and go.
        keep = tests if len(tests) <= 3 else [t for t in tests if rng.random() < 0.95]
        stats = {"tests": 0, "failures": 0, "skipped": 0}
        cases = [testcase(rng, name, head, kind, fail_rate, stats) for name, head in keep]
        bodies.append((suite, stats, cases))
        for k in total:
            total[k] += stats[k]
    elapsed = "%.3f" % rng.uniform(1, 3600)
    if root == "testsuite":
        suite, stats, cases = bodies[0]
        parts.append("<testsuite name=%s tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\" time=\"%s\">\n" % (
            attr(suite), stats["tests"], stats["failures"], stats["skipped"], elapsed))
        parts.append("\n".join(cases))
        if rng.random() < 0.1:  # a suite-level log survives stripping at depth 1
            parts.append("\n<system-out>Running Suite: %s\n=====\nRandom Seed: %d</system-out>" % (
                escape(suite), rng.getrandbits(31)))
        parts.append("\n</testsuite>\n")
    else:
        parts.append("<testsuites tests=\"%d\" failures=\"%d\" time=\"%s\">\n" % (
            total["tests"], total["failures"], elapsed))
        for suite, stats, cases in bodies:
            parts.append("  <testsuite name=%s tests=\"%d\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n" % (
                attr(suite), stats["tests"], stats["failures"], rng.uniform(0.1, 600)))
            parts.append("\n".join("    " + c for c in cases))
            parts.append("\n  </testsuite>\n")
        parts.append("</testsuites>\n")
    return "".join(parts), total


# ---------------------------------------------------------------------------
# started.json / finished.json

def metadata(rng, version, style):
    meta = {"infra-commit": sha(rng)[:9], "repo": rng.choice(["k8s.io/kubernetes", "k8s.io/kubernetes", ""]),
            "node_os_image": rng.choice(["cos-109-17800-66-27", "ubuntu-2204-jammy-v20240501"]),
            "pod": "%08x-%04x" % (rng.getrandbits(32), rng.getrandbits(16))}
    if version:
        meta["job-version"] = version
        if rng.random() < 0.5:
            meta["version"] = version
    # Non-string values: the row builder must re-serialise them as Python JSON.
    if rng.random() < 0.6:
        meta["test-count"] = rng.randint(10, 5000)
    if rng.random() < 0.3:
        meta["flaky-ratio"] = rng.choice([0.5, 0.1, 1e-05, 3900.0, 0.25])
    if rng.random() < 0.3:
        meta["uploaded"] = rng.random() < 0.5
    if rng.random() < 0.2:
        meta["repos"] = {"k8s.io/kubernetes": "master", "k8s.io/release": "master"}
    if rng.random() < 0.1:
        meta["images"] = ["registry.k8s.io/pause:3.9", {"name": "etcd", "tag": "3.5.12-0"}, None]
    if rng.random() < 0.05:
        meta["owner"] = rng.choice(["café team", "sig-node \u2192 triage", "\U0001F680 launch"])
    if style == "jenkins" and rng.random() < 0.5:
        meta["master_os_image"] = meta["node_os_image"]
    return meta


def started_finished(rng, build, style, now):
    """The started and finished objects of one build (finished may be None)."""
    started_ts, finished_ts = build["started"], build["finished"]
    version = "v1.%d.0-alpha.%d.%d+%s" % (rng.randint(28, 32), rng.randint(0, 3), rng.randint(1, 900), sha(rng)[:16])
    commit = sha(rng)
    if style == "pr":
        repo = build["org_repo"].replace("_", "/", 1)
        started = {"timestamp": started_ts, "pull": str(build["pr"]),
                   "repos": {repo: "master:%s,%d:%s" % (sha(rng), build["pr"], sha(rng))},
                   "repo-version": commit, "repo-commit": commit}
    elif style == "jenkins":  # bootstrap.py shape
        started = {"timestamp": started_ts, "node": "%08x-cacb-11ea-a4b9-%012x" % (rng.getrandbits(32), rng.getrandbits(48)),
                   "repos": {"k8s.io/kubernetes": "master", "k8s.io/release": "master"},
                   "repo-version": version, "version": version}
        if rng.random() < 0.3:
            started["pull"] = "master:" + commit[:5]
    else:  # pod-utils shape
        started = {"timestamp": started_ts, "repos": {"kubernetes/kubernetes": "master:" + commit},
                   "repo-version": commit, "repo-commit": commit}
        if rng.random() < 0.5:
            started["node"] = "gke-prow-build-pool-%08x-%04x" % (rng.getrandbits(32), rng.getrandbits(16))
        if rng.random() < 0.1:
            started["metadata"] = {"started-by": "periodic", "attempt": rng.randint(1, 3)}
    if finished_ts is None:
        return started, None
    result = build["result"]
    finished = {"timestamp": finished_ts, "passed": result == "SUCCESS"}
    if style == "jenkins" and rng.random() < 0.15:
        return started, finished  # old bootstrap: `passed` only, no `result`
    finished["result"] = result
    finished["revision"] = commit if style != "jenkins" else "master"
    if style in ("jenkins", "ci") or rng.random() < 0.3:
        finished["version"] = version
        finished["job-version"] = version
        finished["metadata"] = metadata(rng, version, style)
    return started, finished


# ---------------------------------------------------------------------------
# The plan: which builds exist, in the order the reference collects them.

def split(total, weights):
    """Integer counts summing to total, proportional to weights."""
    raw = [total * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: counts[i] - raw[i])[: total - sum(counts)]:
        counts[i] += 1
    return counts


def snowflake(rng, ts, used):
    while True:
        value = ((ts * 1000 + rng.randint(0, 999) - SNOWFLAKE_EPOCH_MS) << 22) | rng.getrandbits(22)
        if value not in used:
            used.add(value)
            return value


def plan_job(rng, bucket, style, job, count, now, span):
    """Builds of one job, newest first (the reference walks jobs that way)."""
    builds = []
    for _ in range(count):
        duration = int(rng.uniform(180, 3 * 3600))
        finished = now - int(rng.uniform(0, span))
        build = {"started": finished - duration, "finished": finished}
        r = rng.random()
        if r < 0.03:  # still running, or the pod vanished: started.json only
            build["finished"] = None
            build["started"] = now - int(rng.uniform(0, span))
        build["result"] = "SUCCESS" if r < 0.75 else ("FAILURE" if r < 0.96 else "ABORTED")
        builds.append(build)
    builds.sort(key=lambda b: b["started"], reverse=True)
    used = set()
    first_number = rng.randint(1000, 20000)
    for i, build in enumerate(builds):
        if style == "jenkins":
            number = first_number + len(builds) - i
        else:
            number = snowflake(rng, build["started"], used)
        if style == "pr":
            build["org_repo"] = rng.choice(PR_REPOS)
            build["pr"] = rng.randint(90000, 125000)
            build["path"] = "%s%s/%d/%s/%d" % (bucket, build["org_repo"], build["pr"], job, number)
        else:
            build["path"] = "%s%s/%d" % (bucket, job, number)
    return builds


def plan(rng, n, now, span):
    """[(style, job, kind, build)] in collection order: PR builds first, then buckets in file order."""
    out = []
    for (bucket, style, _, jobs), count in zip(LAYOUT, split(n, [share for _, _, share, _ in LAYOUT])):
        weights = [rng.uniform(0.5, 2.0) for _ in jobs]
        for (job, kind), job_count in zip(jobs, split(count, weights)):
            for build in plan_job(rng, bucket, style, job, job_count, now, span):
                out.append((style, job, kind, build))
    return out


# ---------------------------------------------------------------------------

def junit_files(rng, build, kind, universe, per_build, tests_per_file, stats):
    """[(path, zlib data)] of one build."""
    if build["finished"] is None or rng.random() < 0.04:
        return []  # running, or a job that wrote no JUnit
    count = per_build if rng.random() < 0.7 else rng.randint(1, per_build)
    if build["result"] == "ABORTED":
        count = rng.randint(0, per_build)
    fail_rate = rng.uniform(0.02, 0.38) if build["result"] == "FAILURE" else (0.002 if rng.random() < 0.1 else 0.0)
    files = []
    for index in range(min(count, len(universe))):
        root, suites = universe[index]
        text, counts = junit_xml(rng, root, suites, kind, fail_rate, tests_per_file)
        data = text.encode("utf-8")
        stats["junit_bytes"] += len(data)
        stats["tests"] += counts["tests"]
        stats["failures"] += counts["failures"]
        files.append(("%s/artifacts/junit_%02d.xml" % (build["path"], index + 1), zlib.compress(data)))
    return files


def generate(db, args, now):
    rng = random.Random(args.seed)
    span = int(args.days * 86400)
    stats = {"builds": 0, "started_only": 0, "files": 0, "junit_bytes": 0, "tests": 0, "failures": 0, "missing": 0}
    universes = {}
    db.execute("begin")
    for style, job, kind, build in plan(rng, args.builds, now, span):
        if job not in universes:
            universes[job] = job_universe(args.seed, job, kind, args.junit_per_build, args.tests_per_file)
        started, finished = started_finished(rng, build, style, now)
        cursor = db.execute("insert into build(gcs_path, started_json, finished_json, finished_time) values (?,?,?,?)",
                            (build["path"], pyjson(started), None if finished is None else pyjson(finished),
                             None if finished is None else finished["timestamp"]))
        stats["builds"] += 1
        stats["started_only"] += finished is None
        files = junit_files(rng, build, kind, universes[job], args.junit_per_build, args.tests_per_file, stats)
        db.executemany("insert into file(path, data) values (?,?)", files)
        stats["files"] += len(files)
        # Builds collected after the last JUnit pass are still marked missing.
        if not files and rng.random() < 0.3:
            db.execute("insert into build_junit_missing(build_id) values (?)", (cursor.lastrowid,))
            stats["missing"] += 1
    db.execute("commit")
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, required=True, help="number of builds")
    parser.add_argument("--out", required=True, help="database file (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--junit-per-build", type=int, default=3, help="JUnit files of a typical build")
    parser.add_argument("--tests-per-file", type=int, default=100, help="testcases of a typical JUnit file")
    parser.add_argument("--days", type=float, default=30, help="finish times spread over this many days before now")
    parser.add_argument("--now", type=int, default=None, help="epoch seconds taken as now (default: the clock)")
    args = parser.parse_args()
    if args.builds < 0 or args.junit_per_build < 1 or args.tests_per_file < 1 or args.days <= 0:
        parser.error("--builds must be >= 0; --junit-per-build, --tests-per-file and --days must be positive")
    now = args.now if args.now is not None else int(time.time())

    for suffix in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(args.out + suffix):
            os.remove(args.out + suffix)
    begin = time.monotonic()
    db = sqlite3.connect(args.out, isolation_level=None)
    db.executescript(SCHEMA)
    stats = generate(db, args, now)
    db.close()
    seconds = time.monotonic() - begin

    print("%s: %d builds (%d started only, %d marked junit-missing), %d JUnit files with %d tests (%d failed), "
          "%.1f MB JUnit uncompressed, DB %.1f MB, %.1f s" % (
              args.out, stats["builds"], stats["started_only"], stats["missing"], stats["files"], stats["tests"],
              stats["failures"], stats["junit_bytes"] / 1e6, os.path.getsize(args.out) / 1e6, seconds))


if __name__ == "__main__":
    sys.exit(main())
