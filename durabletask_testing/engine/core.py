"""The fake sidecar's engine (public API layer): a deterministic in-memory state machine; no gRPC, starts no threads.

Methods mirror the sidecar RPCs and take/return protocol messages. Every refusal raises
:class:`~durabletask_testing.errors.EngineError` before anything changes. One lock guards all
state; blocking calls (``next_work_item``, ``wait_for``) wait on conditions of that lock and are woken
precisely, never by polling.

The engine is built in layers, each using only those below it: ``base`` (state, inboxes, ready queue,
waiters) -> ``timekeeping`` (timers, auto clock) -> ``lifecycle`` (create / terminate / delete) ->
``dispatching`` (work items, tokens, re-dispatch) -> ``actions`` (committing a work item) -> ``core``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..clock import Clock
from ..errors import EngineError, ErrorCode, invalid, precondition
from ..faults import FaultPlan
from . import events
from .actions import ActionApplier
from .base import (
    ABANDON_BACKOFF_INITIAL,
    ABANDON_BACKOFF_MAX,
    DEFAULT_LIST_PAGE_SIZE,
    DEFAULT_MAX_PAYLOAD_BYTES,
    HISTORY_CHUNK_SIZE,
    WorkItem,
)
from .events import optional_field, optional_string
from .state import Connection, status_name
from .timers import TimerEntry
from .validation import (
    check_failure_details,
    check_payload,
    check_statuses,
    require_text,
    to_datetime,
    validate_actions,
)
from .views import InstanceSnapshot, matches_query, orchestration_state, snapshot


class Engine(ActionApplier):
    """Instances, histories, inboxes, work-item queues, timers and waiters of one fake sidecar."""

    def __init__(
        self,
        clock: Clock,
        faults: FaultPlan | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        super().__init__(clock, faults, max_payload_bytes=max_payload_bytes)
        clock.bind(self._advance_clock)
        self.faults.add_listener(self._on_faults_changed)

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
            self._page_tokens.clear()
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
                scheduled = to_datetime(request.scheduledStartTimestamp, "scheduledStartTimestamp")
            self._create_instance(
                instance_id,
                request.name,
                optional_string(request, "version"),
                input_value,
                tags=dict(request.tags),
                scheduled_start=scheduled,
                trace_context=optional_field(request, "parentTraceContext"),
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
        # A gRPC call without a deadline reports an enormous time_remaining(); anything a lock cannot wait
        # for (or not finite) means "no deadline".
        deadline = None
        if timeout is not None and timeout < threading.TIMEOUT_MAX:
            deadline = time.monotonic() + timeout
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

    def wake(self, instance_id: str) -> None:
        """Wake the waiters of one instance (e.g. after their RPC was cancelled)."""
        with self._lock:
            self._notify_instance(instance_id)

    def query(self, query: pb.InstanceQuery) -> tuple[list[pb.OrchestrationState], str | None]:
        """QueryInstances: states matching the filters, ordered by instance id, paged by continuation token.

        A continuation token this engine never handed out is refused (INVALID_ARGUMENT).
        """
        if query.maxInstanceCount < 0:
            raise invalid(f"query.maxInstanceCount must not be negative; got {query.maxInstanceCount}")
        after = optional_string(query, "continuationToken") or ""
        with self._lock:
            self._check_page_token("query.continuationToken", after)
            matching = [i for i in self._instances.values() if i.instance_id > after and matches_query(i, query)]
            matching.sort(key=lambda i: i.instance_id)
            limit = query.maxInstanceCount or len(matching)
            page = matching[:limit]
            states = [orchestration_state(i, query.fetchInputsAndOutputs) for i in page]
            token = page[-1].instance_id if len(matching) > limit and page else None
            if token is not None:
                self._page_tokens.add(("query.continuationToken", token))
        return states, token

    def list_instance_ids(self, request: pb.ListInstanceIdsRequest) -> tuple[list[str], str | None]:
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
            self._check_page_token("lastInstanceKey", last_key)
            rows = sorted(
                (f"{instance.completed_at.isoformat()}|{instance.instance_id}", instance.instance_id)
                for instance in self._instances.values()
                if instance.is_terminal
                and instance.completed_at is not None
                and (not request.runtimeStatus or instance.status in request.runtimeStatus)
                and (done_from is None or instance.completed_at >= done_from)
                and (done_to is None or instance.completed_at < done_to)
            )
            rows = [row for row in rows if row[0] > last_key]
            page = rows[:page_size]
            next_key = page[-1][0] if len(rows) > page_size and page else None
            if next_key is not None:
                self._page_tokens.add(("lastInstanceKey", next_key))
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
                check_statuses(flt.runtimeStatus, "purgeInstanceFilter.runtimeStatus")
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

    def connections(self) -> list[Connection]:
        """The open GetWorkItems streams (their limits, filters and in-flight counts; do not modify)."""
        with self._lock:
            return list(self._connections.values())

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
            validate_actions(response.actions, self.max_payload_bytes)
            now = self.clock.now()
            if self.faults.orchestrator_result_fault(instance.instance_id, instance.name, item.attempt, now):
                self._return_to_queue(item, backoff=0.0)
                self._after_change()
                return
            self._release(item)
            instance.in_flight = None
            instance.abandon_count = 0
            instance.abandoned_by = None
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
            owner = self._instances.get(item.instance_id)
            if owner is not None:  # the instance made progress: an abandon back-off starts small again
                owner.abandon_count = 0
            if failed:
                event = events.task_failed(now, item.task_id, response.failureDetails)
            else:
                event = events.task_completed(now, item.task_id, optional_field(response, "result"))
            if fault is not None and fault.delay is not None:
                entry = TimerEntry("event", now + fault.delay, item.instance_id, item.execution_id, event=event)
                self._push_timer(entry)
            else:
                self._deliver_to(item.instance_id, item.execution_id, event)
            self._after_change()

    def abandon_orchestrator(self, token: str) -> None:
        """AbandonTaskOrchestratorWorkItem: hand the work item out again after a real-time back-off that grows
        with each abandon since the instance's last completed work item, preferably to another stream."""
        with self._lock:
            item = self._find_orchestrator_item(token, "")
            instance = self._instances.get(item.instance_id)
            backoff = ABANDON_BACKOFF_INITIAL
            if instance is not None:
                backoff = min(ABANDON_BACKOFF_INITIAL * (2**instance.abandon_count), ABANDON_BACKOFF_MAX)
                instance.abandon_count += 1
                instance.abandoned_by = item.connection.connection_id if item.connection is not None else None
            self._return_to_queue(item, backoff=backoff)
            self._after_change()

    def abandon_activity(self, token: str) -> None:
        """AbandonTaskActivityWorkItem: hand the activity out again after a short real-time back-off."""
        with self._lock:
            item = self._find_activity_item(token, "", None)
            self._return_to_queue(item, backoff=ABANDON_BACKOFF_INITIAL)
            self._after_change()

    def _on_faults_changed(self) -> None:
        if self.faults.disconnect_due():
            with self._lock:
                if self.faults.take_disconnect(self.clock.now()):
                    self._disconnect_all_workers()
