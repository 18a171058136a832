#!/usr/bin/env python3
"""What a `kettle make-db` run must leave in the database, computed from a tree.

  oracle.py --root DIR --buckets FILE [--buildlimit N] [--junit] [--now EPOCH]
            [--prior-db build.db] > expected.json
  oracle.py --compare-db build.db expected.json [--root DIR]
  oracle.py --check-manifest MANIFEST expected.json

The tree is what the fake GCS serves: object gs://BUCKET/NAME is ROOT/BUCKET/NAME,
gzip-encoded objects have a sidecar ROOT/.meta/BUCKET/NAME.json with
"contentEncoding": "gzip" (their content is the gunzipped bytes).

The first form follows SPEC section 2 (PR pass first, then buckets.yaml in file
order, then JUnit) with D8-D11 and D18, reading only the tree and buckets.yaml.
It describes a fresh run, or with --prior-db a run on top of an existing DB.
Output (JSON, keys sorted):
  builds: {gs path (no trailing /): {started_json?, finished_json?: DB text
           (absent when not a non-empty object), finished_time: number|null,
           junit?: [gs://.../artifacts/junit...xml in the `file` table]}}
  pointers_skipped: PR pointers that were empty or not gs:// (D10)
  new_or_changed: (with --prior-db) paths whose row a rerun writes
  root, buckets, buildlimit, junit, now, counts
Interpretations where SPEC leaves a choice (D18 in the PR pass): the per-job cap
takes the first N pointer objects of a job in listing (byte) order, counted
before the pointer is read, so skipped pointers count; latest-build.txt is a
decimal number with optional '-' sign and ASCII whitespace.

--compare-db reports missing/extra builds, differing started/finished JSON or
finished_time, missing/extra `file` rows, and checks every stored JUnit blob:
zlib stream of UTF-8 text, and either the original bytes (when the original
has no <system-out> below depth 1, or is malformed or has a DTD) or well-formed
XML without <system-out> at depth >= 2 whose other content equals the original
with all <system-out>/<system-err> removed.  Exit status 1 on any difference.

--check-manifest compares an oracle result for an unlimited run with what
bench/gen_tree.py meant to generate (a self-check of both scripts).
"""

import argparse
import gzip
import json
import os
import re
import sqlite3
import sys
import time
import xml.etree.ElementTree as ET
import zlib

PR_POINTER_BUCKET = 'kubernetes-ci-logs'
PR_POINTER_PREFIX = 'pr-logs/directory/'
PR_PASS_PATH = 'gs://kubernetes-ci-logs/pr-logs'
OLD_STARTED = 5 * 86400
MAX_PRESENT_IMPRECISE = 40
MAX_TIMESTAMP = 253402300799          # 9999-12-31T23:59:59Z
JUNIT_NAME = re.compile(r'junit.*\.xml')
WS = ' \t\r\n\f\v'


# ---------------------------------------------------------------- buckets.yaml

def yaml_scalar(s):
    s = s.strip()
    if not s:
        return None
    if s[0] == "'":
        end = 1
        out = []
        while end < len(s):
            if s[end] == "'":
                if end + 1 < len(s) and s[end + 1] == "'":
                    out.append("'")
                    end += 2
                    continue
                return ''.join(out)
            out.append(s[end])
            end += 1
        raise ValueError('unterminated quoted string: %r' % s)
    if s[0] == '"':
        m = re.match(r'"((?:[^"\\]|\\.)*)"', s)
        if not m:
            raise ValueError('unterminated quoted string: %r' % s)
        return json.loads('"%s"' % m.group(1))
    s = re.sub(r'\s+#.*$', '', s)
    if s.startswith('[') and s.endswith(']'):
        inner = s[1:-1].strip()
        return [yaml_scalar(x) for x in inner.split(',')] if inner else []
    low = s.lower()
    if low in ('true', 'yes', 'on', 'y'):
        return True
    if low in ('false', 'no', 'off', 'n'):
        return False
    if low in ('null', '~'):
        return None
    return s


def split_key(line):
    """'key: value' -> (key, value text); the key may be quoted."""
    line = line.strip()
    if line[0] in '\'"':
        q = line[0]
        i = 1
        while i < len(line):
            if line[i] == q:
                if q == "'" and i + 1 < len(line) and line[i + 1] == "'":
                    i += 2
                    continue
                break
            if q == '"' and line[i] == '\\':
                i += 1
            i += 1
        key = yaml_scalar(line[:i + 1])
        rest = line[i + 1:].lstrip()
        if not rest.startswith(':'):
            raise ValueError('expected ":" after key: %r' % line)
        return key, rest[1:]
    m = re.search(r':(\s|$)', line)
    if not m:
        raise ValueError('expected "key:": %r' % line)
    return line[:m.start()], line[m.end():]


