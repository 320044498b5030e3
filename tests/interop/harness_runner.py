"""Run ``published_sdk_scenarios.py`` in the published-SDK venv and parse its JSON lines."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HARNESS = Path(__file__).resolve().parent / "published_sdk_scenarios.py"


@dataclass
class HarnessRun:
    """The harness's exit code, per-scenario records (by name) and raw output."""

    returncode: int
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""

    def problems(self) -> dict[str, list[str]]:
        """Scenario name -> problems, for the scenarios that did not meet their expectation."""
        return {name: rec["problems"] for name, rec in self.records.items() if rec.get("problems")}

    def describe(self) -> str:
        """A readable report of failures (for assertion messages)."""
        lines = [f"harness exit code {self.returncode}"]
        for name, problems in self.problems().items():
            lines.append(f"- {name}: {'; '.join(problems)}")
            error = self.records[name].get("error")
            if error:
                lines.append("    " + "\n    ".join(error.strip().splitlines()[-6:]))
        if not self.records:
            lines.append("no scenario records; stderr tail:\n" + "\n".join(self.stderr.splitlines()[-30:]))
        return "\n".join(lines)


def run_harness(python: Path, address: str, *, go_db: Path | None = None, peer: str | None = None,
                only: list[str] | None = None, timeout: float = 90.0) -> HarnessRun:
    """Run the harness with ``python`` against the sidecar at ``address``; wait at most ``timeout`` s."""
    argv = [str(python), str(HARNESS), "--host", address]
    if go_db is not None:
        argv += ["--go-db", str(go_db)]
    if peer is not None:
        argv += ["--peer", peer]
    if only:
        argv += ["--only", ",".join(only)]
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    run = HarnessRun(returncode=completed.returncode, stdout=completed.stdout, stderr=completed.stderr)
    for line in completed.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            run.records[record["scenario"]] = record
    return run
