"""Summarise a py-spy ``--format raw`` profile: samples per thread group, top functions by self and total samples.

    py-spy record --gil -r 400 -f raw -o gil.txt -- python benchmarks/one_orchestration.py --child -n 300 \\
        --rounds 1 --server fake
    python benchmarks/spy_summary.py gil.txt --wall 4.2 --rate 400     # percentages of wall time too

With ``--gil`` only the thread holding the GIL is sampled, so samples / (rate x wall seconds) is the share of wall
time the process runs Python code; with ``--idle`` every thread is sampled, waiting or not.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

THREAD = re.compile(r"^thread \(\w+\): ([^;]*)")


def group_of(thread: str) -> str:
    """A thread's group: its name without the pool's trailing number."""
    return re.sub(r"[_-]?\d+$", "", thread) or thread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--wall", type=float, default=0.0, help="wall seconds of the profiled run")
    parser.add_argument("--rate", type=float, default=100.0, help="py-spy's sampling rate (-r)")
    parser.add_argument("--match", default="", help="only stacks containing this text")
    args = parser.parse_args(argv)
    threads: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or (args.match and args.match not in stack):
            continue
        count = int(count_text)
        samples += count
        frames = stack.split(";")
        match = THREAD.match(frames[0])
        if match:
            threads[group_of(match.group(1))] += count
            frames = frames[1:]
        functions = [re.sub(r":\d+\)$", ")", frame) for frame in frames]
        if functions:
            own[functions[-1]] += count
        for function in set(functions):
            total[function] += count
    base = args.rate * args.wall if args.wall else samples
    unit = "of wall" if args.wall else "of samples"
    print(f"{samples} samples" + (f" = {samples / base:.0%} of {args.wall} s wall at {args.rate:.0f} Hz" if args.wall
                                   else ""))
    print(f"\nthreads ({unit}):")
    for name, count in threads.most_common(args.top):
        print(f"  {count / base:6.1%}  {name}")
    for title, table in (("self", own), ("total (inclusive)", total)):
        print(f"\ntop functions, {title} ({unit}):")
        for name, count in table.most_common(args.top):
            print(f"  {count / base:6.1%}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
