"""Create (once) a throwaway virtual environment holding the published `durabletask` package.

The published package's import name equals ours, so it can never share an interpreter with this
repository's code. Protocol checks, interop tests and benchmarks run it in this separate venv.

Usage: python scripts/published_venv.py   # prints the venv's python executable
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED_VERSION = "1.12.0"
VENV_DIR = ROOT / ".interop" / "published-venv"


def python_path(venv: Path = VENV_DIR) -> Path:
    """The interpreter inside the published-package venv."""
    return venv / "bin" / "python"


def ensure_published_venv(version: str = PUBLISHED_VERSION, venv: Path = VENV_DIR) -> Path:
    """Create the venv with durabletask==version if it is missing; return its python.

    Safe to call from several processes at once (pytest-xdist): creation is serialized by a file lock.
    """
    venv.parent.mkdir(parents=True, exist_ok=True)
    marker = venv / f".durabletask-{version}"
    with open(venv.parent / ".published-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(python_path(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, f"durabletask=={version}"], check=True, env={**os.environ, "PIP_NO_INPUT": "1"})
            marker.touch()
    return python_path(venv)


if __name__ == "__main__":
    print(ensure_published_venv())
