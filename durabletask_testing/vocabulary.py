"""The protocol vocabulary the fake uses, in one place: statuses, wrapper values, timestamps, UTC, clock modes.

Nothing here holds state; every other module of ``durabletask_testing`` reads these names from here.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal, get_args

from google.protobuf import timestamp_pb2, wrappers_pb2
from google.protobuf.message import Message

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from .errors import invalid

ClockMode = Literal["real", "manual", "auto"]
CLOCK_MODES: tuple[ClockMode, ...] = get_args(ClockMode)



def clock_mode(value: str) -> ClockMode:
    """``value`` as a :data:`ClockMode`, or ValueError naming the modes."""
    for mode in CLOCK_MODES:
        if value == mode:
            return mode
    raise ValueError(f"clock mode must be one of {', '.join(CLOCK_MODES)}; got {value!r}")


TERMINAL_STATUSES = frozenset(
    {
        pb.ORCHESTRATION_STATUS_COMPLETED,
        pb.ORCHESTRATION_STATUS_FAILED,
        pb.ORCHESTRATION_STATUS_TERMINATED,
        pb.ORCHESTRATION_STATUS_CANCELED,
    }
)


STATUS_PREFIX = "ORCHESTRATION_STATUS_"


def status_name(status: object) -> str:
    """A status value (an int, or any SDK's enum member) without its prefix, e.g. ``COMPLETED``; an int outside
    the enum -> ``UNKNOWN(999)``."""
    if isinstance(status, int):
        if status not in pb.OrchestrationStatus.values():
            return f"UNKNOWN({status})"
        name = str(pb.OrchestrationStatus.Name(status))
    else:
        name = str(getattr(status, "name", status))
    return name.removeprefix(STATUS_PREFIX)


STATUS_VALUES: dict[str, int] = {status_name(value): value for value in pb.OrchestrationStatus.values()}


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are taken to be UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def parse_iso(text: str) -> datetime:
    """An ISO-8601 date-time (``Z`` allowed; naive means UTC) as an aware UTC datetime; ValueError otherwise."""
    return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def timestamp(when: datetime) -> timestamp_pb2.Timestamp:
    """A datetime (naive means UTC) as a protobuf Timestamp; the same value as ``Timestamp.FromDatetime``, in a
    quarter of its time (the engine stamps every event it writes)."""
    delta = (when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)) - _EPOCH
    return timestamp_pb2.Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)


def to_datetime(stamp: timestamp_pb2.Timestamp, field: str) -> datetime:
    """A protobuf Timestamp as an aware UTC datetime, or INVALID_ARGUMENT naming ``field`` when out of range."""
    try:
        when: datetime = stamp.ToDatetime(tzinfo=timezone.utc)
        return when
    except (ValueError, OverflowError) as error:
        raise invalid(f"{field} is not a valid timestamp ({stamp.seconds}s, {stamp.nanos}ns): {error}") from None


def string_value(value: str | None) -> wrappers_pb2.StringValue | None:
    """``None`` stays absent; any string (even empty) becomes a StringValue."""
    return None if value is None else wrappers_pb2.StringValue(value=value)


def optional_field(message: Message, field: str) -> Any:
    """A message-typed field when it is set, else None (protobuf reads an unset one as its default)."""
    return getattr(message, field) if message.HasField(field) else None


def optional_string(message: Message, field: str) -> str | None:
    """Read a StringValue field as ``str | None`` (absent -> None)."""
    value: str | None = getattr(message, field).value if message.HasField(field) else None
    return value


def default_child_instance_id(parent_instance_id: str, action_id: int) -> str:
    """The id a sub-orchestration gets when its action names none (or a blank one): parent id and action id."""
    return f"{parent_instance_id}:{action_id:04x}"
