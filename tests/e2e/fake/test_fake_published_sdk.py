"""Interop: the PUBLISHED durabletask SDK (its own venv) runs the common patterns against the fake's CLI.

Needs a venv with the published package: DURABLETASK_PUBLISHED_PYTHON, else /tmp/pubvenv/bin/python;
skipped when neither exists.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).with_name("published_sdk_scenarios.py")


def _published_python() -> Path | None:
    for candidate in (os.environ.get("DURABLETASK_PUBLISHED_PYTHON"), "/tmp/pubvenv/bin/python"):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


@pytest.mark.interop
def test_published_sdk_runs_every_scenario_on_the_fake_cli():
    python = _published_python()
    if python is None:
        pytest.skip("no venv with the published durabletask package (set DURABLETASK_PUBLISHED_PYTHON)")
    fake = subprocess.Popen(
        [sys.executable, "-m", "durabletask_testing", "serve", "--port", "0", "--clock", "auto"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = fake.stdout.readline()
        assert line.startswith("listening on "), line
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        result = subprocess.run(
            [str(python), str(SCENARIOS), line.split()[-1]],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd="/",
        )
        report = [row for row in result.stdout.splitlines() if row.startswith(("ok ", "FAIL "))]
        assert result.returncode == 0 and len(report) == 10, result.stdout + result.stderr[-3000:]
        fake.send_signal(signal.SIGTERM)
        assert fake.wait(timeout=10) == 0
    finally:
        if fake.poll() is None:
            fake.kill()
            fake.wait()
        fake.stdout.close()
