"""Which interpreter runs which SDK, and running a benchmark's measuring half there (issue 26 benchmarks).

Our SDK and the published ``durabletask`` 1.12.0 share one import name, so every figure is measured in a child
process of the right interpreter: the project's ``.venv`` for our SDK, ``.interop/published-venv`` for the
published one, with only the testkit (``durabletask_testing``, ``durabletask_pytest``) added to its path
(``scripts/published_venv.py``). Children print one JSON line; parents read it. Only public entry points are
used: ``durabletask_testing.FakeSidecar``, the pytest plugin through pytest, the SDKs' public classes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("published", "ours")
CHILD_TIMEOUT_S = 1800.0


def sdk_in_use() -> str:
    """``published`` or ``ours``: which ``durabletask`` this interpreter imports."""
    import durabletask

    return "published" if "site-packages" in str(getattr(durabletask, "__file__", "")) else "ours"


def _published_venv_module() -> Any:
    spec = importlib.util.spec_from_file_location("published_venv", ROOT / "scripts" / "published_venv.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("scripts/published_venv.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interpreter(sdk: str, *, plugin: bool = True) -> tuple[Path, dict[str, str]]:
    """The python and environment that run ``sdk`` with the testkit importable.

    ``plugin=False`` (published SDK only) leaves the testkit out entirely: the user's setting without our plugin.
    """
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTEST_PLUGINS")}
    env.setdefault("GRPC_VERBOSITY", "ERROR")
    env["PYTHONUNBUFFERED"] = "1"  # so a parent reading the output sees each line when it is written
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if sdk == "ours":
        python = ROOT / ".venv" / "bin" / "python"
        return (python if python.exists() else Path(sys.executable)), env
    if sdk != "published":
        raise ValueError(f"unknown SDK {sdk!r}; expected one of {', '.join(SDKS)}")
    module = _published_venv_module()
    python = Path(module.ensure_published_venv())
    if plugin:
        env["PYTHONPATH"] = str(module.import_root_of_testkit())
        env["PYTEST_PLUGINS"] = "durabletask_pytest.plugin"
    return python, env


def run_child(sdk: str, script: Path, arguments: list[str], cwd: Path | None = None) -> dict[str, Any]:
    """Run ``script --child ARGS`` under ``sdk``'s interpreter; return the JSON object of its last output line."""
    python, env = interpreter(sdk)
    done = subprocess.run([str(python), str(script), "--child", *arguments], capture_output=True, text=True,
                          env=env, cwd=cwd or Path("/tmp"), timeout=CHILD_TIMEOUT_S)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"{script.name} under the {sdk} SDK failed (exit {done.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    if result.get("sdk") != sdk:
        raise RuntimeError(f"{script.name}: asked for the {sdk} SDK, the child imported {result.get('sdk')!r}")
    return result


def ms(seconds: float) -> str:
    """Seconds as milliseconds for a report line."""
    return f"{seconds * 1000:.1f} ms"


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def verdict(value: float, limit: float) -> str:
    return "PASS" if value <= limit else "FAIL"
