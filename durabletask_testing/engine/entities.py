"""Durable entities: their state, queued messages, locks, the batches handed to workers, and the pure rules that
decide what an entity does next.

An entity is addressed as ``@name@key``. Its queue holds, in arrival order, operation messages (an
``entityOperationSignaled`` or ``entityOperationCalled`` history event) and lock requests
(``entityLockRequested``). One batch per entity is in flight at a time. An unlocked entity grants the lock request
at the front of its queue once the operations before it have run; a locked entity runs only the operations of the
orchestration that holds it, everything else waits until that orchestration releases it. Lock sets are acquired one
entity at a time in the order the orchestration gives (SDKs sort them), so two critical sections never deadlock.

Nothing here takes a lock, reads a clock or touches a queue of work. An :class:`Entity` changes only through its
own methods (taking a batch, granting and releasing its lock, being handed out and taken back);
:func:`apply_batch` is a function of one entity and a batch result that returns an :class:`EntityOutbox`.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..errors import invalid, not_found
from ..faults import Site
from ..views import OperationRecord
from ..vocabulary import optional_string, string_value, timestamp, to_datetime
from .state import Connection, WorkKind

ENTITY_LOG_LIMIT = 256  # operation records kept per entity for inspection
EntityWorkItemForm = Literal["v2", "batch"]
PayloadCheck = Callable[[str | None, str], None]
"""``check(value, field)`` raises when ``value`` is over the payload limit."""


def parse_entity_id(entity_id: str, field_name: str) -> tuple[str, str]:
    """``(name, key)`` of an ``@name@key`` entity id; INVALID_ARGUMENT naming ``field_name`` otherwise."""
    if not entity_id.startswith("@"):
        raise invalid(f"{field_name} '{entity_id}' is not an entity id: entity ids have the form '@name@key'")
    parts = entity_id.split("@", 2)
    if len(parts) != 3 or not parts[1].strip():
        raise invalid(f"{field_name} '{entity_id}' is not an entity id: entity ids have the form '@name@key'")
    return parts[1], parts[2]


def operation_of(event: pb.HistoryEvent) -> tuple[str, str, str | None]:
    """``(request id, operation name, calling instance id or None for a signal)`` of a queued operation."""
    if event.HasField("entityOperationCalled"):
        called = event.entityOperationCalled
        return called.requestId, called.operation, optional_string(called, "parentInstanceId") or ""
    signaled = event.entityOperationSignaled
    return signaled.requestId, signaled.operation, None


def is_lock_request(event: pb.HistoryEvent) -> bool:
    return bool(event.HasField("entityLockRequested"))


@dataclass(eq=False, slots=True)
class EntityWorkItem:
    """A batch of operations handed to a worker and not yet completed."""

    kind: ClassVar[WorkKind] = "entity"

    token: str
    entity_id: str
    state: str | None
    operations: list[pb.HistoryEvent]
    attempt: int
    form: EntityWorkItemForm = "v2"
    connection: Connection | None = None

    @property
    def instance_id(self) -> str:
        return self.entity_id

    def to_pb(self) -> pb.WorkItem:
        """``entityRequestV2`` (the operations as history events) or ``entityRequest`` (an EntityBatchRequest)."""
        if self.form == "v2":
            request = pb.EntityRequest(
                instanceId=self.entity_id, entityState=string_value(self.state), operationRequests=self.operations
            )
            return pb.WorkItem(entityRequestV2=request, completionToken=self.token)
        batch = pb.EntityBatchRequest(instanceId=self.entity_id, entityState=string_value(self.state))
        for event in self.operations:
            message = event.entityOperationCalled if event.HasField("entityOperationCalled") else None
            source = message if message is not None else event.entityOperationSignaled
            batch.operations.append(
                pb.OperationRequest(
                    operation=source.operation,
                    requestId=source.requestId,
                    input=source.input if source.HasField("input") else None,
                )
            )
        return pb.WorkItem(entityRequest=batch, completionToken=self.token)

    def fault_site(self, owner: object = None) -> Site:
        """Where fault decisions about this batch are asked (an entity is its own owner)."""
        return Site(self.entity_id, self.entity_id, self.entity_id.split("@", 2)[1], attempt=self.attempt)


@dataclass(eq=False, slots=True)
class Entity:
    """One entity: its state, queued messages, the lock on it and the batch in flight.

    Queued messages are kept so that every step costs time in what it moves, never in the length of the queue:
    ``queue`` holds them in arrival order, except that while the entity is locked the lock holder's calls wait
    apart (they are the only ones that may run); calls in ``queue`` are counted by caller, so granting a lock
    looks through the queue only when its holder has calls waiting there.
    """

    entity_id: str
    name: str
    key: str
    last_modified: datetime
    state: str | None = None
    queue: deque[pb.HistoryEvent] = field(default_factory=deque)
    in_flight: EntityWorkItem | None = None
    locked_by: str | None = None  # critical section id
    lock_owner: str | None = None  # the orchestration instance holding the lock
    held_until: float = 0.0  # monotonic time before which it is not handed out (after an abandon)
    abandon_count: int = 0
    dispatch_count: int = 0
    batches: int = 0  # completed batches (names the entity's result in fault decisions)
    log: deque[OperationRecord] = field(default_factory=lambda: deque(maxlen=ENTITY_LOG_LIMIT))
    _holder_calls: deque[pb.HistoryEvent] = field(default_factory=deque)  # the lock holder's calls, while locked
    _calls_by_caller: Counter[str] = field(default_factory=Counter)  # calls in ``queue`` by calling instance

    @property
    def exists(self) -> bool:
        """An entity exists while it has state."""
        return self.state is not None

    @property
    def queued(self) -> int:
        """Operations and lock requests waiting."""
        return len(self.queue) + len(self._holder_calls)

    @property
    def is_idle(self) -> bool:
        """No state, nothing queued, in flight or locked: the record can go."""
        return self.state is None and not self.queued and self.in_flight is None and self.locked_by is None

    def has_batch(self) -> bool:
        """Some queued operation may run now."""
        if self.locked_by is None:
            return bool(self.queue) and not is_lock_request(self.queue[0])
        return bool(self._holder_calls)

    def enqueue(self, message: pb.HistoryEvent) -> None:
        """An operation or lock request arrives (last in the queue)."""
        if self._is_holder_call(message):
            self._holder_calls.append(message)
        else:
            self._count(message, 1)
            self.queue.append(message)

    def take_batch(self, limit: int = 0) -> list[pb.HistoryEvent]:
        """Take the operations that may run now off the queue: from the front up to the next lock request when
        unlocked; only the lock holder's calls when locked (others keep their places)."""
        taken: list[pb.HistoryEvent] = []
        source = self.queue if self.locked_by is None else self._holder_calls
        while source and not (limit > 0 and len(taken) >= limit) and not is_lock_request(source[0]):
            event = source.popleft()
            if source is self.queue:
                self._count(event, -1)
            taken.append(event)
        return taken

    def grant_front_lock(self) -> pb.HistoryEvent | None:
        """Grant the lock request at the front of an unlocked entity's queue when nothing runs; the granted
        request (an ``entityLockRequested`` history event, no longer queued)."""
        if self.locked_by is not None or self.in_flight is not None or not self.queue:
            return None
        if not is_lock_request(self.queue[0]):
            return None
        event = self.queue.popleft()
        request = event.entityLockRequested
        self.locked_by = request.criticalSectionId
        self.lock_owner = optional_string(request, "parentInstanceId") or ""
        if self._calls_by_caller[self.lock_owner] > 0:  # the holder's calls queued before the grant may run now
            kept: deque[pb.HistoryEvent] = deque()
            for queued in self.queue:
                if self._is_holder_call(queued):
                    self._count(queued, -1)
                    self._holder_calls.append(queued)
                else:
                    kept.append(queued)
            self.queue = kept
        return event

    def release_lock(self, critical_section_id: str) -> bool:
        """Release the lock if ``critical_section_id`` holds it (calls of its holder still waiting go first)."""
        if self.locked_by is None or self.locked_by != critical_section_id:
            return False
        self.locked_by = None
        self.lock_owner = None
        leftover = list(self._holder_calls)
        self._holder_calls.clear()
        self._return_front(leftover)
        return True

    def drop_lock_requests_of(self, instance_id: str) -> int:
        """Forget the queued lock requests of ``instance_id`` (it was replaced or purged); how many."""
        kept = deque(
            e
            for e in self.queue
            if not (is_lock_request(e) and optional_string(e.entityLockRequested, "parentInstanceId") == instance_id)
        )
        dropped = len(self.queue) - len(kept)
        self.queue = kept
        return dropped

    def _is_holder_call(self, event: pb.HistoryEvent) -> bool:
        return (
            self.locked_by is not None
            and event.HasField("entityOperationCalled")
            and (operation_of(event)[2] == self.lock_owner)
        )

    def _count(self, event: pb.HistoryEvent, delta: int) -> None:
        if event.HasField("entityOperationCalled"):
            caller = operation_of(event)[2] or ""
            self._calls_by_caller[caller] += delta
            if self._calls_by_caller[caller] <= 0:
                del self._calls_by_caller[caller]

    def _return_front(self, events: list[pb.HistoryEvent]) -> None:
        """Put ``events`` (in their order) back at the front of where they wait."""
        for event in reversed(events):
            if self._is_holder_call(event):
                self._holder_calls.appendleft(event)
            else:
                self._count(event, 1)
                self.queue.appendleft(event)

    def dispatched(self, item: EntityWorkItem) -> None:
        """The batch ``item`` was handed out."""
        self.dispatch_count += 1
        self.in_flight = item

    def batch_ended(self, item: EntityWorkItem) -> None:
        """``item`` is no longer in flight (completed, abandoned, expired or its stream ended)."""
        if self.in_flight is item:
            self.in_flight = None

    def take_back(self, item: EntityWorkItem, not_before: float | None) -> None:
        """Undo the dispatch of ``item``: its operations go back to the front of the queue; ``not_before``
        (monotonic seconds) delays the next hand-out."""
        self.batch_ended(item)
        self._return_front(item.operations)
        if not_before is not None:
            self.held_until = not_before

    def abandoned(self) -> int:
        """A worker abandoned the batch; returns the abandons before this one."""
        count = self.abandon_count
        self.abandon_count += 1
        return count

    def made_progress(self) -> None:
        """A batch result was accepted: the abandon back-off starts small again."""
        self.abandon_count = 0

    def commit_batch(
        self,
        records: list[OperationRecord],
        unanswered: list[pb.HistoryEvent],
        state: str | None,
        keep_state: bool,
        now: datetime,
    ) -> None:
        """A batch result was applied: its operation records, the operations it did not answer (back to the
        front of the queue), the new state (unless ``keep_state``: the batch failed)."""
        self.log.extend(records)
        self._return_front(unanswered)
        if not keep_state:
            self.state = state
        self.last_modified = now
        self.batches += 1


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to an orchestration's call: entityOperationCompleted or entityOperationFailed."""

    instance_id: str
    event: pb.HistoryEvent


