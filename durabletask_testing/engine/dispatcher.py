"""The dispatcher: the three work queues (``queues.py``) behind one front, with what they share: completion
tokens, leases and the worker streams."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..errors import EngineError, invalid, not_found, precondition
from .entities import Entity, EntityStore, EntityWorkItem, EntityWorkItemForm
from .queues import ActivityQueue, EntityQueue, OrchestratorQueue, WorkQueue
from .scheduling import Quiet, SchedulePolicy
from .state import ActivityWorkItem, Connection, Instance, NameFilter, OrchestratorWorkItem, WorkItem, status_name
from .store import InstanceStore

TOKEN_PREFIXES = {"o": "orchestrator", "a": "activity", "e": "entity"}


class Dispatcher:
    """The orchestrator, activity and entity queues; the tokens and leases of items in flight; the streams.

    Times are monotonic seconds given by the caller; nothing here reads a clock or waits.
    """

    def __init__(
        self,
        store: InstanceStore,
        lease: float | None = None,
        entities: EntityStore | None = None,
        schedule: SchedulePolicy | None = None,
    ) -> None:
        if lease is not None and lease <= 0:
            raise ValueError(f"work_item_lease must be positive (or None for no lease); got {lease}")
        self._store = store
        self.lease = lease
        self.connections: dict[int, Connection] = {}
        self.held_workers: set[str] = set()  # worker tags whose streams get no work items (they stay connected)
        self._connection_counter = 0
        self._leases: list[tuple[float, int, str]] = []  # (expiry, seq, token)
        self._sequence = itertools.count()
        self._token_counter = 0
        self.work_added = False  # something became available: streams are woken at the end of the change
        self.client_waiting: Callable[[], bool] = lambda: False  # set by the engine, read by the schedule
        self.orchestrators = OrchestratorQueue(
            store, self._added, schedule, self._quiet, lambda: list(self.connections.values())
        )
        self.activities = ActivityQueue(store, self._added)
        self.entities = EntityQueue(entities if entities is not None else EntityStore(), self._added)
        self._queues: dict[str, WorkQueue[Any, Any]] = {
            "orchestrator": self.orchestrators,
            "activity": self.activities,
            "entity": self.entities,
        }

    @property
    def schedule(self) -> SchedulePolicy | None:
        """Exploration: the policy deciding the hand-out of orchestrator work items (None: first come)."""
        return self.orchestrators.schedule

    @property
    def entity_form(self) -> EntityWorkItemForm:
        """How entity batches are encoded (entityRequestV2 or entityRequest)."""
        return self.entities.form

    @entity_form.setter
    def entity_form(self, form: EntityWorkItemForm) -> None:
        self.entities.form = form

    def _added(self) -> None:
        self.work_added = True

    def _quiet(self) -> Quiet:
        return Quiet(
            activities_pending=self.activities.pending(),
            orchestrators_in_flight=self.orchestrators.in_flight_count(),
            client_waiting=self.client_waiting(),
            entities_pending=self.entities.pending(),
        )

    # -- queues ------------------------------------------------------------------------------------

    def make_ready(self, instance: Instance, now: float) -> None:
        """Queue an orchestrator work item for ``instance`` if it has events and nothing in flight."""
        self.orchestrators.make_ready(instance, now)

    def queue_activity(self, activity: ActivityWorkItem, *, first: bool = False) -> None:
        self.activities.queue(activity, first=first)

    def make_entity_ready(self, entity: Entity, now: float) -> None:
        """Queue a batch for ``entity`` if some operation may run and nothing is in flight for it."""
        self.entities.make_ready(entity, now)

    def release_held(self, now: float) -> None:
        """Queue again every held item whose back-off has passed."""
        for queue in self._queues.values():
            queue.release_held(now)

    def next_deadline(self) -> float | None:
        """The earliest monotonic time at which a held item is released or a lease expires."""
        while self._leases and self.in_flight(self._leases[0][2]) is None:
            heapq.heappop(self._leases)
        times = [t for t in (q.next_release() for q in self._queues.values()) if t is not None]
        if self._leases:
            times.append(self._leases[0][0])
        if self.schedule is not None and self.orchestrators.has_ready():
            release = self.schedule.release_deadline()
            if release is not None:
                times.append(release)
        return min(times) if times else None

    def is_idle(self) -> bool:
        """Nothing queued or in flight (an activity held after an abandon does not count)."""
        return all(queue.is_idle() for queue in self._queues.values())

    # -- handing out -------------------------------------------------------------------------------

    def next_orchestrator(self, connection: Connection, now: float = 0.0) -> Instance | None:
        """The next ready instance this stream may take (taken off the ready queue), or None."""
        return self.orchestrators.next(connection, now)

    def next_activity(self, connection: Connection) -> tuple[ActivityWorkItem, Instance] | None:
        """The next queued activity this stream may take, with its (live) instance; None if there is none."""
        return self.activities.next(connection)

    def next_entity(self, connection: Connection) -> Entity | None:
        """The next ready entity this stream may take (taken off the ready queue), or None."""
        return self.entities.next(connection)

    def start_orchestrator(
        self, instance: Instance, connection: Connection, started: pb.HistoryEvent, now: float
    ) -> OrchestratorWorkItem:
        """Hand ``instance``'s inbox (after the ``started`` OrchestratorStarted event) to ``connection``."""
        return self._leased(self.orchestrators.start(instance, connection, started, self._next_token("o")), now)

    def start_activity(self, activity: ActivityWorkItem, connection: Connection, now: float) -> ActivityWorkItem:
        """Hand ``activity`` to ``connection`` under a new token."""
        return self._leased(self.activities.start(activity, connection, self._next_token("a")), now)

    def start_entity(
        self, entity: Entity, operations: list[pb.HistoryEvent], connection: Connection, now: float
    ) -> EntityWorkItem:
        """Hand a batch of ``entity``'s operations to ``connection``."""
        return self._leased(self.entities.start(entity, operations, connection, self._next_token("e")), now)

    def _next_token(self, prefix: str) -> str:
        self._token_counter += 1
        return f"{prefix}{self._token_counter}"

    def _leased(self, item: ItemT, now: float) -> ItemT:
        if self.lease is not None:
            heapq.heappush(self._leases, (now + self.lease, next(self._sequence), item.token))
        return item

    # -- taking back -------------------------------------------------------------------------------

    def release(self, item: WorkItem) -> None:
        """Forget an in-flight item: its token is no longer valid and its stream's slot is free."""
        had_stream = item.connection is not None
        self._queues[item.kind].release(item)
        if had_stream and any(queue.has_ready() for queue in self._queues.values()):
            self.work_added = True  # a freed slot can take queued work: wake

    def return_to_queue(self, item: WorkItem, now: float, backoff: float = 0.0) -> None:
        """Undo a dispatch: the same events / activity / operations are handed out again (after ``backoff``)."""
        self.release(item)
        self._queues[item.kind].requeue(item, now, backoff)

    def lease_ran_out(self, item: WorkItem, now: float) -> None:
        """``item`` was not completed within its lease: hand it out again (an activity's late result is still
        accepted if it comes first, see :class:`~.queues.ActivityQueue`)."""
        if isinstance(item, ActivityWorkItem):
            self.activities.outlived(item, now)
            if self.activities.has_ready():
                self.work_added = True
        else:
            self.return_to_queue(item, now)

    def activity_answered(self, item: ActivityWorkItem) -> None:
        """A result of ``item`` was accepted: no dispatch of it is in flight or queued any more."""
        had_stream = item.connection is not None
        self.activities.answered(item)
        if had_stream and any(queue.has_ready() for queue in self._queues.values()):
            self.work_added = True

    def expired(self, now: float) -> list[WorkItem]:
        """In-flight items whose lease has run out (each reported once)."""
        found: list[WorkItem] = []
        while self._leases and self._leases[0][0] <= now:
            _, _, token = heapq.heappop(self._leases)
            item = self.in_flight(token)
            if item is not None:
                found.append(item)
        return found

    def in_flight(self, token: str) -> WorkItem | None:
        kind = TOKEN_PREFIXES.get(token[:1])
        found: WorkItem | None = self._queues[kind].in_flight(token) if kind is not None else None
        return found

    def find_entity(self, token: str) -> EntityWorkItem:
        """The in-flight entity batch named by ``token``."""
        if not token:
            raise invalid("completionToken must not be empty: it names the entity work item")
        return self._found(self.entities.in_flight(token), token, "e")

    def find_orchestrator(self, token: str, instance_id: str) -> OrchestratorWorkItem:
        """The in-flight orchestrator item named by ``token`` (or, without one, by ``instance_id``)."""
        if token:
            return self._found(self.orchestrators.in_flight(token), token, "o")
        _require_instance_id(instance_id)
        instance = self._store.require(instance_id)
        if instance.in_flight is None:
            state = f"it has ended ({status_name(instance.status)})" if instance.is_terminal else "none was dispatched"
            raise precondition(f"no orchestrator work item for instance '{instance_id}' is in flight: {state}")
        return instance.in_flight

    def find_activity(self, token: str, instance_id: str, task_id: int | None) -> ActivityWorkItem:
        """The in-flight activity item named by ``token`` (or, without one, by ``instance_id`` and ``task_id``);
        a token whose lease ran out still names its activity until a result of it is accepted."""
        if token:
            item = self.activities.in_flight(token) or self.activities.late(token)
            return self._found(item, token, "a")
        _require_instance_id(instance_id)
        found = self.activities.by_task(instance_id, task_id if task_id is not None else -1)
        if found is None:
            raise precondition(f"no activity work item for instance '{instance_id}' task {task_id} is in flight")
        return found

    def _found(self, item: T | None, token: str, prefix: str) -> T:
        """``item``, or the refusal that says what is wrong with ``token`` (built only then)."""
        if item is None:
            raise self._bad_token(token, prefix)
        return item

    def _bad_token(self, token: str, prefix: str) -> EngineError:
        kind = TOKEN_PREFIXES[prefix]
        if token[:1] in TOKEN_PREFIXES and token[1:].isdigit():
            if token[0] != prefix:
                other = TOKEN_PREFIXES[token[0]]
                return invalid(f"completion token '{token}' belongs to an {other} work item, not an {kind} work item")
            if int(token[1:]) <= self._token_counter:
                return precondition(
                    f"completion token '{token}' was already used or is no longer valid (the {kind} work item "
                    "was completed, abandoned, or dispatched again after its stream ended or its lease ran out)"
                )
        return not_found(f"completion token '{token}' is unknown to this fake sidecar")

    # -- streams -----------------------------------------------------------------------------------

    def connect(self, request: pb.GetWorkItemsRequest, worker_tag: str = "") -> Connection:
        """Register a GetWorkItems stream with its concurrency limits, name filters and worker tag."""
        if request.maxConcurrentOrchestrationWorkItems < 0:
            raise invalid("maxConcurrentOrchestrationWorkItems must not be negative")
        if request.maxConcurrentActivityWorkItems < 0:
            raise invalid("maxConcurrentActivityWorkItems must not be negative")
        if request.maxConcurrentEntityWorkItems < 0:
            raise invalid("maxConcurrentEntityWorkItems must not be negative")
        orchestration_filter = activity_filter = None
        entity_names = None
        if request.HasField("workItemFilters"):  # a worker that sends filters gets only what they list
            filters = request.workItemFilters
            orchestration_filter = _name_filter(filters.orchestrations, "orchestrations")
            activity_filter = _name_filter(filters.activities, "activities")
            for index, entity in enumerate(filters.entities):
                if not entity.name.strip():
                    raise invalid(f"workItemFilters.entities[{index}].name must not be empty")
            entity_names = frozenset(f.name.lower() for f in filters.entities)
        self._connection_counter += 1
        connection = Connection(
            self._connection_counter,
            request.maxConcurrentOrchestrationWorkItems,
            request.maxConcurrentActivityWorkItems,
            orchestration_filter,
            activity_filter,
            entity_names,
            request.maxConcurrentEntityWorkItems,
            worker_tag=worker_tag,
        )
        self.connections[connection.connection_id] = connection
        return connection

    def disconnect(self, connection: Connection, now: float) -> None:
        """A stream has ended: everything it had in flight is dispatched again."""
        connection.close()
        self.connections.pop(connection.connection_id, None)
        for token in list(connection.tokens):
            item = self.in_flight(token)
            if item is not None:
                self.return_to_queue(item, now)
        connection.tokens.clear()

    def is_held(self, connection: Connection) -> bool:
        """True while the stream's worker is held: it stays connected and is handed nothing."""
        return bool(connection.worker_tag) and connection.worker_tag in self.held_workers

    def clear(self) -> None:
        """Drop every queued, held and in-flight item; streams stay connected with nothing in flight (held
        workers stay held)."""
        for queue in self._queues.values():
            queue.clear()
        self._leases.clear()
        for connection in self.connections.values():
            connection.forget_work()


ItemT = TypeVar("ItemT", OrchestratorWorkItem, ActivityWorkItem, EntityWorkItem)
T = TypeVar("T")


def _name_filter(entries: Iterable[pb.OrchestrationFilter | pb.ActivityFilter], field: str) -> NameFilter:
    """Names with their accepted versions; entries naming the same name add up their versions."""
    result: NameFilter = {}
    for index, entry in enumerate(entries):
        if not entry.name.strip():
            raise invalid(f"workItemFilters.{field}[{index}].name must not be empty")
        result[entry.name] = result.get(entry.name, frozenset()) | frozenset(entry.versions)
    return result


def _require_instance_id(instance_id: str) -> None:
    if not instance_id:
        raise invalid("completionToken is empty and no instanceId was given to identify the work item")
