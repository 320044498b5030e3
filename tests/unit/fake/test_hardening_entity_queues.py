"""Issue 25, entities in the engine alone (no gRPC): lock sets of any size, lock holders that are replaced or
purged, the cost of a long queue behind a lock, batch results validated whole, blank ids of started
orchestrations."""

from __future__ import annotations

import time

import pytest
from fake_engine_helpers import START, Harness, complete

from durabletask_testing.engine.entities import Entity
from durabletask_testing.errors import EngineError, ErrorCode
from durabletask_testing.protocol import orchestrator_service_pb2 as pb

COUNTER = "@counter@c1"


def _lock_action(action_id: int, section: str, owner: str, *entities: str) -> pb.OrchestratorAction:
    lock = pb.EntityLockRequestedEvent(criticalSectionId=section, lockSet=list(entities))
    lock.parentInstanceId.value = owner
    return pb.OrchestratorAction(id=action_id, sendEntityMessage=pb.SendEntityMessageAction(entityLockRequested=lock))


def _signal(operation: str) -> pb.HistoryEvent:
    event = pb.HistoryEvent(eventId=-1)
    event.entityOperationSignaled.operation = operation
    event.entityOperationSignaled.requestId = f"r-{operation}"
    return event


def _call(operation: str, caller: str) -> pb.HistoryEvent:
    event = pb.HistoryEvent(eventId=-1)
    event.entityOperationCalled.operation = operation
    event.entityOperationCalled.requestId = f"r-{operation}"
    event.entityOperationCalled.parentInstanceId.value = caller
    return event


def _lock(section: str, owner: str) -> pb.HistoryEvent:
    event = pb.HistoryEvent(eventId=-1)
    event.entityLockRequested.criticalSectionId = section
    event.entityLockRequested.lockSet.append(COUNTER)
    event.entityLockRequested.parentInstanceId.value = owner
    return event


def _operations(events: list[pb.HistoryEvent]) -> list[str]:
    return [
        (e.entityOperationCalled if e.HasField("entityOperationCalled") else e.entityOperationSignaled).operation
        for e in events
    ]


def _locked_entities(h: Harness) -> list[str]:
    return [e.entity_id for e in h.engine.entities() if e.locked_by is not None]


def test_a_lock_set_of_5000_entities_is_granted_without_recursion_and_released_on_completion() -> None:
    h = Harness()
    h.start(instance_id="big")
    entities = [f"@counter@k{i:05d}" for i in range(5_000)]
    began = time.perf_counter()
    h.finish(h.next_orchestrator(), _lock_action(0, "s1", "big", *entities))
    granted = h.next_orchestrator()
    assert granted.new_events[1].entityLockGranted.criticalSectionId == "s1"
    assert time.perf_counter() - began < 5.0  # linear in the lock set (its copies would cost its size squared)
    assert len(_locked_entities(h)) == 5_000
    h.finish(granted, complete())
    assert _locked_entities(h) == []


def test_replacing_a_running_lock_holder_releases_its_locks_and_forgets_its_queued_requests() -> None:
    h = Harness()
    h.start(instance_id="holder")
    h.start(instance_id="waiter")
    holder, waiter = h.next_orchestrator(), h.next_orchestrator()
    h.finish(holder, _lock_action(0, "s1", "holder", COUNTER, "@counter@c2"))
    h.finish(waiter, _lock_action(0, "s2", "waiter", COUNTER))
    assert h.next_orchestrator().new_events[1].HasField("entityLockGranted")  # the holder waits in its section
    replace_running = pb.OrchestrationIdReusePolicy(replaceableStatus=[pb.ORCHESTRATION_STATUS_RUNNING])
    h.start(instance_id="waiter", orchestrationIdReusePolicy=replace_running)  # its request is forgotten
    assert h.engine.entity(COUNTER).lock_owner == "holder"
    assert h.engine.entity(COUNTER).queued == 0
    h.start(instance_id="holder", orchestrationIdReusePolicy=replace_running)
    assert _locked_entities(h) == []


def test_purging_an_instance_forgets_the_lock_requests_it_queued() -> None:
    h = Harness()
    h.start(instance_id="holder")
    h.start(instance_id="late")
    holder, late = h.next_orchestrator(), h.next_orchestrator()
    h.finish(holder, _lock_action(0, "s1", "holder", COUNTER))
    h.finish(late, _lock_action(0, "s2", "late", COUNTER), complete(1))  # ends with its request still queued
    h.engine.purge_instances(pb.PurgeInstancesRequest(instanceId="late"))
    h.start(instance_id="late")  # a new instance of that id must not be granted the old request
    granted = h.next_orchestrator()
    assert granted.instance_id == "holder" and granted.new_events[1].HasField("entityLockGranted")
    h.finish(granted, complete())  # releases the lock: the old request of "late" must not be granted now
    assert _locked_entities(h) == []
    fresh = h.next_orchestrator()
    assert fresh.instance_id == "late" and [e.WhichOneof("eventType") for e in fresh.new_events] == [
        "orchestratorStarted",
        "executionStarted",
    ]


