#!/usr/bin/env python3
"""Streaming benchmark: finished builds are written into the fake GCS at a
steady rate while `kettle stream` runs; reports end-to-end latency (object
written -> row in BigQuery) p50/p99, the sustained builds/s, and kettle's
CPU seconds (user, sys) and peak RSS.

usage: bench/stream_bench.py KETTLE FAKEGCP [--builds N] [--rate R] [--latency-ms L]
"""
import argparse, http.client, json, os, resource, shutil, subprocess, tempfile, threading, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kettle"); ap.add_argument("fake")
    ap.add_argument("--builds", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=100.0, help="builds per second written")
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--writers", type=int, default=8)
    a = ap.parse_args()
    a.kettle, a.fake = os.path.abspath(a.kettle), os.path.abspath(a.fake)
    work = tempfile.mkdtemp(prefix="kettle-stream-bench-")
    os.makedirs(f"{work}/tree/kubernetes-jenkins")
    with open(f"{work}/buckets.yaml", "w") as f:
        f.write('gs://kubernetes-jenkins/logs/:\n  prefix: "jenkins:"\n')
    shutil.copy(os.path.join(os.path.dirname(__file__), "..", "tests/data/spec/schema.json"), f"{work}/schema.json")
    fake = subprocess.Popen([a.fake, "--root", "tree", "--port", "0", "--latency-ms", str(a.latency_ms),
                             "--topic", "projects/b/topics/gcs",
                             "--subscription", "projects/b/subscriptions/kettle=projects/b/topics/gcs",
                             "--notify", "kubernetes-jenkins=projects/b/topics/gcs", "--dataset", "b:ds1",
                             "--pull-hold-ms", "2000"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    host, port = fake.stdout.readline().strip().split("//")[1].split(":")
    env = dict(os.environ, STORAGE_EMULATOR_HOST=f"{host}:{port}", PUBSUB_EMULATOR_HOST=f"{host}:{port}",
               BIGQUERY_EMULATOR_HOST=f"{host}:{port}")
    stream = subprocess.Popen([a.kettle, "stream", "--db", "build.db", "--buckets", "buckets.yaml", "--poll", "b/gcs/kettle",
                               "--dataset", "b:ds1", "--tables", "day:1",
                               "--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0"], cwd=work, env=env,
                              stderr=open(f"{work}/stream.log", "w"))
    written = {}
    now = int(time.time())
    lock = threading.Lock()

    def writer(ids):
        conn = http.client.HTTPConnection(host, int(port))
        for i in ids:
            target = start + i / a.rate
            delay = target - time.time()
            if delay > 0: time.sleep(delay)
            for name, body in (("started", {"timestamp": now}), ("finished", {"timestamp": now + 1, "passed": True})):
                conn.request("POST", f"/upload/storage/v1/b/kubernetes-jenkins/o?uploadType=media&name=logs/job/{i}/{name}.json",
                             body=json.dumps(body))
                conn.getresponse().read()
            with lock: written[f"gs://kubernetes-jenkins/logs/job/{i}"] = time.time()

    time.sleep(1.0)
    start = time.time()
    threads = [threading.Thread(target=writer, args=(range(w, a.builds, a.writers),)) for w in range(a.writers)]
    for t in threads: t.start()
    seen = {}
    conn = http.client.HTTPConnection(host, int(port))
    deadline = start + a.builds / a.rate + 120
    while len(seen) < a.builds and time.time() < deadline:
        conn.request("GET", "/_fake/bigquery/b/ds1/day"); body = conn.getresponse().read()
        t = time.time()
        try: rows = json.loads(body)
        except ValueError: rows = []
        if not isinstance(rows, list): rows = []  # an error answer (the table is not there yet)
        for r in rows: seen.setdefault(r["path"], t)
        time.sleep(0.1)
    for t in threads: t.join()
    open(f"{work}/stop", "w").close(); stream.wait(timeout=60)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # kettle: the only child reaped so far
    fake.terminate(); fake.wait()
    lat = sorted(seen[p] - written[p] for p in seen if p in written)
    span = max(seen.values()) - start if seen else 0
    q = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))] if lat else float("nan")
    print(f"builds {a.builds} at {a.rate:.0f}/s, {a.latency_ms} ms injected latency: {len(seen)} rows arrived, "
          f"latency p50 {q(0.5):.2f}s p99 {q(0.99):.2f}s max {lat[-1] if lat else float('nan'):.2f}s, "
          f"sustained {len(seen) / span if span else 0:.0f} builds/s, "
          f"kettle CPU user {usage.ru_utime:.2f}s sys {usage.ru_stime:.2f}s peak RSS {usage.ru_maxrss / 1024:.1f} MB")
    shutil.rmtree(work)

if __name__ == "__main__":
    main()
