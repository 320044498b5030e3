"""The fake sidecar's engine: a deterministic in-memory state machine with no gRPC and no threads.

Methods mirror the sidecar RPCs and take/return protocol messages. Every refusal raises
:class:`~durabletask_testing.errors.EngineError` before anything changes. One lock guards all
state; blocking calls (``next_work_item``, ``wait_for``) wait on conditions of that lock and are woken
precisely, never by polling.
"""

from __future__ import annotations

import heapq
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone

from durabletask.internal import orchestrator_service_pb2 as pb

from ..clock import Clock, as_utc
from ..errors import EngineError, ErrorCode, invalid, not_found, precondition
from ..faults import FaultPlan
from . import events
from .events import optional_string
from .state import ActivityWorkItem, Connection, Instance, OrchestratorWorkItem, status_name
from .timers import TimerEntry, TimerQueue
from .validation import check_failure_details, check_payload, require_text, validate_actions
from .views import InstanceSnapshot, matches_query, orchestration_state, snapshot

DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
ABANDON_BACKOFF_INITIAL = 0.01  # seconds of real time before an abandoned work item is handed out again
ABANDON_BACKOFF_MAX = 0.5
HISTORY_CHUNK_SIZE = 256
DEFAULT_LIST_PAGE_SIZE = 100

WorkItem = OrchestratorWorkItem | ActivityWorkItem


