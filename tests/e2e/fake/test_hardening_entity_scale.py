"""Issue 25, entities at scale and lock holders that go away: our SDK's worker and client over real gRPC against
an in-process FakeSidecar.

- a critical section over 600 entities (the lock is forwarded entity after entity without recursion);
- replacing a RUNNING lock holder (reuse policy) releases its locks instead of handing them to the new instance;
- thousands of signals queued behind a lock cost linear time;
- an entity that starts an orchestration with a blank id gets a generated id that can be read and terminated.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from durabletask import client, task, worker
from durabletask.entities import EntityContext, EntityInstanceId
from durabletask.internal import orchestrator_service_pb2 as sdk_pb
from durabletask_testing import FakeSidecar

pytestmark = pytest.mark.timeout(60)

WAIT = 15.0  # seconds any single step may take on a correct fake (2 shared cores)


def counter(ctx: EntityContext, amount: Any) -> Any:
    if ctx.operation == "add":
        ctx.set_state(ctx.get_state(int, 0) + amount)
    elif ctx.operation == "get":
        return ctx.get_state(int, 0)
    elif ctx.operation == "start_blank":
        ctx.schedule_new_orchestration("wait_for_go", None, instance_id="   ")
        ctx.set_state(1)
    return None


def lock_many(ctx: task.OrchestrationContext, count: int):  # type: ignore[no-untyped-def]
    entities = [EntityInstanceId("counter", f"k{i:04d}") for i in range(count)]
    with (yield ctx.lock_entities(entities)):
        total = yield ctx.call_entity(entities[-1], "get")
    return [count, total]


def hold_lock(ctx: task.OrchestrationContext, key: str):  # type: ignore[no-untyped-def]
    with (yield ctx.lock_entities([EntityInstanceId("counter", key)])):
        yield ctx.wait_for_external_event("go")
    return "released"


def wait_for_go(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
    yield ctx.wait_for_external_event("go")
    return "done"


def read_locked(ctx: task.OrchestrationContext, key: str):  # type: ignore[no-untyped-def]
    entity = EntityInstanceId("counter", key)
    with (yield ctx.lock_entities([entity])):
        return (yield ctx.call_entity(entity, "get"))


def read_counter(ctx: task.OrchestrationContext, key: str):  # type: ignore[no-untyped-def]
    return (yield ctx.call_entity(EntityInstanceId("counter", key), "get"))


def signal_many(ctx: task.OrchestrationContext, count: int):  # type: ignore[no-untyped-def]
    for _ in range(count):
        ctx.signal_entity(EntityInstanceId("counter", "busy"), "add", 1)
    return count


ORCHESTRATORS = (lock_many, hold_lock, wait_for_go, read_locked, read_counter, signal_many)


@pytest.fixture
def fake() -> Iterator[FakeSidecar]:
    with FakeSidecar(clock="real") as sidecar:
        yield sidecar


@pytest.fixture
def sdk(fake: FakeSidecar) -> Iterator[client.TaskHubGrpcClient]:
    w = worker.TaskHubGrpcWorker(host_address=fake.address)
    for orchestrator in ORCHESTRATORS:
        w.add_orchestrator(orchestrator)
    w.add_entity(counter)
    w.start()
    c = client.TaskHubGrpcClient(host_address=fake.address)
    try:
        yield c
    finally:
        c.close()
        w.stop()


def run(
    c: client.TaskHubGrpcClient,
    orchestrator: Any,
    input: Any = None,
    instance_id: str | None = None,
    timeout: float = WAIT,
) -> client.OrchestrationState:
    started = c.schedule_new_orchestration(orchestrator, input=input, instance_id=instance_id)
    state = c.wait_for_orchestration_completion(started, timeout=timeout)
    assert state is not None
    return state


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Wait for ``condition`` on the fake's state (the engine wakes idle waiters on every change)."""
    deadline = time.monotonic() + timeout
    event = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        event.wait(0.01)


def locked_by(fake: FakeSidecar, key: str) -> str | None:
    entity = fake.entity(f"@counter@{key}")
    return None if entity is None else entity.lock_owner


