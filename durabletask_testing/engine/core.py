"""The fake sidecar's engine: a deterministic in-memory state machine; no gRPC, starts no threads.

Its RPC methods mirror the sidecar's RPCs: a protocol request message in, a protocol response message out.
A refusal raises :class:`~durabletask_testing.errors.EngineError`, and changes nothing, with one exception: a
completion whose instance or entity was purged or replaced while it ran releases its work item first (see
:mod:`.work`). One lock guards all state; blocking calls (``next_work_item``, ``wait_for_instance``,
``wait_until_idle``) wait on conditions of that lock and are woken precisely, never by polling.

:class:`Engine` owns the lock, the stopped flag, the clock binding and the real-time timer pump, and composes
the groups that do the work, all sharing one :class:`~.context.EngineContext`: client RPCs of instances
(:mod:`.clients`) and of entities (:mod:`.entity_rpcs`), work items for workers (:mod:`.work`) and inspection
(:mod:`.inspection`). They change the rooms that own the state: the :class:`~.store.InstanceStore`, the
:class:`~.entities.EntityStore`, the :class:`~.dispatcher.Dispatcher` (queues, leases, tokens, streams), the
:class:`~.timers.TimerQueue` and the :class:`~.waiters.Waiters`, through the :class:`~.router.Router`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..clock import Clock
from ..faults import FaultPlan
from ..views import EntitySnapshot, InstanceSnapshot
from .clients import ClientRpcs
from .context import ABANDON_BACKOFF_INITIAL, ABANDON_BACKOFF_MAX, EngineContext
from .dispatcher import Dispatcher
from .entities import EntityStore, EntityWorkItemForm
from .entity_rpcs import EntityRpcs
from .inspection import Inspection
from .rooms import Rooms
from .router import ChildIdReuse
from .runtime import CustomStatusRule
from .scheduling import SchedulePolicy
from .state import Connection
from .store import InstanceStore
from .timers import TimerQueue
from .waiters import Waiters, WaitTarget
from .work import WorkItems

__all__ = [
    "ABANDON_BACKOFF_INITIAL",
    "ABANDON_BACKOFF_MAX",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "DEFAULT_WORK_ITEM_LEASE",
    "Engine",
    "lease_seconds",
]

DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
DEFAULT_WORK_ITEM_LEASE = timedelta(minutes=5)
MAX_PUMP_WAIT = 3600.0  # the real-time timer pump looks again at least this often (seconds)


def lease_seconds(lease: timedelta | float | None) -> float | None:
    """A work-item lease as seconds (None: no lease)."""
    if lease is None:
        return None
    seconds = lease.total_seconds() if isinstance(lease, timedelta) else float(lease)
    if not seconds > 0:
        raise ValueError(f"work_item_lease must be positive (or None for no lease); got {lease!r}")
    return seconds


class Engine:
    """Instances, histories, inboxes, work-item queues, timers and waiters of one fake sidecar.

    ``child_id_reuse`` says which existing instance a new sub-orchestration of the same id replaces: only a FAILED
    one (``"failed"``, durabletask-go's rule) or any that has ended (``"ended"``, Dapr's). ``custom_status_rule``
    says what a response without a custom status does (``"kept"``, durabletask-go's; ``"last"``, Dapr's: see
    :data:`~.runtime.CustomStatusRule`).
    """

    def __init__(
        self,
        clock: Clock,
        faults: FaultPlan | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        work_item_lease: timedelta | float | None = DEFAULT_WORK_ITEM_LEASE,
        entity_work_items: EntityWorkItemForm = "v2",
        schedule: SchedulePolicy | None = None,
        child_id_reuse: ChildIdReuse = "failed",
        custom_status_rule: CustomStatusRule = "kept",
    ) -> None:
        if max_payload_bytes <= 0:
            raise ValueError(f"max_payload_bytes must be positive; got {max_payload_bytes}")
        if entity_work_items not in ("v2", "batch"):
            raise ValueError(f"entity_work_items must be 'v2' or 'batch'; got {entity_work_items!r}")
        self.clock = clock
        self.faults = faults if faults is not None else FaultPlan()
        self.max_payload_bytes = max_payload_bytes
        self._lock = threading.Lock()
        store, entities = InstanceStore(), EntityStore()
        dispatcher = Dispatcher(store, lease_seconds(work_item_lease), entities, schedule)
        dispatcher.entity_form = entity_work_items
        waiters = Waiters(self._lock)
        dispatcher.client_waiting = lambda: bool(waiters.completion_waiters or waiters.idle_waiters)
        self._rooms = Rooms(clock, store, dispatcher, TimerQueue(), waiters, entities)
        self._context = EngineContext(self._rooms, self._lock, self.faults, max_payload_bytes, child_id_reuse,
                                      custom_status_rule)
        self._clients = ClientRpcs(self._context)
        self._entity_rpcs = EntityRpcs(self._context)
        self._work = WorkItems(self._context)
        self._inspection = Inspection(self._context)
        clock.bind(self._advance_clock)
        self.faults.add_listener(self._on_faults_changed)

    # ------------------------------------------------------------------ engine lifecycle

    @property
    def stopped(self) -> bool:
        return self._context.stopped

    @property
    def work_item_lease(self) -> float | None:
        """Seconds an orchestrator or activity work item may stay uncompleted before it is dispatched again."""
        return self._rooms.dispatcher.lease

    def shutdown(self) -> None:
        """Stop: end every worker stream and long poll promptly."""
        with self._lock:
            self._context.stopped = True
            for connection in self._rooms.dispatcher.connections.values():
                connection.close()
            self._rooms.waiters.notify_everyone()

    def reset(self) -> None:
        """Drop all instances, queues, timers and in-flight work; open worker streams stay connected."""
        rooms = self._rooms
        with self._lock:
            rooms.store.clear()
            rooms.entities.clear()
            rooms.dispatcher.clear()
            rooms.timers.clear()
            self.clock.reset()
            rooms.waiters.notify_all_instances()
            rooms.waiters.timer_changed.notify_all()

    # ------------------------------------------------------------------ timers and the clock

    def run_real_time_timers(self, stop: threading.Event) -> None:
        """Fire timers when wall time reaches them until ``stop`` is set or the engine shuts down.

        Meant for one dedicated thread when the clock is ``"real"``.
        """
        timekeeper = self._context.timekeeper
        with self._lock:
            while not stop.is_set() and not self._context.stopped:
                now = self.clock.now()
                timekeeper.fire_due_timers(now)
                self._context.after_change()
                entry = timekeeper.peek_live_timer()
                wait = None
                if entry is not None:
                    wait = min(max((entry.fire_at - now).total_seconds(), 0.0005), MAX_PUMP_WAIT)
                self._rooms.waiters.timer_changed.wait(wait)

    def wake_timer_pump(self) -> None:
        """Wake the real-time timer pump (e.g. to make it notice ``stop``)."""
        with self._lock:
            self._rooms.waiters.timer_changed.notify_all()

    def _advance_clock(self, target: datetime) -> None:
        """Clock.advance handler: fire every timer due up to ``target`` in order, then move the clock."""
        with self._lock:
            self._context.timekeeper.fire_due_timers(target)
            self.clock.move_to(target)
            self._context.after_change()

    def _on_faults_changed(self) -> None:
        if self.faults.disconnect_due():
            with self._lock:
                if self.faults.take_disconnect(self.clock.now()):
                    self._context.disconnect_all_workers()

    # ------------------------------------------------------------------ client RPCs of instances

    def start_instance(self, request: pb.CreateInstanceRequest) -> pb.CreateInstanceResponse:
        return self._clients.start_instance(request)

    def raise_event(self, request: pb.RaiseEventRequest) -> pb.RaiseEventResponse:
        return self._clients.raise_event(request)

    def terminate(self, request: pb.TerminateRequest) -> pb.TerminateResponse:
        return self._clients.terminate(request)

    def suspend(self, request: pb.SuspendRequest) -> pb.SuspendResponse:
        return self._clients.suspend(request)

    def resume(self, request: pb.ResumeRequest) -> pb.ResumeResponse:
        return self._clients.resume(request)

    def get_instance(self, request: pb.GetInstanceRequest) -> pb.GetInstanceResponse:
        return self._clients.get_instance(request)

    def wait_for_instance(
        self,
        request: pb.GetInstanceRequest,
        *,
        until: WaitTarget,
        timeout: float | None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> pb.GetInstanceResponse:
        return self._clients.wait_for_instance(request, until=until, timeout=timeout, cancelled=cancelled)

    def wake(self, instance_id: str) -> None:
        self._clients.wake(instance_id)

    def query_instances(self, request: pb.QueryInstancesRequest) -> pb.QueryInstancesResponse:
        return self._clients.query_instances(request)

    def list_instance_ids(self, request: pb.ListInstanceIdsRequest) -> pb.ListInstanceIdsResponse:
        return self._clients.list_instance_ids(request)

    def purge_instances(self, request: pb.PurgeInstancesRequest) -> pb.PurgeInstancesResponse:
        return self._clients.purge_instances(request)

    def restart_instance(self, request: pb.RestartInstanceRequest) -> pb.RestartInstanceResponse:
        return self._clients.restart_instance(request)

    def rewind_instance(self, request: pb.RewindInstanceRequest) -> pb.RewindInstanceResponse:
        return self._clients.rewind_instance(request)

    # ------------------------------------------------------------------ client RPCs of entities

    def signal_entity(self, request: pb.SignalEntityRequest) -> pb.SignalEntityResponse:
        return self._entity_rpcs.signal_entity(request)

    def get_entity(self, request: pb.GetEntityRequest) -> pb.GetEntityResponse:
        return self._entity_rpcs.get_entity(request)

    def query_entities(self, request: pb.QueryEntitiesRequest) -> pb.QueryEntitiesResponse:
        return self._entity_rpcs.query_entities(request)

    def clean_entity_storage(self, request: pb.CleanEntityStorageRequest) -> pb.CleanEntityStorageResponse:
        return self._entity_rpcs.clean_entity_storage(request)

    # ------------------------------------------------------------------ worker RPCs

    def connect(self, request: pb.GetWorkItemsRequest, worker_tag: str = "") -> Connection:
        return self._work.connect(request, worker_tag)

    def hold_worker(self, worker_tag: str) -> None:
        self._work.hold_worker(worker_tag)

    def release_worker(self, worker_tag: str) -> None:
        self._work.release_worker(worker_tag)

    def worker_busy(self, worker_tag: str) -> bool:
        return self._work.worker_busy(worker_tag)

    def close(self, connection: Connection) -> None:
        self._work.close(connection)

    def disconnect(self, connection: Connection) -> None:
        self._work.disconnect(connection)

    def next_work_item(self, connection: Connection, timeout: float | None) -> pb.WorkItem | None:
        return self._work.next_work_item(connection, timeout)

    def complete_orchestrator(self, response: pb.OrchestratorResponse) -> pb.CompleteTaskResponse:
        return self._work.complete_orchestrator(response)

    def complete_activity(self, response: pb.ActivityResponse) -> pb.CompleteTaskResponse:
        return self._work.complete_activity(response)

    def complete_entity(self, result: pb.EntityBatchResult) -> pb.CompleteTaskResponse:
        return self._work.complete_entity(result)

    def abandon_orchestrator(self, request: pb.AbandonOrchestrationTaskRequest) -> pb.AbandonOrchestrationTaskResponse:
        return self._work.abandon_orchestrator(request)

    def abandon_activity(self, request: pb.AbandonActivityTaskRequest) -> pb.AbandonActivityTaskResponse:
        return self._work.abandon_activity(request)

    def abandon_entity(self, request: pb.AbandonEntityTaskRequest) -> pb.AbandonEntityTaskResponse:
        return self._work.abandon_entity(request)

    # ------------------------------------------------------------------ inspection (Python values)

    def history(self, instance_id: str) -> list[pb.HistoryEvent]:
        return self._inspection.history(instance_id)

    def stream_instance_history(self, request: pb.StreamInstanceHistoryRequest) -> list[pb.HistoryChunk]:
        return self._inspection.stream_instance_history(request)

    def snapshots(self) -> list[InstanceSnapshot]:
        return self._inspection.snapshots()

    def snapshot(self, instance_id: str) -> InstanceSnapshot | None:
        return self._inspection.snapshot(instance_id)

    def entities(self) -> list[EntitySnapshot]:
        return self._inspection.entities()

    def entity(self, entity_id: str) -> EntitySnapshot | None:
        return self._inspection.entity(entity_id)

    def connections(self, include_held: bool = False) -> list[Connection]:
        return self._inspection.connections(include_held)

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Block until no work item is queued or in flight (only timers or nothing left). True if idle."""
        return self._inspection.wait_until_idle(timeout)

    def add_removal_listener(
        self, listener: Callable[[InstanceSnapshot, list[pb.HistoryEvent]], None]
    ) -> Callable[[], None]:
        """Call ``listener(snapshot, history)`` with each instance that is purged or replaced by a new instance
        of its id, as it goes (its metadata and committed history, copies; a reset tells no one). It runs under
        the engine's lock: it must be quick and must not call the engine. Returns a function that removes it."""
        return self._inspection.add_removal_listener(listener)
