"""End-to-end: sub-orchestrations, continue-as-new, events, suspend/resume, terminate, purge, versioning."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fake_e2e_helpers import connected, hello

from durabletask import client, task, worker
from durabletask_testing import FakeSidecar


def child(ctx: task.OrchestrationContext, name: str):
    return (yield ctx.call_activity(hello, input=name))


def parent(ctx: task.OrchestrationContext, names: list[str]):
    results = yield task.when_all([ctx.call_sub_orchestrator(child, input=n) for n in names])
    return results


def counter(ctx: task.OrchestrationContext, value: int):
    if value < 5:
        ctx.continue_as_new(value + 1)
        return None
    return value


def gate(ctx: task.OrchestrationContext, _: object):
    first = yield ctx.wait_for_external_event("first")
    second = yield ctx.wait_for_external_event("second")
    return [first, second]


def sleeper(ctx: task.OrchestrationContext, _: object):
    yield ctx.create_timer(timedelta(days=365))


def sleepy_parent(ctx: task.OrchestrationContext, _: object):
    yield ctx.call_sub_orchestrator(sleeper, instance_id="sleepy-child")


def _completed(c: client.TaskHubGrpcClient, instance_id: str):
    state = c.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED, state
    return json.loads(state.serialized_output) if state.serialized_output else None


def test_sub_orchestrations_fan_out_and_report_back():
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [parent, child], [hello]) as c:
        instance_id = c.schedule_new_orchestration(parent, input=["a", "b", "c"])
        assert _completed(c, instance_id) == ["Hello a!", "Hello b!", "Hello c!"]
        children = [s for s in sidecar.instances() if s.parent_instance_id == instance_id]
        assert len(children) == 3 and all(s.status_name == "COMPLETED" for s in children)


def test_continue_as_new_restarts_with_fresh_history():
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [counter]) as c:
        instance_id = c.schedule_new_orchestration(counter, input=0)
        assert _completed(c, instance_id) == 5
        kinds = [e.WhichOneof("eventType") for e in sidecar.history(instance_id)]
        assert kinds.count("executionStarted") == 1
        started = next(e for e in sidecar.history(instance_id) if e.HasField("executionStarted"))
        assert started.executionStarted.input.value == "5"


def test_events_are_buffered_while_suspended_and_delivered_on_resume():
    with FakeSidecar(clock="manual") as sidecar, connected(sidecar, [gate]) as c:
        instance_id = c.schedule_new_orchestration(gate)
        c.wait_for_orchestration_start(instance_id, timeout=10)
        c.suspend_orchestration(instance_id)
        assert sidecar.wait_until_idle(timeout=10)
        assert c.get_orchestration_state(instance_id).runtime_status == client.OrchestrationStatus.SUSPENDED
        c.raise_orchestration_event(instance_id, "first", data=1)
        c.raise_orchestration_event(instance_id, "second", data=2)
        assert sidecar.wait_until_idle(timeout=10)
        assert c.get_orchestration_state(instance_id).runtime_status == client.OrchestrationStatus.SUSPENDED
        c.resume_orchestration(instance_id)
        assert _completed(c, instance_id) == [1, 2]


def test_recursive_terminate_stops_the_children():
    with FakeSidecar(clock="manual") as sidecar, connected(sidecar, [sleepy_parent, sleeper]) as c:
        instance_id = c.schedule_new_orchestration(sleepy_parent)
        assert sidecar.wait_until_idle(timeout=10)
        assert sidecar.instance("sleepy-child").status_name == "RUNNING"
        c.terminate_orchestration(instance_id, output="enough", recursive=True)
        state = c.wait_for_orchestration_completion(instance_id, timeout=10)
        assert state.runtime_status == client.OrchestrationStatus.TERMINATED
        child_state = c.wait_for_orchestration_completion("sleepy-child", timeout=10)
        assert child_state.runtime_status == client.OrchestrationStatus.TERMINATED


def test_purge_and_restart_over_grpc():
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [child], [hello]) as c:
        instance_id = c.schedule_new_orchestration(child, input="x")
        assert _completed(c, instance_id) == "Hello x!"
        new_id = c.restart_orchestration(instance_id, restart_with_new_instance_id=True)
        assert new_id != instance_id and _completed(c, new_id) == "Hello x!"
        assert c.purge_orchestration(instance_id).deleted_instance_count == 1
        assert c.get_orchestration_state(instance_id) is None
        assert {s.instance_id for s in sidecar.instances()} == {new_id}


def test_rejected_versions_are_handed_to_another_worker_without_spinning():
    from durabletask.internal.versioning import VersionFailureStrategy, VersioningOptions, VersionMatchStrategy

    with FakeSidecar(clock="auto") as sidecar:
        old = worker.TaskHubGrpcWorker(host_address=sidecar.address)
        old.add_orchestrator(child)
        old.add_activity(hello)
        old.use_versioning(
            VersioningOptions(
                version="1.0",
                match_strategy=VersionMatchStrategy.STRICT,
                failure_strategy=VersionFailureStrategy.REJECT,
            )
        )
        old.start()
        c = client.TaskHubGrpcClient(host_address=sidecar.address)
        try:
            instance_id = c.schedule_new_orchestration(child, input="v2", version="2.0")
            with pytest.raises(TimeoutError):
                c.wait_for_orchestration_start(instance_id, timeout=0.3)  # the only worker keeps rejecting it
            rejected = sidecar.instance(instance_id)
            assert rejected.status_name == "PENDING" and 2 <= rejected.dispatch_count < 20  # backed off, no spin
            with connected(sidecar, [child], [hello]):
                assert _completed(c, instance_id) == "Hello v2!"
        finally:
            c.close()
            old.stop()
