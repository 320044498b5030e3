"""Golden timelines: an instance's normalised timeline compared with a snapshot file kept next to the test.

``durable_timeline_snapshot(instance_id)`` renders what the instance did as lines of
``+HH:MM:SS.mmm  EventKind  name`` (virtual-time offsets from the instance's start; no instance, execution or
task ids; no work-item boundaries) and compares them with
``<test folder>/__durable_timelines__/<test file>/<test name>[-<label>].txt`` (a name with other characters
than letters, digits, ``_ . -`` is made safe and gets a hash, so that no two tests share a file). A difference
fails the test with a unified diff; ``pytest --durabletask-update-timelines`` writes the files instead (review
them like code).

Results that land together (several activity completions in a row, say) are listed in a stable order, so that
thread timing, which may deliver them in either order, never changes the file; what the orchestration did in
response still does.
"""

from __future__ import annotations

import difflib
import hashlib
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


_SAFE_NAME = re.compile(r"[A-Za-z0-9_.]+")  # no "-": it starts the label
_SAFE_LABEL = re.compile(r"[A-Za-z0-9_.-]+")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_STEM = 120  # characters of a file name kept readable (file systems allow 255 bytes)


def snapshot_path(test_file: Path, test_name: str, label: str | None) -> Path:
    """Where the snapshot of this test (and label) lives: one file per (test name, label), never shared.

    A test name of letters, digits, ``_`` and ``.`` (a plain test function's) and a label of those and ``-``
    are used as they are (``test_flow.txt``, ``test_flow-before.txt``: the first ``-`` starts the label). Any
    other name, a parametrized ``test_region[eu/west]`` say, is made safe (other characters become ``_``) and
    gets ``~`` and a hash of the exact name and label, so that ``[eu/west]`` and ``[eu_west]`` get their own
    files; no name used as it is contains ``~``."""
    return test_file.parent / SNAPSHOT_FOLDER / test_file.stem / f"{_stem(test_name, label)}.txt"


def legacy_snapshot_path(test_file: Path, test_name: str, label: str | None) -> Path:
    """Where plugin versions before unique names kept this snapshot (names other characters became ``_`` in)."""
    safe = _UNSAFE.sub("_", test_name).strip("_")
    if label:
        safe += "-" + _UNSAFE.sub("_", label).strip("_")
    return test_file.parent / SNAPSHOT_FOLDER / test_file.stem / f"{safe}.txt"


def _stem(test_name: str, label: str | None) -> str:
    readable = test_name + ("-" + label if label else "")
    if _SAFE_NAME.fullmatch(test_name) and (not label or _SAFE_LABEL.fullmatch(label)) and len(readable) <= _MAX_STEM:
        return readable
    exact = test_name + ("\0" + label if label else "")
    digest = hashlib.sha256(exact.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    safe = _UNSAFE.sub("_", test_name).strip("_")
    if label:
        safe += "-" + _UNSAFE.sub("_", label).strip("_")
    return f"{safe[:_MAX_STEM]}~{digest}"


class TimelineMismatch(AssertionError):
    """The instance's timeline differs from its snapshot (the message is a unified diff)."""


def compare_with_snapshot(lines: Iterable[str], path: Path, update: bool, legacy: Path | None = None) -> None:
    """Write the snapshot when ``update``; otherwise raise TimelineMismatch when it differs or is missing (naming
    ``legacy``, the file's name before names were unique, when only that one exists)."""
    text = "\n".join(lines) + "\n"
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    if not path.exists():
        moved = ""
        if legacy is not None and legacy != path and legacy.exists():
            moved = (f" (an older version of the plugin kept it at {legacy.name}, a name other tests could share: "
                     "check that it is this test's, then rename it)")
        raise TimelineMismatch(
            f"no golden timeline at {path}{moved}; run pytest with {OPTION_UPDATE} to write it, then review and "
            f"commit it:\n{text}"
        )
    expected = path.read_text()
    if expected != text:
        diff = difflib.unified_diff(expected.splitlines(), text.splitlines(), fromfile=f"{path} (golden)",
                                    tofile="this run", lineterm="")
        raise TimelineMismatch(
            f"the timeline differs from {path.name} (rerun with {OPTION_UPDATE} if the change is intended):\n"
            + "\n".join(diff)
        )
