#!/usr/bin/env python3
"""Strict checker for the Prometheus text exposition format, version 0.0.4.

Used by kettle's tests to validate what /metrics serves.  It is stricter than
Prometheus itself: anything Prometheus would reject is an error, and so is
anything that is merely sloppy (trailing whitespace, a family split in two,
histograms whose buckets do not add up), because kettle controls its own output
and should emit it canonically.  Kettle's naming conventions are enforced too
unless turned off.

As a module:

    families = promcheck.parse(text)            # raises ParseError if invalid
    families, problems = promcheck.check(text)  # never raises
    samples = promcheck.select(families, 'kettle_up{job="a"}')

As a command:

    promcheck.py SOURCE [--require NAME ...] [--value SELECTOR ...] [--print]
                 [--no-conventions]

SOURCE is a file, '-' for stdin, or an http(s):// URL.  Problems are printed
to stderr as 'promcheck: line N: message' and make the exit status 1.
Standard library only.
"""

import argparse
import http.client
import math
import re
import sys
import urllib.request
from dataclasses import dataclass, field

METRIC_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

# What Go's strconv.ParseFloat accepts, minus hex floats and '_' digit
# separators, which Prometheus' own text parser (expfmt) refuses.  Python's
# float() is laxer (surrounding whitespace, '_', '+nan'), so the syntax is
# checked here first.
FLOAT_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf(?:inity)?))"
    r"|(?i:nan)")
# Timestamps are milliseconds since the epoch, an int64 for Go's ParseInt.
TIMESTAMP_RE = re.compile(r"[+-]?[0-9]+")
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
SUMMARY_SUFFIXES = ("_sum", "_count")

# Kettle convention: units in names are base units.  Maps a rejected final
# name component to the unit to use instead.
NON_BASE_UNITS = {
    **dict.fromkeys(("milliseconds", "ms", "millis", "msec", "microseconds",
                     "us", "usec", "nanoseconds", "ns", "nsec", "minutes",
                     "hours", "days"), "seconds"),
    **dict.fromkeys(("kilobytes", "megabytes", "gigabytes", "terabytes",
                     "kb", "mb", "gb", "kib", "mib", "gib"), "bytes"),
}
# Suffixes client libraries append to a family name; the unit sits before them.
STRUCTURAL_SUFFIXES = ("total", "bucket", "sum", "count")


@dataclass
class Sample:
    name: str
    labels: dict
    value: float
    timestamp: int = None
    line: int = 0


@dataclass
class Family:
    name: str
    type: str = "untyped"
    help: str = None
    samples: list = field(default_factory=list)
    line: int = 0           # first line mentioning the family
    type_line: int = None
    help_line: int = None


@dataclass
class Problem:
    line: int               # None for problems not tied to one line
    message: str

    def __str__(self):
        if self.line is None:
            return self.message
        return f"line {self.line}: {self.message}"


class ParseError(ValueError):
    """Raised by parse(); .problems lists every Problem found."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class LineError(Exception):
    """A problem that makes the rest of one line unparsable."""


# ---------------------------------------------------------------- values

def parse_float(text):
    """Parses a sample value the way Prometheus does, or raises ValueError."""
    if not FLOAT_RE.fullmatch(text):
        raise ValueError("not a Go float")
    value = float(text)
    # Go reports overflow ("1e400") as an error rather than returning Inf.
    if math.isinf(value) and "inf" not in text.lower():
        raise ValueError("out of float64 range")
    return value


def format_value(value):
    """Formats a value for --print/--value: integers without '.0', Go spellings
    for the special values, so shell tests can compare strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    return repr(value)


def escape_label_value(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_series(name, labels):
    """name{a="x",b="y"} with labels sorted by name; bare name if no labels."""
    if not labels:
        return name
    inner = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


# --------------------------------------------------------- line scanning

class _Scanner:
    """Cursor over one line; the lexing helpers below advance it."""

    def __init__(self, text):
        self.text = text
        self.pos = 0

    def peek(self):
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self):
        return self.pos >= len(self.text)

    def skip_blanks(self):
        while self.peek() in (" ", "\t"):
            self.pos += 1

    def token(self, stop):
        """Reads up to (not including) the first character in stop."""
        start = self.pos
        while not self.at_end() and self.text[self.pos] not in stop:
            self.pos += 1
        return self.text[start:self.pos]


