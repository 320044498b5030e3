"""Issue 27, first fidelity classes of the engine, run as differential tests: the same scenario with our SDK's
worker and client over real gRPC, against the fake and against durabletask-go v0.6.0 (the reference, skipped
when its binary is not built: ``bash scripts/interop/install_durabletask_go.sh``).

- A terminated sub-orchestration: the parent gets SubOrchestrationInstanceFailed with no failure details.
- ``set_custom_status(None)`` after a value (the SDK then sends no custom status) keeps the previous value.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from durabletask import client, task, worker
from durabletask_testing import FakeSidecar

pytestmark = pytest.mark.timeout(60)

WAIT = 15.0


def _go_address(workdir: Path) -> Iterator[str]:
    try:
        from tests.interop.sidecars import go_binary_path, start_durabletask_go
    except ImportError:  # pragma: no cover - run from the repository root, as the Makefile does
        pytest.skip("tests.interop is not importable from here")
    binary = go_binary_path()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.skip(f"durabletask-go not found at {binary}; run: bash scripts/interop/install_durabletask_go.sh")
    sidecar = start_durabletask_go(workdir, binary)
    try:
        yield sidecar.address
    finally:
        sidecar.stop()


@pytest.fixture(params=["fake", "durabletask-go"])
def address(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "fake":
        with FakeSidecar(clock="real") as fake:
            yield fake.address
    else:
        yield from _go_address(tmp_path)


activity_ran = threading.Event()


def note(ctx: task.ActivityContext, _: Any) -> None:
    activity_ran.set()


def child(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    yield ctx.call_activity(note)  # tells the test the child runs
    yield ctx.wait_for_external_event("never")


def parent(ctx: task.OrchestrationContext, child_id: str):  # type: ignore[no-untyped-def]
    try:
        yield ctx.call_sub_orchestrator(child, instance_id=child_id)
    except task.TaskFailedError as error:
        return [error.details.error_type, error.details.message]
    return "not failed"


def status_then_none(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    ctx.set_custom_status("first")
    yield ctx.wait_for_external_event("next")
    ctx.set_custom_status(None)
    yield ctx.call_activity(note)
    yield ctx.wait_for_external_event("end")
    return "done"


@pytest.fixture
def sdk(address: str) -> Iterator[client.TaskHubGrpcClient]:
    activity_ran.clear()
    w = worker.TaskHubGrpcWorker(host_address=address)
    for orchestrator in (child, parent, status_then_none):
        w.add_orchestrator(orchestrator)
    w.add_activity(note)
    w.start()
    c = client.TaskHubGrpcClient(host_address=address)
    try:
        yield c
    finally:
        c.close()
        w.stop()


def test_a_terminated_sub_orchestration_fails_its_parent_without_failure_details(
    sdk: client.TaskHubGrpcClient,
) -> None:
    parent_id = sdk.schedule_new_orchestration(parent, input="the-child")
    assert activity_ran.wait(WAIT)
    sdk.terminate_orchestration("the-child")
    state = sdk.wait_for_orchestration_completion(parent_id, timeout=WAIT)
    assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED, state
    assert state.serialized_output == '["", ""]'


def test_a_response_without_custom_status_keeps_the_previous_one(sdk: client.TaskHubGrpcClient) -> None:
    instance_id = sdk.schedule_new_orchestration(status_then_none)
    sdk.wait_for_orchestration_start(instance_id, timeout=WAIT)
    pause = threading.Event()
    first = None
    for _ in range(int(WAIT / 0.01)):  # until the first work item has committed "first"
        first = sdk.get_orchestration_state(instance_id)
        if first is not None and first.serialized_custom_status is not None:
            break
        pause.wait(0.01)
    assert first is not None and first.serialized_custom_status == '"first"'
    sdk.raise_orchestration_event(instance_id, "next")
    assert activity_ran.wait(WAIT)  # the work item that sent no custom status has committed
    state = sdk.get_orchestration_state(instance_id)
    assert state is not None and state.serialized_custom_status == '"first"'
    sdk.raise_orchestration_event(instance_id, "end")
    done = sdk.wait_for_orchestration_completion(instance_id, timeout=WAIT)
    assert done is not None and done.serialized_custom_status == '"first"'
