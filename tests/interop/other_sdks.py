"""Run another language's test suite against a CLI fake and read which of its tests passed, and how fast.

The JavaScript, Go and Java tests of the control API (tests/interop/js, go, java) are each run as one
process by a pytest wrapper. The wrapper hands them the fake's two addresses in the environment:

- ``DURABLETASK_SIDECAR_ADDRESS``: ``HOST:PORT`` of the sidecar protocol, for the SDK's worker and client;
- ``DURABLETASK_CONTROL_URL``: ``http://HOST:PORT`` of the control API, for the clock and faults.

Pure Python, no pytest dependency.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .sidecars import SidecarProcess

TIMER_TEST_BUDGET_S = 5.0  # the 24-hour-timer tests take well under a second; this bound only catches a real wait


@dataclass(frozen=True)
class Outcome:
    """One test of the other language: did it pass, and its wall time in seconds as its runner measured it."""

    passed: bool
    seconds: float


@dataclass(frozen=True)
class Run:
    """A finished run of another language's tests: exit status, output, and per-test outcomes."""

    argv: Sequence[str]
    returncode: int
    output: str
    outcomes: dict[str, Outcome]
    wall_seconds: float

    def describe(self, sidecar: SidecarProcess | None = None) -> str:
        text = f"$ {' '.join(self.argv)}\nexit status {self.returncode}\n{self.output[-8000:]}"
        if sidecar is not None:
            text += f"\n\nfake sidecar log:\n{sidecar.log_tail()}"
        return text


def sidecar_env(sidecar: SidecarProcess, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for the other language's tests: ours plus the fake's two addresses."""
    assert sidecar.control_url is not None, "start the fake with its control API (fake_cli_manual)"
    return {**os.environ, **(extra or {}), "DURABLETASK_SIDECAR_ADDRESS": sidecar.address,
            "DURABLETASK_CONTROL_URL": sidecar.control_url}


def run(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout: float,
        parse: Callable[[str], dict[str, Outcome]]) -> Run:
    """Run ``argv`` (stdout and stderr together) and ``parse`` its output; a timeout is exit status -1."""
    started = time.monotonic()
    try:
        done = subprocess.run(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout)
        returncode, output = done.returncode, done.stdout
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        returncode, output = -1, f"{partial}\n(killed after {timeout:.0f}s)"
    return Run(argv, returncode, output, parse(output), time.monotonic() - started)


_TAP_RESULT = re.compile(r"^(?P<indent>\s*)(?P<not>not )?ok \d+ - (?P<name>.+?)(?: # .*)?$")
_TAP_DURATION = re.compile(r"^\s*duration_ms: (?P<ms>[\d.]+)")


def parse_tap(output: str) -> dict[str, Outcome]:
    """Top-level test results of ``node --test --test-reporter=tap``: 'ok N - name', then its duration_ms."""
    outcomes: dict[str, Outcome] = {}
    current: tuple[str, bool] | None = None
    for line in output.splitlines():
        result = _TAP_RESULT.match(line)
        if result and result.group("indent") == "":
            current = (result.group("name"), result.group("not") is None)
            outcomes[current[0]] = Outcome(current[1], float("nan"))
            continue
        duration = _TAP_DURATION.match(line)
        if duration and current is not None:
            outcomes[current[0]] = Outcome(current[1], float(duration.group("ms")) / 1000)
            current = None
    return outcomes


_GO_RESULT = re.compile(r"^--- (?P<verdict>PASS|FAIL|SKIP): (?P<name>\S+) \((?P<seconds>[\d.]+)s\)")


def parse_go_test(output: str) -> dict[str, Outcome]:
    """Top-level results of ``go test -v``: '--- PASS: TestName (0.12s)' (a skip counts as not passed)."""
    return {m.group("name"): Outcome(m.group("verdict") == "PASS", float(m.group("seconds")))
            for m in map(_GO_RESULT.match, output.splitlines()) if m}


def parse_surefire(reports: Path) -> dict[str, Outcome]:
    """Maven Surefire's XML reports: 'Class.method' -> outcome (a skip, failure or error is not passed)."""
    outcomes: dict[str, Outcome] = {}
    for report in sorted(reports.glob("TEST-*.xml")):
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            name = f"{case.get('classname', '').rsplit('.', 1)[-1]}.{case.get('name')}"
            passed = not any(case.find(tag) is not None for tag in ("failure", "error", "skipped"))
            outcomes[name] = Outcome(passed, float(case.get("time") or "nan"))
    return outcomes


def check(run: Run, expected: Sequence[str], timer_test: str, sidecar: SidecarProcess) -> None:
    """Assert every expected test ran and passed, the run exited 0, and the timer test stayed within budget."""
    outcomes = run.outcomes
    missing = [name for name in expected if name not in outcomes]
    assert not missing, f"these tests did not run: {missing}; ran: {sorted(outcomes)}\n\n{run.describe(sidecar)}"
    failed = [name for name in expected if not outcomes[name].passed]
    assert not failed, f"these tests did not pass: {failed}\n\n{run.describe(sidecar)}"
    assert run.returncode == 0, f"the tests passed but the run exited {run.returncode}\n\n{run.describe(sidecar)}"
    seconds = outcomes[timer_test].seconds
    assert seconds < TIMER_TEST_BUDGET_S, (
        f"{timer_test} took {seconds:.2f}s of wall time for a 24-hour timer (budget {TIMER_TEST_BUDGET_S}s): "
        f"did it wait for real time?\n\n{run.describe(sidecar)}")