def _check_metric_name(name):
    if not name:
        raise LineError("missing metric name")
    if not METRIC_NAME_RE.fullmatch(name):
        raise LineError(f"invalid metric name {name!r}")


def _read_metric_name(sc):
    name = sc.token(" \t{")
    _check_metric_name(name)
    return name


def _read_label_value(sc, label):
    """Reads a double-quoted label value; the scanner is at the opening quote."""
    if sc.peek() != '"':
        raise LineError(f"value of label {label!r} must be double-quoted")
    sc.pos += 1
    out = []
    while True:
        if sc.at_end():
            raise LineError(f"unterminated label value for label {label!r}")
        ch = sc.text[sc.pos]
        sc.pos += 1
        if ch == '"':
            return "".join(out)
        if ch == "\\":
            # The format knows exactly three escapes; Go's parser rejects others.
            if sc.at_end():
                raise LineError(f"unterminated label value for label {label!r}")
            esc = sc.peek()
            if esc not in ("\\", '"', "n"):
                raise LineError(f"invalid escape sequence '\\{esc}' in value of label {label!r}")
            sc.pos += 1
            out.append("\n" if esc == "n" else esc)
        else:
            out.append(ch)


def _read_labels(sc):
    """Reads '{a="x",b="y"}' (a trailing comma is allowed); the scanner is at '{'."""
    sc.pos += 1
    labels = {}
    while True:
        sc.skip_blanks()
        if sc.peek() == "}":
            sc.pos += 1
            return labels
        label = sc.token(' \t=,}"')
        if not label:
            raise LineError("expected a label name or '}'" if not sc.at_end()
                            else "unterminated label set")
        if not LABEL_NAME_RE.fullmatch(label):
            raise LineError(f"invalid label name {label!r}")
        if label.startswith("__"):
            raise LineError(f"label name {label!r} is reserved (starts with '__')")
        sc.skip_blanks()
        if sc.peek() != "=":
            raise LineError(f"expected '=' after label name {label!r}")
        sc.pos += 1
        sc.skip_blanks()
        value = _read_label_value(sc, label)
        if label in labels:
            raise LineError(f"duplicate label name {label!r}")
        labels[label] = value
        sc.skip_blanks()
        if sc.peek() == ",":
            sc.pos += 1
        elif sc.peek() != "}":
            raise LineError(f"expected ',' or '}}' after value of label {label!r}")


def parse_sample_line(line):
    """Splits 'name{labels} value [timestamp]' into a Sample (line not set)."""
    sc = _Scanner(line)
    name = _read_metric_name(sc)
    sc.skip_blanks()        # Go's parser allows 'name {...}'
    labels = _read_labels(sc) if sc.peek() == "{" else {}
    sc.skip_blanks()
    value_text = sc.token(" \t")
    if not value_text:
        raise LineError(f"missing value for sample {name!r}")
    try:
        value = parse_float(value_text)
    except ValueError as e:
        raise LineError(f"invalid sample value {value_text!r} ({e})") from None
    sc.skip_blanks()
    timestamp = None
    if not sc.at_end():
        timestamp = _parse_timestamp(sc.token(" \t"))
        sc.skip_blanks()
        if not sc.at_end():
            raise LineError(f"unexpected text after timestamp: {sc.text[sc.pos:]!r}")
    return Sample(name, labels, value, timestamp)


def _parse_timestamp(text):
    if not TIMESTAMP_RE.fullmatch(text) or not INT64_MIN <= int(text) <= INT64_MAX:
        raise LineError(f"invalid timestamp {text!r} (want integer milliseconds)")
    return int(text)


def parse_selector(text):
    """Parses 'name' or 'name{a="x",b="y"}' into (name, labels)."""
    sc = _Scanner(text.strip())
    try:
        name = _read_metric_name(sc)
        labels = _read_labels(sc) if sc.peek() == "{" else {}
        if not sc.at_end():
            raise LineError(f"unexpected text {sc.text[sc.pos:]!r}")
    except LineError as e:
        raise ValueError(f"invalid selector {text!r}: {e}") from None
    return name, labels


