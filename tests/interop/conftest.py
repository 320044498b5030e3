"""Fixtures for the interop tests: real peers started as processes on ephemeral loopback ports.

- ``go_sidecar`` / ``durabletask_go``: the durabletask-go reference sidecar (sqlite in the test's
  temporary directory), built by ``scripts/interop/install_durabletask_go.sh``.
- ``published_python``: the interpreter of the venv holding the published ``durabletask`` package,
  made by ``scripts/interop/make_published_venv.sh``.
- ``azuremanaged_python``: the interpreter of the venv holding the published ``durabletask-azuremanaged``
  package (Durable Task Scheduler client and worker), made by ``scripts/azuremanaged_venv.py``.
- ``fake_cli_sidecar``: our fake started through its command line with the real clock.
- ``real_dapr``: a real Dapr workflow runtime (placement, scheduler, daprd) on loopback, built by
  ``scripts/interop/install_dapr.sh`` (``real_dapr.py``).

A missing prerequisite skips the test with the command that installs it; when ``CI=true`` it fails
instead, so CI can never go green by skipping the interop suite.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .real_dapr import dapr_bin_dir, missing_binaries, start_real_dapr
from .sidecars import (
    REPO_ROOT,
    SidecarProcess,
    go_binary_path,
    published_python_path,
    start_durabletask_go,
    start_fake_cli,
)

pytestmark = pytest.mark.interop


def in_ci() -> bool:
    """True when running under CI (``CI=true``), where missing prerequisites are failures."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(available: bool, reason: str) -> None:
    """Skip (or, under CI, fail) the current test when a prerequisite is not ``available``."""
    if available:
        return
    if in_ci():
        pytest.fail(f"interop prerequisite missing under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def durabletask_go_binary() -> Path:
    """Path of the durabletask-go executable (skip/fail when it is not installed)."""
    binary = go_binary_path()
    require(binary.is_file() and os.access(binary, os.X_OK),
            f"durabletask-go not found at {binary}; run: bash scripts/interop/install_durabletask_go.sh")
    return binary


@pytest.fixture
def go_sidecar(durabletask_go_binary: Path, tmp_path: Path) -> Iterator[SidecarProcess]:
    """A fresh durabletask-go process for this test; stopped afterwards."""
    sidecar = start_durabletask_go(tmp_path / "durabletask-go", durabletask_go_binary)
    try:
        yield sidecar
    finally:
        sidecar.stop()


@pytest.fixture
def durabletask_go(go_sidecar: SidecarProcess) -> str:
    """Address ("127.0.0.1:PORT") of a fresh durabletask-go sidecar."""
    return go_sidecar.address


@pytest.fixture(scope="session")
def published_python() -> Path:
    """The python of the venv with the published durabletask package (skip/fail when missing)."""
    python = published_python_path()
    require(python.is_file(),
            f"published-SDK venv not found at {python}; run: bash scripts/interop/make_published_venv.sh")
    return python


@pytest.fixture(scope="session")
def azuremanaged_python() -> Path:
    """The python of the venv with the published durabletask-azuremanaged package (skip/fail when missing)."""
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    from azuremanaged_venv import azuremanaged_python as expected

    python = expected()
    require(python.is_file(), f"durabletask-azuremanaged venv not found at {python}; run: "
                              "python scripts/azuremanaged_venv.py")
    return python


@pytest.fixture
def fake_cli_sidecar(tmp_path: Path) -> Iterator[SidecarProcess]:
    """Our fake sidecar started as ``python -m durabletask_testing serve --port 0 --clock real``."""
    require(importlib.util.find_spec("durabletask_testing.__main__") is not None,
            "the fake sidecar's command line (durabletask_testing/__main__.py) does not exist yet")
    sidecar = start_fake_cli(tmp_path / "fake")
    try:
        yield sidecar
    finally:
        sidecar.stop()


@pytest.fixture
def fake_cli_manual(tmp_path: Path) -> Iterator[SidecarProcess]:
    """Our fake started as ``python -m durabletask_testing serve --port 0 --clock manual``.

    Both lines it prints are read: ``address`` (the sidecar) and ``control_url`` (its control API), which the
    other languages' tests receive as DURABLETASK_SIDECAR_ADDRESS and DURABLETASK_CONTROL_URL.
    """
    require(importlib.util.find_spec("durabletask_testing.__main__") is not None,
            "the fake sidecar's command line (durabletask_testing/__main__.py) does not exist yet")
    sidecar = start_fake_cli(tmp_path / "fake", clock="manual")
    try:
        require(sidecar.control_url is not None, "the CLI fake printed no control API URL")
        yield sidecar
    finally:
        sidecar.stop()


@pytest.fixture
def real_dapr(tmp_path: Path) -> Iterator[str]:
    """Address ("127.0.0.1:PORT") of daprd's gRPC API, with its own placement and scheduler; all three are
    killed (process groups) afterwards."""
    bin_dir = dapr_bin_dir()
    missing = missing_binaries(bin_dir)
    require(not missing, f"dapr binaries {missing} not found in {bin_dir}; run: bash scripts/interop/install_dapr.sh")
    run = start_real_dapr(tmp_path / "dapr", bin_dir)
    try:
        yield run.address
    finally:
        run.stop()
