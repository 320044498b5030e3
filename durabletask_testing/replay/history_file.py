"""The stored-history JSON format: one orchestration instance's history (one execution) in a file.

::

    {
      "format": "durabletask-history",
      "version": 1,
      "instanceId": "order-42",
      "name": "process_order",          // the orchestrator (ExecutionStarted name); informative
      "events": [ {...}, ... ]           // protobuf JSON of each HistoryEvent, oldest first
    }

Each event is the protocol's ``HistoryEvent`` in protobuf's JSON mapping (camelCase field names, RFC 3339
timestamps, ``{"eventId": 1, "timestamp": "...", "taskScheduled": {"name": "...", "input": "..."}}``), as
the control API's ``GET /v1/instances/{id}/history`` returns them; a bare JSON list of such events is read too
(the instance id is then taken from ExecutionStarted). A file nested deeper than the JSON parser reads is refused
with a :class:`HistoryFileError` naming it, as is anything else not in this format; messages are bounded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from ..messages import bounded
from ..protocol import orchestrator_service_pb2 as pb

FORMAT_NAME = "durabletask-history"
FORMAT_VERSION = 1


class HistoryFileError(ValueError):
    """A stored history is not in the documented format; the message says where and why."""


@dataclass(frozen=True)
class StoredHistory:
    """One instance's recorded history and where it came from."""

    instance_id: str
    events: list[pb.HistoryEvent]
    name: str | None = None
    source: str = ""


def history_document(instance_id: str, events: Sequence[Any], name: str | None = None) -> dict[str, Any]:
    """The JSON document of a history (``events``: HistoryEvent messages of any binding of the protocol)."""
    if name is None:
        name = next((e.executionStarted.name for e in events if e.WhichOneof("eventType") == "executionStarted"), None)
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "instanceId": instance_id,
        "name": name,
        "events": [json_format.MessageToDict(event) for event in events],
    }


def parse_history(document: Any, source: str = "") -> StoredHistory:
    """Read a history document (or a bare list of events)."""
    where = source or "history"
    if isinstance(document, list):
        document = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "events": document}
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise HistoryFileError(f"{where}: not a {FORMAT_NAME} document (expected \"format\": \"{FORMAT_NAME}\")")
    if document.get("version") != FORMAT_VERSION:
        version = document.get("version")
        raise HistoryFileError(f"{where}: unsupported version {version!r} (this reads {FORMAT_VERSION})")
    raw = document.get("events")
    if not isinstance(raw, list):
        raise HistoryFileError(f"{where}: \"events\" must be a list of history events")
    events = []
    for index, item in enumerate(raw):
        try:
            events.append(json_format.ParseDict(item, pb.HistoryEvent()))
        except (json_format.ParseError, TypeError, AttributeError, RecursionError) as error:
            raise HistoryFileError(bounded(f"{where}: events[{index}] is not a HistoryEvent: {error}")) from None
    started = next((e.executionStarted for e in events if e.WhichOneof("eventType") == "executionStarted"), None)
    instance_id = document.get("instanceId") or (started.orchestrationInstance.instanceId if started else "")
    if not instance_id:
        raise HistoryFileError(f"{where}: no instanceId and no ExecutionStarted event naming the instance")
    name = document.get("name") or (started.name if started is not None else None)
    return StoredHistory(instance_id=str(instance_id), events=events, name=name, source=source)


def load_history(path: str | Path) -> StoredHistory:
    """Read a history file."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except RecursionError:
        raise HistoryFileError(f"{path}: cannot read the history: its JSON is nested too deeply") from None
    except (OSError, ValueError) as error:
        raise HistoryFileError(bounded(f"{path}: cannot read the history: {error}")) from None
    return parse_history(document, str(path))


def write_history(document: dict[str, Any], path: str | Path) -> None:
    """Write a history document as indented JSON."""
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
