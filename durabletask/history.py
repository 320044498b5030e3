"""Typed orchestration history events, as returned by ``TaskHubGrpcClient.get_orchestration_history``.

One dataclass per protocol history event (same names and fields as the published ``durabletask`` package).
Payloads (inputs, results) stay the serialized strings recorded in history; timestamps are timezone-aware
UTC datetimes; failures are :class:`durabletask.task.FailureDetails`. :func:`to_dict` gives a JSON-ready dict.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from durabletask import task
from durabletask.internal import orchestrator_service_pb2 as pb


@dataclass(slots=True)
class OrchestrationInstance:
    """An instance id and, when known, the execution id."""

    instance_id: str
    execution_id: str | None = None


@dataclass(slots=True)
class ParentInstanceInfo:
    """The parent of a sub-orchestration: the scheduling action's id, its name, version and instance."""

    task_scheduled_id: int
    name: str | None = None
    version: str | None = None
    orchestration_instance: OrchestrationInstance | None = None


@dataclass(slots=True)
class TraceContext:
    """W3C trace context recorded with an event."""

    trace_parent: str
    span_id: str
    trace_state: str | None = None


@dataclass(slots=True)
class HistoryEvent:
    """Base of all history events: the event id and the time the sidecar recorded it."""

    event_id: int
    timestamp: datetime

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (datetimes as ISO 8601 strings, nested dataclasses as dicts)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(slots=True)
class ExecutionStartedEvent(HistoryEvent):
    name: str
    version: str | None = None
    input: str | None = None
    orchestration_instance: OrchestrationInstance | None = None
    parent_instance: ParentInstanceInfo | None = None
    scheduled_start_timestamp: datetime | None = None
    parent_trace_context: TraceContext | None = None
    orchestration_span_id: str | None = None
    tags: dict[str, str] | None = None


@dataclass(slots=True)
class ExecutionCompletedEvent(HistoryEvent):
    orchestration_status: int
    result: str | None = None
    failure_details: task.FailureDetails | None = None


@dataclass(slots=True)
class ExecutionTerminatedEvent(HistoryEvent):
    input: str | None = None
    recurse: bool = False


@dataclass(slots=True)
class TaskScheduledEvent(HistoryEvent):
    name: str
    version: str | None = None
    input: str | None = None
    parent_trace_context: TraceContext | None = None
    tags: dict[str, str] | None = None


@dataclass(slots=True)
class TaskCompletedEvent(HistoryEvent):
    task_scheduled_id: int
    result: str | None = None


@dataclass(slots=True)
class TaskFailedEvent(HistoryEvent):
    task_scheduled_id: int
    failure_details: task.FailureDetails | None = None


@dataclass(slots=True)
class SubOrchestrationInstanceCreatedEvent(HistoryEvent):
    instance_id: str
    name: str
    version: str | None = None
    input: str | None = None
    parent_trace_context: TraceContext | None = None
    tags: dict[str, str] | None = None


@dataclass(slots=True)
class SubOrchestrationInstanceCompletedEvent(HistoryEvent):
    task_scheduled_id: int
    result: str | None = None


@dataclass(slots=True)
class SubOrchestrationInstanceFailedEvent(HistoryEvent):
    task_scheduled_id: int
    failure_details: task.FailureDetails | None = None


@dataclass(slots=True)
class TimerCreatedEvent(HistoryEvent):
    fire_at: datetime


@dataclass(slots=True)
class TimerFiredEvent(HistoryEvent):
    fire_at: datetime
    timer_id: int


@dataclass(slots=True)
class OrchestratorStartedEvent(HistoryEvent):
    pass


@dataclass(slots=True)
class OrchestratorCompletedEvent(HistoryEvent):
    pass


@dataclass(slots=True)
class EventSentEvent(HistoryEvent):
    instance_id: str
    name: str
    input: str | None = None


@dataclass(slots=True)
class EventRaisedEvent(HistoryEvent):
    name: str
    input: str | None = None


@dataclass(slots=True)
class GenericEvent(HistoryEvent):
    data: str | None = None


@dataclass(slots=True)
class HistoryStateEvent(HistoryEvent):
    orchestration_state: dict[str, Any]


@dataclass(slots=True)
class ContinueAsNewEvent(HistoryEvent):
    input: str | None = None


@dataclass(slots=True)
class ExecutionSuspendedEvent(HistoryEvent):
    input: str | None = None


@dataclass(slots=True)
class ExecutionResumedEvent(HistoryEvent):
    input: str | None = None


@dataclass(slots=True)
class EntityOperationSignaledEvent(HistoryEvent):
    request_id: str
    operation: str
    scheduled_time: datetime | None = None
    input: str | None = None
    target_instance_id: str | None = None


