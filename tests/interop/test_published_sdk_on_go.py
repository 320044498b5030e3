"""The published durabletask SDK (PyPI) runs every catalogue scenario on durabletask-go.

This validates the scenario catalogue and its expectations against two pieces of software nobody here
wrote; a documented durabletask-go deviation (docs/fidelity.md) is expected as documented.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .harness_runner import HARNESS, run_harness
from .sidecars import SidecarProcess

pytestmark = pytest.mark.interop


def catalogue_names(python: Path) -> set[str]:
    """Scenario names as the harness lists them (without importing the catalogue into this process)."""
    listed = subprocess.run([str(python), str(HARNESS), "--host", "unused:0", "--list"], capture_output=True,
                            text=True, timeout=60, check=True)
    return set(listed.stdout.split())


def test_published_sdk_passes_every_scenario_on_durabletask_go(go_sidecar: SidecarProcess,
                                                               published_python: Path) -> None:
    run = run_harness(published_python, go_sidecar.address, go_db=go_sidecar.db_path)
    assert set(run.records) == catalogue_names(published_python), run.describe()
    assert not run.problems(), run.describe() + "\n\ndurabletask-go log:\n" + go_sidecar.log_tail()
    assert run.returncode == 0, run.describe()
