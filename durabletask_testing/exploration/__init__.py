"""Exploration: schedule policies that decide the fake's delivery order, batching and crash points.

:class:`Schedule` (:mod:`.schedules`) is a value with a spec string; :func:`schedules` lists the schedules of an
exploration and :func:`shrink_candidates` the simpler variants of a failing one. :class:`ScheduleRunner`
(:mod:`.runner`) applies one schedule to one ``FakeSidecar`` through the engine's scheduling hook. The schedule
values are pure (no protobuf, no engine) and the runner is loaded on first use, so the pytest plugin imports
this package at start-up for free.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .schedules import (
    BATCH_MODES,
    CRASH_KINDS,
    ORDER_MODES,
    BatchMode,
    Crash,
    CrashKind,
    OrderMode,
    Schedule,
    ScheduleError,
    StepBounds,
    schedules,
    shrink_candidates,
)

if TYPE_CHECKING:
    from .runner import Decision, ScheduleRunner


def __getattr__(name: str) -> Any:
    if name not in ("Decision", "ScheduleRunner"):
        raise AttributeError(f"module 'durabletask_testing.exploration' has no attribute {name!r}")
    from . import runner

    value = getattr(runner, name)
    globals()[name] = value
    return value


__all__ = [
    "BATCH_MODES",
    "CRASH_KINDS",
    "ORDER_MODES",
    "BatchMode",
    "Crash",
    "CrashKind",
    "Decision",
    "OrderMode",
    "Schedule",
    "ScheduleError",
    "ScheduleRunner",
    "StepBounds",
    "schedules",
    "shrink_candidates",
]
