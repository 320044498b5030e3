"""Protobuf builders and conversions shared by the SDK (and reusable by the fake sidecar).

Timestamps: the SDK works with *naive UTC* datetimes (as the published package does); helpers accept
aware datetimes too and normalise them to UTC.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from datetime import datetime, timezone

from google.protobuf import timestamp_pb2, wrappers_pb2

from durabletask.internal import orchestrator_service_pb2 as pb

_STATUS_NAMES: dict[int, str] = {
    pb.ORCHESTRATION_STATUS_RUNNING: "RUNNING",
    pb.ORCHESTRATION_STATUS_COMPLETED: "COMPLETED",
    pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW: "CONTINUED_AS_NEW",
    pb.ORCHESTRATION_STATUS_FAILED: "FAILED",
    pb.ORCHESTRATION_STATUS_CANCELED: "CANCELED",
    pb.ORCHESTRATION_STATUS_TERMINATED: "TERMINATED",
    pb.ORCHESTRATION_STATUS_PENDING: "PENDING",
    pb.ORCHESTRATION_STATUS_SUSPENDED: "SUSPENDED",
}


# ---------------------------------------------------------------------------------------------- time


def to_naive_utc(dt: datetime) -> datetime:
    """Return ``dt`` as a naive UTC datetime (aware values are converted, naive ones kept as they are)."""
    if dt.utcoffset() is not None:
        return dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def new_timestamp(dt: datetime) -> timestamp_pb2.Timestamp:
    """Build a protobuf Timestamp from a datetime (naive values are taken as UTC)."""
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(to_naive_utc(dt))
    return ts


# ---------------------------------------------------------------------------------------- wrappers


def get_string_value(val: str | None) -> wrappers_pb2.StringValue | None:
    """Wrap a string in a StringValue, or return None for None."""
    return None if val is None else wrappers_pb2.StringValue(value=val)


def is_empty(val: wrappers_pb2.StringValue | None) -> bool:
    """True when a StringValue is absent or holds the empty string."""
    return val is None or val.value == ""


def get_orchestration_status_str(status: int) -> str:
    """Human readable name of a protobuf OrchestrationStatus value."""
    return _STATUS_NAMES.get(status, "UNKNOWN")


# ----------------------------------------------------------------------------------------- failures


def get_qualified_name(t: type) -> str:
    """Return ``module.QualName`` of a type (builtins keep their ``builtins.`` prefix)."""
    module = getattr(t, "__module__", None)
    name = getattr(t, "__qualname__", None) or getattr(t, "__name__", None) or str(t)
    return f"{module}.{name}" if module else name


def new_failure_details(ex: BaseException, _depth: int = 0) -> pb.TaskFailureDetails:
    """Build TaskFailureDetails from an exception (type, message, stack trace, chained cause)."""
    details = pb.TaskFailureDetails(
        errorType=get_qualified_name(type(ex)),
        errorMessage=str(ex),
        stackTrace=wrappers_pb2.StringValue(value="".join(traceback.format_tb(ex.__traceback__))),
    )
    inner = ex.__cause__ or ex.__context__
    if isinstance(inner, Exception) and inner is not ex and _depth < 10:
        details.innerFailure.CopyFrom(new_failure_details(inner, _depth + 1))
    return details


# ------------------------------------------------------------------------------------------ actions


def new_schedule_task_action(action_id: int, name: str, encoded_input: str | None,
                             tags: dict[str, str] | None = None,
                             version: str | None = None) -> pb.OrchestratorAction:
    """OrchestratorAction scheduling an activity."""
    return pb.OrchestratorAction(id=action_id, scheduleTask=pb.ScheduleTaskAction(
        name=name, input=get_string_value(encoded_input), tags=tags, version=get_string_value(version)))


def new_create_timer_action(action_id: int, fire_at: datetime) -> pb.OrchestratorAction:
    """OrchestratorAction creating a durable timer."""
    return pb.OrchestratorAction(id=action_id, createTimer=pb.CreateTimerAction(fireAt=new_timestamp(fire_at)))


def new_create_sub_orchestration_action(action_id: int, name: str, instance_id: str, encoded_input: str | None,
                                        version: str | None = None) -> pb.OrchestratorAction:
    """OrchestratorAction starting a sub-orchestration."""
    return pb.OrchestratorAction(id=action_id, createSubOrchestration=pb.CreateSubOrchestrationAction(
        name=name, instanceId=instance_id, input=get_string_value(encoded_input), version=get_string_value(version)))


def new_send_event_action(action_id: int, instance_id: str, name: str, encoded_data: str | None
                          ) -> pb.OrchestratorAction:
    """OrchestratorAction sending an event to another instance."""
    return pb.OrchestratorAction(id=action_id, sendEvent=pb.SendEventAction(
        instance=pb.OrchestrationInstance(instanceId=instance_id), name=name, data=get_string_value(encoded_data)))


def new_complete_orchestration_action(action_id: int, status: int, result: str | None = None,
                                      failure_details: pb.TaskFailureDetails | None = None,
                                      carryover_events: Iterable[pb.HistoryEvent] | None = None,
                                      new_version: str | None = None) -> pb.OrchestratorAction:
    """OrchestratorAction completing (or continuing-as-new) the orchestration."""
    return pb.OrchestratorAction(id=action_id, completeOrchestration=pb.CompleteOrchestrationAction(
        orchestrationStatus=status,  # type: ignore[arg-type]
        result=get_string_value(result), failureDetails=failure_details,
        carryoverEvents=carryover_events, newVersion=get_string_value(new_version)))


# ------------------------------------------------------------------------------------------- events


def _event(timestamp: datetime | None = None, event_id: int = -1) -> pb.HistoryEvent:
    ts = new_timestamp(timestamp if timestamp is not None else datetime.now(timezone.utc))
    return pb.HistoryEvent(eventId=event_id, timestamp=ts)


def new_orchestrator_started_event(timestamp: datetime | None = None) -> pb.HistoryEvent:
    """OrchestratorStarted event stamped with ``timestamp`` (default: now)."""
    e = _event(timestamp)
    e.orchestratorStarted.SetInParent()
    return e


def new_execution_started_event(name: str, instance_id: str, encoded_input: str | None = None,
                                version: str | None = None, parent_instance_id: str | None = None,
                                tags: dict[str, str] | None = None,
                                timestamp: datetime | None = None) -> pb.HistoryEvent:
    """ExecutionStarted event for instance ``instance_id`` of orchestrator ``name``."""
    e = _event(timestamp)
    e.executionStarted.CopyFrom(pb.ExecutionStartedEvent(
        name=name, input=get_string_value(encoded_input), version=get_string_value(version), tags=tags,
        orchestrationInstance=pb.OrchestrationInstance(instanceId=instance_id)))
    if parent_instance_id is not None:
        e.executionStarted.parentInstance.orchestrationInstance.instanceId = parent_instance_id
    return e


def new_task_scheduled_event(event_id: int, name: str, encoded_input: str | None = None) -> pb.HistoryEvent:
    """TaskScheduled event for action ``event_id``."""
    e = _event(event_id=event_id)
    e.taskScheduled.CopyFrom(pb.TaskScheduledEvent(name=name, input=get_string_value(encoded_input)))
    return e


def new_task_completed_event(task_id: int, encoded_output: str | None = None) -> pb.HistoryEvent:
    """TaskCompleted event for the activity scheduled with id ``task_id``."""
    e = _event()
    e.taskCompleted.CopyFrom(pb.TaskCompletedEvent(taskScheduledId=task_id, result=get_string_value(encoded_output)))
    return e


def new_task_failed_event(task_id: int, ex: BaseException) -> pb.HistoryEvent:
    """TaskFailed event for the activity scheduled with id ``task_id``."""
    e = _event()
    e.taskFailed.CopyFrom(pb.TaskFailedEvent(taskScheduledId=task_id, failureDetails=new_failure_details(ex)))
    return e


def new_timer_created_event(timer_id: int, fire_at: datetime) -> pb.HistoryEvent:
    """TimerCreated event for action ``timer_id``."""
    e = _event(event_id=timer_id)
    e.timerCreated.fireAt.CopyFrom(new_timestamp(fire_at))
    return e


def new_timer_fired_event(timer_id: int, fire_at: datetime) -> pb.HistoryEvent:
    """TimerFired event for timer ``timer_id``."""
    e = _event()
    e.timerFired.CopyFrom(pb.TimerFiredEvent(fireAt=new_timestamp(fire_at), timerId=timer_id))
    return e


def new_sub_orchestration_created_event(event_id: int, name: str, instance_id: str,
                                        encoded_input: str | None = None,
                                        version: str | None = None) -> pb.HistoryEvent:
    """SubOrchestrationInstanceCreated event for action ``event_id``."""
    e = _event(event_id=event_id)
    e.subOrchestrationInstanceCreated.CopyFrom(pb.SubOrchestrationInstanceCreatedEvent(
        name=name, instanceId=instance_id, input=get_string_value(encoded_input), version=get_string_value(version)))
    return e


def new_sub_orchestration_completed_event(task_id: int, encoded_output: str | None = None) -> pb.HistoryEvent:
    """SubOrchestrationInstanceCompleted event for action ``task_id``."""
    e = _event()
    e.subOrchestrationInstanceCompleted.CopyFrom(pb.SubOrchestrationInstanceCompletedEvent(
        taskScheduledId=task_id, result=get_string_value(encoded_output)))
    return e


def new_sub_orchestration_failed_event(task_id: int, ex: BaseException) -> pb.HistoryEvent:
    """SubOrchestrationInstanceFailed event for action ``task_id``."""
    e = _event()
    e.subOrchestrationInstanceFailed.CopyFrom(pb.SubOrchestrationInstanceFailedEvent(
        taskScheduledId=task_id, failureDetails=new_failure_details(ex)))
    return e


def new_event_raised_event(name: str, encoded_input: str | None = None) -> pb.HistoryEvent:
    """EventRaised event named ``name``."""
    e = _event()
    e.eventRaised.CopyFrom(pb.EventRaisedEvent(name=name, input=get_string_value(encoded_input)))
    return e


def new_event_sent_event(event_id: int, instance_id: str, name: str, encoded_input: str | None = None
                         ) -> pb.HistoryEvent:
    """EventSent event for action ``event_id``."""
    e = _event(event_id=event_id)
    e.eventSent.CopyFrom(pb.EventSentEvent(instanceId=instance_id, name=name, input=get_string_value(encoded_input)))
    return e


def new_suspend_event() -> pb.HistoryEvent:
    """ExecutionSuspended event."""
    e = _event()
    e.executionSuspended.SetInParent()
    return e


def new_resume_event() -> pb.HistoryEvent:
    """ExecutionResumed event."""
    e = _event()
    e.executionResumed.SetInParent()
    return e


def new_terminated_event(encoded_output: str | None = None, recurse: bool = False) -> pb.HistoryEvent:
    """ExecutionTerminated event carrying the termination output."""
    e = _event()
    e.executionTerminated.CopyFrom(pb.ExecutionTerminatedEvent(input=get_string_value(encoded_output),
                                                               recurse=recurse))
    return e