@dataclass(frozen=True, slots=True)
class Signal:
    """An operation one entity signals to another (at ``fire_at`` when it is later than now)."""

    target: str
    event: pb.HistoryEvent
    fire_at: datetime | None


@dataclass(slots=True)
class EntityOutbox:
    """What completing a batch asks of the rest of the engine."""

    replies: list[Reply] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    starts: list[pb.StartNewOrchestrationAction] = field(default_factory=list)


def validate_batch_result(result: pb.EntityBatchResult, item: EntityWorkItem, check: PayloadCheck) -> None:
    """Refuse a batch result that does not fit its work item, before anything changes."""
    if len(result.results) > len(item.operations):
        raise invalid(
            f"the batch result has {len(result.results)} results for {len(item.operations)} operations "
            f"of entity '{item.entity_id}'"
        )
    check(optional_string(result, "entityState"), "entityState")
    for index, outcome in enumerate(result.results):
        kind = outcome.WhichOneof("resultType")
        if kind is None:
            raise invalid(f"results[{index}] is neither success nor failure")
        if kind == "success":
            check(optional_string(outcome.success, "result"), f"results[{index}].success.result")
    for index, action in enumerate(result.actions):
        kind = action.WhichOneof("operationActionType")
        where = f"actions[{index}] (id {action.id})"
        if kind == "sendSignal":
            parse_entity_id(action.sendSignal.instanceId, f"{where}.sendSignal.instanceId")
            if not action.sendSignal.name.strip():
                raise invalid(f"{where}.sendSignal.name must not be empty")
            check(optional_string(action.sendSignal, "input"), f"{where}.sendSignal.input")
            if action.sendSignal.HasField("scheduledTime"):
                to_datetime(action.sendSignal.scheduledTime, f"{where}.sendSignal.scheduledTime")
        elif kind == "startNewOrchestration":
            if not action.startNewOrchestration.name.strip():
                raise invalid(f"{where}.startNewOrchestration.name must not be empty")
            check(optional_string(action.startNewOrchestration, "input"), f"{where}.startNewOrchestration.input")
            if action.startNewOrchestration.HasField("scheduledTime"):
                to_datetime(action.startNewOrchestration.scheduledTime, f"{where}.startNewOrchestration.scheduledTime")
        else:
            raise invalid(f"{where} has no action type set")


