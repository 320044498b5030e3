"""The worker RPCs: streams connect and take work items (activities first, then orchestrators, then entity
batches), and complete or abandon them.

A completion first finds its in-flight item; a refusal of its content (INVALID_ARGUMENT) then changes nothing,
but when the item's instance or entity was purged or replaced meanwhile the item is released before the
refusal (FAILED_PRECONDITION), so its stream's slot is free again. A work item that cannot be encoded fails its
instance (or its entity batch) instead of the stream. Expired leases hand their items out again; of an activity
handed out again so, the first result of any dispatch is accepted (see :class:`~.queues.ActivityQueue`)."""

from __future__ import annotations

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..errors import EngineError, ErrorCode, invalid, precondition
from ..faults import Site
from ..vocabulary import optional_field, optional_string
from . import events
from .context import Part, abandon_backoff
from .entities import EntityWorkItem, apply_batch, validate_batch_result
from .runtime import apply_response
from .state import Connection, WorkItem
from .timers import TimerEntry, later
from .validation import (
    bounded_failure,
    check_failure_details,
    check_payload,
    validate_response,
)

MAX_ENTITY_BATCH = 100  # operations handed to a worker in one entity batch


class WorkItems(Part):
    """Hands work items to streams and takes their results back (completions, abandons, leases)."""

    def connect(self, request: pb.GetWorkItemsRequest, worker_tag: str = "") -> Connection:
        """Register a GetWorkItems stream with its concurrency limits, name filters and worker tag."""
        with self._lock:
            self._check_running()
            return self._dispatcher.connect(request, worker_tag)

    def hold_worker(self, worker_tag: str) -> None:
        """From now on the streams of the worker tagged ``worker_tag`` stay connected but get no work item."""
        with self._lock:
            self._dispatcher.held_workers.add(worker_tag)

    def release_worker(self, worker_tag: str) -> None:
        """The held worker tagged ``worker_tag`` gets work items again (its streams are woken)."""
        with self._lock:
            self._dispatcher.held_workers.discard(worker_tag)
            self._waiters.work_ready.notify_all()

    def worker_busy(self, worker_tag: str) -> bool:
        """True while a stream of the worker tagged ``worker_tag`` holds a work item it has not completed."""
        with self._lock:
            return any(c.tokens for c in self._dispatcher.connections.values() if c.worker_tag == worker_tag)

    def close(self, connection: Connection) -> None:
        """Ask a stream to end (e.g. its RPC was cancelled); wakes it if it is waiting."""
        with self._lock:
            connection.close()
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
                        self._context.disconnect_all_workers()
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
                instance.work_item_done()
                outbox = apply_response(instance, item.new_events, response, now,
                                        custom_status_rule=self._context.custom_status_rule)
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
                late = bool(response.completionToken) and response.completionToken != item.token
                if not late:  # a late result's activity is queued or in flight again already
                    self._dispatcher.return_to_queue(item, self.clock.monotonic())
            else:
                self._dispatcher.activity_answered(item)
                if owner is not None:  # the instance made progress: an abandon back-off starts small again
                    owner.made_progress()
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
            backoff = abandon_backoff(0)
            if instance is not None:
                by = item.connection.connection_id if item.connection is not None else None
                backoff = abandon_backoff(instance.abandoned(by))
            self._dispatcher.return_to_queue(item, self.clock.monotonic(), backoff)
            self._after_change()
        return pb.AbandonOrchestrationTaskResponse()

    def abandon_activity(self, request: pb.AbandonActivityTaskRequest) -> pb.AbandonActivityTaskResponse:
        """AbandonTaskActivityWorkItem: hand the activity out again after a short back-off."""
        with self._lock:
            item = self._dispatcher.find_activity(request.completionToken, "", None)
            self._dispatcher.return_to_queue(item, self.clock.monotonic(), abandon_backoff(0))
            self._after_change()
        return pb.AbandonActivityTaskResponse()

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
                entity.made_progress()
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
            backoff = abandon_backoff(0)
            if entity is not None:
                backoff = abandon_backoff(entity.abandoned())
            self._dispatcher.return_to_queue(item, self.clock.monotonic(), backoff)
            self._after_change()
        return pb.AbandonEntityTaskResponse()

    def _dispatch(self, connection: Connection, now: float) -> pb.WorkItem | None:
        """The stream's next work item, queued activities first: the results of a fan-out then reach their
        orchestration in fewer orchestrator work items, each of which the worker answers with a full replay.
        A held worker's stream gets none."""
        if connection.worker_tag and self._dispatcher.is_held(connection):
            return None
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
            batch = entity.take_batch(MAX_ENTITY_BATCH)
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
            site = item.fault_site(self._store.get(item.instance_id))
            self.faults.lease_expired(site, self.clock.now())
            self._dispatcher.lease_ran_out(item, now)
