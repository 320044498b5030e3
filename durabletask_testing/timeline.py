"""Readable text for orchestration histories: one line per event, virtual time as an offset.

Pure functions over protocol messages (``pb.HistoryEvent``) and plain values; no gRPC, no sidecar.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

DEFAULT_VALUE_WIDTH = 80
# An instance's own failure message is shown whole (wrapped) up to this many characters.
FAILURE_MESSAGE_LIMIT = 20_000

# Events created by an orchestrator action: their eventId is the action's task id, worth showing.
_ACTION_EVENTS = frozenset({"taskScheduled", "timerCreated", "subOrchestrationInstanceCreated", "eventSent"})
# Fields that only carry tracing plumbing.
_HIDDEN_FIELDS = frozenset({"parentTraceContext", "orchestrationSpanID", "traceContext"})
_STATUS_PREFIX = "ORCHESTRATION_STATUS_"
_ALWAYS_SHOWN = frozenset({"taskScheduledId", "timerId"})

#: The error type of the failure the fake gives a parent whose sub-orchestration id names an instance that exists
#: and has not FAILED (docs/fidelity.md, "Deliberate differences").
SUB_ORCHESTRATION_ID_IN_USE = "SubOrchestrationIdInUseError"

#: Error types of failures the fake writes where durabletask-go behaves very differently, each with the line a
#: timeline prints under the event that carries one.
FIDELITY_NOTES = {
    SUB_ORCHESTRATION_ID_IN_USE: (
        "!! FIDELITY: the fake refused a sub-orchestration id that is already in use; on durabletask-go this "
        "orchestration would hang (its work item fails and is retried forever). Give each child a distinct id."
    ),
}


def shorten(text: str, width: int = DEFAULT_VALUE_WIDTH) -> str:
    """Cut ``text`` to ``width`` characters, saying how long it was when cut."""
    text = text.replace("\n", "\\n")
    if len(text) <= width:
        return text
    return f"{text[: max(width - 3, 1)]}... ({len(text)} chars)"


def format_offset(moment: datetime | None, origin: datetime | None) -> str:
    """``moment - origin`` as ``+HHH:MM:SS.mmm`` (hours not wrapped at a day); the ISO time without origin."""
    if moment is None:
        return "?"
    if origin is None:
        return moment.isoformat()
    delta = _aware(moment) - _aware(origin)
    sign = "-" if delta < timedelta(0) else "+"
    millis_total = abs(delta) // timedelta(milliseconds=1)
    seconds_total, millis = divmod(millis_total, 1000)
    minutes_total, seconds = divmod(seconds_total, 60)
    hours, minutes = divmod(minutes_total, 60)
    return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def status_name(status: Any) -> str:
    """``pb.OrchestrationStatus`` value (int or enum member) as a short upper-case name such as COMPLETED."""
    from .vocabulary import status_name as name  # imported when used: this module loads no protobuf code

    return name(status)


def event_type_label(event_type: str) -> str:
    """``taskScheduled`` -> ``TaskScheduled``."""
    return event_type[:1].upper() + event_type[1:] if event_type else "UnknownEvent"


def format_failure(details: Any, width: int = DEFAULT_VALUE_WIDTH) -> str:
    """A TaskFailureDetails message (or None) as ``ErrorType: message``, cut to ``width`` characters."""
    if details is None:
        return ""
    error_type = getattr(details, "errorType", "") or "Error"
    message = getattr(details, "errorMessage", "")
    text = f"{error_type}: {message}" if message else error_type
    if getattr(details, "isNonRetriable", False):
        text += " (non-retriable)"
    return shorten(text, width)


def format_event(event: Any, origin: datetime | None, width: int = DEFAULT_VALUE_WIDTH) -> str:
    """One history event as ``+HH:MM:SS.mmm  EventType#id  field=value ...``."""
    event_type = event.WhichOneof("eventType") or ""
    when = format_offset(_timestamp(event, "timestamp"), origin)
    label = event_type_label(event_type)
    if event_type in _ACTION_EVENTS:
        label += f"#{event.eventId}"
    details = _describe_fields(getattr(event, event_type), origin, width) if event_type else ""
    return f"{when}  {label:<26} {details}".rstrip()


