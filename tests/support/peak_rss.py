#!/usr/bin/env python3
"""Runs a command and writes its peak resident memory, in KiB, to a file.

usage: peak_rss.py OUT_FILE COMMAND [ARG...]
The peak is the child's ru_maxrss from wait4: the kernel's high-water mark of
that process, whatever it exec'd into (e.g. `env -i ... kettle`), exact even
for a short-lived spike. Exits with the command's status (128+N for signal N).
"""
import os
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, command = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    with open(out, "w") as f:
        f.write(f"{usage.ru_maxrss}\n")
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main())
