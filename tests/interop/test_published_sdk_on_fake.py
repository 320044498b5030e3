"""The published durabletask SDK (PyPI) runs every catalogue scenario on our fake, started by its CLI.

This proves the fake serves an SDK we did not write, through the same command line other languages use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness_runner import run_harness
from .sidecars import SidecarProcess
from .test_published_sdk_on_go import catalogue_names

pytestmark = pytest.mark.interop


def test_published_sdk_passes_every_scenario_on_the_fake(fake_cli_sidecar: SidecarProcess,
                                                         published_python: Path) -> None:
    run = run_harness(published_python, fake_cli_sidecar.address, peer="fake")
    assert set(run.records) == catalogue_names(published_python), run.describe()
    assert not run.problems(), run.describe() + "\n\nfake sidecar log:\n" + fake_cli_sidecar.log_tail()
    assert run.returncode == 0, run.describe()
