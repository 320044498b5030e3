"""The engine's time-ordered queue of durable timers, scheduled starts, delayed results and entity signals
scheduled for later."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

TimerKind = Literal["timer", "start", "event", "entity"]

# A timer due more than this far after the current time means "wait forever" (SDKs such as Dapr's use
# 9999-12-31 for that): the auto clock never jumps to it. It still fires when a test moves the clock there.
FOREVER_AFTER = timedelta(days=100 * 366)


def is_forever(fire_at: datetime, now: datetime) -> bool:
    """True for a "wait forever" sentinel: a fire time more than :data:`FOREVER_AFTER` after ``now``."""
    return fire_at - now > FOREVER_AFTER


def later(when: datetime, delta: timedelta) -> datetime:
    """``when + delta``, held at the largest datetime instead of overflowing past year 9999."""
    limit = datetime.max.replace(tzinfo=when.tzinfo)
    return limit if delta > limit - when else when + delta


@dataclass(eq=False, slots=True)
class TimerEntry:
    """Something that happens to one execution of an instance when the clock reaches ``fire_at``.

    ``kind`` is ``"timer"`` (a durable timer: deliver TimerFired), ``"start"`` (a scheduled start time
    reached), ``"event"`` (deliver ``event``, e.g. an activity result held back by a fault) or ``"entity"``
    (deliver the operation ``event`` to the entity ``instance_id``: a signal scheduled for later).
    """

    kind: TimerKind
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
        """The earliest entry, or None."""
        return self._heap[0][2] if self._heap else None

    def pop(self) -> TimerEntry:
        """Remove and return the earliest entry."""
        return heapq.heappop(self._heap)[2]

    def clear(self) -> None:
        self._heap.clear()
