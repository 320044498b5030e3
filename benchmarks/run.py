"""Run the benchmark suite: each workload on our stack and on the published package's stack, side by side.

    python benchmarks/run.py                 # full suite, 3 alternating repetitions (a few minutes)
    python benchmarks/run.py --quick         # 1 repetition, no 4,000-chain run on the published stack
    python benchmarks/run.py --only chain    # one benchmark (chain, fanout, lifecycle, timetravel, scaling, memory)
    python benchmarks/run.py --skip-published
    python benchmarks/run.py --smoke         # tiny sizes, ours only: correctness, no timing verdicts

Prints a table of medians, the ratio published/ours and PASS/FAIL per target; exits 1 if a target fails or a
workload errors.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import runner, suite  # noqa: E402

COLUMNS = ("benchmark", "size", "ours", "ours, fake OOP", "published", "published/ours", "target", "result")


def format_table(rows: list[suite.Row]) -> str:
    """The report table, columns padded to their widest cell."""
    cells = [COLUMNS] + [(r.name, r.size, r.ours, r.ours_oop, r.published, r.ratio, r.target, r.verdict)
                         for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmarks: our stack against the published durabletask stack.")
    parser.add_argument("--quick", action="store_true", help="1 repetition; skip the published 4,000-chain run")
    parser.add_argument("--only", choices=suite.BENCHMARK_NAMES, action="append",
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--repeat", type=int, default=None, help="alternating repetitions per measure (default 3)")
    parser.add_argument("--skip-published", action="store_true", help="run our stack only")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, our stack only, correctness only")
    parser.add_argument("--json", type=Path, help="also write the raw values and table to this file")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks and print the table; return the process exit code."""
    args = parse_args(argv)
    smoke = args.smoke
    with_published = not (smoke or args.skip_published)
    repeat = args.repeat or (1 if (smoke or args.quick) else 3)
    sizes = suite.SMOKE if smoke else suite.FULL
    benchmarks = suite.build(sizes, with_published, slow_published=not args.quick)
    if args.only:
        benchmarks = [b for b in benchmarks if b.name in args.only]
    measures = suite.measures_of(benchmarks)

    pythons = {suite.OURS: runner.ours_python(), suite.OURS_OOP: runner.ours_python()}
    if with_published:
        pythons[suite.PUBLISHED] = runner.published_python()

    values: suite.Values = {}
    errors: suite.Errors = {}
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    for round_index in range(repeat):
        for measure in measures:
            for stack in measure.stacks:  # alternate stacks within each round
                if round_index >= measure.repeats_for(stack, repeat):
                    continue
                outcome = runner.run(pythons[stack], stack, measure.workload, measure.n)
                suite.record(values, errors, measure, outcome)
                shown = outcome.result[measure.metric] if outcome.result else outcome.error
                print(f"[{round_index + 1}/{repeat}] {measure.key:<12} {stack:<9} {shown}", file=sys.stderr)

    rows = [benchmark.judge(values, errors, smoke) for benchmark in benchmarks]
    table = format_table(rows)
    print(table)
    print("ours: our SDK and fake in one process; ours, fake OOP: the fake in its own process "
          "(python -m durabletask_testing serve). published/ours uses the faster of the two, named in brackets.")
    for key, by_stack in errors.items():
        for stack, error in by_stack.items():
            print(f"error in {key} on {stack}: {error}")
    load_after = os.getloadavg()[0]
    print(f"\n{repeat} repetition(s), {time.perf_counter() - started:.0f} s total, "
          f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average {load_before:.1f} before / {load_after:.1f} after")
    if args.json:
        report = {"values": values, "errors": errors, "rows": [asdict(r) for r in rows], "table": table,
                  "repeat": repeat, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                  "load_average": [load_before, load_after], "cpus": os.cpu_count()}
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if any(r.verdict in ("FAIL", "ERROR") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
