"""The hook through which a schedule policy (exploration) decides the dispatch of orchestrator work items.

Without a policy the dispatcher hands out ready instances first come, first served, each with its whole
inbox. With one, the dispatcher asks it whether to hand out at all (the policy may hold work until the
system is quiet, so that the order is its decision and not thread timing), which ready instance goes next,
and which of that instance's inbox events the work item carries (the rest wait for a later work item).
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
