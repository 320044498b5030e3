"""Timers, the auto-advancing clock and the real-time timer pump."""

from __future__ import annotations

import threading
from datetime import datetime

from . import events
from .base import EngineBase
from .timers import TimerEntry


class Timekeeping(EngineBase):
    """Timers, the auto-advancing clock and the real-time timer pump."""

    def _push_timer(self, entry: TimerEntry) -> None:
        if self._timers.push(entry):
            self._timer_changed.notify_all()

    def _timer_is_live(self, entry: TimerEntry) -> bool:
        instance = self._instances.get(entry.instance_id)
        if instance is None or instance.execution_id != entry.execution_id:
            return False
        if entry.kind == "start":
            return instance.waiting_for_start_time
        return not instance.is_terminal

    def _peek_live_timer(self) -> TimerEntry | None:
        while True:
            entry = self._timers.peek()
            if entry is None or self._timer_is_live(entry):
                return entry
            self._timers.pop()

    def _fire_due_timers(self, upto: datetime) -> None:
        virtual = self.clock.is_virtual
        while True:
            entry = self._peek_live_timer()
            if entry is None or entry.fire_at > upto:
                return
            self._timers.pop()
            if virtual:
                self.clock._set(entry.fire_at)
            self._fire(entry)

    def _fire(self, entry: TimerEntry) -> None:
        instance = self._instances[entry.instance_id]
        now = self.clock.now()
        if entry.kind == "timer":
            self._deliver(instance, events.timer_fired(now, entry.timer_id, entry.fire_at))
        elif entry.kind == "start":
            instance.waiting_for_start_time = False
            self._make_ready(instance)
        elif entry.event is not None:
            entry.event.timestamp.CopyFrom(events.timestamp(now))
            self._deliver(instance, entry.event)

    def _maybe_auto_advance(self) -> None:
        if self.clock.mode != "auto" or self._completion_waiters == 0 or self._stopped:
            return
        while self._is_idle():
            entry = self._peek_live_timer()
            if entry is None:
                return
            self._fire_due_timers(entry.fire_at)

    def _after_change(self) -> None:
        """End of every state change: auto-advance the clock if idle, wake streams and waiters."""
        self._maybe_auto_advance()
        if self._work_added:
            self._work_added = False
            self._work_ready.notify_all()
        if self._idle_waiters and self._is_idle():
            self._idle_changed.notify_all()

    def _advance_clock(self, target: datetime) -> None:
        """Clock.advance handler: fire every timer due up to ``target`` in order, then move the clock."""
        with self._lock:
            self._fire_due_timers(target)
            self.clock._set(target)
            self._after_change()

    def run_real_time_timers(self, stop: threading.Event) -> None:
        """Fire timers when wall time reaches them until ``stop`` is set or the engine shuts down.

        Meant for one dedicated thread when the clock is ``"real"``.
        """
        with self._lock:
            while not stop.is_set() and not self._stopped:
                now = self.clock.now()
                self._fire_due_timers(now)
                self._after_change()
                entry = self._peek_live_timer()
                wait = None if entry is None else max((entry.fire_at - now).total_seconds(), 0.0005)
                self._timer_changed.wait(wait)

    def wake_timer_pump(self) -> None:
        """Wake the real-time timer pump (e.g. to make it notice ``stop``)."""
        with self._lock:
            self._timer_changed.notify_all()
