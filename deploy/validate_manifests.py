#!/usr/bin/env python3
"""Validates Kubernetes manifests offline against the API types of the official
Python client (Debian: python3-kubernetes).

    python3 deploy/validate_manifests.py FILE...

Every YAML document must be an object whose apiVersion/kind the client can
create (apps/v1 Deployment -> V1Deployment, v1 PersistentVolumeClaim ->
V1PersistentVolumeClaim, ...). The document is walked against the model's
openapi_types/attribute_map: unknown fields, wrong scalar types (str, int,
bool, float), lists and maps are checked element-wise, and required fields
(those whose setter rejects None with client-side validation on) must be
present. Each model is then constructed with client-side validation on, and a
document without problems goes through kubernetes.client.ApiClient().deserialize.
On top of what the models know: top-level metadata.name, Quantity syntax
(resources, PVC sizes, ...), IntOrString values (ports, maxSurge, ...),
IANA_SVC_NAME port names (at most 15 characters) and duplicate YAML keys.
The Prometheus Operator's custom resources (ServiceMonitor, PrometheusRule),
which the client has no models for, get their metadata checked as
V1ObjectMeta and their spec checked to be an object; checks.py and
tests/integration/monitoring_rules.sh check what is inside.

Prints "ok   - FILE: Kind name valid against kubernetes.client VERSION models"
for each valid document and "FAIL - FILE: Kind name: PATH: problem" for each
problem. Exit 0 when every document is valid, 1 when there is a problem, 2
when python3-kubernetes or PyYAML cannot be imported.
"""
import os
import sys

try:
    import yaml
    import kubernetes
    import kubernetes.client
except ImportError as e:
    # Debian's python3-kubernetes is in /usr/lib/python3/dist-packages, which
    # only the system interpreter sees (not a pyenv/venv python3 on PATH).
    system_py = "/usr/bin/python3"
    script = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if (os.path.realpath(sys.executable) != os.path.realpath(system_py)
            and os.access(system_py, os.X_OK)
            and script.endswith(".py") and os.path.isfile(script)
            and not os.environ.get("VALIDATE_MANIFESTS_REEXEC")):
        os.environ["VALIDATE_MANIFESTS_REEXEC"] = "1"
        os.execv(system_py, [system_py] + sys.argv)
    print(f"validate_manifests: cannot import {e.name} with {sys.executable} "
          "(apt-get install python3-kubernetes python3-yaml)", file=sys.stderr)
    if __name__ == "__main__":
        sys.exit(2)
    raise

import datetime
import json
import re

from kubernetes.client import ApiClient, Configuration

CLIENT_VERSION = getattr(kubernetes, "__version__", "unknown")

