"""Issue 27's sub-orchestration id, recursive purge/terminate and suspend-of-ended classes with the published SDK
1.12.0 (``published_id_and_purge_scenarios.py``, run in its venv) against durabletask-go v0.6.0 and against the
fake's command line: the observations must be equal but for the deliberate differences of docs/fidelity.md,
which are asserted to be exactly those.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .sidecars import SidecarProcess

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

SCRIPT = Path(__file__).resolve().parent / "published_id_and_purge_scenarios.py"

_HUNG_RUNNING = {"hung": True, "status": "RUNNING"}
_FAILED_NAMING_GO = {"hung": False, "status": "FAILED", "output": None, "failure_mentions_go": True}
_PURGE_REFUSED_BY_FAKE = (
    "cannot purge instance 'purge-root' recursively: its sub-orchestration 'waiting-child' (child of 'purge-root') "
    "has not ended (status RUNNING), so nothing was purged. Terminate it first (a recursive terminate of "
    "'purge-root' reaches it), or purge with recursive=False to keep it."
)

#: scenario -> observation -> (on durabletask-go, on the fake); docs/fidelity.md, "Deliberate differences".
DELIBERATE: dict[str, dict[str, tuple[Any, Any]]] = {
    # durabletask-go retries the parent's work item forever; the fake fails the sub-orchestration task at once.
    "reused_generated_id_after_continue_as_new": {"parent": (_HUNG_RUNNING, _FAILED_NAMING_GO)},
    "retried_child_reusing_its_grandchild_id": {
        "parent": (_HUNG_RUNNING, _FAILED_NAMING_GO),
        "child_status": ("PENDING", "FAILED"),  # the retried child's first work item never commits on Go
    },
    "child_id_held_by_a_running_instance": {
        "parent": ({"hung": True, "status": "PENDING"},
                   {"hung": False, "status": "COMPLETED", "output": '["failed", "SubOrchestrationIdInUseError"]',
                    "failure_mentions_go": False}),
    },
    # Both refuse and keep everything; the status and message differ.
    "recursive_purge_with_a_running_child": {
        "refused": ({"code": "UNKNOWN", "details": "failed to purge orchestration state: failed to purge "
                                                   "sub-orchestration: orchestration has not yet completed"},
                    {"code": "FAILED_PRECONDITION", "details": _PURGE_REFUSED_BY_FAKE}),
    },
}

SCENARIOS = (
    "child_id_held_by_a_failed_instance",
    "reused_generated_id_after_continue_as_new",
    "retried_child_reusing_its_grandchild_id",
    "child_id_held_by_a_running_instance",
    "recursive_purge_after_continue_as_new",
    "recursive_purge_with_a_running_child",
    "suspend_and_resume_of_a_completed_instance",
)


def _observe(python: Path, address: str) -> dict[str, dict[str, Any]]:
    done = subprocess.run([str(python), str(SCRIPT), "--host", address], capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL)
    records = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            records[record.pop("scenario")] = record
    assert done.returncode == 0 and set(records) == set(SCENARIOS), (
        f"exit code {done.returncode}, scenarios {sorted(records)}; stderr tail:\n"
        + "\n".join(done.stderr.splitlines()[-30:]))
    return records


def _differences(go: dict[str, dict[str, Any]], fake: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for scenario in SCENARIOS:
        allowed = DELIBERATE.get(scenario, {})
        for key in sorted(set(go[scenario]) | set(fake[scenario])):
            got = (go[scenario].get(key), fake[scenario].get(key))
            if key in allowed:
                if got != allowed[key]:
                    problems.append(f"{scenario}.{key}: documented difference {allowed[key]!r} no longer holds: "
                                    f"durabletask-go={got[0]!r} fake={got[1]!r}")
            elif got[0] != got[1]:
                problems.append(f"{scenario}.{key}: durabletask-go={got[0]!r} fake={got[1]!r}")
    return problems


def test_the_published_sdk_sees_the_id_and_purge_classes_as_documented(
        go_sidecar: SidecarProcess, fake_cli_sidecar: SidecarProcess, published_python: Path) -> None:
    on_go = _observe(published_python, go_sidecar.address)
    on_fake = _observe(published_python, fake_cli_sidecar.address)
    problems = _differences(on_go, on_fake)
    assert not problems, "\n".join(problems)
    # why the parents hang on durabletask-go: their work items fail and are retried
    assert go_sidecar.log_path.read_text(errors="replace").count("orchestration instance already exists") >= 3
