#!/usr/bin/env python3
"""Generate a Prow-like GCS tree for the local fake GCS server.

An object gs://BUCKET/NAME is the file ROOT/BUCKET/NAME.  An object stored
gzip-encoded (decompressive transcoding) is gzipped on disk and has a sidecar
ROOT/.meta/BUCKET/NAME.json = {"contentEncoding": "gzip", "contentType": ...}.

  gen_tree.py --root DIR --builds N [--seed S] [--now EPOCH] [--per-job P]
              [--buckets-out FILE] [--manifest-out FILE]
              [--junit-dir tests/data/spec/junit]
  gen_tree.py --root DIR --add M [--manifest-out FILE]

Writes the tree, a buckets.yaml for it (default DIR.buckets.yaml) and a
manifest (default DIR.manifest.json) describing every build directory and
what a fresh, unlimited `make-db --junit` is expected to store.  The output
depends only on --seed and --now (default: start of the current UTC day).
N is the number of build directories, a fixed set of edge cases included
(about 200: the total is never below it).  --add M adds M new builds, newer than the
existing ones of their jobs (latest-build.txt updated), to a tree made before
and records them in the manifest under "added".

The edge cases cover SPEC section 2 and D4, D8-D11: see EDGE_* below and the
report of `--help`.
"""

import argparse
import gzip
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_JUNIT_DIR = os.path.join(HERE, '..', 'tests', 'data', 'spec', 'junit')

MANIFEST_VERSION = 1
DAY = 86400
SNOWFLAKE_EPOCH_MS = 1288834974657

PR_BUCKET = 'kubernetes-ci-logs'
PR_DIRECTORY = 'pr-logs/directory/'
PR_PULL = 'pr-logs/pull/'

# (bucket path, bucket, object prefix, options) in buckets.yaml order.
BUCKETS = [
    ('gs://kubernetes-ci-logs/logs/', {'contact': 'sig-testing', 'prefix': '', 'sequential': False}),
    ('gs://kubernetes-jenkins/logs/', {'contact': 'sig-testing', 'prefix': 'jenkins:'}),
    ('gs://kubernetes-jenkins/pr-logs/directory/', {'contact': 'sig-testing', 'prefix': 'jenkins-pr:',
                                                   'sequential': True}),
    ('gs://istio-prow/logs/', {'contact': 'istio', 'prefix': 'istio:', 'sequential': False,
                               'exclude_jobs': ['^ci-istio-flaky$', 'experimental',
                                                r'release-1\.[0-9]+$']}),
    ('gs://oddities/logs/', {'contact': 'nobody', 'prefix': 'odd:',
                             'exclude_jobs': [r'excluded\+plus']}),
]
CI, JENKINS, JENKINS_PR_DIR, ISTIO, ODD = (b[0] for b in BUCKETS)

# Job names in the oddities bucket: every one needs escaping in a URL path or
# query (space, '#', '+', '%', '?', '&', '=', unicode, quotes).
ODD_JOBS = ['job with spaces', 'job#hash', 'job+plus', 'job%41percent', 'job%2Fslash-escape',
            'job?q=1&x=y', 'jöb-ünïcödé-✓', 'emoji-🚀-job', "quote'n\"dq", 'semi;colon:at@',
            'tilde~star*(paren)', 'excluded+plus']

# started.json / finished.json shapes (D4).  'ok' is compact Prow JSON.
DOC_VARIANTS = ['ok', 'pretty', 'bom', 'gzip', 'gzip_bom', 'missing', 'empty', 'ws_only',
                'emptyobj', 'emptyobj_ws', 'array', 'array_full', 'null', 'string', 'number',
                'malformed', 'trailing_garbage', 'ts_str', 'ts_float', 'ts_str_float',
                'ts_garbage', 'ts_missing', 'unicode', 'numbers', 'escapes', 'bom_malformed']
INVALID_DOCS = {'missing', 'empty', 'ws_only', 'emptyobj', 'emptyobj_ws', 'array', 'array_full',
                'null', 'string', 'number', 'malformed', 'trailing_garbage', 'bom_malformed'}

# latest-build.txt variants (D11) for jobs of sequential buckets.
LATEST_VARIANTS = ['valid', 'whitespace', 'gzip', 'gap_top', 'stale', 'garbage', 'empty',
                   'zero', 'negative', 'float', 'missing', 'trailing_text']


def snowflake(rng, ts):
    return str(((ts * 1000 + rng.randrange(1000) - SNOWFLAKE_EPOCH_MS) << 22) | rng.randrange(1 << 22))


def sha(rng):
    return '%040x' % rng.getrandbits(160)


def pydumps(obj):
    """The DB text of a parsed document (SPEC 3.4): Python json.dumps, sorted keys."""
    return json.dumps(obj, sort_keys=True)


class Tree:
    """Writes objects under ROOT, gzip-encoded ones with their sidecar."""

    def __init__(self, root):
        self.root = root
        self.dirs = set()
        self.objects = 0

    def _mkdir(self, d):
        if d not in self.dirs:
            os.makedirs(d, exist_ok=True)
            self.dirs.add(d)

    def put(self, bucket, name, data, gz=False):
        if isinstance(data, str):
            data = data.encode('utf-8')
        path = os.path.join(self.root, bucket, name)
        self._mkdir(os.path.dirname(path))
        meta = os.path.join(self.root, '.meta', bucket, name + '.json')
        if gz:
            data = gzip.compress(data, 6, mtime=0)
            self._mkdir(os.path.dirname(meta))
            with open(meta, 'w') as f:
                json.dump({'contentEncoding': 'gzip', 'contentType': content_type(name)}, f)
        elif os.path.exists(meta):
            os.unlink(meta)
        with open(path, 'wb') as f:
            f.write(data)
        self.objects += 1


