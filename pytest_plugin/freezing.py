"""freezegun integration: wall-clock reads in test code follow the fake sidecar's virtual clock.

While active, ``datetime.now()``, ``datetime.utcnow()``, ``date.today()`` and ``time.time()`` called from
test and activity code return the virtual clock's current time, and move when the clock moves. Machinery
that must keep real time (gRPC, the SDK, the fake sidecar, pytest, threads, executors, asyncio) is put on
freezegun's ignore list, and freezegun is told to look only at the immediate caller when deciding, so an
activity function called by the SDK's worker still sees virtual time while the worker itself sees real time.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any, Protocol

# Modules whose own time reads must stay real (prefix match, as freezegun does).
REAL_TIME_MODULES: tuple[str, ...] = (
    "durabletask",
    "grpc",
    "google.protobuf",
    "_pytest",
    "pytest",
    "pluggy",
    "xdist",
    "execnet",
    "pytest_timeout",
    "concurrent",
    "asyncio",
    "selectors",
    "socket",
    "ssl",
    "subprocess",
    "threading",
    "queue",
    "multiprocessing",
    "logging",
)


class ReadableClock(Protocol):
    """The part of the fake's clock this module needs."""

    def now(self) -> datetime: ...


class _VirtualClockTimeFactory:
    """A freezegun time factory whose current time is the virtual clock's time (naive UTC)."""

    def __init__(self, clock: ReadableClock) -> None:
        self._clock = clock
        self._reading = threading.local()

    def __call__(self) -> datetime:
        # A clock that reads the (patched) datetime itself would recurse; give it real time instead.
        if getattr(self._reading, "active", False):
            return _real_utc_naive()
        self._reading.active = True
        try:
            return _to_naive_utc(self._clock.now())
        finally:
            self._reading.active = False

    # freezegun's factories offer tick/move_to; time here moves only with the virtual clock.
    def tick(self, delta: Any = None) -> datetime:
        raise RuntimeError("time follows the durabletask virtual clock: use durable_clock.advance() instead of tick()")

    def move_to(self, target_datetime: Any) -> None:
        raise RuntimeError(
            "time follows the durabletask virtual clock: use durable_clock.advance_to() instead of move_to()"
        )


def _to_naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _real_utc_naive() -> datetime:
    from freezegun.api import real_datetime

    return real_datetime.now(timezone.utc).replace(tzinfo=None)


class VirtualTimeFreezer:
    """Starts and stops freezegun so that test-side wall-clock reads follow ``clock``."""

    def __init__(self, clock: ReadableClock, extra_real_time_modules: tuple[str, ...] = ()) -> None:
        self._clock = clock
        self._ignore = list(REAL_TIME_MODULES + tuple(extra_real_time_modules))
        self._freezer: Any = None
        self._previous_inspection_limit: int | None = None

    @property
    def active(self) -> bool:
        """True between start() and stop()."""
        return self._freezer is not None

    def start(self) -> None:
        """Freeze time at the clock's current time and make it follow the clock from then on."""
        if self._freezer is not None:
            return
        try:
            import freezegun
            import freezegun.api as freezegun_api
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "freeze_time=True needs the freezegun package: pip install freezegun"
            ) from error
        freezer = freezegun.freeze_time(_to_naive_utc(self._clock.now()), ignore=self._ignore)
        freezer.start()
        # The factory freezegun just pushed answers "what time is it"; answer from the clock instead.
        freezegun_api.freeze_factories[-1] = _VirtualClockTimeFactory(self._clock)  # type: ignore[call-overload]
        # Decide real vs virtual time by the immediate caller only: activity code is called by the SDK's
        # worker (an ignored module), yet must see virtual time.
        self._previous_inspection_limit = freezegun_api.call_stack_inspection_limit
        freezegun_api.call_stack_inspection_limit = 1
        self._freezer = freezer

    def stop(self) -> None:
        """Give real time back to everyone."""
        if self._freezer is None:
            return
        import freezegun.api as freezegun_api

        freezer, self._freezer = self._freezer, None
        if self._previous_inspection_limit is not None:
            freezegun_api.call_stack_inspection_limit = self._previous_inspection_limit
            self._previous_inspection_limit = None
        freezer.stop()
