"""Create (once) throwaway virtual environments holding the Azure Durable Functions Python SDK.

The Durable Functions bridge (``durabletask_testing.functions``) runs an app's functions through the SDK's own
replay, so its tests need ``azure-functions-durable`` and ``azure-functions``, which the project's own venv does not
carry. One venv per supported SDK version (the newest tested and the oldest supported), each with pytest and the
test tools; the testkit goes on PYTHONPATH (``published_venv.import_root_of_testkit()``), as for the published
``durabletask`` venv.

Usage: python scripts/functions_venv.py [VERSION ...]   # prints each venv's python executable
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The SDK versions the bridge is tested with: the newest, and the oldest it supports (the first with DFApp, the v2
# programming model; 1.1.x has none).
VERSIONS = ("1.7.0", "1.2.0")
TEST_TOOLS = ("pytest>=8", "freezegun>=1.5", "pytest-xdist>=3.5", "pytest-timeout>=2.3", "pytest-asyncio>=0.23",
              "grpcio>=1.85.1", "protobuf>=7.35.0")
LAYOUT_VERSION = "1"  # bump when a venv's contents change, so existing venvs are rebuilt


def venv_dir(version: str) -> Path:
    return ROOT / ".interop" / f"functions-venv-{version}"


def python_path(version: str) -> Path:
    return venv_dir(version) / "bin" / "python"


def ensure_functions_venv(version: str) -> Path:
    """Create the venv with azure-functions-durable==version if it is missing; return its python.

    Safe to call from several processes at once (pytest-xdist): creation is serialized by a file lock.
    """
    venv = venv_dir(version)
    venv.parent.mkdir(parents=True, exist_ok=True)
    marker = venv / f".azure-functions-durable-{version}-layout-{LAYOUT_VERSION}"
    with open(venv.parent / f".functions-venv-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(python_path(version)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            packages = [f"azure-functions-durable=={version}", "azure-functions", *TEST_TOOLS]
            subprocess.run([*pip, *packages], check=True, env={**os.environ, "PIP_NO_INPUT": "1"})
            marker.touch()
    return python_path(version)


if __name__ == "__main__":
    for requested in sys.argv[1:] or VERSIONS:
        print(ensure_functions_venv(requested))
