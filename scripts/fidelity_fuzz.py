"""Run thousands of generated orchestration programs on durabletask-go and on the fake, and summarise.

Each program (``tests/interop/fidelity_programs.py``, numbered from a seed) runs with the chosen SDKs on
durabletask-go v0.6.0 and on the fake (real clock: everything compared, histories included; auto clock:
outcomes only). Every difference is either recognised by a known class (``fidelity_compare.KNOWN``) or
reported as unexplained with its program. With ``--minimise`` the smallest program found for every class
and every kind of unexplained difference is shrunk further and printed, ready to paste into a test.

    .venv/bin/python scripts/fidelity_fuzz.py --seed 7 -n 1000 [--sdk ours,published] [--no-auto]
        [--batch 100] [--minimise] [--timeout 15] [--parallelism 8] [--json FILE]

The last line is the summary: ``fidelity seed=S programs=N clean=C known=K unexplained=U errors=E time=T
classes: NAME=P ...``, P being the number of programs showing the class in some comparison (``known:<class>``
for a known difference, ``unexplained:<field>`` for a difference no class accounts for).
Exit status 1 when any program shows an unexplained difference or a harness error.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "interop"))

import fidelity_programs as fp  # noqa: E402
import fidelity_suite as fs  # noqa: E402
from sidecars import go_binary_path, published_python_path  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("-n", "--count", type=int, default=1000, help="programs to run")
    parser.add_argument("--start", type=int, default=0, help="index of the first program")
    parser.add_argument("--sdk", default="ours,published", help="comma-separated: ours, published")
    parser.add_argument("--no-auto", action="store_true", help="skip the auto-clock (outcome) comparison")
    parser.add_argument("--batch", type=int, default=100, help="programs per batch (fresh sidecars per batch)")
    parser.add_argument("--timeout", type=float, default=15.0, help="per-program deadline in seconds")
    parser.add_argument("--parallelism", type=int, default=8, help="programs run at once per SDK")
    parser.add_argument("--minimise", action="store_true", help="shrink one program per class found")
    parser.add_argument("--json", type=Path, default=None, help="write every non-clean verdict here")
    parser.add_argument("--verbose", action="store_true", help="print every unexplained verdict in full")
    args = parser.parse_args(argv)
    sdks = [s for s in args.sdk.split(",") if s]
    comparisons = fs.default_comparisons(sdks, auto=not args.no_auto)
    started = time.monotonic()
    classes: Counter[str] = Counter()
    programs_by_class: Counter[str] = Counter()
    examples: dict[tuple[str, fs.Comparison], fp.Program] = {}
    counts = Counter[str]()
    records = []
    with tempfile.TemporaryDirectory(prefix="fidelity-") as scratch:
        for batch_start in range(args.start, args.start + args.count, args.batch):
            indices = range(batch_start, min(batch_start + args.batch, args.start + args.count))
            programs = [fp.generate(args.seed, i) for i in indices]
            sidecars = fs.Sidecars(Path(scratch) / f"b{batch_start}", go_binary_path(), auto=not args.no_auto)
            try:
                runner = fs.Runner(sidecars, published_python_path(), timeout=args.timeout,
                                   parallelism=args.parallelism)
                verdicts = fs.run_campaign(runner, programs, comparisons)
            finally:
                sidecars.close()
            for i, program in enumerate(programs):
                states = {c: verdicts[c][i] for c in comparisons}
                if any(v.errors for v in states.values()):
                    counts["errors"] += 1
                elif any(v.unexplained for v in states.values()):
                    counts["unexplained"] += 1
                elif any(v.accounted for v in states.values()):
                    counts["known"] += 1
                else:
                    counts["clean"] += 1
                programs_by_class.update(set().union(*(fs.signatures(v) for v in states.values())))
                for comparison, verdict in states.items():
                    for signature in fs.signatures(verdict):
                        classes[f"{signature} [{comparison.label}]"] += 1
                        key = (signature, comparison)
                        if key not in examples or fp.size(program) < fp.size(examples[key]):
                            examples[key] = program
                    if not verdict.ok:
                        if args.verbose or counts["unexplained"] + counts["errors"] <= 5:
                            print(f"[{comparison.label}] {verdict.describe()}", flush=True)
                    if verdict.errors or verdict.unexplained or verdict.accounted:
                        records.append({"comparison": comparison.label, "program": program,
                                        "errors": verdict.errors, "classes": verdict.classes(),
                                        "unexplained": [d.describe() for d in verdict.unexplained]})
            done = indices.stop - args.start
            print(f"... {done}/{args.count} programs, {time.monotonic() - started:.0f} s", flush=True)
        print("\nclasses (programs showing each, per comparison):")
        for name, n in sorted(classes.items()):
            print(f"  {n:5d}  {name}")
        if args.minimise:
            print("\nminimal programs:")
            seen: set[str] = set()
            for (signature, comparison), program in sorted(examples.items(), key=lambda kv: kv[0][0]):
                if signature in seen:
                    continue
                seen.add(signature)
                sidecars = fs.Sidecars(Path(scratch) / f"min{len(seen)}", go_binary_path(),
                                       auto=comparison.peer == fs.FAKE_AUTO)
                try:
                    runner = fs.Runner(sidecars, published_python_path(), timeout=args.timeout, parallelism=4)
                    smallest = fs.minimise(runner, program, signature, comparison)
                finally:
                    sidecars.close()
                print(f"  {signature} [{comparison.label}] (from {program['name']}):\n    {fp.describe(smallest)}",
                      flush=True)
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))
    summary = " ".join(f"{name}={n}" for name, n in sorted(programs_by_class.items())) or "none"
    print(f"fidelity seed={args.seed} programs={args.count} clean={counts['clean']} known={counts['known']} "
          f"unexplained={counts['unexplained']} errors={counts['errors']} "
          f"time={time.monotonic() - started:.0f}s classes: {summary}")
    return 1 if counts["unexplained"] or counts["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
