"""The Dapr dialect at the gRPC boundary: Dapr's wire format in, the fake's own messages to the servicer.

Every RPC deserializes Dapr's request with the dialect's classes (:mod:`.dapr_schema`), copies it into the
fake's message (:mod:`.convert`), calls the ordinary :class:`~durabletask_testing.shell.FakeSidecarServicer`
method (faults, limits and errors as for any SDK) and writes the answer back in Dapr's numbering. What only
Dapr has is handled here:

- ``taskExecutionId``: kept per (instance, execution, task id) from the ``ScheduleTask`` action and written
  into the activity's work item and its history events, as Dapr's sidecar does;
- health pings go only to workers whose ``GetWorkItems`` request asks for them (Dapr 1.19 does; 1.18's worker
  cannot read one);
- ``CompleteWorkflowTask``, ``ListInstanceIDs`` (every instance, paged) and ``GetInstanceHistory``;
- the ``dapr-api-token`` metadata (see :class:`DaprApiTokenInterceptor`).

Routers (cross-app calls) are read and ignored: the fake is one app.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..messages import bounded
from ..shell import ApiTokenInterceptor, FakeSidecarServicer
from . import dapr_schema as schema
from .convert import convert

SERVICE = "TaskHubSidecarService"
TOKEN_METADATA_KEY = "dapr-api-token"
DEFAULT_LIST_PAGE_SIZE = 100

# Unary RPCs whose request and response are the same messages in both dialects: Dapr RPC -> (servicer method,
# request message, response message).
_UNARY: dict[str, tuple[str, str, str]] = {
    "StartInstance": ("StartInstance", "CreateInstanceRequest", "CreateInstanceResponse"),
    "GetInstance": ("GetInstance", "GetInstanceRequest", "GetInstanceResponse"),
    "WaitForInstanceStart": ("WaitForInstanceStart", "GetInstanceRequest", "GetInstanceResponse"),
    "WaitForInstanceCompletion": ("WaitForInstanceCompletion", "GetInstanceRequest", "GetInstanceResponse"),
    "RaiseEvent": ("RaiseEvent", "RaiseEventRequest", "RaiseEventResponse"),
    "TerminateInstance": ("TerminateInstance", "TerminateRequest", "TerminateResponse"),
    "SuspendInstance": ("SuspendInstance", "SuspendRequest", "SuspendResponse"),
    "ResumeInstance": ("ResumeInstance", "ResumeRequest", "ResumeResponse"),
    "PurgeInstances": ("PurgeInstances", "PurgeInstancesRequest", "PurgeInstancesResponse"),
    "CompleteActivityTask": ("CompleteActivityTask", "ActivityResponse", "CompleteTaskResponse"),
    "CompleteOrchestratorTask": ("CompleteOrchestratorTask", "OrchestratorResponse", "CompleteTaskResponse"),
    "CompleteWorkflowTask": ("CompleteOrchestratorTask", "OrchestratorResponse", "CompleteTaskResponse"),
}

NOT_IMPLEMENTED = {
    "RerunWorkflowFromEvent": "re-running a workflow from an event is not supported by the fake sidecar yet",
}

_TaskKey = tuple[str, str, int]


class TaskExecutionIds:
    """Dapr's ``taskExecutionId`` of each scheduled activity, and the execution each work item belongs to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[_TaskKey, str] = {}
        self._executions: dict[str, tuple[str, str]] = {}  # completion token -> (instance id, execution id)

    def dispatched(self, token: str, instance_id: str, execution_id: str) -> None:
        with self._lock:
            self._executions[token] = (instance_id, execution_id)

    def scheduled(self, token: str, task_id: int, execution_id: str) -> None:
        with self._lock:
            where = self._executions.get(token)
            if where is not None and execution_id:
                self._ids[(where[0], where[1], task_id)] = execution_id

    def completed(self, token: str) -> None:
        with self._lock:
            self._executions.pop(token, None)

    def get(self, instance_id: str, execution_id: str, task_id: int) -> str:
        with self._lock:
            return self._ids.get((instance_id, execution_id, task_id), "")

    def clear(self) -> None:
        with self._lock:
            self._ids.clear()
            self._executions.clear()


