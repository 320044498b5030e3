"""The Dapr example (examples/dapr_workflows) passes through the plugin with Dapr 1.18 and 1.19, app unmodified,
on the fake, and with Dapr 1.19 on a real daprd.

Each runs in its Dapr venv (``scripts/dapr_venvs.py``) with only the testkit on PYTHONPATH, never our SDK's
``durabletask``: Dapr vendors its own copy of the Durable Task SDK, and the fake's bindings load beside it.
On the real daprd (``real_dapr``, built by ``scripts/interop/install_dapr.sh``; dapr 1.19's SDK) the example's tests
that need the fake's virtual clock, faults or inspection are skipped by the plugin; the other five must pass there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import require
from .sidecars import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from dapr_venvs import DAPR_VERSIONS, python_path  # noqa: E402
from published_venv import import_root_of_testkit  # noqa: E402

pytestmark = pytest.mark.interop

TIMER_BUDGET_MS = 50.0
FAKE_ONLY = ("virtual clock", "virtual clock", "fault injection", "fault injection", "state inspection")


def _run_example(version: str, tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    python = python_path(version)
    require(python.is_file(), f"{version} venv not found at {python}; run: python scripts/dapr_venvs.py")
    shutil.copytree(REPO_ROOT / "examples" / "dapr_workflows", tmp_path / "dapr_workflows",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(import_root_of_testkit()), "PYTEST_PLUGINS": "durabletask_pytest.plugin"}
    return subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s", "-rs", "--timeout", "60",
         "dapr_workflows", *options],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize("version", sorted(DAPR_VERSIONS))
def test_the_dapr_example_passes_on_the_fake(version: str, tmp_path: Path) -> None:
    result = _run_example(version, tmp_path)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b10 passed\b", result.stdout) and " skipped" not in result.stdout, result.stdout[-2000:]
    timer = re.search(r"24-hour timer: ([0-9.]+) ms wall time", result.stdout)
    assert timer is not None and float(timer.group(1)) < TIMER_BUDGET_MS, result.stdout[-2000:]


def test_the_dapr_example_passes_on_a_real_daprd(real_dapr: str, tmp_path: Path) -> None:
    """With dapr 1.19's SDK only: 1.18's ``WorkflowRuntime.shutdown()`` closes its gRPC channel while an activity
    thread may still be sending a result, and grpcio then crashes the process (SIGSEGV at a test's teardown, about
    one run in six against a real daprd here); 1.19 closes it later."""
    result = _run_example("dapr-1.19", tmp_path, "--durabletask-sidecar", real_dapr, "--durabletask-control", "none")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b5 passed, 5 skipped\b", result.stdout), result.stdout[-3000:]
    reasons = sorted(re.findall(r"needs the fake sidecar's (virtual clock|fault injection|state inspection)",
                                result.stdout))
    assert reasons == sorted(FAKE_ONLY), result.stdout[-3000:]
