"""Create (once) a throwaway virtual environment holding the published `durabletask` package.

The published package's import name equals our SDK's, so it can never share an interpreter with our SDK. The
testkit (fake sidecar + pytest plugin) can: ``import_root_of_testkit()`` is a folder holding only the testkit's packages
(links into this repository), to put on PYTHONPATH in that venv. The venv also carries pytest and the test tools,
so the plugin's own test suite runs there with the published SDK. Protocol checks, interop tests and
benchmarks use it.

Usage: python scripts/published_venv.py   # prints the venv's python executable
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INTEROP = ROOT / ".interop"
PUBLISHED_VERSION = "1.12.0"
VENV_DIR = INTEROP / "published-venv"
TESTKIT_DIR = INTEROP / "testkit-path"
# What the testkit needs beside the SDK (its own dependencies) and what the plugin's test suite runs with.
TEST_TOOLS = ("pytest>=8", "freezegun>=1.5", "pytest-xdist>=3.5", "pytest-timeout>=2.3")
LAYOUT_VERSION = "2"  # bump when the venv's contents change, so existing venvs are rebuilt


def python_path(venv: Path = VENV_DIR) -> Path:
    """The interpreter inside the published-package venv."""
    return venv / "bin" / "python"


def ensure_published_venv(version: str = PUBLISHED_VERSION, venv: Path = VENV_DIR) -> Path:
    """Create the venv with durabletask==version if it is missing; return its python."""
    return ensure_venv(venv, [f"durabletask=={version}", *TEST_TOOLS],
                       layout=f"durabletask-{version}-layout-{LAYOUT_VERSION}")


def ensure_venv(venv: Path, packages: list[str], *, layout: str) -> Path:
    """Create ``venv`` with ``packages`` unless its marker ``layout`` is there; return its python.

    The one home of the throwaway venvs' creation (this file's, ``azuremanaged_venv.py``'s). Safe to call from
    several processes at once (pytest-xdist): creation is serialized by a file lock beside the venv.
    """
    venv.parent.mkdir(parents=True, exist_ok=True)
    marker = venv / f".{layout}"
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(python_path(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, *packages], check=True, env={**os.environ, "PIP_NO_INPUT": "1"})
            marker.touch()
    return python_path(venv)


def import_root_of_testkit(folder: Path = TESTKIT_DIR) -> Path:
    """A folder with links to the testkit's packages only (``durabletask_testing``, ``durabletask_pytest``).

    On PYTHONPATH it makes the repository's testkit importable in another venv without exposing our SDK's
    ``durabletask`` package. With ``PYTEST_PLUGINS=durabletask_pytest.plugin`` pytest loads the plugin too.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in (("durabletask_testing", "durabletask_testing"), ("durabletask_pytest", "pytest_plugin")):
        link = folder / name
        if not link.is_symlink():
            try:
                link.symlink_to(ROOT / source, target_is_directory=True)
            except FileExistsError:  # made meanwhile by another process (pytest-xdist)
                pass
    return folder


if __name__ == "__main__":
    print(ensure_published_venv())