def apply_batch(
    entity: Entity,
    item: EntityWorkItem,
    result: pb.EntityBatchResult,
    now: datetime,
    *,
    failure: pb.TaskFailureDetails | None = None,
    new_request_id: Iterator[str],
) -> EntityOutbox:
    """Commit a validated batch result to ``entity`` and return the replies and actions it asks for.

    Operations the result does not answer go back to the front of the queue. A batch-level failure (from the
    worker, or ``failure`` injected by a fault) fails every operation and keeps the old state.
    """
    outbox = EntityOutbox()
    records: list[OperationRecord] = []
    batch_failure = failure
    if batch_failure is None and result.HasField("failureDetails"):
        batch_failure = result.failureDetails
    answered = len(item.operations) if batch_failure is not None else len(result.results)
    for index, event in enumerate(item.operations[:answered]):
        request_id, operation, caller = operation_of(event)
        if batch_failure is not None:
            details: pb.TaskFailureDetails | None = batch_failure
        else:
            outcome = result.results[index]
            details = outcome.failure.failureDetails if outcome.HasField("failure") else None
        record = OperationRecord(
            request_id,
            operation,
            caller,
            "failed" if details is not None else "completed",
            now,
            details.errorType if details is not None else None,
        )
        records.append(record)
        if caller is None or not caller:
            continue
        if details is not None:
            reply = pb.HistoryEvent(
                eventId=-1,
                timestamp=timestamp(now),
                entityOperationFailed=pb.EntityOperationFailedEvent(requestId=request_id, failureDetails=details),
            )
        else:
            success = result.results[index].success
            reply = pb.HistoryEvent(
                eventId=-1,
                timestamp=timestamp(now),
                entityOperationCompleted=pb.EntityOperationCompletedEvent(
                    requestId=request_id, output=success.result if success.HasField("result") else None
                ),
            )
        outbox.replies.append(Reply(caller, reply))
    if batch_failure is None:
        for action in result.actions:
            if action.HasField("sendSignal"):
                send = action.sendSignal
                fire_at = to_datetime(send.scheduledTime, "scheduledTime") if send.HasField("scheduledTime") else None
                signaled = pb.EntityOperationSignaledEvent(
                    requestId=next(new_request_id),
                    operation=send.name,
                    input=send.input if send.HasField("input") else None,
                    targetInstanceId=string_value(send.instanceId),
                    scheduledTime=send.scheduledTime if send.HasField("scheduledTime") else None,
                )
                event = pb.HistoryEvent(eventId=-1, timestamp=timestamp(now), entityOperationSignaled=signaled)
                outbox.signals.append(Signal(send.instanceId, event, fire_at))
            elif action.HasField("startNewOrchestration"):
                outbox.starts.append(action.startNewOrchestration)
    state = optional_string(result, "entityState")
    entity.commit_batch(records, item.operations[answered:], state, batch_failure is not None, now)
    return outbox