@dataclass(slots=True)
class EntityOperationCalledEvent(HistoryEvent):
    request_id: str
    operation: str
    scheduled_time: datetime | None = None
    input: str | None = None
    parent_instance_id: str | None = None
    parent_execution_id: str | None = None
    target_instance_id: str | None = None


@dataclass(slots=True)
class EntityOperationCompletedEvent(HistoryEvent):
    request_id: str
    output: str | None = None


@dataclass(slots=True)
class EntityOperationFailedEvent(HistoryEvent):
    request_id: str
    failure_details: task.FailureDetails | None = None


@dataclass(slots=True)
class EntityLockRequestedEvent(HistoryEvent):
    critical_section_id: str
    lock_set: list[str]
    position: int
    parent_instance_id: str | None = None


@dataclass(slots=True)
class EntityLockGrantedEvent(HistoryEvent):
    critical_section_id: str


@dataclass(slots=True)
class EntityUnlockSentEvent(HistoryEvent):
    critical_section_id: str
    parent_instance_id: str | None = None
    target_instance_id: str | None = None


@dataclass(slots=True)
class ExecutionRewoundEvent(HistoryEvent):
    reason: str | None = None
    parent_execution_id: str | None = None
    instance_id: str | None = None
    parent_trace_context: TraceContext | None = None
    name: str | None = None
    version: str | None = None
    input: str | None = None
    parent_instance: ParentInstanceInfo | None = None
    tags: dict[str, str] | None = None


def to_dict(event: HistoryEvent) -> dict[str, Any]:
    """``event.to_dict()``."""
    return event.to_dict()


# ------------------------------------------------------------------------------------ from protobuf

def _oneof_name(cls: type[HistoryEvent]) -> str:
    name = cls.__name__
    if cls is not GenericEvent:
        name = name[:-len("Event")]
    return name[0].lower() + name[1:]


_EVENT_CLASSES: dict[str, type[HistoryEvent]] = {
    _oneof_name(cls): cls
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, HistoryEvent) and cls is not HistoryEvent
}
"""Protocol oneof field (``executionStarted`` ...) -> event class, derived from the class names."""

_NESTED_CLASSES: dict[str, type[Any]] = {
    "OrchestrationInstance": OrchestrationInstance,
    "ParentInstanceInfo": ParentInstanceInfo,
    "TraceContext": TraceContext,
}
_PROTO_NAME_EXCEPTIONS = {"span_id": "spanID", "orchestration_span_id": "orchestrationSpanID"}


def _proto_name(field_name: str) -> str:
    special = _PROTO_NAME_EXCEPTIONS.get(field_name)
    if special is not None:
        return special
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), field_name)


def _timestamp(value: Any) -> datetime:
    converted: datetime = value.ToDatetime(timezone.utc)
    return converted


def _read_field(message: Message, field: FieldDescriptor) -> Any:
    value = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return dict(value) if value else None
    if field.is_repeated:
        return list(value)
    if field.message_type is None:
        return value
    if not message.HasField(field.name):
        return None
    kind = field.message_type.name
    if kind == "StringValue":
        return value.value
    if kind == "Timestamp":
        return _timestamp(value)
    if kind == "TaskFailureDetails":
        return task.failure_details_from_proto(value)
    if kind == "OrchestrationState":
        return json_format.MessageToDict(value, preserving_proto_field_name=True)
    nested = _NESTED_CLASSES.get(kind)
    if nested is not None:
        return _convert(value, nested)
    return json_format.MessageToDict(value, preserving_proto_field_name=True)


def _convert(message: Message, cls: type[Any], **known: Any) -> Any:
    descriptor = message.DESCRIPTOR
    kwargs = dict(known)
    for f in dataclasses.fields(cls):
        if f.name in kwargs:
            continue
        proto_field = descriptor.fields_by_name.get(_proto_name(f.name))
        if proto_field is not None:
            kwargs[f.name] = _read_field(message, proto_field)
    return cls(**kwargs)


def from_protobuf(event: pb.HistoryEvent) -> HistoryEvent:
    """The typed form of a protobuf history event (raises ValueError for an event without a known type)."""
    kind = event.WhichOneof("eventType")
    if kind is None:
        raise ValueError("The history event has no event type.")
    cls = _EVENT_CLASSES.get(kind)
    if cls is None:
        raise ValueError(f"Unsupported history event type '{kind}'.")
    converted: HistoryEvent = _convert(getattr(event, kind), cls, event_id=event.eventId,
                                       timestamp=_timestamp(event.timestamp))
    return converted


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
