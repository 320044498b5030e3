"""Size limits on what a request may carry, checked at the gRPC boundary before the engine sees the request.

Every string field of a request is checked, wherever it is nested (actions, carried-over events, filters):
ids and tokens, names and versions, reasons, tag keys and values against the :class:`Limits` below (bytes of
UTF-8); every other string (inputs, outputs, results, event data, error messages) and every structured value
(``properties``) against the payload limit. A string over its limit is refused with INVALID_ARGUMENT, a
payload or the tags of one message over theirs with RESOURCE_EXHAUSTED; the message names the field's path
(``actions[2].scheduleTask.name``) and the limit. The whole request is bounded by gRPC itself
(``Limits.request_bytes``, RESOURCE_EXHAUSTED).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ..errors import EngineError, ErrorCode, invalid
from ..messages import echo

KIB = 1024
MIB = 1024 * KIB

# Field names by kind; a string field named in none of these is a payload.
ID_FIELDS = frozenset(
    {
        "instanceId", "executionId", "parentInstanceId", "parentExecutionId", "targetInstanceId", "instanceIds",
        "instanceIdPrefix", "instanceIdStartsWith", "unterminatedInstanceIds", "completionToken",
        "continuationToken", "lastInstanceKey", "requestId", "criticalSectionId", "lockSet", "lockedBy",
        "worker_instance_id", "taskHubNames", "spanID", "orchestrationSpanID", "traceParent", "traceState",
        "taskExecutionId", "sourceAppID", "targetAppID", "targetAppNamespace",  # the Dapr dialect's
    }
)  # fmt: skip
NAME_FIELDS = frozenset({"name", "version", "newVersion", "versions", "operation", "errorType", "patches"})
REASON_FIELDS = frozenset({"reason"})
TAG_FIELDS = frozenset({"tags"})
STRING_VALUE = "google.protobuf.StringValue"
PAYLOADS = "payloads"


@dataclass(frozen=True)
class Limits:
    """The largest strings and request the fake accepts, in bytes (UTF-8). Payloads: ``max_payload_bytes``."""

    id_bytes: int = 1 * KIB
    """Instance and execution ids, completion and continuation tokens, trace ids."""
    name_bytes: int = 1 * KIB
    """Orchestration, activity, event and operation names; versions; error types; tag and property keys."""
    reason_bytes: int = 64 * KIB
    """Reasons of suspend, resume, terminate and rewind."""
    tag_value_bytes: int = 16 * KIB
    """One tag's value."""
    tags_bytes: int = 64 * KIB
    """All tags of one message, keys and values together."""
    request_bytes: int | None = None
    """A whole request message; None: 64 MiB or four payloads, whichever is larger."""

    def __post_init__(self) -> None:
        for name in ("id_bytes", "name_bytes", "reason_bytes", "tag_value_bytes", "tags_bytes", "request_bytes"):
            value = getattr(self, name)
            if value is None and name == "request_bytes":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive integer; got {value!r}")

    def request_limit(self, max_payload_bytes: int) -> int:
        """The whole-request limit in bytes, given the payload limit."""
        if self.request_bytes is not None:
            return self.request_bytes
        return max(64 * MIB, 4 * max_payload_bytes)

    def smallest(self) -> int:
        """The smallest string limit: a request no larger than this needs no field-by-field check."""
        return min(self.id_bytes, self.name_bytes, self.reason_bytes, self.tag_value_bytes, self.tags_bytes)


def check_request(request: Message, limits: Limits, max_payload_bytes: int) -> None:
    """Refuse ``request`` when one of its strings is over its limit (EngineError naming the field and limit)."""
    if request.ByteSize() <= min(limits.smallest(), max_payload_bytes):
        return  # no string inside can be larger than the whole message
    _Checker(limits, max_payload_bytes).message(request, "")


class _Checker:
    """Walks a message's fields, checking each string against the limit of its field's kind."""

    def __init__(self, limits: Limits, max_payload_bytes: int) -> None:
        self._limits = limits
        self._payload = max_payload_bytes

    def message(self, message: Message, path: str) -> None:
        for field, value in message.ListFields():
            where = f"{path}.{field.name}" if path else field.name
            if field.type == FieldDescriptor.TYPE_STRING:
                for at, text in _items(field, value, where):
                    self.text(field.name, text, at)
            elif field.type != FieldDescriptor.TYPE_MESSAGE:
                continue
            elif field.message_type.GetOptions().map_entry:
                self.map(field.name, value, where)
            elif field.message_type.full_name == STRING_VALUE:
                for at, wrapper in _items(field, value, where):
                    self.text(field.name, wrapper.value, at)
            else:
                for at, item in _items(field, value, where):
                    self.message(item, at)

    def map(self, name: str, entries: Any, where: str) -> None:
        total = 0
        for key, value in entries.items():
            at = f"{where}[{echo(key, 32)}]"
            total += _checked(key, f"{at} (key)", self._limits.name_bytes, "keys")
            if isinstance(value, Message):  # e.g. a google.protobuf.Value of `properties`
                size = value.ByteSize()
                if size > self._payload:
                    raise _too_large(at, size, self._payload, PAYLOADS)
            elif name in TAG_FIELDS:
                total += _checked(value, at, self._limits.tag_value_bytes, "tag values")
            else:
                self.text(name, value, at)
        if name in TAG_FIELDS and total > self._limits.tags_bytes:
            raise EngineError(
                ErrorCode.RESOURCE_EXHAUSTED,
                f"{where} hold {total} bytes (keys and values), over the fake sidecar's limit of "
                f"{self._limits.tags_bytes} bytes for the tags of one message",
            )

    def text(self, name: str, value: str, where: str) -> None:
        if name in ID_FIELDS:
            _check(value, where, self._limits.id_bytes, "ids and tokens")
        elif name in NAME_FIELDS:
            _check(value, where, self._limits.name_bytes, "names and versions")
        elif name in REASON_FIELDS:
            _check(value, where, self._limits.reason_bytes, "reasons")
        else:
            _check(value, where, self._payload, PAYLOADS)


def _check(value: str, where: str, limit: int, kind: str) -> None:
    """Raise when ``value`` is over ``limit`` bytes of UTF-8."""
    if len(value) * 4 > limit:  # else it fits whatever its characters: no need to encode it
        _checked(value, where, limit, kind)


def _checked(value: str, where: str, limit: int, kind: str) -> int:
    """The UTF-8 size of ``value``; raises when it is over ``limit``."""
    size = len(value.encode("utf-8", errors="surrogatepass"))
    if size > limit:
        raise _too_large(where, size, limit, kind)
    return size


def _too_large(where: str, size: int, limit: int, kind: str) -> EngineError:
    if kind == PAYLOADS:
        return EngineError(
            ErrorCode.RESOURCE_EXHAUSTED,
            f"{where} is {size} bytes, over the fake sidecar's payload limit of {limit} bytes",
        )
    return invalid(f"{where} is {size} bytes, over the fake sidecar's limit of {limit} bytes for {kind}")


def _items(field: FieldDescriptor, value: Any, where: str) -> Iterator[tuple[str, Any]]:
    """(path, value) of each element of a repeated field, or of the one value of a singular field."""
    if not field.is_repeated:
        yield where, value
        return
    for index, item in enumerate(value):
        yield f"{where}[{index}]", item
