"""The hook through which a schedule policy (exploration) decides the dispatch of orchestrator work items.

Without a policy the dispatcher hands out ready instances first come, first served, each with its whole
inbox. With one, the dispatcher asks it whether to hand out at all (the policy may hold work until the
system is quiet, so that the order is its decision and not thread timing), which ready instance goes next,
and which of that instance's inbox events the work item carries (the rest wait for a later work item).

Results of both activities and entity operations reach an orchestration through its inbox, so a policy
orders them alike: :class:`Quiet` counts the work still to report (activities, and entity batches that can
run), and :func:`result_task_id` names the action each result answers (an entity result by its call's id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from .state import Instance


@dataclass(frozen=True)
class Quiet:
    """What a policy sees when asked to hand out an orchestrator work item."""

    activities_pending: int  # activity work items queued, held or in flight
    orchestrators_in_flight: int
    client_waiting: bool  # a client blocks in WaitForInstanceCompletion or a test in wait_until_idle
    entities_pending: int = 0  # entities with a batch queued, held or in flight (not those waiting for a lock)


class SchedulePolicy(Protocol):
    """Decides when, to whom and with which events orchestrator work items are handed out."""

    def may_hand_out(self, quiet: Quiet, now: float) -> bool:
        """True when an orchestrator work item may be handed out now (``now``: monotonic seconds)."""
        ...

    def release_deadline(self) -> float | None:
        """The monotonic time at which held work is handed out anyway (None: nothing is held)."""
        ...

    def pick(self, candidates: Sequence[Instance]) -> Instance:
        """The ready instance to hand out next, from at least one candidate."""
        ...

    def batch(self, instance: Instance) -> tuple[list[pb.HistoryEvent], list[pb.HistoryEvent]]:
        """Split ``instance.inbox`` into the events delivered now (non-empty) and those left for later."""
        ...


_TASK_RESULTS = ("taskCompleted", "taskFailed", "subOrchestrationInstanceCompleted", "subOrchestrationInstanceFailed")
_ENTITY_RESULTS = ("entityOperationCompleted", "entityOperationFailed")


def result_task_id(instance: Instance, event: pb.HistoryEvent) -> int | None:
    """The id of the action whose result ``event`` is: an activity's or sub-orchestration's task id, a timer's
    id, or for an entity operation's result the id of the call in ``instance``'s history (None: not a result,
    or a call this execution's history does not hold)."""
    kind = event.WhichOneof("eventType")
    if kind in _TASK_RESULTS:
        return int(getattr(event, kind).taskScheduledId)
    if kind == "timerFired":
        return int(event.timerFired.timerId)
    if kind in _ENTITY_RESULTS:
        request_id = getattr(event, kind).requestId
        for past in instance.history:
            if past.HasField("entityOperationCalled") and past.entityOperationCalled.requestId == request_id:
                return int(past.eventId)
    return None
