"""What the replay audit costs each test: the examples' tests (examples/test_*.py), audit time against test time.

    python benchmarks/replay_audit.py            # 5 runs of the examples' tests, median per test
    python benchmarks/replay_audit.py -n 10

Each run is one pytest session in this process with a small plugin that times the audit (it runs inside
``pytest_runtest_makereport`` of the call phase) apart from the test's own set-up + call + tear-down. Prints, per
test that ran orchestrations, the medians and the ratio audit / test; the target (issue 19) is <= 50 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.5


class _Timer:
    """Times the audit and the phases of each test."""

    def __init__(self) -> None:
        self.audit: dict[str, float] = defaultdict(float)
        self.test: dict[str, float] = defaultdict(float)
        self._current = ""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Any:
        self._current = item.nodeid
        return (yield)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.test[report.nodeid] += report.duration

    def wrap(self) -> None:
        from durabletask_pytest.audit import replay as replay_audit

        original = replay_audit.audit

        def timed(state: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(state)
            finally:
                self.audit[self._current] += time.perf_counter() - started

        replay_audit.audit = timed  # type: ignore[assignment]


def one_run() -> tuple[dict[str, float], dict[str, float]]:
    timer = _Timer()
    timer.wrap()
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist", str(ROOT / "examples")],
                       plugins=[timer])
    if code != 0:
        raise SystemExit(f"the examples' tests failed (exit {code})")
    return dict(timer.audit), dict(timer.test)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="runs (default 5)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "examples"))
    audits: dict[str, list[float]] = defaultdict(list)
    tests: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.n):
        audit, test = one_run()
        for nodeid, seconds in audit.items():
            audits[nodeid].append(seconds)
            tests[nodeid].append(test[nodeid])
    rows = sorted(audits)
    print(f"\n{'test':<100} {'test ms':>8} {'audit ms':>9} {'ratio':>6}")
    ratios = []
    total_test = total_audit = 0.0
    for nodeid in rows:
        test_ms, audit_ms = statistics.median(tests[nodeid]) * 1000, statistics.median(audits[nodeid]) * 1000
        ratio = audit_ms / test_ms if test_ms else 0.0
        ratios.append(ratio)
        total_test, total_audit = total_test + test_ms, total_audit + audit_ms
        print(f"{nodeid.split('examples/')[-1]:<100} {test_ms:8.1f} {audit_ms:9.1f} {ratio:6.0%}")
    overall = total_audit / total_test if total_test else 0.0
    print(f"\naudited tests: {len(rows)}; all together: tests {total_test:.0f} ms, audit {total_audit:.0f} ms, "
          f"ratio {overall:.0%}; median ratio {statistics.median(ratios):.0%}; worst {max(ratios):.0%}; "
          f"target <= {TARGET:.0%}: {'PASS' if overall <= TARGET else 'FAIL'}")
    return 0 if overall <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
