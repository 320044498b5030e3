"""The fake sidecar's single source of time.

Three modes:

* ``"real"``: wall-clock time; timers fire when they are due (a background pump fires them).
* ``"manual"``: time stands still until :meth:`Clock.advance` / :meth:`Clock.advance_to` move it;
  every timer due at or before the new time fires, in (fire time, creation order) order, before the
  call returns.
* ``"auto"``: like manual, but the engine also jumps to the next timer while a client is blocked in
  ``WaitForInstanceCompletion`` and no work is queued or running. It never jumps to a "wait forever"
  timer (see :data:`durabletask_testing.engine.timers.FOREVER_AFTER`).

In manual and auto mode the clock starts at ``start_time`` or, by default, at the wall-clock time
of its creation truncated to whole seconds.

Besides the durable (wall or virtual) time, the clock also gives the engine its monotonic seconds
(:meth:`Clock.monotonic`) for back-offs, leases and deadlines; tests can pass their own source.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from .checks import duration
from .vocabulary import CLOCK_MODES, ClockMode, as_utc, clock_mode

__all__ = ["CLOCK_MODES", "AdvanceHandler", "Clock", "ClockMode", "as_utc"]

AdvanceHandler = Callable[[datetime], None]
MonotonicSource = Callable[[], float]


def _default_start() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class Clock:
    """Virtual or real time for one fake sidecar. Read it with :meth:`now`; move it with :meth:`advance`."""

    def __init__(
        self,
        mode: str = "auto",
        start_time: datetime | None = None,
        *,
        monotonic: MonotonicSource = time.monotonic,
    ) -> None:
        checked = clock_mode(mode)
        if checked == "real" and start_time is not None:
            raise ValueError("start_time cannot be set for the 'real' clock (it always reads wall time)")
        self._mode = checked
        self._start = as_utc(start_time) if start_time is not None else _default_start()
        self._now = self._start
        self._handler: AdvanceHandler | None = None
        self._monotonic = monotonic
        self._lock = threading.Lock()

    @property
    def mode(self) -> ClockMode:
        """``"real"``, ``"manual"`` or ``"auto"``."""
        return self._mode

    @property
    def is_virtual(self) -> bool:
        """True for the manual and auto modes."""
        return self._mode != "real"

    @property
    def start_time(self) -> datetime:
        """The instant a virtual clock started at (for the real clock: when the Clock was created)."""
        return self._start

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        if self._mode == "real":
            return datetime.now(timezone.utc)
        return self._now

    def monotonic(self) -> float:
        """Monotonic seconds (real time unless the Clock was given another source) for back-offs and leases."""
        return self._monotonic()

    def advance(self, delta: timedelta | float | int) -> datetime:
        """Move a virtual clock forward by ``delta`` (a timedelta or a finite number of seconds, not negative); fire
        due timers. Returns the new time; ValueError when it would pass year 9999."""
        delta = duration(delta, "delta")
        now = self.now()
        if delta > datetime.max.replace(tzinfo=timezone.utc) - now:
            raise ValueError(f"cannot advance the clock by {delta} from {now.isoformat()}: past year 9999")
        return self.advance_to(now + delta)

    def advance_to(self, when: datetime) -> datetime:
        """Move a virtual clock forward to ``when`` (naive means UTC); fire due timers. Returns the new time."""
        if self._mode == "real":
            raise RuntimeError(
                "the 'real' clock follows wall time and cannot be advanced; use clock='manual' or 'auto'"
            )
        if not isinstance(when, datetime):
            raise TypeError(f"advance_to needs a datetime; got {type(when).__name__}")
        target = as_utc(when)
        if target < self._now:
            raise ValueError(f"cannot move the clock backwards from {self._now.isoformat()} to {target.isoformat()}")
        handler = self._handler
        if handler is not None:
            handler(target)
        else:
            self.move_to(target)
        return self._now

    # -- engine side -------------------------------------------------------------------------------

    def bind(self, handler: AdvanceHandler | None) -> None:
        """Route advances through ``handler`` (the engine), which fires timers and calls :meth:`move_to`."""
        self._handler = handler

    def move_to(self, when: datetime) -> None:
        """Move virtual time to ``when`` (never backwards); the engine's side of an advance, called under its lock
        (tests use :meth:`advance` and :meth:`advance_to`, which go through the engine)."""
        with self._lock:
            if when > self._now:
                self._now = when

    def reset(self) -> None:
        """Return a virtual clock to its start time."""
        with self._lock:
            self._now = self._start

    def reconfigure(self, mode: str, start_time: datetime | None = None) -> None:
        """Switch mode and start over at ``start_time`` (default: now). Only for an emptied fake (between tests)."""
        if mode not in CLOCK_MODES:
            raise ValueError(f"clock mode must be one of {', '.join(CLOCK_MODES)}; got {mode!r}")
        if mode == "real" and start_time is not None:
            raise ValueError("start_time cannot be set for the 'real' clock (it always reads wall time)")
        with self._lock:
            self._mode = mode
            self._start = as_utc(start_time) if start_time is not None else _default_start()
            self._now = self._start

    def __repr__(self) -> str:
        return f"Clock(mode={self._mode!r}, now={self.now().isoformat()})"
