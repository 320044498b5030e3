"""Reliability of the engine: bounded nesting, leases, any depth, per-attempt chaos, sentinels, refusals."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from fake_engine_helpers import (
    START,
    Harness,
    OrchestratorItem,
    complete,
    create_timer,
    kinds,
    schedule_task,
    sub_orchestration,
)

from durabletask_testing.engine.state import OrchestratorWorkItem
from durabletask_testing.errors import EngineError, ErrorCode
from durabletask_testing.protocol import orchestrator_service_pb2 as pb

YEAR_9999 = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def _refused(call, code: ErrorCode, *words: str) -> EngineError:
    with pytest.raises(EngineError) as error:
        call()
    assert error.value.code is code, error.value
    for word in words:
        assert word in error.value.message
    return error.value


def _nested_failure(levels: int) -> pb.TaskFailureDetails:
    failure = pb.TaskFailureDetails(errorType="Level0", errorMessage="root cause")
    for level in range(1, levels):
        outer = pb.TaskFailureDetails(errorType=f"Level{level}", errorMessage="wrapped")
        outer.innerFailure.CopyFrom(failure)
        failure = outer
    return failure


def _depth(failure: pb.TaskFailureDetails) -> int:
    depth = 1
    while failure.HasField("innerFailure"):
        failure, depth = failure.innerFailure, depth + 1
    return depth


# -- 1. failure details nested ~98 levels deep ------------------------------------------------------------


def test_a_deeply_nested_activity_failure_is_cut_and_every_work_item_still_encodes():
    h = Harness()
    h.start()
    h.start(instance_id="other")
    first = h.next_orchestrator()
    h.finish(first, schedule_task(0, "a"))
    h.answer(h.next_activity(), failure=_nested_failure(98))
    seen = set()
    while (item := h.next()) is not None:  # both instances' work items are handed out (and encoded)
        seen.add(item.instance_id)
        if item.instance_id == "i1":
            failed = item.new_events[-1].taskFailed.failureDetails
            assert _depth(failed) == 64 and "35 more nested failures" in _innermost(failed).errorMessage
            h.finish(item, complete(status=pb.ORCHESTRATION_STATUS_FAILED, failure=failed))
        else:
            h.finish(item, complete())
    assert seen == {"i1", "other"} and h.status("other") == pb.ORCHESTRATION_STATUS_COMPLETED


def _innermost(failure: pb.TaskFailureDetails) -> pb.TaskFailureDetails:
    while failure.HasField("innerFailure"):
        failure = failure.innerFailure
    return failure


def test_a_work_item_that_cannot_be_encoded_fails_its_instance_not_the_stream(monkeypatch):
    h = Harness()
    h.start(instance_id="bad")
    h.start(instance_id="good")
    encode = OrchestratorWorkItem.to_pb

    def refuse_bad(item: OrchestratorWorkItem) -> pb.WorkItem:
        if item.instance_id == "bad":
            raise RecursionError("maximum recursion depth exceeded")
        return encode(item)

    monkeypatch.setattr(OrchestratorWorkItem, "to_pb", refuse_bad)
    item = h.next_orchestrator()
    assert item.instance_id == "good"
    state = h.get_instance("bad", True)
    assert state.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert (
        state.failureDetails.errorType == "WorkItemEncodingError"
        and "RecursionError" in state.failureDetails.errorMessage
    )


# -- 3. leases ---------------------------------------------------------------------------------------------


def test_an_orchestrator_work_item_is_dispatched_again_after_its_lease_and_the_stale_token_is_refused():
    h = Harness(lease=30, frozen=True)
    h.start()
    first = h.next_orchestrator()
    h.tick(29.9)
    assert h.next() is None
    h.tick(0.1)
    again = h.next_orchestrator()
    assert kinds(again.new_events) == kinds(first.new_events) and again.token != first.token
    assert [r.kind for r in h.engine.faults.log] == ["lease_expired"]
    _refused(lambda: h.finish(first, complete()), ErrorCode.FAILED_PRECONDITION, first.token, "lease")
    assert h.status() == pb.ORCHESTRATION_STATUS_PENDING and h.engine.history("i1") == []
    h.finish(again, complete(result='"ok"'))
    assert h.status() == pb.ORCHESTRATION_STATUS_COMPLETED


def test_an_activity_is_dispatched_again_after_its_lease_and_the_first_result_of_either_dispatch_wins():
    h = Harness(lease=5, frozen=True)
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "a"))
    first = h.next_activity()
    h.tick(5)
    again = h.next_activity()
    assert again.task_id == 0 and again.token != first.token
    h.answer(again, result='"fresh"')  # the new dispatch reports first
    _refused(lambda: h.answer(first, result='"late"'), ErrorCode.FAILED_PRECONDITION, "lease")
    assert h.next_orchestrator().new_events[-1].taskCompleted.result.value == '"fresh"'


def test_without_a_lease_work_items_wait_for_their_completion():
    h = Harness(lease=None, frozen=True)
    h.start()
    h.next_orchestrator()
    h.tick(10**6)
    assert h.next() is None


# -- 4. any depth, all or nothing ----------------------------------------------------------------------------


def test_recursive_terminate_from_a_completion_reaches_a_1100_deep_chain():
    h = Harness()
    depth = 1100
    h.start(instance_id="c0")
    for level in range(depth):
        item = h.next_orchestrator()
        assert item.instance_id == f"c{level}"
        h.finish(item, sub_orchestration(1, "orch", f"c{level + 1}"))
    last = h.next_orchestrator()  # the last child's first work item, left in flight
    h.start(instance_id="killer")
    killer = h.next_orchestrator()
    terminate = pb.OrchestratorAction(
        id=1, terminateOrchestration=pb.TerminateOrchestrationAction(instanceId="c0", recurse=True)
    )
    h.finish(killer, terminate, complete())
    assert h.status("killer") == pb.ORCHESTRATION_STATUS_COMPLETED
    terminated = 0
    while (item := h.next()) is not None:
        assert kinds(item.new_events)[-1] == "executionTerminated"
        terminated += 1
        h.finish(item, complete(status=pb.ORCHESTRATION_STATUS_TERMINATED))
    assert terminated == depth  # every live one but the last (in flight; it gets its event next)
    purge = pb.PurgeInstancesRequest(instanceId="c0", recursive=True)
    _refused(lambda: h.purge(purge), ErrorCode.FAILED_PRECONDITION, f"'c{depth}'", "nothing was purged")
    assert h.status(f"c{depth - 1}") == pb.ORCHESTRATION_STATUS_TERMINATED  # the refusal deleted nothing
    h.finish(last)
    item = h.next_orchestrator()
    assert item.instance_id == f"c{depth}" and kinds(item.new_events)[-1] == "executionTerminated"
    h.finish(item, complete(status=pb.ORCHESTRATION_STATUS_TERMINATED))
    assert h.purge(purge) == depth + 1


def test_a_refused_response_changes_nothing():
    h = Harness()
    h.start()
    item = h.next_orchestrator()
    bad_timer = create_timer(2, START)
    bad_timer.createTimer.ClearField("fireAt")
    _refused(lambda: h.finish(item, schedule_task(1, "a"), bad_timer), ErrorCode.INVALID_ARGUMENT, "actions[1]")
    assert h.engine.history("i1") == [] and h.status() == pb.ORCHESTRATION_STATUS_PENDING
    h.finish(item, schedule_task(1, "a"))  # the work item is still in flight and can be completed
    assert h.next_activity().name == "a"


# -- 5. and 6. chaos decisions -------------------------------------------------------------------------------


def _run_retries(h: Harness, attempts: int) -> list[bool]:
    """Schedule task id 0 again after every failure (as the published SDK's retries do); True = failed."""
    outcomes = []
    item = h.next_orchestrator()
    for _ in range(attempts):
        h.finish(item, schedule_task(0, "flaky"))
        got = h.next()
        if isinstance(got, OrchestratorItem):  # answered at dispatch with an injected failure
            outcomes.append(True)
            item = got
        else:
            outcomes.append(False)
            h.answer(got, result="1")
            item = h.next_orchestrator()
    return outcomes


def test_chaos_decides_every_retry_attempt_of_one_task_afresh():
    h = Harness()
    h.engine.faults.chaos(11, rate=0.5, kinds=["fail_activity"])
    h.start()
    outcomes = _run_retries(h, 12)
    assert True in outcomes and False in outcomes


def _chaos_run(instance_ids: list[str]) -> list[tuple[int, str, int | None]]:
    h = Harness()
    h.engine.faults.chaos(5, rate=0.4, kinds=["fail_activity", "lose_activity_result"])
    for instance_id in instance_ids:
        h.start(instance_id=instance_id)
    scheduled = set()
    while (item := h.next()) is not None:
        if isinstance(item, OrchestratorItem):
            first_time = item.instance_id not in scheduled
            scheduled.add(item.instance_id)
            h.finish(item, *[schedule_task(t, "work") for t in range(6)] if first_time else [])
        else:
            h.answer(item, result="1")
    order = {instance_id: index for index, instance_id in enumerate(instance_ids)}
    return [(order[r.instance_id], r.kind, r.task_id) for r in h.engine.faults.log]


def test_the_same_seed_gives_the_same_faults_whatever_ids_the_client_generated():
    first = _chaos_run([uuid.uuid4().hex for _ in range(8)])
    second = _chaos_run([uuid.uuid4().hex for _ in range(8)])
    assert first == second and len(first) > 3


# -- 7. "wait forever" sentinels -----------------------------------------------------------------------------


def test_the_auto_clock_never_jumps_to_a_wait_forever_timer():
    h = Harness("auto")
    h.start()
    h.finish(h.next_orchestrator(), create_timer(1, YEAR_9999))
    _refused(
        lambda: h.wait_for("i1", until="completion", include_payloads=False, timeout=0),
        ErrorCode.DEADLINE_EXCEEDED,
    )
    assert h.clock.now() == START and h.next() is None
    h.finish(_raise_and_take(h), create_timer(2, START + timedelta(hours=1)))
    _refused(
        lambda: h.wait_for("i1", until="completion", include_payloads=False, timeout=0),
        ErrorCode.DEADLINE_EXCEEDED,
    )
    assert h.clock.now() == START + timedelta(hours=1)  # an ordinary timer is still skipped to


def _raise_and_take(h: Harness) -> OrchestratorItem:
    h.raise_event("i1", "go", None)
    return h.next_orchestrator()


def test_a_manual_clock_can_still_be_moved_to_year_9999_and_the_timer_fires():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), create_timer(1, YEAR_9999))
    h.clock.advance_to(YEAR_9999)
    assert kinds(h.next_orchestrator().new_events)[-1] == "timerFired"


