"""Engine unit tests: the core flow of events and actions, driven with protocol messages."""

from __future__ import annotations

import threading
from datetime import timedelta

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

from durabletask_testing.engine.core import ABANDON_BACKOFF_INITIAL
from durabletask_testing.errors import EngineError, ErrorCode
from durabletask_testing.protocol import orchestrator_service_pb2 as pb


def test_start_creates_pending_instance_whose_first_work_item_starts_it():
    h = Harness()
    h.start(input='"x"')
    assert h.status() == pb.ORCHESTRATION_STATUS_PENDING
    item = h.next_orchestrator()
    assert kinds(item.new_events) == ["orchestratorStarted", "executionStarted"]
    assert item.past_events == []
    started = item.new_events[1].executionStarted
    assert started.name == "orch" and started.input.value == '"x"'
    assert started.orchestrationInstance.instanceId == "i1"
    assert item.new_events[0].timestamp.ToDatetime().replace(tzinfo=START.tzinfo) == START
    h.finish(item)
    assert h.status() == pb.ORCHESTRATION_STATUS_RUNNING


def test_generated_instance_id_when_none_given():
    h = Harness()
    instance_id = h.start(instance_id="")
    assert len(instance_id) == 32 and h.get_instance(instance_id, False) is not None


def test_activity_round_trip_lands_task_completed_in_next_work_item():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "hello", '"Tokyo"'))
    activity = h.next_activity()
    assert (activity.name, activity.task_id, activity.input, activity.instance_id) == ("hello", 0, '"Tokyo"', "i1")
    h.answer(activity, result='"Hello Tokyo!"')
    item = h.next_orchestrator()
    assert kinds(item.past_events) == ["orchestratorStarted", "executionStarted", "taskScheduled"]
    assert item.past_events[2].eventId == 0
    assert kinds(item.new_events) == ["orchestratorStarted", "taskCompleted"]
    assert item.new_events[1].taskCompleted.taskScheduledId == 0
    assert item.new_events[1].taskCompleted.result.value == '"Hello Tokyo!"'
    h.finish(item, complete(result='"done"'))
    state = h.get_instance("i1", True)
    assert state.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED and state.output.value == '"done"'
    assert kinds(h.engine.history("i1"))[-1] == "executionCompleted"


def test_activity_failure_lands_task_failed():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(3, "boom"))
    h.answer(h.next_activity(), failure=pb.TaskFailureDetails(errorType="ValueError", errorMessage="bad"))
    event = h.next_orchestrator().new_events[1]
    assert event.taskFailed.taskScheduledId == 3 and event.taskFailed.failureDetails.errorMessage == "bad"


def test_one_orchestrator_work_item_per_instance_and_events_wait_for_the_next():
    h = Harness()
    h.start()
    first = h.next_orchestrator()
    h.raise_event("i1", "approval", '"yes"')
    assert h.next() is None  # the instance is in flight: nothing else to hand out
    h.finish(first)
    second = h.next_orchestrator()
    assert kinds(second.new_events) == ["orchestratorStarted", "eventRaised"]
    assert second.new_events[1].eventRaised.name == "approval"


def test_completion_with_used_token_is_refused_and_changes_nothing():
    h = Harness()
    h.start()
    item = h.next_orchestrator()
    h.finish(item, schedule_task(0, "a"))
    before = h.engine.history("i1")
    with pytest.raises(EngineError) as error:
        h.finish(item, schedule_task(1, "b"))
    assert error.value.code is ErrorCode.FAILED_PRECONDITION and item.token in error.value.message
    assert h.engine.history("i1") == before


def test_completion_with_unknown_token_is_not_found():
    h = Harness()
    h.start()
    h.next_orchestrator()
    with pytest.raises(EngineError) as error:
        h.engine.complete_orchestrator(pb.OrchestratorResponse(instanceId="i1", completionToken="o999"))
    assert error.value.code is ErrorCode.NOT_FOUND and "o999" in error.value.message
    with pytest.raises(EngineError) as error:
        h.engine.complete_activity(pb.ActivityResponse(instanceId="i1", completionToken="junk"))
    assert error.value.code is ErrorCode.NOT_FOUND