def load_buckets(path):
    """The subset of YAML buckets.yaml uses: a mapping of mappings, lists of scalars."""
    buckets = []
    cur = None
    list_key = None
    with open(path, encoding='utf-8') as f:
        for raw in f:
            line = raw.rstrip('\n')
            if not line.strip() or line.lstrip().startswith('#') or line.strip() == '---':
                continue
            indent = len(line) - len(line.lstrip(' '))
            stripped = line.strip()
            if indent == 0:
                key, _ = split_key(stripped)
                cur = {}
                buckets.append((key, cur))
                list_key = None
            elif stripped.startswith('- '):
                if cur is None or list_key is None:
                    raise ValueError('%s: list item outside a key: %r' % (path, line))
                cur[list_key].append(yaml_scalar(stripped[2:]))
            else:
                key, val = split_key(stripped)
                v = yaml_scalar(val)
                if v is None and not val.strip():
                    cur[key] = []
                    list_key = key
                else:
                    cur[key] = v
                    list_key = None
    out = []
    for key, opts in buckets:
        if not key.endswith('/'):
            key += '/'
        opts = {k: (v if v != [] else None) if k != 'exclude_jobs' else v for k, v in opts.items()}
        out.append((key, opts))
    return out


# ---------------------------------------------------------------- the tree

def split_gs(path):
    if not path.startswith('gs://'):
        raise ValueError('not a gs:// path: %r' % path)
    bucket, _, name = path[5:].partition('/')
    return bucket, name


def byte_key(s):
    return s.encode('utf-8', 'surrogateescape')


class Tree:
    def __init__(self, root):
        self.root = root
        self.reads = 0
        self.lists = 0

    def _path(self, bucket, name):
        if not bucket or bucket.startswith('.') or '/' in bucket:
            return None
        return os.path.join(self.root, bucket, name)

    def read(self, bucket, name):
        """The object's content as served (decoded when stored gzip-encoded), or None."""
        self.reads += 1
        p = self._path(bucket, name)
        if p is None or name.endswith('/') or not name or not os.path.isfile(p):
            return None
        with open(p, 'rb') as f:
            data = f.read()
        meta = os.path.join(self.root, '.meta', bucket, name + '.json')
        if os.path.isfile(meta):
            with open(meta) as f:
                if json.load(f).get('contentEncoding') == 'gzip':
                    data = gzip.decompress(data)
        return data

    def read_gs(self, path):
        bucket, name = split_gs(path)
        return self.read(bucket, name)

    @staticmethod
    def _has_file(d):
        with os.scandir(d) as it:
            subdirs = []
            for e in it:
                if e.is_file():
                    return True
                if e.is_dir():
                    subdirs.append(e.path)
        return any(Tree._has_file(s) for s in subdirs)

    def list_delim(self, bucket, prefix):
        """(prefixes, names) directly under prefix ('' or ending in '/'), sorted by bytes."""
        self.lists += 1
        p = self._path(bucket, prefix)
        if p is None or not os.path.isdir(p):
            return [], []
        dirs, files = [], []
        with os.scandir(p) as it:
            for e in it:
                if e.is_file():
                    files.append(prefix + e.name)
                elif e.is_dir() and self._has_file(e.path):
                    dirs.append(prefix + e.name + '/')
        return sorted(dirs, key=byte_key), sorted(files, key=byte_key)

    def list_all(self, bucket, prefix):
        """Every object name under prefix, sorted by bytes (a listing without delimiter)."""
        self.lists += 1
        p = self._path(bucket, prefix)
        if p is None or not os.path.isdir(p):
            return []
        out = []
        for d, _, files in os.walk(p):
            rel = os.path.relpath(d, p)
            base = prefix if rel == '.' else prefix + rel.replace(os.sep, '/') + '/'
            out.extend(base + f for f in files)
        return sorted(out, key=byte_key)


# ---------------------------------------------------------------- rules

def _no_constants(name):
    raise ValueError('non-standard JSON constant %s' % name)