# -- 8. one completion per response --------------------------------------------------------------------------


def test_two_completion_actions_are_refused_and_the_parent_is_not_notified():
    h = Harness()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(1, "orch", "child"))
    child = h.next_orchestrator()
    _refused(
        lambda: h.finish(child, complete(5, '"a"'), complete(6, status=pb.ORCHESTRATION_STATUS_FAILED)),
        ErrorCode.INVALID_ARGUMENT,
        "actions[1]",
        "actions[0]",
        "only once",
    )
    assert h.status("child") == pb.ORCHESTRATION_STATUS_PENDING and h.next() is None
    h.finish(child, complete(5, '"a"'))
    parent = h.next_orchestrator()
    assert kinds(parent.new_events)[1:] == ["subOrchestrationInstanceCompleted"]


# -- 11. blank sub-orchestration ids --------------------------------------------------------------------------


def test_a_blank_sub_orchestration_id_is_derived_and_the_child_can_be_read_terminated_and_purged():
    h = Harness()
    h.start(instance_id="p")
    h.finish(h.next_orchestrator(), sub_orchestration(3, "orch", "   "))
    assert h.get_instance("p:0003", False).parentInstanceId.value == "p"
    h.terminate("p:0003", None, recursive=False)
    h.finish(h.next_orchestrator(), complete(status=pb.ORCHESTRATION_STATUS_TERMINATED))
    assert h.purge(pb.PurgeInstancesRequest(instanceId="p:0003")) == 1


