"""End-to-end over real gRPC with the PUBLISHED durabletask 1.12.0 as client and worker: entities, critical
sections, delayed signals, entity faults and rewind on the in-process fake (real, auto and manual clocks).

The scenarios (``published_sdk/check_*.py``) run in the published-SDK venv (``scripts/published_venv.py``) with
only the testkit on PYTHONPATH, copied outside the repository so that our SDK's ``durabletask`` is never found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = Path(__file__).with_name("published_sdk")
PUBLISHED_PYTHON = REPO_ROOT / ".interop" / "published-venv" / "bin" / "python"

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from published_venv import import_root_of_testkit  # noqa: E402

pytestmark = pytest.mark.interop


def test_published_sdk_entities_and_rewind_on_the_in_process_fake(tmp_path: Path) -> None:
    if not PUBLISHED_PYTHON.exists():
        pytest.skip("no published-SDK venv (make interop-prereqs)")
    for scenario in SCENARIOS.glob("check_*.py"):
        shutil.copyfile(scenario, tmp_path / scenario.name)
    env = {**os.environ, "PYTHONPATH": str(import_root_of_testkit())}
    result = subprocess.run(
        [str(PUBLISHED_PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "python_files=check_*.py",
         "--timeout", "120", "."],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout and "skipped" not in result.stdout