def content_type(name):
    if name.endswith('.json'):
        return 'application/json'
    if name.endswith('.xml'):
        return 'application/xml'
    return 'text/plain'


def split_path(gs):
    bucket, _, name = gs[len('gs://'):].partition('/')
    return bucket, name


# ---------------------------------------------------------------- documents

def started_obj(rng, ts, job, pr=None):
    """A started.json like Prow's pod-utils or Jenkins write (keys unsorted)."""
    commit = sha(rng)
    d = {'timestamp': ts}
    if rng.random() < 0.5:
        d['node'] = 'gke-prow-default-pool-%08x-%s' % (rng.getrandbits(32), 'abcd'[rng.randrange(4)])
    if pr is not None:
        org_repo, num = pr
        d['pull'] = str(num)
        d['repos'] = {org_repo.replace('_', '/'): 'master:%s,%d:%s' % (commit[:12], num, sha(rng)[:12])}
    elif rng.random() < 0.6:
        d['repos'] = {'kubernetes/kubernetes': 'master', 'kubernetes/test-infra': 'master:' + commit[:10]}
    if rng.random() < 0.7:
        d['repo-version'] = 'v1.%d.0-alpha.%d.%d+%s' % (rng.randrange(20, 32), rng.randrange(5),
                                                        rng.randrange(900), commit[:16])
    if rng.random() < 0.5:
        d['repo-commit'] = commit
    if rng.random() < 0.15:
        d['metadata'] = {'uploader': 'crier', 'pod': '%s-%d' % (job[:20], rng.randrange(10**6))}
    if rng.random() < 0.1:
        d['jenkins-node'] = 'agent-%d' % rng.randrange(40)
    return d


def finished_obj(rng, ts, passed):
    ver = 'v1.%d.%d-beta.%d+%s' % (rng.randrange(20, 32), rng.randrange(4), rng.randrange(3), sha(rng)[:12])
    result = 'SUCCESS' if passed else ('FAILURE' if rng.random() < 0.85 else 'ABORTED')
    d = {'timestamp': ts}
    shape = rng.random()
    if shape < 0.6:                   # pod-utils
        d.update({'passed': passed, 'result': result, 'revision': sha(rng)[:12]})
    elif shape < 0.8:                 # old Jenkins: result only
        d.update({'result': result, 'version': ver, 'job-version': ver})
    else:                             # bootstrap: passed only
        d.update({'passed': passed, 'version': ver})
    if rng.random() < 0.5:
        md = {'repo': 'k8s.io/kubernetes' if rng.random() < 0.8 else '',
              'job-version': ver if rng.random() < 0.7 else ver + '-dirty',
              'infra-commit': sha(rng)[:9]}
        if rng.random() < 0.3:
            md['repos'] = {'k8s.io/kubernetes': 'master', 'k8s.io/release': 'master'}
        if rng.random() < 0.3:
            md['node_os_image'] = 'cos-%d-%d-0' % (rng.randrange(90, 110), rng.randrange(10000, 17000))
            md['master_os_image'] = ''
        if rng.random() < 0.2:
            md.update({'count': rng.randrange(100), 'ratio': rng.choice([0.5, 1e-05, 3900.0, 1e+16]),
                       'flags': [1, 'two', None, True], 'nested': {'b': 2, 'a': [1.5]},
                       'ok': rng.random() < 0.5, 'none': None})
        d['metadata'] = md
    return d


def unicode_obj(ts, kind):
    d = {'timestamp': ts, 'node': 'nœud-✓-中文', 'zz-emoji': '🚀 launch 💥',
         'ctl': 'a\u0001b\u001fc\u007fd\u0080e\u2028f', 'quote': 'he said "hi" \\ /path'}
    if kind == 'finished':
        d.update({'result': 'FAILURE', 'passed': False,
                  'metadata': {'ünï': 'çödé', 'list': ['é', '😀', 1], 'job-version': 'v1'}})
    return d


# Raw texts whose Python round trip changes their spelling (floats, -0, escapes).
NUMBERS_TEXT = ('{"timestamp": %s, "result": "SUCCESS", "passed": true, "metadata": {"f1": 3.9e3, '
                '"f2": 1E-5, "f3": 0.10, "f4": 1e16, "f5": -0.0, "i1": -0, "i2": 1318681111894691840, '
                '"f6": 100000000000000000000.0, "f7": 1.5e-7, "f8": 123456789.123456789, "f9": 2.5E+3, '
                '"f10": 0.000001, "f11": 1e22, "f12": 12345678901234567890123.0}}')
ESCAPES_TEXT = ('{"zeta": "\\u00e9\\u00E9 raw é", "alpha": "\\ud83d\\ude80 \\/slash \\b\\f\\n\\r\\t", '
                '"timestamp": %s, "mid": {"y": 1, "x": {"d": [3, {"c": 1, "b": 2}], "a": null}}, '
                '"result": "FAILURE"}')


