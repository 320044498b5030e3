"""Run one workload on one stack in that stack's own interpreter, as a subprocess, and parse its JSON result."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS_SCRIPT = ROOT / "benchmarks" / "workloads.py"
RUN_TIMEOUT_S = 1800.0


@dataclass
class RunOutcome:
    """One subprocess run: its parsed result, or the reason it produced none."""

    stack: str
    workload: str
    n: int
    result: dict[str, Any] | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None


def ours_python() -> Path:
    """The interpreter with this repository's SDK and fake installed (the project venv, else this one)."""
    venv_python = ROOT / ".venv" / "bin" / "python"
    return venv_python if venv_python.exists() else Path(sys.executable)


def published_python() -> Path:
    """The interpreter of the throwaway venv holding the published package (created on first use)."""
    spec = importlib.util.spec_from_file_location("published_venv", ROOT / "scripts" / "published_venv.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("scripts/published_venv.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.ensure_published_venv())


def _clean_env() -> dict[str, str]:
    """The environment for a workload process: no PYTHONPATH, so each venv imports only its own durabletask."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.setdefault("GRPC_VERBOSITY", "ERROR")
    return env


def run(python: Path, stack: str, workload: str, n: int, timeout: float = RUN_TIMEOUT_S) -> RunOutcome:
    """Run ``workloads.py`` for one (stack, workload, n) in ``python``; never raises for a failed run."""
    command = [str(python), str(WORKLOADS_SCRIPT), "--stack", stack, "--workload", workload, "--n", str(n)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_clean_env(), cwd=ROOT)
    except subprocess.TimeoutExpired:
        return RunOutcome(stack, workload, n, None, f"timed out after {timeout:.0f} s")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return RunOutcome(stack, workload, n, None, f"exit code {done.returncode}: {tail or 'no output'}")
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError:
        return RunOutcome(stack, workload, n, None, f"unparsable output: {lines[-1][:200]}")
    return RunOutcome(stack, workload, n, result)
