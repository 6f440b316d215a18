"""Summarise a py-spy raw profile (``py-spy record -f raw``): the functions with the most samples of their
own ("self") and with the most samples anywhere in their stack ("inclusive"), as shares of the samples
taken in the step. Import-time samples are dropped. Not a test.

    python benchmarks/pyspy_summary.py PROFILE.txt [--self 40] [--inclusive 60] [--within step]
"""

from __future__ import annotations

import argparse
import collections
import re
import sys

_LOC = re.compile(r" \((?:.*/)?([^/]*\.py):\d+\)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("--self", type=int, default=40, dest="n_self")
    p.add_argument("--inclusive", type=int, default=60)
    p.add_argument("--within", default="step (", help="keep stacks with a frame containing this")
    args = p.parse_args(argv)
    own: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    with open(args.path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            if "_find_and_load" in stack or args.within not in stack:
                continue
            n = int(n)
            total += n
            names = [_LOC.sub(r" (\1)", fr) for fr in frames]
            own[names[-1]] += n
            for name in set(names):
                incl[name] += n
    print(f"{total} samples in the step")
    for title, counter, k in (("self", own, args.n_self), ("inclusive", incl, args.inclusive)):
        print(f"--- {title}")
        for name, c in counter.most_common(k):
            print(f"{100 * c / max(total, 1):5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