def doc_bytes(rng, variant, obj, kind):
    """(bytes or None if no object, gz, expected DB text or None, finished_time)."""
    ts = obj['timestamp']
    ft = ts
    gz = variant in ('gzip', 'gzip_bom')
    if variant == 'missing':
        return None, False, None, None
    fixed = {'empty': b'', 'ws_only': b'  \n\t', 'emptyobj': b'{}', 'emptyobj_ws': b' {\n} \n',
             'array': b'[]', 'array_full': b'[{"timestamp": 1}]', 'null': b'null',
             'string': b'"timestamp"', 'number': b'42', 'malformed': b'{"timestamp": 17',
             'trailing_garbage': b'{"timestamp": 17} x', 'bom_malformed': b'\xef\xbb\xbf{,}'}
    if variant in fixed:
        return fixed[variant], False, None, None
    if variant == 'numbers':
        text = NUMBERS_TEXT % ts
        return text.encode(), False, pydumps(json.loads(text)), ts
    if variant == 'escapes':
        text = ESCAPES_TEXT % ts
        return text.encode(), False, pydumps(json.loads(text)), ts
    obj = dict(obj)
    if variant == 'unicode':
        obj = unicode_obj(ts, kind)
    elif variant == 'ts_str':
        obj['timestamp'] = str(ts)
    elif variant == 'ts_float':
        obj['timestamp'] = ts + 0.75
        ft = ts + 0.75
    elif variant == 'ts_str_float':
        obj['timestamp'] = '%d.75' % ts
    elif variant == 'ts_garbage':
        obj['timestamp'] = 'soon'
        ft = None
    elif variant == 'ts_missing':
        del obj['timestamp']
        ft = None
    if variant == 'pretty':
        text = json.dumps(obj, indent=2, ensure_ascii=False) + '\n'
    else:
        text = json.dumps(obj, ensure_ascii=(variant != 'unicode' and rng.random() < 0.5))
    data = text.encode('utf-8')
    if variant in ('bom', 'gzip_bom'):
        data = b'\xef\xbb\xbf' + data
    return data, gz, pydumps(obj), ft


# ---------------------------------------------------------------- JUnit

def junit_generated(rng, name):
    """A JUnit file with <system-out> at the root, suite and testcase levels."""
    esc = lambda s: s.replace('&', '&amp;').replace('<', '&lt;').replace('"', '&quot;')
    cases = []
    for i in range(rng.randrange(2, 9)):
        tname = rng.choice(['Test', '[sig-node] Pods should', 'TestFoo/sub#', 'e2e.go: Up'])
        tname += ' %s_%d' % (name, i)
        body = ''
        r = rng.random()
        if r < 0.15:
            body += '<failure message="%s">%s</failure>' % (esc('exit status %d' % rng.randrange(1, 3)),
                                                            esc('FAIL <line %d> & more' % i))
        elif r < 0.2:
            body += '<skipped/>'
        elif r < 0.23:
            body += '<error message="boom">stack</error>'
        if rng.random() < 0.5:
            body += '<system-out>%s</system-out>' % esc('=== RUN %s\n--- PASS\n' % tname) * rng.randrange(1, 4)
        if rng.random() < 0.2:
            body += '<system-err>warning: %d</system-err>' % i
        cases.append('    <testcase classname="pkg" name="%s" time="%s">%s</testcase>'
                     % (esc(tname), rng.choice(['0', '1.5', '2.065e-05', '', '12']), body))
    suite = '  <testsuite name="%s" tests="%d">\n%s\n    <system-out>suite output</system-out>\n  </testsuite>' % (
        esc(name), len(cases), '\n'.join(cases))
    if rng.random() < 0.5:
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n%s\n'
                '  <system-out>root level output</system-out>\n</testsuites>\n' % suite)
    return suite.strip().replace('\n  ', '\n') + '\n'


class JunitVectors:
    def __init__(self, junit_dir):
        self.files = []
        if junit_dir and os.path.isdir(junit_dir):
            for n in sorted(os.listdir(junit_dir)):
                if n.endswith('.xml'):
                    with open(os.path.join(junit_dir, n), 'rb') as f:
                        self.files.append((n[:-4], f.read()))


# ---------------------------------------------------------------- builds

