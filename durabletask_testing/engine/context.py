"""What the engine's RPC groups share: the one lock, the rooms, the router, the timekeeper, the fault plan, the
payload limit and the stopped flag; and the step that ends every state change.

:class:`EngineContext` is built once by :class:`~.core.Engine`; each group (:mod:`.clients`,
:mod:`.entity_rpcs`, :mod:`.work`, :mod:`.inspection`) is a :class:`Part` holding the same context, so all of
them change state under the same lock.
"""

from __future__ import annotations

import threading

from ..clock import Clock
from ..errors import EngineError, ErrorCode
from ..faults import FaultPlan
from .rooms import Rooms
from .router import ChildIdReuse, Router
from .runtime import CustomStatusRule
from .timekeeper import Timekeeper

ABANDON_BACKOFF_INITIAL = 0.01  # monotonic seconds before an abandoned work item is handed out again
ABANDON_BACKOFF_MAX = 0.5


def abandon_backoff(abandons_before: int) -> float:
    """The back-off after an abandon: it doubles with each abandon since the last accepted result."""
    backoff: float = ABANDON_BACKOFF_INITIAL * (2**abandons_before)
    return min(backoff, ABANDON_BACKOFF_MAX)


class EngineContext:
    """The lock, the rooms and the stopped flag of one engine (the flag is the only state kept here)."""

    def __init__(
        self,
        rooms: Rooms,
        lock: threading.Lock,
        faults: FaultPlan,
        max_payload_bytes: int,
        child_id_reuse: ChildIdReuse = "failed",
        custom_status_rule: CustomStatusRule = "kept",
    ) -> None:
        if custom_status_rule not in ("kept", "last"):
            raise ValueError(f"custom_status_rule must be 'kept' or 'last'; got {custom_status_rule!r}")
        self.custom_status_rule: CustomStatusRule = custom_status_rule
        self.lock = lock
        self.rooms = rooms
        self.faults = faults
        self.max_payload_bytes = max_payload_bytes
        self.router = Router(rooms, child_id_reuse=child_id_reuse)
        self.timekeeper = Timekeeper(rooms, self.router)
        self.stopped = False

    def check_running(self) -> None:
        if self.stopped:
            raise EngineError(ErrorCode.UNAVAILABLE, "the fake sidecar is shutting down")

    def after_change(self) -> None:
        """End of every state change: auto-advance the clock if idle, wake streams and waiters."""
        dispatcher, waiters = self.rooms.dispatcher, self.rooms.waiters
        if not self.stopped:
            self.timekeeper.maybe_auto_advance()
        if dispatcher.work_added:
            dispatcher.work_added = False
            waiters.work_ready.notify_all()
        if waiters.idle_waiters and dispatcher.is_idle():
            waiters.idle_changed.notify_all()

    def client_waits(self) -> None:
        """A client or test now blocks: a schedule that holds work until then may hand it out (wake streams)."""
        if self.rooms.dispatcher.schedule is not None:
            self.rooms.waiters.work_ready.notify_all()

    def disconnect_all_workers(self) -> None:
        """End every worker stream with UNAVAILABLE (an injected fault)."""
        for connection in self.rooms.dispatcher.connections.values():
            connection.close("the fake sidecar disconnected every worker (injected fault)")
        self.rooms.waiters.work_ready.notify_all()


class Part:
    """One group of the engine's methods, working on the shared :class:`EngineContext` (under its lock)."""

    def __init__(self, context: EngineContext) -> None:
        self._context = context
        self._lock = context.lock
        self.clock: Clock = context.rooms.clock
        self.faults = context.faults
        self.max_payload_bytes = context.max_payload_bytes
        self._store = context.rooms.store
        self._entities = context.rooms.entities
        self._dispatcher = context.rooms.dispatcher
        self._timers = context.rooms.timers
        self._waiters = context.rooms.waiters
        self._router = context.router
        self._timekeeper = context.timekeeper

    @property
    def _stopped(self) -> bool:
        return self._context.stopped

    def _check_running(self) -> None:
        self._context.check_running()

    def _after_change(self) -> None:
        self._context.after_change()

    def _client_waits(self) -> None:
        self._context.client_waits()