class DaprService:
    """TaskHubSidecarService in Dapr's dialect, over a :class:`FakeSidecarServicer`."""

    def __init__(self, servicer: FakeSidecarServicer) -> None:
        self._servicer = servicer
        self._tasks = TaskExecutionIds()

    def reset(self) -> None:
        """Forget the Dapr-only data of every instance (the fake was emptied)."""
        self._tasks.clear()

    def handler(self) -> grpc.GenericRpcHandler:
        """The gRPC handler serving ``/TaskHubSidecarService/<Rpc>`` in Dapr's numbering."""
        handlers: dict[str, grpc.RpcMethodHandler] = {
            "Hello": grpc.unary_unary_rpc_method_handler(
                self._servicer.Hello,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=empty_pb2.Empty.SerializeToString,
            ),
            "GetWorkItems": grpc.unary_stream_rpc_method_handler(
                self._get_work_items,
                request_deserializer=schema.message_class("GetWorkItemsRequest").FromString,
                response_serializer=_serialize,
            ),
            "ListInstanceIDs": self._unary_handler(self._list_instance_ids, "ListInstanceIDsRequest"),
            "GetInstanceHistory": self._unary_handler(self._get_instance_history, "GetInstanceHistoryRequest"),
        }
        for rpc, (method, request, response) in _UNARY.items():
            handlers[rpc] = self._unary_handler(self._forward(method, request, response), request)
        for rpc, reason in NOT_IMPLEMENTED.items():
            handlers[rpc] = grpc.unary_unary_rpc_method_handler(_refuse(rpc, reason))
        return grpc.method_handlers_generic_handler(SERVICE, handlers)

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _unary_handler(behaviour: Callable[[Any, grpc.ServicerContext], Message], request: str) -> Any:
        return grpc.unary_unary_rpc_method_handler(
            behaviour, request_deserializer=schema.message_class(request).FromString, response_serializer=_serialize
        )

    def _forward(self, method: str, request: str, response: str) -> Callable[[Any, grpc.ServicerContext], Message]:
        ours = getattr(pb, request)
        dapr_response = schema.message_class(response)
        call = getattr(self._servicer, method)

        def behaviour(dapr_request: Any, context: grpc.ServicerContext) -> Message:
            translated = convert(dapr_request, ours())
            if request == "OrchestratorResponse":
                self._remember_task_ids(dapr_request)
            try:
                answer = call(translated, context)
            finally:  # the work item is done with, answered, refused or handed back: forget its token
                if request in ("OrchestratorResponse", "AbandonOrchestrationTaskRequest"):
                    self._tasks.completed(dapr_request.completionToken)
            return convert(answer, dapr_response())

        behaviour.__name__ = method
        return behaviour

    def _remember_task_ids(self, response: Any) -> None:
        for action in response.actions:
            if action.HasField("scheduleTask") and action.scheduleTask.taskExecutionId:
                self._tasks.scheduled(response.completionToken, action.id, action.scheduleTask.taskExecutionId)

    # ------------------------------------------------------------------ work items

    def _get_work_items(self, request: Any, context: grpc.ServicerContext) -> Iterator[Message]:
        wants_pings = schema.HEALTH_PING_CAPABILITY in request.capabilities
        ours = convert(request, pb.GetWorkItemsRequest())
        del ours.capabilities[:]  # Dapr's capability numbers mean other things in ours
        work_item = schema.message_class("WorkItem")
        for item in self._servicer.GetWorkItems(ours, context):
            kind = item.WhichOneof("request")
            if kind == "healthPing" and not wants_pings:
                continue
            translated = convert(item, work_item())
            if kind == "orchestratorRequest":
                self._fill_orchestrator_request(item.completionToken, item.orchestratorRequest,
                                                translated.orchestratorRequest)
            elif kind == "activityRequest":
                self._fill_activity_request(item.activityRequest, translated.activityRequest)
            yield translated

    def _fill_orchestrator_request(self, token: str, ours: pb.OrchestratorRequest, dapr: Any) -> None:
        execution_id = ours.executionId.value
        self._tasks.dispatched(token, ours.instanceId, execution_id)
        for events in (dapr.pastEvents, dapr.newEvents):
            for event in events:
                kind = event.WhichOneof("eventType")
                if kind == "taskScheduled":
                    task_id, target = event.eventId, event.taskScheduled
                elif kind in ("taskCompleted", "taskFailed"):
                    target = getattr(event, kind)
                    task_id = target.taskScheduledId
                else:
                    continue
                target.taskExecutionId = self._tasks.get(ours.instanceId, execution_id, task_id)

    def _fill_activity_request(self, ours: pb.ActivityRequest, dapr: Any) -> None:
        instance = ours.orchestrationInstance
        dapr.taskExecutionId = self._tasks.get(instance.instanceId, instance.executionId.value, ours.taskId)

    # ------------------------------------------------------------------ Dapr-only RPCs

    def _list_instance_ids(self, request: Any, context: grpc.ServicerContext) -> Message:
        """Every instance's id, in creation order, ``pageSize`` at a time after ``continuationToken``."""
        ids = [snapshot.instance_id for snapshot in self._servicer.engine.snapshots()]
        start = 0
        if request.continuationToken:
            if request.continuationToken not in ids:
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT,
                       f"continuationToken {request.continuationToken!r} names no instance of the fake sidecar")
            start = ids.index(request.continuationToken) + 1
        size = request.pageSize or DEFAULT_LIST_PAGE_SIZE
        page = ids[start:start + size]
        answer = schema.message_class("ListInstanceIDsResponse")(instanceIds=page)
        if start + size < len(ids) and page:
            answer.continuationToken = page[-1]
        return answer

    def _get_instance_history(self, request: Any, context: grpc.ServicerContext) -> Message:
        """The committed history of an instance's current execution."""
        ours = pb.StreamInstanceHistoryRequest(instanceId=request.instanceId)
        answer = schema.message_class("GetInstanceHistoryResponse")()
        for chunk in self._servicer.StreamInstanceHistory(ours, context):
            for event in chunk.events:
                convert(event, answer.events.add())
        return answer


def _serialize(message: Message) -> bytes:
    return bytes(message.SerializeToString())


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> None:
    context.abort(code, bounded(message))


def _refuse(rpc: str, reason: str) -> Callable[[bytes, grpc.ServicerContext], Any]:
    def refuse(request: bytes, context: grpc.ServicerContext) -> Any:
        _abort(context, grpc.StatusCode.UNIMPLEMENTED, f"{rpc} is not implemented by the fake sidecar ({reason})")

    return refuse


class DaprApiTokenInterceptor(ApiTokenInterceptor):
    """Accepts the fake's API token as ``dapr-api-token`` metadata (how Dapr's SDKs send it) or as a bearer."""

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        metadata = dict(handler_call_details.invocation_metadata or ())
        token = metadata.get(TOKEN_METADATA_KEY)
        if isinstance(token, str) and hmac.compare_digest(token.encode("utf-8"), self._expected):
            return continuation(handler_call_details)
        return super().intercept_service(continuation, handler_call_details)
