"""A recorded history cut into the orchestrator work items that produced it, and the comparison of actions.

The fake commits one orchestrator work item as: its new events (``OrchestratorStarted``, then the events that
arrived with it), then one history event per action the worker answered. So a history reads as episodes, each
starting at an ``OrchestratorStarted``:

* past events: everything before the episode's ``OrchestratorStarted``;
* new events: the episode's ``OrchestratorStarted`` and the events after it that are not action records;
* recorded actions: the action records of the episode (``TaskScheduled``, ``TimerCreated``,
  ``SubOrchestrationInstanceCreated``, ``EventSent``, ``ExecutionCompleted``), in order.

Replaying an episode gives the same past and new events to the current code; what it produces must equal the
recorded actions: the same number, in the same order, each with the same :class:`ActionRecord` (kind, task id,
and the fields listed in :func:`record_of_event`). Actions that leave no history record (terminating another
instance, entity messages) are not compared. Works on any protobuf binding of the protocol (field names are
the protocol's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# History events that record an action of the orchestrator, by the action they record.
ACTION_RECORDS = {
    "taskScheduled": "scheduleTask",
    "timerCreated": "createTimer",
    "subOrchestrationInstanceCreated": "createSubOrchestration",
    "eventSent": "sendEvent",
    "executionCompleted": "completeOrchestration",
}
# Outgoing records of actions that are not compared: neither new events nor compared actions.
UNCOMPARED_RECORDS = frozenset({
    "orchestratorCompleted", "entityOperationSignaled", "entityOperationCalled", "entityLockRequested",
    "entityUnlockSent",
})
RECORD_KINDS = frozenset(ACTION_RECORDS) | UNCOMPARED_RECORDS
"""Every history event that records what a work item's answer did (none of them is a new event of a work item)."""
UNCOMPARED_ACTIONS = frozenset({"terminateOrchestration", "sendEntityMessage", "rewindOrchestration"})
# A failure the fake itself recorded (it could not encode the work item): no code produced it.
FAKE_FAILURE_TYPES = frozenset({"WorkItemEncodingError"})

_STATUS_NAMES = {
    0: "RUNNING", 1: "COMPLETED", 2: "CONTINUED_AS_NEW", 3: "FAILED", 4: "CANCELED", 5: "TERMINATED",
    6: "PENDING", 7: "SUSPENDED",
}


@dataclass(frozen=True)
class ActionRecord:
    """What is compared of one action: its kind, its task id and its fields (name, value) in a fixed order."""

    kind: str
    task_id: int | None
    fields: tuple[tuple[str, Any], ...]

    def __str__(self) -> str:
        parts = [] if self.task_id is None else [f"id={self.task_id}"]
        parts += [f"{name}={value!r}" for name, value in self.fields]
        return f"{self.kind}({', '.join(parts)})"


@dataclass(frozen=True)
class Episode:
    """One orchestrator work item as the history recorded it (``step`` counts from 1)."""

    step: int
    past_events: list[Any]
    new_events: list[Any]
    recorded: list[ActionRecord]


@dataclass(frozen=True)
class Divergence:
    """The first difference between recorded and produced actions of one episode (None: nothing there)."""

    step: int
    position: int
    recorded: ActionRecord | None
    produced: ActionRecord | None

    def describe(self) -> str:
        """``diverges at step N: recorded X, code produced Y``."""
        recorded = str(self.recorded) if self.recorded is not None else "no further action"
        produced = str(self.produced) if self.produced is not None else "no further action"
        where = f"step {self.step} (action {self.position + 1})"
        return f"diverges at {where}: recorded {recorded}, code produced {produced}"


def _kind(event: Any) -> str:
    return str(event.WhichOneof("eventType"))


def _optional(message: Any, name: str) -> str | None:
    return str(getattr(message, name).value) if message.HasField(name) else None


def _failure(message: Any) -> tuple[str, str] | None:
    if not message.HasField("failureDetails"):
        return None
    return (str(message.failureDetails.errorType), str(message.failureDetails.errorMessage))


def _fire_at(timestamp: Any) -> str:
    return str(timestamp.ToJsonString())


