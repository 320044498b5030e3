"""The SDK's one home for protocol vocabulary: status names, StringValue/Timestamp helpers, UTC
normalisation, failure details, the default child instance id rule, and protobuf action builders.

Timestamps: the SDK works with *naive UTC* datetimes (as the published package does); helpers accept
aware datetimes too and normalise them to UTC.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2, wrappers_pb2
from google.protobuf.message import Message

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


def read_timestamp(ts: timestamp_pb2.Timestamp) -> datetime:
    """A protobuf Timestamp as a naive UTC datetime."""
    value: datetime = ts.ToDatetime()
    return value


# -------------------------------------------------------------------------------------- identities


def derive_child_instance_id(parent_instance_id: str, action_id: int) -> str:
    """Default sub-orchestration instance id: the parent's id and the action id (as other SDKs derive it)."""
    return f"{parent_instance_id}:{action_id:04x}"


# ---------------------------------------------------------------------------------------- wrappers


def get_string_value(val: str | None) -> wrappers_pb2.StringValue | None:
    """Wrap a string in a StringValue, or return None for None."""
    return None if val is None else wrappers_pb2.StringValue(value=val)


def read_string_value(holder: Message, field: str) -> str | None:
    """The text of StringValue field ``field`` of ``holder``; None when the field is absent or empty."""
    if not holder.HasField(field):
        return None
    value: str = getattr(holder, field).value
    return value if value != "" else None


def get_orchestration_status_str(status: int) -> str:
    """Human readable name of a protobuf OrchestrationStatus value."""
    return _STATUS_NAMES.get(status, "UNKNOWN")


# ----------------------------------------------------------------------------------------- failures


def get_qualified_name(t: type) -> str:
    """Return ``module.QualName`` of a type (builtins keep their ``builtins.`` prefix)."""
    module = getattr(t, "__module__", None)
    name = getattr(t, "__qualname__", None) or getattr(t, "__name__", None) or str(t)
    return f"{module}.{name}" if module else name


def python_value(value: struct_pb2.Value) -> Any:
    """A protobuf ``Value`` (failure-details property) as a plain Python value."""
    return json_format.MessageToDict(value)


def protobuf_value(value: Any) -> struct_pb2.Value:
    """A JSON-like Python value as a protobuf ``Value`` (other values are stored as their ``str``)."""
    message = struct_pb2.Value()
    try:
        json_format.ParseDict(value, message)
    except (json_format.ParseError, TypeError, AttributeError):
        message.string_value = str(value)
    return message


def new_failure_details(ex: BaseException, _depth: int = 0, properties_provider: Any = None) -> pb.TaskFailureDetails:
    """Build TaskFailureDetails from an exception (qualified type name, message, stack trace, chained cause).

    ``properties_provider`` (an ``ExceptionPropertiesProvider``) adds custom ``properties`` to every level; a
    provider that raises or returns a non-mapping is logged and ignored.
    """
    details = pb.TaskFailureDetails(
        errorType=get_qualified_name(type(ex)),
        errorMessage=str(ex),
        stackTrace=get_string_value("".join(traceback.format_tb(ex.__traceback__))),
    )
    if properties_provider is not None:
        for key, value in _provided_properties(properties_provider, ex).items():
            details.properties[key].CopyFrom(protobuf_value(value))
    inner = ex.__cause__ or ex.__context__
    if isinstance(inner, Exception) and inner is not ex and _depth < 10:
        details.innerFailure.CopyFrom(new_failure_details(inner, _depth + 1, properties_provider))
    return details


def _provided_properties(provider: Any, ex: BaseException) -> dict[str, Any]:
    try:
        provided = provider.get_exception_properties(ex)
        if provided is None:
            return {}
        if not isinstance(provided, Mapping):
            raise TypeError("get_exception_properties() must return a mapping or None")
        return {str(k): v for k, v in provided.items()}
    except Exception:
        logging.getLogger("durabletask.worker").warning(
            "The exception properties provider failed for %s; no properties recorded.",
            get_qualified_name(type(ex)), exc_info=True)
        return {}


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


def new_call_entity_message(request_id: str, parent_instance_id: str, entity_id: str, operation: str,
                            encoded_input: str | None) -> pb.SendEntityMessageAction:
    """Entity message calling ``operation`` on ``entity_id``; the answer comes back to ``parent_instance_id``."""
    return pb.SendEntityMessageAction(entityOperationCalled=pb.EntityOperationCalledEvent(
        requestId=request_id, operation=operation, input=get_string_value(encoded_input),
        parentInstanceId=get_string_value(parent_instance_id), targetInstanceId=get_string_value(entity_id)))


def new_signal_entity_message(request_id: str, entity_id: str, operation: str, encoded_input: str | None,
                              signal_time: datetime | None = None) -> pb.SendEntityMessageAction:
    """Entity message signalling ``operation`` on ``entity_id`` (delivered at ``signal_time`` when given)."""
    return pb.SendEntityMessageAction(entityOperationSignaled=pb.EntityOperationSignaledEvent(
        requestId=request_id, operation=operation, input=get_string_value(encoded_input),
        scheduledTime=new_timestamp(signal_time) if signal_time is not None else None,
        targetInstanceId=get_string_value(entity_id)))


def new_lock_request_message(critical_section_id: str, parent_instance_id: str, lock_set: list[str]
                             ) -> pb.SendEntityMessageAction:
    """Entity message asking for the locks of ``lock_set`` (sorted ids), starting with its first entity."""
    return pb.SendEntityMessageAction(entityLockRequested=pb.EntityLockRequestedEvent(
        criticalSectionId=critical_section_id, lockSet=lock_set, position=0,
        parentInstanceId=get_string_value(parent_instance_id)))


def new_unlock_message(critical_section_id: str, parent_instance_id: str, entity_id: str
                       ) -> pb.SendEntityMessageAction:
    """Entity message releasing ``entity_id``'s lock held by the critical section."""
    return pb.SendEntityMessageAction(entityUnlockSent=pb.EntityUnlockSentEvent(
        criticalSectionId=critical_section_id, parentInstanceId=get_string_value(parent_instance_id),
        targetInstanceId=get_string_value(entity_id)))


# ------------------------------------------------------------------------------------------- events


def new_event_raised_event(name: str, encoded_input: str | None = None,
                           timestamp: datetime | None = None) -> pb.HistoryEvent:
    """EventRaised event named ``name`` (continue-as-new carries buffered events over as these)."""
    ts = new_timestamp(timestamp if timestamp is not None else datetime.now(timezone.utc))
    return pb.HistoryEvent(eventId=-1, timestamp=ts,
                           eventRaised=pb.EventRaisedEvent(name=name, input=get_string_value(encoded_input)))
