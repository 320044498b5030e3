"""The engine's state and the primitives every layer uses: inboxes, the ready queue, waiters."""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..clock import Clock
from ..errors import EngineError, ErrorCode, invalid, not_found
from ..faults import FaultPlan
from .state import ActivityWorkItem, Connection, Instance, OrchestratorWorkItem
from .timers import TimerQueue

DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
ABANDON_BACKOFF_INITIAL = 0.01  # seconds of real time before an abandoned work item is handed out again
ABANDON_BACKOFF_MAX = 0.5
HISTORY_CHUNK_SIZE = 256
DEFAULT_LIST_PAGE_SIZE = 100

WorkItem = OrchestratorWorkItem | ActivityWorkItem


class EngineBase:
    """The engine's state and the primitives every layer uses: inboxes, the ready queue, waiters."""

    def __init__(
        self,
        clock: Clock,
        faults: FaultPlan | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        if max_payload_bytes <= 0:
            raise ValueError(f"max_payload_bytes must be positive; got {max_payload_bytes}")
        self.clock = clock
        self.faults = faults if faults is not None else FaultPlan()
        self.max_payload_bytes = max_payload_bytes
        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)  # worker streams wait here
        self._timer_changed = threading.Condition(self._lock)  # the real-time timer pump waits here
        self._idle_changed = threading.Condition(self._lock)  # wait_until_idle waits here
        self._idle_waiters = 0
        self._instances: dict[str, Instance] = {}
        self._ready: deque[str] = deque()  # instance ids with an orchestrator work item to hand out
        self._queued: set[str] = set()  # ids in _ready or _held
        self._held: list[tuple[float, int, str | ActivityWorkItem]] = []  # (monotonic not-before, seq, item)
        self._activities: deque[ActivityWorkItem] = deque()
        self._timers = TimerQueue()
        self._orchestrators_in_flight: dict[str, OrchestratorWorkItem] = {}
        self._activities_in_flight: dict[str, ActivityWorkItem] = {}
        self._activity_by_task: dict[tuple[str, int], ActivityWorkItem] = {}
        self._token_counter = 0
        self._held_counter = 0
        self._connections: dict[int, Connection] = {}
        self._connection_counter = 0
        self._page_tokens: set[tuple[str, str]] = set()  # (field, token) of every page token handed out
        self._waiters: dict[str, tuple[threading.Condition, list[int]]] = {}
        self._completion_waiters = 0
        self._stopped = False
        self._work_added = False  # set when something was queued; streams are woken at the end of the change

    def _check_running(self) -> None:
        if self._stopped:
            raise EngineError(ErrorCode.UNAVAILABLE, "the fake sidecar is shutting down")

    def _check_page_token(self, field: str, token: str) -> None:
        """Refuse a continuation token this engine never handed out (an empty one means the first page)."""
        if token and (field, token) not in self._page_tokens:
            raise invalid(f"{field} '{token}' matches no page this fake sidecar handed out (or it was reset since)")

    def _require_instance(self, instance_id: str) -> Instance:
        instance = self._instances.get(instance_id)
        if instance is None:
            raise not_found(f"no orchestration instance with id '{instance_id}'")
        return instance

    def _deliver(self, instance: Instance, event: pb.HistoryEvent) -> None:
        """Put an event in a live instance's inbox (events for ended instances are dropped)."""
        if instance.is_terminal:
            return
        instance.inbox.append(event)
        self._make_ready(instance)

    def _deliver_to(self, instance_id: str, execution_id: str | None, event: pb.HistoryEvent) -> None:
        instance = self._instances.get(instance_id)
        if instance is None or (execution_id and instance.execution_id != execution_id):
            return
        self._deliver(instance, event)

    def _make_ready(self, instance: Instance) -> None:
        if (
            instance.in_flight is not None
            or not instance.inbox
            or instance.waiting_for_start_time
            or instance.instance_id in self._queued
        ):
            return
        self._queued.add(instance.instance_id)
        now = time.monotonic()
        if instance.held_until > now:
            self._hold(instance.held_until, instance.instance_id)
        else:
            self._ready.append(instance.instance_id)
            self._work_added = True

    def _hold(self, not_before: float, item: str | ActivityWorkItem) -> None:
        self._held_counter += 1
        heapq.heappush(self._held, (not_before, self._held_counter, item))
        self._work_added = True

    def _release_held(self, now: float) -> None:
        while self._held and self._held[0][0] <= now:
            _, _, item = heapq.heappop(self._held)
            if isinstance(item, str):
                self._ready.append(item)
            else:
                self._activities.append(item)

    def _release(self, item: WorkItem) -> None:
        """Forget an in-flight work item (its token becomes stale)."""
        connection = item.connection
        if isinstance(item, OrchestratorWorkItem):
            if self._orchestrators_in_flight.pop(item.token, None) is not None and connection is not None:
                connection.orchestrators_in_flight -= 1
        else:
            if self._activities_in_flight.pop(item.token, None) is not None and connection is not None:
                connection.activities_in_flight -= 1
            key = (item.instance_id, item.task_id)
            if self._activity_by_task.get(key) is item:
                del self._activity_by_task[key]
        if connection is not None:
            connection.tokens.discard(item.token)
            if self._ready or self._activities:  # a freed concurrency slot can take queued work: wake the stream
                self._work_added = True
        item.connection = None

    def _register_waiter(self, instance_id: str) -> threading.Condition:
        slot = self._waiters.get(instance_id)
        if slot is None:
            slot = (threading.Condition(self._lock), [0])
            self._waiters[instance_id] = slot
        slot[1][0] += 1
        return slot[0]

    def _unregister_waiter(self, instance_id: str) -> None:
        slot = self._waiters.get(instance_id)
        if slot is not None:
            slot[1][0] -= 1
            if slot[1][0] <= 0:
                del self._waiters[instance_id]

    def _notify_instance(self, instance_id: str) -> None:
        slot = self._waiters.get(instance_id)
        if slot is not None:
            slot[0].notify_all()

    def _is_idle(self) -> bool:
        return not (self._queued or self._activities or self._orchestrators_in_flight or self._activities_in_flight)

    def _disconnect_all_workers(self) -> None:
        for connection in self._connections.values():
            connection.close_reason = "the fake sidecar disconnected every worker (injected fault)"
        self._work_ready.notify_all()
