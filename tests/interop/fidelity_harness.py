"""Run generated programs with whatever ``durabletask`` SDK this interpreter imports; print observations.

Meant for the published PyPI SDK (``.interop/published-venv/bin/python``): reads a JSON list of programs
from ``--programs``, runs them on the sidecar at ``--host`` (``fidelity_driver.Driver``) and prints one
JSON observation per line, in the order given. Histories come from ``StreamInstanceHistory`` and the
instance list from ``QueryInstances``, or with ``--go-db`` both from durabletask-go's sqlite file; with
``--go-log`` the driver stops waiting for a program whose work items durabletask-go fails for good.

    python tests/interop/fidelity_harness.py --host 127.0.0.1:4001 --programs FILE [--go-db FILE --go-log FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, outside pytest

import fidelity_driver  # noqa: E402
from history_sources import GoSqliteHistorySource, GrpcHistorySource  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="sidecar address HOST:PORT")
    parser.add_argument("--programs", type=Path, required=True, help="JSON file holding a list of programs")
    parser.add_argument("--go-db", type=Path, default=None, help="durabletask-go sqlite file")
    parser.add_argument("--go-log", type=Path, default=None, help="durabletask-go log (to see hung work items)")
    parser.add_argument("--prefix", default="", help="prepended to every program's root instance id")
    parser.add_argument("--token", default="published", help="names this run in the attempt counters")
    parser.add_argument("--timeout", type=float, default=8.0, help="per-program deadline in seconds")
    parser.add_argument("--parallelism", type=int, default=8, help="programs run at once")
    args = parser.parse_args(argv)
    for name in ("durabletask-worker", "durabletask-client", "durabletask"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    programs = json.loads(args.programs.read_text())
    if args.go_db:
        history, lister = GoSqliteHistorySource(args.go_db), fidelity_driver.GoSqliteLister(args.go_db)
    else:
        history, lister = GrpcHistorySource(args.host), fidelity_driver.GrpcLister(args.host)
    hung = fidelity_driver.GoLogWatcher(args.go_log).hung if args.go_log else None
    driver = fidelity_driver.Driver(args.host, history, lister, token=args.token, timeout=args.timeout,
                                    parallelism=args.parallelism, hung=hung)
    try:
        for observation in driver.run_programs(programs, prefix=args.prefix):
            print(json.dumps(observation, sort_keys=True), flush=True)
    finally:
        driver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
