"""Create (once) a throwaway virtual environment holding the published ``durabletask-azuremanaged`` package.

``durabletask-azuremanaged`` is the Durable Task Scheduler's flavour of the published SDK: its
``DurableTaskSchedulerClient`` and ``DurableTaskSchedulerWorker`` are the published ``durabletask`` client and
worker (the pinned version pulls in the same ``durabletask`` release) plus the scheduler's gRPC headers and
credentials. Like the published-SDK venv (``scripts/published_venv.py``, whose helpers this reuses), it can never
share an interpreter with our SDK, so the testkit goes on PYTHONPATH (``import_root_of_testkit()``); the venv
carries pytest and the test tools, so the plugin's Durable Task Scheduler tests run there.

Usage: python scripts/azuremanaged_venv.py   # prints the venv's python executable
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from published_venv import INTEROP, TEST_TOOLS, ensure_venv, python_path  # noqa: E402

AZUREMANAGED_VERSION = "1.12.0"
VENV_DIR = INTEROP / "azuremanaged-venv"
LAYOUT_VERSION = "1"  # bump when the venv's contents change, so existing venvs are rebuilt


def ensure_azuremanaged_venv(version: str = AZUREMANAGED_VERSION, venv: Path = VENV_DIR) -> Path:
    """Create the venv with durabletask-azuremanaged==version if it is missing; return its python."""
    return ensure_venv(venv, [f"durabletask-azuremanaged=={version}", *TEST_TOOLS],
                       layout=f"azuremanaged-{version}-layout-{LAYOUT_VERSION}")


def azuremanaged_python(venv: Path = VENV_DIR) -> Path:
    """The interpreter inside the venv (it may not exist yet: see :func:`ensure_azuremanaged_venv`)."""
    return python_path(venv)


if __name__ == "__main__":
    print(ensure_azuremanaged_venv())