def test_a_long_queue_behind_a_lock_costs_linear_time_and_keeps_its_order() -> None:
    def seconds_for(count: int) -> float:
        entity = Entity(COUNTER, "counter", "c1", START)
        entity.enqueue(_lock(f"s{count}", "holder"))
        assert entity.grant_front_lock() is not None
        began = time.perf_counter()
        for index in range(count):
            entity.enqueue(_signal(f"s{index}"))
            assert not entity.has_batch()
        entity.enqueue(_call("mine", "holder"))
        assert _operations(entity.take_batch(100)) == ["mine"]
        assert entity.queued == count
        return time.perf_counter() - began

    # The quickest of three runs of each size: a loaded machine slows single runs, not the quickest (quadratic
    # work would make ten times the queue cost a hundred times as much).
    small = min(seconds_for(2_000) for _ in range(3))
    large = min(seconds_for(20_000) for _ in range(3))
    assert large < 30 * small + 0.05, f"2,000 queued: {small:.3f} s; 20,000: {large:.3f} s"


def test_the_lock_holders_calls_run_first_and_return_to_the_queue_on_release() -> None:
    entity = Entity(COUNTER, "counter", "c1", START)
    for event in (_call("early", "holder"), _lock(s := "s1", "holder"), _signal("a"), _call("other", "x")):
        entity.enqueue(event)
    assert _operations(entity.take_batch()) == ["early"]
    assert entity.grant_front_lock() is not None and entity.lock_owner == "holder"
    entity.enqueue(_call("inside1", "holder"))
    entity.enqueue(_call("inside2", "holder"))
    batch = entity.take_batch(1)
    assert _operations(batch) == ["inside1"]
    entity.commit_batch([], batch, None, keep_state=False, now=START)  # not answered: back first, still the holder's
    assert entity.has_batch() and entity.queued == 4
    assert entity.release_lock(s)
    assert _operations(entity.take_batch()) == ["inside1", "inside2", "a", "other"]


def _entity_item(h: Harness) -> pb.WorkItem:
    item = h.engine.next_work_item(h.connection, timeout=0)
    assert item is not None and item.HasField("entityRequestV2"), item
    return item


def _start_action(instance_id: str, name: str = "orch") -> pb.OperationAction:
    return pb.OperationAction(
        id=0, startNewOrchestration=pb.StartNewOrchestrationAction(instanceId=instance_id, name=name)
    )


def test_a_batch_result_with_an_unusable_start_time_is_refused_whole() -> None:
    h = Harness()
    h.engine.signal_entity(pb.SignalEntityRequest(instanceId=COUNTER, name="add", requestId="r1"))
    item = _entity_item(h)
    action = _start_action("started")
    action.startNewOrchestration.scheduledTime.seconds = 300_000_000_000  # after year 9999
    result = pb.EntityBatchResult(
        completionToken=item.completionToken,
        actions=[action],
        results=[pb.OperationResult(success=pb.OperationResultSuccess())],
    )
    result.entityState.value = "1"
    with pytest.raises(EngineError) as refused:
        h.engine.complete_entity(result)
    assert refused.value.code == ErrorCode.INVALID_ARGUMENT
    assert "actions[0] (id 0).startNewOrchestration.scheduledTime" in str(refused.value)
    entity = h.engine.entity(COUNTER)
    assert entity is not None and entity.state is None and not entity.operations
    assert h.engine.snapshots() == []
    result.actions[0].startNewOrchestration.ClearField("scheduledTime")  # the work item is still completable
    h.engine.complete_entity(result)
    assert h.engine.entity(COUNTER).state == "1" and [s.instance_id for s in h.engine.snapshots()] == ["started"]


def test_an_entity_started_orchestration_with_a_blank_id_gets_a_generated_one() -> None:
    h = Harness()
    h.engine.signal_entity(pb.SignalEntityRequest(instanceId=COUNTER, name="start", requestId="r1"))
    item = _entity_item(h)
    result = pb.EntityBatchResult(
        completionToken=item.completionToken,
        actions=[_start_action("  \t")],
        results=[pb.OperationResult(success=pb.OperationResultSuccess())],
    )
    h.engine.complete_entity(result)
    [started] = h.engine.snapshots()
    assert started.instance_id.strip() == started.instance_id and len(started.instance_id) == 32
    h.engine.terminate(pb.TerminateRequest(instanceId=started.instance_id))
