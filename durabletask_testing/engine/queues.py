"""One queue per kind of work item (orchestrator, activity, entity), each with the same small interface.

A queue owns its ready items, its held (backed-off) items and its items in flight, by token. Handing out is
per kind (what is ready differs: an instance with events, an activity, an entity with a runnable batch); taking
back is the same for all: :meth:`WorkQueue.release` forgets an in-flight item and frees its stream's slot,
:meth:`WorkQueue.requeue` puts it back to be handed out again (after a back-off). Times are monotonic seconds
given by the caller; the :class:`~.dispatcher.Dispatcher` adds the tokens, leases and streams shared by all three.
"""

from __future__ import annotations

import heapq
import itertools
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from .entities import Entity, EntityStore, EntityWorkItem, EntityWorkItemForm
from .scheduling import Quiet, SchedulePolicy
from .state import ActivityWorkItem, Connection, Instance, OrchestratorWorkItem, WorkKind
from .store import InstanceStore

ItemT = TypeVar("ItemT", OrchestratorWorkItem, ActivityWorkItem, EntityWorkItem)
HeldT = TypeVar("HeldT")


class WorkQueue(ABC, Generic[ItemT, HeldT]):
    """Ready, held and in-flight work items of one kind; ``added()`` is called when something may be handed
    out (the engine then wakes the streams)."""

    kind: WorkKind

    def __init__(self, added: Callable[[], None]) -> None:
        self._added = added
        self._held: list[tuple[float, int, HeldT]] = []  # (not before, seq, what is held)
        self._sequence = itertools.count()
        self._in_flight: dict[str, ItemT] = {}

    # -- the common interface ----------------------------------------------------------------------

    def in_flight(self, token: str) -> ItemT | None:
        return self._in_flight.get(token)

    def in_flight_count(self) -> int:
        return len(self._in_flight)

    def release(self, item: ItemT) -> None:
        """Forget an in-flight item: its token is no longer valid and its stream's slot is free."""
        connection = item.connection
        if self._in_flight.pop(item.token, None) is not None and connection is not None:
            connection.gave_back(self.kind, item.token)
        self._forget(item)
        item.connection = None

    @abstractmethod
    def requeue(self, item: ItemT, now: float, backoff: float = 0.0) -> None:
        """Put a released item back: the same work is handed out again (after ``backoff`` seconds)."""

    def release_held(self, now: float) -> None:
        """Queue again every held item whose back-off has passed."""
        while self._held and self._held[0][0] <= now:
            _, _, held = heapq.heappop(self._held)
            self._unhold(held)
            self._added()

    def next_release(self) -> float | None:
        """When the earliest held item is released (None: nothing is held)."""
        return self._held[0][0] if self._held else None

    def held_count(self) -> int:
        return len(self._held)

    @abstractmethod
    def has_ready(self) -> bool:
        """Something waits to be handed out now."""

    @abstractmethod
    def is_idle(self) -> bool:
        """Nothing ready, held or in flight."""

    def clear(self) -> None:
        self._held.clear()
        self._in_flight.clear()

    # -- for the kinds -----------------------------------------------------------------------------

    def _hold(self, not_before: float, held: HeldT) -> None:
        heapq.heappush(self._held, (not_before, next(self._sequence), held))
        self._added()

    def _hand_out(self, item: ItemT, connection: Connection) -> ItemT:
        self._in_flight[item.token] = item
        connection.took(self.kind, item.token)
        return item

    def _forget(self, item: ItemT) -> None:  # noqa: B027 - a hook the kinds may fill
        """What the kind does when an item stops being in flight."""

    @abstractmethod
    def _unhold(self, held: HeldT) -> None:
        """A held item's back-off has passed: make it ready."""


class _ByIdQueue(WorkQueue[ItemT, str]):
    """A queue of ids (instances or entities) ready for their next work item, each queued at most once."""

    def __init__(self, added: Callable[[], None]) -> None:
        super().__init__(added)
        self._ready: deque[str] = deque()
        self._queued: set[str] = set()  # ids ready or held

    def _unhold(self, held: str) -> None:
        self._ready.append(held)

    def has_ready(self) -> bool:
        return bool(self._ready)

    def is_idle(self) -> bool:
        return not (self._queued or self._in_flight)

    def clear(self) -> None:
        super().clear()
        self._ready.clear()
        self._queued.clear()