def parse_doc(data):
    """started.json / finished.json (D4): a non-empty object, else None."""
    if data is None:
        return None
    if data.startswith(b'\xef\xbb\xbf'):
        data = data[3:]
    try:
        obj = json.loads(data.decode('utf-8'), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if isinstance(obj, dict) and obj:
        return obj
    return None


def db_text(obj):
    return None if obj is None else json.dumps(obj, sort_keys=True)


NUMERIC = re.compile(r'-?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?')


def timestamp_value(ts):
    """D4 timestamp: int, float, or a string holding either (truncated); else None."""
    if isinstance(ts, bool):
        return None
    if isinstance(ts, int):
        return ts
    if isinstance(ts, float):
        return int(ts) if ts == ts and abs(ts) != float('inf') else None
    if isinstance(ts, str) and NUMERIC.fullmatch(ts.strip(WS)):
        s = ts.strip(WS)
        if re.fullmatch(r'-?[0-9]+', s):
            return int(s)
        f = float(s)
        return int(f) if abs(f) != float('inf') else None
    return None


def finished_time(finished):
    """SPEC 4 + D13: the timestamp as given; a numeric string as its integer."""
    if finished is None or 'timestamp' not in finished:
        return None
    ts = finished['timestamp']
    if isinstance(ts, bool):
        return None
    if isinstance(ts, (int, float)):
        return ts if ts == ts and abs(ts) != float('inf') else None
    return timestamp_value(ts)


def parse_latest(data):
    """D11: a decimal integer with optional surrounding whitespace, > 0; else None."""
    if data is None:
        return None
    try:
        s = data.decode('utf-8').strip(WS)
    except UnicodeDecodeError:
        return None
    if not re.fullmatch(r'-?[0-9]+', s):
        return None
    n = int(s)
    return n if n > 0 else None


def pad_numbers(s):
    return re.sub(r'[0-9]+', lambda m: m.group(0).rjust(16, '0'), s)


# ---------------------------------------------------------------- the run

class Run:
    def __init__(self, tree, now, buildlimit):
        self.tree = tree
        self.now = now
        self.limit = buildlimit if buildlimit and buildlimit > 0 else None
        self.builds = {}         # path -> {'sj', 'fj', 'ft', 'missing_junit'}
        self.files = set()
        self.changed = set()
        self.pointers_skipped = []
        self.fetched = 0

    def load_db(self, db_path):
        db = sqlite3.connect('file:%s?mode=ro' % db_path, uri=True)
        missing = {r for r, in db.execute('select build_id from build_junit_missing')} \
            if table_exists(db, 'build_junit_missing') else set()
        for rowid, path, sj, fj, ft in db.execute(
                'select rowid, gcs_path, started_json, finished_json, finished_time from build'):
            self.builds[path] = {'sj': sj, 'fj': fj, 'ft': ft, 'missing_junit': rowid in missing}
        if table_exists(db, 'file'):
            self.files.update(p for p, in db.execute('select path from file'))
        db.close()

    def present(self, bucket_path):
        """SPEC 2.3: (job, build) keys under bucket_path already in the DB."""
        have = set()
        for path, b in self.builds.items():
            if not path.startswith(bucket_path):
                continue
            key = tuple(path[len(bucket_path):].split('/')[-2:])
            if b['fj'] is not None:
                have.add(key)
            elif b['sj'] is not None:
                try:
                    ts = timestamp_value(json.loads(b['sj']).get('timestamp'))
                except (ValueError, AttributeError):
                    ts = None
                if ts is not None and ts < self.now - OLD_STARTED:
                    have.add(key)
        return have

    def fetch(self, build_dir):
        """SPEC 2.4: read started/finished, upsert when either is present."""
        self.fetched += 1
        started = parse_doc(self.tree.read_gs(build_dir + '/started.json'))
        finished = parse_doc(self.tree.read_gs(build_dir + '/finished.json'))
        if started is None and finished is None:
            return
        sj, fj = db_text(started), db_text(finished)
        old = self.builds.get(build_dir)
        if old is not None and old['sj'] == sj and old['fj'] == fj:
            return
        self.builds[build_dir] = {'sj': sj, 'fj': fj, 'ft': finished_time(finished),
                                  'missing_junit': True}
        self.changed.add(build_dir)

    def pr_pass(self):
        have = self.present(PR_PASS_PATH)
        per_job = {}
        for name in self.tree.list_all(PR_POINTER_BUCKET, PR_POINTER_PREFIX):
            if not name.endswith('.txt') or name.rsplit('/', 1)[-1] == 'latest-build.txt':
                continue
            segs = name[:-len('.txt')].split('/')
            job, build = segs[-2], segs[-1]
            if self.limit is not None:
                if per_job.get(job, 0) >= self.limit:
                    continue
                per_job[job] = per_job.get(job, 0) + 1
            if (job, build) in have:
                continue
            data = self.tree.read(PR_POINTER_BUCKET, name)
            try:
                target = (data or b'').decode('utf-8').strip(WS)
            except UnicodeDecodeError:
                target = ''
            if target.endswith('/'):
                target = target[:-1]
            if not target.startswith('gs://') or '/' not in target[5:]:
                self.pointers_skipped.append({'object': 'gs://%s/%s' % (PR_POINTER_BUCKET, name),
                                              'content': (data or b'').decode('utf-8', 'replace'),
                                              'reason': 'empty' if not target else 'not gs://'})
                continue
            self.fetch(target)

    def bucket_pass(self, bucket_path, opts):
        bucket, prefix = split_gs(bucket_path)
        excludes = [re.compile(p) for p in (opts.get('exclude_jobs') or [])]
        sequential = opts.get('sequential', True)
        sequential = True if sequential is None else bool(sequential)
        have = self.present(bucket_path)
        job_prefixes, _ = self.tree.list_delim(bucket, prefix)
        for jp in job_prefixes:
            job = jp[len(prefix):-1]
            if any(p.search(job) for p in excludes):
                continue
            precise, candidates = True, None
            if sequential:
                n = parse_latest(self.tree.read(bucket, jp + 'latest-build.txt'))
                if n is not None:
                    precise = False
                    candidates = self.numbered_candidates(bucket, jp, job, n, have)
            if candidates is None:
                dirs, _ = self.tree.list_delim(bucket, jp)
                names = sorted((d[len(jp):-1] for d in dirs), key=pad_numbers, reverse=True)
                candidates = names[:self.limit] if self.limit is not None else names
            met = 0
            for b in candidates:
                if (job, b) in have:
                    met += 1
                    if met > MAX_PRESENT_IMPRECISE and not precise:
                        break
                    continue
                self.fetch(bucket_path + job + '/' + b)

    def numbered_candidates(self, bucket, jp, job, n, have):
        """N, N-1, ... 1 (at most buildlimit), restricted to numbers that can matter:
        existing directories and builds already present (they count for the stop)."""
        low = max(1, n - self.limit + 1) if self.limit is not None else 1
        dirs, _ = self.tree.list_delim(bucket, jp)
        nums = set()
        for d in dirs:
            b = d[len(jp):-1]
            if re.fullmatch(r'[1-9][0-9]*', b):
                nums.add(int(b))
        for j, b in have:
            if j == job and re.fullmatch(r'[1-9][0-9]*', b):
                nums.add(int(b))
        return [str(k) for k in sorted((k for k in nums if low <= k <= n), reverse=True)]

    def junit_pass(self):
        for path in sorted(self.builds, key=byte_key):
            b = self.builds[path]
            if not b['missing_junit']:
                continue
            try:
                bucket, name = split_gs(path)
            except ValueError:
                continue
            _, items = self.tree.list_delim(bucket, name + '/artifacts/')
            for item in items:
                if JUNIT_NAME.fullmatch(item.rsplit('/', 1)[-1]):
                    self.files.add('gs://%s/%s' % (bucket, item))
            b['missing_junit'] = False


def table_exists(db, name):
    return db.execute("select 1 from sqlite_master where type='table' and name=?", (name,)).fetchone()


def compute(args):
    t0 = time.time()
    tree = Tree(os.path.abspath(args.root))
    buckets = load_buckets(args.buckets)
    now = args.now if args.now is not None else time.time()
    run = Run(tree, now, args.buildlimit)
    if args.prior_db:
        run.load_db(args.prior_db)
    run.pr_pass()
    for path, opts in buckets:
        run.bucket_pass(path, opts)
    if args.junit:
        run.junit_pass()

    builds = {}
    owned = set()
    by_build = {}
    for f in run.files:
        # D7: a build's files are those under "<build path>/"; artifacts sit at <build>/artifacts/.
        head = f.rsplit('/artifacts/', 1)[0] if '/artifacts/' in f else None
        if head in run.builds:
            by_build.setdefault(head, []).append(f)
            owned.add(f)
    for path in sorted(run.builds, key=byte_key):
        b = run.builds[path]
        rec = {'finished_time': b['ft']}
        if b['sj'] is not None:
            rec['started_json'] = b['sj']
        if b['fj'] is not None:
            rec['finished_json'] = b['fj']
        if args.junit or args.prior_db:
            rec['junit'] = sorted(by_build.get(path, []), key=byte_key)
        builds[path] = rec
    out = {
        'format': 'kettle-oracle/1', 'root': tree.root, 'buckets': os.path.abspath(args.buckets),
        'buildlimit': args.buildlimit or 0, 'junit': bool(args.junit), 'now': now,
        'builds': builds, 'pointers_skipped': run.pointers_skipped,
        'counts': {'builds': len(builds), 'junit_files': len(owned), 'fetched_dirs': run.fetched,
                   'object_reads': tree.reads, 'listings': tree.lists},
    }
    if run.files - owned:
        out['other_files'] = sorted(run.files - owned, key=byte_key)
    if args.prior_db:
        out['new_or_changed'] = sorted(run.changed, key=byte_key)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write('\n')
    print('oracle: %d builds, %d JUnit files, %d build dirs read (%.1fs)'
          % (len(builds), len(owned), run.fetched, time.time() - t0), file=sys.stderr)


# ---------------------------------------------------------------- compare

def parse_xml(data):
    if data is None:
        return None
    try:
        return ET.fromstring(data)
    except (ET.ParseError, ValueError):
        return None


def deep_system_out(root):
    for child in root:
        for e in child.iter():
            if e is not child and e.tag == 'system-out':
                return True
    return False


def canon(e):
    """An element without <system-out>/<system-err>; whitespace-insensitive except failure text."""
    text = e.text or ''
    if e.tag != 'failure':
        text = text.strip()
    kids = tuple(canon(c) for c in e if c.tag not in ('system-out', 'system-err'))
    return (e.tag, tuple(sorted(e.attrib.items())), text, kids)


def check_junit(orig, stored):
    """None when `stored` is an acceptable stored form of `orig` (SPEC 3.3), else why not."""
    try:
        stored.decode('utf-8')
    except UnicodeDecodeError:
        return 'stored text is not UTF-8'
    if orig is None:
        return 'original object not in the tree'
    orig_tree = parse_xml(orig)
    dtd = b'<!DOCTYPE' in orig
    if stored == orig:
        if orig_tree is None or dtd or not deep_system_out(orig_tree):
            return None
        return '<system-out> below depth 1 not stripped'
    if orig_tree is None:
        return 'malformed original was not stored unchanged'
    st = parse_xml(stored)
    if st is None:
        return 'stored XML is not well-formed'
    if deep_system_out(st):
        return '<system-out> below depth 1 not stripped'
    if canon(orig_tree) != canon(st):
        return 'stored XML differs from the original beyond <system-out>/<system-err>'
    return None


def numbers_equal(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            not isinstance(a, bool) and not isinstance(b, bool):
        return a == b
    return False


class Report:
    def __init__(self):
        self.sections = {}

    def add(self, kind, item):
        self.sections.setdefault(kind, []).append(item)

    def print(self, out, limit=10):
        for kind, items in self.sections.items():
            print('%s: %d' % (kind, len(items)), file=out)
            for it in items[:limit]:
                print('  ' + it, file=out)
            if len(items) > limit:
                print('  ... %d more' % (len(items) - limit), file=out)


def compare_db(db_path, expected_path, root=None):
    with open(expected_path) as f:
        exp = json.load(f)
    root = root or exp['root']
    tree = Tree(root)
    db = sqlite3.connect('file:%s?mode=ro' % db_path, uri=True)
    rep = Report()
    rows = {}
    for rowid, path, sj, fj, ft in db.execute(
            'select rowid, gcs_path, started_json, finished_json, finished_time from build'):
        rows[path] = (rowid, sj, fj, ft)
    eb = exp['builds']
    for path in sorted(set(eb) - set(rows), key=byte_key):
        rep.add('missing builds', path)
    for path in sorted(set(rows) - set(eb), key=byte_key):
        rep.add('extra builds', path)
    for path in sorted(set(eb) & set(rows), key=byte_key):
        e = eb[path]
        _, sj, fj, ft = rows[path]
        if sj != e.get('started_json'):
            rep.add('differing started_json', '%s\n    db:       %r\n    expected: %r'
                    % (path, sj, e.get('started_json')))
        if fj != e.get('finished_json'):
            rep.add('differing finished_json', '%s\n    db:       %r\n    expected: %r'
                    % (path, fj, e.get('finished_json')))
        if not numbers_equal(ft, e.get('finished_time')):
            rep.add('differing finished_time', '%s: db %r, expected %r' % (path, ft, e.get('finished_time')))

    checked = 0
    if exp.get('junit') or 'new_or_changed' in exp:
        want = set(exp.get('other_files', []))
        for e in eb.values():
            want.update(e.get('junit', []))
        have = {}
        if table_exists(db, 'file'):
            for path, data in db.execute('select path, data from file'):
                have[path] = data
        for p in sorted(want - set(have), key=byte_key):
            rep.add('missing JUnit files', p)
        for p in sorted(set(have) - want, key=byte_key):
            rep.add('extra JUnit files', p)
        for p in sorted(want & set(have), key=byte_key):
            data = have[p]
            if isinstance(data, str):
                data = data.encode('utf-8')
            try:
                stored = zlib.decompress(data)
            except (zlib.error, TypeError) as err:
                rep.add('bad JUnit blobs', '%s: not a zlib stream (%s)' % (p, err))
                continue
            why = check_junit(tree.read_gs(p), stored)
            checked += 1
            if why:
                rep.add('bad JUnit blobs', '%s: %s' % (p, why))
        if exp.get('junit') and table_exists(db, 'build_junit_missing'):
            left = db.execute('select count(*) from build_junit_missing'
                              ' where build_id in (select rowid from build)').fetchone()[0]
            if left:
                rep.add('builds still marked missing JUnit', '%d builds' % left)
    db.close()

    ok = not rep.sections
    print('compare-db: %s: %d builds in DB, %d expected, %d JUnit blobs checked: %s'
          % (db_path, len(rows), len(eb), checked, 'OK' if ok else 'DIFFERENCES'))
    rep.print(sys.stdout)
    return 0 if ok else 1


def check_manifest(manifest_path, expected_path):
    with open(manifest_path) as f:
        man = json.load(f)
    with open(expected_path) as f:
        exp = json.load(f)
    if exp.get('buildlimit'):
        print('check-manifest: the manifest describes an unlimited run', file=sys.stderr)
        return 2
    rep = Report()
    want = {p: r for p, r in man['builds'].items() if r['expect']}
    eb = exp['builds']
    for p in sorted(set(want) - set(eb), key=byte_key):
        rep.add('generator expects, oracle does not', p)
    for p in sorted(set(eb) - set(want), key=byte_key):
        rep.add('oracle expects, generator does not', p)
    for p in sorted(set(want) & set(eb), key=byte_key):
        w, e = want[p], eb[p]
        for k in ('started_json', 'finished_json'):
            if w.get(k) != e.get(k):
                rep.add('%s differs' % k, '%s: generator %r, oracle %r' % (p, w.get(k), e.get(k)))
        if not numbers_equal(w.get('finished_time'), e.get('finished_time')):
            rep.add('finished_time differs', '%s: generator %r, oracle %r'
                    % (p, w.get('finished_time'), e.get('finished_time')))
        if exp.get('junit') and sorted(w.get('junit', [])) != sorted(e.get('junit', [])):
            rep.add('junit differs', '%s: generator %r, oracle %r' % (p, w.get('junit'), e.get('junit')))
    ok = not rep.sections
    print('check-manifest: %d expected by generator, %d by oracle: %s'
          % (len(want), len(eb), 'OK' if ok else 'DIFFERENCES'))
    rep.print(sys.stdout)
    return 0 if ok else 1


def main(argv=None):
    p = argparse.ArgumentParser(description='What kettle make-db must store, from a tree.')
    p.add_argument('--root', help='tree root (the fake GCS directory)')
    p.add_argument('--buckets', help='buckets.yaml')
    p.add_argument('--buildlimit', type=int, default=0, help='as make-db --buildlimit (0: none)')
    p.add_argument('--junit', action='store_true', help='as make-db --junit')
    p.add_argument('--now', type=float, default=None, help='epoch seconds of the run (5-day rule)')
    p.add_argument('--prior-db', help='start from this DB instead of an empty one')
    p.add_argument('--compare-db', nargs=2, metavar=('DB', 'EXPECTED'))
    p.add_argument('--check-manifest', nargs=2, metavar=('MANIFEST', 'EXPECTED'))
    args = p.parse_args(argv)
    if args.compare_db:
        return compare_db(args.compare_db[0], args.compare_db[1], args.root)
    if args.check_manifest:
        return check_manifest(*args.check_manifest)
    if not args.root or not args.buckets:
        p.error('--root and --buckets are required')
    compute(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
