"""Run the scenario catalogue with whatever ``durabletask`` SDK this interpreter imports.

Meant for the published PyPI SDK: run it with ``.interop/published-venv/bin/python`` (see
``scripts/interop/make_published_venv.sh``). It starts that SDK's worker and client against the sidecar
at ``--host``, runs every scenario (or those named with ``--only``) and prints one JSON object per
scenario on its own line, then a summary line ``N passed, N failed``. Exit status 0 only when every
scenario met its expectation.

History comes from ``StreamInstanceHistory`` by default; pass ``--go-db PATH`` to read it from the
sqlite file of a durabletask-go sidecar instead (durabletask-go does not implement that RPC).

    python tests/interop/published_sdk_scenarios.py --host 127.0.0.1:4001 [--go-db FILE] [--only a,b]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

# This script runs outside pytest from another venv: make its sibling modules importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenarios  # noqa: E402
from history_sources import GoSqliteHistorySource, GrpcHistorySource  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="sidecar address HOST:PORT")
    parser.add_argument("--go-db", type=Path, default=None,
                        help="durabletask-go sqlite file to read histories from")
    parser.add_argument("--peer", default=None,
                        help="peer name for documented deviations (default: durabletask-go with --go-db, else fake)")
    parser.add_argument("--only", default="", help="comma-separated scenario names (default: all)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-scenario wait limit in seconds")
    parser.add_argument("--parallelism", type=int, default=8, help="scenarios run at once")
    parser.add_argument("--list", action="store_true", help="print the scenario names and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for scenario in scenarios.SCENARIOS:
            print(scenario.name)
        return 0
    logging.getLogger("durabletask-worker").setLevel(logging.WARNING)
    logging.getLogger("durabletask-client").setLevel(logging.WARNING)
    try:
        chosen = scenarios.select([n for n in args.only.split(",") if n])
    except KeyError as error:
        print(f"error: {error.args[0]}", file=sys.stderr)
        return 2
    history = GoSqliteHistorySource(args.go_db) if args.go_db else GrpcHistorySource(args.host)
    outcomes = scenarios.run_scenarios(args.host, history, chosen, timeout=args.timeout,
                                       parallelism=args.parallelism)
    peer = args.peer or ("durabletask-go" if args.go_db else "fake")
    failed = 0
    for scenario, outcome in zip(chosen, outcomes):
        problems = scenario.check(outcome, peer)
        failed += bool(problems)
        record = json.loads(outcome.to_json())
        record["problems"] = problems
        print(json.dumps(record, sort_keys=True), flush=True)
    print(f"{len(chosen) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
