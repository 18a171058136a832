#!/usr/bin/env python3
"""Prints the rule groups of prometheus-rule.yaml as a plain Prometheus rules file.

The PrometheusRule is the one source of the alerts; this is how promtool, the
tests and a Prometheus without the operator read them.

  python3 rules.py [prometheus-rule.yaml] > kettle.rules.yaml

Tests shorten an alert's thresholds without copying it:
  --replace ALERT OLD NEW   replace the text OLD in ALERT's expr by NEW
  --for ALERT DURATION      set ALERT's `for` (0s removes it)
An alert or text that is not found is an error, so a renamed alert cannot
leave a test checking nothing.
"""
import argparse
import os
import sys

import yaml


def load_groups(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    if doc.get("kind") != "PrometheusRule":
        raise SystemExit(f"{path}: not a PrometheusRule")
    return doc["spec"]["groups"]


def find_alert(groups, name):
    for group in groups:
        for rule in group["rules"]:
            if rule.get("alert") == name:
                return rule
    raise SystemExit(f"no alert named {name}")


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=os.path.join(here, "prometheus-rule.yaml"))
    parser.add_argument("--replace", nargs=3, action="append", default=[], metavar=("ALERT", "OLD", "NEW"))
    parser.add_argument("--for", dest="for_", nargs=2, action="append", default=[], metavar=("ALERT", "DURATION"))
    args = parser.parse_args(argv)
    groups = load_groups(args.file)
    for name, old, new in args.replace:
        rule = find_alert(groups, name)
        if old not in rule["expr"]:
            raise SystemExit(f"{name}: '{old}' is not in its expr: {rule['expr']}")
        rule["expr"] = rule["expr"].replace(old, new)
    for name, duration in args.for_:
        rule = find_alert(groups, name)
        if duration == "0s":
            rule.pop("for", None)
        else:
            rule["for"] = duration
    yaml.safe_dump({"groups": groups}, sys.stdout, sort_keys=False, width=1000)


if __name__ == "__main__":
    main(sys.argv[1:])
