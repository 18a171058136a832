#!/usr/bin/env python3
"""Prow builds day by day, with JUnit of a realistic weight, for the fake GCS.

  gen_days.py --root DIR --end EPOCH --days N [--jobs J] [--per-day K]
              [--tests T] [--first N] [--seed S] [--buckets-out FILE]

Writes, under gs://kubernetes-jenkins/logs/ (listed by directory: the
buckets.yaml written to --buckets-out says `sequential: false`), J jobs with K
builds a day for the N days before END. Each build has started.json,
finished.json and artifacts/junit_01.xml with T test cases (about 16 bytes
stored per test once compressed). A build of day D (0 = the last day) finishes
between END - D days - 18 h and END - D days - 6 h, so whole-day windows
counted back from END are half a day away from every build. Builds are
numbered from --first on, across jobs; run it again with a later --end and a
higher --first to add days to a tree.
"""

import argparse
import json
import os
import random

DAY = 86400


def put(root, name, text):
    path = os.path.join(root, 'kubernetes-jenkins', name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def junit(rng, job, tests):
    cases = []
    for i in range(tests):
        name = 'Test%s_%016x' % (job, rng.getrandbits(64))
        body = ('<failure message="boom %x">trace %x</failure>' % (rng.getrandbits(32), rng.getrandbits(64))
                if i % 17 == 0 else '')
        cases.append('<testcase name="%s" time="%d.%d">%s</testcase>' % (name, i, i % 10, body))
    return '<testsuite name="s">%s</testsuite>\n' % ''.join(cases)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--root', required=True)
    p.add_argument('--end', type=int, required=True, help='epoch seconds: the days end here')
    p.add_argument('--days', type=int, required=True)
    p.add_argument('--jobs', type=int, default=3)
    p.add_argument('--per-day', type=int, default=3, help='builds a day per job')
    p.add_argument('--tests', type=int, default=150, help='test cases per JUnit file')
    p.add_argument('--first', type=int, default=1, help='first build number')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--buckets-out', help='buckets.yaml to write')
    args = p.parse_args()
    rng = random.Random('%d/%d' % (args.seed, args.first))
    n = args.first
    for j in range(args.jobs):
        job = 'ci-days-%d' % j
        for day in range(args.days):
            for k in range(args.per_day):
                # Spread over the 12 hours around the middle of the day, +- 10 min.
                offset = -6 * 3600 + (k + 0.5) * 12 * 3600 // args.per_day
                finished = int(args.end - day * DAY - DAY // 2 + offset + rng.randrange(-600, 600))
                base = 'logs/%s/%d/' % (job, n)
                n += 1
                put(args.root, base + 'started.json', json.dumps({'timestamp': finished - 600}))
                put(args.root, base + 'finished.json',
                    json.dumps({'timestamp': finished, 'result': 'SUCCESS', 'passed': True}))
                put(args.root, base + 'artifacts/junit_01.xml', junit(rng, job, args.tests))
    if args.buckets_out:
        with open(args.buckets_out, 'w') as f:
            f.write('gs://kubernetes-jenkins/logs/:\n  prefix: "days:"\n  sequential: false\n')


if __name__ == '__main__':
    main()