def _unescape_help(text):
    """HELP text knows only the escapes '\\\\' and '\\n' (quotes are literal)."""
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            esc = text[i + 1:i + 2]
            if esc not in ("\\", "n"):
                raise LineError(f"invalid escape sequence '\\{esc}' in HELP text")
            out.append("\n" if esc == "n" else "\\")
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_help_line(line):
    """'# HELP name text' -> (name, text)."""
    m = re.fullmatch(r"# HELP ([^ \t]*)(?:[ \t](.*))?", line)
    _check_metric_name(m.group(1))
    return m.group(1), _unescape_help(m.group(2) or "")


def parse_type_line(line):
    """'# TYPE name type' -> (name, type)."""
    words = line[len("# TYPE "):].split()
    if not words:
        raise LineError("TYPE line without metric name")
    _check_metric_name(words[0])
    if len(words) < 2:
        raise LineError(f"TYPE line for {words[0]!r} without a type")
    if len(words) > 2:
        raise LineError(f"unexpected text after type in TYPE line: {' '.join(words[2:])!r}")
    if words[1] not in METRIC_TYPES:
        raise LineError(f"unknown metric type {words[1]!r} (want one of {', '.join(METRIC_TYPES)})")
    return words[0], words[1]


def _metadata_keyword(line):
    """'HELP'/'TYPE' if the comment line is meant as metadata, else None.

    Go's parser also reads '#HELP' or '#  HELP' as metadata; such lines are
    flagged as malformed rather than silently treated as comments."""
    words = line[1:].split(None, 1)
    return words[0] if words and words[0] in ("HELP", "TYPE") else None


# ------------------------------------------------------ family semantics

def _series_key(name, labels):
    # A label with an empty value is the same as no label in Prometheus, so
    # foo{a=""} and foo are one series.
    return name, tuple(sorted((k, v) for k, v in labels.items() if v != ""))


def _unit_problem(name):
    """Kettle convention: units in names must be base units (_seconds, _bytes)."""
    parts = name.split("_")
    if len(parts) > 1 and parts[-1] in STRUCTURAL_SUFFIXES:
        parts.pop()
    unit = parts[-1].lower() if len(parts) > 1 else ""
    if unit in NON_BASE_UNITS:
        return (f"metric name {name!r} uses non-base unit '_{parts[-1]}'; "
                f"use '_{NON_BASE_UNITS[unit]}' (kettle convention)")
    return None


class _Checker:
    """Consumes the exposition line by line and collects Problems."""

    def __init__(self, conventions):
        self.conventions = conventions
        self.families = {}         # name -> Family, in order of appearance
        self.current = None        # family of the previous non-comment line
        self.closed = set()        # families another family has followed
        self.series = {}           # _series_key -> line of first occurrence
        self.problems = []

    def problem(self, line, message):
        self.problems.append(Problem(line, message))

    # -- family bookkeeping

    def _family(self, name, lineno):
        """The family named exactly name, created (untyped) if new."""
        family = self.families.get(name)
        if family is None:
            family = self.families[name] = Family(name, line=lineno)
            if self.conventions and (msg := _unit_problem(name)):
                self.problem(lineno, msg)
        return family

    def _family_for_sample(self, name, lineno):
        """Histogram and summary samples carry a suffix; map them to the family."""
        if name in self.families:
            return self.families[name]
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix):
                family = self.families.get(name[:-len(suffix)])
                if family is not None and family.type in ("histogram", "summary"):
                    return family
        return self._family(name, lineno)

    def _enter(self, family, lineno):
        """Every line of a family must follow the previous one without another
        family in between; Prometheus would otherwise see two families."""
        if self.current is family:
            return
        if family.name in self.closed:
            self.problem(lineno, f"family {family.name!r} is not contiguous "
                                 f"(it started at line {family.line} and another family came in between)")
        if self.current is not None:
            self.closed.add(self.current.name)
        self.current = family

    # -- line handlers

    def on_help(self, lineno, line):
        name, text = parse_help_line(line)
        family = self._family(name, lineno)
        self._enter(family, lineno)
        if family.help_line is not None:
            self.problem(lineno, f"duplicate HELP line for {name!r} (first at line {family.help_line})")
            return
        family.help, family.help_line = text, lineno

    def on_type(self, lineno, line):
        name, mtype = parse_type_line(line)
        family = self._family(name, lineno)
        self._enter(family, lineno)
        if family.type_line is not None:
            self.problem(lineno, f"duplicate TYPE line for {name!r} (first at line {family.type_line})")
            return
        if family.samples:
            self.problem(lineno, f"TYPE line for {name!r} comes after its samples "
                                 f"(first sample at line {family.samples[0].line})")
            return
        family.type, family.type_line = mtype, lineno
        if self.conventions and mtype == "counter" and not name.endswith("_total"):
            self.problem(lineno, f"counter {name!r} must be named with a '_total' suffix "
                                 f"(kettle convention: TYPE and samples both use {name + '_total'!r})")

    def on_sample(self, lineno, line):
        sample = parse_sample_line(line)
        sample.line = lineno
        family = self._family_for_sample(sample.name, lineno)
        self._enter(family, lineno)
        key = _series_key(sample.name, sample.labels)
        if key in self.series:
            self.problem(lineno, f"duplicate series {format_series(sample.name, sample.labels)} "
                                 f"(first at line {self.series[key]})")
        else:
            self.series[key] = lineno
        check_sample = {"counter": _check_counter_sample, "histogram": _check_histogram_sample,
                        "summary": _check_summary_sample}.get(family.type)
        if check_sample and (msg := check_sample(family, sample)):
            self.problem(lineno, msg)
        family.samples.append(sample)

    def finish(self):
        for family in self.families.values():
            _check_family(family, self.problem)


