"""The engine's records and work queues on their own: the methods an Instance, Entity and Connection change
through, the status an instance derives, and the three queues' common interface (no threads, no engine)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fake_engine_helpers import START

from durabletask_testing.engine import events
from durabletask_testing.engine.entities import EntityStore
from durabletask_testing.engine.queues import ActivityQueue, EntityQueue, OrchestratorQueue, WorkQueue
from durabletask_testing.engine.scheduling import Quiet
from durabletask_testing.engine.state import ActivityWorkItem, Connection, Instance
from durabletask_testing.engine.store import InstanceStore
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.views import OperationRecord

LATER = START + timedelta(minutes=1)
ENTITY = "@counter@c1"


def _instance() -> Instance:
    instance = Instance("i1", "orch", None, "e1", '"in"', START, START, fault_key="orch#0")
    instance.queue_start(events.execution_started(START, instance), None)
    return instance


def _completed(status: int, result: str | None = None, failure: pb.TaskFailureDetails | None = None):
    event = events.execution_completed(LATER, status, failure)
    if result is not None:
        event.executionCompleted.result.value = result
    return event


def test_an_instance_derives_its_status_from_what_it_committed():
    instance = _instance()
    assert instance.status == pb.ORCHESTRATION_STATUS_PENDING and instance.has_work
    instance.commit([events.orchestrator_started(LATER)], "working")
    assert instance.status == pb.ORCHESTRATION_STATUS_RUNNING and instance.custom_status == "working"
    instance.commit([events.execution_suspended(LATER, "pause")], None)
    assert instance.status == pb.ORCHESTRATION_STATUS_SUSPENDED
    instance.commit([events.execution_resumed(LATER, None)], None)
    assert instance.status == pb.ORCHESTRATION_STATUS_RUNNING and instance.output is None
    instance.finish(_completed(pb.ORCHESTRATION_STATUS_COMPLETED, '"done"'), LATER)
    outcome = (instance.status, instance.output, instance.completed_at)
    assert outcome == (pb.ORCHESTRATION_STATUS_COMPLETED, '"done"', LATER)
    assert instance.is_terminal and instance.inbox == [] and kinds_of(instance)[-1] == "executionCompleted"
    assert not instance.receive(events.event_raised(LATER, "late", None)) and instance.inbox == []


def kinds_of(instance: Instance) -> list[str | None]:
    return [event.WhichOneof("eventType") for event in instance.history]


def test_a_failed_instance_rewound_runs_again_without_its_outcome():
    instance = _instance()
    failure = events.failure("Boom", "it broke")
    instance.finish(_completed(pb.ORCHESTRATION_STATUS_FAILED, failure=failure), LATER)
    assert instance.failure_details is not None and instance.failure_details.errorType == "Boom"
    instance.compact_history()
    instance.rewind(events.execution_rewound(LATER, "again", None), LATER)
    assert (instance.status, instance.failure_details, instance.completed_at) == (
        pb.ORCHESTRATION_STATUS_RUNNING,
        None,
        None,
    )
    assert instance.history_blob is None and [e.WhichOneof("eventType") for e in instance.inbox] == ["executionRewound"]


def test_a_dispatch_taken_back_returns_its_events_and_a_stale_one_changes_nothing():
    store, connection = InstanceStore(), Connection(1, 0, 0)
    instance = _instance()
    store.put(instance)
    queue = OrchestratorQueue(store, lambda: None, None, lambda: Quiet(0, 0, False), lambda: [connection])
    item = queue.start(instance, connection, events.orchestrator_started(LATER), "o1")
    assert instance.in_flight is item and instance.inbox == [] and instance.dispatch_count == 1
    stale = queue.start(_instance(), connection, events.orchestrator_started(LATER), "o2")
    assert not instance.take_back(stale, None)
    assert instance.take_back(item, 5.0) and instance.held_until == 5.0
    assert [e.WhichOneof("eventType") for e in instance.inbox] == ["executionStarted"] and not instance.wake
    empty = Instance("i2", "orch", None, "e1", None, START, START)
    replay = queue.start(empty, connection, events.orchestrator_started(LATER), "o3")  # no new events: a replay
    assert empty.take_back(replay, None) and empty.wake and empty.has_work and empty.inbox == []


def test_abandons_count_until_a_result_is_accepted():
    instance = _instance()
    assert [instance.abandoned(by=7), instance.abandoned(by=8)] == [0, 1] and instance.abandoned_by == 8
    instance.work_item_done()
    assert (instance.abandon_count, instance.abandoned_by, instance.in_flight) == (0, None, None)


def test_continue_as_new_starts_a_fresh_execution_of_the_same_record():
    instance = _instance()
    instance.commit([events.orchestrator_started(LATER), events.execution_suspended(LATER, None)], None)
    assert instance.next_task_attempt(3) == 0 and instance.next_task_attempt(3) == 1
    instance.continue_as_new("e2", "v2", '"next"')
    instance.push_front([events.execution_started(LATER, instance)])
    assert (instance.execution_id, instance.version, instance.input, instance.generation) == ("e2", "v2", '"next"', 1)
    assert instance.status == pb.ORCHESTRATION_STATUS_RUNNING and instance.history == []
    assert instance.next_task_attempt(3) == 0 and instance.execution_key == "orch#0~1"
    assert instance.inbox[0].executionStarted.orchestrationInstance.executionId.value == "e2"


def test_an_entity_is_handed_out_taken_back_and_commits_a_batch():
    store = EntityStore()
    entity = store.get_or_create(ENTITY, START)
    entity.enqueue(_signal("a"))
    entity.enqueue(_signal("b"))
    queue = EntityQueue(store, lambda: None)
    connection = Connection(1, 0, 0)
    item = queue.start(entity, entity.take_batch(1), connection, "e1")
    assert entity.in_flight is item and entity.dispatch_count == 1 and len(entity.queue) == 1
    assert entity.abandoned() == 0 and entity.abandoned() == 1
    queue.release(item)
    assert entity.in_flight is None and connection.entities_in_flight == 0
    entity.take_back(item, 2.0)
    assert [e.entityOperationSignaled.operation for e in entity.queue] == ["a", "b"] and entity.held_until == 2.0
    record = OperationRecord("r", "a", None, "failed", LATER, "Boom")
    entity.commit_batch([record], [], "1", keep_state=True, now=LATER)
    assert entity.state is None and list(entity.log) == [record] and entity.batches == 1
    entity.commit_batch([], [], "1", keep_state=False, now=LATER)
    assert entity.state == "1" and entity.exists
    entity.made_progress()
    assert entity.abandon_count == 0


def _signal(operation: str) -> pb.HistoryEvent:
    event = pb.HistoryEvent(eventId=-1)
    event.entityOperationSignaled.operation = operation
    event.entityOperationSignaled.requestId = operation
    return event


def test_a_connection_counts_its_work_per_kind_and_closes_with_or_without_a_reason():
    connection = Connection(1, max_orchestrators=1, max_activities=0)
    connection.took("orchestrator", "o1")
    connection.took("activity", "a2")
    assert not connection.can_take_orchestrator() and connection.can_take_activity()
    counts = (connection.orchestrators_in_flight, connection.activities_in_flight, connection.tokens)
    assert counts == (1, 1, {"o1", "a2"})
    connection.gave_back("orchestrator", "o1")
    assert connection.can_take_orchestrator() and connection.tokens == {"a2"}
    connection.forget_work()
    assert connection.activities_in_flight == 0 and connection.tokens == set()
    connection.close("injected")
    assert not connection.closed and connection.close_reason == "injected"
    connection.close()
    assert connection.closed


def _activity(task_id: int) -> ActivityWorkItem:
    return ActivityWorkItem("i1", "e1", task_id, "act", None, None, {}, None)


def _three_queues() -> list[tuple[WorkQueue, object]]:
    """Each queue with one item handed out on a fresh stream (the same interface from here on)."""
    added: list[str] = []
    store = InstanceStore()
    instance = _instance()
    store.put(instance)
    connection = Connection(1, 0, 0)
    orchestrators = OrchestratorQueue(store, lambda: added.append("o"), None, lambda: Quiet(0, 0, False), lambda: [])
    orchestrators.make_ready(instance, 0.0)
    ready = orchestrators.next(connection, 0.0)
    assert ready is instance
    orchestrator_item = orchestrators.start(instance, connection, events.orchestrator_started(LATER), "o1")
    activities = ActivityQueue(store, lambda: added.append("a"))
    activities.queue(_activity(0))
    found = activities.next(connection)
    assert found is not None
    activity_item = activities.start(found[0], connection, "a2")
    entities_store = EntityStore()
    entity = entities_store.get_or_create(ENTITY, START)
    entity.enqueue(_signal("a"))
    entities = EntityQueue(entities_store, lambda: added.append("e"))
    entities.make_ready(entity, 0.0)
    assert entities.next(connection) is entity
    entity_item = entities.start(entity, entity.take_batch(), connection, "e3")
    return [(orchestrators, orchestrator_item), (activities, activity_item), (entities, entity_item)]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["orchestrator", "activity", "entity"])
def test_every_queue_releases_and_requeues_through_the_same_interface(index: int):
    queue, item = _three_queues()[index]
    token = item.token
    connection = item.connection
    assert queue.in_flight(token) is item and queue.in_flight_count() == 1 and not queue.is_idle()
    assert not queue.has_ready()
    queue.release(item)
    assert queue.in_flight(token) is None and item.connection is None and token not in connection.tokens
    queue.requeue(item, now=10.0, backoff=0.5)
    assert not queue.has_ready() and queue.next_release() == 10.5
    queue.release_held(10.4)
    assert not queue.has_ready()
    queue.release_held(10.5)
    assert queue.has_ready() and queue.next_release() is None
    queue.clear()
    assert queue.is_idle() and not queue.has_ready()


def test_the_activity_queue_puts_a_returned_activity_first_and_finds_in_flight_ones_by_task():
    store = InstanceStore()
    store.put(_instance())
    queue = ActivityQueue(store, lambda: None)
    queue.queue(_activity(0))
    queue.queue(_activity(1))
    connection = Connection(1, 0, 0)
    found = queue.next(connection)
    assert found is not None and found[0].task_id == 0
    item = queue.start(found[0], connection, "a1")
    assert queue.by_task("i1", 0) is item and queue.pending() == 2
    queue.release(item)
    assert queue.by_task("i1", 0) is None
    queue.requeue(item, now=0.0)
    assert item.token == "" and [queue.next(connection)[0].task_id for _ in range(2)] == [0, 1]
