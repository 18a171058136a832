#!/usr/bin/env python3
"""The PromQL of kettle's monitoring set, checked against a running Prometheus.

  promexprs.py list FILE...          the expressions and selectors found
  promexprs.py check URL FILE...     every expression evaluates without error
                                     and every selector returns series

FILEs are rules files (plain, or a PrometheusRule) and Grafana dashboards
(JSON). Dashboard variables get values that match everything ($namespace ->
.*, $__rate_interval -> 1m). A selector is a metric name kettle exports
(kettle_*, process_*, up) with its label matchers, as written.
"""
import json
import re
import sys
import urllib.parse
import urllib.request

import yaml

SELECTOR = re.compile(r'\b((?:kettle|process)_[A-Za-z0-9_]+|up)\b(\{[^{}]*\})?')
VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$namespace": ".*"}


def substitute(expr):
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    if "$" in expr:
        raise SystemExit(f"unknown dashboard variable in: {expr}")
    return expr


def rule_exprs(doc):
    groups = doc["spec"]["groups"] if doc.get("kind") == "PrometheusRule" else doc["groups"]
    for group in groups:
        for rule in group["rules"]:
            yield rule.get("alert") or rule.get("record"), rule["expr"]


def dashboard_exprs(doc):
    def panels(items):
        for p in items:
            yield p
            yield from panels(p.get("panels", []))
    for p in panels(doc.get("panels", [])):
        for t in p.get("targets", []):
            if t.get("expr"):
                yield f"panel {p['id']} {p.get('title', '')!r}", substitute(t["expr"])
    for v in doc.get("templating", {}).get("list", []):
        query = v.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        m = re.match(r'label_values\((.*),\s*\w+\)$', text or "")
        if m:
            yield f"variable {v['name']}", substitute(m.group(1))


def exprs(paths):
    found = []
    for path in paths:
        with open(path) as f:
            text = f.read()
        if path.endswith(".json"):
            found += dashboard_exprs(json.loads(text))
        else:
            found += rule_exprs(yaml.safe_load(text))
    return found


def selectors(found):
    seen = []
    for _, expr in found:
        for m in SELECTOR.finditer(expr):
            sel = m.group(1) + (m.group(2) or "")
            if sel not in seen:
                seen.append(sel)
    return seen


def query(url, promql):
    target = url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(target, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


def main(argv):
    if len(argv) >= 2 and argv[0] == "list":
        found = exprs(argv[1:])
        for where, expr in found:
            print(f"expr {where}: {expr}")
        for sel in selectors(found):
            print(f"selector {sel}")
        return 0
    if len(argv) >= 3 and argv[0] == "check":
        url, found = argv[1], exprs(argv[2:])
        failed = 0
        for where, expr in found:
            answer = query(url, expr)
            if answer.get("status") != "success":
                failed += 1
                print(f"FAIL {where}: {answer.get('error')}: {expr}")
        for sel in selectors(found):
            answer = query(url, sel)
            n = len(answer.get("data", {}).get("result", [])) if answer.get("status") == "success" else 0
            if n == 0:
                failed += 1
                print(f"FAIL no series for {sel}")
            else:
                print(f"ok   {n} series for {sel}")
        print(f"{len(found)} expressions, {len(selectors(found))} selectors, {failed} failed")
        return 1 if failed else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