# ------------------------------------------------- per-type sample checks

def _bound(sample, label):
    """The float in a bucket's 'le' or a quantile's 'quantile' label, or None
    when missing or unusable (that sample is reported on its own)."""
    try:
        value = parse_float(sample.labels[label])
    except (KeyError, ValueError):
        return None
    if math.isnan(value) or (label == "quantile" and not 0 <= value <= 1):
        return None
    return value


def _check_count_value(what, sample):
    if math.isnan(sample.value):
        return f"{what} {sample.name!r} has NaN value"
    if sample.value < 0:
        return f"{what} {sample.name!r} has negative value {format_value(sample.value)}"
    return None


def _check_counter_sample(family, sample):
    return _check_count_value("counter", sample)


def _check_histogram_sample(family, sample):
    suffix = sample.name[len(family.name):]
    if suffix not in HISTOGRAM_SUFFIXES:
        return (f"histogram {family.name!r}: unexpected sample {sample.name!r} "
                f"(want _bucket, _sum or _count)")
    if suffix == "_bucket":
        if "le" not in sample.labels:
            return f"histogram bucket {sample.name!r} has no 'le' label"
        if _bound(sample, "le") is None:
            return f"histogram bucket {sample.name!r} has invalid le={sample.labels['le']!r}"
    elif "le" in sample.labels:
        return f"'le' label is only allowed on _bucket samples, not on {sample.name!r}"
    # _sum may be negative (negative observations); bucket counts may not.
    return None if suffix == "_sum" else _check_count_value("histogram", sample)


def _check_summary_sample(family, sample):
    suffix = sample.name[len(family.name):]
    if suffix not in ("",) + SUMMARY_SUFFIXES:
        return f"summary {family.name!r}: unexpected sample {sample.name!r} (want quantiles, _sum or _count)"
    if suffix == "":
        if "quantile" not in sample.labels:
            return f"summary sample {sample.name!r} has no 'quantile' label"
        if _bound(sample, "quantile") is None:
            return f"summary {sample.name!r} has invalid quantile={sample.labels['quantile']!r} (want 0..1)"
    elif "quantile" in sample.labels:
        return f"'quantile' label is not allowed on {sample.name!r}"
    # Quantile values may be NaN (no observations yet); counts may not.
    return _check_count_value("summary", sample) if suffix == "_count" else None


# ------------------------------------------------- per-type family checks

