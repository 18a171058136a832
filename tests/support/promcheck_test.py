#!/usr/bin/env python3
"""Tests for promcheck.py.  Run: python3 tests/support/promcheck_test.py"""

import http.server
import math
import os
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import promcheck  # noqa: E402

PROMCHECK = os.path.join(HERE, "promcheck.py")

# What kettle's /metrics is expected to look like: labelled counters, gauges
# (one with a timestamp, special values), a histogram with two label sets, a
# summary, comments and a blank line.
VALID = r'''# HELP kettle_builds_collected_total Builds collected, by job and result.
# TYPE kettle_builds_collected_total counter
kettle_builds_collected_total{job="ci-build",result="success"} 42
kettle_builds_collected_total{job="ci-build",result="failure"} 3
kettle_builds_collected_total{job="path \"quoted\" \\ back\nslash",result="success"} 1
kettle_builds_collected_total{result="success",job="trailing-comma",} 0
# HELP kettle_up Whether the collector is up.\nSecond line with a \\ backslash and "quotes".
# TYPE kettle_up gauge
kettle_up 1
# TYPE kettle_queue_depth gauge
kettle_queue_depth{queue="a"} +Inf
kettle_queue_depth{queue="b"} NaN
kettle_queue_depth{queue="c"} -Inf
kettle_queue_depth{queue="d"} -1.5e-3
# A free-form comment.
#

# TYPE kettle_last_success_timestamp_seconds gauge
kettle_last_success_timestamp_seconds{job="a"} 1.7e+09 1700000000000
# HELP kettle_build_duration_seconds Time to collect one build.
# TYPE kettle_build_duration_seconds histogram
kettle_build_duration_seconds_bucket{stage="download",le="0.5"} 1
kettle_build_duration_seconds_bucket{stage="download",le="1"} 4
kettle_build_duration_seconds_bucket{stage="download",le="+Inf"} 5
kettle_build_duration_seconds_sum{stage="download"} 6.25
kettle_build_duration_seconds_count{stage="download"} 5
kettle_build_duration_seconds_bucket{stage="parse",le="0.5"} 0
kettle_build_duration_seconds_bucket{stage="parse",le="1"} 0
kettle_build_duration_seconds_bucket{stage="parse",le="+Inf"} 0
kettle_build_duration_seconds_sum{stage="parse"} 0
kettle_build_duration_seconds_count{stage="parse"} 0
# TYPE kettle_row_size_bytes summary
kettle_row_size_bytes{quantile="0.5"} 100
kettle_row_size_bytes{quantile="0.99"} NaN
kettle_row_size_bytes_sum 1234
kettle_row_size_bytes_count 7
untyped_metric 12
'''

# A minimal valid prefix the invalid cases below are built from.
COUNTER = "# TYPE a_total counter\na_total 1\n"

