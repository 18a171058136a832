#!/usr/bin/env python3
"""Writes a C++ source defining `const char NAME[]` with a file's bytes, so a
data file (schema.json) is compiled into the binary."""
import sys

src, out, namespace, name = sys.argv[1:5]
data = open(src, 'rb').read()
with open(out, 'w') as f:
    f.write('// Generated from %s; do not edit.\n' % src.split('/')[-1])
    f.write('namespace %s {\nextern const char %s[];\nconst char %s[] = {\n' % (namespace, name, name))
    for i in range(0, len(data), 16):
        f.write(''.join('%d,' % b for b in data[i:i + 16]) + '\n')
    f.write('0};\n}\n')
