"""Engine unit tests: durable entities (queues, batches, locks, calls and signals), rewind and work-item filters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fake_engine_helpers import START, Harness, complete, kinds, schedule_task, ts
from google.protobuf.wrappers_pb2 import StringValue

from durabletask_testing.engine.entities import Entity
from durabletask_testing.errors import EngineError, ErrorCode
from durabletask_testing.protocol import orchestrator_service_pb2 as pb

COUNTER = "@counter@c1"


def _signal_event(operation: str, target: str = COUNTER) -> pb.HistoryEvent:
    event = pb.HistoryEvent(eventId=-1)
    event.entityOperationSignaled.operation = operation
    event.entityOperationSignaled.requestId = f"r-{operation}"
    event.entityOperationSignaled.targetInstanceId.value = target
    return event


def _call_event(operation: str, caller: str) -> pb.HistoryEvent:
    event = pb.HistoryEvent(eventId=-1)
    event.entityOperationCalled.operation = operation
    event.entityOperationCalled.requestId = f"r-{operation}"
    event.entityOperationCalled.parentInstanceId.value = caller
    return event


def _lock_event(section: str, owner: str, *entities: str) -> pb.HistoryEvent:
    event = pb.HistoryEvent(eventId=-1)
    event.entityLockRequested.criticalSectionId = section
    event.entityLockRequested.lockSet.extend(entities)
    event.entityLockRequested.parentInstanceId.value = owner
    return event


def test_an_entity_runs_operations_up_to_a_lock_request_then_only_the_lock_holders():
    entity = Entity(COUNTER, "counter", "c1", START)
    for event in (_signal_event("a"), _lock_event("s1", "orch", COUNTER), _signal_event("b"), _call_event("c", "orch")):
        entity.enqueue(event)
    assert [e.entityOperationSignaled.operation for e in entity.take_batch()] == ["a"]
    granted = entity.grant_front_lock()
    assert granted is not None and entity.locked_by == "s1" and entity.lock_owner == "orch"
    assert [e.entityOperationCalled.operation for e in entity.take_batch()] == ["c"]
    assert not entity.has_batch()  # "b" waits for the release
    assert not entity.release_lock("another-section") and entity.release_lock("s1")
    assert [e.entityOperationSignaled.operation for e in entity.take_batch()] == ["b"]


def _entity_item(h: Harness) -> pb.WorkItem:
    item = h.engine.next_work_item(h.connection, timeout=0)
    assert item is not None and item.HasField("entityRequestV2"), item
    return item


def _finish_entity(h: Harness, item: pb.WorkItem, state: str | None, *results: pb.OperationResult, actions=()):
    result = pb.EntityBatchResult(completionToken=item.completionToken, results=list(results), actions=list(actions))
    if state is not None:
        result.entityState.value = state
    h.engine.complete_entity(result)


def _ok(output: str | None = None) -> pb.OperationResult:
    result = pb.OperationResult(success=pb.OperationResultSuccess())
    if output is not None:
        result.success.result.value = output
    return result


def _signal(h: Harness, operation: str, entity_id: str = COUNTER, at=None) -> None:
    request = pb.SignalEntityRequest(instanceId=entity_id, name=operation, requestId=f"req-{operation}")
    if at is not None:
        request.scheduledTime.CopyFrom(ts(at))
    h.engine.signal_entity(request)


def test_signals_run_in_batches_one_at_a_time_and_the_state_is_kept_between_batches():
    h = Harness()
    _signal(h, "add")
    first = _entity_item(h)
    assert first.entityRequestV2.instanceId == COUNTER and not first.entityRequestV2.HasField("entityState")
    assert [e.entityOperationSignaled.operation for e in first.entityRequestV2.operationRequests] == ["add"]
    _signal(h, "add2")
    _signal(h, "add3")
    assert h.engine.next_work_item(h.connection, timeout=0) is None  # one batch per entity at a time
    _finish_entity(h, first, "1", _ok())
    second = _entity_item(h)
    assert second.entityRequestV2.entityState.value == "1"
    assert len(second.entityRequestV2.operationRequests) == 2
    _finish_entity(h, second, "3", _ok(), _ok())
    got = h.engine.get_entity(pb.GetEntityRequest(instanceId=COUNTER, includeState=True))
    assert got.exists and got.entity.serializedState.value == "3" and got.entity.backlogQueueSize == 0
    assert [r.operation for r in h.engine.entity(COUNTER).operations] == ["add", "add2", "add3"]


def test_a_result_for_fewer_operations_queues_the_rest_again_and_no_state_means_no_entity():
    h = Harness()
    _signal(h, "a")
    item = _entity_item(h)
    _signal(h, "b")
    _finish_entity(h, item, None)  # answered nothing: "a" runs again, before "b"
    again = _entity_item(h)
    assert [e.entityOperationSignaled.operation for e in again.entityRequestV2.operationRequests] == ["a", "b"]
    _finish_entity(h, again, None, _ok(), _ok())
    assert not h.engine.get_entity(pb.GetEntityRequest(instanceId=COUNTER)).exists
    assert h.engine.entities() == []


def test_a_delayed_signal_waits_for_the_manual_clock():
    h = Harness()
    _signal(h, "later", at=START + timedelta(hours=1))
    assert h.engine.next_work_item(h.connection, timeout=0) is None
    h.clock.advance(timedelta(minutes=59))
    assert h.engine.next_work_item(h.connection, timeout=0) is None
    h.clock.advance(timedelta(minutes=1))
    assert _entity_item(h).entityRequestV2.operationRequests[0].entityOperationSignaled.operation == "later"


def _call_action(action_id: int, operation: str, target: str = COUNTER, request_id: str = "call-1"):
    called = pb.EntityOperationCalledEvent(requestId=request_id, operation=operation)
    called.targetInstanceId.value = target
    called.parentInstanceId.value = "i1"
    return pb.OrchestratorAction(
        id=action_id, sendEntityMessage=pb.SendEntityMessageAction(entityOperationCalled=called)
    )


def _lock_action(action_id: int, section: str, owner: str, *entities: str) -> pb.OrchestratorAction:
    lock = pb.EntityLockRequestedEvent(criticalSectionId=section, lockSet=list(entities))
    lock.parentInstanceId.value = owner
    return pb.OrchestratorAction(id=action_id, sendEntityMessage=pb.SendEntityMessageAction(entityLockRequested=lock))


def _unlock_action(action_id: int, section: str, target: str) -> pb.OrchestratorAction:
    unlock = pb.EntityUnlockSentEvent(criticalSectionId=section)
    unlock.targetInstanceId.value = target
    return pb.OrchestratorAction(id=action_id, sendEntityMessage=pb.SendEntityMessageAction(entityUnlockSent=unlock))


def test_an_orchestrations_call_is_recorded_run_and_answered():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), _call_action(0, "get"))
    assert kinds(h.engine.history("i1"))[-1] == "entityOperationCalled"
    assert h.engine.history("i1")[-1].eventId == 0
    item = _entity_item(h)
    _finish_entity(h, item, "5", _ok("5"))
    answered = h.next_orchestrator()
    assert kinds(answered.new_events) == ["orchestratorStarted", "entityOperationCompleted"]
    assert answered.new_events[1].entityOperationCompleted.requestId == "call-1"
    assert answered.new_events[1].entityOperationCompleted.output.value == "5"
    h.finish(answered, _call_action(1, "boom", request_id="call-2"))
    failing = pb.OperationResult(failure=pb.OperationResultFailure(failureDetails=pb.TaskFailureDetails(errorType="E")))
    _finish_entity(h, _entity_item(h), "5", failing)
    failed = h.next_orchestrator().new_events[1]
    assert (
        failed.entityOperationFailed.requestId == "call-2"
        and failed.entityOperationFailed.failureDetails.errorType == "E"
    )


def test_locks_are_granted_in_request_order_one_entity_after_another_and_released():
    h = Harness()
    other = "@counter@c2"
    h.start(instance_id="i1")
    h.start(instance_id="i2")
    first, second = h.next_orchestrator(), h.next_orchestrator()
    h.finish(first, _lock_action(0, "s1", "i1", COUNTER, other))
    h.finish(second, _lock_action(0, "s2", "i2", COUNTER))
    granted = h.next_orchestrator()
    assert granted.instance_id == "i1" and granted.new_events[1].entityLockGranted.criticalSectionId == "s1"
    assert h.engine.entity(other).lock_owner == "i1"
    assert h.next() is None  # i2 waits for the release
    h.finish(granted, _unlock_action(1, "s1", COUNTER), _unlock_action(2, "s1", other))
    after = h.next_orchestrator()
    assert after.instance_id == "i2" and after.new_events[1].entityLockGranted.criticalSectionId == "s2"


def test_an_orchestration_that_ends_holding_locks_releases_them():
    h = Harness()
    h.start(instance_id="i1")
    h.finish(h.next_orchestrator(), _lock_action(0, "s1", "i1", COUNTER))
    h.finish(h.next_orchestrator(), complete())
    assert h.engine.entity(COUNTER) is None  # no state, no lock: gone


def test_bad_entity_input_gets_precise_statuses():
    h = Harness(max_payload_bytes=64)
    with pytest.raises(EngineError) as error:
        _signal(h, "op", entity_id="counter@c1")
    assert error.value.code is ErrorCode.INVALID_ARGUMENT and "@name@key" in error.value.message
    h.start()
    item = h.next_orchestrator()
    with pytest.raises(EngineError) as error:
        h.finish(item, _lock_action(0, "s1", "i1", COUNTER, COUNTER))
    assert error.value.code is ErrorCode.INVALID_ARGUMENT and "twice" in error.value.message
    h.finish(item)  # the refused response changed nothing: the work item is still completable
    _signal(h, "op")
    batch = _entity_item(h)
    with pytest.raises(EngineError) as error:
        _finish_entity(h, batch, "x" * 100, _ok())
    assert error.value.code is ErrorCode.RESOURCE_EXHAUSTED and "entityState" in error.value.message
    with pytest.raises(EngineError) as error:
        _finish_entity(h, batch, None, _ok(), _ok())
    assert error.value.code is ErrorCode.INVALID_ARGUMENT and "2 results for 1 operations" in error.value.message
    with pytest.raises(EngineError) as error:
        h.engine.complete_entity(pb.EntityBatchResult(completionToken="e999"))
    assert error.value.code is ErrorCode.NOT_FOUND
    _finish_entity(h, batch, "1", _ok())


def test_query_entities_filters_and_pages_and_clean_storage_releases_orphaned_locks():
    h = Harness()
    for key in ("a", "b", "c"):
        _signal(h, "set", entity_id=f"@counter@{key}")
        _finish_entity(h, _entity_item(h), f'"{key}"', _ok())
    _signal(h, "set", entity_id="@other@x")
    query = pb.EntityQuery(includeState=True)
    query.instanceIdStartsWith.value = "@counter@"
    query.pageSize.value = 2
    page = h.engine.query_entities(pb.QueryEntitiesRequest(query=query))
    assert [e.instanceId for e in page.entities] == ["@counter@a", "@counter@b"]
    assert page.entities[0].serializedState.value == '"a"'
    query.continuationToken.CopyFrom(page.continuationToken)
    rest = h.engine.query_entities(pb.QueryEntitiesRequest(query=query))
    assert [e.instanceId for e in rest.entities] == ["@counter@c"] and not rest.HasField("continuationToken")
    transient = h.engine.query_entities(pb.QueryEntitiesRequest(query=pb.EntityQuery(includeTransient=True)))
    assert "@other@x" in [e.instanceId for e in transient.entities]
    entity = h.engine._rooms.entities.require("@counter@a")  # locked by an orchestration that no longer exists:
    entity.enqueue(_lock_event("s-gone", "gone-instance", "@counter@a"))
    assert entity.grant_front_lock() is not None
    cleaned = h.engine.clean_entity_storage(pb.CleanEntityStorageRequest(releaseOrphanedLocks=True))
    assert cleaned.orphanedLocksReleased == 1 and h.engine.entity("@counter@a").locked_by is None


def test_entity_faults_lose_a_result_or_fail_the_batch():
    h = Harness()
    h.engine.faults.lose_entity_result("counter")
    _signal(h, "a")
    _finish_entity(h, _entity_item(h), "1", _ok())
    assert h.engine.get_entity(pb.GetEntityRequest(instanceId=COUNTER)).exists is False  # result lost
    _finish_entity(h, _entity_item(h), "1", _ok())  # ran again
    assert (
        h.engine.get_entity(pb.GetEntityRequest(instanceId=COUNTER, includeState=True)).entity.serializedState.value
        == "1"
    )
    h.engine.faults.fail_entity("@counter@c1", message="disk on fire")
    h.start()
    h.finish(h.next_orchestrator(), _call_action(0, "add"))
    _finish_entity(h, _entity_item(h), "2", _ok())
    failure = h.next_orchestrator().new_events[1].entityOperationFailed.failureDetails
    assert failure.errorMessage == "disk on fire"
    assert (
        h.engine.get_entity(pb.GetEntityRequest(instanceId=COUNTER, includeState=True)).entity.serializedState.value
        == "1"
    )
    assert [r.kind for r in h.engine.faults.log] == ["lose_entity_result", "fail_entity"]


def test_rewind_replays_a_failed_instance_with_the_history_the_worker_rewrote():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "flaky"))
    h.answer(h.next_activity(), failure=pb.TaskFailureDetails(errorType="E", errorMessage="boom"))
    h.finish(h.next_orchestrator(), complete(1, status=pb.ORCHESTRATION_STATUS_FAILED))
    with pytest.raises(EngineError) as error:
        h.engine.rewind_instance(pb.RewindInstanceRequest(instanceId="nope"))
    assert error.value.code is ErrorCode.NOT_FOUND
    request = pb.RewindInstanceRequest(instanceId="i1")
    request.reason.value = "fixed"
    h.engine.rewind_instance(request)
    assert h.status() == pb.ORCHESTRATION_STATUS_RUNNING
    item = h.next_orchestrator()
    assert kinds(item.new_events) == ["orchestratorStarted", "executionRewound"]
    assert item.new_events[1].executionRewound.reason.value == "fixed"
    clean = [
        e
        for e in item.past_events
        if e.WhichOneof("eventType") not in ("taskScheduled", "taskFailed", "executionCompleted")
    ]
    clean += item.new_events
    h.finish(item, pb.OrchestratorAction(id=-1, rewindOrchestration=pb.RewindOrchestrationAction(newHistory=clean)))
    replay = h.next_orchestrator()
    assert kinds(replay.new_events) == ["orchestratorStarted"]
    assert "executionRewound" in kinds(replay.past_events) and "taskFailed" not in kinds(replay.past_events)
    h.finish(replay, complete(2, result='"ok"'))
    assert h.status() == pb.ORCHESTRATION_STATUS_COMPLETED
    with pytest.raises(EngineError) as error:
        h.engine.rewind_instance(pb.RewindInstanceRequest(instanceId="i1"))
    assert error.value.code is ErrorCode.FAILED_PRECONDITION and "COMPLETED" in error.value.message


def test_work_item_filters_match_names_and_versions_and_unasked_work_waits():
    h = Harness()
    filters = pb.WorkItemFilters(
        orchestrations=[pb.OrchestrationFilter(name="orch", versions=["2.0"])],
        entities=[pb.EntityFilter(name="Counter")],
    )
    picky = h.engine.connect(pb.GetWorkItemsRequest(workItemFilters=filters))
    h.start(instance_id="v1", version=StringValue(value="1.0"))
    h.start(instance_id="v2", version=StringValue(value="2.0"))
    _signal(h, "op")
    _signal(h, "op", entity_id="@other@x")
    taken = [h.engine.next_work_item(picky, timeout=0) for _ in range(3)]
    assert taken[0].orchestratorRequest.instanceId == "v2"
    assert taken[1].entityRequestV2.instanceId == COUNTER
    assert taken[2] is None  # v1 and @other@x wait for a worker that asks for them
    rest = [h.engine.next_work_item(h.connection, timeout=0) for _ in range(2)]
    assert {r.WhichOneof("request") for r in rest} == {"orchestratorRequest", "entityRequestV2"}
