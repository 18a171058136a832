#!/usr/bin/env python3
"""Self-test of deploy/validate_manifests.py: broken variants of the rendered
overlays (`kubectl kustomize deploy/prod`, deploy/staging) are rejected with
the right path, the rendered overlays are accepted.

    python3 deploy/validate_manifests_test.py [-v]

deploy/check.sh runs it (needs python3-kubernetes, like the validator, and kubectl).
"""
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no deploy/__pycache__ in the tree
sys.path.insert(0, HERE)
import validate_manifests as vm  # noqa: E402  (re-execs under /usr/bin/python3 if needed)
import checks  # noqa: E402  (checks.render: the overlays as deploy/check.sh renders them)

PROD_TEXT = checks.render("prod")
STAGING_TEXT = checks.render("staging")
PROD_DOCUMENTS = 8

CONTAINER = "Deployment kettle: spec.template.spec.containers[0]"


def run(*paths):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = vm.main(list(paths))
    return rc, out.getvalue().splitlines()


class ValidateManifests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.prod = self.write(PROD_TEXT, "prod.yaml")
        self.staging = self.write(STAGING_TEXT, "staging.yaml")

    def write(self, text, name="kettle.yaml"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as fh:
            fh.write(text)
        return path

    def variant(self, *replacements):
        """The rendered prod overlay with each (old, new) replaced exactly once."""
        text = PROD_TEXT
        for old, new in replacements:
            self.assertEqual(text.count(old), 1, f"prod render changed? {old!r}")
            text = text.replace(old, new)
        return self.write(text)

    def assertRejected(self, path, *expected):
        rc, lines = run(path)
        self.assertEqual(rc, 1, "\n".join(lines))
        fails = [l for l in lines if l.startswith("FAIL - ")]
        for e in expected:
            self.assertTrue(any(e in l for l in fails), f"no FAIL line with {e!r} in:\n" + "\n".join(lines))
        return fails

    def assertAccepted(self, path, documents=PROD_DOCUMENTS):
        rc, lines = run(path)
        self.assertEqual(rc, 0, "\n".join(lines))
        oks = [l for l in lines if l.startswith("ok   - ")]
        self.assertEqual(len(oks), documents, "\n".join(lines))
        self.assertEqual(len(oks), len(lines), "\n".join(lines))

    # ---- the rendered overlays ------------------------------------------------

    def test_real_manifests_accepted(self):
        rc, lines = run(self.prod, self.staging)
        self.assertEqual(rc, 0, "\n".join(lines))
        version = vm.CLIENT_VERSION
        for f, objects in ((self.prod, (("Namespace", "kettle"), ("ServiceAccount", "kettle"),
                                        ("PersistentVolumeClaim", "kettle-data"), ("Deployment", "kettle"),
                                        ("Service", "kettle-metrics"), ("ConfigMap", "kettle-dashboard"))),
                           (self.staging, (("ServiceAccount", "kettle"), ("PersistentVolume", "kettle-data-staging"),
                                           ("PersistentVolumeClaim", "kettle-data-staging"),
                                           ("Deployment", "kettle-staging"), ("Service", "kettle-staging-metrics")))):
            for kind, name in objects:
                self.assertIn(f"ok   - {f}: {kind} {name} valid against kubernetes.client {version} models", lines)
        for f, kind, name in ((self.prod, "ServiceMonitor", "kettle"), (self.prod, "PrometheusRule", "kettle"),
                              (self.staging, "ServiceMonitor", "kettle-staging")):
            self.assertIn(f"ok   - {f}: {kind} {name} (custom resource) metadata valid against kubernetes.client "
                          f"{version} V1ObjectMeta, spec an object", lines)
        self.assertEqual(len(lines), PROD_DOCUMENTS + 6, "\n".join(lines))

    def test_cli_exit_codes(self):
        script = os.path.join(HERE, "validate_manifests.py")
        good = subprocess.run([sys.executable, script, self.prod], capture_output=True, text=True)
        self.assertEqual(good.returncode, 0, good.stdout + good.stderr)
        bad = subprocess.run([sys.executable, script, self.variant(("replicas: 1", "replicas: one"))],
                             capture_output=True, text=True)
        self.assertEqual(bad.returncode, 1, bad.stdout + bad.stderr)
        self.assertIn("Deployment kettle: spec.replicas: expected int, got str 'one'", bad.stdout)

    # ---- broken variants ------------------------------------------------------

    def test_typo_field(self):
        fails = self.assertRejected(
            self.variant(("path: /healthz\n            port: 8081",
                          "path: /healthz\n            prot: 8081")),
            f"{CONTAINER}.livenessProbe.httpGet.prot: unknown field",
            f"{CONTAINER}.livenessProbe.httpGet.port: missing required field")
        self.assertEqual(len(fails), 2, "\n".join(fails))

    def test_staging_volume(self):
        # The staging overlay's PersistentVolume is checked like every other document.
        text = STAGING_TEXT
        for old, new, expected in (
                ("gcePersistentDisk:", "gcePersistentDisc:",
                 "PersistentVolume kettle-data-staging: spec.gcePersistentDisc: unknown field"),
                ("pdName: kettle-data-staging", "pdname: kettle-data-staging",
                 "PersistentVolume kettle-data-staging: spec.gcePersistentDisk.pdName: missing required field"),
                ("    storage: 201Gi\n  gcePersistentDisk", "    storage: 201 GiB\n  gcePersistentDisk",
                 "PersistentVolume kettle-data-staging: spec.capacity.storage: invalid quantity '201 GiB'")):
            self.assertEqual(text.count(old), 1, old)
            self.assertRejected(self.write(text.replace(old, new)), expected)

    def test_typo_top_level_and_metadata(self):
        self.assertRejected(self.variant(("  strategy:\n", "  stratgy:\n")),
                            "Deployment kettle: spec.stratgy: unknown field")
        self.assertRejected(self.variant(("  labels:\n    app: kettle\n  name: kettle\n  namespace: kettle\nspec:\n  replicas",
                                          "  label:\n    app: kettle\n  name: kettle\n  namespace: kettle\nspec:\n  replicas")),
                            "Deployment kettle: metadata.label: unknown field")

    def test_string_where_int_expected(self):
        self.assertRejected(self.variant(("replicas: 1", 'replicas: "1"')),
                            "Deployment kettle: spec.replicas: expected int, got str '1'")
        self.assertRejected(self.variant(("containerPort: 9090", 'containerPort: "9090"')),
                            f"{CONTAINER}.ports[0].containerPort: expected int")

    def test_int_or_bool_where_string_expected(self):
        self.assertRejected(self.variant(("value: prod", "value: 1000")),
                            f"{CONTAINER}.env[0].value: expected string, got int 1000 (quote it)")
        self.assertRejected(self.variant(('prometheus.io/scrape: "true"', "prometheus.io/scrape: true")),
                            "spec.template.metadata.annotations.prometheus.io/scrape: expected string, got bool True")
        self.assertRejected(self.variant(("runAsNonRoot: true", "runAsNonRoot: yes please")),
                            "spec.template.spec.securityContext.runAsNonRoot: expected bool")

    def test_missing_container_name(self):
        self.assertRejected(self.variant(("        name: kettle\n", "")),
                            f"{CONTAINER}.name: missing required field")

    def test_missing_required_nested(self):
        self.assertRejected(self.variant(("          claimName: kettle-data\n", "          readOnly: false\n")),
                            "spec.template.spec.volumes[0].persistentVolumeClaim.claimName: missing required field")
        self.assertRejected(self.variant(("  selector:\n    matchLabels:\n      app: kettle\n", "")),
                            "Deployment kettle: spec.selector: missing required field")

    def test_missing_metadata(self):
        self.assertRejected(self.variant(("kind: Namespace\nmetadata:\n  name: kettle\n", "kind: Namespace\n")),
                            "document 1 (Namespace): metadata: missing required field")
        self.assertRejected(self.variant(("kind: Namespace\nmetadata:\n  name: kettle\n",
                                          "kind: Namespace\nmetadata:\n  labels: {a: b}\n")),
                            "document 1 (Namespace): metadata.name: missing required field")

    def test_unknown_kind(self):
        self.assertRejected(self.variant(("kind: PersistentVolumeClaim", "kind: PersistentVolumeClaimm")),
                            "unknown apiVersion/kind v1 PersistentVolumeClaimm")
        self.assertRejected(self.variant(("apiVersion: apps/v1\nkind: Deployment", "apiVersion: v1\nkind: Deployment")),
                            "Deployment kettle: (document): unknown apiVersion/kind v1 Deployment",
                            "(Deployment is apps/v1)")
        self.assertRejected(self.variant(("apiVersion: v1\nkind: Namespace", "kind: Namespace")),
                            "apiVersion: missing required field")

    def test_bad_quantity(self):
        self.assertRejected(self.variant(("storage: 3001Gi", "storage: 3001GB")),
                            "PersistentVolumeClaim kettle-data: spec.resources.requests.storage: invalid quantity '3001GB'")
        self.assertRejected(self.variant(("memory: 8Gi", "memory: 8 Gi")),
                            f"{CONTAINER}.resources.requests.memory: invalid quantity '8 Gi'")
        self.assertRejected(self.variant(('cpu: "8"', "cpu: true")),
                            f"{CONTAINER}.resources.limits.cpu: expected a quantity")

    def test_quantity_numbers_accepted(self):
        # YAML ints and floats are valid quantities (the API reads them as such).
        self.assertAccepted(self.variant(('cpu: "4"', "cpu: 4"), ('cpu: "8"', "cpu: 7.5"),
                                         ("memory: 16Gi", "memory: 500m")))

    def test_port_name_too_long(self):
        self.assertRejected(self.variant(("containerPort: 9090\n          name: metrics",
                                          "containerPort: 9090\n          name: prometheus-metrics")),
                            f"{CONTAINER}.ports[0].name: port name 'prometheus-metrics' is 18 characters, at most 15")
        self.assertRejected(self.variant(("name: health", "name: Health")),
                            f"{CONTAINER}.ports[1].name: port name 'Health' is not an IANA_SVC_NAME")

    def test_int_or_string(self):
        # probe port by name (IntOrString) is fine; a bad name is not
        self.assertAccepted(self.variant(("path: /healthz/ready\n            port: 8081",
                                          "path: /healthz/ready\n            port: health")))
        self.assertRejected(self.variant(("path: /healthz/ready\n            port: 8081",
                                          "path: /healthz/ready\n            port: health_check")),
                            f"{CONTAINER}.readinessProbe.httpGet.port: port name 'health_check' is not an IANA_SVC_NAME")
        self.assertRejected(self.variant(("path: /healthz/ready\n            port: 8081",
                                          "path: /healthz/ready\n            port: [8081]")),
                            f"{CONTAINER}.readinessProbe.httpGet.port: expected int or string (IntOrString)")

    def test_list_and_map_shapes(self):
        self.assertRejected(self.variant(("  accessModes:\n  - ReadWriteOnce\n", "  accessModes: ReadWriteOnce\n")),
                            "PersistentVolumeClaim kettle-data: spec.accessModes: expected a list")
        self.assertRejected(self.variant(("            - ALL\n", "            - ALL\n            - 1\n")),
                            f"{CONTAINER}.securityContext.capabilities.drop[1]: expected string, got int 1")

    def test_duplicate_key(self):
        self.assertRejected(self.variant(("  replicas: 1\n", "  replicas: 1\n  replicas: 2\n")),
                            "duplicate key 'replicas'")

    def test_not_an_object_and_empty_file(self):
        self.assertRejected(self.write(PROD_TEXT + "---\n- just a list\n"),
                            f"document {PROD_DOCUMENTS + 1}: (document): expected an object, got list")
        self.assertRejected(self.write("# nothing\n"), "no YAML documents")

    def test_custom_resources(self):
        # ServiceMonitor and PrometheusRule: the client has no models; their
        # metadata and the shape of the document are still checked.
        self.assertRejected(self.variant(("  labels:\n    app.kubernetes.io/name: kettle\n  name: kettle\n  namespace: kettle\nspec:\n  endpoints:",
                                          "  lables:\n    app.kubernetes.io/name: kettle\n  name: kettle\n  namespace: kettle\nspec:\n  endpoints:")),
                            "ServiceMonitor kettle: metadata.lables: unknown field")
        self.assertRejected(self.variant(("kind: PrometheusRule\nmetadata:\n", "kind: PrometheusRule\nstatus: {}\nmetadata:\n")),
                            "PrometheusRule kettle: status: unknown field")
        self.assertRejected(self.variant(("kind: ServiceMonitor\nmetadata:\n  labels:\n    app.kubernetes.io/name: kettle\n  name: kettle\n",
                                          "kind: ServiceMonitor\nmetadata:\n  labels:\n    app.kubernetes.io/name: kettle\n")),
                            "document 8 (ServiceMonitor): metadata.name: missing required field")
        self.assertIn(("monitoring.coreos.com/v1", "PrometheusRule"), vm.CUSTOM_KINDS)

    def test_quantity_field_table(self):
        import kubernetes.client
        present = 0
        for cls, attr in vm.QUANTITY_FIELDS:
            klass = getattr(kubernetes.client, cls, None)
            if klass is None or attr not in klass.openapi_types:
                continue  # a name of another client version
            present += 1
            self.assertIn(klass.openapi_types[attr], ("str", "dict(str, str)"), (cls, attr))
        self.assertIn("limits", kubernetes.client.V1ResourceRequirements.openapi_types)
        self.assertGreater(present, 15)

    def test_kind_map(self):
        kinds = vm.build_kind_map()
        self.assertEqual(kinds[("apps/v1", "Deployment")], "V1Deployment")
        self.assertEqual(kinds[("v1", "PersistentVolumeClaim")], "V1PersistentVolumeClaim")
        self.assertEqual(kinds[("v1", "ServiceAccount")], "V1ServiceAccount")
        self.assertEqual(kinds[("v1", "Namespace")], "V1Namespace")
        self.assertEqual(kinds[("v1", "Event")], "CoreV1Event")
        self.assertEqual(kinds[("events.k8s.io/v1", "Event")], "EventsV1Event")
        self.assertNotIn(("v1", "Deployment"), kinds)


if __name__ == "__main__":
    unittest.main()
