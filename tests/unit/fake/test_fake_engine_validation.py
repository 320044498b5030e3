"""Engine unit tests: bad input is refused with a precise code and message, and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fake_engine_helpers import START, Harness, complete, create_timer, schedule_task

from durabletask_testing.errors import EngineError, ErrorCode
from durabletask_testing.protocol import orchestrator_service_pb2 as pb


def _refused(call, code: ErrorCode, *words: str) -> EngineError:
    with pytest.raises(EngineError) as error:
        call()
    assert error.value.code is code, error.value
    for word in words:
        assert word in error.value.message, error.value.message
    return error.value


def test_start_needs_a_name_and_refuses_live_duplicates():
    h = Harness()
    _refused(lambda: h.start(name=""), ErrorCode.INVALID_ARGUMENT, "name")
    _refused(lambda: h.start(instance_id="   "), ErrorCode.INVALID_ARGUMENT, "instanceId")
    h.start()
    _refused(lambda: h.start(), ErrorCode.ALREADY_EXISTS, "i1", "PENDING")


def test_ended_instance_id_can_be_reused_unless_the_policy_forbids_it():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), complete(result="1"))
    policy = pb.OrchestrationIdReusePolicy(replaceableStatus=[pb.ORCHESTRATION_STATUS_FAILED])
    _refused(lambda: h.start(orchestrationIdReusePolicy=policy), ErrorCode.ALREADY_EXISTS, "COMPLETED")
    h.start()
    assert h.status() == pb.ORCHESTRATION_STATUS_PENDING
    assert h.engine.history("i1") == []


def test_unknown_instances_are_not_found_and_empty_ids_invalid():
    h = Harness()
    _refused(lambda: h.raise_event("ghost", "e", None), ErrorCode.NOT_FOUND, "ghost")
    _refused(lambda: h.terminate("ghost", None, False), ErrorCode.NOT_FOUND, "ghost")
    _refused(lambda: h.suspend("ghost", None), ErrorCode.NOT_FOUND, "ghost")
    _refused(lambda: h.engine.history("ghost"), ErrorCode.NOT_FOUND, "ghost")
    _refused(lambda: h.restart("ghost", False), ErrorCode.NOT_FOUND, "ghost")
    _refused(lambda: h.raise_event("", "e", None), ErrorCode.INVALID_ARGUMENT, "instanceId")
    _refused(lambda: h.get_instance("", False), ErrorCode.INVALID_ARGUMENT, "instanceId")
    h.start()
    _refused(lambda: h.raise_event("i1", "", None), ErrorCode.INVALID_ARGUMENT, "name")


def test_payloads_over_the_limit_are_resource_exhausted():
    h = Harness(max_payload_bytes=100)
    _refused(lambda: h.start(input="x" * 101), ErrorCode.RESOURCE_EXHAUSTED, "input", "100")
    h.start(input="x" * 100)
    _refused(lambda: h.raise_event("i1", "e", "é" * 51), ErrorCode.RESOURCE_EXHAUSTED, "input")
    item = h.next_orchestrator()
    _refused(lambda: h.finish(item, schedule_task(0, "a", "y" * 200)), ErrorCode.RESOURCE_EXHAUSTED, "actions[0]")
    h.finish(item, schedule_task(0, "a"))
    activity = h.next_activity()
    _refused(lambda: h.answer(activity, result="z" * 200), ErrorCode.RESOURCE_EXHAUSTED, "result")
    h.answer(activity, result="ok")


@pytest.mark.parametrize(
    ("action", "code", "words"),
    [
        (pb.OrchestratorAction(id=1, createTimer=pb.CreateTimerAction()), ErrorCode.INVALID_ARGUMENT, ["fireAt"]),
        (pb.OrchestratorAction(id=1), ErrorCode.INVALID_ARGUMENT, ["no action type"]),
        (schedule_task(1, ""), ErrorCode.INVALID_ARGUMENT, ["scheduleTask.name"]),
        (
            pb.OrchestratorAction(id=1, sendEvent=pb.SendEventAction(name="x")),
            ErrorCode.INVALID_ARGUMENT,
            ["sendEvent.instance.instanceId"],
        ),
        (
            pb.OrchestratorAction(id=1, terminateOrchestration=pb.TerminateOrchestrationAction()),
            ErrorCode.INVALID_ARGUMENT,
            ["terminateOrchestration.instanceId"],
        ),
        (
            complete(status=pb.ORCHESTRATION_STATUS_RUNNING),
            ErrorCode.INVALID_ARGUMENT,
            ["RUNNING", "not a completion status"],
        ),
        (
            pb.OrchestratorAction(id=1, sendEntityMessage=pb.SendEntityMessageAction()),
            ErrorCode.INVALID_ARGUMENT,
            ["sendEntityMessage", "no message type"],
        ),
    ],
)
def test_malformed_actions_are_refused_and_the_work_item_stays_in_flight(action, code, words):
    h = Harness()
    h.start()
    item = h.next_orchestrator()
    _refused(lambda: h.finish(item, schedule_task(0, "ok"), action), code, "actions[1]", *words)
    assert h.engine.history("i1") == [] and h.next() is None  # nothing applied, nothing queued
    h.finish(item, schedule_task(0, "ok"))  # the same token still completes it
    assert h.next_activity().name == "ok"


def test_a_retried_task_may_reuse_its_action_id_as_on_durabletask_go():
    """The published SDK schedules every retry attempt under the first attempt's id; durabletask-go accepts it."""
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(1, "flaky"))
    h.answer(h.next_activity(), failure=pb.TaskFailureDetails(errorType="E", errorMessage="boom"))
    h.finish(h.next_orchestrator(), create_timer(2, START + timedelta(seconds=1)))
    h.advance(seconds=1)
    h.finish(h.next_orchestrator(), schedule_task(1, "flaky"))
    retry = h.next_activity()
    assert (retry.name, retry.task_id) == ("flaky", 1)
    h.answer(retry, result='"ok"')
    h.finish(h.next_orchestrator(), complete(result='"ok"'))
    assert h.status() == pb.ORCHESTRATION_STATUS_COMPLETED
    scheduled = [e.eventId for e in h.engine.history("i1") if e.HasField("taskScheduled")]
    completed = [e.taskCompleted.taskScheduledId for e in h.engine.history("i1") if e.HasField("taskCompleted")]
    assert scheduled == [1, 1] and completed == [1]