# (name, exposition, fragment of the expected problem message)
INVALID = [
    ("bad metric name", "1abc 1\n", "invalid metric name '1abc'"),
    ("bad metric name in TYPE", "# TYPE a-b gauge\n", "invalid metric name 'a-b'"),
    ("bad label name", 'a{1x="y"} 1\n', "invalid label name '1x'"),
    ("reserved label name", 'a{__x="y"} 1\n', "reserved"),
    ("unquoted label value", "a{x=y} 1\n", "must be double-quoted"),
    ("unterminated label value", 'a{x="y} 1\n', "unterminated label value"),
    ("bad escape", 'a{x="\\t"} 1\n', "invalid escape sequence '\\t'"),
    ("bad HELP escape", "# HELP a x\\ty\n", "invalid escape sequence '\\t' in HELP"),
    ("duplicate label name", 'a{x="1",x="2"} 1\n', "duplicate label name 'x'"),
    ("duplicate series", 'a{x="1"} 1\na{x="1"} 2\n', "duplicate series a{x=\"1\"}"),
    ("duplicate series, label order", 'a{x="1",y="2"} 1\na{y="2",x="1"} 2\n', "duplicate series"),
    ("empty label is no label", 'a{x=""} 1\na 2\n', "duplicate series"),
    ("TYPE after samples", "a 1\n# TYPE a gauge\n", "TYPE line for 'a' comes after its samples"),
    ("duplicate TYPE", "# TYPE a gauge\n# TYPE a gauge\na 1\n", "duplicate TYPE line for 'a'"),
    ("duplicate HELP", "# HELP a x\n# HELP a y\na 1\n", "duplicate HELP line for 'a'"),
    ("unknown type", "# TYPE a gaugeish\n", "unknown metric type 'gaugeish'"),
    ("type with extra words", "# TYPE a gauge extra\n", "unexpected text after type"),
    ("malformed HELP", "#HELP a x\n", "malformed HELP line"),
    ("family not contiguous", "a 1\nb 1\na{x=\"1\"} 2\n", "family 'a' is not contiguous"),
    ("metadata not contiguous", "# HELP a x\n# HELP b y\n# TYPE a gauge\n", "not contiguous"),
    ("histogram missing +Inf",
     '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', 'has no le="+Inf" bucket'),
    ("histogram buckets not cumulative",
     '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
     "buckets not cumulative"),
    ("histogram buckets out of order",
     '# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
     "not in increasing le order"),
    ("histogram _count != +Inf",
     '# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 4\n', "_count 4 != +Inf bucket 3"),
    ("histogram without _count", '# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_sum 1\n', "has no _count"),
    ("histogram bad le", '# TYPE h histogram\nh_bucket{le="x"} 3\n', "invalid le='x'"),
    ("histogram bucket without le", "# TYPE h histogram\nh_bucket 3\n", "has no 'le' label"),
    ("histogram bare sample", "# TYPE h histogram\nh 3\n", "unexpected sample 'h'"),
    ("histogram per label set",
     '# TYPE h histogram\nh_bucket{a="1",le="+Inf"} 1\nh_sum{a="1"} 1\nh_count{a="1"} 1\n'
     'h_bucket{a="2",le="1"} 1\nh_sum{a="2"} 1\nh_count{a="2"} 1\n', 'h{a="2"} has no le="+Inf"'),
    ("summary without quantile", "# TYPE s summary\ns 1\ns_sum 1\ns_count 1\n", "has no 'quantile' label"),
    ("summary quantile out of range", '# TYPE s summary\ns{quantile="2"} 1\ns_sum 1\ns_count 1\n',
     "invalid quantile='2'"),
    ("negative counter", "# TYPE a_total counter\na_total -1\n", "counter 'a_total' has negative value -1"),
    ("NaN counter", "# TYPE a_total counter\na_total NaN\n", "counter 'a_total' has NaN value"),
    ("counter without _total", "# TYPE a counter\na 1\n", "counter 'a' must be named with a '_total' suffix"),
    ("_milliseconds name", "# TYPE req_milliseconds gauge\nreq_milliseconds 1\n",
     "non-base unit '_milliseconds'; use '_seconds'"),
    ("_ms counter", "# TYPE req_ms_total counter\nreq_ms_total 1\n", "non-base unit '_ms'"),
    ("_kilobytes untyped", "size_kilobytes 1\n", "use '_bytes'"),
    ("_megabytes histogram", '# TYPE m_megabytes histogram\nm_megabytes_bucket{le="+Inf"} 1\n', "'_megabytes'"),
    ("non-numeric value", "a one\n", "invalid sample value 'one'"),
    ("underscore in value", "a 1_000\n", "invalid sample value '1_000'"),
    ("hex value", "a 0x1p3\n", "invalid sample value"),
    ("overflowing value", "a 1e400\n", "invalid sample value '1e400'"),
    ("missing value", 'a{x="1"}\n', "missing value"),
    ("bad timestamp", "a 1 1.5\n", "invalid timestamp '1.5'"),
    ("garbage after timestamp", "a 1 2 3\n", "unexpected text after timestamp"),
    ("missing trailing newline", COUNTER.rstrip("\n"), "line 2: text does not end with a newline"),
    ("trailing whitespace", "a 1 \n", "trailing whitespace"),
    ("leading whitespace", " a 1\n", "leading whitespace"),
    ("carriage return", "a 1\r\n", "carriage return"),
    ("invalid UTF-8", b'a{x="\xff"} 1\n', "invalid UTF-8"),
]


