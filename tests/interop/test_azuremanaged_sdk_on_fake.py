"""Durable Task Scheduler users: the published ``durabletask-azuremanaged`` 1.12.0 client and worker, handed out by
the plugin's fixtures with a task hub configured, on the fake (in process, and a CLI fake serving that hub).

The scenarios (``azuremanaged/check_*.py``) and the test file of docs/testing.md's "Durable Task Scheduler apps"
section run in the package's throwaway venv (``scripts/azuremanaged_venv.py``)
with only the testkit on PYTHONPATH, copied outside the repository so that our SDK's ``durabletask`` is never
found. The hub comes from the ini option (``-o durabletask_taskhub=orders``), as a user's pytest.ini gives it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .sidecars import REPO_ROOT, start_fake_cli

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from published_venv import import_root_of_testkit  # noqa: E402

pytestmark = pytest.mark.interop

SCENARIOS = Path(__file__).with_name("azuremanaged")
HUB = "orders"


def _run(python: Path, where: Path, *options: str) -> subprocess.CompletedProcess[str]:
    for scenario in SCENARIOS.glob("check_*.py"):
        shutil.copyfile(scenario, where / scenario.name)
    env = {**os.environ, "PYTHONPATH": str(import_root_of_testkit()), "PYTEST_PLUGINS": "durabletask_pytest.plugin"}
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "python_files=check_*.py",
         "-o", f"durabletask_taskhub={HUB}", "--timeout", "60", *options, "."],
        cwd=where, env=env, capture_output=True, text=True, timeout=300,
    )


def test_the_schedulers_client_and_worker_run_through_the_fixtures_on_the_fake(azuremanaged_python: Path,
                                                                               tmp_path: Path) -> None:
    result = _run(azuremanaged_python, tmp_path)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b9 passed\b", result.stdout) and "skipped" not in result.stdout, result.stdout[-2000:]


def test_the_same_tests_run_on_a_cli_fake_serving_the_hub(azuremanaged_python: Path, tmp_path: Path) -> None:
    """``--durabletask-sidecar`` with the CLI fake's control API: the scheduler's classes reach it over its port,
    the virtual clock through its control API; the hub is checked by the CLI fake (``serve --task-hub``)."""
    sidecar = start_fake_cli(tmp_path / "fake", clock="manual", extra=["--task-hub", HUB])
    try:
        assert sidecar.control_url is not None
        result = _run(azuremanaged_python, tmp_path, "--durabletask-sidecar", sidecar.address,
                      "-k", "fans_out or stubbed or week_long or entity or another_hub")
    finally:
        sidecar.stop()
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b5 passed\b", result.stdout) and "skipped" not in result.stdout, result.stdout[-2000:]


def _doc_blocks_under(page: Path, heading: str) -> list[str]:
    """The python blocks of ``page`` in the section with this heading."""
    blocks: list[str] = []
    section, inside, lines = "", False, []
    for line in page.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif line.strip() == "```python" and section == heading:
            inside, lines = True, []
        elif line.strip() == "```" and inside:
            inside = False
            blocks.append("\n".join(lines) + "\n")
        elif inside:
            lines.append(line)
    return blocks


def test_the_docs_scheduler_example_passes_with_the_schedulers_classes(azuremanaged_python: Path,
                                                                       tmp_path: Path) -> None:
    blocks = _doc_blocks_under(REPO_ROOT / "docs" / "testing.md", "Durable Task Scheduler apps")
    assert len(blocks) == 1
    (tmp_path / "check_doc_block.py").write_text(
        blocks[0] + "\n\ndef test_the_fixtures_were_the_schedulers(durable_worker):\n"
        "    from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker\n\n"
        "    assert isinstance(durable_worker, DurableTaskSchedulerWorker)\n")
    env = {**os.environ, "PYTHONPATH": str(import_root_of_testkit()), "PYTEST_PLUGINS": "durabletask_pytest.plugin"}
    result = subprocess.run(
        [str(azuremanaged_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "python_files=check_*.py",
         "-o", f"durabletask_taskhub={HUB}", "--timeout", "60", "."],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert re.search(r"\b2 passed\b", result.stdout), result.stdout[-2000:]
