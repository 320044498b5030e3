"""Smoke test of benchmarks/per_test_cycle.py: the cycle really runs and the report line is printed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from durabletask_pytest.fixtures.settings import DurableSettings  # noqa: E402

from benchmarks import per_test_cycle  # noqa: E402


@pytest.mark.parametrize("extra", [[], ["--freeze-time", "--clock", "manual"]])
def test_benchmark_prints_median_min_and_max(capsys: pytest.CaptureFixture[str], extra: list[str]) -> None:
    assert per_test_cycle.main(["-n", "2", *extra]) == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r"per-test cycle \(our SDK, clock=\w+(, freeze_time)?, 2 runs\): "
                        r"median [\d.]+ ms, min [\d.]+ ms, max [\d.]+ ms", line), line


def test_one_cycle_runs_the_orchestration_and_returns_its_duration() -> None:
    seconds = per_test_cycle.one_cycle(DurableSettings())
    assert 0 < seconds < 30


def test_bad_run_count_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        per_test_cycle.main(["-n", "0"])
    assert "--runs must be at least 1" in capsys.readouterr().err
