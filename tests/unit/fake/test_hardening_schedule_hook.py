"""Issue 25 item 15, the schedule hook alone: entity work still to report is counted in :class:`Quiet`, and an
entity result names the call it answers, as an activity result names its task."""

from __future__ import annotations

from fake_engine_helpers import Harness, schedule_task

from durabletask_testing.engine.scheduling import Quiet, result_task_id
from durabletask_testing.protocol import orchestrator_service_pb2 as pb

COUNTER = "@counter@c1"


def _call(action_id: int, request_id: str, target: str = COUNTER) -> pb.OrchestratorAction:
    called = pb.EntityOperationCalledEvent(requestId=request_id, operation="get")
    called.targetInstanceId.value = target
    return pb.OrchestratorAction(
        id=action_id, sendEntityMessage=pb.SendEntityMessageAction(entityOperationCalled=called)
    )


def test_quiet_counts_entities_with_a_batch_to_run_and_keeps_its_old_constructor() -> None:
    assert Quiet(0, 0, False).entities_pending == 0  # policies built before the field still construct it
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), _call(0, "r1"), _call(1, "r2", "@counter@c2"), schedule_task(2, "a"))
    quiet = h.engine._rooms.dispatcher._quiet()
    assert (quiet.activities_pending, quiet.entities_pending) == (1, 2)
    item = h.engine.next_work_item(h.connection, timeout=0)  # the activity
    assert item is not None and item.HasField("activityRequest")
    batch = h.engine.next_work_item(h.connection, timeout=0)
    assert batch is not None and batch.HasField("entityRequestV2")
    assert h.engine._rooms.dispatcher._quiet().entities_pending == 2  # one queued, one in flight
    h.engine.complete_entity(
        pb.EntityBatchResult(
            completionToken=batch.completionToken, results=[pb.OperationResult(success=pb.OperationResultSuccess())]
        )
    )
    assert h.engine._rooms.dispatcher._quiet().entities_pending == 1


def test_a_result_names_the_action_it_answers_entity_calls_included() -> None:
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "a"), _call(1, "r1"))
    instance = h.engine._rooms.store.require("i1")
    answered = pb.HistoryEvent(entityOperationCompleted=pb.EntityOperationCompletedEvent(requestId="r1"))
    failed = pb.HistoryEvent(entityOperationFailed=pb.EntityOperationFailedEvent(requestId="r1"))
    unknown = pb.HistoryEvent(entityOperationCompleted=pb.EntityOperationCompletedEvent(requestId="nobody"))
    task = pb.HistoryEvent(taskCompleted=pb.TaskCompletedEvent(taskScheduledId=0))
    raised = pb.HistoryEvent(eventRaised=pb.EventRaisedEvent(name="go"))
    assert [result_task_id(instance, e) for e in (answered, failed, unknown, task, raised)] == [1, 1, None, 0, None]
