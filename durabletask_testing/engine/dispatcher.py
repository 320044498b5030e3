"""Work items: the queues they wait in, the leases and tokens they are handed out under, the worker streams."""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..errors import EngineError, invalid, not_found, precondition
from .entities import Entity, EntityStore, EntityWorkItem, EntityWorkItemForm
from .scheduling import Quiet, SchedulePolicy
from .state import ActivityWorkItem, Connection, Instance, NameFilter, OrchestratorWorkItem, WorkItem, status_name
from .store import InstanceStore


class Dispatcher:
    """Ready instances, queued activities, held (backed-off) items, in-flight items with leases, and streams.

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
        self._entities = entities if entities is not None else EntityStore()
        self._entity_ready: deque[str] = deque()  # entity ids with a batch to hand out
        self._entity_queued: set[str] = set()  # ids in _entity_ready or held
        self._entities_in_flight: dict[str, EntityWorkItem] = {}
        self.lease = lease
        self._ready: deque[str] = deque()  # instance ids with an orchestrator work item to hand out
        self._queued: set[str] = set()  # ids in _ready or _held
        self._held: list[tuple[float, int, str | ActivityWorkItem | _HeldEntity]] = []  # (not before, seq, item)
        self._activities: deque[ActivityWorkItem] = deque()
        self._orchestrators_in_flight: dict[str, OrchestratorWorkItem] = {}
        self._activities_in_flight: dict[str, ActivityWorkItem] = {}
        self._activity_by_task: dict[tuple[str, int], ActivityWorkItem] = {}
        self._leases: list[tuple[float, int, str]] = []  # (expiry, seq, token)
        self._sequence = itertools.count()
        self._token_counter = 0
        self.connections: dict[int, Connection] = {}
        self._connection_counter = 0
        self.entity_form: EntityWorkItemForm = "v2"  # how entity batches are encoded (entityRequestV2 or entityRequest)
        self.work_added = False  # something became available: streams are woken at the end of the change
        self.schedule = schedule  # exploration: decides the hand-out of orchestrator work items
        self.client_waiting: Callable[[], bool] = lambda: False  # set by the engine, read by the schedule

    # -- queues ------------------------------------------------------------------------------------

    def make_ready(self, instance: Instance, now: float) -> None:
        """Queue an orchestrator work item for ``instance`` if it has events and nothing in flight."""
        if (
            instance.in_flight is not None
            or not instance.has_work
            or instance.waiting_for_start_time
            or instance.instance_id in self._queued
        ):
            return
        self._queued.add(instance.instance_id)
        if instance.held_until > now:
            self._hold(instance.held_until, instance.instance_id)
        else:
            self._ready.append(instance.instance_id)
            self.work_added = True

    def queue_activity(self, activity: ActivityWorkItem, *, first: bool = False) -> None:
        if first:
            self._activities.appendleft(activity)
        else:
            self._activities.append(activity)
        self.work_added = True

    def make_entity_ready(self, entity: Entity, now: float) -> None:
        """Queue a batch for ``entity`` if some operation may run and nothing is in flight for it."""
        if entity.in_flight is not None or entity.entity_id in self._entity_queued or not entity.has_batch():
            return
        self._entity_queued.add(entity.entity_id)
        if entity.held_until > now:
            self._hold(entity.held_until, _HeldEntity(entity.entity_id))
        else:
            self._entity_ready.append(entity.entity_id)
            self.work_added = True

    def _hold(self, not_before: float, item: str | ActivityWorkItem | _HeldEntity) -> None:
        heapq.heappush(self._held, (not_before, next(self._sequence), item))
        self.work_added = True

    def release_held(self, now: float) -> None:
        """Queue again every held item whose back-off has passed."""
        while self._held and self._held[0][0] <= now:
            _, _, item = heapq.heappop(self._held)
            if isinstance(item, _HeldEntity):
                self._entity_ready.append(item.entity_id)
            elif isinstance(item, str):
                self._ready.append(item)
            else:
                self._activities.append(item)
            self.work_added = True

    def next_deadline(self) -> float | None:
        """The earliest monotonic time at which a held item is released or a lease expires."""
        while self._leases and self.in_flight(self._leases[0][2]) is None:
            heapq.heappop(self._leases)
        times = [entries[0][0] for entries in (self._held, self._leases) if entries]
        if self.schedule is not None and self._ready:
            release = self.schedule.release_deadline()
            if release is not None:
                times.append(release)
        return min(times) if times else None

    def is_idle(self) -> bool:
        """Nothing queued, held or in flight."""
        return not (
            self._queued
            or self._activities
            or self._orchestrators_in_flight
            or self._activities_in_flight
            or self._entity_queued
            or self._entities_in_flight
        )

    # -- handing out -------------------------------------------------------------------------------

    def next_orchestrator(self, connection: Connection, now: float = 0.0) -> Instance | None:
        """The next ready instance this stream may take (taken off the ready queue), or None."""
        if not connection.can_take_orchestrator():
            return None
        if self.schedule is not None:
            return self._next_scheduled(self.schedule, connection, now)
        for _ in range(len(self._ready)):
            instance_id = self._ready.popleft()
            instance = self._store.get(instance_id)
            if instance is None or instance.in_flight is not None or not instance.has_work:
                self._queued.discard(instance_id)
                continue
            if not connection.wants_orchestration(instance.name, instance.version) or self._another_stream_preferred(
                instance, connection
            ):
                self._ready.append(instance_id)
                continue
            self._queued.discard(instance_id)
            return instance
        return None

    def _next_scheduled(self, schedule: SchedulePolicy, connection: Connection, now: float) -> Instance | None:
        """The ready instance the schedule picks, when it lets one be handed out now."""
        eligible: list[Instance] = []
        for instance_id in list(self._ready):
            instance = self._store.get(instance_id)
            if instance is None or instance.in_flight is not None or not instance.has_work:
                self._ready.remove(instance_id)
                self._queued.discard(instance_id)
            elif connection.wants_orchestration(instance.name, instance.version) and not (
                self._another_stream_preferred(instance, connection)
            ):
                eligible.append(instance)
        if not eligible:
            return None
        held_activities = sum(1 for entry in self._held if isinstance(entry[2], ActivityWorkItem))
        quiet = Quiet(
            activities_pending=len(self._activities) + len(self._activities_in_flight) + held_activities,
            orchestrators_in_flight=len(self._orchestrators_in_flight),
            client_waiting=self.client_waiting(),
        )
        if not schedule.may_hand_out(quiet, now):
            return None
        chosen = schedule.pick(eligible)
        self._ready.remove(chosen.instance_id)
        self._queued.discard(chosen.instance_id)
        return chosen

    def next_activity(self, connection: Connection) -> tuple[ActivityWorkItem, Instance] | None:
        """The next queued activity this stream may take, with its (live) instance; None if there is none."""
        if not connection.can_take_activity():
            return None
        for _ in range(len(self._activities)):
            activity = self._activities.popleft()
            instance = self._store.get(activity.instance_id)
            if instance is None or instance.is_terminal or instance.execution_id != activity.execution_id:
                continue  # its orchestration ended or moved on: nobody needs the result
            if not connection.wants_activity(activity.name, activity.version):
                self._activities.append(activity)
                continue
            return activity, instance
        return None

    def next_entity(self, connection: Connection) -> Entity | None:
        """The next ready entity this stream may take (taken off the ready queue), or None."""
        if not connection.can_take_entity():
            return None
        for _ in range(len(self._entity_ready)):
            entity_id = self._entity_ready.popleft()
            entity = self._entities.get(entity_id)
            if entity is None or entity.in_flight is not None or not entity.has_batch():
                self._entity_queued.discard(entity_id)
                continue
            if not connection.wants_entity(entity.name):
                self._entity_ready.append(entity_id)
                continue
            self._entity_queued.discard(entity_id)
            return entity
        return None

    def start_entity(
        self, entity: Entity, operations: list[pb.HistoryEvent], connection: Connection, now: float
    ) -> EntityWorkItem:
        """Hand a batch of ``entity``'s operations to ``connection``."""
        item = EntityWorkItem(
            token=self._next_token("e"),
            entity_id=entity.entity_id,
            state=entity.state,
            operations=operations,
            attempt=entity.dispatch_count,
            form=self.entity_form,
            connection=connection,
        )
        entity.dispatch_count += 1
        entity.in_flight = item
        self._entities_in_flight[item.token] = item
        connection.tokens.add(item.token)
        connection.entities_in_flight += 1
        self._lease(item.token, now)
        return item

    def _another_stream_preferred(self, instance: Instance, connection: Connection) -> bool:
        """True when ``connection`` abandoned the instance's last work item (e.g. a worker of another version
        rejected it) and another open stream that takes this orchestration has a free slot now."""
        if instance.abandoned_by != connection.connection_id:
            return False
        return any(
            other is not connection
            and not other.closed
            and other.wants_orchestration(instance.name, instance.version)
            and other.can_take_orchestrator()
            for other in self.connections.values()
        )

    def _next_token(self, prefix: str) -> str:
        self._token_counter += 1
        return f"{prefix}{self._token_counter}"

    def _lease(self, token: str, now: float) -> None:
        if self.lease is not None:
            heapq.heappush(self._leases, (now + self.lease, next(self._sequence), token))

    def start_orchestrator(
        self, instance: Instance, connection: Connection, started: pb.HistoryEvent, now: float
    ) -> OrchestratorWorkItem:
        """Hand ``instance``'s inbox (after the ``started`` OrchestratorStarted event) to ``connection``."""
        delivered, instance.inbox = (
            self.schedule.batch(instance) if self.schedule is not None else (instance.inbox, [])
        )
        instance.wake = False
        new_events = [started, *delivered]
        item = OrchestratorWorkItem(
            token=self._next_token("o"),
            instance_id=instance.instance_id,
            execution_id=instance.execution_id,
            new_events=new_events,
            past_events=list(instance.history),
            attempt=instance.dispatch_count,
            connection=connection,
        )
        instance.dispatch_count += 1
        instance.in_flight = item
        self._orchestrators_in_flight[item.token] = item
        connection.tokens.add(item.token)
        connection.orchestrators_in_flight += 1
        self._lease(item.token, now)
        return item

    def start_activity(self, activity: ActivityWorkItem, connection: Connection, now: float) -> ActivityWorkItem:
        """Hand ``activity`` to ``connection`` under a new token."""
        activity.token = self._next_token("a")
        activity.connection = connection
        self._activities_in_flight[activity.token] = activity
        self._activity_by_task[(activity.instance_id, activity.task_id)] = activity
        connection.tokens.add(activity.token)
        connection.activities_in_flight += 1
        self._lease(activity.token, now)
        return activity

    # -- taking back -------------------------------------------------------------------------------

    def release(self, item: WorkItem) -> None:
        """Forget an in-flight item: its token is no longer valid and its stream's slot is free."""
        connection = item.connection
        if isinstance(item, OrchestratorWorkItem):
            if self._orchestrators_in_flight.pop(item.token, None) is not None and connection is not None:
                connection.orchestrators_in_flight -= 1
        elif isinstance(item, EntityWorkItem):
            if self._entities_in_flight.pop(item.token, None) is not None and connection is not None:
                connection.entities_in_flight -= 1
            entity = self._entities.get(item.entity_id)
            if entity is not None and entity.in_flight is item:
                entity.in_flight = None
        else:
            if self._activities_in_flight.pop(item.token, None) is not None and connection is not None:
                connection.activities_in_flight -= 1
            key = (item.instance_id, item.task_id)
            if self._activity_by_task.get(key) is item:
                del self._activity_by_task[key]
        if connection is not None:
            connection.tokens.discard(item.token)
            if self._ready or self._activities or self._entity_ready:  # a freed slot can take queued work: wake
                self.work_added = True
        item.connection = None

    def return_to_queue(self, item: WorkItem, now: float, backoff: float = 0.0) -> None:
        """Undo a dispatch: the same events / activity are handed out again (after ``backoff`` seconds)."""
        self.release(item)
        if isinstance(item, OrchestratorWorkItem):
            instance = self._store.get(item.instance_id)
            if instance is None or instance.in_flight is not item:
                return
            instance.in_flight = None
            instance.inbox = item.new_events[1:] + instance.inbox
            instance.wake = instance.wake or len(item.new_events) == 1
            if backoff > 0:
                instance.held_until = now + backoff
            self.make_ready(instance, now)
        elif isinstance(item, EntityWorkItem):
            entity = self._entities.get(item.entity_id)
            if entity is None:
                return
            entity.queue = item.operations + entity.queue
            if backoff > 0:
                entity.held_until = now + backoff
            self.make_entity_ready(entity, now)
        else:
            item.token = ""
            if backoff > 0:
                self._hold(now + backoff, item)
            else:
                self.queue_activity(item, first=True)

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
        found: WorkItem | None = self._orchestrators_in_flight.get(token) or self._activities_in_flight.get(token)
        return found or self._entities_in_flight.get(token)

    def find_entity(self, token: str) -> EntityWorkItem:
        """The in-flight entity batch named by ``token``."""
        if not token:
            raise invalid("completionToken must not be empty: it names the entity work item")
        return _by_token(self._entities_in_flight, token, self._bad_token(token, "e", "entity"))

    def find_orchestrator(self, token: str, instance_id: str) -> OrchestratorWorkItem:
        """The in-flight orchestrator item named by ``token`` (or, without one, by ``instance_id``)."""
        if token:
            return _by_token(self._orchestrators_in_flight, token, self._bad_token(token, "o", "orchestrator"))
        _require_instance_id(instance_id)
        instance = self._store.require(instance_id)
        if instance.in_flight is None:
            state = f"it has ended ({status_name(instance.status)})" if instance.is_terminal else "none was dispatched"
            raise precondition(f"no orchestrator work item for instance '{instance_id}' is in flight: {state}")
        return instance.in_flight

    def find_activity(self, token: str, instance_id: str, task_id: int | None) -> ActivityWorkItem:
        """The in-flight activity item named by ``token`` (or, without one, by ``instance_id`` and ``task_id``)."""
        if token:
            return _by_token(self._activities_in_flight, token, self._bad_token(token, "a", "activity"))
        _require_instance_id(instance_id)
        found = self._activity_by_task.get((instance_id, task_id if task_id is not None else -1))
        if found is None:
            raise precondition(f"no activity work item for instance '{instance_id}' task {task_id} is in flight")
        return found

    def _bad_token(self, token: str, prefix: str, kind: str) -> EngineError:
        kinds = {"o": "orchestrator", "a": "activity", "e": "entity"}
        if token[:1] in kinds and token[1:].isdigit():
            if token[0] != prefix:
                other = kinds[token[0]]
                return invalid(f"completion token '{token}' belongs to an {other} work item, not an {kind} work item")
            if int(token[1:]) <= self._token_counter:
                return precondition(
                    f"completion token '{token}' was already used or is no longer valid (the {kind} work item "
                    "was completed, abandoned, or dispatched again after its stream ended or its lease ran out)"
                )
        return not_found(f"completion token '{token}' is unknown to this fake sidecar")

    # -- streams -----------------------------------------------------------------------------------

    def connect(self, request: pb.GetWorkItemsRequest) -> Connection:
        """Register a GetWorkItems stream with its concurrency limits and name filters."""
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
        )
        self.connections[connection.connection_id] = connection
        return connection

    def disconnect(self, connection: Connection, now: float) -> None:
        """A stream has ended: everything it had in flight is dispatched again."""
        connection.closed = True
        self.connections.pop(connection.connection_id, None)
        for token in list(connection.tokens):
            item = self.in_flight(token)
            if item is not None:
                self.return_to_queue(item, now)
        connection.tokens.clear()

    def clear(self) -> None:
        """Drop every queued, held and in-flight item; streams stay connected with nothing in flight."""
        self._ready.clear()
        self._queued.clear()
        self._held.clear()
        self._activities.clear()
        self._orchestrators_in_flight.clear()
        self._activities_in_flight.clear()
        self._activity_by_task.clear()
        self._entity_ready.clear()
        self._entity_queued.clear()
        self._entities_in_flight.clear()
        self._leases.clear()
        for connection in self.connections.values():
            connection.tokens.clear()
            connection.orchestrators_in_flight = 0
            connection.activities_in_flight = 0
            connection.entities_in_flight = 0


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _HeldEntity:
    """An entity backed off after an abandon (in the held heap beside instance ids and activities)."""

    entity_id: str


def _name_filter(entries: Iterable[pb.OrchestrationFilter | pb.ActivityFilter], field: str) -> NameFilter:
    """Names with their accepted versions; entries naming the same name add up their versions."""
    result: NameFilter = {}
    for index, entry in enumerate(entries):
        if not entry.name.strip():
            raise invalid(f"workItemFilters.{field}[{index}].name must not be empty")
        result[entry.name] = result.get(entry.name, frozenset()) | frozenset(entry.versions)
    return result


def _by_token(table: dict[str, T], token: str, refusal: EngineError) -> T:
    item = table.get(token)
    if item is None:
        raise refusal
    return item


def _require_instance_id(instance_id: str) -> None:
    if not instance_id:
        raise invalid("completionToken is empty and no instanceId was given to identify the work item")