def test_a_critical_section_over_600_entities_works_and_releases_every_lock(
    fake: FakeSidecar, sdk: client.TaskHubGrpcClient
) -> None:
    state = run(sdk, lock_many, 600)
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
    assert state.serialized_output == "[600, 0]"
    assert [e.entity_id for e in fake.entities() if e.locked_by is not None] == []
    assert run(sdk, read_counter, "k0005").runtime_status == client.OrchestrationStatus.COMPLETED


def test_replacing_a_running_lock_holder_releases_its_locks(fake: FakeSidecar, sdk: client.TaskHubGrpcClient) -> None:
    sdk.schedule_new_orchestration(hold_lock, input="shared", instance_id="holder")
    wait_until(lambda: locked_by(fake, "shared") == "holder", "the holder locks the entity")
    replace_running = sdk_pb.OrchestrationIdReusePolicy(replaceableStatus=[sdk_pb.ORCHESTRATION_STATUS_RUNNING])
    sdk.schedule_new_orchestration(wait_for_go, instance_id="holder", reuse_id_policy=replace_running)
    # The new "holder" never asked for the lock: another critical section on the entity gets it.
    state = run(sdk, read_locked, "shared")
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
    assert locked_by(fake, "shared") is None


def test_a_lock_request_queued_by_a_replaced_instance_is_not_granted_to_its_successor(
    fake: FakeSidecar, sdk: client.TaskHubGrpcClient
) -> None:
    sdk.schedule_new_orchestration(hold_lock, input="queue", instance_id="first")
    wait_until(lambda: locked_by(fake, "queue") == "first", "the first holder locks the entity")
    sdk.schedule_new_orchestration(hold_lock, input="queue", instance_id="second")
    wait_until(lambda: (e := fake.entity("@counter@queue")) is not None and e.queued == 1, "the second one queues")
    replace_running = sdk_pb.OrchestrationIdReusePolicy(replaceableStatus=[sdk_pb.ORCHESTRATION_STATUS_RUNNING])
    sdk.schedule_new_orchestration(wait_for_go, instance_id="second", reuse_id_policy=replace_running)
    sdk.raise_orchestration_event("first", "go")
    assert sdk.wait_for_orchestration_completion("first", timeout=WAIT) is not None
    state = run(sdk, read_locked, "queue")
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details


def test_thousands_of_signals_to_a_locked_entity_are_queued_in_linear_time(
    fake: FakeSidecar, sdk: client.TaskHubGrpcClient
) -> None:
    sdk.schedule_new_orchestration(hold_lock, input="busy", instance_id="holder")
    wait_until(lambda: locked_by(fake, "busy") == "holder", "the holder locks the entity")

    def seconds_for(count: int) -> float:
        began = time.perf_counter()
        state = run(sdk, signal_many, count, timeout=40)
        assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
        return time.perf_counter() - began

    small = seconds_for(1_000)
    large = seconds_for(4_000)  # 5,000 signals now wait behind the lock
    # Linear: about 4x; quadratic: about 20x (measured before the fix: 0.5 s and 9.6 s).
    assert large < 10 * small + 1.0, f"1,000 signals: {small:.2f} s; 4,000 more: {large:.2f} s"
    entity = fake.entity("@counter@busy")
    assert entity is not None and entity.queued == 5_000
    sdk.raise_orchestration_event("holder", "go")
    wait_until(lambda: (e := fake.entity("@counter@busy")) is not None and e.queued == 0, "the signals run", 40)
    assert run(sdk, read_counter, "busy").serialized_output == "5000"


def test_an_entity_started_orchestration_with_a_blank_id_gets_a_usable_id(
    fake: FakeSidecar, sdk: client.TaskHubGrpcClient
) -> None:
    sdk.signal_entity(EntityInstanceId("counter", "starter"), "start_blank")
    wait_until(lambda: any(s.name == "wait_for_go" for s in fake.instances()), "the entity starts its orchestration")
    [started] = [s for s in fake.instances() if s.name == "wait_for_go"]
    assert started.instance_id.strip()
    state = sdk.get_orchestration_state(started.instance_id)
    assert state is not None and state.name == "wait_for_go"
    sdk.terminate_orchestration(started.instance_id)
    done = sdk.wait_for_orchestration_completion(started.instance_id, timeout=WAIT)
    assert done is not None and done.runtime_status == client.OrchestrationStatus.TERMINATED