def test_completion_for_another_instance_or_task_is_refused():
    h = Harness()
    h.start()
    item = h.next_orchestrator()
    response = pb.OrchestratorResponse(instanceId="other", completionToken=item.token)
    _refused(lambda: h.engine.complete_orchestrator(response), ErrorCode.INVALID_ARGUMENT, "other", "i1")
    h.finish(item, schedule_task(4, "a"))
    activity = h.next_activity()
    wrong_task = pb.ActivityResponse(instanceId="i1", taskId=5, completionToken=activity.token)
    _refused(lambda: h.engine.complete_activity(wrong_task), ErrorCode.INVALID_ARGUMENT, "taskId 5")
    swapped = pb.ActivityResponse(instanceId="i1", taskId=4, completionToken=item.token)
    _refused(lambda: h.engine.complete_activity(swapped), ErrorCode.INVALID_ARGUMENT, "orchestrator")


def test_running_instances_refuse_purge_and_restart_and_ended_ones_ignore_suspend_and_resume():
    h = Harness()
    h.start()
    item = h.next_orchestrator()
    _refused(lambda: h.purge(pb.PurgeInstancesRequest(instanceId="i1")), ErrorCode.FAILED_PRECONDITION, "i1")
    _refused(lambda: h.restart("i1", False), ErrorCode.FAILED_PRECONDITION, "i1")
    h.finish(item, complete())
    before = h.get_instance("i1", True)
    h.suspend("i1", None)  # accepted and dropped, as durabletask-go does
    h.resume("i1", None)
    assert h.get_instance("i1", True) == before and h.next() is None


def test_completion_without_token_for_an_ended_instance_is_a_failed_precondition():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), complete())
    response = pb.OrchestratorResponse(instanceId="i1", actions=[schedule_task(0, "late")])
    _refused(lambda: h.engine.complete_orchestrator(response), ErrorCode.FAILED_PRECONDITION, "COMPLETED")


def test_clock_refuses_to_move_backwards_or_real_time():
    h = Harness()
    with pytest.raises(ValueError, match="backwards"):
        h.clock.advance_to(START - timedelta(seconds=1))
    with pytest.raises(ValueError, match="negative"):
        h.clock.advance(timedelta(seconds=-1))
    real = Harness("real")
    with pytest.raises(RuntimeError, match="real"):
        real.clock.advance(1)


def test_out_of_range_timestamps_are_invalid_arguments():
    h = Harness()
    bad = pb.CreateInstanceRequest(instanceId="t", name="orch")
    bad.scheduledStartTimestamp.seconds = 10**15
    _refused(lambda: h.engine.start_instance(bad), ErrorCode.INVALID_ARGUMENT, "scheduledStartTimestamp")
    h.start()
    item = h.next_orchestrator()
    timer = pb.OrchestratorAction(id=0, createTimer=pb.CreateTimerAction())
    timer.createTimer.fireAt.seconds = -(10**15)
    _refused(lambda: h.finish(item, timer), ErrorCode.INVALID_ARGUMENT, "fireAt")
    assert h.engine.history("i1") == []