def fidelity_note(event: Any) -> str | None:
    """The :data:`FIDELITY_NOTES` line for an event whose failure details the fake wrote as one of those, if any."""
    event_type = event.WhichOneof("eventType")
    if not event_type:
        return None
    payload = getattr(event, event_type)
    if "failureDetails" not in payload.DESCRIPTOR.fields_by_name or not payload.HasField("failureDetails"):
        return None
    return FIDELITY_NOTES.get(payload.failureDetails.errorType)


def format_history(
    events: Iterable[Any], origin: datetime | None, width: int = DEFAULT_VALUE_WIDTH, indent: str = "  "
) -> list[str]:
    """Every event of a history, one line each, and a :func:`fidelity_note` line under an event that has one."""
    lines = []
    for event in events:
        lines.append(indent + format_event(event, origin, width))
        note = fidelity_note(event)
        if note is not None:
            lines.append(indent + "    " + note)
    return lines


def _describe_fields(message: Any, origin: datetime | None, width: int) -> str:
    parts: list[str] = []
    for field in message.DESCRIPTOR.fields:
        if field.name in _HIDDEN_FIELDS or not _is_set(message, field):
            continue
        rendered = _render_value(field, getattr(message, field.name), origin, width)
        if rendered:
            parts.append(f"{field.name}={rendered}")
    return " ".join(parts)


def _is_set(message: Any, field: Any) -> bool:
    if _is_repeated(field):
        return len(getattr(message, field.name)) > 0
    if field.type == field.TYPE_MESSAGE:
        return bool(message.HasField(field.name))
    # Task and timer ids are meaningful even when they are 0.
    return field.name in _ALWAYS_SHOWN or getattr(message, field.name) != field.default_value


def _render_value(field: Any, value: Any, origin: datetime | None, width: int) -> str:
    if _is_map(field):
        if not value:
            return ""
        return "{" + shorten(", ".join(f"{k}={v}" for k, v in sorted(dict(value).items())), width) + "}"
    if field.type == field.TYPE_ENUM:
        enum_name = field.enum_type.values_by_number.get(value)
        name = enum_name.name if enum_name is not None else str(value)
        return name.removeprefix(_STATUS_PREFIX)
    if field.type == field.TYPE_STRING:
        return shorten(repr(value) if field.name.endswith("Id") else str(value), width)
    if field.type != field.TYPE_MESSAGE:
        if _is_repeated(field):
            return shorten(", ".join(str(v) for v in value), width)
        return str(value)
    message_type = field.message_type
    # Protocol messages by their bare name (the fake's bindings live under a proto package); well-known types in full.
    kind = message_type.full_name if message_type.file.package == "google.protobuf" else message_type.name
    if kind == "google.protobuf.StringValue":
        return shorten(value.value, width)
    if kind == "google.protobuf.Timestamp":
        return format_offset(value.ToDatetime(tzinfo=timezone.utc), origin)
    if kind == "TaskFailureDetails":
        return repr(format_failure(value, width))
    if kind == "OrchestrationInstance":
        return repr(value.instanceId)
    if kind == "ParentInstanceInfo":
        parent = value.orchestrationInstance.instanceId
        name = value.name.value if value.HasField("name") else ""
        return f"{parent!r}({name}, taskScheduledId={value.taskScheduledId})"
    return shorten(_describe_fields(value, origin, width), width)


def _is_map(field: Any) -> bool:
    return _is_repeated(field) and field.type == field.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def _is_repeated(field: Any) -> bool:
    is_repeated = getattr(field, "is_repeated", None)
    if is_repeated is not None:
        return bool(is_repeated)
    return bool(field.label == field.LABEL_REPEATED)


def _timestamp(message: Any, name: str) -> datetime | None:
    if not message.HasField(name):
        return None
    moment: datetime = getattr(message, name).ToDatetime(tzinfo=timezone.utc)
    return moment


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
