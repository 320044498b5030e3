"""The examples' own test files, unchanged, against durabletask-go via ``--durabletask-sidecar``.

Tests that need the virtual clock, fault injection or the fake's state inspection skip themselves
(the plugin does that); everything else must pass on the real sidecar. They run serially: several
workers on one durabletask-go would compete for each other's work items.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .sidecars import REPO_ROOT, SidecarProcess

pytestmark = pytest.mark.interop


def test_examples_pass_on_durabletask_go_with_fake_only_tests_skipped(go_sidecar: SidecarProcess) -> None:
    argv = [sys.executable, "-m", "pytest", "examples", f"--durabletask-sidecar={go_sidecar.address}",
            "-p", "no:xdist", "-p", "no:cacheprovider", "-q", "-rs", "--tb=short"]
    completed = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
                               stdin=subprocess.DEVNULL)
    summary = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else completed.stderr
    assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-2000:]
    assert re.search(r"\d+ passed", summary), summary
    assert re.search(r"\d+ skipped", summary), f"clock/fault tests were expected to skip: {summary}"