class Engine:
    """Instances, histories, inboxes, work-item queues, timers and waiters of one fake sidecar."""

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
        self._used_ids: dict[str, set[int]] = {}  # action ids per live instance (duplicate detection)
        self._token_counter = 0
        self._held_counter = 0
        self._connections: dict[int, Connection] = {}
        self._connection_counter = 0
        self._waiters: dict[str, tuple[threading.Condition, list[int]]] = {}
        self._completion_waiters = 0
        self._stopped = False
        self._work_added = False  # set when something was queued; streams are woken at the end of the change
        clock.bind(self._advance_clock)
        self.faults.add_listener(self._on_faults_changed)

    # ------------------------------------------------------------------ lifecycle

    def shutdown(self) -> None:
        """Stop: end every worker stream and long poll promptly."""
        with self._lock:
            self._stopped = True
            for connection in self._connections.values():
                connection.closed = True
            self._work_ready.notify_all()
            self._timer_changed.notify_all()
            self._idle_changed.notify_all()
            for condition, _ in self._waiters.values():
                condition.notify_all()

    def reset(self) -> None:
        """Drop all instances, queues, timers and in-flight work; open worker streams stay connected."""
        with self._lock:
            self._instances.clear()
            self._ready.clear()
            self._queued.clear()
            self._held.clear()
            self._activities.clear()
            self._timers.clear()
            self._orchestrators_in_flight.clear()
            self._activities_in_flight.clear()
            self._activity_by_task.clear()
            self._used_ids.clear()
            for connection in self._connections.values():
                connection.tokens.clear()
                connection.orchestrators_in_flight = 0
                connection.activities_in_flight = 0
            self.clock.reset()
            for condition, _ in self._waiters.values():
                condition.notify_all()
            self._timer_changed.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped

    # ------------------------------------------------------------------ client operations

    def start_instance(self, request: pb.CreateInstanceRequest) -> str:
        """StartInstance: create an instance (PENDING) whose inbox holds ExecutionStarted."""
        require_text(request.name, "name")
        instance_id = request.instanceId or uuid.uuid4().hex
        if not instance_id.strip():
            raise invalid("instanceId must not be blank")
        input_value = optional_string(request, "input")
        check_payload(input_value, "input", self.max_payload_bytes)
        with self._lock:
            self._check_running()
            existing = self._instances.get(instance_id)
            if existing is not None:
                self._check_replaceable(existing, request)
            scheduled = None
            if request.HasField("scheduledStartTimestamp"):
                scheduled = request.scheduledStartTimestamp.ToDatetime(tzinfo=timezone.utc)
            self._create_instance(
                instance_id,
                request.name,
                optional_string(request, "version"),
                input_value,
                tags=dict(request.tags),
                scheduled_start=scheduled,
                trace_context=request.parentTraceContext if request.HasField("parentTraceContext") else None,
                execution_id=optional_string(request, "executionId") or None,
            )
            self._after_change()
        return instance_id

    def raise_event(self, instance_id: str, name: str, input_value: str | None) -> None:
        """RaiseEvent: deliver EventRaised (dropped silently once the instance has ended)."""
        require_text(instance_id, "instanceId")
        require_text(name, "name")
        check_payload(input_value, "input", self.max_payload_bytes)
        with self._lock:
            instance = self._require_instance(instance_id)
            self._deliver(instance, events.event_raised(self.clock.now(), name, input_value))
            self._after_change()

    def terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        """TerminateInstance: deliver ExecutionTerminated (to live children too when recursive)."""
        require_text(instance_id, "instanceId")
        check_payload(output, "output", self.max_payload_bytes)
        with self._lock:
            self._require_instance(instance_id)
            self._terminate(instance_id, output, recursive)
            self._after_change()

    def suspend(self, instance_id: str, reason: str | None) -> None:
        """SuspendInstance: deliver ExecutionSuspended (the SDK buffers later events until resumed)."""
        self._lifecycle_event(instance_id, reason, "suspend", events.execution_suspended)

    def resume(self, instance_id: str, reason: str | None) -> None:
        """ResumeInstance: deliver ExecutionResumed."""
        self._lifecycle_event(instance_id, reason, "resume", events.execution_resumed)

    def _lifecycle_event(
        self, instance_id: str, reason: str | None, verb: str, make: Callable[[datetime, str | None], pb.HistoryEvent]
    ) -> None:
        require_text(instance_id, "instanceId")
        check_payload(reason, "reason", self.max_payload_bytes)
        with self._lock:
            instance = self._require_instance(instance_id)
            if instance.is_terminal:
                raise precondition(
                    f"cannot {verb} instance '{instance_id}': it has already ended ({status_name(instance.status)})"
                )
            self._deliver(instance, make(self.clock.now(), reason))
            self._after_change()

    def get_instance(self, instance_id: str, include_payloads: bool) -> pb.OrchestrationState | None:
        """GetInstance: the instance's state, or None when it does not exist."""
        require_text(instance_id, "instanceId")
        with self._lock:
            instance = self._instances.get(instance_id)
            return None if instance is None else orchestration_state(instance, include_payloads)

    def wait_for(
        self,
        instance_id: str,
        *,
        until: str,
        include_payloads: bool,
        timeout: float | None,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> pb.OrchestrationState | None:
        """Block until the instance has started (``until="start"``) or ended (``"completion"``).

        Returns None when the instance does not exist; raises DEADLINE_EXCEEDED after ``timeout``
        seconds, CANCELLED when ``cancelled()`` turns true, UNAVAILABLE when the engine shuts down.
        Call :meth:`wake` after making ``cancelled()`` true.
        """
        require_text(instance_id, "instanceId")
        if until not in ("start", "completion"):
            raise ValueError(f"until must be 'start' or 'completion'; got {until!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            condition = self._register_waiter(instance_id)
            counted = False
            try:
                while True:
                    instance = self._instances.get(instance_id)
                    if instance is None:
                        return None
                    started = instance.status != pb.ORCHESTRATION_STATUS_PENDING
                    if instance.is_terminal or (until == "start" and started):
                        return orchestration_state(instance, include_payloads)
                    if self._stopped:
                        raise EngineError(ErrorCode.UNAVAILABLE, "the fake sidecar is shutting down")
                    if cancelled():
                        raise EngineError(ErrorCode.CANCELLED, f"the wait for instance '{instance_id}' was cancelled")
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise EngineError(
                            ErrorCode.DEADLINE_EXCEEDED,
                            f"instance '{instance_id}' did not {'start' if until == 'start' else 'complete'} "
                            f"before the deadline (status {status_name(instance.status)})",
                        )
                    if until == "completion" and not counted:
                        counted = True
                        self._completion_waiters += 1
                        self._after_change()  # auto-advance AND wake streams for what it queued
                        continue
                    condition.wait(remaining)
            finally:
                if counted:
                    self._completion_waiters -= 1
                self._unregister_waiter(instance_id)

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Block until no work item is queued or in flight (only timers or nothing left). True if idle.

        Handy before advancing a manual clock: the orchestrations have reached their timers.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._idle_waiters += 1
            try:
                while not self._is_idle():
                    if self._stopped:
                        return False
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._idle_changed.wait(remaining)
                return True
            finally:
                self._idle_waiters -= 1

    def is_idle(self) -> bool:
        """True when no work item is queued or in flight."""
        with self._lock:
            return self._is_idle()

    def wake(self, instance_id: str) -> None:
        """Wake the waiters of one instance (e.g. after their RPC was cancelled)."""
        with self._lock:
            self._notify_instance(instance_id)

    def query(self, query: pb.InstanceQuery) -> tuple[list[pb.OrchestrationState], str | None]:
        """QueryInstances: states matching the filters, ordered by instance id, paged by continuation token."""
        if query.maxInstanceCount < 0:
            raise invalid(f"query.maxInstanceCount must not be negative; got {query.maxInstanceCount}")
        after = optional_string(query, "continuationToken") or ""
        with self._lock:
            matching = [i for i in self._instances.values() if i.instance_id > after and matches_query(i, query)]
            matching.sort(key=lambda i: i.instance_id)
            limit = query.maxInstanceCount or len(matching)
            page = matching[:limit]
            states = [orchestration_state(i, query.fetchInputsAndOutputs) for i in page]
            token = page[-1].instance_id if len(matching) > limit and page else None
        return states, token

    def list_instance_ids(self, request: pb.ListInstanceIdsRequest) -> tuple[list[str], str | None]:
        """ListInstanceIds: ended instances ordered by (completion time, id), paged by the last key."""
        if request.pageSize < 0:
            raise invalid(f"pageSize must not be negative; got {request.pageSize}")
        page_size = request.pageSize or DEFAULT_LIST_PAGE_SIZE
        last_key = optional_string(request, "lastInstanceKey") or ""
        with self._lock:
            rows = []
            for instance in self._instances.values():
                if not instance.is_terminal or instance.completed_at is None:
                    continue
                if request.runtimeStatus and instance.status not in request.runtimeStatus:
                    continue
                done = instance.completed_at
                if request.HasField("completedTimeFrom") and done < as_utc(request.completedTimeFrom.ToDatetime()):
                    continue
                if request.HasField("completedTimeTo") and done >= as_utc(request.completedTimeTo.ToDatetime()):
                    continue
                rows.append((f"{done.isoformat()}|{instance.instance_id}", instance.instance_id))
        rows.sort()
        rows = [row for row in rows if row[0] > last_key]
        page = rows[:page_size]
        next_key = page[-1][0] if len(rows) > page_size and page else None
        return [instance_id for _, instance_id in page], next_key

    def purge(self, request: pb.PurgeInstancesRequest) -> int:
        """PurgeInstances: delete ended instances (one, a batch or by filter); returns how many."""
        kind = request.WhichOneof("request")
        with self._lock:
            if kind == "instanceId":
                require_text(request.instanceId, "instanceId")
                instance = self._instances.get(request.instanceId)
                if instance is None:
                    return 0
                if not instance.is_terminal:
                    raise precondition(
                        f"cannot purge instance '{request.instanceId}': it has not ended "
                        f"(status {status_name(instance.status)}); terminate it first"
                    )
                count = self._delete(instance, request.recursive)
            elif kind == "instanceBatch":
                count = 0
                for instance_id in request.instanceBatch.instanceIds:
                    instance = self._instances.get(instance_id)
                    if instance is not None and instance.is_terminal:
                        count += self._delete(instance, request.recursive)
            elif kind == "purgeInstanceFilter":
                flt = request.purgeInstanceFilter
                query = pb.InstanceQuery(runtimeStatus=flt.runtimeStatus)
                if flt.HasField("createdTimeFrom"):
                    query.createdTimeFrom.CopyFrom(flt.createdTimeFrom)
                if flt.HasField("createdTimeTo"):
                    query.createdTimeTo.CopyFrom(flt.createdTimeTo)
                victims = [i for i in self._instances.values() if i.is_terminal and matches_query(i, query)]
                count = sum(self._delete(i, request.recursive) for i in victims if i.instance_id in self._instances)
            else:
                raise invalid("PurgeInstancesRequest needs instanceId, instanceBatch or purgeInstanceFilter")
            self._after_change()
            return count

    def restart(self, instance_id: str, new_instance_id: bool) -> str:
        """RestartInstance: start an ended instance again with its original name, version and input."""
        require_text(instance_id, "instanceId")
        with self._lock:
            old = self._require_instance(instance_id)
            if not old.is_terminal:
                raise precondition(
                    f"cannot restart instance '{instance_id}': it has not ended (status {status_name(old.status)})"
                )
            target = uuid.uuid4().hex if new_instance_id else instance_id
            self._create_instance(target, old.name, old.version, old.input, tags=dict(old.tags))
            self._after_change()
            return target

    def history(self, instance_id: str) -> list[pb.HistoryEvent]:
        """The committed history of an instance's current execution (copies)."""
        require_text(instance_id, "instanceId")
        with self._lock:
            instance = self._require_instance(instance_id)
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

    def history_chunks(self, instance_id: str) -> list[pb.HistoryChunk]:
        """StreamInstanceHistory: the history in chunks of at most HISTORY_CHUNK_SIZE events."""
        committed = self.history(instance_id)
        if not committed:
            return [pb.HistoryChunk()]
        return [
            pb.HistoryChunk(events=committed[i : i + HISTORY_CHUNK_SIZE])
            for i in range(0, len(committed), HISTORY_CHUNK_SIZE)
        ]

    def snapshots(self) -> list[InstanceSnapshot]:
        """Frozen metadata of every instance, in creation order."""
        with self._lock:
            return [snapshot(i) for i in self._instances.values()]

    def snapshot(self, instance_id: str) -> InstanceSnapshot | None:
        """Frozen metadata of one instance, or None."""
        with self._lock:
            instance = self._instances.get(instance_id)
            return None if instance is None else snapshot(instance)

    # ------------------------------------------------------------------ worker streams

    def connect(self, request: pb.GetWorkItemsRequest) -> Connection:
        """Register a GetWorkItems stream with its concurrency limits and name filters."""
        if request.maxConcurrentOrchestrationWorkItems < 0:
            raise invalid("maxConcurrentOrchestrationWorkItems must not be negative")
        if request.maxConcurrentActivityWorkItems < 0:
            raise invalid("maxConcurrentActivityWorkItems must not be negative")
        orchestration_names = activity_names = None
        if request.HasField("workItemFilters"):
            filters = request.workItemFilters
            if filters.orchestrations:
                orchestration_names = frozenset(f.name for f in filters.orchestrations)
            if filters.activities:
                activity_names = frozenset(f.name for f in filters.activities)
        with self._lock:
            self._check_running()
            self._connection_counter += 1
            connection = Connection(
                self._connection_counter,
                request.maxConcurrentOrchestrationWorkItems,
                request.maxConcurrentActivityWorkItems,
                orchestration_names,
                activity_names,
            )
            self._connections[connection.connection_id] = connection
            return connection

    def close(self, connection: Connection) -> None:
        """Ask a stream to end (e.g. its RPC was cancelled); wakes it if it is waiting."""
        with self._lock:
            connection.closed = True
            self._work_ready.notify_all()

    def disconnect(self, connection: Connection) -> None:
        """A stream has ended: everything it had in flight is dispatched again."""
        with self._lock:
            connection.closed = True
            self._connections.pop(connection.connection_id, None)
            for token in list(connection.tokens):
                item = self._orchestrators_in_flight.get(token) or self._activities_in_flight.get(token)
                if item is not None:
                    self._return_to_queue(item, backoff=0.0)
            connection.tokens.clear()
            self._after_change()

    def next_work_item(self, connection: Connection, timeout: float | None) -> WorkItem | None:
        """Hand the stream its next work item, waiting up to ``timeout`` seconds; None on timeout or close.

        Raises UNAVAILABLE when the fake ended the stream on purpose (fault injection).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                if connection.close_reason is not None:
                    raise EngineError(ErrorCode.UNAVAILABLE, connection.close_reason)
                if connection.closed or self._stopped:
                    return None
                now = time.monotonic()
                self._release_held(now)
                item = self._dispatch(connection)
                if item is not None:
                    if self.faults.work_item_dispatched(self.clock.now()):
                        self._disconnect_all_workers()
                    return item
                if self._work_added:  # an injected failure answered an activity: look again at once
                    self._after_change()
                    continue
                wait = None if deadline is None else deadline - now
                if wait is not None and wait <= 0:
                    return None
                if self._held:
                    until_held = max(self._held[0][0] - now, 0.0005)
                    wait = until_held if wait is None else min(wait, until_held)
                self._work_ready.wait(wait)

    # ------------------------------------------------------------------ completions

    def complete_orchestrator(self, response: pb.OrchestratorResponse) -> None:
        """CompleteOrchestratorTask: commit the work item's events and apply its actions in order."""
        with self._lock:
            item = self._find_orchestrator_item(response.completionToken, response.instanceId)
            if response.instanceId and response.instanceId != item.instance_id:
                raise invalid(
                    f"instanceId '{response.instanceId}' does not match the work item's instance '{item.instance_id}'"
                )
            instance = self._instances.get(item.instance_id)
            if instance is None or instance.in_flight is not item:
                self._release(item)
                raise precondition(f"instance '{item.instance_id}' was purged or replaced while its work item ran")
            custom_status = optional_string(response, "customStatus")
            check_payload(custom_status, "customStatus", self.max_payload_bytes)
            validate_actions(response.actions, self._used_ids.get(instance.instance_id), self.max_payload_bytes)
            now = self.clock.now()
            if self.faults.orchestrator_result_fault(instance.instance_id, instance.name, item.attempt, now):
                self._return_to_queue(item, backoff=0.0)
                self._after_change()
                return
            self._release(item)
            instance.in_flight = None
            instance.abandon_count = 0
            self._commit(instance, item, response, custom_status, now)
            self._after_change()

    def complete_activity(self, response: pb.ActivityResponse) -> None:
        """CompleteActivityTask: deliver TaskCompleted / TaskFailed to the orchestration's inbox."""
        with self._lock:
            item = self._find_activity_item(response.completionToken, response.instanceId, response.taskId)
            if response.instanceId and response.instanceId != item.instance_id:
                raise invalid(
                    f"instanceId '{response.instanceId}' does not match the work item's instance '{item.instance_id}'"
                )
            if response.taskId != item.task_id:
                raise invalid(f"taskId {response.taskId} does not match the work item's task id {item.task_id}")
            failed = response.HasField("failureDetails")
            if failed:
                check_failure_details(response.failureDetails, "failureDetails", self.max_payload_bytes)
            else:
                check_payload(optional_string(response, "result"), "result", self.max_payload_bytes)
            now = self.clock.now()
            fault = self.faults.activity_result_fault(item.instance_id, item.task_id, item.name, item.attempt, now)
            if fault is not None and fault.lose:
                self._return_to_queue(item, backoff=0.0)
                self._after_change()
                return
            self._release(item)
            if failed:
                event = events.task_failed(now, item.task_id, response.failureDetails)
            else:
                result = response.result if response.HasField("result") else None
                event = events.task_completed(now, item.task_id, result)
            if fault is not None and fault.delay is not None:
                entry = TimerEntry("event", now + fault.delay, item.instance_id, item.execution_id, event=event)
                self._push_timer(entry)
            else:
                self._deliver_to(item.instance_id, item.execution_id, event)
            self._after_change()

    def abandon_orchestrator(self, token: str) -> None:
        """AbandonTaskOrchestratorWorkItem: hand the work item out again after a short real-time back-off."""
        with self._lock:
            item = self._find_orchestrator_item(token, "")
            instance = self._instances.get(item.instance_id)
            backoff = ABANDON_BACKOFF_INITIAL
            if instance is not None:
                backoff = min(ABANDON_BACKOFF_INITIAL * (2**instance.abandon_count), ABANDON_BACKOFF_MAX)
                instance.abandon_count += 1
            self._return_to_queue(item, backoff=backoff)
            self._after_change()

    def abandon_activity(self, token: str) -> None:
        """AbandonTaskActivityWorkItem: hand the activity out again after a short real-time back-off."""
        with self._lock:
            item = self._find_activity_item(token, "", None)
            self._return_to_queue(item, backoff=ABANDON_BACKOFF_INITIAL)
            self._after_change()

    # ------------------------------------------------------------------ time

    def _advance_clock(self, target: datetime) -> None:
        """Clock.advance handler: fire every timer due up to ``target`` in order, then move the clock."""
        with self._lock:
            self._fire_due_timers(target)
            self.clock._set(target)
            self._after_change()

    def next_timer_due(self) -> datetime | None:
        """The fire time of the earliest pending timer (stale ones skipped), or None."""
        with self._lock:
            entry = self._peek_live_timer()
            return None if entry is None else entry.fire_at

    def run_real_time_timers(self, stop: threading.Event) -> None:
        """Fire timers when wall time reaches them until ``stop`` is set or the engine shuts down.

        Meant for one dedicated thread when the clock is ``"real"``.
        """
        with self._lock:
            while not stop.is_set() and not self._stopped:
                now = self.clock.now()
                self._fire_due_timers(now)
                self._after_change()
                entry = self._peek_live_timer()
                wait = None if entry is None else max((entry.fire_at - now).total_seconds(), 0.0005)
                self._timer_changed.wait(wait)

    def wake_timer_pump(self) -> None:
        """Wake the real-time timer pump (e.g. to make it notice ``stop``)."""
        with self._lock:
            self._timer_changed.notify_all()

    # ================================================================== internals (lock held)

    def _check_running(self) -> None:
        if self._stopped:
            raise EngineError(ErrorCode.UNAVAILABLE, "the fake sidecar is shutting down")

    def _require_instance(self, instance_id: str) -> Instance:
        instance = self._instances.get(instance_id)
        if instance is None:
            raise not_found(f"no orchestration instance with id '{instance_id}'")
        return instance

    def _check_replaceable(self, existing: Instance, request: pb.CreateInstanceRequest) -> None:
        policy = request.orchestrationIdReusePolicy if request.HasField("orchestrationIdReusePolicy") else None
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

    def _create_instance(
        self,
        instance_id: str,
        name: str,
        version: str | None,
        input_value: str | None,
        *,
        tags: dict[str, str],
        parent: pb.ParentInstanceInfo | None = None,
        scheduled_start: datetime | None = None,
        trace_context: pb.TraceContext | None = None,
        execution_id: str | None = None,
    ) -> Instance:
        now = self.clock.now()
        old = self._instances.pop(instance_id, None)
        if old is not None and old.in_flight is not None:
            self._release(old.in_flight)
        instance = Instance(
            instance_id=instance_id,
            name=name,
            version=version,
            execution_id=execution_id or uuid.uuid4().hex,
            input=input_value,
            created_at=now,
            last_updated_at=now,
            scheduled_start=scheduled_start,
            parent=parent,
            tags=tags,
        )
        instance.inbox.append(
            events.execution_started(
                now,
                instance_id=instance_id,
                execution_id=instance.execution_id,
                name=name,
                version=version,
                input=input_value,
                tags=tags,
                parent=parent,
                scheduled_start=scheduled_start,
                trace_context=trace_context,
            )
        )
        self._instances[instance_id] = instance
        self._used_ids[instance_id] = set()
        if scheduled_start is not None and scheduled_start > now:
            instance.waiting_for_start_time = True
            self._push_timer(TimerEntry("start", scheduled_start, instance_id, instance.execution_id))
        else:
            self._make_ready(instance)
        self._notify_instance(instance_id)
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

    def _terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        instance = self._instances.get(instance_id)
        if instance is None or instance.is_terminal:
            return
        self._deliver(instance, events.execution_terminated(self.clock.now(), output, recursive))
        if instance.waiting_for_start_time:
            instance.waiting_for_start_time = False
            self._make_ready(instance)
        if recursive:
            for child_id in sorted(instance.children):
                self._terminate(child_id, output, True)

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

    def _after_change(self) -> None:
        """End of every state change: auto-advance the clock if idle, wake streams and waiters."""
        self._maybe_auto_advance()
        if self._work_added:
            self._work_added = False
            self._work_ready.notify_all()
        if self._idle_waiters and self._is_idle():
            self._idle_changed.notify_all()

    def _dispatch(self, connection: Connection) -> WorkItem | None:
        if connection.can_take_orchestrator():
            for _ in range(len(self._ready)):
                instance_id = self._ready.popleft()
                instance = self._instances.get(instance_id)
                if instance is None or instance.in_flight is not None or not instance.inbox:
                    self._queued.discard(instance_id)
                    continue
                if not connection.wants_orchestration(instance.name):
                    self._ready.append(instance_id)
                    continue
                self._queued.discard(instance_id)
                return self._dispatch_orchestrator(instance, connection)
        if connection.can_take_activity():
            for _ in range(len(self._activities)):
                activity = self._activities.popleft()
                instance = self._instances.get(activity.instance_id)
                if instance is None or instance.is_terminal or instance.execution_id != activity.execution_id:
                    continue  # its orchestration ended or moved on: nobody needs the result
                if not connection.wants_activity(activity.name):
                    self._activities.append(activity)
                    continue
                now = self.clock.now()
                attempt = activity.attempt
                activity.attempt += 1
                failure = self.faults.activity_dispatch_fault(
                    activity.instance_id, activity.task_id, activity.name, attempt, now
                )
                if failure is not None:
                    self._deliver(instance, events.task_failed(now, activity.task_id, failure))
                    continue
                return self._dispatch_activity(activity, connection)
        return None

    def _next_token(self, prefix: str) -> str:
        self._token_counter += 1
        return f"{prefix}{self._token_counter}"

    def _dispatch_orchestrator(self, instance: Instance, connection: Connection) -> OrchestratorWorkItem:
        new_events = [events.orchestrator_started(self.clock.now())]
        new_events.extend(instance.inbox)
        instance.inbox = []
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
        return item

    def _dispatch_activity(self, activity: ActivityWorkItem, connection: Connection) -> ActivityWorkItem:
        activity.token = self._next_token("a")
        activity.connection = connection
        self._activities_in_flight[activity.token] = activity
        self._activity_by_task[(activity.instance_id, activity.task_id)] = activity
        connection.tokens.add(activity.token)
        connection.activities_in_flight += 1
        return activity

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
        item.connection = None

    def _return_to_queue(self, item: WorkItem, backoff: float) -> None:
        """Undo a dispatch: the same events / activity are handed out again (after ``backoff`` seconds)."""
        self._release(item)
        if isinstance(item, OrchestratorWorkItem):
            instance = self._instances.get(item.instance_id)
            if instance is None or instance.in_flight is not item:
                return
            instance.in_flight = None
            instance.inbox = item.new_events[1:] + instance.inbox
            if backoff > 0:
                instance.held_until = time.monotonic() + backoff
            self._make_ready(instance)
        else:
            item.token = ""
            if backoff > 0:
                self._hold(time.monotonic() + backoff, item)
            else:
                self._activities.appendleft(item)
                self._work_added = True

    def _find_orchestrator_item(self, token: str, instance_id: str) -> OrchestratorWorkItem:
        if token:
            item = self._orchestrators_in_flight.get(token)
            if item is None:
                raise self._bad_token(token, "o", "orchestrator")
            return item
        if not instance_id:
            raise invalid("completionToken is empty and no instanceId was given to identify the work item")
        instance = self._require_instance(instance_id)
        if instance.in_flight is None:
            state = f"it has ended ({status_name(instance.status)})" if instance.is_terminal else "none was dispatched"
            raise precondition(f"no orchestrator work item for instance '{instance_id}' is in flight: {state}")
        return instance.in_flight

    def _find_activity_item(self, token: str, instance_id: str, task_id: int | None) -> ActivityWorkItem:
        if token:
            item = self._activities_in_flight.get(token)
            if item is None:
                raise self._bad_token(token, "a", "activity")
            return item
        if not instance_id:
            raise invalid("completionToken is empty and no instanceId was given to identify the work item")
        found = self._activity_by_task.get((instance_id, task_id if task_id is not None else -1))
        if found is None:
            raise precondition(f"no activity work item for instance '{instance_id}' task {task_id} is in flight")
        return found

    def _bad_token(self, token: str, prefix: str, kind: str) -> EngineError:
        other = "activity" if prefix == "o" else "orchestrator"
        if token[:1] in ("o", "a") and token[1:].isdigit():
            if token[0] != prefix:
                return invalid(f"completion token '{token}' belongs to an {other} work item, not an {kind} work item")
            if int(token[1:]) <= self._token_counter:
                return precondition(
                    f"completion token '{token}' was already used or is no longer valid "
                    f"(the {kind} work item was completed, abandoned or dispatched again)"
                )
        return not_found(f"completion token '{token}' is unknown to this fake sidecar")

    # ------------------------------------------------------------------ applying a completion

    def _commit(
        self,
        instance: Instance,
        item: OrchestratorWorkItem,
        response: pb.OrchestratorResponse,
        custom_status: str | None,
        now: datetime,
    ) -> None:
        instance.history.extend(item.new_events)
        if instance.status == pb.ORCHESTRATION_STATUS_PENDING:
            instance.status = pb.ORCHESTRATION_STATUS_RUNNING
        for event in item.new_events:
            if event.HasField("executionSuspended"):
                instance.status = pb.ORCHESTRATION_STATUS_SUSPENDED
            elif event.HasField("executionResumed") and instance.status == pb.ORCHESTRATION_STATUS_SUSPENDED:
                instance.status = pb.ORCHESTRATION_STATUS_RUNNING
        instance.custom_status = custom_status
        used = self._used_ids.setdefault(instance.instance_id, set())
        for action in response.actions:
            kind = action.WhichOneof("orchestratorActionType")
            if kind == "scheduleTask":
                used.add(action.id)
                self._apply_schedule_task(instance, action, now)
            elif kind == "createTimer":
                used.add(action.id)
                fire_at = action.createTimer.fireAt.ToDatetime(tzinfo=timezone.utc)
                instance.history.append(
                    pb.HistoryEvent(
                        eventId=action.id,
                        timestamp=events.timestamp(now),
                        timerCreated=pb.TimerCreatedEvent(fireAt=action.createTimer.fireAt),
                    )
                )
                self._push_timer(TimerEntry("timer", fire_at, instance.instance_id, instance.execution_id, action.id))
            elif kind == "createSubOrchestration":
                used.add(action.id)
                self._apply_sub_orchestration(instance, action, now)
            elif kind == "sendEvent":
                used.add(action.id)
                self._apply_send_event(instance, action, now)
            elif kind == "terminateOrchestration":
                target = action.terminateOrchestration
                self._terminate(target.instanceId, optional_string(target, "reason"), target.recurse)
            elif kind == "completeOrchestration":
                if action.completeOrchestration.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW:
                    self._continue_as_new(instance, action.completeOrchestration, now)
                    break
                self._finish(instance, action, now)
        instance.last_updated_at = now
        if instance.is_terminal:
            instance.compact_history()
        else:
            self._make_ready(instance)
        self._notify_instance(instance.instance_id)
        self._fire_due_timers(now)

    def _apply_schedule_task(self, instance: Instance, action: pb.OrchestratorAction, now: datetime) -> None:
        task = action.scheduleTask
        trace = task.parentTraceContext if task.HasField("parentTraceContext") else None
        instance.history.append(
            pb.HistoryEvent(
                eventId=action.id,
                timestamp=events.timestamp(now),
                taskScheduled=pb.TaskScheduledEvent(
                    name=task.name,
                    version=task.version if task.HasField("version") else None,
                    input=task.input if task.HasField("input") else None,
                    parentTraceContext=trace,
                    tags=task.tags,
                ),
            )
        )
        self._activities.append(
            ActivityWorkItem(
                instance_id=instance.instance_id,
                execution_id=instance.execution_id,
                task_id=action.id,
                name=task.name,
                version=optional_string(task, "version"),
                input=optional_string(task, "input"),
                tags=dict(task.tags),
                trace_context=trace,
            )
        )
        self._work_added = True

    def _apply_sub_orchestration(self, instance: Instance, action: pb.OrchestratorAction, now: datetime) -> None:
        sub = action.createSubOrchestration
        child_id = sub.instanceId or f"{instance.instance_id}:{action.id:04x}"
        trace = sub.parentTraceContext if sub.HasField("parentTraceContext") else None
        instance.history.append(
            pb.HistoryEvent(
                eventId=action.id,
                timestamp=events.timestamp(now),
                subOrchestrationInstanceCreated=pb.SubOrchestrationInstanceCreatedEvent(
                    instanceId=child_id,
                    name=sub.name,
                    version=sub.version if sub.HasField("version") else None,
                    input=sub.input if sub.HasField("input") else None,
                    parentTraceContext=trace,
                    tags=sub.tags,
                ),
            )
        )
        existing = self._instances.get(child_id)
        if existing is not None and not existing.is_terminal:
            failure = events.failure(
                "OrchestrationAlreadyExistsError",
                f"cannot start sub-orchestration '{child_id}': an instance with that id already exists "
                f"(status {status_name(existing.status)})",
            )
            self._deliver(instance, events.sub_orchestration_failed(now, action.id, failure))
            return
        parent = pb.ParentInstanceInfo(
            taskScheduledId=action.id,
            orchestrationInstance=pb.OrchestrationInstance(instanceId=instance.instance_id),
        )
        parent.name.value = instance.name
        if instance.version is not None:
            parent.version.value = instance.version
        parent.orchestrationInstance.executionId.value = instance.execution_id
        instance.children.add(child_id)
        self._create_instance(
            child_id,
            sub.name,
            optional_string(sub, "version"),
            optional_string(sub, "input"),
            tags=dict(sub.tags),
            parent=parent,
            trace_context=trace,
        )

    def _apply_send_event(self, instance: Instance, action: pb.OrchestratorAction, now: datetime) -> None:
        send = action.sendEvent
        data = optional_string(send, "data")
        instance.history.append(
            pb.HistoryEvent(
                eventId=action.id,
                timestamp=events.timestamp(now),
                eventSent=pb.EventSentEvent(
                    instanceId=send.instance.instanceId,
                    name=send.name,
                    input=send.data if send.HasField("data") else None,
                ),
            )
        )
        target = self._instances.get(send.instance.instanceId)
        if target is not None:
            self._deliver(target, events.event_raised(now, send.name, data))

    def _finish(self, instance: Instance, action: pb.OrchestratorAction, now: datetime) -> None:
        complete = action.completeOrchestration
        failure = complete.failureDetails if complete.HasField("failureDetails") else None
        instance.history.append(
            pb.HistoryEvent(
                eventId=action.id,
                timestamp=events.timestamp(now),
                executionCompleted=pb.ExecutionCompletedEvent(
                    orchestrationStatus=complete.orchestrationStatus,
                    result=complete.result if complete.HasField("result") else None,
                    failureDetails=failure,
                ),
            )
        )
        instance.status = complete.orchestrationStatus
        instance.output = optional_string(complete, "result")
        if failure is not None:
            instance.failure_details = pb.TaskFailureDetails()
            instance.failure_details.CopyFrom(failure)
        instance.completed_at = now
        instance.inbox = []
        self._used_ids.pop(instance.instance_id, None)
        self._notify_parent(instance, now)

    def _notify_parent(self, child: Instance, now: datetime) -> None:
        parent_info = child.parent
        if parent_info is None:
            return
        parent = self._instances.get(parent_info.orchestrationInstance.instanceId)
        if parent is None or parent.is_terminal:
            return
        parent_execution = optional_string(parent_info.orchestrationInstance, "executionId")
        if parent_execution and parent.execution_id != parent_execution:
            return
        task_id = parent_info.taskScheduledId
        if child.status == pb.ORCHESTRATION_STATUS_COMPLETED:
            event = events.sub_orchestration_completed(now, task_id, child.output)
        else:
            failure = child.failure_details or events.failure(
                "SubOrchestration" + status_name(child.status).title(),
                f"sub-orchestration '{child.instance_id}' ended with status {status_name(child.status)}",
            )
            event = events.sub_orchestration_failed(now, task_id, failure)
        self._deliver(parent, event)

    def _continue_as_new(self, instance: Instance, complete: pb.CompleteOrchestrationAction, now: datetime) -> None:
        instance.execution_id = uuid.uuid4().hex
        if complete.HasField("newVersion"):
            instance.version = complete.newVersion.value
        instance.input = optional_string(complete, "result")
        instance.output = None
        instance.failure_details = None
        instance.history = []
        instance.status = pb.ORCHESTRATION_STATUS_RUNNING
        self._used_ids[instance.instance_id] = set()
        started = events.execution_started(
            now,
            instance_id=instance.instance_id,
            execution_id=instance.execution_id,
            name=instance.name,
            version=instance.version,
            input=instance.input,
            tags=instance.tags,
            parent=instance.parent,
        )
        instance.inbox = [started, *complete.carryoverEvents, *instance.inbox]

    def _delete(self, instance: Instance, recursive: bool) -> int:
        count = 0
        if recursive:
            for child_id in sorted(instance.children):
                child = self._instances.get(child_id)
                if child is not None and child.is_terminal:
                    count += self._delete(child, True)
        if self._instances.get(instance.instance_id) is instance:
            del self._instances[instance.instance_id]
            self._used_ids.pop(instance.instance_id, None)
            if instance.in_flight is not None:
                self._release(instance.in_flight)
            self._notify_instance(instance.instance_id)
            count += 1
        return count

    # ------------------------------------------------------------------ timers and the auto clock

    def _push_timer(self, entry: TimerEntry) -> None:
        if self._timers.push(entry):
            self._timer_changed.notify_all()

    def _timer_is_live(self, entry: TimerEntry) -> bool:
        instance = self._instances.get(entry.instance_id)
        if instance is None or instance.execution_id != entry.execution_id:
            return False
        if entry.kind == "start":
            return instance.waiting_for_start_time
        return not instance.is_terminal

    def _peek_live_timer(self) -> TimerEntry | None:
        while True:
            entry = self._timers.peek()
            if entry is None or self._timer_is_live(entry):
                return entry
            self._timers.pop()

    def _fire_due_timers(self, upto: datetime) -> None:
        virtual = self.clock.is_virtual
        while True:
            entry = self._peek_live_timer()
            if entry is None or entry.fire_at > upto:
                return
            self._timers.pop()
            if virtual:
                self.clock._set(entry.fire_at)
            self._fire(entry)

    def _fire(self, entry: TimerEntry) -> None:
        instance = self._instances[entry.instance_id]
        now = self.clock.now()
        if entry.kind == "timer":
            self._deliver(instance, events.timer_fired(now, entry.timer_id, entry.fire_at))
        elif entry.kind == "start":
            instance.waiting_for_start_time = False
            self._make_ready(instance)
        elif entry.event is not None:
            entry.event.timestamp.CopyFrom(events.timestamp(now))
            self._deliver(instance, entry.event)

    def _is_idle(self) -> bool:
        return not (self._queued or self._activities or self._orchestrators_in_flight or self._activities_in_flight)

    def _maybe_auto_advance(self) -> None:
        if self.clock.mode != "auto" or self._completion_waiters == 0 or self._stopped:
            return
        while self._is_idle():
            entry = self._peek_live_timer()
            if entry is None:
                return
            self._fire_due_timers(entry.fire_at)

    # ------------------------------------------------------------------ waiters

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

    # ------------------------------------------------------------------ faults

    def _on_faults_changed(self) -> None:
        if self.faults.disconnect_due():
            with self._lock:
                if self.faults.take_disconnect(self.clock.now()):
                    self._disconnect_all_workers()

    def _disconnect_all_workers(self) -> None:
        for connection in self._connections.values():
            connection.close_reason = "the fake sidecar disconnected every worker (injected fault)"
        self._work_ready.notify_all()