def test_completion_without_token_is_matched_by_instance_id():
    h = Harness()
    h.start()
    h.next_orchestrator()
    h.engine.complete_orchestrator(pb.OrchestratorResponse(instanceId="i1", actions=[schedule_task(0, "a")]))
    activity = h.next_activity()
    h.engine.complete_activity(pb.ActivityResponse(instanceId="i1", taskId=0))
    assert activity.task_id == 0
    assert kinds(h.next_orchestrator().new_events) == ["orchestratorStarted", "taskCompleted"]


def test_work_item_of_an_ended_stream_is_dispatched_again_with_the_same_events():
    h = Harness()
    h.start()
    other = h.connect()
    item = h.next_orchestrator(other)
    h.engine.disconnect(other)
    again = h.next_orchestrator()
    assert again.token != item.token
    assert kinds(again.new_events) == kinds(item.new_events)
    with pytest.raises(EngineError):
        h.finish(item)


def test_activity_of_an_ended_stream_is_dispatched_again():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "a"))
    other = h.connect()
    first = h.next_activity(other)
    h.engine.disconnect(other)
    again = h.next_activity()
    assert again.task_id == 0 and again.token != first.token  # the same execution, handed out with a new token
    h.answer(again, result="1")
    assert h.next_orchestrator().new_events[1].taskCompleted.result.value == "1"


def test_concurrency_limits_are_respected():
    h = Harness(max_activities=1)
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "a"), schedule_task(1, "b"))
    first = h.next_activity()
    assert h.next() is None
    h.answer(first, result="1")
    assert h.next_activity().task_id == 1  # queued activities are handed out before orchestrator work items
    h.next_orchestrator()


def test_orchestrator_limit_counts_in_flight_work_items():
    h = Harness(max_orchestrators=1)
    h.start(instance_id="a")
    h.start(instance_id="b")
    first = h.next_orchestrator()
    assert h.next() is None
    h.finish(first)
    assert h.next_orchestrator().instance_id == "b"


def test_timer_fires_when_manual_clock_reaches_it():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), create_timer(0, START + timedelta(hours=24)))
    assert kinds(h.engine.history("i1"))[-1] == "timerCreated"
    h.advance(hours=23)
    assert h.next() is None
    h.advance(hours=1)
    item = h.next_orchestrator()
    fired = item.new_events[1].timerFired
    assert fired.timerId == 0 and fired.fireAt.ToSeconds() == int((START + timedelta(hours=24)).timestamp())
    assert item.new_events[0].timestamp.ToSeconds() == fired.fireAt.ToSeconds()


def test_timers_fire_in_fire_time_then_creation_order():
    h = Harness()
    h.start()
    due = START + timedelta(minutes=5)
    h.finish(
        h.next_orchestrator(),
        create_timer(0, START + timedelta(minutes=9)),
        create_timer(1, due),
        create_timer(2, due),
    )
    h.advance(minutes=10)
    item = h.next_orchestrator()
    assert [e.timerFired.timerId for e in item.new_events[1:]] == [1, 2, 0]


def test_timer_in_the_past_fires_at_once():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), create_timer(0, START - timedelta(seconds=1)))
    assert kinds(h.next_orchestrator().new_events) == ["orchestratorStarted", "timerFired"]


def test_auto_clock_jumps_to_the_next_timer_while_a_client_waits_and_all_is_idle():
    h = Harness("auto")
    h.start()
    h.finish(h.next_orchestrator(), create_timer(0, START + timedelta(days=30)))
    result: list = []
    waiter = threading.Thread(
        target=lambda: result.append(h.wait_for("i1", until="completion", include_payloads=True, timeout=5))
    )
    waiter.start()
    item = h.next_work_item(h.connection, timeout=5)
    assert item is not None and item.new_events[1].HasField("timerFired")
    assert h.clock.now() == START + timedelta(days=30)
    h.finish(item, complete(result='"late"'))
    waiter.join(5)
    assert result and result[0].output.value == '"late"'


def test_auto_clock_does_not_jump_without_a_waiter():
    h = Harness("auto")
    h.start()
    h.finish(h.next_orchestrator(), create_timer(0, START + timedelta(days=30)))
    assert h.next() is None and h.clock.now() == START


def test_scheduled_start_is_honoured_on_the_virtual_clock():
    h = Harness()
    h.start(scheduledStartTimestamp=_ts(START + timedelta(hours=2)))
    assert h.next() is None
    h.advance(hours=2)
    assert kinds(h.next_orchestrator().new_events) == ["orchestratorStarted", "executionStarted"]


