"""The JavaScript Durable Task SDK (``@microsoft/durabletask-js`` from npm) runs on our fake, started by its CLI.

``tests/interop/js/timer.test.js`` and ``fault.test.js`` are ``node --test`` suites that move the fake's manual
clock 24 hours and inject faults through its control API (``tests/interop/js/control.js``, plain ``fetch``); the
wrapper below runs them against a ``--clock manual`` CLI fake and checks each test passed.

``tests/interop/js/chaining.js`` connects the SDK's worker and client to the fake, runs a function-chaining
orchestration (three activity calls) and one that waits for an external event the client raises, and prints
one JSON line. This test checks that line and then reads the instances' histories back from the fake.
Prerequisites: Node.js on PATH and ``bash scripts/interop/install_js_sdk.sh``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from durabletask.internal import orchestrator_service_pb2 as pb

from . import other_sdks
from .conftest import require
from .history_sources import GrpcHistorySource
from .sidecars import SidecarProcess

pytestmark = pytest.mark.interop

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "chaining.js"
SDK_PACKAGE = JS_DIR / "node_modules" / "@microsoft" / "durabletask-js" / "package.json"
PINNED_VERSION = json.loads((JS_DIR / "package.json").read_text())["dependencies"]["@microsoft/durabletask-js"]
SCRIPT_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def node() -> str:
    """The node executable (override with DURABLETASK_NODE); skip/fail when it or the SDK is missing."""
    executable = os.environ.get("DURABLETASK_NODE") or shutil.which("node")
    require(executable is not None and Path(executable).is_file(),
            f"Node.js not found ({executable or 'no node on PATH'}); install Node.js >= 20")
    require(SDK_PACKAGE.is_file(),
            f"@microsoft/durabletask-js not installed in {JS_DIR}; run: bash scripts/interop/install_js_sdk.sh")
    installed = json.loads(SDK_PACKAGE.read_text())["version"]
    require(installed == PINNED_VERSION,
            f"@microsoft/durabletask-js {installed} installed, {PINNED_VERSION} pinned; "
            "run: bash scripts/interop/install_js_sdk.sh")
    assert executable is not None
    return executable


def run_js(node: str, address: str) -> dict[str, Any]:
    """Run chaining.js against ``address`` and return its JSON line (fail with its output otherwise)."""
    try:
        done = subprocess.run([node, str(SCRIPT), address, str(SCRIPT_TIMEOUT_S)], cwd=JS_DIR,
                              capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S + 10)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"chaining.js did not exit (its worker kept the process alive?):\n{exc.stdout}\n{exc.stderr}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line from chaining.js (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert done.returncode == 0, f"chaining.js exited {done.returncode}: {result}\n{done.stderr}"
    return result


def event_kinds(events: list[pb.HistoryEvent]) -> Counter[str]:
    """How many history events of each kind (``taskScheduled``, ``eventRaised``, ...)."""
    return Counter(event.WhichOneof("eventType") for event in events)


def started_names(events: list[pb.HistoryEvent]) -> list[str]:
    """The orchestrator names of the history's ``executionStarted`` events."""
    return [e.executionStarted.name for e in events if e.HasField("executionStarted")]


def test_js_sdk_runs_chaining_and_external_event_on_the_fake(fake_cli_sidecar: SidecarProcess, node: str) -> None:
    result = run_js(node, fake_cli_sidecar.address)
    diagnostics = f"{result}\n\nfake sidecar log:\n{fake_cli_sidecar.log_tail()}"

    chaining, event = result["chaining"], result["event"]
    assert chaining["status"] == "COMPLETED", diagnostics
    assert chaining["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"], diagnostics
    assert event["status"] == "COMPLETED", diagnostics
    assert event["output"] == "approved by Ada", diagnostics

    history = GrpcHistorySource(fake_cli_sidecar.address)
    try:
        chaining_history = history(chaining["instance_id"])
        event_history = history(event["instance_id"])
    finally:
        history.close()

    chaining_kinds = event_kinds(chaining_history)
    assert chaining_kinds["taskScheduled"] == 3 and chaining_kinds["taskCompleted"] == 3, chaining_kinds
    assert [e.taskScheduled.name for e in chaining_history if e.HasField("taskScheduled")] == ["say_hello"] * 3
    assert [json.loads(e.taskScheduled.input.value) for e in chaining_history if e.HasField("taskScheduled")] == [
        "Tokyo", "Seattle", "London"]
    assert started_names(chaining_history) == ["sequence"]
    completed = [e.executionCompleted for e in chaining_history if e.HasField("executionCompleted")]
    assert [c.orchestrationStatus for c in completed] == [pb.ORCHESTRATION_STATUS_COMPLETED]

    raised = [e.eventRaised for e in event_history if e.HasField("eventRaised")]
    assert [(r.name, json.loads(r.input.value)) for r in raised] == [("approved", "Ada")]
    assert started_names(event_history) == ["approval"]
    assert event_kinds(event_history)["executionCompleted"] == 1


NODE_TESTS = ["timer.test.js", "fault.test.js"]
TIMER_TEST = "the 24-hour timeout fires when the clock moves 24 hours"
NODE_TEST_NAMES = [
    TIMER_TEST,
    "an injected activity failure is retried by the SDK's retry policy",
    "a lost activity result makes the fake dispatch the activity again",
]


def test_js_sdk_time_travel_and_faults_through_the_control_api(fake_cli_manual: SidecarProcess, node: str) -> None:
    # One file at a time: each test resets the one fake they share.
    argv = [node, "--test", "--test-concurrency=1", "--test-reporter=tap", *NODE_TESTS]
    run = other_sdks.run(argv, JS_DIR, other_sdks.sidecar_env(fake_cli_manual), timeout=60,
                         parse=other_sdks.parse_tap)
    other_sdks.check(run, NODE_TEST_NAMES, TIMER_TEST, fake_cli_manual)