class ValidTest(unittest.TestCase):
    def test_realistic_exposition_passes(self):
        families, problems = promcheck.check(VALID)
        self.assertEqual([str(p) for p in problems], [])
        self.assertEqual([f.name for f in promcheck.parse(VALID)], [f.name for f in families])

    def test_structure(self):
        by_name = {f.name: f for f in promcheck.parse(VALID)}
        builds = by_name["kettle_builds_collected_total"]
        self.assertEqual(builds.type, "counter")
        self.assertEqual(builds.help, "Builds collected, by job and result.")
        self.assertEqual(len(builds.samples), 4)
        self.assertEqual(builds.samples[2].labels["job"], 'path "quoted" \\ back\nslash')
        self.assertEqual(by_name["kettle_up"].help,
                         'Whether the collector is up.\nSecond line with a \\ backslash and "quotes".')
        depth = {s.labels["queue"]: s.value for s in by_name["kettle_queue_depth"].samples}
        self.assertEqual(depth["a"], math.inf)
        self.assertTrue(math.isnan(depth["b"]))
        self.assertEqual(depth["d"], -0.0015)
        stamp = by_name["kettle_last_success_timestamp_seconds"].samples[0]
        self.assertEqual((stamp.value, stamp.timestamp), (1.7e9, 1700000000000))
        histogram = by_name["kettle_build_duration_seconds"]
        self.assertEqual((histogram.type, len(histogram.samples)), ("histogram", 10))
        self.assertEqual(by_name["untyped_metric"].type, "untyped")
        self.assertEqual(by_name["kettle_row_size_bytes"].type, "summary")

    def test_go_float_spellings_and_timestamps(self):
        values = {"1.": 1, ".5": 0.5, "-0": 0, "1E+3": 1000, "+Inf": math.inf, "-inf": -math.inf,
                  "Infinity": math.inf, "nan": math.nan, "NaN": math.nan, "1e-400": 0}
        for text, want in values.items():
            with self.subTest(text):
                got = promcheck.parse(f"a {text} -5\n")[0].samples[0]
                self.assertEqual(got.timestamp, -5)
                self.assertTrue(got.value == want or math.isnan(got.value) and math.isnan(want))
        for text in ("+nan", "inf.", "1e", "e1", ".", "0x10", "1,5", " "):
            with self.subTest(text):
                self.assertTrue(promcheck.check(f"a {text}\n")[1])

    def test_whitespace_between_tokens(self):
        self.assertEqual(promcheck.check('a { x = "1" , y="2" }\t 1 \t2\n')[1], [])

    def test_empty_input_is_valid(self):
        self.assertEqual(promcheck.parse(""), [])

    def test_blank_lines_and_comments(self):
        self.assertEqual(promcheck.check("\n\n# just a comment\n\n")[1], [])

    def test_conventions_can_be_disabled(self):
        text = "# TYPE a counter\na 1\nreq_milliseconds 3\n"
        self.assertTrue(promcheck.check(text)[1])
        self.assertEqual(promcheck.check(text, conventions=False)[1], [])

    def test_parse_raises_with_all_problems(self):
        with self.assertRaises(promcheck.ParseError) as ctx:
            promcheck.parse("1a 1\nb{x=} 2\n")
        self.assertEqual([p.line for p in ctx.exception.problems], [1, 2])

    def test_select(self):
        families = promcheck.parse(VALID)
        match = promcheck.select(families, 'kettle_builds_collected_total{result="success"}')
        self.assertEqual(sorted(s.value for s in match), [0, 1, 42])
        self.assertEqual(promcheck.select(families, "kettle_up")[0].value, 1)
        self.assertEqual(promcheck.select(families, 'kettle_up{job=""}')[0].value, 1)
        self.assertEqual(promcheck.select(families, 'kettle_up{job="x"}'), [])
        with self.assertRaises(ValueError):
            promcheck.select(families, "kettle_up{")


class InvalidTest(unittest.TestCase):
    def test_each_invalid_input_is_rejected(self):
        for name, text, fragment in INVALID:
            with self.subTest(name):
                _, problems = promcheck.check(text)
                messages = [str(p) for p in problems]
                self.assertTrue(any(fragment in m for m in messages),
                                f"{fragment!r} not in {messages}")

    def test_problems_carry_line_numbers(self):
        _, problems = promcheck.check(COUNTER + "b 1\n# TYPE b gauge\n")
        self.assertEqual([p.line for p in problems], [4])