def test_sub_orchestration_gets_deterministic_id_and_reports_back():
    h = Harness()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(2, "child", input="5"))
    child_id = "parent:0002"
    created = h.engine.history("parent")[-1].subOrchestrationInstanceCreated
    assert created.instanceId == child_id
    child = h.next_orchestrator()
    assert child.instance_id == child_id
    parent_info = child.new_events[1].executionStarted.parentInstance
    assert parent_info.taskScheduledId == 2 and parent_info.orchestrationInstance.instanceId == "parent"
    h.finish(child, complete(result="10"))
    assert h.get_instance(child_id, False).parentInstanceId.value == "parent"
    event = h.next_orchestrator().new_events[1]
    assert event.subOrchestrationInstanceCompleted.taskScheduledId == 2
    assert event.subOrchestrationInstanceCompleted.result.value == "10"


def test_failed_sub_orchestration_reports_failure_to_parent():
    h = Harness()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(0, "child", instance_id="kid"))
    failure = pb.TaskFailureDetails(errorType="ValueError", errorMessage="nope")
    h.finish(h.next_orchestrator(), complete(status=pb.ORCHESTRATION_STATUS_FAILED, failure=failure))
    event = h.next_orchestrator().new_events[1]
    assert event.subOrchestrationInstanceFailed.failureDetails.errorMessage == "nope"


def test_send_event_records_event_sent_and_delivers_event_raised():
    h = Harness()
    h.start(instance_id="target")
    h.finish(h.next_orchestrator())
    h.start(instance_id="sender")
    action = pb.OrchestratorAction(
        id=0, sendEvent=pb.SendEventAction(instance=pb.OrchestrationInstance(instanceId="target"), name="ping")
    )
    h.finish(h.next_orchestrator(), action)
    assert kinds(h.engine.history("sender"))[-1] == "eventSent"
    item = h.next_orchestrator()
    assert item.instance_id == "target" and item.new_events[1].eventRaised.name == "ping"


def test_recursive_terminate_reaches_children():
    h = Harness()
    h.start(instance_id="parent")
    h.finish(h.next_orchestrator(), sub_orchestration(0, "child", instance_id="kid"))
    h.finish(h.next_orchestrator())  # the child starts and waits
    h.terminate("parent", '"stop"', recursive=True)
    delivered = {}
    for _ in range(2):
        item = h.next_orchestrator()
        delivered[item.instance_id] = item.new_events[-1]
    assert set(delivered) == {"parent", "kid"}
    assert all(e.HasField("executionTerminated") for e in delivered.values())
    assert delivered["kid"].executionTerminated.recurse


def test_suspend_and_resume_update_status_when_processed():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator())
    h.suspend("i1", "maintenance")
    item = h.next_orchestrator()
    assert item.new_events[1].executionSuspended.input.value == "maintenance"
    h.finish(item)
    assert h.status() == pb.ORCHESTRATION_STATUS_SUSPENDED
    h.raise_event("i1", "e", None)
    h.resume("i1", None)
    item = h.next_orchestrator()
    assert kinds(item.new_events) == ["orchestratorStarted", "eventRaised", "executionResumed"]
    h.finish(item)
    assert h.status() == pb.ORCHESTRATION_STATUS_RUNNING


def test_continue_as_new_resets_history_with_carryover_events():
    h = Harness()
    h.start(input="0")
    first = h.next_orchestrator()
    execution = first.execution_id
    carry = pb.HistoryEvent(eventId=-1, eventRaised=pb.EventRaisedEvent(name="kept"))
    action = complete(result="1", status=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW)
    action.completeOrchestration.carryoverEvents.append(carry)
    h.finish(first, action)
    assert h.status() == pb.ORCHESTRATION_STATUS_RUNNING
    item = h.next_orchestrator()
    assert item.past_events == []
    assert kinds(item.new_events) == ["orchestratorStarted", "executionStarted", "eventRaised"]
    assert item.new_events[1].executionStarted.input.value == "1"
    assert item.execution_id != execution
    h.finish(item, complete(result="done"))
    assert h.get_instance("i1", True).output.value == "done"


def test_events_for_an_ended_instance_are_dropped():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), complete(result="1"))
    h.raise_event("i1", "late", None)
    h.terminate("i1", None, recursive=False)
    assert h.next() is None


def test_abandoned_orchestrator_is_dispatched_again_after_a_back_off():
    h = Harness(frozen=True)
    h.start()
    item = h.next_orchestrator()
    h.abandon_orchestrator(item.token)
    assert h.next() is None  # held for a short back-off, not handed out in a spin
    h.tick(ABANDON_BACKOFF_INITIAL)
    again = h.next()
    assert again is not None and kinds(again.new_events) == kinds(item.new_events)


