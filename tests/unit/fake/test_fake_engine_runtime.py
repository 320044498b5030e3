"""apply_response alone: an instance, a response and a time in; the changed instance and an outbox out."""

from __future__ import annotations

from datetime import timedelta

from fake_engine_helpers import START, complete, create_timer, kinds, schedule_task, sub_orchestration

from durabletask_testing.engine import events
from durabletask_testing.engine.runtime import apply_response
from durabletask_testing.engine.state import Instance
from durabletask_testing.protocol import orchestrator_service_pb2 as pb

LATER = START + timedelta(minutes=1)


def _instance(**extra) -> Instance:
    return Instance("p", "orch", None, "exec-1", '"in"', START, START, fault_key="orch#0", **extra)


def _response(*actions: pb.OrchestratorAction) -> pb.OrchestratorResponse:
    return pb.OrchestratorResponse(instanceId="p", actions=list(actions))


def _started() -> list[pb.HistoryEvent]:
    return [events.orchestrator_started(LATER)]


def test_actions_become_history_and_an_outbox_in_order():
    instance = _instance()
    send = pb.OrchestratorAction(
        id=3, sendEvent=pb.SendEventAction(instance=pb.OrchestrationInstance(instanceId="x"), name="ping")
    )
    terminate = pb.OrchestratorAction(
        id=4, terminateOrchestration=pb.TerminateOrchestrationAction(instanceId="y", recurse=True)
    )
    response = _response(
        schedule_task(0, "a", '"1"'), create_timer(1, LATER), sub_orchestration(2, "child", "c"), send, terminate
    )
    outbox = apply_response(instance, _started(), response, LATER)
    assert instance.status == pb.ORCHESTRATION_STATUS_RUNNING and instance.last_updated_at == LATER
    assert kinds(instance.history) == [
        "orchestratorStarted",
        "taskScheduled",
        "timerCreated",
        "subOrchestrationInstanceCreated",
        "eventSent",
    ]
    assert [(a.task_id, a.name, a.input) for a in outbox.activities] == [(0, "a", '"1"')]
    assert [(t.kind, t.fire_at, t.timer_id) for t in outbox.timers] == [("timer", LATER, 1)]
    (child,) = outbox.children
    assert (child.instance_id, child.name, child.parent.taskScheduledId) == ("c", "child", 2)
    assert child.parent.orchestrationInstance.executionId.value == "exec-1"
    assert [(m.instance_id, m.event.eventRaised.name) for m in outbox.messages] == [("x", "ping")]
    assert [(t.instance_id, t.recurse) for t in outbox.terminations] == [("y", True)]


def test_a_missing_or_blank_child_id_is_derived_from_parent_and_action():
    outbox = apply_response(
        _instance(), _started(), _response(sub_orchestration(5, "c"), sub_orchestration(6, "c", "  ")), LATER
    )
    assert [c.instance_id for c in outbox.children] == ["p:0005", "p:0006"]


def test_completion_sets_the_outcome_and_notifies_the_parent_execution():
    parent = pb.ParentInstanceInfo(taskScheduledId=7, orchestrationInstance=pb.OrchestrationInstance(instanceId="top"))
    parent.orchestrationInstance.executionId.value = "top-exec"
    instance = _instance(parent=parent)
    outbox = apply_response(instance, _started(), _response(complete(result='"done"')), LATER)
    assert (instance.status, instance.output, instance.completed_at) == (
        pb.ORCHESTRATION_STATUS_COMPLETED,
        '"done"',
        LATER,
    )
    (notice,) = outbox.messages
    assert (notice.instance_id, notice.execution_id) == ("top", "top-exec")
    assert notice.event.subOrchestrationInstanceCompleted.taskScheduledId == 7