# ---- YAML -------------------------------------------------------------------


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML keeps the last)."""


def _construct_mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue  # SafeLoader reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})",
                key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

# ---- apiVersion/kind -> model class ------------------------------------------


def build_kind_map():
    """(apiVersion, kind) -> model class name, from the client's own create_*
    endpoints: POST '/api/v1/...' or '/apis/GROUP/VERSION/...' with
    response_type 'V1Deployment', 'EventsV1Event', ... (subresources such as
    pods/{name}/binding are skipped)."""
    kinds = {}
    call = re.compile(r"call_api\(\s*'(/apis?/[^']*)',\s*'POST'.*?response_type='(\w+)'", re.S)
    api_dir = os.path.dirname(kubernetes.client.api.__file__)
    for fname in sorted(os.listdir(api_dir)):
        if not fname.endswith("_api.py"):
            continue
        with open(os.path.join(api_dir, fname)) as fh:
            src = fh.read()
        for url, model in call.findall(src):
            parts = url.strip("/").split("/")
            if parts[0] == "api":
                api_version, rest = parts[1], parts[2:]
            else:
                api_version, rest = "/".join(parts[1:3]), parts[3:]
            if "{name}" in rest or not hasattr(kubernetes.client, model):
                continue
            version = api_version.split("/")[-1]
            prefix = version[0].upper() + version[1:]
            i = model.find(prefix)
            if i < 0:
                continue
            kinds[(api_version, model[i + len(prefix):])] = model
    return kinds


# Custom resources (apiVersion, kind) the manifests use: not in the client.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


# ---- value syntax the models cannot check --------------------------------------

# Quantity: sign, number, then a binary SI, decimal SI or exponent suffix.
QUANTITY = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
                      r"(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")

# Fields typed str / dict(str, str) in the client that are resource.Quantity in
# the API: (model class, attribute).
QUANTITY_FIELDS = {
    ("V1ResourceRequirements", "limits"), ("V1ResourceRequirements", "requests"),
    ("V1EmptyDirVolumeSource", "size_limit"), ("V1ResourceFieldSelector", "divisor"),
    ("V1PersistentVolumeSpec", "capacity"),
    ("V1PersistentVolumeClaimStatus", "capacity"),
    ("V1PersistentVolumeClaimStatus", "allocated_resources"),
    ("V1LimitRangeItem", "default"), ("V1LimitRangeItem", "default_request"),
    ("V1LimitRangeItem", "max"), ("V1LimitRangeItem", "min"),
    ("V1LimitRangeItem", "max_limit_request_ratio"),
    ("V1ResourceQuotaSpec", "hard"), ("V1ResourceQuotaStatus", "hard"),
    ("V1ResourceQuotaStatus", "used"),
    ("V1PodSpec", "overhead"), ("V1Overhead", "pod_fixed"),
    ("V1NodeStatus", "allocatable"), ("V1NodeStatus", "capacity"),
    ("V1alpha1CSIStorageCapacity", "capacity"), ("V1alpha1CSIStorageCapacity", "maximum_volume_size"),
    ("V1beta1CSIStorageCapacity", "capacity"), ("V1beta1CSIStorageCapacity", "maximum_volume_size"),
    ("V1beta1Overhead", "pod_fixed"), ("V1alpha1Overhead", "pod_fixed"),
    # names of newer clients than 22.x (Debian 13 and later)
    ("V1CSIStorageCapacity", "capacity"), ("V1CSIStorageCapacity", "maximum_volume_size"),
    ("V1PersistentVolumeClaimStatus", "allocated_resources"),
}

# 'object' fields that are intstr.IntOrString in the API (the rest of the
# 'object' fields, e.g. JSONSchemaProps.default, take any JSON value).
INT_OR_PORT_NAME = {"port", "target_port"}
INT_OR_PERCENT = {"max_surge", "max_unavailable", "min_available"}

# IANA_SVC_NAME (RFC 6335): at most 15 characters, lowercase letters, digits
# and '-', at least one letter, no '-' at either end and no '--'.
SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def svc_name_problem(name):
    if len(name) > 15:
        return f"port name {name!r} is {len(name)} characters, at most 15 (IANA_SVC_NAME)"
    if not SVC_NAME.match(name) or "--" in name or not re.search(r"[a-z]", name):
        return (f"port name {name!r} is not an IANA_SVC_NAME (lowercase letters, digits "
                "and '-', at least one letter, no '-' at either end or '--')")
    return None


def describe(v):
    if v is None:
        return "null"
    return f"{type(v).__name__} {v!r}" if not isinstance(v, (dict, list)) else type(v).__name__


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# ---- the walk -----------------------------------------------------------------


class Validator:
    def __init__(self):
        self.cfg = Configuration()
        self.cfg.client_side_validation = True
        self.kinds = build_kind_map()
        self._required = {}

    def required(self, klass):
        """Attributes whose setter rejects None under client-side validation."""
        if klass not in self._required:
            probe = klass.__new__(klass)
            probe.local_vars_configuration = self.cfg
            req = set()
            for attr in klass.openapi_types:
                try:
                    setattr(probe, attr, None)
                except ValueError:
                    req.add(attr)
            self._required[klass] = req
        return self._required[klass]

    def walk(self, value, typ, path, errors, owner=None, attr=None):
        """Checks value against a client type string; returns the value to
        hand to a model constructor (a model instance for model types)."""
        def err(msg):
            errors.append((path or "(document)", msg))

        quantity = (owner, attr) in QUANTITY_FIELDS
        if typ.startswith("list["):
            if not isinstance(value, list):
                err(f"expected a list, got {describe(value)}")
                return value
            sub = typ[5:-1]
            out = []
            for i, v in enumerate(value):
                if v is None:
                    errors.append((f"{path}[{i}]", "null list element"))
                    out.append(v)
                else:
                    out.append(self.walk(v, sub, f"{path}[{i}]", errors, owner, attr))
            return out
        if typ.startswith("dict("):
            if not isinstance(value, dict):
                err(f"expected a map, got {describe(value)}")
                return value
            sub = re.match(r"dict\(([^,]*), (.*)\)", typ).group(2)
            out = {}
            for k, v in value.items():
                kp = f"{path}.{k}" if isinstance(k, str) else f"{path}[{k!r}]"
                if not isinstance(k, str):
                    errors.append((kp, f"map key must be a string, got {describe(k)} (quote it)"))
                if v is None and sub != "object":
                    errors.append((kp, "null value"))
                    continue
                out[k] = self.walk(v, sub, kp, errors, owner, attr)
            return out
        if quantity and typ == "str":
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                err(f"expected a quantity (e.g. 8Gi, 500m, 4), got {describe(value)}")
            elif isinstance(value, float) and value != value:
                err("invalid quantity nan")
            elif not QUANTITY.match(str(value)):
                err(f"invalid quantity {value!r} (e.g. 8Gi, 500m, 1.5, 4)")
            return str(value)
        if typ == "str":
            if not isinstance(value, str):
                err(f"expected string, got {describe(value)}"
                    + (" (quote it)" if isinstance(value, (int, float, bool)) else ""))
            return value
        if typ == "int":
            if not is_int(value):
                err(f"expected int, got {describe(value)}")
            return value
        if typ == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                err(f"expected number, got {describe(value)}")
            return value
        if typ == "bool":
            if not isinstance(value, bool):
                err(f"expected bool, got {describe(value)}")
            return value
        if typ in ("datetime", "date"):
            if not isinstance(value, (str, datetime.date)):
                err(f"expected a timestamp, got {describe(value)}")
            return value
        if typ == "object":
            if attr in INT_OR_PORT_NAME:
                if is_int(value):
                    if not 1 <= value <= 65535:
                        err(f"port {value} out of range 1-65535")
                elif isinstance(value, str):
                    problem = svc_name_problem(value)
                    if problem:
                        err(problem)
                else:
                    err(f"expected int or string (IntOrString), got {describe(value)}")
            elif attr in INT_OR_PERCENT:
                if is_int(value):
                    if value < 0:
                        err(f"must be >= 0, got {value}")
                elif isinstance(value, str):
                    if not re.fullmatch(r"[0-9]+%", value):
                        err(f"expected int or percentage like '25%', got {value!r}")
                else:
                    err(f"expected int or string (IntOrString), got {describe(value)}")
            return value
        klass = getattr(kubernetes.client, typ, None)
        if klass is None or not hasattr(klass, "openapi_types"):
            err(f"client has no type {typ}")
            return value
        return self.walk_model(value, klass, path, errors)

    def walk_model(self, value, klass, path, errors):
        prefix = f"{path}." if path else ""
        if not isinstance(value, dict):
            errors.append((path or "(document)", f"expected an object ({klass.__name__}), got {describe(value)}"))
            return value
        json_to_attr = {j: a for a, j in klass.attribute_map.items()}
        kwargs = {}
        for key, v in value.items():
            attr = json_to_attr.get(key)
            if attr is None:
                errors.append((f"{prefix}{key}", "unknown field"))
                continue
            if v is None:
                continue  # null is the same as absent
            kwargs[attr] = self.walk(v, klass.openapi_types[attr], f"{prefix}{key}", errors,
                                     klass.__name__, attr)
        missing = {a for a in self.required(klass) if kwargs.get(a) is None}
        for attr in sorted(missing):
            errors.append((f"{prefix}{klass.attribute_map[attr]}", "missing required field"))
        if klass.__name__ == "V1ContainerPort":
            if isinstance(value.get("name"), str):
                problem = svc_name_problem(value["name"])
                if problem:
                    errors.append((f"{prefix}name", problem))
            for key in ("containerPort", "hostPort"):
                if is_int(value.get(key)) and not 1 <= value[key] <= 65535:
                    errors.append((f"{prefix}{key}", f"port {value[key]} out of range 1-65535"))
        # The model itself, client-side validation on: its setters reject
        # missing required fields (already reported above, with their path)
        # and values that break the patterns some models carry.
        try:
            return klass(**kwargs, local_vars_configuration=self.cfg)
        except (ValueError, TypeError) as e:
            m = re.match(r"Invalid value for `(\w+)`, must not be `None`", str(e))
            if not (m and m.group(1) in missing):
                errors.append((path or "(document)", f"{klass.__name__}: {e}"))
            return value

    # ---- one document ----

    def document(self, doc):
        """Returns (kind, name, errors) for one YAML document."""
        if not isinstance(doc, dict):
            return None, None, [("(document)", f"expected an object, got {describe(doc)}")]
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        meta = doc.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        kind_s = kind if isinstance(kind, str) and kind else None
        name_s = name if isinstance(name, str) and name else None
        errors = []
        if not isinstance(api_version, str) or not api_version:
            errors.append(("apiVersion", "missing required field"))
        if not isinstance(kind, str) or not kind:
            errors.append(("kind", "missing required field"))
        if errors:
            return kind_s, name_s, errors
        if (api_version, kind) in CUSTOM_KINDS:
            return kind_s, name_s, self.custom_resource(doc)
        model = self.kinds.get((api_version, kind))
        if model is None:
            known = sorted(v for (v, k) in self.kinds if k == kind)
            hint = (f" ({kind} is {', '.join(known)})" if known
                    else " (no such kind in any API group)")
            return kind_s, name_s, [("(document)", f"unknown apiVersion/kind {api_version} {kind}"
                            f" in kubernetes.client {CLIENT_VERSION}{hint}")]
        klass = getattr(kubernetes.client, model)
        self.walk_model(doc, klass, "", errors)
        if not isinstance(meta, dict):
            if "metadata" not in doc or meta is None:
                errors.append(("metadata", "missing required field"))
        elif not meta.get("name") and not meta.get("generateName"):
            errors.append(("metadata.name", "missing required field"))
        if not errors:
            # The client's own deserializer, as it would read the object back
            # from an API server; it must agree with the walk.
            class Response:
                data = json.dumps(doc, default=str)
            try:
                ApiClient(configuration=self.cfg).deserialize(Response(), model)
            except Exception as e:  # noqa: BLE001
                errors.append(("(document)", f"ApiClient.deserialize as {model}: {e}"))
        return kind_s, name_s, errors


    def custom_resource(self, doc):
        """Errors of a custom resource: its metadata (an ObjectMeta with a
        name), a spec object, no other top-level field."""
        errors = [(k, "unknown field") for k in doc if k not in ("apiVersion", "kind", "metadata", "spec")]
        meta = doc.get("metadata")
        if meta is None:
            errors.append(("metadata", "missing required field"))
        else:
            self.walk_model(meta, kubernetes.client.V1ObjectMeta, "metadata", errors)
            if isinstance(meta, dict) and not meta.get("name"):
                errors.append(("metadata.name", "missing required field"))
        if not isinstance(doc.get("spec"), dict):
            errors.append(("spec", f"expected an object, got {describe(doc.get('spec'))}"))
        return errors


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    v = Validator()
    failed = False
    for path in argv:
        try:
            with open(path) as fh:
                docs = list(yaml.load_all(fh, Loader=StrictLoader))
        except (OSError, yaml.YAMLError) as e:
            print(f"FAIL - {path}: {' '.join(str(e).split())}", flush=True)
            failed = True
            continue
        n = 0
        for i, doc in enumerate(docs):
            if doc is None:
                continue
            n += 1
            try:
                kind, name, errors = v.document(doc)
            except Exception as e:  # noqa: BLE001  (a validator bug must not hide the rest)
                kind = doc.get("kind") if isinstance(doc, dict) else None
                name, errors = None, [("(document)", f"validator error: {type(e).__name__}: {e}")]
            if kind and name:
                label = f"{kind} {name}"
            else:
                label = f"document {i + 1}" + (f" ({kind})" if kind else "")
            if errors:
                failed = True
                for where, msg in errors:
                    print(f"FAIL - {path}: {label}: {where}: {msg}", flush=True)
            elif (doc.get("apiVersion"), kind) in CUSTOM_KINDS:
                print(f"ok   - {path}: {label} (custom resource) metadata valid against kubernetes.client "
                      f"{CLIENT_VERSION} V1ObjectMeta, spec an object", flush=True)
            else:
                print(f"ok   - {path}: {label} valid against kubernetes.client "
                      f"{CLIENT_VERSION} models", flush=True)
        if n == 0:
            print(f"FAIL - {path}: no YAML documents", flush=True)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
