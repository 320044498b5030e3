"""Golden timelines: an instance's normalised timeline compared with a snapshot file kept next to the test.

``durable_timeline_snapshot(instance_id)`` renders what the instance did as lines of
``+HH:MM:SS.mmm  EventKind  name`` (virtual-time offsets from the instance's start; no instance, execution or
task ids; no work-item boundaries) and compares them with
``<test folder>/__durable_timelines__/<test file>/<test name>[-<label>].txt``. A difference fails the test with
a unified diff; ``pytest --durabletask-update-timelines`` writes the files instead (review them like code).

Results that land together (several activity completions in a row, say) are listed in a stable order, so that
thread timing, which may deliver them in either order, never changes the file; what the orchestration did in
response still does.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from durabletask_testing.timeline import event_type_label, format_offset, status_name

SNAPSHOT_FOLDER = "__durable_timelines__"
OPTION_UPDATE = "--durabletask-update-timelines"
OPTION_UPDATE_DEST = "durabletask_update_timelines"

# Work-item boundaries depend on how results were batched, not on what the orchestration did.
_BOUNDARY_EVENTS = frozenset({"orchestratorStarted", "orchestratorCompleted"})
# Events that arrive from outside the orchestrator (results, raised events, fired timers): their relative order
# within one run of such events is a matter of timing.
_ARRIVALS = frozenset({
    "taskCompleted", "taskFailed", "subOrchestrationInstanceCompleted", "subOrchestrationInstanceFailed",
    "timerFired", "eventRaised", "executionSuspended", "executionResumed", "executionTerminated",
})


def _timestamp(message: Any, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    moment: datetime = getattr(message, field).ToDatetime(tzinfo=timezone.utc)
    return moment


def _describe(event_type: str, body: Any, origin: datetime | None) -> str:
    parts: list[str] = []
    name: Any = getattr(body, "name", None)
    if isinstance(name, str):
        if name:
            parts.append(name)
    elif name is not None and hasattr(name, "value") and name.value:  # StringValue names
        parts.append(str(name.value))
    if event_type == "timerCreated":
        parts.append(f"fires {format_offset(_timestamp(body, 'fireAt'), origin)}")
    if event_type == "executionCompleted":
        parts.append(status_name(body.orchestrationStatus))
    if event_type in ("taskFailed", "subOrchestrationInstanceFailed") and body.HasField("failureDetails"):
        parts.append(body.failureDetails.errorType)
    return " ".join(parts)


def normalised_timeline(history: Sequence[Any]) -> list[str]:
    """The lines a golden timeline file holds for ``history`` (a list of HistoryEvent messages)."""
    origin = _timestamp(history[0], "timestamp") if history else None
    lines: list[str] = []
    arrivals: list[str] = []
    for event in history:
        event_type = event.WhichOneof("eventType") or ""
        if event_type in _BOUNDARY_EVENTS:
            continue
        line = f"{format_offset(_timestamp(event, 'timestamp'), origin)}  {event_type_label(event_type)}"
        detail = _describe(event_type, getattr(event, event_type), origin) if event_type else ""
        line = f"{line}  {detail}".rstrip()
        if event_type in _ARRIVALS:
            arrivals.append(line)
            continue
        lines.extend(sorted(arrivals))
        arrivals.clear()
        lines.append(line)
    lines.extend(sorted(arrivals))
    return lines


def snapshot_path(test_file: Path, test_name: str, label: str | None) -> Path:
    """Where the snapshot of this test (and label) lives."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_")
    if label:
        safe += "-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_")
    return test_file.parent / SNAPSHOT_FOLDER / test_file.stem / f"{safe}.txt"


class TimelineMismatch(AssertionError):
    """The instance's timeline differs from its snapshot (the message is a unified diff)."""


def compare_with_snapshot(lines: Iterable[str], path: Path, update: bool) -> None:
    """Write the snapshot when ``update``; otherwise raise TimelineMismatch when it differs or is missing."""
    text = "\n".join(lines) + "\n"
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    if not path.exists():
        raise TimelineMismatch(
            f"no golden timeline at {path}; run pytest with {OPTION_UPDATE} to write it, then review and commit it:\n"
            + text
        )
    expected = path.read_text()
    if expected != text:
        diff = difflib.unified_diff(expected.splitlines(), text.splitlines(), fromfile=f"{path} (golden)",
                                    tofile="this run", lineterm="")
        raise TimelineMismatch(
            f"the timeline differs from {path.name} (rerun with {OPTION_UPDATE} if the change is intended):\n"
            + "\n".join(diff)
        )