def record_of_event(event: Any) -> ActionRecord | None:
    """The comparable record of an action history event; None for any other event.

    Compared: TaskScheduled name, version, input; TimerCreated fireAt; SubOrchestrationInstanceCreated name,
    version, input, instance id; EventSent target, name, input; ExecutionCompleted status, result, failure type
    and message (not its stack trace). Task ids are compared for all but ExecutionCompleted.
    """
    kind = _kind(event)
    if kind == "taskScheduled":
        e = event.taskScheduled
        fields: tuple[tuple[str, Any], ...] = (
            ("name", e.name), ("version", _optional(e, "version")), ("input", _optional(e, "input")))
        return ActionRecord("TaskScheduled", int(event.eventId), fields)
    if kind == "timerCreated":
        return ActionRecord("TimerCreated", int(event.eventId), (("fireAt", _fire_at(event.timerCreated.fireAt)),))
    if kind == "subOrchestrationInstanceCreated":
        e = event.subOrchestrationInstanceCreated
        fields = (("name", e.name), ("version", _optional(e, "version")), ("input", _optional(e, "input")),
                  ("instanceId", e.instanceId))
        return ActionRecord("SubOrchestrationInstanceCreated", int(event.eventId), fields)
    if kind == "eventSent":
        e = event.eventSent
        return ActionRecord("EventSent", int(event.eventId),
                            (("instanceId", e.instanceId), ("name", e.name), ("input", _optional(e, "input"))))
    if kind == "executionCompleted":
        e = event.executionCompleted
        return ActionRecord("ExecutionCompleted", None, (
            ("status", _STATUS_NAMES.get(int(e.orchestrationStatus), str(e.orchestrationStatus))),
            ("result", _optional(e, "result")), ("failure", _failure(e))))
    return None


def record_of_action(action: Any, instance_id: str) -> ActionRecord | None:
    """The comparable record of an action a worker produced; None for actions the history does not record."""
    kind = action.WhichOneof("orchestratorActionType")
    if kind == "scheduleTask":
        a = action.scheduleTask
        fields: tuple[tuple[str, Any], ...] = (
            ("name", a.name), ("version", _optional(a, "version")), ("input", _optional(a, "input")))
        return ActionRecord("TaskScheduled", int(action.id), fields)
    if kind == "createTimer":
        return ActionRecord("TimerCreated", int(action.id), (("fireAt", _fire_at(action.createTimer.fireAt)),))
    if kind == "createSubOrchestration":
        a = action.createSubOrchestration
        child = a.instanceId if a.instanceId.strip() else f"{instance_id}:{int(action.id):04x}"
        fields = (("name", a.name), ("version", _optional(a, "version")), ("input", _optional(a, "input")),
                  ("instanceId", child))
        return ActionRecord("SubOrchestrationInstanceCreated", int(action.id), fields)
    if kind == "sendEvent":
        a = action.sendEvent
        return ActionRecord("EventSent", int(action.id),
                            (("instanceId", a.instance.instanceId), ("name", a.name), ("input", _optional(a, "data"))))
    if kind == "completeOrchestration":
        a = action.completeOrchestration
        return ActionRecord("ExecutionCompleted", None, (
            ("status", _STATUS_NAMES.get(int(a.orchestrationStatus), str(a.orchestrationStatus))),
            ("result", _optional(a, "result")), ("failure", _failure(a))))
    return None


def episodes(history: Sequence[Any]) -> list[Episode]:
    """The work items recorded in ``history`` (one execution of one instance), oldest first.

    An episode whose ExecutionCompleted the fake wrote itself (it could not encode the work item) is left out.
    """
    starts = [index for index, event in enumerate(history) if _kind(event) == "orchestratorStarted"]
    found: list[Episode] = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(history)
        new_events: list[Any] = []
        recorded: list[ActionRecord] = []
        fake_failure = False
        for event in history[start:end]:
            kind = _kind(event)
            if kind in ACTION_RECORDS:
                record = record_of_event(event)
                if record is not None:
                    recorded.append(record)
                failure = _failure(event.executionCompleted) if kind == "executionCompleted" else None
                fake_failure = fake_failure or (failure is not None and failure[0] in FAKE_FAILURE_TYPES)
            elif kind not in UNCOMPARED_RECORDS:
                new_events.append(event)
        if not fake_failure:
            found.append(Episode(step=number + 1, past_events=list(history[:start]), new_events=new_events,
                                 recorded=recorded))
    return found


def compare(episode: Episode, produced: Sequence[ActionRecord]) -> Divergence | None:
    """The first difference between the episode's recorded actions and ``produced``, or None when equal."""
    for position in range(max(len(episode.recorded), len(produced))):
        recorded = episode.recorded[position] if position < len(episode.recorded) else None
        made = produced[position] if position < len(produced) else None
        if recorded != made:
            return Divergence(episode.step, position, recorded, made)
    return None


def produced_records(actions: Sequence[Any], instance_id: str) -> list[ActionRecord]:
    """The comparable records of the actions a worker answered, in order (uncompared kinds dropped)."""
    records: list[ActionRecord] = []
    for action in actions:
        record = record_of_action(action, instance_id)
        if record is not None:
            records.append(record)
    return records


def execution_id(history: Sequence[Any]) -> str | None:
    """The execution id named by the history's ExecutionStarted event, if any."""
    for event in history:
        if _kind(event) == "executionStarted":
            instance = event.executionStarted.orchestrationInstance
            return str(instance.executionId.value) if instance.HasField("executionId") else None
    return None


def orchestrator_name(history: Sequence[Any]) -> str | None:
    """The orchestrator name of the history's ExecutionStarted event, if any."""
    for event in history:
        if _kind(event) == "executionStarted":
            return str(event.executionStarted.name)
    return None
