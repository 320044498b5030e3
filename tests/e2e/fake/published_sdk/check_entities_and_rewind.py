"""Run in the published-SDK venv (durabletask 1.12.0) with only the testkit on PYTHONPATH, by
``tests/e2e/fake/test_fake_published_entities.py``: entities, critical sections, delayed signals, rewind,
entity faults and inspection on the in-process fake, with the published worker and client.

Collected with ``-o python_files=check_*.py``; our own suite never imports this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from durabletask import client, entities, task, worker
from durabletask_testing import FakeSidecar

IDLE = 20.0  # seconds any wait for the fake to settle may take


def counter(ctx: entities.EntityContext, value: int | None) -> int:
    state = ctx.get_state(int, 0)
    if ctx.operation == "add":
        state += value or 0
        ctx.set_state(state)
    elif ctx.operation == "fail":
        raise ValueError("counter refuses")
    elif ctx.operation == "delete":
        ctx.set_state(None)
    return state


def transfer(ctx: task.OrchestrationContext, pair: list[str]):  # type: ignore[no-untyped-def]
    """Move 1 from one counter to the other inside a critical section (lock sets in either order)."""
    source, target = (entities.EntityInstanceId("counter", key) for key in pair)
    with (yield ctx.lock_entities([source, target])):
        have = yield ctx.call_entity(source, "get")
        yield ctx.call_entity(source, "add", input=-1)
        yield ctx.call_entity(target, "add", input=1)
    return have


def call_then_catch(ctx: task.OrchestrationContext, key: str):  # type: ignore[no-untyped-def]
    entity = entities.EntityInstanceId("counter", key)
    total = yield ctx.call_entity(entity, "add", input=5)
    try:
        yield ctx.call_entity(entity, "fail")
    except task.TaskFailedError as error:
        return [total, str(error)]
    return [total, None]


def signal_later(ctx: task.OrchestrationContext, key: str):  # type: ignore[no-untyped-def]
    entity = entities.EntityInstanceId("counter", key)
    ctx.signal_entity(entity, "add", input=7, signal_time=ctx.current_utc_datetime + timedelta(hours=1))
    yield ctx.create_timer(timedelta(hours=2))
    return "waited"


attempts = {"flaky": 0}


def flaky(ctx: task.ActivityContext, _: None) -> str:
    attempts["flaky"] += 1
    if attempts["flaky"] == 1:
        raise RuntimeError("first attempt fails")
    return "fixed"


def parent(ctx: task.OrchestrationContext, _: None):  # type: ignore[no-untyped-def]
    return (yield ctx.call_sub_orchestrator(child, instance_id=f"{ctx.instance_id}-child"))


def child(ctx: task.OrchestrationContext, _: None):  # type: ignore[no-untyped-def]
    return (yield ctx.call_activity(flaky))


@pytest.fixture(params=["real", "auto", "manual"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeSidecar]:
    with FakeSidecar(clock=request.param) as running:
        yield running


@pytest.fixture
def hub(fake: FakeSidecar) -> Iterator[tuple[FakeSidecar, client.TaskHubGrpcClient]]:
    attempts["flaky"] = 0
    w = worker.TaskHubGrpcWorker(host_address=fake.address)
    w.add_entity(counter)
    for orchestrator in (transfer, call_then_catch, signal_later, parent, child):
        w.add_orchestrator(orchestrator)
    w.add_activity(flaky)
    w.start()
    c = client.TaskHubGrpcClient(host_address=fake.address)
    try:
        yield fake, c
    finally:
        w.stop()


def _state(c: client.TaskHubGrpcClient, key: str) -> int | None:
    found = c.get_entity(entities.EntityInstanceId("counter", key), include_state=True)
    return None if found is None else found.get_state(int)


def test_signals_keep_state_between_batches_and_query_finds_the_entities(hub) -> None:
    fake, c = hub
    for _ in range(3):
        c.signal_entity(entities.EntityInstanceId("counter", "a"), "add", input=2)
    c.signal_entity(entities.EntityInstanceId("counter", "b"), "add", input=1)
    assert fake.wait_until_idle(timeout=IDLE)
    assert (_state(c, "a"), _state(c, "b")) == (6, 1)
    found = list(c.get_all_entities(client.EntityQuery(instance_id_starts_with="@counter@", include_state=True)))
    assert sorted(str(e.id) for e in found) == ["@counter@a", "@counter@b"]
    assert [r.operation for r in fake.entity("@counter@a").operations] == ["add", "add", "add"]
    c.signal_entity(entities.EntityInstanceId("counter", "b"), "delete")
    assert fake.wait_until_idle(timeout=IDLE)
    assert _state(c, "b") is None


def test_critical_sections_on_the_same_entities_in_opposite_orders_do_not_deadlock(hub) -> None:
    fake, c = hub
    c.signal_entity(entities.EntityInstanceId("counter", "x"), "add", input=10)
    ids = [c.schedule_new_orchestration(transfer, input=pair) for pair in (["x", "y"], ["y", "x"], ["x", "y"])]
    for instance_id in ids:
        state = c.wait_for_orchestration_completion(instance_id, timeout=IDLE)
        assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED, state
    assert fake.wait_until_idle(timeout=IDLE)
    assert (_state(c, "x"), _state(c, "y")) == (9, 1)  # 10 -1 (x->y) +1 (y->x) -1 (x->y)
    assert all(e.locked_by is None for e in fake.entities())


def test_a_call_returns_the_result_and_a_failing_operation_fails_the_call(hub) -> None:
    fake, c = hub
    instance_id = c.schedule_new_orchestration(call_then_catch, input="calls")
    state = c.wait_for_orchestration_completion(instance_id, timeout=IDLE)
    assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED, state
    total, error = state.get_output()
    assert total == 5 and "counter refuses" in error
    outcomes = [(r.operation, r.outcome) for r in fake.entity("@counter@calls").operations]
    assert outcomes == [("add", "completed"), ("fail", "failed")]


def test_an_injected_entity_failure_reaches_the_caller_and_keeps_the_state(hub) -> None:
    fake, c = hub
    fake.faults.fail_entity("counter", message="injected")
    instance_id = c.schedule_new_orchestration(call_then_catch, input="faulty")
    state = c.wait_for_orchestration_completion(instance_id, timeout=IDLE)
    assert state is not None and state.runtime_status == client.OrchestrationStatus.FAILED
    assert "injected" in state.failure_details.message
    assert _state(c, "faulty") is None


def test_a_signal_for_later_follows_the_clock(hub) -> None:
    fake, c = hub
    instance_id = c.schedule_new_orchestration(signal_later, input="later")
    if fake.clock.mode == "real":  # an hour of wall time is too long: the scheduling is what is checked
        assert fake.wait_until_idle(timeout=IDLE)
        assert _state(c, "later") is None and fake.entities() == []
        return
    if fake.clock.mode == "manual":
        assert fake.wait_until_idle(timeout=IDLE)
        fake.clock.advance(timedelta(minutes=59))
        assert fake.wait_until_idle(timeout=IDLE) and _state(c, "later") is None
        fake.clock.advance(timedelta(hours=2))
    state = c.wait_for_orchestration_completion(instance_id, timeout=IDLE)  # the auto clock skips ahead
    assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert fake.wait_until_idle(timeout=IDLE)
    assert _state(c, "later") == 7


def test_rewind_reruns_the_failed_child_and_completes_the_parent(hub) -> None:
    fake, c = hub
    instance_id = c.schedule_new_orchestration(parent, instance_id="rewound")
    failed = c.wait_for_orchestration_completion(instance_id, timeout=IDLE)
    assert failed is not None and failed.runtime_status == client.OrchestrationStatus.FAILED
    c.rewind_orchestration(instance_id, reason="fixed")
    state = c.wait_for_orchestration_completion(instance_id, timeout=IDLE)
    assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED, state
    assert state.get_output() == "fixed" and attempts["flaky"] == 2
    assert fake.instance("rewound-child").status_name == "COMPLETED"
    assert "executionRewound" in [e.WhichOneof("eventType") for e in fake.history(instance_id)]
