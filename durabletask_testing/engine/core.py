"""The fake sidecar's engine: a deterministic in-memory state machine; no gRPC, starts no threads.

Its RPC methods mirror the sidecar's RPCs: a protocol request message in, a protocol response message out.
Every refusal raises :class:`~durabletask_testing.errors.EngineError` before anything changes. One lock
guards all state; blocking calls (``next_work_item``, ``wait_for_instance``) wait on conditions of that lock
and are woken precisely, never by polling.

The engine composes parts that each own their state: the :class:`~.store.InstanceStore` (instances, page
tokens), the :class:`~.dispatcher.Dispatcher` (queues, leases, tokens, streams), the
:class:`~.timers.TimerQueue` and the :class:`~.waiters.Waiters`. Applying a worker's response to its
instance is :func:`~.runtime.apply_response`, a function that returns an outbox this engine routes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..clock import Clock
from ..errors import EngineError, ErrorCode, invalid, precondition
from ..faults import FaultPlan, Site
from ..views import EntitySnapshot, InstanceSnapshot
from ..vocabulary import optional_field, optional_string, status_name, string_value, timestamp, to_datetime
from . import events
from .dispatcher import Dispatcher
from .entities import (
    EntityStore,
    EntityWorkItem,
    EntityWorkItemForm,
    apply_batch,
    parse_entity_id,
    release_lock,
    take_batch,
    validate_batch_result,
)
from .rooms import Rooms
from .router import Router
from .runtime import apply_response
from .scheduling import SchedulePolicy
from .state import ActivityWorkItem, Connection, Instance, WorkItem
from .store import InstanceStore
from .timekeeper import Timekeeper
from .timers import TimerEntry, TimerQueue, later
from .validation import (
    bounded_failure,
    check_failure_details,
    check_payload,
    check_statuses,
    require_text,
    validate_response,
)
from .views import (
    entity_metadata,
    entity_snapshot,
    matches_query,
    orchestration_state,
    snapshot,
)
from .waiters import Waiters, WaitTarget

DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
DEFAULT_WORK_ITEM_LEASE = timedelta(minutes=5)
ABANDON_BACKOFF_INITIAL = 0.01  # monotonic seconds before an abandoned work item is handed out again
ABANDON_BACKOFF_MAX = 0.5
HISTORY_CHUNK_SIZE = 256
MAX_ENTITY_BATCH = 100  # operations handed to a worker in one entity batch
DEFAULT_LIST_PAGE_SIZE = 100
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
    """Instances, histories, inboxes, work-item queues, timers and waiters of one fake sidecar."""

    def __init__(
        self,
        clock: Clock,
        faults: FaultPlan | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        work_item_lease: timedelta | float | None = DEFAULT_WORK_ITEM_LEASE,
        entity_work_items: EntityWorkItemForm = "v2",
        schedule: SchedulePolicy | None = None,
    ) -> None:
        if max_payload_bytes <= 0:
            raise ValueError(f"max_payload_bytes must be positive; got {max_payload_bytes}")
        self.clock = clock
        self.faults = faults if faults is not None else FaultPlan()
        self.max_payload_bytes = max_payload_bytes
        self._lock = threading.Lock()
        if entity_work_items not in ("v2", "batch"):
            raise ValueError(f"entity_work_items must be 'v2' or 'batch'; got {entity_work_items!r}")
        self._store = InstanceStore()
        self._entities = EntityStore()
        self._dispatcher = Dispatcher(self._store, lease_seconds(work_item_lease), self._entities, schedule)
        self._dispatcher.entity_form = entity_work_items
        self._timers = TimerQueue()
        self._waiters = Waiters(self._lock)
        self._dispatcher.client_waiting = lambda: bool(self._waiters.completion_waiters or self._waiters.idle_waiters)
        rooms = Rooms(clock, self._store, self._dispatcher, self._timers, self._waiters, self._entities)
        self._router = Router(rooms)
        self._timekeeper = Timekeeper(rooms, self._router)
        self._stopped = False
        clock.bind(self._advance_clock)
        self.faults.add_listener(self._on_faults_changed)

    # ------------------------------------------------------------------ engine lifecycle

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def work_item_lease(self) -> float | None:
        """Seconds an orchestrator or activity work item may stay uncompleted before it is dispatched again."""
        return self._dispatcher.lease

    def shutdown(self) -> None:
        """Stop: end every worker stream and long poll promptly."""
        with self._lock:
            self._stopped = True
            for connection in self._dispatcher.connections.values():
                connection.closed = True
            self._waiters.notify_everyone()

    def reset(self) -> None:
        """Drop all instances, queues, timers and in-flight work; open worker streams stay connected."""
        with self._lock:
            self._store.clear()
            self._entities.clear()
            self._dispatcher.clear()
            self._timers.clear()
            self.clock.reset()
            self._waiters.notify_all_instances()
            self._waiters.timer_changed.notify_all()

    # ------------------------------------------------------------------ client RPCs

    def start_instance(self, request: pb.CreateInstanceRequest) -> pb.CreateInstanceResponse:
        """StartInstance: create an instance (PENDING) whose inbox holds ExecutionStarted."""
        require_text(request.name, "name")
        instance_id = request.instanceId or uuid.uuid4().hex
        if not instance_id.strip():
            raise invalid("instanceId must not be blank")
        input_value = optional_string(request, "input")
        check_payload(input_value, "input", self.max_payload_bytes)
        scheduled = None
        if request.HasField("scheduledStartTimestamp"):
            scheduled = to_datetime(request.scheduledStartTimestamp, "scheduledStartTimestamp")
        with self._lock:
            self._check_running()
            existing = self._store.get(instance_id)
            if existing is not None:
                _check_replaceable(existing, request)
            instance = self._router.new_instance(
                instance_id,
                request.name,
                optional_string(request, "version"),
                input_value,
                dict(request.tags),
                execution_id=optional_string(request, "executionId") or None,
            )
            instance.fault_key = self._store.next_fault_key(request.name)
            self._router.add_instance(instance, scheduled, optional_field(request, "parentTraceContext"))
            self._after_change()
        return pb.CreateInstanceResponse(instanceId=instance_id)

    def raise_event(self, request: pb.RaiseEventRequest) -> pb.RaiseEventResponse:
        """RaiseEvent: deliver EventRaised (dropped silently once the instance has ended)."""
        require_text(request.instanceId, "instanceId")
        require_text(request.name, "name")
        value = optional_string(request, "input")
        check_payload(value, "input", self.max_payload_bytes)
        with self._lock:
            instance = self._store.require(request.instanceId)
            self._router.deliver(instance, events.event_raised(self.clock.now(), request.name, value))
            self._after_change()
        return pb.RaiseEventResponse()

    def terminate(self, request: pb.TerminateRequest) -> pb.TerminateResponse:
        """TerminateInstance: deliver ExecutionTerminated (to live descendants too when recursive)."""
        require_text(request.instanceId, "instanceId")
        output = optional_string(request, "output")
        check_payload(output, "output", self.max_payload_bytes)
        with self._lock:
            self._store.require(request.instanceId)
            self._router.terminate(request.instanceId, output, request.recursive)
            self._after_change()
        return pb.TerminateResponse()

    def suspend(self, request: pb.SuspendRequest) -> pb.SuspendResponse:
        """SuspendInstance: deliver ExecutionSuspended (the SDK buffers later events until resumed)."""
        self._lifecycle_event(request.instanceId, optional_string(request, "reason"), "suspend")
        return pb.SuspendResponse()

    def resume(self, request: pb.ResumeRequest) -> pb.ResumeResponse:
        """ResumeInstance: deliver ExecutionResumed."""
        self._lifecycle_event(request.instanceId, optional_string(request, "reason"), "resume")
        return pb.ResumeResponse()

    def _lifecycle_event(self, instance_id: str, reason: str | None, verb: str) -> None:
        require_text(instance_id, "instanceId")
        check_payload(reason, "reason", self.max_payload_bytes)
        make = events.execution_suspended if verb == "suspend" else events.execution_resumed
        with self._lock:
            instance = self._store.require(instance_id)
            if instance.is_terminal:
                raise precondition(
                    f"cannot {verb} instance '{instance_id}': it has already ended ({status_name(instance.status)})"
                )
            self._router.deliver(instance, make(self.clock.now(), reason))
            self._after_change()

    def get_instance(self, request: pb.GetInstanceRequest) -> pb.GetInstanceResponse:
        """GetInstance: the instance's state (``exists=False`` when there is none)."""
        require_text(request.instanceId, "instanceId")
        with self._lock:
            return _instance_response(self._store.get(request.instanceId), request.getInputsAndOutputs)

    def wait_for_instance(
        self,
        request: pb.GetInstanceRequest,
        *,
        until: WaitTarget,
        timeout: float | None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> pb.GetInstanceResponse:
        """Block until the instance has started (``until="start"``) or ended (``"completion"``).

        Answers ``exists=False`` when the instance does not exist; raises DEADLINE_EXCEEDED after ``timeout``
        seconds (of the clock's monotonic time), CANCELLED when ``cancelled()`` turns true, UNAVAILABLE when
        the engine shuts down. Call :meth:`wake` after making ``cancelled()`` true.
        """
        instance_id = request.instanceId
        require_text(instance_id, "instanceId")
        if until not in ("start", "completion"):
            raise ValueError(f"until must be 'start' or 'completion'; got {until!r}")
        # A gRPC call without a deadline reports an enormous time_remaining(); anything a lock cannot wait
        # for (or not finite) means "no deadline".
        deadline = None
        if timeout is not None and timeout < threading.TIMEOUT_MAX:
            deadline = self.clock.monotonic() + timeout
        with self._lock:
            condition = self._waiters.register(instance_id)
            counted = False
            try:
                while True:
                    instance = self._store.get(instance_id)
                    if instance is None or instance.is_terminal:
                        return _instance_response(instance, request.getInputsAndOutputs)
                    if until == "start" and instance.status != pb.ORCHESTRATION_STATUS_PENDING:
                        return _instance_response(instance, request.getInputsAndOutputs)
                    self._check_running()
                    if until == "completion" and not counted:  # even a zero-timeout wait drives the auto clock
                        counted = True
                        self._waiters.completion_waiters += 1
                        self._client_waits()
                        self._after_change()  # auto-advance AND wake streams for what it queued
                        continue
                    if cancelled():
                        raise EngineError(ErrorCode.CANCELLED, f"the wait for instance '{instance_id}' was cancelled")
                    remaining = None if deadline is None else deadline - self.clock.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise EngineError(
                            ErrorCode.DEADLINE_EXCEEDED,
                            f"instance '{instance_id}' did not {'start' if until == 'start' else 'complete'} "
                            f"before the deadline (status {status_name(instance.status)})",
                        )
                    condition.wait(remaining)
            finally:
                if counted:
                    self._waiters.completion_waiters -= 1
                self._waiters.unregister(instance_id)

    def wake(self, instance_id: str) -> None:
        """Wake the waiters of one instance (e.g. after their RPC was cancelled)."""
        with self._lock:
            self._waiters.notify_instance(instance_id)

    def query_instances(self, request: pb.QueryInstancesRequest) -> pb.QueryInstancesResponse:
        """QueryInstances: states matching the filters, ordered by instance id, paged by continuation token.

        A continuation token this engine never handed out is refused (INVALID_ARGUMENT).
        """
        query = request.query
        if query.maxInstanceCount < 0:
            raise invalid(f"query.maxInstanceCount must not be negative; got {query.maxInstanceCount}")
        after = optional_string(query, "continuationToken") or ""
        with self._lock:
            self._store.check_page_token("query.continuationToken", after)
            matching = [i for i in self._store if i.instance_id > after and matches_query(i, query)]
            matching.sort(key=lambda i: i.instance_id)
            limit = query.maxInstanceCount or len(matching)
            page = matching[:limit]
            response = pb.QueryInstancesResponse(
                orchestrationState=[orchestration_state(i, query.fetchInputsAndOutputs) for i in page]
            )
            if len(matching) > limit and page:
                response.continuationToken.value = page[-1].instance_id
                self._store.remember_page_token("query.continuationToken", page[-1].instance_id)
        return response

    def list_instance_ids(self, request: pb.ListInstanceIdsRequest) -> pb.ListInstanceIdsResponse:
        """ListInstanceIds: ended instances ordered by (completion time, id), paged by the last key.

        A last key this engine never handed out is refused (INVALID_ARGUMENT).
        """
        if request.pageSize < 0:
            raise invalid(f"pageSize must not be negative; got {request.pageSize}")
        page_size = request.pageSize or DEFAULT_LIST_PAGE_SIZE
        last_key = optional_string(request, "lastInstanceKey") or ""
        done_from = done_to = None
        if request.HasField("completedTimeFrom"):
            done_from = to_datetime(request.completedTimeFrom, "completedTimeFrom")
        if request.HasField("completedTimeTo"):
            done_to = to_datetime(request.completedTimeTo, "completedTimeTo")
        with self._lock:
            self._store.check_page_token("lastInstanceKey", last_key)
            rows = sorted(
                (f"{instance.completed_at.isoformat()}|{instance.instance_id}", instance.instance_id)
                for instance in self._store
                if instance.is_terminal
                and instance.completed_at is not None
                and (not request.runtimeStatus or instance.status in request.runtimeStatus)
                and (done_from is None or instance.completed_at >= done_from)
                and (done_to is None or instance.completed_at < done_to)
            )
            rows = [row for row in rows if row[0] > last_key]
            page = rows[:page_size]
            response = pb.ListInstanceIdsResponse(instanceIds=[instance_id for _, instance_id in page])
            if len(rows) > page_size and page:
                response.lastInstanceKey.value = page[-1][0]
                self._store.remember_page_token("lastInstanceKey", page[-1][0])
        return response

    def purge_instances(self, request: pb.PurgeInstancesRequest) -> pb.PurgeInstancesResponse:
        """PurgeInstances: delete ended instances (one, a batch or by filter)."""
        kind = request.WhichOneof("request")
        with self._lock:
            if kind == "instanceId":
                require_text(request.instanceId, "instanceId")
                instance = self._store.get(request.instanceId)
                victims = [] if instance is None else [instance]
                if instance is not None and not instance.is_terminal:
                    raise precondition(
                        f"cannot purge instance '{request.instanceId}': it has not ended "
                        f"(status {status_name(instance.status)}); terminate it first"
                    )
            elif kind == "instanceBatch":
                found = (self._store.get(instance_id) for instance_id in request.instanceBatch.instanceIds)
                victims = [i for i in found if i is not None and i.is_terminal]
            elif kind == "purgeInstanceFilter":
                flt = request.purgeInstanceFilter
                check_statuses(flt.runtimeStatus, "purgeInstanceFilter.runtimeStatus")
                query = pb.InstanceQuery(runtimeStatus=flt.runtimeStatus)
                if flt.HasField("createdTimeFrom"):
                    query.createdTimeFrom.CopyFrom(flt.createdTimeFrom)
                if flt.HasField("createdTimeTo"):
                    query.createdTimeTo.CopyFrom(flt.createdTimeTo)
                victims = [i for i in self._store if i.is_terminal and matches_query(i, query)]
            else:
                raise invalid("PurgeInstancesRequest needs instanceId, instanceBatch or purgeInstanceFilter")
            count = sum(self._router.delete(victim, request.recursive) for victim in victims)
            self._after_change()
        response = pb.PurgeInstancesResponse(deletedInstanceCount=count)
        response.isComplete.value = True
        return response

    def restart_instance(self, request: pb.RestartInstanceRequest) -> pb.RestartInstanceResponse:
        """RestartInstance: start an ended instance again with its original name, version and input."""
        require_text(request.instanceId, "instanceId")
        with self._lock:
            old = self._store.require(request.instanceId)
            if not old.is_terminal:
                raise precondition(
                    f"cannot restart instance '{request.instanceId}': it has not ended "
                    f"(status {status_name(old.status)})"
                )
            target = uuid.uuid4().hex if request.restartWithNewInstanceId else request.instanceId
            instance = self._router.new_instance(target, old.name, old.version, old.input, dict(old.tags))
            instance.fault_key = self._store.next_fault_key(old.name)
            self._router.add_instance(instance, None, None)
            self._after_change()
        return pb.RestartInstanceResponse(instanceId=target)

    def rewind_instance(self, request: pb.RewindInstanceRequest) -> pb.RewindInstanceResponse:
        """RewindInstance: run a FAILED instance again from its last good state; the worker rewrites the history
        (dropping the failed results) and failed sub-orchestrations are rewound with it."""
        require_text(request.instanceId, "instanceId")
        reason = optional_string(request, "reason")
        check_payload(reason, "reason", self.max_payload_bytes)
        with self._lock:
            self._check_running()
            instance = self._store.require(request.instanceId)
            if instance.status != pb.ORCHESTRATION_STATUS_FAILED:
                raise precondition(
                    f"cannot rewind instance '{request.instanceId}': only FAILED instances can be rewound "
                    f"(status {status_name(instance.status)})"
                )
            self._router.rewind(instance, reason)
            self._after_change()
        return pb.RewindInstanceResponse()

    # ------------------------------------------------------------------ entity RPCs

    def signal_entity(self, request: pb.SignalEntityRequest) -> pb.SignalEntityResponse:
        """SignalEntity: queue a one-way operation for an entity (at ``scheduledTime`` when that is later)."""
        parse_entity_id(request.instanceId, "instanceId")
        require_text(request.name, "name")
        value = optional_string(request, "input")
        check_payload(value, "input", self.max_payload_bytes)
        fire_at = None
        if request.HasField("scheduledTime"):
            fire_at = to_datetime(request.scheduledTime, "scheduledTime")
        with self._lock:
            self._check_running()
            now = self.clock.now()
            signaled = pb.EntityOperationSignaledEvent(
                requestId=request.requestId or uuid.uuid4().hex,
                operation=request.name,
                input=request.input if request.HasField("input") else None,
                targetInstanceId=string_value(request.instanceId),
                scheduledTime=request.scheduledTime if request.HasField("scheduledTime") else None,
            )
            event = pb.HistoryEvent(eventId=-1, timestamp=timestamp(now), entityOperationSignaled=signaled)
            if fire_at is not None and fire_at > now:
                self._router.push_timer(TimerEntry("entity", fire_at, request.instanceId, "", event=event))
            else:
                self._router.send_to_entity(request.instanceId, event)
            self._after_change()
        return pb.SignalEntityResponse()

    def get_entity(self, request: pb.GetEntityRequest) -> pb.GetEntityResponse:
        """GetEntity: the entity's metadata (``exists=False`` when it has no state)."""
        parse_entity_id(request.instanceId, "instanceId")
        with self._lock:
            entity = self._entities.get(request.instanceId)
            if entity is None or not entity.exists:
                return pb.GetEntityResponse(exists=False)
            return pb.GetEntityResponse(exists=True, entity=entity_metadata(entity, request.includeState))

    def query_entities(self, request: pb.QueryEntitiesRequest) -> pb.QueryEntitiesResponse:
        """QueryEntities: entities matching the filters, ordered by id, paged by continuation token. Entities
        without state (transient: only queued operations or a lock) are listed only with ``includeTransient``."""
        query = request.query
        page_size = query.pageSize.value if query.HasField("pageSize") else 0
        if page_size < 0:
            raise invalid(f"query.pageSize must not be negative; got {page_size}")
        after = optional_string(query, "continuationToken") or ""
        prefix = optional_string(query, "instanceIdStartsWith") or ""
        since = until = None
        if query.HasField("lastModifiedFrom"):
            since = to_datetime(query.lastModifiedFrom, "query.lastModifiedFrom")
        if query.HasField("lastModifiedTo"):
            until = to_datetime(query.lastModifiedTo, "query.lastModifiedTo")
        with self._lock:
            self._store.check_page_token("query.continuationToken (entities)", after)
            matching = sorted(
                (
                    e
                    for e in self._entities
                    if e.entity_id > after
                    and e.entity_id.startswith(prefix)
                    and (query.includeTransient or e.exists)
                    and (since is None or e.last_modified >= since)
                    and (until is None or e.last_modified < until)
                ),
                key=lambda e: e.entity_id,
            )
            limit = page_size or len(matching)
            page = matching[:limit]
            response = pb.QueryEntitiesResponse(entities=[entity_metadata(e, query.includeState) for e in page])
            if len(matching) > limit and page:
                response.continuationToken.value = page[-1].entity_id
                self._store.remember_page_token("query.continuationToken (entities)", page[-1].entity_id)
        return response

    def clean_entity_storage(self, request: pb.CleanEntityStorageRequest) -> pb.CleanEntityStorageResponse:
        """CleanEntityStorage: drop entities with no state and nothing queued; release locks whose orchestration
        has ended or is gone. One pass does everything (no continuation token)."""
        removed = released = 0
        with self._lock:
            for entity in self._entities:
                if request.releaseOrphanedLocks and entity.locked_by is not None:
                    owner = self._store.get(entity.lock_owner or "")
                    if owner is None or owner.is_terminal:
                        release_lock(entity, entity.locked_by)
                        released += 1
                        self._router.pump_entity(entity)
                if request.removeEmptyEntities and entity.is_idle and self._entities.get(entity.entity_id) is entity:
                    self._entities.remove(entity)
                    removed += 1
            self._after_change()
        return pb.CleanEntityStorageResponse(emptyEntitiesRemoved=removed, orphanedLocksReleased=released)

    def complete_entity(self, result: pb.EntityBatchResult) -> pb.CompleteTaskResponse:
        """CompleteEntityTask: commit the batch's state, answer its callers, send its signals and starts."""
        with self._lock:
            item = self._dispatcher.find_entity(result.completionToken)
            entity = self._entities.get(item.entity_id)
            if entity is None or entity.in_flight is not item:
                self._dispatcher.release(item)
                raise precondition(f"entity '{item.entity_id}' was removed while its batch ran")

            def check(value: str | None, field_name: str) -> None:
                check_payload(value, field_name, self.max_payload_bytes)

            validate_batch_result(result, item, check)
            for index, outcome in enumerate(result.results):
                if outcome.HasField("failure"):
                    where = f"results[{index}].failure.failureDetails"
                    check_failure_details(outcome.failure.failureDetails, where, self.max_payload_bytes)
            now = self.clock.now()
            site = Site(entity.entity_id, entity.entity_id, entity.name, entity.batches, item.attempt)
            fault = self.faults.entity_result_fault(site, now)
            if fault is not None and fault.lose:
                self._dispatcher.return_to_queue(item, self.clock.monotonic())
            else:
                self._dispatcher.release(item)
                entity.abandon_count = 0
                injected = fault.failure if fault is not None else None
                ids = self._router.request_ids
                outbox = apply_batch(entity, item, result, now, failure=injected, new_request_id=ids)
                self._router.settle_entity(entity, outbox, now)
                self._timekeeper.fire_due_timers(now)
            self._after_change()
        return pb.CompleteTaskResponse()

    def abandon_entity(self, request: pb.AbandonEntityTaskRequest) -> pb.AbandonEntityTaskResponse:
        """AbandonTaskEntityWorkItem: hand the batch out again after a back-off that grows with each abandon."""
        with self._lock:
            item = self._dispatcher.find_entity(request.completionToken)
            entity = self._entities.get(item.entity_id)
            backoff = ABANDON_BACKOFF_INITIAL
            if entity is not None:
                backoff = min(ABANDON_BACKOFF_INITIAL * (2**entity.abandon_count), ABANDON_BACKOFF_MAX)
                entity.abandon_count += 1
            self._dispatcher.return_to_queue(item, self.clock.monotonic(), backoff)
            self._after_change()
        return pb.AbandonEntityTaskResponse()

    def stream_instance_history(self, request: pb.StreamInstanceHistoryRequest) -> list[pb.HistoryChunk]:
        """StreamInstanceHistory: the history in chunks of at most HISTORY_CHUNK_SIZE events."""
        committed = self.history(request.instanceId)
        if not committed:
            return [pb.HistoryChunk()]
        return [
            pb.HistoryChunk(events=committed[i : i + HISTORY_CHUNK_SIZE])
            for i in range(0, len(committed), HISTORY_CHUNK_SIZE)
        ]

    # ------------------------------------------------------------------ worker RPCs

    def connect(self, request: pb.GetWorkItemsRequest) -> Connection:
        """Register a GetWorkItems stream with its concurrency limits and name filters."""
        with self._lock:
            self._check_running()
            return self._dispatcher.connect(request)

    def close(self, connection: Connection) -> None:
        """Ask a stream to end (e.g. its RPC was cancelled); wakes it if it is waiting."""
        with self._lock:
            connection.closed = True
            self._waiters.work_ready.notify_all()

    def disconnect(self, connection: Connection) -> None:
        """A stream has ended: everything it had in flight is dispatched again."""
        with self._lock:
            self._dispatcher.disconnect(connection, self.clock.monotonic())
            self._after_change()

    def next_work_item(self, connection: Connection, timeout: float | None) -> pb.WorkItem | None:
        """Hand the stream its next work item, waiting up to ``timeout`` seconds; None on timeout or close.

        Raises UNAVAILABLE when the fake ended the stream on purpose (fault injection).
        """
        deadline = None if timeout is None else self.clock.monotonic() + timeout
        dispatcher = self._dispatcher
        with self._lock:
            while True:
                if connection.close_reason is not None:
                    raise EngineError(ErrorCode.UNAVAILABLE, connection.close_reason)
                if connection.closed or self._stopped:
                    return None
                now = self.clock.monotonic()
                self._expire_leases(now)
                dispatcher.release_held(now)
                item = self._dispatch(connection, now)
                if item is not None:
                    if self.faults.work_item_dispatched(self.clock.now()):
                        self._disconnect_all_workers()
                    return item
                if dispatcher.work_added:  # an injected failure answered an activity: look again at once
                    self._after_change()
                    continue
                wait = None if deadline is None else deadline - now
                if wait is not None and wait <= 0:
                    return None
                due = dispatcher.next_deadline()
                if due is not None:
                    until_due = max(due - now, 0.0005)
                    wait = until_due if wait is None else min(wait, until_due)
                self._waiters.work_ready.wait(wait)

    def complete_orchestrator(self, response: pb.OrchestratorResponse) -> pb.CompleteTaskResponse:
        """CompleteOrchestratorTask: validate the whole response, then commit its events and actions."""
        with self._lock:
            item = self._dispatcher.find_orchestrator(response.completionToken, response.instanceId)
            if response.instanceId and response.instanceId != item.instance_id:
                raise invalid(
                    f"instanceId '{response.instanceId}' does not match the work item's instance '{item.instance_id}'"
                )
            instance = self._store.get(item.instance_id)
            if instance is None or instance.in_flight is not item:
                self._dispatcher.release(item)
                raise precondition(f"instance '{item.instance_id}' was purged or replaced while its work item ran")
            validate_response(response, self.max_payload_bytes)
            now = self.clock.now()
            site = Site(instance.instance_id, instance.execution_key, instance.name, attempt=item.attempt)
            if self.faults.orchestrator_result_fault(site, now):
                self._dispatcher.return_to_queue(item, self.clock.monotonic())
            else:
                self._dispatcher.release(item)
                instance.in_flight = None
                instance.abandon_count = 0
                instance.abandoned_by = None
                outbox = apply_response(instance, item.new_events, response, now)
                self._router.settle(instance, outbox, now)
                self._timekeeper.fire_due_timers(now)
            self._after_change()
        return pb.CompleteTaskResponse()

    def complete_activity(self, response: pb.ActivityResponse) -> pb.CompleteTaskResponse:
        """CompleteActivityTask: deliver TaskCompleted / TaskFailed to the orchestration's inbox."""
        with self._lock:
            item = self._dispatcher.find_activity(response.completionToken, response.instanceId, response.taskId)
            if response.instanceId and response.instanceId != item.instance_id:
                raise invalid(
                    f"instanceId '{response.instanceId}' does not match the work item's instance '{item.instance_id}'"
                )
            if response.taskId != item.task_id:
                raise invalid(f"taskId {response.taskId} does not match the work item's task id {item.task_id}")
            now = self.clock.now()
            if response.HasField("failureDetails"):
                check_failure_details(response.failureDetails, "failureDetails", self.max_payload_bytes)
                event = events.task_failed(now, item.task_id, bounded_failure(response.failureDetails))
            else:
                check_payload(optional_string(response, "result"), "result", self.max_payload_bytes)
                event = events.task_completed(now, item.task_id, optional_field(response, "result"))
            owner = self._store.get(item.instance_id)
            key = owner.execution_key if owner is not None else item.instance_id
            site = Site(item.instance_id, key, item.name, item.task_id, item.attempt)
            fault = self.faults.activity_result_fault(site, now)
            if fault is not None and fault.lose:
                self._dispatcher.return_to_queue(item, self.clock.monotonic())
            else:
                self._dispatcher.release(item)
                if owner is not None:  # the instance made progress: an abandon back-off starts small again
                    owner.abandon_count = 0
                if fault is not None and fault.delay is not None:
                    entry = TimerEntry(
                        "event", later(now, fault.delay), item.instance_id, item.execution_id, event=event
                    )
                    self._router.push_timer(entry)
                else:
                    self._router.deliver_to(item.instance_id, item.execution_id, event)
            self._after_change()
        return pb.CompleteTaskResponse()

    def abandon_orchestrator(self, request: pb.AbandonOrchestrationTaskRequest) -> pb.AbandonOrchestrationTaskResponse:
        """AbandonTaskOrchestratorWorkItem: hand the work item out again after a back-off (monotonic time) that
        grows with each abandon since the instance's last completed work item, preferably to another stream."""
        with self._lock:
            item = self._dispatcher.find_orchestrator(request.completionToken, "")
            instance = self._store.get(item.instance_id)
            backoff = ABANDON_BACKOFF_INITIAL
            if instance is not None:
                backoff = min(ABANDON_BACKOFF_INITIAL * (2**instance.abandon_count), ABANDON_BACKOFF_MAX)
                instance.abandon_count += 1
                instance.abandoned_by = item.connection.connection_id if item.connection is not None else None
            self._dispatcher.return_to_queue(item, self.clock.monotonic(), backoff)
            self._after_change()
        return pb.AbandonOrchestrationTaskResponse()

    def abandon_activity(self, request: pb.AbandonActivityTaskRequest) -> pb.AbandonActivityTaskResponse:
        """AbandonTaskActivityWorkItem: hand the activity out again after a short back-off."""
        with self._lock:
            item = self._dispatcher.find_activity(request.completionToken, "", None)
            self._dispatcher.return_to_queue(item, self.clock.monotonic(), ABANDON_BACKOFF_INITIAL)
            self._after_change()
        return pb.AbandonActivityTaskResponse()

    # ------------------------------------------------------------------ inspection (Python values)

    def history(self, instance_id: str) -> list[pb.HistoryEvent]:
        """The committed history of an instance's current execution (copies)."""
        require_text(instance_id, "instanceId")
        with self._lock:
            instance = self._store.require(instance_id)
            compacted = instance.history_blob is not None
            committed = instance.committed_history()
        if compacted:
            return committed
        copies = []
        for event in committed:
            copy = pb.HistoryEvent()
            copy.CopyFrom(event)
            copies.append(copy)
        return copies

    def snapshots(self) -> list[InstanceSnapshot]:
        """Frozen metadata of every instance, in creation order."""
        with self._lock:
            return [snapshot(i) for i in self._store]

    def snapshot(self, instance_id: str) -> InstanceSnapshot | None:
        """Frozen metadata of one instance, or None."""
        with self._lock:
            instance = self._store.get(instance_id)
            return None if instance is None else snapshot(instance)

    def entities(self) -> list[EntitySnapshot]:
        """Frozen views of every entity (with state, queued work or a lock), in creation order."""
        with self._lock:
            return [entity_snapshot(e) for e in self._entities]

    def entity(self, entity_id: str) -> EntitySnapshot | None:
        """A frozen view of one entity, or None."""
        with self._lock:
            entity = self._entities.get(entity_id)
            return None if entity is None else entity_snapshot(entity)

    def connections(self) -> list[Connection]:
        """The open GetWorkItems streams (their limits, filters and in-flight counts; do not modify)."""
        with self._lock:
            return list(self._dispatcher.connections.values())

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Block until no work item is queued or in flight (only timers or nothing left). True if idle.

        Handy before advancing a manual clock: the orchestrations have reached their timers.
        """
        deadline = None if timeout is None else self.clock.monotonic() + timeout
        with self._lock:
            self._waiters.idle_waiters += 1
            self._client_waits()
            try:
                while not self._dispatcher.is_idle():
                    if self._stopped:
                        return False
                    remaining = None if deadline is None else deadline - self.clock.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._waiters.idle_changed.wait(remaining)
                return True
            finally:
                self._waiters.idle_waiters -= 1

    # ------------------------------------------------------------------ timers and the clock

    def run_real_time_timers(self, stop: threading.Event) -> None:
        """Fire timers when wall time reaches them until ``stop`` is set or the engine shuts down.

        Meant for one dedicated thread when the clock is ``"real"``.
        """
        with self._lock:
            while not stop.is_set() and not self._stopped:
                now = self.clock.now()
                self._timekeeper.fire_due_timers(now)
                self._after_change()
                entry = self._timekeeper.peek_live_timer()
                wait = None
                if entry is not None:
                    wait = min(max((entry.fire_at - now).total_seconds(), 0.0005), MAX_PUMP_WAIT)
                self._waiters.timer_changed.wait(wait)

    def wake_timer_pump(self) -> None:
        """Wake the real-time timer pump (e.g. to make it notice ``stop``)."""
        with self._lock:
            self._waiters.timer_changed.notify_all()

    def _advance_clock(self, target: datetime) -> None:
        """Clock.advance handler: fire every timer due up to ``target`` in order, then move the clock."""
        with self._lock:
            self._timekeeper.fire_due_timers(target)
            self.clock._set(target)
            self._after_change()

    def _after_change(self) -> None:
        """End of every state change: auto-advance the clock if idle, wake streams and waiters."""
        if not self._stopped:
            self._timekeeper.maybe_auto_advance()
        if self._dispatcher.work_added:
            self._dispatcher.work_added = False
            self._waiters.work_ready.notify_all()
        if self._waiters.idle_waiters and self._dispatcher.is_idle():
            self._waiters.idle_changed.notify_all()

    def _client_waits(self) -> None:
        """A client or test now blocks: a schedule that holds work until then may hand it out (wake streams)."""
        if self._dispatcher.schedule is not None:
            self._waiters.work_ready.notify_all()

    # ------------------------------------------------------------------ instances and routing

    def _check_running(self) -> None:
        if self._stopped:
            raise EngineError(ErrorCode.UNAVAILABLE, "the fake sidecar is shutting down")

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, connection: Connection, now: float) -> pb.WorkItem | None:
        """The stream's next work item, queued activities first: the results of a fan-out then reach their
        orchestration in fewer orchestrator work items, each of which the worker answers with a full replay."""
        while True:
            found = self._dispatcher.next_activity(connection)
            if found is None:
                break
            activity, instance = found
            activity.attempt = instance.next_task_attempt(activity.task_id)
            site = Site(instance.instance_id, instance.execution_key, activity.name, activity.task_id, activity.attempt)
            failure = self.faults.activity_dispatch_fault(site, self.clock.now())
            if failure is not None:
                self._router.deliver(instance, events.task_failed(self.clock.now(), activity.task_id, failure))
                continue
            encoded = self._encode(self._dispatcher.start_activity(activity, connection, now))
            if encoded is not None:
                return encoded
        while True:
            ready = self._dispatcher.next_orchestrator(connection, now)
            if ready is None:
                break
            started = events.orchestrator_started(self.clock.now())
            encoded = self._encode(self._dispatcher.start_orchestrator(ready, connection, started, now))
            if encoded is not None:
                return encoded
        while True:
            entity = self._dispatcher.next_entity(connection)
            if entity is None:
                return None
            batch = take_batch(entity, MAX_ENTITY_BATCH)
            encoded = self._encode(self._dispatcher.start_entity(entity, batch, connection, now))
            if encoded is not None:
                return encoded

    def _encode(self, item: WorkItem) -> pb.WorkItem | None:
        """The item as a protocol message; if it cannot be encoded, its instance fails instead of the stream
        (so one instance's work item never stops the dispatch of others)."""
        try:
            return item.to_pb()
        except Exception as error:  # noqa: BLE001 - any encoding failure is reported on the instance
            self._dispatcher.release(item)
            if isinstance(item, EntityWorkItem):
                entity = self._entities.get(item.entity_id)
                if entity is not None:
                    failure = events.failure(
                        "WorkItemEncodingError", f"the fake sidecar could not encode the entity batch: {error}"
                    )
                    now = self.clock.now()
                    ids = self._router.request_ids
                    outbox = apply_batch(entity, item, pb.EntityBatchResult(), now, failure=failure, new_request_id=ids)
                    self._router.settle_entity(entity, outbox, now)
                return None
            instance = self._store.get(item.instance_id)
            if instance is not None:
                self._router.fail_undeliverable(instance, item, f"{type(error).__name__}: {error}")
                self._timekeeper.fire_due_timers(self.clock.now())
            return None

    def _expire_leases(self, now: float) -> None:
        for item in self._dispatcher.expired(now):
            owner = self._store.get(item.instance_id)
            key = owner.execution_key if owner is not None else item.instance_id
            if isinstance(item, EntityWorkItem):
                site = Site(item.entity_id, item.entity_id, item.entity_id.split("@", 2)[1], attempt=item.attempt)
            elif isinstance(item, ActivityWorkItem):
                site = Site(item.instance_id, key, item.name, item.task_id, item.attempt)
            else:
                site = Site(item.instance_id, key, owner.name if owner is not None else "", attempt=item.attempt)
            self.faults.lease_expired(site, self.clock.now())
            self._dispatcher.return_to_queue(item, now)

    # ------------------------------------------------------------------ fault hooks

    def _disconnect_all_workers(self) -> None:
        for connection in self._dispatcher.connections.values():
            connection.close_reason = "the fake sidecar disconnected every worker (injected fault)"
        self._waiters.work_ready.notify_all()

    def _on_faults_changed(self) -> None:
        if self.faults.disconnect_due():
            with self._lock:
                if self.faults.take_disconnect(self.clock.now()):
                    self._disconnect_all_workers()


def _check_replaceable(existing: Instance, request: pb.CreateInstanceRequest) -> None:
    policy = optional_field(request, "orchestrationIdReusePolicy")
    replaceable = set(policy.replaceableStatus) if policy is not None else None
    if replaceable is not None and existing.status in replaceable:
        return
    if existing.is_terminal and replaceable is None:
        return
    raise EngineError(
        ErrorCode.ALREADY_EXISTS,
        f"an orchestration instance with id '{existing.instance_id}' already exists "
        f"(status {status_name(existing.status)})",
    )


def _instance_response(instance: Instance | None, include_payloads: bool) -> pb.GetInstanceResponse:
    if instance is None:
        return pb.GetInstanceResponse(exists=False)
    return pb.GetInstanceResponse(exists=True, orchestrationState=orchestration_state(instance, include_payloads))
