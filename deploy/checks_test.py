#!/usr/bin/env python3
"""Self-test of deploy/checks.py: the rendered overlays (`kubectl kustomize
deploy/prod`, deploy/staging) and buckets.yaml pass, and variants of the
rendered YAML that would break a deployment over a running Python kettle
(other names or sizes, a `latest` image, no BUCKETS_URL, a TZ, a Service
that selects nothing) are refused.

    python3 deploy/checks_test.py [-v]

deploy/check.sh runs it (needs python3 + PyYAML, like checks.py, and kubectl).
"""
import contextlib
import io
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no deploy/__pycache__ in the tree
sys.path.insert(0, HERE)
import checks  # noqa: E402

RENDERED = {env: checks.render(env) for env in ("prod", "staging")}
BUCKETS = os.path.join(HERE, "buckets.yaml")
VERSION = checks.project_version()


def read(path):
    with open(path) as fh:
        return fh.read()


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def write(self, text, name):
        path = os.path.join(self.tmp.name, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
        return path

    def rendered(self, env):
        """env's rendered overlay as TMP/env.yaml."""
        return self.write(RENDERED[env], f"{env}.yaml")

    def variant(self, env, *replacements):
        """env's rendered overlay with each (old, new) replaced exactly once,
        as TMP/env.yaml."""
        text = RENDERED[env]
        for old, new in replacements:
            self.assertEqual(text.count(old), 1, f"{env} render changed? {old!r}")
            text = text.replace(old, new)
        return self.write(text, f"{env}.yaml")

    def results(self, gen):
        return [(ok, msg) for ok, msg in gen]

    def assertPasses(self, gen):
        res = self.results(gen)
        self.assertTrue(res)
        self.assertEqual([m for ok, m in res if not ok], [])
        return res

    def assertFails(self, gen, *expected):
        fails = [m for ok, m in self.results(gen) if not ok]
        self.assertTrue(fails, "no check failed")
        for e in expected:
            self.assertTrue(any(e in m for m in fails), f"no failure with {e!r} in:\n" + "\n".join(fails))
        return fails


class Manifests(Base):
    def test_real_manifests_pass(self):
        for env in ("prod", "staging"):
            res = self.assertPasses(checks.check_manifest(self.rendered(env), env, VERSION))
            self.assertGreater(len(res), 50)

    def test_main_exit_codes(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = checks.main([f"prod={self.rendered('prod')}", f"staging={self.rendered('staging')}",
                              "--buckets", BUCKETS])
        lines = out.getvalue().splitlines()
        self.assertEqual(rc, 0, "\n".join(lines))
        self.assertTrue(all(l.startswith("ok\t") for l in lines), "\n".join(lines))
        self.assertIn(f"ok\tproject version {VERSION} (meson.build)", lines)
        bad = self.variant("prod", ("storage: 3001Gi", "storage: 1001Gi"))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = checks.main([f"prod={bad}"])
        self.assertEqual(rc, 1)
        self.assertIn(f"FAIL\t{bad}: PVC size 3001Gi (got 1001Gi)", out.getvalue().splitlines())

    def test_project_version(self):
        self.assertRegex(VERSION, r"^[0-9]+\.[0-9]+\.[0-9]+")
        meson = self.write("project('kettle', 'cpp',\n  version: '1.2.3',\n  default_options: ['a=b'])\n",
                           "meson.build")
        self.assertEqual(checks.project_version(meson), "1.2.3")
        none = self.write("project('kettle', 'cpp')\n", "none/meson.build")
        with self.assertRaises(ValueError):
            checks.project_version(none)

    # ---- image tag ----

    def test_latest_refused(self):
        for env in ("prod", "staging"):
            self.assertFails(checks.check_manifest(
                self.variant(env, (f"kettle:{VERSION}", "kettle:latest")), env, VERSION),
                "is tagged `latest`")
        self.assertFails(checks.check_manifest(
            self.variant("prod", (f"kettle:{VERSION}", "kettle:Latest")), "prod", VERSION),
            "is tagged `latest`")

    def test_untagged_refused(self):
        self.assertFails(checks.check_manifest(
            self.variant("prod", (f"kettle:{VERSION}", "kettle")), "prod", VERSION),
            "has no tag")
        self.assertFails(checks.check_manifest(
            self.variant("staging", (f"kettle:{VERSION}", "kettle@sha256:" + "0" * 64)), "staging", VERSION),
            "has no tag")

    def test_tag_must_be_the_project_version(self):
        self.assertFails(checks.check_manifest(
            self.variant("prod", (f"kettle:{VERSION}", "kettle:v20241015-f5fd905349")), "prod", VERSION),
            f"image tag 'v20241015-f5fd905349' is not the project version {VERSION!r}")
        self.assertFails(checks.check_manifest(self.rendered("prod"), "prod", "9.9.9"),
                         "is not the project version '9.9.9'")

    def test_image_repository(self):
        self.assertFails(checks.check_manifest(
            self.variant("staging", (f"gcr.io/k8s-staging-test-infra/kettle:{VERSION}",
                                     f"gcr.io/k8s-staging-infra-tools/kettle:{VERSION}")), "staging", VERSION),
            "is not from gcr.io/k8s-staging-test-infra/kettle")

    def test_split_image(self):
        self.assertEqual(checks.split_image("gcr.io/p/kettle:0.1.0"), ("gcr.io/p/kettle", "0.1.0", None))
        self.assertEqual(checks.split_image("localhost:5000/kettle"), ("localhost:5000/kettle", None, None))
        self.assertEqual(checks.split_image("r/k:1@sha256:ab"), ("r/k", "1", "sha256:ab"))
        self.assertIsNone(checks.image_problem(f"{checks.IMAGE_REPOSITORY}:{VERSION}", VERSION))

    # ---- environment ----

    def test_buckets_url_required(self):
        line = "        - name: BUCKETS_URL\n          value: " + checks.BUCKETS_URL + "\n"
        for env in ("prod", "staging"):
            self.assertFails(checks.check_manifest(self.variant(env, (line, "")), env, VERSION),
                             f"env BUCKETS_URL={checks.BUCKETS_URL}")
            self.assertFails(checks.check_manifest(
                self.variant(env, (line, "        - name: BUCKETS_URL\n          value: \"\"\n")),
                env, VERSION), "env BUCKETS_URL=")

    def test_tz_refused(self):
        tz = "        - name: TZ\n          value: America/Los_Angeles\n"
        for env in ("prod", "staging"):
            self.assertFails(checks.check_manifest(
                self.variant(env, ("        env:\n", "        env:\n" + tz)), env, VERSION),
                "env TZ not set")

    def test_environment_values(self):
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("value: prod", "value: staging")), "prod", VERSION), "env DEPLOYMENT=prod")
        self.assertFails(checks.check_manifest(
            self.variant("staging", ('value: "1000"', 'value: "0"')), "staging", VERSION), "env BUILD_LIMIT=1000")

    # ---- names and sizes of the running deployment ----

    def test_pvc_names_and_sizes(self):
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("storage: 3001Gi", "storage: 1001Gi")), "prod", VERSION),
            "PVC size 3001Gi (got 1001Gi)")
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("  name: kettle-data\n", "  name: kettle-prod-data\n")), "prod", VERSION),
            "PVC name kettle-data")
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("claimName: kettle-data", "claimName: kettle-prod-data")), "prod", VERSION),
            "/data volume is the PVC kettle-data")
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("storageClassName: ssd", "storageClassName: standard")), "prod", VERSION),
            "PVC storage class ssd")
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("      storage: 201Gi\n", "      storage: 101Gi\n")), "staging", VERSION),
            "PVC size 201Gi (got 101Gi)")
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("    storage: 201Gi\n  gcePersistentDisk", "    storage: 101Gi\n  gcePersistentDisk")),
            "staging", VERSION),
            "PersistentVolume capacity 201Gi (got 101Gi)")
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("  volumeName: kettle-data-staging\n", "")), "staging", VERSION),
            "PVC bound to PersistentVolume kettle-data-staging")

    def test_staging_volume(self):
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("persistentVolumeReclaimPolicy: Retain", "persistentVolumeReclaimPolicy: Delete")),
            "staging", VERSION), "reclaim policy Retain")
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("pdName: kettle-data-staging", "pdName: kettle-staging")), "staging", VERSION),
            "PersistentVolume on GCE disk kettle-data-staging (ext4)")
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("    fsType: ext4\n", "")), "staging", VERSION),
            "PersistentVolume on GCE disk kettle-data-staging (ext4)")
        text = RENDERED["staging"]
        start = text.index("apiVersion: v1\nkind: PersistentVolume\n")
        end = text.index("---", start) + 4
        no_pv = self.write(text[:start] + text[end:], "staging.yaml")
        self.assertFails(checks.check_manifest(no_pv, "staging", VERSION),
                         "one each of Deployment, PersistentVolume, PersistentVolumeClaim, Service, "
                         "ServiceAccount, ServiceMonitor")

    def test_namespaces(self):
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("  name: kettle-staging-metrics\n  namespace: default\n",
                                     "  name: kettle-staging-metrics\n  namespace: kettle\n")), "staging", VERSION),
            "namespace default on every namespaced object (got default, kettle)")
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("  name: kettle-data\n  namespace: kettle\n", "  name: kettle-data\n")),
            "prod", VERSION),
            "namespace kettle on every namespaced object (got None, kettle)")

    def test_identity_names(self):
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("    iam.gke.io/gcp-service-account: kettle@kubernetes-public.iam.gserviceaccount.com\n  name: kettle\n",
                                     "    iam.gke.io/gcp-service-account: kettle@kubernetes-public.iam.gserviceaccount.com\n  name: kettle-staging\n"),
                         ("serviceAccountName: kettle", "serviceAccountName: kettle-staging")),
            "staging", VERSION), "ServiceAccount kettle", "pod uses the ServiceAccount")
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("        name: kettle-staging\n", "        name: kettle\n")),
            "staging", VERSION), "container name kettle-staging")
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("    matchLabels:\n      app: kettle\n", "    matchLabels:\n      app: kettle\n      tier: db\n"),
                         ("      labels:\n        app: kettle\n", "      labels:\n        app: kettle\n        tier: db\n")),
            "prod", VERSION), "selector app=kettle (a selector cannot change)")

    def test_strategy_clears_rolling_update(self):
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("    rollingUpdate: null\n", "")), "prod", VERSION),
            "strategy clears rollingUpdate")
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("    type: Recreate\n", "    type: RollingUpdate\n")), "prod", VERSION),
            "Deployment strategy Recreate")

    def test_unparsable(self):
        self.assertFails(checks.check_manifest(self.write("a: [\n", "prod.yaml"), "prod", VERSION),
                         "prod.yaml: parses (")

    def test_environment_named(self):
        for arg in (self.rendered("prod"), f"dev={self.rendered('prod')}"):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                rc = checks.main([arg])
            self.assertEqual(rc, 1)
            self.assertIn("not ENV=RENDERED with ENV prod or staging", out.getvalue())

    # ---- monitoring ----

    def test_service_selects_the_pods(self):
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("  selector:\n    app: kettle-staging\n", "  selector:\n    app: kettle\n")),
            "staging", VERSION), "Service selects the Deployment's pods (app=kettle-staging)")
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("    targetPort: metrics\n", "    targetPort: prometheus\n")), "prod", VERSION),
            "Service port metrics (9090) targets the container's metrics port")

    def test_service_monitor(self):
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("      app.kubernetes.io/component: metrics\n      app.kubernetes.io/name: kettle\n",
                                  "      app.kubernetes.io/component: scrape\n      app.kubernetes.io/name: kettle\n")),
            "prod", VERSION), "ServiceMonitor selects the Service")
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("  jobLabel: app.kubernetes.io/name\n", "  jobLabel: app\n")), "staging", VERSION),
            "scrape job label 'kettle' (ServiceMonitor jobLabel app on the Service)")
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("  - interval: 30s\n", "  - interval: 30s\n    targetPort: 9090\n  - interval: 30s\n")),
            "staging", VERSION), "ServiceMonitor endpoints name the Service's ports")
        self.assertFails(checks.check_manifest(
            self.variant("staging", ("  jobLabel:", "  namespaceSelector:\n    matchNames:\n    - kettle\n  jobLabel:")),
            "staging", VERSION), "ServiceMonitor looks in namespace default")

    def test_alerts_and_dashboard_in_prod_only(self):
        self.assertFails(checks.check_manifest(
            self.variant("prod", ("      expr: up{job=\"kettle\"} == 0\n",
                                  "      expr: up{job=\"kettle\"} == 2\n")), "prod", VERSION),
            "PrometheusRule carries deploy/monitoring/prometheus-rule.yaml's groups")
        self.assertFails(checks.check_manifest(
            self.variant("prod", ('    grafana_dashboard: "1"\n', '    grafana_dashboard: "0"\n')), "prod", VERSION),
            "dashboard labelled grafana_dashboard=1")
        self.assertFails(checks.check_manifest(
            self.variant("prod", ('"uid": "kettle"', '"uid": "kettle-2"')), "prod", VERSION),
            "ConfigMap holds kettle-dashboard.json (JSON, uid kettle)")
        text = RENDERED["prod"]
        start = text.index("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n")
        end = text.index("---", start) + 4
        both = self.write(RENDERED["staging"] + "---\n" + text[start:end], "staging.yaml")
        self.assertFails(checks.check_manifest(both, "staging", VERSION), "1 PrometheusRule")


