"""How long pytest takes to exit after its summary line, and what it prints after it, with either SDK.

    python benchmarks/pytest_exit.py               # 3 rounds of the session suite per variant
    python benchmarks/pytest_exit.py --rounds 5 --sdk published

Runs the suite of ``session_suite.py`` (18 workflow tests) and reads pytest's output as it is written: the
delay is from the moment the summary line (``N passed in X s``) arrives to the process's exit. Variants: the
published SDK and our SDK with our plugin (audit on), and the peer, the published SDK with a session fixture
over its own in-memory backend (our plugin not loaded). Medians and the worst over the rounds.

Target (issue 26): pytest exits within 100 ms after its summary with either SDK, and prints nothing after it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pytest_runs  # noqa: E402
import session_suite  # noqa: E402
from sdk_envs import median, ms  # noqa: E402

TARGET_S = 0.100


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sdk", choices=("both", "published"), default="both")
    parser.add_argument("-k", default="", help="pytest -k expression (a smaller suite, for smoke tests)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    variants = [v for v in session_suite.VARIANTS if args.sdk == "both" or session_suite.VARIANTS[v][0] == "published"]
    delays: dict[str, list[float]] = {v: [] for v in variants}
    after: dict[str, list[str]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in variants:
            session_suite.prepare(Path(tmp) / variant, session_suite.VARIANTS[variant][1])
        for _ in range(args.rounds):
            for variant in variants:
                sdk, _, plugin = session_suite.VARIANTS[variant]
                run = pytest_runs.run_pytest(sdk, Path(tmp) / variant, ["-k", args.k] if args.k else [],
                                             plugin=plugin)
                if not run.summary:
                    raise RuntimeError(f"{variant}: no summary line in pytest's output:\n"
                                       + "\n".join(run.output[-20:]))
                delays[variant].append(run.exit_after_summary)
                after[variant].extend(line for line in run.printed_after_summary if line.strip())
    print(f"pytest's exit after its summary line ({args.rounds} rounds):")
    for variant in variants:
        worst = max(delays[variant])
        printed = f"{len(after[variant])} line(s) after the summary, e.g. {after[variant][0]!r}" if after[variant] \
            else "nothing printed after the summary"
        verdict = "" if variant == "published+backend" else (
            f" (target <= {TARGET_S * 1000:.0f} ms, silent): "
            f"{'PASS' if worst <= TARGET_S and not after[variant] else 'FAIL'}")
        print(f"  {session_suite.LABELS[variant]:<56} median {ms(median(delays[variant])):>9}, "
              f"worst {ms(worst):>9}; {printed}{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