class OrchestratorQueue(_ByIdQueue[OrchestratorWorkItem]):
    """Instances (by id) with an orchestrator work item to hand out; a schedule policy, when given, decides."""

    kind: WorkKind = "orchestrator"

    def __init__(
        self,
        store: InstanceStore,
        added: Callable[[], None],
        schedule: SchedulePolicy | None,
        quiet: Callable[[], Quiet],
        streams: Callable[[], Sequence[Connection]],
    ) -> None:
        super().__init__(added)
        self._store = store
        self.schedule = schedule
        self._quiet = quiet
        self._streams = streams

    def make_ready(self, instance: Instance, now: float) -> None:
        """Queue a work item for ``instance`` if it has events and nothing in flight."""
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
            self._added()

    def next(self, connection: Connection, now: float) -> Instance | None:
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
        if not eligible or not schedule.may_hand_out(self._quiet(), now):
            return None
        chosen = schedule.pick(eligible)
        self._ready.remove(chosen.instance_id)
        self._queued.discard(chosen.instance_id)
        return chosen

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
            for other in self._streams()
        )

    def start(
        self, instance: Instance, connection: Connection, started: pb.HistoryEvent, token: str
    ) -> OrchestratorWorkItem:
        """Hand ``instance``'s inbox (after the ``started`` OrchestratorStarted event) to ``connection``."""
        delivered, kept = self.schedule.batch(instance) if self.schedule is not None else (instance.inbox, [])
        item = OrchestratorWorkItem(
            token=token,
            instance_id=instance.instance_id,
            execution_id=instance.execution_id,
            new_events=[started, *delivered],
            past_events=list(instance.history),
            attempt=instance.dispatch_count,
            connection=connection,
        )
        instance.dispatched(item, kept)
        return self._hand_out(item, connection)

    def requeue(self, item: OrchestratorWorkItem, now: float, backoff: float = 0.0) -> None:
        instance = self._store.get(item.instance_id)
        if instance is not None and instance.take_back(item, now + backoff if backoff > 0 else None):
            self.make_ready(instance, now)

class ActivityQueue(WorkQueue[ActivityWorkItem, ActivityWorkItem]):
    """Activities to run, in order; those of an ended or moved-on execution are dropped when reached.

    An activity whose lease ran out is handed out again, and the result of whichever dispatch reports first is
    accepted (:meth:`outlived` / :meth:`answered`): the result of the earlier dispatch, arriving late, as well
    as that of the new one. So an activity that runs longer than the lease on a live worker completes; one whose
    worker died or hangs is run again elsewhere; any later result is refused (its token is no longer valid).
    """

    kind: WorkKind = "activity"

    def __init__(self, store: InstanceStore, added: Callable[[], None]) -> None:
        super().__init__(added)
        self._store = store
        self._ready: deque[ActivityWorkItem] = deque()
        self._by_task: dict[tuple[str, int], ActivityWorkItem] = {}  # in flight, by (instance id, task id)
        self._outlived: dict[str, ActivityWorkItem] = {}  # token of a dispatch whose lease ran out -> its activity

    def queue(self, activity: ActivityWorkItem, *, first: bool = False) -> None:
        if first:
            self._ready.appendleft(activity)
        else:
            self._ready.append(activity)
        self._added()

    def next(self, connection: Connection) -> tuple[ActivityWorkItem, Instance] | None:
        """The next queued activity this stream may take, with its (live) instance; None if there is none."""
        if not connection.can_take_activity():
            return None
        for _ in range(len(self._ready)):
            activity = self._ready.popleft()
            if activity.answered:
                continue  # a late result of an earlier dispatch answered it
            instance = self._store.get(activity.instance_id)
            if instance is None or instance.is_terminal or instance.execution_id != activity.execution_id:
                self._forget_outlived(activity)
                continue  # its orchestration ended or moved on: nobody needs the result
            if not connection.wants_activity(activity.name, activity.version):
                self._ready.append(activity)
                continue
            return activity, instance
        return None

    def start(self, activity: ActivityWorkItem, connection: Connection, token: str) -> ActivityWorkItem:
        """Hand ``activity`` to ``connection`` under ``token``."""
        activity.token = token
        activity.connection = connection
        self._by_task[(activity.instance_id, activity.task_id)] = activity
        return self._hand_out(activity, connection)

    def outlived(self, item: ActivityWorkItem, now: float) -> None:
        """``item``'s lease ran out: it is handed out again, and a late result under its old token is still
        accepted while no other dispatch has answered (the first result wins)."""
        token = item.token
        self.release(item)
        item.outlived.append(token)
        self._outlived[token] = item
        self.requeue(item, now)

    def late(self, token: str) -> ActivityWorkItem | None:
        """The activity an earlier dispatch under ``token`` (whose lease ran out) ran, if it is not answered."""
        return self._outlived.get(token)

    def answered(self, item: ActivityWorkItem) -> None:
        """A result of ``item`` was accepted (under its current token or an outlived one): forget every dispatch
        of it, queued or in flight, so that no other result is accepted."""
        self.release(item)
        item.answered = True
        self._forget_outlived(item)
        try:
            self._ready.remove(item)
        except ValueError:
            pass  # in flight or held (skipped when reached) or already gone

    def _forget_outlived(self, item: ActivityWorkItem) -> None:
        for token in item.outlived:
            self._outlived.pop(token, None)
        item.outlived.clear()

    def by_task(self, instance_id: str, task_id: int) -> ActivityWorkItem | None:
        """The in-flight activity of ``instance_id`` with ``task_id``."""
        return self._by_task.get((instance_id, task_id))

    def requeue(self, item: ActivityWorkItem, now: float, backoff: float = 0.0) -> None:
        item.token = ""
        if backoff > 0:
            self._hold(now + backoff, item)
        else:
            self.queue(item, first=True)

    def pending(self) -> int:
        """Activities queued, held or in flight."""
        return len(self._ready) + len(self._in_flight) + len(self._held)

    def _forget(self, item: ActivityWorkItem) -> None:
        key = (item.instance_id, item.task_id)
        if self._by_task.get(key) is item:
            del self._by_task[key]

    def _unhold(self, held: ActivityWorkItem) -> None:
        self._ready.append(held)

    def has_ready(self) -> bool:
        return bool(self._ready)

    def is_idle(self) -> bool:
        return not (self._ready or self._in_flight or self._held)

    def clear(self) -> None:
        super().clear()
        self._ready.clear()
        self._by_task.clear()
        self._outlived.clear()


