"""The failure report section: what each orchestration instance of a test did, and which faults were injected."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..seams import DrivableSidecar
from .timeline import (
    DEFAULT_VALUE_WIDTH,
    FAILURE_MESSAGE_LIMIT,
    format_failure,
    format_history,
    format_offset,
    shorten,
    status_name,
)

if TYPE_CHECKING:
    from ..external.client import ExternalInstance
    from ..seams import DrivableFaults

SECTION_TITLE = "durabletask: orchestration timelines"
MAX_EVENTS_SHOWN = 120
WRAP_WIDTH = 110


@dataclass
class InstanceView:
    """Everything the report shows about one orchestration instance."""

    instance_id: str
    name: str = ""
    status: str = "UNKNOWN"
    created_at: datetime | None = None
    last_updated_at: datetime | None = None
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    failure: str = ""
    parent_instance_id: str | None = None
    history: list[Any] = field(default_factory=list)
    problem: str | None = None


@dataclass
class FaultView:
    """One injected fault."""

    time: datetime | None
    kind: str
    instance_id: str | None
    task_id: int | None
    detail: str


def instances_from_fake(sidecar: DrivableSidecar) -> list[InstanceView]:
    """Read every instance and its history from an in-process FakeSidecar."""
    views: list[InstanceView] = []
    for snapshot in sidecar.instances():
        view = InstanceView(
            instance_id=snapshot.instance_id,
            name=snapshot.name or "",
            status=status_name(snapshot.status),
            created_at=snapshot.created_at,
            last_updated_at=snapshot.last_updated_at,
            input=snapshot.input,
            output=snapshot.output,
            custom_status=snapshot.custom_status,
            failure=format_failure(snapshot.failure_details, FAILURE_MESSAGE_LIMIT),
            parent_instance_id=snapshot.parent_instance_id,
        )
        try:
            view.history = list(sidecar.history(snapshot.instance_id))
        except Exception as error:  # the report must never hide the test's own failure
            view.problem = f"history unavailable: {error}"
        views.append(view)
    return views


def instances_from_external(described: Iterable[ExternalInstance]) -> list[InstanceView]:
    """Views of the instances an external sidecar described (``ExternalSidecarClient.describe``)."""
    views: list[InstanceView] = []
    for instance in described:
        view = InstanceView(instance_id=instance.instance_id, history=list(instance.history),
                            problem=instance.problem)
        if instance.state is not None:
            _fill_from_state(view, instance.state)
        views.append(view)
    return views


def _fill_from_state(view: InstanceView, state: Any) -> None:
    view.name = state.name
    view.status = status_name(state.orchestrationStatus)
    view.created_at = state.createdTimestamp.ToDatetime() if state.HasField("createdTimestamp") else None
    view.last_updated_at = state.lastUpdatedTimestamp.ToDatetime() if state.HasField("lastUpdatedTimestamp") else None
    view.input = state.input.value if state.HasField("input") else None
    view.output = state.output.value if state.HasField("output") else None
    view.custom_status = state.customStatus.value if state.HasField("customStatus") else None
    if state.HasField("failureDetails"):
        view.failure = format_failure(state.failureDetails, FAILURE_MESSAGE_LIMIT)


def faults_from_plan(plan: DrivableFaults) -> tuple[list[FaultView], int | None]:
    """The fault log and chaos seed of a FaultPlan."""
    faults = [
        FaultView(time=record.time, kind=str(record.kind), instance_id=record.instance_id, task_id=record.task_id,
                  detail=record.detail or "")
        for record in plan.log
    ]
    return faults, plan.seed


def render_report(
    instances: Sequence[InstanceView],
    *,
    origin: datetime | None,
    origin_kind: str = "virtual time",
    header: Sequence[str] = (),
    faults: Sequence[FaultView] | None = None,
    chaos_seed: int | None = None,
    width: int = DEFAULT_VALUE_WIDTH,
    entities: Sequence[Any] = (),
) -> str:
    """The whole report section as text (``entities``: the fake's EntitySnapshot objects, if any)."""
    lines: list[str] = list(header)
    if origin is not None:
        shown = origin if origin.tzinfo is not None else origin.replace(tzinfo=timezone.utc)  # naive means UTC
        lines.append(f"times are offsets from the test's start time {shown.isoformat()} ({origin_kind})")
    if not instances:
        lines.append("no orchestration instances were created")
    for view in instances:
        lines.append("")
        lines.extend(_render_instance(view, origin, width))
    for entity in entities:
        lines.append("")
        lines.extend(_render_entity(entity, origin, width))
    if faults is not None:
        lines.append("")
        lines.append(f"chaos seed: {chaos_seed}" if chaos_seed is not None else "chaos seed: none (no chaos run)")
        if not faults:
            lines.append("injected faults: none")
        else:
            lines.append(f"injected faults ({len(faults)}):")
            for fault in faults:
                where = f" instance={fault.instance_id!r}" if fault.instance_id else ""
                task = f" task={fault.task_id}" if fault.task_id is not None else ""
                detail = f"  {shorten(fault.detail, width)}" if fault.detail else ""
                lines.append(f"  {format_offset(fault.time, origin)}  {fault.kind}{where}{task}{detail}")
    return "\n".join(lines).strip("\n")


def _render_entity(entity: Any, origin: datetime | None, width: int) -> list[str]:
    """An entity: its state, lock and queue, then the operations it ran, one line each."""
    state = "no state" if entity.state is None else f"state {shorten(entity.state, width)}"
    lock = f", locked by {entity.lock_owner!r}" if entity.locked_by else ""
    queued = f", {entity.queued} waiting" if entity.queued else ""
    lines = [f"entity {entity.entity_id!r}: {state}{lock}{queued}"]
    if entity.operations:
        lines.append(f"  operations ({len(entity.operations)}):")
    for record in entity.operations[-MAX_EVENTS_SHOWN:]:
        source = f"called by {record.caller!r}" if record.caller else "signal"
        failure = f" {record.error_type}" if record.error_type else ""
        when = format_offset(record.at, origin)
        lines.append(f"    {when}  {record.operation:<20} {record.outcome}{failure}  ({source})")
    return lines


def _render_instance(view: InstanceView, origin: datetime | None, width: int) -> list[str]:
    title = f"instance {view.instance_id!r}"
    if view.name:
        title += f" ({view.name})"
    title += f": {view.status}"
    if view.parent_instance_id:
        title += f", child of {view.parent_instance_id!r}"
    lines = [title]
    times = []
    if view.created_at is not None:
        times.append(f"created {format_offset(view.created_at, origin)}")
    if view.last_updated_at is not None:
        times.append(f"last updated {format_offset(view.last_updated_at, origin)}")
    if times:
        lines.append("  " + ", ".join(times))
    for label, value in (("input", view.input), ("output", view.output), ("custom status", view.custom_status)):
        if value is not None and value != "":
            lines.append(f"  {label}: {shorten(value, width)}")
    if view.failure:  # whole, wrapped: the end of a non-determinism message names what was expected
        lines.extend(textwrap.wrap(view.failure, width=WRAP_WIDTH, initial_indent="  failure: ",
                                   subsequent_indent="           ", break_long_words=True, break_on_hyphens=False))
    if view.problem:
        lines.append(f"  ({view.problem})")
    if view.history:
        lines.append(f"  history ({len(view.history)} events):")
        lines.extend(_bounded_history(view.history, origin, width))
    return lines


def _bounded_history(history: list[Any], origin: datetime | None, width: int) -> list[str]:
    if len(history) <= MAX_EVENTS_SHOWN:
        return format_history(history, origin, width, indent="    ")
    half = MAX_EVENTS_SHOWN // 2
    omitted = len(history) - 2 * half
    return [
        *format_history(history[:half], origin, width, indent="    "),
        f"    ... {omitted} events omitted ...",
        *format_history(history[-half:], origin, width, indent="    "),
    ]
