"""The Dapr example (examples/dapr_workflows) passes through the plugin with Dapr 1.18 and 1.19, app unmodified,
on the fake and on a real daprd; a runtime shut down while its activities still run does not crash the process.

Each runs in its Dapr venv (``scripts/dapr_venvs.py``) with only the testkit on PYTHONPATH, never our SDK's
``durabletask``: Dapr vendors its own copy of the Durable Task SDK, and the fake's bindings load beside it.
On the real daprd (``real_dapr``, built by ``scripts/interop/install_dapr.sh``) the example's tests that need the
fake's virtual clock, faults or inspection are skipped by the plugin; the other five must pass there.
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


def _run_tests(version: str, folder: Path, target: str, *options: str) -> subprocess.CompletedProcess[str]:
    python = python_path(version)
    require(python.is_file(), f"{version} venv not found at {python}; run: python scripts/dapr_venvs.py")
    env = {**os.environ, "PYTHONPATH": str(import_root_of_testkit()), "PYTEST_PLUGINS": "durabletask_pytest.plugin"}
    return subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s", "-rs", "--timeout", "60",
         target, *options],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300,
    )


def _run_example(version: str, tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    shutil.copytree(REPO_ROOT / "examples" / "dapr_workflows", tmp_path / "dapr_workflows",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return _run_tests(version, tmp_path, "dapr_workflows", *options)


def _outcome(result: subprocess.CompletedProcess[str]) -> str:
    ended = f"killed by signal {-result.returncode}" if result.returncode < 0 else f"exit code {result.returncode}"
    return f"{ended}\n{result.stdout[-5000:]}{result.stderr[-3000:]}"


@pytest.mark.parametrize("version", sorted(DAPR_VERSIONS))
def test_the_dapr_example_passes_on_the_fake(version: str, tmp_path: Path) -> None:
    result = _run_example(version, tmp_path)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b10 passed\b", result.stdout) and " skipped" not in result.stdout, result.stdout[-2000:]
    timer = re.search(r"24-hour timer: ([0-9.]+) ms wall time", result.stdout)
    assert timer is not None and float(timer.group(1)) < TIMER_BUDGET_MS, result.stdout[-2000:]


@pytest.mark.parametrize("version", sorted(DAPR_VERSIONS))
def test_the_dapr_example_passes_on_a_real_daprd(version: str, real_dapr: str, tmp_path: Path) -> None:
    """On dapr 1.18 this crashed about one run in four (SIGSEGV at the teardown of the test that ends with its
    workflow still running) until the plugin's runtime waited for its calls before shutting down."""
    result = _run_example(version, tmp_path, "--durabletask-sidecar", real_dapr, "--durabletask-control", "none")
    assert result.returncode == 0, _outcome(result)
    assert re.search(r"\b5 passed, 5 skipped\b", result.stdout), result.stdout[-3000:]
    reasons = sorted(re.findall(r"needs the fake sidecar's (virtual clock|fault injection|state inspection)",
                                result.stdout))
    assert reasons == sorted(FAKE_ONLY), result.stdout[-3000:]


TEARDOWN_TESTS = """
import dapr.ext.workflow as wf
import pytest


def double(ctx, n):
    return 2 * n


def fan_out(ctx, count):
    results = yield wf.when_all([ctx.call_activity(double, input=n) for n in range(count)])
    return sum(results)


@pytest.mark.parametrize("attempt", range(30))
def test_the_test_ends_while_its_activities_run(dapr_workflow_runtime, dapr_workflow_client, attempt):
    dapr_workflow_runtime.start_with(workflows=[fan_out], activities=[double])
    instance_id = dapr_workflow_client.schedule_new_workflow(fan_out, input=50)
    assert dapr_workflow_client.wait_for_workflow_start(instance_id, timeout_in_seconds=30) is not None
"""


@pytest.mark.parametrize("version", sorted(DAPR_VERSIONS))
def test_a_runtime_shut_down_while_its_activities_run_does_not_crash(version: str, tmp_path: Path) -> None:
    """30 tests that end while 50 activities of their workflow run, each shutting its runtime down at teardown.

    Dapr 1.18's ``WorkflowRuntime.shutdown()`` closes its channel at once: an activity result sent at that moment
    crashed grpcio (SIGSEGV, within the first ten tests every time here, on the fake as on a real daprd) until the
    plugin's runtime let no call of the SDK start any more and waited for the calls on their way first.
    """
    (tmp_path / "test_teardown.py").write_text(TEARDOWN_TESTS)
    result = _run_tests(version, tmp_path, "test_teardown.py")
    assert result.returncode == 0, _outcome(result)
    assert re.search(r"\b30 passed\b", result.stdout), result.stdout[-3000:]