# -- 12. carried-over events -------------------------------------------------------------------------------


def _continue_with(h: Harness, *carried: pb.HistoryEvent):
    action = complete(status=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW)
    action.completeOrchestration.carryoverEvents.extend(carried)
    return lambda: h.finish(h.engine_item, action)


@pytest.mark.parametrize(
    ("event", "code", "word"),
    [
        (
            pb.HistoryEvent(taskCompleted=pb.TaskCompletedEvent(taskScheduledId=1)),
            ErrorCode.INVALID_ARGUMENT,
            "taskCompleted",
        ),
        (pb.HistoryEvent(eventRaised=pb.EventRaisedEvent(name=" ")), ErrorCode.INVALID_ARGUMENT, "name"),
        (pb.HistoryEvent(), ErrorCode.INVALID_ARGUMENT, "empty"),
    ],
)
def test_carried_over_events_get_the_checks_other_events_get(event, code, word):
    h = Harness()
    h.start()
    h.engine_item = h.next_orchestrator()
    _refused(_continue_with(h, event), code, "carryoverEvents[0]", word)
    assert h.engine.history("i1") == []


def test_an_oversized_carried_over_event_is_refused():
    h = Harness(max_payload_bytes=100)
    h.start()
    h.engine_item = h.next_orchestrator()
    big = pb.HistoryEvent(eventRaised=pb.EventRaisedEvent(name="e"))
    big.eventRaised.input.value = "x" * 101
    _refused(_continue_with(h, big), ErrorCode.RESOURCE_EXHAUSTED, "carryoverEvents[0].eventRaised.input")