class EntityQueue(_ByIdQueue[EntityWorkItem]):
    """Entities (by id) with a batch of operations to hand out, one batch per entity at a time."""

    kind: WorkKind = "entity"

    def __init__(self, entities: EntityStore, added: Callable[[], None]) -> None:
        super().__init__(added)
        self._entities = entities
        self.form: EntityWorkItemForm = "v2"  # how batches are encoded (entityRequestV2 or entityRequest)

    def make_ready(self, entity: Entity, now: float) -> None:
        """Queue a batch for ``entity`` if some operation may run and nothing is in flight for it."""
        if entity.in_flight is not None or entity.entity_id in self._queued or not entity.has_batch():
            return
        self._queued.add(entity.entity_id)
        if entity.held_until > now:
            self._hold(entity.held_until, entity.entity_id)
        else:
            self._ready.append(entity.entity_id)
            self._added()

    def next(self, connection: Connection) -> Entity | None:
        """The next ready entity this stream may take (taken off the ready queue), or None."""
        if not connection.can_take_entity():
            return None
        for _ in range(len(self._ready)):
            entity_id = self._ready.popleft()
            entity = self._entities.get(entity_id)
            if entity is None or entity.in_flight is not None or not entity.has_batch():
                self._queued.discard(entity_id)
                continue
            if not connection.wants_entity(entity.name):
                self._ready.append(entity_id)
                continue
            self._queued.discard(entity_id)
            return entity
        return None

    def start(
        self, entity: Entity, operations: list[pb.HistoryEvent], connection: Connection, token: str
    ) -> EntityWorkItem:
        """Hand a batch of ``entity``'s operations to ``connection``."""
        item = EntityWorkItem(
            token=token,
            entity_id=entity.entity_id,
            state=entity.state,
            operations=operations,
            attempt=entity.dispatch_count,
            form=self.form,
            connection=connection,
        )
        entity.dispatched(item)
        return self._hand_out(item, connection)

    def requeue(self, item: EntityWorkItem, now: float, backoff: float = 0.0) -> None:
        entity = self._entities.get(item.entity_id)
        if entity is not None:
            entity.take_back(item, now + backoff if backoff > 0 else None)
            self.make_ready(entity, now)

    def pending(self) -> int:
        """Entities with a batch queued, held or in flight."""
        return len(self._queued) + len(self._in_flight)

    def _forget(self, item: EntityWorkItem) -> None:
        entity = self._entities.get(item.entity_id)
        if entity is not None:
            entity.batch_ended(item)
