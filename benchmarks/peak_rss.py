"""Run a command and print the peak resident memory, in KiB, of the largest process in its tree.

USAGE
    python benchmarks/peak_rss.py COMMAND [ARGS...]

``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is, on Linux, the largest peak RSS
among this process's children and every descendant they waited for. hubcheck
waits for its worker when it closes it, so the worker's peak counts; a fresh
driver per measurement keeps earlier commands out of the figure. The command's
exit code is passed through.
"""

from __future__ import annotations

import resource
import subprocess
import sys


def main() -> int:
    completed = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return completed.returncode


if __name__ == "__main__":
    sys.exit(main())
