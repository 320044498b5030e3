"""Unit tests of the history timeline and failure report text (pure formatting, no sidecar)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from durabletask_pytest.report.failure import FaultView, InstanceView, render_report
from durabletask_pytest.report.timeline import (
    FAILURE_MESSAGE_LIMIT,
    format_event,
    format_failure,
    format_offset,
    shorten,
    status_name,
)
from google.protobuf import timestamp_pb2, wrappers_pb2

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

ORIGIN = datetime(2030, 1, 1, tzinfo=timezone.utc)


def _ts(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _text(value: str) -> wrappers_pb2.StringValue:
    return wrappers_pb2.StringValue(value=value)


def test_offsets_count_hours_past_a_day_and_keep_millis() -> None:
    assert format_offset(ORIGIN, ORIGIN) == "+00:00:00.000"
    assert format_offset(ORIGIN + timedelta(hours=24, seconds=1.25), ORIGIN) == "+24:00:01.250"
    assert format_offset(ORIGIN + timedelta(days=30), ORIGIN) == "+720:00:00.000"
    assert format_offset(ORIGIN - timedelta(minutes=1), ORIGIN) == "-00:01:00.000"
    assert format_offset(datetime(2030, 1, 1, 0, 0, 5), ORIGIN) == "+00:00:05.000"  # naive means UTC
    assert format_offset(ORIGIN, None) == ORIGIN.isoformat()


def test_long_values_are_shortened_with_their_length() -> None:
    assert shorten("abc", 10) == "abc"
    cut = shorten("x" * 500, 20)
    assert cut.startswith("x" * 17 + "...") and "(500 chars)" in cut
    assert shorten("a\nb") == "a\\nb"


def test_status_names_drop_the_protocol_prefix() -> None:
    assert status_name(pb.ORCHESTRATION_STATUS_FAILED) == "FAILED"
    assert status_name(pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW) == "CONTINUED_AS_NEW"
    assert status_name(99) == "UNKNOWN(99)"


def test_events_show_type_ids_names_payloads_and_virtual_times() -> None:
    started = pb.HistoryEvent(
        eventId=-1,
        timestamp=_ts(ORIGIN),
        executionStarted=pb.ExecutionStartedEvent(
            name="purchase_order", input=_text('{"cost": 2000}'),
            orchestrationInstance=pb.OrchestrationInstance(instanceId="order-1"),
        ),
    )
    scheduled = pb.HistoryEvent(eventId=0, timestamp=_ts(ORIGIN), taskScheduled=pb.TaskScheduledEvent(name="send"))
    timer = pb.HistoryEvent(
        eventId=1, timestamp=_ts(ORIGIN), timerCreated=pb.TimerCreatedEvent(fireAt=_ts(ORIGIN + timedelta(hours=24)))
    )
    fired = pb.HistoryEvent(
        eventId=-1,
        timestamp=_ts(ORIGIN + timedelta(hours=24)),
        timerFired=pb.TimerFiredEvent(fireAt=_ts(ORIGIN + timedelta(hours=24)), timerId=1),
    )
    failed = pb.HistoryEvent(
        eventId=-1,
        timestamp=_ts(ORIGIN + timedelta(seconds=2)),
        taskFailed=pb.TaskFailedEvent(
            taskScheduledId=0, failureDetails=pb.TaskFailureDetails(errorType="ValueError", errorMessage="y" * 300)
        ),
    )
    completed = pb.HistoryEvent(
        eventId=-1,
        timestamp=_ts(ORIGIN + timedelta(hours=24)),
        executionCompleted=pb.ExecutionCompletedEvent(orchestrationStatus=pb.ORCHESTRATION_STATUS_COMPLETED,
                                                      result=_text('"Canceled"')),
    )

    line = format_event(started, ORIGIN)
    assert line.startswith("+00:00:00.000  ExecutionStarted")
    assert "name=purchase_order" in line and 'input={"cost": 2000}' in line and "'order-1'" in line
    assert "TaskScheduled#0" in format_event(scheduled, ORIGIN) and "name=send" in format_event(scheduled, ORIGIN)
    assert "TimerCreated#1" in format_event(timer, ORIGIN) and "fireAt=+24:00:00.000" in format_event(timer, ORIGIN)
    fired_line = format_event(fired, ORIGIN)
    assert fired_line.startswith("+24:00:00.000  TimerFired") and "timerId=1" in fired_line
    failed_line = format_event(failed, ORIGIN)
    assert "taskScheduledId=0" in failed_line and "ValueError: yyy" in failed_line and "chars)" in failed_line
    assert len(failed_line) < 200
    completed_line = format_event(completed, ORIGIN)
    assert "orchestrationStatus=COMPLETED" in completed_line and 'result="Canceled"' in completed_line


def test_report_lists_instances_final_state_history_and_faults() -> None:
    history = [
        pb.HistoryEvent(eventId=0, timestamp=_ts(ORIGIN), taskScheduled=pb.TaskScheduledEvent(name="charge")),
    ]
    views = [
        InstanceView(instance_id="order-1", name="purchase_order", status="FAILED", created_at=ORIGIN,
                     last_updated_at=ORIGIN + timedelta(seconds=3), input='{"cost": 2000}',
                     failure="TaskFailedError: charge failed", history=history),
        InstanceView(instance_id="child", name="sub", status="RUNNING", parent_instance_id="order-1"),
    ]
    faults = [FaultView(time=ORIGIN + timedelta(seconds=1), kind="fail_activity", instance_id="order-1", task_id=0,
                        detail="injected failure")]
    text = render_report(views, origin=ORIGIN, header=["fake sidecar"], faults=faults, chaos_seed=1234)
    assert text.splitlines()[0] == "fake sidecar"
    assert "instance 'order-1' (purchase_order): FAILED" in text
    assert "created +00:00:00.000, last updated +00:00:03.000" in text
    assert "failure: TaskFailedError: charge failed" in text
    assert "history (1 events):" in text and "TaskScheduled#0" in text
    assert "instance 'child' (sub): RUNNING, child of 'order-1'" in text
    assert "chaos seed: 1234" in text
    assert "+00:00:01.000  fail_activity instance='order-1' task=0  injected failure" in text


def test_report_without_instances_or_faults_says_so() -> None:
    text = render_report([], origin=None, faults=[], chaos_seed=None)
    assert "no orchestration instances were created" in text
    assert "injected faults: none" in text and "no chaos run" in text


def test_very_long_histories_are_cut_in_the_middle() -> None:
    history = [
        pb.HistoryEvent(eventId=i, timestamp=_ts(ORIGIN), taskScheduled=pb.TaskScheduledEvent(name=f"a{i}"))
        for i in range(500)
    ]
    text = render_report([InstanceView(instance_id="big", history=history)], origin=ORIGIN)
    assert "history (500 events):" in text
    assert "TaskScheduled#0 " in text and "TaskScheduled#499 " in text
    assert "events omitted" in text and "TaskScheduled#250 " not in text


def test_a_naive_origin_from_an_external_sidecar_is_shown_as_utc() -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5)
    text = render_report([], origin=naive, origin_kind="the sidecar's time")
    assert "test's start time 2026-01-02T03:04:05+00:00 (the sidecar's time)" in text


def test_an_instances_failure_message_is_shown_whole_and_wrapped() -> None:
    details = pb.TaskFailureDetails(
        errorType="NonDeterminismError",
        errorMessage="A previous execution called call_activity with ID=3 and name='reserve_inventory', but the "
                     "current replay execution did not produce it; expected the activity 'reserve_inventory'",
    )
    view = InstanceView(instance_id="order-9", status="FAILED", failure=format_failure(details, FAILURE_MESSAGE_LIMIT))
    text = render_report([view], origin=None, faults=None)
    failure_lines = [line for line in text.splitlines() if line.startswith(("  failure: ", "           "))]
    assert len(failure_lines) >= 2 and all(len(line) <= 110 for line in failure_lines)
    joined = " ".join(line.strip() for line in failure_lines)
    assert joined.endswith("expected the activity 'reserve_inventory'")  # the end is not cut off
    assert "chars)" not in joined
