"""The rewind rule: a rewound history drops failed results (and the failed activities' schedules), keeps the
failed children's creation events, drops the completion, and starts a new execution."""

from __future__ import annotations

import history_builders as h
from sdk_replay_helpers import registry, run, started

from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal.rewind import is_rewind_request, rewind_action


def orch(ctx, _):  # type: ignore[no-untyped-def]
    yield ctx.call_activity("a")


def _failed_history() -> list[pb.HistoryEvent]:
    failure = pb.TaskFailureDetails(errorType="RuntimeError", errorMessage="boom")
    completed = pb.HistoryEvent(eventId=-1, executionCompleted=pb.ExecutionCompletedEvent(
        orchestrationStatus=pb.ORCHESTRATION_STATUS_FAILED, failureDetails=failure))
    return [
        *started("orch"),
        h.new_task_scheduled_event(0, "a"),
        h.new_task_scheduled_event(1, "b"),
        h.new_sub_orchestration_created_event(2, "child", "c-1", None),
        h.new_orchestrator_started_event(),
        h.new_task_completed_event(1, '"b done"'),
        h.new_task_failed_event(0, RuntimeError("boom")),
        pb.HistoryEvent(eventId=-1, subOrchestrationInstanceFailed=pb.SubOrchestrationInstanceFailedEvent(
            taskScheduledId=2, failureDetails=failure)),
        completed,
    ]


def _rewind_events() -> list[pb.HistoryEvent]:
    return [h.new_orchestrator_started_event(),
            pb.HistoryEvent(eventId=-1, executionRewound=pb.ExecutionRewoundEvent())]


def test_the_new_history_drops_exactly_the_failures_and_restarts_the_execution() -> None:
    past, new = _failed_history(), _rewind_events()
    assert is_rewind_request(past, new) and not is_rewind_request(past[:-1], new)
    action = rewind_action(past, new, new_execution_id="exec-2")
    kinds = [e.WhichOneof("eventType") for e in action.rewindOrchestration.newHistory]
    assert kinds == ["orchestratorStarted", "executionStarted", "taskScheduled", "subOrchestrationInstanceCreated",
                     "orchestratorStarted", "taskCompleted", "orchestratorStarted", "executionRewound"]
    kept = [e.eventId for e in action.rewindOrchestration.newHistory if e.HasField("taskScheduled")]
    assert kept == [1]  # the failed activity's schedule went, so replay schedules it again
    started_event = action.rewindOrchestration.newHistory[1].executionStarted
    assert started_event.orchestrationInstance.executionId.value == "exec-2"
    assert past[1].executionStarted.orchestrationInstance.executionId.value != "exec-2"  # the input is untouched


def test_the_executor_answers_a_rewind_request_with_the_rewind_action_only() -> None:
    result = run(registry(orch), _failed_history(), _rewind_events())
    assert [a.WhichOneof("orchestratorActionType") for a in result.actions] == ["rewindOrchestration"]


def test_a_malformed_rewind_request_fails_the_orchestration_with_a_message() -> None:
    result = run(registry(orch), _failed_history(), [*_rewind_events(), h.new_orchestrator_started_event()])
    done = result.actions[-1].completeOrchestration
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert "OrchestratorStarted and ExecutionRewound only" in done.failureDetails.errorMessage
