"""The one table of schedulable action kinds: what each is called, which history event confirms it, how it
is described in error messages, and how a recorded event matches an action the orchestrator asks for again.

Pending actions are light :class:`PendingAction` records, turned into protobuf only for the actions actually
sent to the sidecar (most actions are matched against history during replay).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from durabletask.internal import helpers as pbh
from durabletask.internal import orchestrator_service_pb2 as pb


class ActionKind(str, Enum):
    """Schedule-type actions an orchestrator can ask for (values are the OrchestratorAction field names)."""

    SCHEDULE_TASK = "scheduleTask"
    CREATE_TIMER = "createTimer"
    CREATE_SUB_ORCHESTRATION = "createSubOrchestration"
    SEND_EVENT = "sendEvent"


@dataclass(slots=True)
class PendingAction:
    """An action the orchestrator asked for, not yet confirmed by history."""

    id: int
    kind: ActionKind
    name: str = ""
    encoded_input: str | None = None
    instance_id: str = ""
    fire_at: datetime | None = None
    version: str | None = None
    tags: dict[str, str] | None = None

    def describe(self) -> str:
        """Human readable form for error messages, e.g. ``call_activity('hello')``."""
        return ACTION_KINDS[self.kind].describe(self.name, self.instance_id, self.fire_at)

    def to_proto(self) -> pb.OrchestratorAction:
        """The protobuf OrchestratorAction for this record."""
        return ACTION_KINDS[self.kind].build(self)


@dataclass(frozen=True)
class RecordedAction:
    """The identifying parts of a history event that confirms an action (name, target, fire time)."""

    name: str = ""
    instance_id: str = ""
    fire_at: datetime | None = None


@dataclass(frozen=True)
class ActionKindSpec:
    """Everything the engine needs to know about one action kind."""

    kind: ActionKind
    method: str
    event_field: str
    matches: Callable[[PendingAction, RecordedAction], bool]
    build: Callable[[PendingAction], pb.OrchestratorAction]

    def describe(self, name: str, instance_id: str, fire_at: datetime | None) -> str:
        """``method(...)`` as the user wrote the call, for error messages."""
        if self.kind is ActionKind.CREATE_TIMER:
            return f"{self.method}(fire_at={fire_at})"
        if self.kind is ActionKind.SEND_EVENT:
            return f"{self.method}(instance_id='{instance_id}', event_name='{name}')"
        return f"{self.method}('{name}')"

    def read_event(self, event: pb.HistoryEvent) -> RecordedAction:
        """The identifying parts of a confirmation event of this kind."""
        body = getattr(event, self.event_field)
        if self.kind is ActionKind.CREATE_TIMER:
            return RecordedAction(fire_at=pbh.read_timestamp(body.fireAt))
        return RecordedAction(name=body.name, instance_id=body.instanceId if self.kind is ActionKind.SEND_EVENT else "")

    def describe_event(self, event: pb.HistoryEvent) -> str:
        """The call a confirmation event records, for error messages."""
        recorded = self.read_event(event)
        return self.describe(recorded.name, recorded.instance_id, recorded.fire_at)


def _same_name(action: PendingAction, recorded: RecordedAction) -> bool:
    return action.name == recorded.name


def _same_event_target(action: PendingAction, recorded: RecordedAction) -> bool:
    return action.name.casefold() == recorded.name.casefold() and action.instance_id == recorded.instance_id


def _any_timer(action: PendingAction, recorded: RecordedAction) -> bool:
    return True


def _build_schedule_task(a: PendingAction) -> pb.OrchestratorAction:
    return pbh.new_schedule_task_action(a.id, a.name, a.encoded_input, a.tags, a.version)


def _build_timer(a: PendingAction) -> pb.OrchestratorAction:
    assert a.fire_at is not None
    return pbh.new_create_timer_action(a.id, a.fire_at)


def _build_sub_orchestration(a: PendingAction) -> pb.OrchestratorAction:
    return pbh.new_create_sub_orchestration_action(a.id, a.name, a.instance_id, a.encoded_input, a.version)


def _build_send_event(a: PendingAction) -> pb.OrchestratorAction:
    return pbh.new_send_event_action(a.id, a.instance_id, a.name, a.encoded_input)


_SPECS = (
    ActionKindSpec(ActionKind.SCHEDULE_TASK, "call_activity", "taskScheduled", _same_name, _build_schedule_task),
    ActionKindSpec(ActionKind.CREATE_TIMER, "create_timer", "timerCreated", _any_timer, _build_timer),
    ActionKindSpec(ActionKind.CREATE_SUB_ORCHESTRATION, "call_sub_orchestrator", "subOrchestrationInstanceCreated",
                   _same_name, _build_sub_orchestration),
    ActionKindSpec(ActionKind.SEND_EVENT, "send_event", "eventSent", _same_event_target, _build_send_event),
)

ACTION_KINDS: dict[ActionKind, ActionKindSpec] = {spec.kind: spec for spec in _SPECS}
"""Action kind -> its spec."""

CONFIRMATIONS: dict[str, ActionKindSpec] = {spec.event_field: spec for spec in _SPECS}
"""History event field (``taskScheduled`` ...) -> the spec of the action kind it confirms."""