def run_cli(*args, stdin=""):
    return subprocess.run([sys.executable, PROMCHECK, *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


class CliTest(unittest.TestCase):
    def test_valid_stdin(self):
        result = run_cli("-", stdin=VALID)
        self.assertEqual((result.returncode, result.stdout, result.stderr), (0, "", ""))

    def test_invalid_reports_one_line_per_problem(self):
        result = run_cli("-", stdin="a 1\n1b 2\na 3\n")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.splitlines(), [
            "promcheck: line 2: invalid metric name '1b'",
            "promcheck: line 3: duplicate series a (first at line 1)",
        ])

    def test_no_conventions_flag(self):
        self.assertEqual(run_cli("-", stdin="# TYPE a counter\na 1\n").returncode, 1)
        self.assertEqual(run_cli("-", "--no-conventions", stdin="# TYPE a counter\na 1\n").returncode, 0)

    def test_require(self):
        self.assertEqual(run_cli("-", "--require", "kettle_up", "--require",
                                 "kettle_build_duration_seconds_bucket", stdin=VALID).returncode, 0)
        result = run_cli("-", "--require", "kettle_up", "--require", "kettle_nope", stdin=VALID)
        self.assertEqual(result.returncode, 1)
        self.assertIn("required metric 'kettle_nope' not found", result.stderr)

    def test_value(self):
        cases = [
            ("kettle_up", "1"),
            ('kettle_builds_collected_total{job="ci-build",result="failure"}', "3"),
            ('kettle_builds_collected_total{result="success"}', "43"),  # summed
            ('kettle_build_duration_seconds_sum{stage="download"}', "6.25"),
            ('kettle_build_duration_seconds_bucket{stage="download",le="+Inf"}', "5"),
            ('kettle_queue_depth{queue="a"}', "+Inf"),
            ('kettle_queue_depth{queue="b"}', "NaN"),
            ('kettle_builds_collected_total{job="path \\"quoted\\" \\\\ back\\nslash"}', "1"),
        ]
        for selector, want in cases:
            with self.subTest(selector):
                result = run_cli("-", "--value", selector, stdin=VALID)
                self.assertEqual((result.returncode, result.stdout), (0, want + "\n"), result.stderr)

    def test_value_without_match(self):
        result = run_cli("-", "--value", 'kettle_up{job="x"}', stdin=VALID)
        self.assertEqual((result.returncode, result.stdout), (1, ""))

    def test_value_on_invalid_input_prints_nothing(self):
        result = run_cli("-", "--value", "a", stdin="a 1\na 1\n")
        self.assertEqual((result.returncode, result.stdout), (1, ""))

    def test_bad_selector_is_usage_error(self):
        self.assertEqual(run_cli("-", "--value", "a{b}", stdin="a 1\n").returncode, 2)

    def test_print(self):
        text = ('# TYPE b_total counter\nb_total{z="1",a="x\\"y"} 2\nb_total 0.5\n'
                '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 2.5\nh_count 1\n')
        result = run_cli("-", "--print", stdin=text)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.splitlines(), [
            'b_total{a="x\\"y",z="1"} 2',
            "b_total 0.5",
            'h_bucket{le="+Inf"} 1',
            "h_sum 2.5",
            "h_count 1",
        ])

    def test_file_source(self):
        with tempfile.NamedTemporaryFile("w", suffix=".prom", delete=False) as f:
            f.write(COUNTER)
        try:
            result = run_cli(f.name, "--value", "a_total")
            self.assertEqual((result.returncode, result.stdout), (0, "1\n"), result.stderr)
        finally:
            os.unlink(f.name)
        result = run_cli(f.name)
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot read", result.stderr)


class HttpSourceTest(unittest.TestCase):
    """SOURCE may be a URL; the response's Content-Type is checked too."""

    content_type = None

    @classmethod
    def setUpClass(cls):
        test = cls

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = COUNTER.encode()
                self.send_response(200 if self.path == "/metrics" else 404)
                if test.content_type:
                    self.send_header("Content-Type", test.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.url = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def fetch(self, content_type, path="/metrics"):
        type(self).content_type = content_type
        return run_cli(self.url + path, "--value", "a_total")

    def test_good_content_type(self):
        for ct in ("text/plain; version=0.0.4; charset=utf-8", "text/plain; charset=utf-8"):
            with self.subTest(ct):
                result = self.fetch(ct)
                self.assertEqual((result.returncode, result.stdout), (0, "1\n"), result.stderr)

    def test_bad_content_type(self):
        for ct, fragment in ((None, "no Content-Type"), ("application/json", "not text/plain"),
                             ("text/plain; version=1.0.0", "version=0.0.4")):
            with self.subTest(ct):
                result = self.fetch(ct)
                self.assertEqual(result.returncode, 1)
                self.assertIn(fragment, result.stderr)

    def test_http_error(self):
        result = self.fetch("text/plain", path="/nope")
        self.assertEqual(result.returncode, 1)
        self.assertIn("HTTP Error 404", result.stderr)


if __name__ == "__main__":
    unittest.main()