def _abandon(h: Harness, item) -> tuple[float, OrchestratorItem]:
    """Abandon ``item``; the (monotonic) seconds until it is handed out again, and the new work item."""
    h.abandon_orchestrator(item.token)
    waited = 0.0
    for _ in range(1000):
        again = h.next()
        if again is not None:
            assert isinstance(again, OrchestratorItem)
            return waited, again
        h.tick(0.005)
        waited += 0.005
    raise AssertionError("never handed out again")


def test_repeated_abandons_back_off_exponentially_and_never_spin():
    h = Harness(frozen=True)
    h.start()
    item = h.next_orchestrator()
    for attempt in range(4):
        held, item = _abandon(h, item)
        assert held >= ABANDON_BACKOFF_INITIAL * 2**attempt - 1e-9  # the back-off doubles with every abandon


def test_the_abandon_back_off_resets_when_a_work_item_of_the_instance_completes():
    h = Harness(frozen=True)
    h.start()
    item = h.next_orchestrator()
    for _ in range(4):
        held, item = _abandon(h, item)
    assert held >= ABANDON_BACKOFF_INITIAL * 8 - 1e-9
    h.finish(item, schedule_task(1, "a"))
    h.answer(h.next_activity(), result="1")
    held, _ = _abandon(h, h.next_orchestrator())
    assert held <= ABANDON_BACKOFF_INITIAL


def test_an_abandoned_orchestrator_goes_to_another_stream_when_one_is_free():
    h = Harness(frozen=True)
    other = h.connect()
    h.start()
    item = h.next_orchestrator()
    h.abandon_orchestrator(item.token)
    h.tick(1)
    assert h.next() is None  # the stream that rejected it is skipped
    again = h.next(other)
    assert again is not None and again.instance_id == "i1"
    h.abandon_orchestrator(again.token)  # rejected there too: back to the first stream
    h.tick(1)
    assert h.next(other) is None
    assert h.next().instance_id == "i1"


def test_an_abandoned_orchestrator_returns_to_the_same_stream_when_it_is_the_only_one():
    h = Harness(frozen=True)
    other = h.connect(max_orchestrators=1)
    h.start()
    h.start(instance_id="i2")
    busy = h.next_orchestrator(other)  # the other stream's only slot is taken
    item = h.next_orchestrator()
    assert {busy.instance_id, item.instance_id} == {"i1", "i2"}
    h.abandon_orchestrator(item.token)
    h.tick(1)
    again = h.next()
    assert again is not None and again.instance_id == item.instance_id


def test_custom_status_is_recorded():
    h = Harness()
    h.start()
    h.finish(h.next_orchestrator(), custom_status='"half-way"')
    assert h.get_instance("i1", True).customStatus.value == '"half-way"'


def test_wait_for_start_and_deadline():
    h = Harness()
    h.start()
    with pytest.raises(EngineError) as error:
        h.wait_for("i1", until="start", include_payloads=False, timeout=0)
    assert error.value.code is ErrorCode.DEADLINE_EXCEEDED and "i1" in error.value.message
    h.finish(h.next_orchestrator())
    state = h.wait_for("i1", until="start", include_payloads=False, timeout=0)
    assert state.orchestrationStatus == pb.ORCHESTRATION_STATUS_RUNNING
    assert h.wait_for("missing", until="completion", include_payloads=False, timeout=0) is None


def test_shutdown_ends_waits_and_streams_promptly():
    h = Harness()
    h.start()
    errors: list[EngineError] = []

    def wait() -> None:
        try:
            h.wait_for("i1", until="completion", include_payloads=False, timeout=30)
        except EngineError as error:
            errors.append(error)

    waiter = threading.Thread(target=wait)
    waiter.start()
    stream_result: list = []
    busy = h.connect()
    h.next_orchestrator(busy)
    stream = threading.Thread(target=lambda: stream_result.append(h.next_work_item(busy, timeout=30)))
    stream.start()
    h.engine.shutdown()
    waiter.join(2)
    stream.join(2)
    assert not waiter.is_alive() and not stream.is_alive()
    assert errors[0].code is ErrorCode.UNAVAILABLE and stream_result == [None]


def _ts(when):
    from fake_engine_helpers import ts

    return ts(when)
