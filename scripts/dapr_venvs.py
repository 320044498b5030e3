"""Create (once) throwaway virtual environments with Dapr Workflow's Python SDK, one per supported version.

- ``dapr-1.18``: dapr 1.18.3 with dapr-ext-workflow 1.18.3 (the workflow SDK as an extension package);
- ``dapr-1.19``: dapr 1.19.0 (the workflow SDK inside ``dapr`` itself).

Neither depends on the published ``durabletask`` package (Dapr vendors its own copy as
``dapr.ext.workflow._durabletask``), but our SDK's import name is ``durabletask`` too, so the Dapr tests run in
these venvs with only the testkit on PYTHONPATH (``published_venv.import_root_of_testkit()``). Each venv also
carries pytest and the test tools.

Usage: python scripts/dapr_venvs.py   # prints each venv's python executable
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from published_venv import TEST_TOOLS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INTEROP = ROOT / ".interop"
LAYOUT_VERSION = "1"  # bump when a venv's contents change, so existing venvs are rebuilt

# name -> the Dapr packages it pins
DAPR_VERSIONS: dict[str, tuple[str, ...]] = {
    "dapr-1.18": ("dapr==1.18.3", "dapr-ext-workflow==1.18.3"),
    "dapr-1.19": ("dapr==1.19.0",),
}


def venv_dir(name: str) -> Path:
    """Where the venv named ``name`` (a key of :data:`DAPR_VERSIONS`) lives."""
    return INTEROP / f"{name}-venv"


def python_path(name: str) -> Path:
    """The interpreter of the venv named ``name``."""
    return venv_dir(name) / "bin" / "python"


def ensure_dapr_venv(name: str) -> Path:
    """Create the venv ``name`` if it is missing; return its python. Safe from several processes at once."""
    packages = DAPR_VERSIONS[name]
    venv = venv_dir(name)
    INTEROP.mkdir(parents=True, exist_ok=True)
    marker = venv / f".layout-{LAYOUT_VERSION}-{'-'.join(packages)}"
    with open(INTEROP / f".{name}-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(python_path(name)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, *packages, *TEST_TOOLS], check=True, env={**os.environ, "PIP_NO_INPUT": "1"})
            marker.touch()
    return python_path(name)


if __name__ == "__main__":
    for version in DAPR_VERSIONS:
        print(ensure_dapr_venv(version))