def test_deep_failure_details_are_cut_with_a_note():
    failure = pb.TaskFailureDetails(errorType="E0")
    for level in range(1, 95):
        outer = pb.TaskFailureDetails(errorType=f"E{level}")
        outer.innerFailure.CopyFrom(failure)
        failure = outer
    instance = _instance()
    apply_response(
        instance, _started(), _response(complete(status=pb.ORCHESTRATION_STATUS_FAILED, failure=failure)), LATER
    )
    levels, details = 1, instance.failure_details
    while details.HasField("innerFailure"):
        details, levels = details.innerFailure, levels + 1
    assert levels == 64 and details.errorType == "FailureDetailsTruncated" and "32 more" in details.errorMessage


def test_continue_as_new_starts_a_new_execution_with_carried_events_first():
    instance = _instance()
    instance.receive(events.event_raised(START, "late", None))
    assert instance.next_task_attempt(0) == 0
    action = complete(result='"next"', status=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW)
    action.completeOrchestration.carryoverEvents.append(events.event_raised(START, "kept", None))
    outbox = apply_response(
        instance, _started(), _response(action, schedule_task(9, "ignored")), LATER, new_execution_id=lambda: "exec-2"
    )
    assert (instance.execution_id, instance.input, instance.history, instance.generation) == ("exec-2", '"next"', [], 1)
    assert [e.eventRaised.name or e.WhichOneof("eventType") for e in instance.inbox] == [
        "executionStarted",
        "kept",
        "late",
    ]
    assert instance.task_attempts == {} and outbox.activities == []
    assert instance.execution_key == "orch#0~1"


def test_continue_as_new_drops_the_work_and_custom_status_sent_with_it_but_not_entity_messages():
    instance = _instance()
    instance.commit([], "before")
    send = pb.OrchestratorAction(
        id=3, sendEvent=pb.SendEventAction(instance=pb.OrchestrationInstance(instanceId="x"), name="ping")
    )
    unlock = pb.OrchestratorAction(
        id=4,
        sendEntityMessage=pb.SendEntityMessageAction(
            entityUnlockSent=pb.EntityUnlockSentEvent(criticalSectionId="cs")
        ),
    )
    unlock.sendEntityMessage.entityUnlockSent.targetInstanceId.value = "@counter@c"
    response = _response(
        schedule_task(0, "a"), create_timer(1, LATER), sub_orchestration(2, "child", "c"), send, unlock,
        complete(result='"next"', status=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW),
    )
    response.customStatus.value = '"sent with it"'
    outbox = apply_response(instance, _started(), response, LATER, new_execution_id=lambda: "exec-2")
    assert (outbox.activities, outbox.timers, outbox.children, outbox.messages) == ([], [], [], [])
    assert [m.target for m in outbox.entity_messages] == ["@counter@c"]
    assert instance.custom_status == "before" and not instance.children
    assert outbox.dropped_with_continue_as_new == [
        "activity 'a' (task 0)",
        f"timer #1 firing at {LATER.isoformat()}",
        "sub-orchestration 'child' as 'c'",
        "event or notice eventRaised for 'x'",
    ]


def test_suspend_and_resume_events_set_the_status():
    instance = _instance()
    apply_response(instance, [*_started(), events.execution_suspended(LATER, None)], _response(), LATER)
    assert instance.status == pb.ORCHESTRATION_STATUS_SUSPENDED
    apply_response(instance, [*_started(), events.execution_resumed(LATER, None)], _response(), LATER)
    assert instance.status == pb.ORCHESTRATION_STATUS_RUNNING


def test_under_dapr_rules_every_response_decides_the_custom_status():
    instance = _instance()
    instance.commit([], "before")
    apply_response(instance, _started(), _response(schedule_task(0, "a")), LATER, custom_status_rule="last")
    assert instance.custom_status is None  # a response without one clears it
    response = _response(complete(result='"next"', status=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW))
    response.customStatus.value = '"sent with it"'
    apply_response(instance, _started(), response, LATER, new_execution_id=lambda: "exec-2", custom_status_rule="last")
    assert instance.custom_status == '"sent with it"'  # kept for the new generation until its first response
