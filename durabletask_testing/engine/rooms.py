"""The engine's stateful rooms in one bundle, for the parts that work on them (router, timekeeper, and through
:class:`~.context.EngineContext` the engine's RPC groups)."""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import Clock
from .dispatcher import Dispatcher
from .entities import EntityStore
from .store import InstanceStore
from .timers import TimerQueue
from .waiters import Waiters


@dataclass(frozen=True)
class Rooms:
    """The clock, instance store, dispatcher, timer queue, waiters and entity store of one engine."""

    clock: Clock
    store: InstanceStore
    dispatcher: Dispatcher
    timers: TimerQueue
    waiters: Waiters
    entities: EntityStore
