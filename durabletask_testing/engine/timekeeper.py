"""Firing timers: durable timers, scheduled starts and delayed results, in (fire time, creation order) order;
the auto clock's jumps. Callers hold the engine's lock."""

from __future__ import annotations

from datetime import datetime

from ..vocabulary import timestamp
from . import events
from .rooms import Rooms
from .router import Router
from .timers import TimerEntry, is_forever


class Timekeeper:
    """Fires due timers through the router and moves a virtual clock to each one it fires."""

    def __init__(self, rooms: Rooms, router: Router) -> None:
        self._rooms = rooms
        self._router = router

    def _is_live(self, entry: TimerEntry) -> bool:
        if entry.kind == "entity":
            return True
        instance = self._rooms.store.get(entry.instance_id)
        if instance is None or instance.execution_id != entry.execution_id:
            return False
        if entry.kind == "start":
            return instance.waiting_for_start_time
        return not instance.is_terminal

    def peek_live_timer(self) -> TimerEntry | None:
        """The earliest timer that still concerns a live execution (dead ones are dropped on the way)."""
        while True:
            entry = self._rooms.timers.peek()
            if entry is None or self._is_live(entry):
                return entry
            self._rooms.timers.pop()

    def fire_due_timers(self, upto: datetime) -> None:
        """Fire every live timer due at or before ``upto``, in order, moving a virtual clock to each."""
        while True:
            entry = self.peek_live_timer()
            if entry is None or entry.fire_at > upto:
                return
            self._rooms.timers.pop()
            if self._rooms.clock.is_virtual:
                self._rooms.clock.move_to(entry.fire_at)
            self._fire(entry)

    def _fire(self, entry: TimerEntry) -> None:
        now = self._rooms.clock.now()
        if entry.kind == "entity":
            assert entry.event is not None
            entry.event.timestamp.CopyFrom(timestamp(now))
            self._router.send_to_entity(entry.instance_id, entry.event)
            return
        instance = self._rooms.store.require(entry.instance_id)
        if entry.kind == "timer":
            self._router.deliver(instance, events.timer_fired(now, entry.timer_id, entry.fire_at))
        elif entry.kind == "start":
            instance.start_time_reached()
            self._router.make_ready(instance)
        elif entry.event is not None:
            entry.event.timestamp.CopyFrom(timestamp(now))
            self._router.deliver(instance, entry.event)

    def maybe_auto_advance(self) -> None:
        """Auto clock: while a client waits for completion and nothing runs, jump to the next timer that is
        not a "wait forever" sentinel."""
        if self._rooms.clock.mode != "auto" or self._rooms.waiters.completion_waiters == 0:
            return
        while self._rooms.dispatcher.is_idle():
            entry = self.peek_live_timer()
            if entry is None or is_forever(entry.fire_at, self._rooms.clock.now()):
                return
            self.fire_due_timers(entry.fire_at)
