"""The client RPCs of instances: start, raise events, terminate, suspend, resume, read, wait, query, list,
purge, restart and rewind. Each validates the whole request before it changes anything, then changes state
through the router under the engine's lock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..errors import EngineError, ErrorCode, invalid, precondition
from ..vocabulary import optional_field, optional_string, status_name, to_datetime
from . import events
from .context import Part
from .state import Instance
from .validation import (
    check_payload,
    check_statuses,
    require_text,
)
from .views import (
    matches_query,
    orchestration_state,
)
from .waiters import WaitTarget

DEFAULT_LIST_PAGE_SIZE = 100


class ClientRpcs(Part):
    """The instance RPCs a client calls (StartInstance ... RewindInstance)."""

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
                fault_key=self._store.next_fault_key(request.name),
            )
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
        """TerminateInstance: deliver ExecutionTerminated (to live descendants too when recursive, even when the
        instance itself has already ended)."""
        require_text(request.instanceId, "instanceId")
        output = optional_string(request, "output")
        check_payload(output, "output", self.max_payload_bytes)
        with self._lock:
            self._store.require(request.instanceId)
            self._router.terminate(request.instanceId, output, request.recursive)
            self._after_change()
        return pb.TerminateResponse()

    def suspend(self, request: pb.SuspendRequest) -> pb.SuspendResponse:
        """SuspendInstance: deliver ExecutionSuspended (the SDK buffers later events until resumed); an instance that
        has ended is left as it is and the call succeeds, as on durabletask-go."""
        self._lifecycle_event(request.instanceId, optional_string(request, "reason"), "suspend")
        return pb.SuspendResponse()

    def resume(self, request: pb.ResumeRequest) -> pb.ResumeResponse:
        """ResumeInstance: deliver ExecutionResumed (an ended instance is left as it is, as on durabletask-go)."""
        self._lifecycle_event(request.instanceId, optional_string(request, "reason"), "resume")
        return pb.ResumeResponse()

    def _lifecycle_event(self, instance_id: str, reason: str | None, verb: str) -> None:
        require_text(instance_id, "instanceId")
        check_payload(reason, "reason", self.max_payload_bytes)
        make = events.execution_suspended if verb == "suspend" else events.execution_resumed
        with self._lock:
            instance = self._store.require(instance_id)
            self._router.deliver(instance, make(self.clock.now(), reason))  # dropped once the instance has ended
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
            condition = self._waiters.register(instance_id, until)
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
                self._waiters.unregister(instance_id, until)

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
        """PurgeInstances: delete ended instances (one, a batch or by filter); with ``recursive``, each with the
        sub-orchestrations its current execution created, at any depth (children already purged are skipped).

        A tree is deleted only when every instance in it has ended: for one instance id a tree holding a live
        instance is refused whole (FAILED_PRECONDITION naming it, nothing deleted); a batch or a filter skips
        such a tree, as it skips a live root."""
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
            doomed: dict[str, Instance] = {}
            for victim in victims:
                tree = self._router.tree(victim) if request.recursive else [victim]
                live = next((instance for instance in tree if not instance.is_terminal), None)
                if live is None:
                    doomed.update((instance.instance_id, instance) for instance in tree)
                elif kind == "instanceId":
                    raise _live_descendant(victim, live)
            count = self._router.delete(list(doomed.values()))
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
            key = self._store.next_fault_key(old.name)
            tags = dict(old.tags)
            instance = self._router.new_instance(target, old.name, old.version, old.input, tags, fault_key=key)
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


def _live_descendant(root: Instance, live: Instance) -> EngineError:
    parent = live.parent_instance_id
    return precondition(
        f"cannot purge instance '{root.instance_id}' recursively: its sub-orchestration '{live.instance_id}' "
        f"(child of '{parent}') has not ended (status {status_name(live.status)}), so nothing was purged. "
        f"Terminate it first (a recursive terminate of '{root.instance_id}' reaches it), or purge with "
        "recursive=False to keep it."
    )


def _instance_response(instance: Instance | None, include_payloads: bool) -> pb.GetInstanceResponse:
    if instance is None:
        return pb.GetInstanceResponse(exists=False)
    return pb.GetInstanceResponse(exists=True, orchestrationState=orchestration_state(instance, include_payloads))
