"""Smoke tests of the issue-26 benchmark scripts: tiny sizes, both SDKs, the figures are printed (no timing verdict).

Each script runs its measuring half in the published SDK's venv (``.interop/published-venv``) and in ours, so
these tests need that venv (they are marked ``interop``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))

import explore_pytest  # noqa: E402
import one_orchestration  # noqa: E402
import pytest_exit  # noqa: E402
import pytest_per_test  # noqa: E402
import session_suite  # noqa: E402

pytestmark = pytest.mark.interop
MS = r"[\d.]+ ms"


def output_of(capsys: pytest.CaptureFixture[str], main: object, argv: list[str]) -> str:
    assert callable(main)
    assert main(argv) == 0
    return str(capsys.readouterr().out)


def test_one_orchestration_prints_three_stacks_and_both_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    out = output_of(capsys, one_orchestration.main, ["-n", "2", "--rounds", "1"])
    for label in ("published SDK on our fake", "published SDK on its backend (peer)", "our SDK on our fake"):
        assert re.search(rf"{re.escape(label)} +warm +{MS} +first after start +{MS}", out), out
    assert re.search(r"published SDK, our fake / its backend: [\d.]+x \(target <= 0.7x\): (PASS|FAIL)", out), out
    assert re.search(r"our SDK on our fake / published SDK on its backend: [\d.]+x \(target <= 0.6x\)", out), out


def test_pytest_per_test_prints_audit_on_off_peer_and_empty_test(capsys: pytest.CaptureFixture[str]) -> None:
    out = output_of(capsys, pytest_per_test.main, ["-n", "2", "--rounds", "1"])
    assert out.count("our plugin, audit on") == 2 and out.count("our plugin, audit off") == 2, out
    assert len(re.findall(r"replay audit adds [+-]\d+% \(target <= \+25%\)", out)) == 2, out
    assert re.search(rf"peer: session fixture over the published backend +{MS}; ours/peer [\d.]+x", out), out
    assert len(re.findall(rf"empty test: {MS} with our plugin loaded, {MS} without", out)) == 2, out


def test_session_suite_runs_both_ways_and_prints_the_speed_up(capsys: pytest.CaptureFixture[str]) -> None:
    out = output_of(capsys, session_suite.main, ["--rounds", "1", "-k", "chain_of_three or entity or retry_succeeds"])
    assert "session of 4 workflow tests" in out, out
    assert len(re.findall(rf"session +{MS} +process +{MS}", out)) == 3, out
    assert len(re.findall(r"[\d.]+x faster than the peer \(target >= 2.0x\)", out)) == 2, out


def test_full_suite_has_at_least_fifteen_tests() -> None:
    text = (BENCHMARKS / "suite_files" / "test_suite.py").read_text()
    assert len(re.findall(r"^def test_", text, flags=re.MULTILINE)) >= 15


def test_pytest_exit_prints_the_delay_after_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    out = output_of(capsys, pytest_exit.main, ["--rounds", "1", "-k", "chain_of_three"])
    assert len(re.findall(rf"median +{MS}, worst +{MS}; ", out)) == 3, out


def test_explore_prints_both_sdks_and_the_peer(capsys: pytest.CaptureFixture[str]) -> None:
    out = output_of(capsys, explore_pytest.main, ["-n", "3"])
    assert re.search(r"published SDK, durable_explore: [\d.]+ s \(target <= 5 s\): (PASS|FAIL); per schedule", out), out
    assert re.search(r"our SDK, durable_explore: [\d.]+ s; per schedule by crash kind: none 3 x", out), out
    assert re.search(r"peer: 3 plain runs on the published backend \(session fixture\): [\d.]+ s", out), out