class EntityStore:
    """Entities by id, in creation order."""

    def __init__(self) -> None:
        self._entities: dict[str, Entity] = {}

    def get(self, entity_id: str) -> Entity | None:
        return self._entities.get(entity_id)

    def require(self, entity_id: str) -> Entity:
        entity = self._entities.get(entity_id)
        if entity is None:
            raise not_found(f"no entity with id '{entity_id}'")
        return entity

    def get_or_create(self, entity_id: str, now: datetime) -> Entity:
        """The entity, created (without state) on its first message."""
        entity = self._entities.get(entity_id)
        if entity is None:
            name, key = parse_entity_id(entity_id, "entity id")
            entity = Entity(entity_id, name, key, now)
            self._entities[entity_id] = entity
        return entity

    def forget_if_idle(self, entity: Entity) -> None:
        """Drop an entity with no state and nothing to do (it no longer exists)."""
        if entity.is_idle and self._entities.get(entity.entity_id) is entity:
            del self._entities[entity.entity_id]

    def remove(self, entity: Entity) -> None:
        if self._entities.get(entity.entity_id) is entity:
            del self._entities[entity.entity_id]

    def __iter__(self) -> Iterator[Entity]:
        return iter(list(self._entities.values()))

    def __len__(self) -> int:
        return len(self._entities)

    def clear(self) -> None:
        self._entities.clear()
