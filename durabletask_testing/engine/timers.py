"""The engine's time-ordered queue of durable timers, scheduled starts and delayed results."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime

from durabletask_testing.protocol import orchestrator_service_pb2 as pb


@dataclass(eq=False, slots=True)
class TimerEntry:
    """Something that happens to one execution of an instance when the clock reaches ``fire_at``.

    ``kind`` is ``"timer"`` (a durable timer: deliver TimerFired), ``"start"`` (a scheduled start time
    reached) or ``"event"`` (deliver ``event``, e.g. an activity result held back by a fault).
    """

    kind: str
    fire_at: datetime
    instance_id: str
    execution_id: str
    timer_id: int = -1
    event: pb.HistoryEvent | None = None


class TimerQueue:
    """A min-heap ordered by (fire time, creation order)."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, TimerEntry]] = []
        self._sequence = itertools.count()

    def push(self, entry: TimerEntry) -> bool:
        """Add an entry; returns True when it became the earliest one."""
        heapq.heappush(self._heap, (entry.fire_at, next(self._sequence), entry))
        return self._heap[0][2] is entry

    def peek(self) -> TimerEntry | None:
        return self._heap[0][2] if self._heap else None

    def pop(self) -> TimerEntry:
        return heapq.heappop(self._heap)[2]

    def clear(self) -> None:
        self._heap.clear()

    def __len__(self) -> int:
        return len(self._heap)