class Gen:
    def __init__(self, args, tree, rng, vectors, manifest):
        self.args = args
        self.tree = tree
        self.rng = rng
        self.vectors = vectors
        self.m = manifest
        self.now = manifest['now']

    # A build directory: started/finished variants, artifacts.  Returns its record.
    def build(self, gs_dir, job, ts, started='ok', finished='ok', artifacts=None, pr=None,
              reachable=True, passed=None):
        rng = self.rng
        bucket, base = split_path(gs_dir)
        rec = {'job': job, 'reachable': reachable, 'started_variant': started,
               'finished_variant': finished}
        if passed is None:
            passed = rng.random() < 0.8
        dur = rng.randrange(120, 7200)
        sdata, sgz, sj, _ = doc_bytes(rng, started, started_obj(rng, ts, job, pr), 'started')
        fdata, fgz, fj, ft = doc_bytes(rng, finished, finished_obj(rng, ts + dur, passed), 'finished')
        if sdata is not None:
            self.tree.put(bucket, base + '/started.json', sdata, sgz)
        if fdata is not None:
            self.tree.put(bucket, base + '/finished.json', fdata, fgz)
        if finished == 'missing' or fj is None:
            ft = None
        junit = self.artifacts(bucket, base, artifacts or [])
        stored = reachable and (sj is not None or fj is not None)
        rec['expect'] = stored
        if stored:
            rec['started_json'] = sj
            rec['finished_json'] = fj
            rec['finished_time'] = ft
            rec['junit'] = ['gs://%s/%s' % (bucket, n) for n in sorted(junit, key=lambda s: s.encode())]
        self.m['builds'][gs_dir] = rec
        return rec

    def artifacts(self, bucket, base, kinds):
        """Write artifacts; returns the object names that are JUnit files (D9)."""
        rng = self.rng
        a = base + '/artifacts/'
        junit = []

        def put(name, data, gz=False, is_junit=False):
            self.tree.put(bucket, a + name, data, gz)
            if is_junit:
                junit.append(a + name)

        for k in kinds:
            if k == 'gen':
                for i in range(rng.randrange(1, 3)):
                    put('junit_%02d.xml' % (i + 1), junit_generated(rng, 'suite%d' % i), is_junit=True)
            elif k == 'vector' and self.vectors.files:
                n, data = rng.choice(self.vectors.files)
                put('junit_%s.xml' % n, data, is_junit=True)
            elif k == 'all_vectors':
                for n, data in self.vectors.files:
                    put('junit_%s.xml' % n, data, is_junit=True)
            elif k == 'gz':
                put('junit_gz.xml', junit_generated(rng, 'gz'), gz=True, is_junit=True)
            elif k == 'noise':
                put('build-log.txt', 'I1124 log line\n' * rng.randrange(1, 20))
                put('foo.xml', '<testsuite name="not-junit"><testcase name="x"/></testsuite>')
                put('my_junit.xml', '<testsuite name="prefix-not-junit"><testcase name="y"/></testsuite>')
                put('JUNIT_upper.xml', '<testsuite name="upper"><testcase name="z"/></testsuite>')
                put('junit_runner.xml.txt', 'not xml suffix')
                put('junit_report.xml.gz', gzip.compress(b'<testsuite/>', mtime=0))
                put('sub/junit_nested.xml', junit_generated(rng, 'nested'))
                put('junit.dir.xml/junit_inside.xml', '<testsuite name="in-dir"/>')
                put('junit.xml', junit_generated(rng, 'plain'), is_junit=True)
                put('junit-empty.xml', b'', is_junit=True)
                put('junit_bad.xml', '<testsuite><testcase name="a"', is_junit=True)
                put('junit_ünï cödé #1+2.xml', junit_generated(rng, 'odd name'), is_junit=True)
            elif k == 'log':
                put('build-log.txt', 'I1124 log line\n')
            elif k == 'nonjunit_xml':   # for job junit-x (D9)
                put('foo.xml', '<testsuite name="not-junit"><testcase name="x"/></testsuite>')
                put('results.xml', junit_generated(rng, 'results'))
        return junit

    # ------------------------------------------------------------ jobs

    def add_job(self, bucket_path, job, kind, excluded=False, addable=True, latest=None):
        rec = {'bucket_path': bucket_path, 'job': job, 'kind': kind, 'excluded': excluded,
               'addable': addable and not excluded, 'latest_variant': latest, 'builds': [],
               'max_ts': 0}
        self.m['jobs'].append(rec)
        return rec

    def job_dir(self, jrec):
        return jrec['bucket_path'] + jrec['job'] + '/'

    def random_build_variants(self, ts, last):
        """Started/finished variants and artifacts for an ordinary build."""
        rng = self.rng
        started, finished = 'ok', 'ok'
        r = rng.random()
        if last and r < 0.3 and ts > self.now - DAY:
            finished = 'missing'                      # running now
        elif r < 0.03 and ts < self.now - 6 * DAY:
            finished = 'missing'                      # never finished (old)
        elif r < 0.04:
            started = 'missing'
        elif r < 0.05:
            started, finished = 'missing', 'missing'  # artifacts only: no row
        elif r < 0.12:
            if rng.random() < 0.5:
                started = rng.choice(DOC_VARIANTS)
            else:
                finished = rng.choice(DOC_VARIANTS)
        arts = []
        r = rng.random()
        if r < 0.22:
            arts.append('gen')
        elif r < 0.27:
            arts.append('vector')
        elif r < 0.28:
            arts.append('gz')
        return started, finished, arts

    def timestamps(self, n, span=30 * DAY, newest=None):
        """n increasing start times ending near now."""
        newest = newest if newest is not None else self.now - self.rng.randrange(600, 3 * 3600)
        step = max(60, span // max(n, 1))
        return [newest - (n - 1 - i) * step - self.rng.randrange(0, max(1, step // 3)) for i in range(n)]

    def fill_listing_job(self, jrec, n, snow=True, specials=()):
        """A job whose builds are found by listing (snowflake ids or numbers)."""
        rng = self.rng
        tss = self.timestamps(n)
        names = []
        for i, ts in enumerate(tss):
            name = snowflake(rng, ts) if snow else str(i + 1)
            names.append(name)
            if i < len(specials):
                started, finished, arts = specials[i]
            else:
                started, finished, arts = self.random_build_variants(ts, i == n - 1)
            self.build(self.job_dir(jrec) + name, jrec['job'], ts, started, finished, arts,
                       reachable=not jrec['excluded'])
            jrec['builds'].append(name)
        jrec['max_ts'] = max(tss) if tss else 0
        return names

    def fill_sequential_job(self, jrec, n, variant):
        """Numbered builds 1..n with gaps, latest-build.txt per variant (D11)."""
        rng = self.rng
        tss = self.timestamps(n)
        nums, k = [], 0
        for _ in range(n):
            k += 1
            if rng.random() < 0.08:
                k += rng.randrange(1, 4)          # numbers that do not exist
            nums.append(k)
        top = nums[-1] if nums else 0
        latest_n = top
        if variant == 'gap_top':
            latest_n = top + 3
        elif variant == 'stale':
            latest_n = max(1, top - 2)
        content, gz = self.latest_content(variant, latest_n)
        listing = content is None or parse_latest(content) is None
        jrec['latest_n'] = None if listing else latest_n
        for i, (num, ts) in enumerate(zip(nums, tss)):
            reach = not jrec['excluded'] and (listing or num <= latest_n)
            started, finished, arts = self.random_build_variants(ts, i == n - 1)
            self.build(self.job_dir(jrec) + str(num), jrec['job'], ts, started, finished, arts,
                       reachable=reach)
            jrec['builds'].append(str(num))
        gaps = sorted(set(range(1, top)) - set(nums))
        if gaps and rng.random() < 0.3:
            # A missing number that exists as a directory without started/finished: no row.
            g = rng.choice(gaps)
            self.build(self.job_dir(jrec) + str(g), jrec['job'], tss[0], 'missing', 'missing', ['log'],
                       reachable=not jrec['excluded'] and (listing or g <= latest_n))
        if content is not None:
            self.tree.put(split_path(jrec['bucket_path'])[0],
                          split_path(self.job_dir(jrec))[1] + 'latest-build.txt', content, gz)
        jrec['max_ts'] = max(tss) if tss else 0
        jrec['latest_content'] = content
        jrec['latest_gz'] = gz

    def latest_content(self, variant, n):
        return {
            'valid': ('%d' % n, False), 'whitespace': (' \t%d\r\n' % n, False), 'gzip': ('%d\n' % n, True),
            'gap_top': ('%d' % n, False), 'stale': ('%d\n' % n, False), 'garbage': ('latest\n', False),
            'empty': ('', False), 'zero': ('0', False), 'negative': ('-3\n', False),
            'float': ('%d.0' % n, False), 'missing': (None, False), 'trailing_text': ('%d builds' % n, False),
        }[variant]

    # ------------------------------------------------------------ the tree

    def generate(self, n_builds):
        rng = self.rng
        m = self.m
        budget = [0]

        # --- edge cases: kubernetes-ci-logs/logs (snowflake, listing)
        edge = self.add_job(CI, 'ci-kettle-edge-cases', 'snowflake', addable=False)
        specials = []
        for v in DOC_VARIANTS:
            specials.append((v, 'ok', ['log'] if v == 'missing' else []))
        for v in DOC_VARIANTS:
            specials.append(('ok', v, []))
        specials += [('missing', 'missing', ['gen']),           # no row at all
                     ('empty', 'malformed', ['gen']),           # no row at all
                     ('ok', 'ok', ['gen', 'gz', 'noise']),
                     ('ok', 'ok', ['all_vectors']),
                     ('missing', 'ok', ['gen']),
                     ('ok', 'ok', [])]
        names = self.fill_listing_job(edge, len(specials), specials=specials)
        # Started-only builds: old (> 5 days, present on re-runs) and fresh.
        run = self.add_job(CI, 'ci-kettle-running', 'snowflake', addable=False)
        for ts, tag in [(self.now - 12 * DAY, 'old'), (self.now - 6 * DAY, 'old'),
                        (self.now - 3 * DAY, 'fresh'), (self.now - 3600, 'fresh')]:
            name = snowflake(rng, ts)
            rec = self.build(self.job_dir(run) + name, run['job'], ts, 'ok', 'missing', ['gen'])
            rec['running'] = tag
            run['builds'].append(name)
        run['max_ts'] = self.now - 3600
        # Non-build directories and a latest-build.txt the non-sequential bucket must ignore.
        odd_dirs = self.add_job(CI, 'ci-kettle-listing-odd', 'snowflake', addable=False)
        self.fill_listing_job(odd_dirs, 3)
        self.tree.put('kubernetes-ci-logs', 'logs/ci-kettle-listing-odd/latest-build.txt',
                      odd_dirs['builds'][-1])
        self.tree.put('kubernetes-ci-logs', 'logs/ci-kettle-listing-odd/not-a-build/notes.txt', 'x')
        self.build(CI + 'ci-kettle-listing-odd/20240101-120000', 'ci-kettle-listing-odd',
                   self.now - 20 * DAY, 'ok', 'ok', [])
        # Mixed-length numbers in a non-sequential bucket: natural sort order matters for --buildlimit.
        mixed = self.add_job(CI, 'ci-kettle-natural-order', 'listing', addable=False)
        for i, num in enumerate(['8', '9', '10', '11', '99', '100', '0101', 'v2', 'v10']):
            self.build(self.job_dir(mixed) + num, mixed['job'], self.now - (20 - i) * DAY)
            mixed['builds'].append(num)
        budget[0] += sum(len(j['builds']) for j in m['jobs'])

        # --- kubernetes-jenkins/logs: latest-build.txt variants (D11)
        for v in LATEST_VARIANTS:
            j = self.add_job(JENKINS, 'ci-kettle-latest-%s' % v.replace('_', '-'), 'sequential',
                             addable=(v != 'stale'), latest=v)
            self.fill_sequential_job(j, 6, v)
            budget[0] += 6
        # Sequential, with directories above latest-build.txt and one non-numeric directory.
        self.tree.put('kubernetes-jenkins', 'logs/ci-kettle-latest-valid/artifacts-only/build-log.txt', 'x')

        # --- kubernetes-jenkins/pr-logs/directory: pointer files, no build dirs (no rows).
        for i in range(2):
            jd = 'pr-logs/directory/pull-jenkins-legacy-%d/' % i
            for b in range(1, 4):
                self.tree.put('kubernetes-jenkins', jd + '%d.txt' % b,
                              'gs://kubernetes-jenkins/pr-logs/pull/1/pull-jenkins-legacy-%d/%d' % (i, b))
            self.tree.put('kubernetes-jenkins', jd + 'latest-build.txt', '3')
            jr = self.add_job(JENKINS_PR_DIR, 'pull-jenkins-legacy-%d' % i, 'pointers', addable=False)
            jr['builds'] = []
            pr_dir = 'gs://kubernetes-jenkins/pr-logs/pull/1/pull-jenkins-legacy-%d/1' % i
            self.build(pr_dir, 'pull-jenkins-legacy-%d' % i, self.now - 3 * DAY, reachable=False)

        # --- istio-prow/logs: exclude_jobs (D8) and a job named junit-x (D9)
        for name, excl in [('ci-istio-flaky', True), ('ci-istio-flaky-2', False),
                           ('pre-ci-istio-flaky', False), ('ci-istio-experimental-ambient', True),
                           ('ci-istio-release-1.20', True), ('ci-istio-release-1.20-post', False),
                           ('ci-istio-release-2.0', False)]:
            j = self.add_job(ISTIO, name, 'snowflake', excluded=excl)
            self.fill_listing_job(j, 3)
            budget[0] += 3
        jx = self.add_job(ISTIO, 'junit-x', 'snowflake', addable=False)
        self.fill_listing_job(jx, 3, specials=[('ok', 'ok', ['nonjunit_xml'])] * 2
                              + [('ok', 'ok', ['nonjunit_xml', 'gen'])])
        budget[0] += 3

        # --- oddities/logs: job names that need escaping (sequential bucket)
        for i, name in enumerate(ODD_JOBS):
            excl = 'excluded+plus' in name
            v = 'missing' if i == 1 else 'valid'
            j = self.add_job(ODD, name, 'sequential', excluded=excl, latest=v)
            self.fill_sequential_job(j, 3, v)
            d = self.job_dir(j) + j['builds'][-1]
            self.artifacts_extra(d, j, excl, v)
            budget[0] += 3

        # --- PR pass (D10): kubernetes-ci-logs/pr-logs/directory pointers
        self.pr_edge_cases()
        budget[0] += len(self.m['pr_pointers'])

        # --- bulk: ordinary jobs up to N build directories
        remaining = max(0, n_builds - budget[0])
        self.bulk(remaining)

    def artifacts_extra(self, d, j, excl, v):
        """The newest build of an odd job also carries a JUnit file (escaped GET of artifacts)."""
        bucket, base = split_path(d)
        names = self.artifacts(bucket, base, ['gen'])
        rec = self.m['builds'][d]
        if rec['expect']:
            rec['junit'] = sorted(set(rec['junit']) | {'gs://%s/%s' % (bucket, n) for n in names},
                                  key=lambda s: s.encode())

    def pr_job(self, job):
        for j in self.m['jobs']:
            if j['bucket_path'] == 'pr-pass' and j['job'] == job:
                return j
        return self.add_job('pr-pass', job, 'pr')

    def pr_build(self, job, ts, content_fmt='%s', started='ok', finished='ok', arts=(), pointer=True,
                 pr_dir=None, name=None, gz=False):
        """A PR build directory under pr-logs/pull and its pointer object."""
        rng = self.rng
        org_repo = rng.choice(['kubernetes_kubernetes', 'kubernetes_test-infra', 'kubernetes-sigs_kind'])
        num = rng.randrange(1000, 130000)
        name = name or snowflake(rng, ts)
        gs_dir = pr_dir or 'gs://%s/%s%s/%d/%s/%s' % (PR_BUCKET, PR_PULL, org_repo, num, job, name)
        content = content_fmt.replace('%s', gs_dir)
        valid = content.strip().rstrip('/').startswith('gs://') if content.strip() else False
        target = content.strip()
        if target.endswith('/'):
            target = target[:-1]
        jrec = self.pr_job(job)
        if pr_dir is None:
            self.build(gs_dir, job, ts, started, finished, list(arts), pr=(org_repo, num),
                       reachable=pointer and valid and target == gs_dir)
        if pointer:
            obj = '%s%s/%s.txt' % (PR_DIRECTORY, job, name)
            self.tree.put(PR_BUCKET, obj, content, gz)
            self.m['pr_pointers'].append({'object': obj, 'content': content, 'valid': valid, 'gzip': gz,
                                          'target': target if valid else None})
            jrec['builds'].append(name)
        jrec['max_ts'] = max(jrec['max_ts'], ts)
        return gs_dir

    def pr_edge_cases(self):
        now = self.now
        job = 'pull-kettle-edge-cases'
        self.pr_build(job, now - 9 * DAY, '%s', arts=['gen', 'gz', 'noise'])
        self.pr_build(job, now - 8 * DAY, '  \n%s \t\n')                     # whitespace
        self.pr_build(job, now - 7 * DAY, '%s/')                             # trailing slash
        self.pr_build(job, now - 6 * DAY, '\n %s/\r\n')                      # both
        self.pr_build(job, now - 6 * DAY + 60, '%s\n', gz=True)             # gzip-encoded pointer
        self.pr_build(job, now - 5 * DAY, '', arts=['gen'])                  # empty: skipped
        self.pr_build(job, now - 5 * DAY + 60, ' \n\t ')                     # blank: skipped
        self.pr_build(job, now - 4 * DAY, 'https://prow.k8s.io/view/gs/x/%s')  # not gs://
        self.pr_build(job, now - 4 * DAY + 60, '/local/%s')                    # not gs://
        d = self.pr_build(job, now - 3 * DAY, '%s', started='bom', finished='gzip')
        # A second pointer (other job/build name) to the same directory.
        self.pr_build('pull-kettle-duplicate', now - 3 * DAY + 5, '%s', pr_dir=d)
        # A pointer to a directory that does not exist.
        self.pr_build(job, now - 2 * DAY, '%s', pr_dir='gs://%s/%sk_k/1/%s/404' % (PR_BUCKET, PR_PULL, job),
                      name='404')
        # A pointer into another bucket.
        other = 'gs://istio-prow/pr-logs/pull/istio_istio/42/pull-istio-unit/%s' % snowflake(self.rng, now - DAY)
        b, base = split_path(other)
        self.build(other, 'pull-istio-unit', now - DAY, reachable=True)
        self.pr_build(job, now - DAY, '%s', pr_dir=other)
        # Running PR builds: fresh and old.
        self.pr_build(job, now - 2 * 3600, finished='missing')
        self.pr_build(job, now - 10 * DAY, finished='missing')
        # A PR build without a pointer: not collected.
        self.pr_build(job, now - 3600, pointer=False)
        # latest-build.txt pointer files are skipped, even holding a gs:// URL (D10).
        orphan = self.pr_build(job, now - 1800, pointer=False)
        self.tree.put(PR_BUCKET, PR_DIRECTORY + job + '/latest-build.txt', orphan + '\n')
        self.m['pr_pointers'].append({'object': PR_DIRECTORY + job + '/latest-build.txt',
                                      'content': orphan + '\n', 'valid': False, 'target': None,
                                      'latest_build_file': True})
        # ... but a job whose name contains latest-build is fine.
        for i in range(3):
            self.pr_build('pull-latest-build-checker', now - (3 - i) * DAY, arts=['gen'] if i == 0 else [])
        # Non-.txt objects in the directory are ignored.
        self.tree.put(PR_BUCKET, PR_DIRECTORY + job + '/notes.json', '{"x": 1}')
        self.tree.put(PR_BUCKET, PR_DIRECTORY + 'pull-kettle-duplicate/README', orphan)

    def bulk(self, n):
        """Ordinary jobs in the four collectable places, n build directories in total."""
        rng = self.rng
        if n <= 0:
            return
        shares = [('ci', 0.45), ('jenkins', 0.25), ('istio', 0.1), ('odd', 0.03), ('pr', 0.17)]
        for kind, share in shares:
            k = int(round(n * share))
            if kind == 'ci':
                self.bulk_jobs(k, lambda i: self.add_job(CI, 'ci-kubernetes-e2e-%s-%d' % (
                    rng.choice(['gce', 'gke', 'kind', 'aws', 'capz']), i), 'snowflake'),
                               lambda j, c: self.fill_listing_job(j, c))
            elif kind == 'jenkins':
                def mk(i):
                    v = rng.choices(['valid', 'whitespace', 'missing', 'garbage'], [85, 5, 7, 3])[0]
                    return self.add_job(JENKINS, 'ci-kubernetes-build-%d' % i, 'sequential', latest=v)
                self.bulk_jobs(k, mk, lambda j, c: self.fill_sequential_job(j, c, j['latest_variant']))
            elif kind == 'istio':
                self.bulk_jobs(k, lambda i: self.add_job(ISTIO, 'ci-istio-unit-%d' % i, 'snowflake'),
                               lambda j, c: self.fill_listing_job(j, c))
            elif kind == 'odd':
                def mk_odd(i):
                    return self.add_job(ODD, '%s %d' % (rng.choice(ODD_JOBS[:-1]), i), 'sequential',
                                        latest='valid')
                self.bulk_jobs(k, mk_odd, lambda j, c: self.fill_sequential_job(j, c, 'valid'))
            elif kind == 'pr':
                jobs = ['pull-kubernetes-unit', 'pull-kubernetes-e2e-kind', 'pull-test-infra-bazel',
                        'pull-kubernetes-verify', 'pull-kind-conformance']
                tss = sorted(self.now - rng.randrange(600, 30 * DAY) for _ in range(k))
                for ts in tss:
                    started, finished, arts = self.random_build_variants(ts, ts > self.now - 3 * 3600)
                    self.pr_build(rng.choice(jobs), ts, '%s\n' if rng.random() < 0.5 else '%s',
                                  started, finished, arts)

    def bulk_jobs(self, total, make_job, fill, per_job=(20, 150)):
        if self.args.per_job:
            per_job = (self.args.per_job, self.args.per_job + 1)
        i = 0
        while total > 0:
            c = min(total, self.rng.randrange(*per_job))
            fill(make_job(i), c)
            total -= c
            i += 1

    # ------------------------------------------------------------ --add

    def add(self, count):
        """count new builds, newest in their jobs; latest-build.txt updated."""
        rng = self.rng
        jobs = [j for j in self.m['jobs'] if j.get('addable') or j['excluded']]
        jobs = [j for j in jobs if j['kind'] in ('snowflake', 'sequential', 'pr')]
        # Round robin over the places (buckets, PR pass), so that a few adds reach each of them.
        groups = {}
        for j in jobs:
            groups.setdefault(j['bucket_path'], []).append(j)
        order = []
        for g in groups.values():
            rng.shuffle(g)
        while any(groups.values()):
            for g in groups.values():
                if g:
                    order.append(g.pop())
        jobs = order
        added = []
        base_ts = max([self.now] + [j['max_ts'] for j in self.m['jobs']])
        for i in range(count):
            j = jobs[rng.randrange(len(jobs))] if i >= len(jobs) else jobs[i]
            ts = max(base_ts, j['max_ts']) + 60 * (i + 1)
            j['max_ts'] = ts
            if j['kind'] == 'pr':
                d = self.pr_build(j['job'], ts, '%s\n', arts=['gen'] if rng.random() < 0.3 else [])
            elif j['kind'] == 'snowflake':
                name = snowflake(rng, ts)
                d = self.job_dir(j) + name
                self.build(d, j['job'], ts, 'ok', 'ok', ['gen'] if rng.random() < 0.3 else [],
                           reachable=not j['excluded'])
                j['builds'].append(name)
            else:
                nums = [int(b) for b in j['builds'] if b.isdigit()]
                num = max(nums + [j.get('latest_n') or 0]) + 1
                d = self.job_dir(j) + str(num)
                self.build(d, j['job'], ts, 'ok', 'ok', ['gen'] if rng.random() < 0.3 else [],
                           reachable=not j['excluded'])
                j['builds'].append(str(num))
                if j.get('latest_n') is not None:
                    j['latest_n'] = num
                    content, gz = self.latest_content(j['latest_variant'], num)
                    self.tree.put(split_path(j['bucket_path'])[0],
                                  split_path(self.job_dir(j))[1] + 'latest-build.txt', content, gz)
                    j['latest_content'] = content
            added.append(d)
        return added


def parse_latest(text):
    """D11, as the generator means it: decimal integer, optional whitespace, > 0."""
    s = text.strip(' \t\r\n\f\v')
    if not s.isdigit() or not s.isascii():
        return None
    n = int(s)
    return n if n > 0 else None


def yaml_str(s):
    return "'" + s.replace("'", "''") + "'"


def buckets_yaml():
    """Plain keys and double-quoted strings as in production; regexes single-quoted.
    The last key has no trailing '/' (SPEC 1: one is added)."""
    out = ['# generated by bench/gen_tree.py']
    for i, (path, opts) in enumerate(BUCKETS):
        out.append('%s:' % (path.rstrip('/') if i == len(BUCKETS) - 1 else path))
        for k, v in opts.items():
            if isinstance(v, bool):
                out.append('  %s: %s' % (k, 'true' if v else 'false'))
            elif isinstance(v, list):
                out.append('  %s:' % k)
                out.extend('    - %s' % yaml_str(x) for x in v)
            else:
                out.append('  %s: %s' % (k, json.dumps(v)))
    return '\n'.join(out) + '\n'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--root', required=True, help='tree root served by the fake GCS')
    p.add_argument('--builds', type=int, default=0, help='build directories in all (edge cases included)')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--now', type=int, default=None, help='epoch seconds (default: start of today, UTC)')
    p.add_argument('--buckets-out', help='buckets.yaml to write (default ROOT.buckets.yaml)')
    p.add_argument('--manifest-out', help='manifest to write/read (default ROOT.manifest.json)')
    p.add_argument('--junit-dir', default=DEFAULT_JUNIT_DIR, help='JUnit vectors to copy')
    p.add_argument('--add', type=int, default=0, help='add M builds to an existing tree')
    p.add_argument('--per-job', type=int, default=0,
                   help='builds per ordinary job (default 20 to 149 at random): with N builds, about '
                        'N/PER_JOB jobs, so trees of the same jobs and a longer history differ in --builds only')
    args = p.parse_args(argv)

    root = os.path.abspath(args.root)
    manifest_path = args.manifest_out or root.rstrip('/') + '.manifest.json'
    buckets_path = args.buckets_out or root.rstrip('/') + '.buckets.yaml'
    t0 = time.time()
    tree = Tree(root)
    vectors = JunitVectors(args.junit_dir)

    if args.add:
        with open(manifest_path) as f:
            manifest = json.load(f)
        if manifest.get('version') != MANIFEST_VERSION:
            sys.exit('gen_tree: %s: unknown manifest version' % manifest_path)
        rng = random.Random('%d/add/%d' % (manifest['seed'], len(manifest['adds'])))
        if args.now is not None:
            manifest['now'] = args.now
        gen = Gen(args, tree, rng, vectors, manifest)
        added = gen.add(args.add)
        manifest['adds'].append(added)
        manifest['added'] = added
    else:
        if os.path.exists(root) and os.listdir(root):
            sys.exit('gen_tree: %s is not empty (use --add to extend a tree)' % root)
        now = args.now if args.now is not None else int(time.time()) // DAY * DAY
        manifest = {'version': MANIFEST_VERSION, 'seed': args.seed, 'now': now, 'root': root,
                    'buckets_yaml': os.path.abspath(buckets_path),
                    'buckets': [dict(path=b, **o) for b, o in BUCKETS],
                    'jobs': [], 'builds': {}, 'pr_pointers': [], 'adds': [], 'added': []}
        rng = random.Random(args.seed)
        gen = Gen(args, tree, rng, vectors, manifest)
        gen.generate(args.builds)
        with open(buckets_path, 'w') as f:
            f.write(buckets_yaml())

    b = manifest['builds']
    manifest['counts'] = {'build_records': len(b), 'expected_rows': sum(1 for r in b.values() if r['expect']),
                          'expected_junit_files': sum(len(r.get('junit', [])) for r in b.values()
                                                      if r['expect'])}
    tmp = manifest_path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(manifest, f, indent=1, sort_keys=True, ensure_ascii=True)
    os.replace(tmp, manifest_path)
    print('gen_tree: %s: %d objects written, %d builds, %d expected rows, %d JUnit files (%.1fs)%s'
          % (root, tree.objects, manifest['counts']['build_records'], manifest['counts']['expected_rows'],
             manifest['counts']['expected_junit_files'], time.time() - t0,
             ', %d added' % len(manifest['added']) if args.add else ''), file=sys.stderr)


if __name__ == '__main__':
    main()
