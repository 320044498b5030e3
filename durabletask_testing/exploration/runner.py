"""The schedule policy of one fake sidecar: applies a :class:`~.schedules.Schedule` and records its decisions.

Pass it to ``FakeSidecar(schedule=ScheduleRunner(schedule))``. It hands out one orchestrator work item at a
time, only once the activities and entity operations have reported and a client (or test) blocks waiting, so
the order is its decision and not thread timing; both waits are bounded. Each work item's ready results are put
in a default order (timers, then task, sub-orchestration and entity-call results by the id of the action they
answer, then raised events in arrival order) and the schedule then reorders them and decides how many this
work item carries.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..engine import Instance, Quiet, result_task_id
from .schedules import Schedule

CLIENT_HOLD_LIMIT = 0.2  # seconds a work item waits for a client to block before it is handed out anyway
ACTIVITY_HOLD_LIMIT = 5.0  # seconds a work item waits for running activities and entity operations to report

# Events whose order the schedule decides, ranked for the default order; others keep arrival order, first.
_RESULT_RANK = {
    "timerFired": 0,
    "taskCompleted": 1,
    "taskFailed": 1,
    "subOrchestrationInstanceCompleted": 1,
    "subOrchestrationInstanceFailed": 1,
    "entityOperationCompleted": 1,
    "entityOperationFailed": 1,
    "eventRaised": 2,
}
_RESULT_WORDS = {
    "taskCompleted": "result of",
    "taskFailed": "failure of",
    "subOrchestrationInstanceCompleted": "result of sub-orchestration",
    "subOrchestrationInstanceFailed": "failure of sub-orchestration",
    "entityOperationCompleted": "result of entity call",
    "entityOperationFailed": "failure of entity call",
}


@dataclass(frozen=True)
class Decision:
    """One orchestrator work item handed out under a schedule: which instance, which events, what was held."""

    step: int
    instance_id: str
    instance_key: str
    delivered: tuple[str, ...]
    held_back: tuple[str, ...]
    default_delivered: tuple[str, ...]
    picked_over: tuple[str, ...] = ()  # instances that were ready first in the default order

    @property
    def deviated(self) -> bool:
        return bool(self.picked_over) or self.delivered != self.default_delivered or bool(self.held_back)

    def __str__(self) -> str:
        text = f"work item #{self.step} of {self.instance_key} ({self.instance_id}): "
        text += f"delivered [{', '.join(self.delivered)}]"
        if self.delivered != self.default_delivered[: len(self.delivered)] or self.held_back:
            text += f", default order [{', '.join(self.default_delivered)}]"
        if self.held_back:
            text += f"; held back for a later work item: [{', '.join(self.held_back)}]"
        if self.picked_over:
            text += f"; handed out before {', '.join(self.picked_over)}"
        return text


@dataclass
class ScheduleRunner:
    """The schedule policy of one fake sidecar: applies ``schedule`` and records its decisions."""

    schedule: Schedule = field(default_factory=Schedule)
    client_hold_limit: float = CLIENT_HOLD_LIMIT
    activity_hold_limit: float = ACTIVITY_HOLD_LIMIT
    decisions: list[Decision] = field(default_factory=list)
    released_by_limit: int = 0  # hand-outs that did not wait for quiet: the order there was thread timing
    _held_since: float | None = None
    _limit: float = 0.0
    _picked_over: tuple[str, ...] = ()

    def may_hand_out(self, quiet: Quiet, now: float) -> bool:
        if quiet.orchestrators_in_flight:
            return False
        working = quiet.activities_pending + quiet.entities_pending
        if working == 0 and quiet.client_waiting:
            self._held_since = None
            return True
        self._limit = self.activity_hold_limit if working else self.client_hold_limit
        if self._held_since is None:
            self._held_since = now
        if now - self._held_since >= self._limit:
            self._held_since = None
            self.released_by_limit += 1
            return True
        return False

    def release_deadline(self) -> float | None:
        return None if self._held_since is None else self._held_since + self._limit

    def pick(self, candidates: Sequence[Instance]) -> Instance:
        ordered = sorted(candidates, key=lambda i: (i.fault_key, i.instance_id))
        index = 0
        step = len(self.decisions)
        if len(ordered) > 1 and self.schedule.deviates_at(step):
            if self.schedule.order == "reverse":
                index = len(ordered) - 1
            elif self.schedule.order == "random":
                index = self._rng(step, "pick").randrange(len(ordered))
        self._picked_over = tuple(i.fault_key or i.instance_id for i in ordered[:index])
        return ordered[index]

    def batch(self, instance: Instance) -> tuple[list[pb.HistoryEvent], list[pb.HistoryEvent]]:
        fixed = [e for e in instance.inbox if e.WhichOneof("eventType") not in _RESULT_RANK]
        results = sorted(
            ((e, result_task_id(instance, e)) for e in instance.inbox if e.WhichOneof("eventType") in _RESULT_RANK),
            key=_default_rank,
        )
        default = list(results)
        step = len(self.decisions)
        count = len(results)
        if self.schedule.deviates_at(step) and len(results) > 1:
            if self.schedule.order == "reverse":
                results.reverse()
            elif self.schedule.order == "random":
                self._rng(step, "order").shuffle(results)
            if self.schedule.batch == "single":
                count = 1
            elif self.schedule.batch == "random":
                count = self._rng(step, "batch").randint(1, len(results))
        names = _scheduled_names(instance)
        self.decisions.append(
            Decision(
                step=step,
                instance_id=instance.instance_id,
                instance_key=instance.fault_key or instance.instance_id,
                delivered=tuple(_label(result, names) for result in results[:count]),
                held_back=tuple(_label(result, names) for result in results[count:]),
                default_delivered=tuple(_label(result, names) for result in default),
                picked_over=self._picked_over,
            )
        )
        self._picked_over = ()
        return fixed + [e for e, _ in results[:count]], [e for e, _ in results[count:]]

    def deviations(self) -> list[Decision]:
        """The decisions that differ from the default order."""
        return [d for d in self.decisions if d.deviated]

    def _rng(self, step: int, purpose: str) -> random.Random:
        return random.Random(f"{self.schedule.seed}/{step}/{purpose}")


_Result = tuple[pb.HistoryEvent, "int | None"]  # a ready result and the id of the action it answers


def _default_rank(result: _Result) -> tuple[int, int]:
    """Timers, then results by the id of the action they answer, then raised events; results of a call this
    execution does not hold, and raised events among themselves, keep their arrival order (the sort is stable)."""
    event, task_id = result
    return _RESULT_RANK[event.WhichOneof("eventType") or ""], task_id if task_id is not None else 1 << 62


def _scheduled_names(instance: Instance) -> dict[int, str]:
    names: dict[int, str] = {}
    for event in instance.history:
        kind = event.WhichOneof("eventType")
        if kind == "taskScheduled":
            names[event.eventId] = event.taskScheduled.name
        elif kind == "subOrchestrationInstanceCreated":
            names[event.eventId] = event.subOrchestrationInstanceCreated.name
        elif kind == "entityOperationCalled":
            called = event.entityOperationCalled
            names[event.eventId] = f"{called.operation} on {called.targetInstanceId.value}"
    return names


def _label(result: _Result, names: dict[int, str]) -> str:
    event, task_id = result
    kind = event.WhichOneof("eventType")
    if kind == "eventRaised":
        return f"event '{event.eventRaised.name}'"
    if kind == "timerFired":
        return f"timer #{event.timerFired.timerId}"
    what = _RESULT_WORDS.get(kind or "", kind or "?")
    if task_id is None:
        return f"{what} ? (a call this execution's history does not hold)"
    return f"{what} {names.get(task_id, '?')} #{task_id}"