def _group_by_series(family, bound_label, bound_suffix):
    """Groups a histogram's or summary's samples by label set (ignoring
    bound_label) as {key: {'bounds': [(bound, Sample)], '_sum': Sample,
    '_count': Sample, 'line': first line}}, keeping file order."""
    groups = {}
    for sample in family.samples:
        rest = {k: v for k, v in sample.labels.items() if k != bound_label}
        _, key = _series_key("", rest)
        group = groups.setdefault(key, {"bounds": [], "line": sample.line})
        suffix = sample.name[len(family.name):]
        if suffix in SUMMARY_SUFFIXES:
            group[suffix] = sample
        elif suffix == bound_suffix and (bound := _bound(sample, bound_label)) is not None:
            group["bounds"].append((bound, sample))
    return groups


def _check_sum_and_count(series, group, report):
    # Client libraries always write both; a missing one means a broken writer.
    for suffix in SUMMARY_SUFFIXES:
        if suffix not in group:
            report(group["line"], f"{series} has no {suffix} sample")


def _check_histogram_group(series, group, report):
    previous = None
    for le, bucket in group["bounds"]:
        if previous is not None and le <= previous[0]:
            report(bucket.line, f"histogram {series}: buckets not in increasing le order "
                                f"(le={format_value(le)} after le={format_value(previous[0])})")
        elif previous is not None and bucket.value < previous[1]:
            report(bucket.line, f"histogram {series}: buckets not cumulative (le={format_value(le)} "
                                f"has {format_value(bucket.value)} < {format_value(previous[1])})")
        previous = (le, bucket.value)
    inf = [bucket for le, bucket in group["bounds"] if le == math.inf]
    count = group.get("_count")
    if not inf:
        report(group["line"], f'histogram {series} has no le="+Inf" bucket')
    elif count is not None and count.value != inf[0].value:
        report(count.line, f"histogram {series}: _count {format_value(count.value)} "
                           f"!= +Inf bucket {format_value(inf[0].value)}")
    _check_sum_and_count(f"histogram {series}", group, report)


def _check_summary_group(series, group, report):
    previous = None
    for quantile, sample in group["bounds"]:
        if previous is not None and quantile <= previous:
            report(sample.line, f"summary {series}: quantiles not in increasing order "
                                f"({format_value(quantile)} after {format_value(previous)})")
        previous = quantile
    _check_sum_and_count(f"summary {series}", group, report)


def _check_family(family, report):
    """Checks that need all of a histogram's or summary's samples."""
    if family.type == "histogram":
        groups, check_group = _group_by_series(family, "le", "_bucket"), _check_histogram_group
    elif family.type == "summary":
        groups, check_group = _group_by_series(family, "quantile", ""), _check_summary_group
    else:
        return
    for key, group in groups.items():
        check_group(format_series(family.name, dict(key)), group, report)


# ------------------------------------------------------------ entry points

def _lines(text, problem):
    """Splits text into (lineno, line) pairs, reporting line-level problems
    (encoding, line endings, surrounding whitespace) and yielding the line with
    them removed so later checks see the rest of it."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()             # the final newline, not an empty line
    elif text:
        problem(len(lines), "text does not end with a newline")
    for lineno, line in enumerate(lines, 1):
        if re.search(r"[\udc80-\udcff]", line):
            problem(lineno, "invalid UTF-8")
        if line.endswith("\r"):
            problem(lineno, "carriage return at end of line (use \\n line endings)")
            line = line.rstrip("\r")
        if line != line.rstrip(" \t"):
            problem(lineno, "trailing whitespace")
        # The format tolerates leading blanks, but canonical output has none.
        if line != line.lstrip(" \t") and line.strip(" \t"):
            problem(lineno, "leading whitespace")
        yield lineno, line.strip(" \t")


def check(text, conventions=True):
    """Parses and validates text; returns (families, problems) and never raises.
    Bytes are decoded as UTF-8, invalid sequences being reported."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    checker = _Checker(conventions)
    for lineno, line in _lines(text, checker.problem):
        try:
            if not line:
                continue            # blank lines are allowed
            if not line.startswith("#"):
                checker.on_sample(lineno, line)
                continue
            keyword = _metadata_keyword(line)
            if keyword and not line.startswith(f"# {keyword} "):
                if line == f"# {keyword}":
                    raise LineError(f"{keyword} line without metric name")
                raise LineError(f"malformed {keyword} line (must start with '# {keyword} ')")
            if keyword == "HELP":
                checker.on_help(lineno, line)
            elif keyword == "TYPE":
                checker.on_type(lineno, line)
            # any other '#' line is a comment
        except LineError as e:
            checker.problem(lineno, str(e))
    checker.finish()
    problems = sorted(checker.problems, key=lambda p: p.line or 0)
    return list(checker.families.values()), problems