class Buckets(Base):
    def buckets(self, text):
        return self.write(text, "buckets.yaml")

    def test_real_buckets_pass(self):
        res = self.assertPasses(checks.check_buckets(BUCKETS))
        self.assertIn((True, f"{BUCKETS}: {checks.MAIN_BUCKET}: keys contact, prefix, sequential, exclude_jobs"), res)

    def test_every_entry_checked(self):
        path = self.buckets(read(BUCKETS) + 'gs://other/logs/:\n  contact: "x"\n  prefix: "other:"\n')
        res = self.assertPasses(checks.check_buckets(path))
        self.assertIn((True, f"{path}: gs://other/logs/: keys contact, prefix"), res)

    def test_missing_or_unknown_keys(self):
        self.assertFails(checks.check_buckets(self.buckets(read(BUCKETS).replace('  contact: "bentheelder"\n', ""))),
                         "missing contact")
        self.assertFails(checks.check_buckets(self.buckets(read(BUCKETS).replace("exclude_jobs:", "exclude_job:"))),
                         "unknown keys exclude_job", f"{checks.MAIN_BUCKET} with prefix \"\", sequential false and exclude_jobs")
        self.assertFails(checks.check_buckets(self.buckets(read(BUCKETS) + 'gs://other/logs/:\n  contact: "x"\n')),
                         "gs://other/logs/: keys contact (missing prefix)")

    def test_bad_values(self):
        self.assertFails(checks.check_buckets(self.buckets(read(BUCKETS).replace("sequential: false", "sequential: no way"))),
                         "sequential 'no way' is not true or false")
        self.assertFails(checks.check_buckets(self.buckets(read(BUCKETS).replace("^ci-kubernetes-coverage-unit$", "(unclosed"))),
                         "exclude_jobs entry '(unclosed' is not a regular expression")
        # Python accepts these; kettle compiles exclude_jobs with RE2, which refuses them.
        for pattern, why in [(r"^(a)\1$", "backreferences"), ("^ci-(?!flaky)", "lookaround"),
                             ("(?<=x)y", "lookaround"), ("(?>a)", "atomic groups"), (r"ci\Z", "\\Z"),
                             ("a{1001}", "repeat counts above 1000")]:
            self.assertFails(checks.check_buckets(self.buckets(read(BUCKETS).replace("^ci-kubernetes-coverage-unit$", pattern))),
                             f"is refused by kettle (RE2 syntax has no {why}")
        self.assertFails(checks.check_buckets(self.buckets(read(BUCKETS) + 'gs://other/logs/:\n  contact: "x"\n  prefix: "other"\n')),
                         "prefix 'other' does not end in ':'")
        self.assertFails(checks.check_buckets(self.buckets(read(BUCKETS) + 'gs://other/logs:\n  contact: "x"\n  prefix: ""\n')),
                         "key is not a gs://BUCKET/PATH/ URL")

    def test_not_a_mapping(self):
        self.assertFails(checks.check_buckets(self.buckets("- a\n")), "parses to a mapping of buckets (got list)")
        self.assertFails(checks.check_buckets(self.buckets("a: [\n")), "parses (")


if __name__ == "__main__":
    unittest.main()
