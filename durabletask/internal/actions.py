"""The one table of schedulable action kinds: what each is called, which history event confirms it, how it
is described in error messages, and how a recorded event matches an action the orchestrator asks for again.

Pending actions are light :class:`PendingAction` records, turned into protobuf only for the actions actually
sent to the sidecar (most actions are matched against history during replay).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from durabletask.internal import helpers as pbh
from durabletask.internal import orchestrator_service_pb2 as pb


class ActionKind(str, Enum):
    """Schedule-type actions an orchestrator can ask for (values are the OrchestratorAction field names; for
    entity messages, the field of the ``sendEntityMessage`` action)."""

    SCHEDULE_TASK = "scheduleTask"
    CREATE_TIMER = "createTimer"
    CREATE_SUB_ORCHESTRATION = "createSubOrchestration"
    SEND_EVENT = "sendEvent"
    CALL_ENTITY = "entityOperationCalled"
    SIGNAL_ENTITY = "entityOperationSignaled"
    LOCK_ENTITIES = "entityLockRequested"
    UNLOCK_ENTITY = "entityUnlockSent"


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
    entity_message: pb.SendEntityMessageAction | None = None  # the message of an entity action

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
    """Everything the engine needs to know about one action kind.

    ``confirmed_by_id``: the confirming event carries the action's id (every kind but entity unlocks, which
    are confirmed by their critical section id)."""

    kind: ActionKind
    method: str
    event_field: str
    matches: Callable[[PendingAction, RecordedAction], bool]
    build: Callable[[PendingAction], pb.OrchestratorAction]
    read: Callable[[Any], RecordedAction]
    shows: Callable[[str, str, datetime | None], str]
    confirmed_by_id: bool = True

    def describe(self, name: str, instance_id: str, fire_at: datetime | None) -> str:
        """``method(...)`` as the user wrote the call, for error messages."""
        return f"{self.method}({self.shows(name, instance_id, fire_at)})"

    def read_event(self, event: pb.HistoryEvent) -> RecordedAction:
        """The identifying parts of a confirmation event of this kind."""
        return self.read(getattr(event, self.event_field))

    def describe_event(self, event: pb.HistoryEvent) -> str:
        """The call a confirmation event records, for error messages."""
        recorded = self.read_event(event)
        return self.describe(recorded.name, recorded.instance_id, recorded.fire_at)


def _read_named(body: Any) -> RecordedAction:
    return RecordedAction(name=body.name)


def _read_timer(body: Any) -> RecordedAction:
    return RecordedAction(fire_at=pbh.read_timestamp(body.fireAt))


def _read_event_sent(body: Any) -> RecordedAction:
    return RecordedAction(name=body.name, instance_id=body.instanceId)


def _read_entity_operation(body: Any) -> RecordedAction:
    return RecordedAction(name=body.operation, instance_id=body.targetInstanceId.value)


def _read_lock_request(body: Any) -> RecordedAction:
    return RecordedAction(instance_id=lock_set_key(body.lockSet))


def _read_unlock(body: Any) -> RecordedAction:
    return RecordedAction(instance_id=body.targetInstanceId.value)


def lock_set_key(lock_set: Iterable[str]) -> str:
    """The entities of a lock request as one string (how lock actions are compared and shown)."""
    return ", ".join(lock_set)


def _show_name(name: str, instance_id: str, fire_at: datetime | None) -> str:
    return f"'{name}'"


def _show_timer(name: str, instance_id: str, fire_at: datetime | None) -> str:
    return f"fire_at={fire_at}"


def _show_event(name: str, instance_id: str, fire_at: datetime | None) -> str:
    return f"instance_id='{instance_id}', event_name='{name}'"


def _show_entity_operation(name: str, instance_id: str, fire_at: datetime | None) -> str:
    return f"'{instance_id}', '{name}'"


def _show_entities(name: str, instance_id: str, fire_at: datetime | None) -> str:
    return f"[{instance_id}]"


def _same_name(action: PendingAction, recorded: RecordedAction) -> bool:
    return action.name == recorded.name


def _same_event_target(action: PendingAction, recorded: RecordedAction) -> bool:
    return action.name.casefold() == recorded.name.casefold() and action.instance_id == recorded.instance_id


def _any_timer(action: PendingAction, recorded: RecordedAction) -> bool:
    return True


def _same_operation_target(action: PendingAction, recorded: RecordedAction) -> bool:
    return action.name == recorded.name and action.instance_id == recorded.instance_id


def _same_target(action: PendingAction, recorded: RecordedAction) -> bool:
    return action.instance_id == recorded.instance_id


def _build_schedule_task(a: PendingAction) -> pb.OrchestratorAction:
    return pbh.new_schedule_task_action(a.id, a.name, a.encoded_input, a.tags, a.version)


def _build_timer(a: PendingAction) -> pb.OrchestratorAction:
    assert a.fire_at is not None
    return pbh.new_create_timer_action(a.id, a.fire_at)


def _build_sub_orchestration(a: PendingAction) -> pb.OrchestratorAction:
    return pbh.new_create_sub_orchestration_action(a.id, a.name, a.instance_id, a.encoded_input, a.version)


def _build_send_event(a: PendingAction) -> pb.OrchestratorAction:
    return pbh.new_send_event_action(a.id, a.instance_id, a.name, a.encoded_input)


def _build_entity_message(a: PendingAction) -> pb.OrchestratorAction:
    return pb.OrchestratorAction(id=a.id, sendEntityMessage=a.entity_message)


_SPECS = (
    ActionKindSpec(ActionKind.SCHEDULE_TASK, "call_activity", "taskScheduled", _same_name, _build_schedule_task,
                   _read_named, _show_name),
    ActionKindSpec(ActionKind.CREATE_TIMER, "create_timer", "timerCreated", _any_timer, _build_timer,
                   _read_timer, _show_timer),
    ActionKindSpec(ActionKind.CREATE_SUB_ORCHESTRATION, "call_sub_orchestrator", "subOrchestrationInstanceCreated",
                   _same_name, _build_sub_orchestration, _read_named, _show_name),
    ActionKindSpec(ActionKind.SEND_EVENT, "send_event", "eventSent", _same_event_target, _build_send_event,
                   _read_event_sent, _show_event),
    ActionKindSpec(ActionKind.CALL_ENTITY, "call_entity", "entityOperationCalled", _same_operation_target,
                   _build_entity_message, _read_entity_operation, _show_entity_operation),
    ActionKindSpec(ActionKind.SIGNAL_ENTITY, "signal_entity", "entityOperationSignaled", _same_operation_target,
                   _build_entity_message, _read_entity_operation, _show_entity_operation),
    ActionKindSpec(ActionKind.LOCK_ENTITIES, "lock_entities", "entityLockRequested", _same_target,
                   _build_entity_message, _read_lock_request, _show_entities),
    ActionKindSpec(ActionKind.UNLOCK_ENTITY, "EntityLock.__exit__", "entityUnlockSent", _same_target,
                   _build_entity_message, _read_unlock, _show_entities, confirmed_by_id=False),
)

ACTION_KINDS: dict[ActionKind, ActionKindSpec] = {spec.kind: spec for spec in _SPECS}
"""Action kind -> its spec."""

CONFIRMATIONS: dict[str, ActionKindSpec] = {spec.event_field: spec for spec in _SPECS if spec.confirmed_by_id}
"""History event field (``taskScheduled`` ...) -> the spec of the action kind it confirms by the action's id."""