def parse(text, conventions=True):
    """Returns the list of Family objects, or raises ParseError."""
    families, problems = check(text, conventions)
    if problems:
        raise ParseError(problems)
    return families


def select(families, selector):
    """Samples matching a selector 'name' or 'name{a="x"}': same sample name
    and every selector label equal (a="" matches an absent label, as in
    PromQL).  Raises ValueError for a malformed selector."""
    name, want = parse_selector(selector) if isinstance(selector, str) else selector
    return [s for f in families for s in f.samples
            if s.name == name and all(s.labels.get(k, "") == v for k, v in want.items())]


# --------------------------------------------------------------- command

def _check_content_type(content_type):
    """Prometheus 3 refuses scrapes without a usable Content-Type header."""
    if not content_type:
        return ["HTTP response has no Content-Type header"]
    media, *params = [p.strip() for p in content_type.split(";")]
    problems = []
    if media.lower() != "text/plain":
        problems.append(f"Content-Type {content_type!r} is not text/plain")
    for param in params:
        key, _, value = param.partition("=")
        key, value = key.strip().lower(), value.strip().strip('"')
        if key == "version" and value != "0.0.4":
            problems.append(f"Content-Type {content_type!r}: want version=0.0.4")
        if key == "charset" and value.lower() != "utf-8":
            problems.append(f"Content-Type {content_type!r}: want charset=utf-8")
    return problems


def read_source(source):
    """Returns (bytes, problems about the transport).  Raises OSError."""
    if source == "-":
        return sys.stdin.buffer.read(), []
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as response:
            return response.read(), _check_content_type(response.headers.get("Content-Type"))
    with open(source, "rb") as f:
        return f.read(), []


def _arg_parser():
    p = argparse.ArgumentParser(
        prog="promcheck.py",
        description="Strictly validate Prometheus text exposition format 0.0.4.")
    p.add_argument("source", metavar="SOURCE", help="file, '-' for stdin, or http:// URL")
    p.add_argument("--require", metavar="NAME", action="append", default=[],
                   help="fail unless a family or sample with this name is present (repeatable)")
    p.add_argument("--value", metavar="SELECTOR", action="append", default=[],
                   help="print the value (sum if several series) of samples matching "
                        "'name' or 'name{a=\"x\",...}'; fail if none match (repeatable)")
    p.add_argument("--print", action="store_true",
                   help="print every sample as 'name{labels sorted} value'")
    p.add_argument("--no-conventions", dest="conventions", action="store_false",
                   help="do not enforce kettle naming conventions (_total, base units)")
    return p


def main(argv=None):
    parser = _arg_parser()
    args = parser.parse_args(argv)
    selectors = []
    for text in args.value:
        try:
            selectors.append((text, parse_selector(text)))
        except ValueError as e:
            parser.error(str(e))

    def fail(message):
        print(f"promcheck: {message}", file=sys.stderr)

    try:
        data, transport_problems = read_source(args.source)
    except (OSError, http.client.HTTPException) as e:
        fail(f"cannot read {args.source}: {e}")
        return 1
    families, problems = check(data, args.conventions)
    for message in transport_problems:
        fail(message)
    for problem in problems:
        fail(str(problem))
    if problems or transport_problems:
        return 1

    status = 0
    if args.print:
        for family in families:
            for s in family.samples:
                print(f"{format_series(s.name, s.labels)} {format_value(s.value)}")
    for text, selector in selectors:
        matches = select(families, selector)
        if matches:
            print(format_value(sum(s.value for s in matches)))
        else:
            fail(f"no sample matches {text}")
            status = 1
    present = {f.name for f in families} | {s.name for f in families for s in f.samples}
    for name in args.require:
        if name not in present:
            fail(f"required metric {name!r} not found")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
