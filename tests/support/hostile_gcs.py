#!/usr/bin/env python3
"""A hostile GCS (and OAuth token endpoint) on 127.0.0.1, for tests and benchmarks.

It serves one bucket, `hostile`, laid out as Prow writes it, for
`gs://hostile/logs/` in buckets.yaml:
  logs/job/<1..BUILDS>/started.json, finished.json, artifacts/junit_01.xml
and misbehaves as the scenario says:
  endless          each JUnit body never ends (no length: read until close)
  endless_chunked  each JUnit body is chunked and never ends
  huge_started     each started.json is MEGABYTES long: odd builds send its
                   Content-Length, even ones none (read until close)
  nested_junit     each JUnit file is MEGABYTES of <a> elements that never
                   close, generated on the fly (nothing is stored on disk)
  repeating_token  the listing of builds repeats its nextPageToken forever
  jwt_echo         POST /token answers 400 with the assertion it was sent in
                   error_description (point a service-account key's token_uri
                   at BASE/token)
  control_names    job names in the listing hold a newline (the rest of the
                   name looks like a log line) and a NUL; listing the newline
                   job's builds answers 503 with a body that tries the same
Any other bucket or prefix lists as empty. Requests are counted per kind;
GET /_hostile/stats answers them as JSON, and --record FILE appends every
assertion the token endpoint receives, one a line.

usage: hostile_gcs.py --scenario NAME [--builds N] [--megabytes M] [--port 0] [--record FILE]
Prints "listening on http://127.0.0.1:PORT", then serves until SIGTERM.
"""
import argparse
import json
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCENARIOS = ("endless", "endless_chunked", "huge_started", "nested_junit", "repeating_token",
             "jwt_echo", "control_names")
BUCKET = "hostile"
FORGED = "E0101 00:00:00.000000 forged.go:1] forged line"
BLOCK = b"x" * (1 << 20)


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = {}

    def count(self, kind):
        with self.lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1


def jobs(scenario):
    if scenario == "control_names":
        return ["evil\n" + FORGED, "nul\0job"]
    return ["job"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile-gcs"

    def log_message(self, *args):  # quiet: the tests read kettle's log, not ours
        pass

    @property
    def state(self):
        return self.server.state

    def send_json(self, status, value, close=False):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/_hostile/stats":
            with self.state.lock:
                return self.send_json(200, {"requests_by_kind": dict(self.state.requests)})
        prefix = "/storage/v1/b/"
        if not url.path.startswith(prefix):
            return self.send_json(404, {"error": {"code": 404, "message": "not found"}})
        bucket, _, rest = url.path[len(prefix):].partition("/")
        bucket = urllib.parse.unquote(bucket)
        if rest == "o":
            return self.listing(bucket, query)
        if rest.startswith("o/") and query.get("alt") == "media":
            return self.media(bucket, urllib.parse.unquote(rest[2:]))
        return self.send_json(404, {"error": {"code": 404, "message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode(errors="replace")))
        if self.path != "/token":
            return self.send_json(404, {"error": "not found"})
        self.state.count("token")
        assertion = form.get("assertion", "")
        if self.state.args.record:
            with self.state.lock, open(self.state.args.record, "a") as f:
                f.write(assertion + "\n")
        # As a careless endpoint would: the request's own credential in the error.
        self.send_json(400, {"error": "invalid_grant",
                             "error_description": "Invalid JWT Signature: " + assertion})

    # --- listings ---
    def listing(self, bucket, query):
        self.state.count("listing")
        scenario, builds = self.state.args.scenario, self.state.args.builds
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        page = {}
        if scenario == "control_names" and prefix.startswith("logs/evil\n"):
            return self.send_json(503, {"error": {"message": "backend\n" + FORGED + "\0"}})
        if bucket == BUCKET and delimiter == "/":
            if prefix == "logs/":
                page["prefixes"] = ["logs/" + job + "/" for job in jobs(scenario)]
            elif any(prefix == "logs/" + job + "/" for job in jobs(scenario)):
                page["prefixes"] = [f"{prefix}{b}/" for b in range(1, builds + 1)]
                if scenario == "repeating_token":
                    page["nextPageToken"] = "the-same-token"
            elif prefix.endswith("/artifacts/") and scenario != "control_names":
                page["items"] = [{"name": prefix + "junit_01.xml"}]
        self.send_json(200, page)

    # --- objects ---
    def media(self, bucket, name):
        self.state.count("media")
        scenario = self.state.args.scenario
        if bucket != BUCKET:
            return self.send_json(404, {"error": {"code": 404, "message": "no such object"}})
        if name.endswith("/started.json") or name.endswith("/finished.json"):
            if scenario == "huge_started" and name.endswith("/started.json"):
                head = b'{"timestamp": 1700000000, "pad": "'
                build = int(name.split("/")[-2])
                return self.stream_sized(head, self.state.args.megabytes << 20, b'"}',
                                         announce=build % 2 == 1)
            started = name.endswith("/started.json")
            value = {"timestamp": 1700000000} if started else {"timestamp": 1700000100, "result": "SUCCESS"}
            return self.send_json(200, value)
        if name.endswith("/junit_01.xml"):
            if scenario == "endless":
                return self.stream_endless(chunked=False)
            if scenario == "endless_chunked":
                return self.stream_endless(chunked=True)
            if scenario == "nested_junit":
                nested = b"<a>" * ((1 << 20) // 3)
                return self.stream_sized(b"<testsuites>", self.state.args.megabytes << 20, b"", nested)
            body = b'<testsuite><testcase name="t" time="1"/></testsuite>'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        return self.send_json(404, {"error": {"code": 404, "message": "no such object"}})

    def stream_sized(self, head, size, tail, block=BLOCK, announce=True):
        """head, then `block` repeated (cut to fit), then tail: `size` bytes in
        all, with a Content-Length, else ended by closing the connection."""
        self.send_response(200)
        if announce:
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            self.wfile.write(head)
            left = size - len(head) - len(tail)
            while left > 0:
                piece = block if left >= len(block) else block[:left]
                self.wfile.write(piece)
                left -= len(piece)
            self.wfile.write(tail)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def stream_endless(self, chunked):
        self.send_response(200)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")  # no length: the body ends when we close
        self.end_headers()
        self.close_connection = True
        piece = (b"%x\r\n" % len(BLOCK)) + BLOCK + b"\r\n" if chunked else BLOCK
        try:
            while True:
                self.wfile.write(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", required=True, choices=SCENARIOS)
    parser.add_argument("--builds", type=int, default=1)
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record", default="")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
