"""The testkit installs beside the published durabletask SDK: same process, no clash, every plugin feature.

Both tests run in the published-SDK venv (``scripts/published_venv.py``) with only the testkit's packages
on PYTHONPATH (``import_root_of_testkit()``), never our SDK's ``durabletask``. The wheel check
(``make wheel-test``) repeats the plugin suite with the testkit installed from its wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .sidecars import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
from published_venv import import_root_of_testkit  # noqa: E402

pytestmark = pytest.mark.interop

ONE_PROCESS = Path(__file__).resolve().parent / "published_in_process" / "one_process.py"
OUR_BINDINGS = REPO_ROOT / "durabletask" / "internal" / "orchestrator_service_pb2.py"


def _testkit_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(import_root_of_testkit()), "PYTEST_PLUGINS": "durabletask_pytest.plugin"}


def test_published_sdk_our_bindings_and_the_fake_share_one_process(published_python: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(published_python), str(ONE_PROCESS), str(OUR_BINDINGS)],
        cwd=tmp_path, env=_testkit_env(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert "published-venv" in seen["sdk_module"], seen  # the published SDK, not ours
    assert seen["our_bindings_message"] == "OrchestrationInstance"
    assert seen["fake_message"] == "durabletask_testing.protocol.HistoryEvent"
    assert (seen["status"], seen["output"]) == ("COMPLETED", '"charged 5"'), seen
    assert seen["faults"] == ["fail_activity"]
    assert 24 <= seen["virtual_hours"] < 24.01  # a 24-hour timer, moved by the manual clock


def test_the_plugin_suite_passes_with_the_published_sdk(published_python: Path, tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "tests" / "plugin", tmp_path / "plugin", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [str(published_python), "-m", "pytest", "-p", "pytester", "-p", "no:cacheprovider", "-q", "-n", "2",
         "--timeout", "120", "plugin"],
        cwd=tmp_path, env=_testkit_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " skipped" not in result.stdout, result.stdout[-2000:]


def _doc_blocks_under(page: Path, headings: tuple[str, ...]) -> list[str]:
    """The python blocks of ``page`` in the sections with these headings."""
    blocks: list[str] = []
    section, inside, lines = "", False, []
    for line in page.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif line.strip() == "```python" and section in headings:
            inside, lines = True, []
        elif line.strip() == "```" and inside:
            inside = False
            blocks.append("\n".join(lines) + "\n")
        elif inside:
            lines.append(line)
    return blocks


def test_the_testing_docs_both_sdk_examples_pass_with_the_published_sdk(published_python: Path,
                                                                        tmp_path: Path) -> None:
    blocks = _doc_blocks_under(REPO_ROOT / "docs" / "testing.md", ("Which SDK", "Test doubles"))
    assert len(blocks) == 2
    for number, block in enumerate(blocks):
        (tmp_path / f"test_doc_block_{number}.py").write_text(block)
    result = subprocess.run(
        [str(published_python), "-m", "pytest", "-p", "no:cacheprovider", "-q", "--timeout", "60"],
        cwd=tmp_path, env=_testkit_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout, result.stdout[-2000:]
