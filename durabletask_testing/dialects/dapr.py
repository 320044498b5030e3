"""The Dapr dialect at the gRPC boundary: Dapr's wire format in, the fake's own messages to the servicer.

Every RPC deserializes Dapr's request with the dialect's classes (:mod:`.dapr_schema`), copies it into the
fake's message (:mod:`.convert`), calls the ordinary :class:`~durabletask_testing.shell.FakeSidecarServicer`
method (faults, limits and errors as for any SDK) and writes the answer back in Dapr's numbering. What only
Dapr has is handled here:

- ``taskExecutionId``: carried by the engine as the tag :data:`TASK_EXECUTION_ID_TAG` of the ``ScheduleTask``
  action (so it lives and dies with the instance's history; Dapr drops the tags of activities) and written back
  into the activity's work item and its history events (``TaskScheduled``, ``TaskCompleted``, ``TaskFailed``),
  as Dapr's sidecar does;
- every request is checked against the size limits in Dapr's own format first, so that Dapr-only strings
  (``taskExecutionId``, timer names, routers) are bounded like every other string;
- health pings go only to workers whose ``GetWorkItems`` request asks for them (Dapr 1.19 does; 1.18's worker
  cannot read one);
- ``CompleteWorkflowTask``, ``ListInstanceIDs`` (every instance in order of id, paged: a page's token is its last
  id, so a purge between pages loses nothing) and ``GetInstanceHistory``;
- the ``dapr-api-token`` metadata (see :class:`DaprApiTokenInterceptor`).

Routers (cross-app calls) are read and ignored: the fake is one app.
"""

from __future__ import annotations

import bisect
import hmac
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..errors import EngineError
from ..messages import bounded
from ..shell import ApiTokenInterceptor, FakeSidecarServicer
from ..shell.admission import on_pool_of
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

# The tag of our ScheduleTaskAction (and so of the TaskScheduled event and the activity work item) that carries
# Dapr's taskExecutionId through the engine.
TASK_EXECUTION_ID_TAG = "dapr.taskExecutionId"


class DaprService:
    """TaskHubSidecarService in Dapr's dialect, over a :class:`FakeSidecarServicer`."""

    def __init__(self, servicer: FakeSidecarServicer) -> None:
        self._servicer = servicer

    def handler(self) -> grpc.GenericRpcHandler:
        """The gRPC handler serving ``/TaskHubSidecarService/<Rpc>`` in Dapr's numbering."""
        handlers: dict[str, grpc.RpcMethodHandler] = {
            "Hello": grpc.unary_unary_rpc_method_handler(
                self._servicer.Hello,
                request_deserializer=empty_pb2.Empty.FromString,
                response_serializer=empty_pb2.Empty.SerializeToString,
            ),
            "GetWorkItems": grpc.unary_stream_rpc_method_handler(
                on_pool_of(self._servicer.GetWorkItems, self._get_work_items),
                request_deserializer=schema.message_class("GetWorkItemsRequest").FromString,
                response_serializer=_serialize,
            ),
            "ListInstanceIDs": self._unary_handler(self._list_instance_ids, "ListInstanceIDsRequest"),
            "GetInstanceHistory": self._unary_handler(self._get_instance_history, "GetInstanceHistoryRequest"),
        }
        for rpc, (method, request, response) in _UNARY.items():
            handlers[rpc] = self._unary_handler(self._forward(method, request, response), request,
                                                pool_of=getattr(self._servicer, method))
        for rpc, reason in NOT_IMPLEMENTED.items():
            handlers[rpc] = grpc.unary_unary_rpc_method_handler(_refuse(rpc, reason))
        return grpc.method_handlers_generic_handler(SERVICE, handlers)

    # ------------------------------------------------------------------ plumbing

    def _unary_handler(self, behaviour: Callable[[Any, grpc.ServicerContext], Message], request: str,
                       pool_of: Callable[..., Any] | None = None) -> Any:
        def checked(dapr_request: Any, context: grpc.ServicerContext) -> Message:
            self._check_limits(dapr_request, context)
            return behaviour(dapr_request, context)

        return grpc.unary_unary_rpc_method_handler(
            checked if pool_of is None else on_pool_of(pool_of, checked),
            request_deserializer=schema.message_class(request).FromString,
            response_serializer=_serialize,
        )

    def _check_limits(self, dapr_request: Message, context: grpc.ServicerContext) -> None:
        """The size limits on the request as Dapr sent it, Dapr-only fields included."""
        try:
            self._servicer.check_limits(dapr_request)
        except EngineError as error:
            _abort(context, grpc.StatusCode[error.code.name], error.message)

    def _forward(self, method: str, request: str, response: str) -> Callable[[Any, grpc.ServicerContext], Message]:
        ours = getattr(pb, request)
        dapr_response = schema.message_class(response)
        call = getattr(self._servicer, method)

        def behaviour(dapr_request: Any, context: grpc.ServicerContext) -> Message:
            translated = convert(dapr_request, ours())
            if request == "OrchestratorResponse":
                _carry_task_execution_ids(dapr_request, translated)
            return convert(call(translated, context), dapr_response())

        behaviour.__name__ = method
        return behaviour

    # ------------------------------------------------------------------ work items

    def _get_work_items(self, request: Any, context: grpc.ServicerContext) -> Iterator[Message]:
        self._check_limits(request, context)
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
                request_ours, request_dapr = item.orchestratorRequest, translated.orchestratorRequest
                _fill_task_execution_ids([*request_ours.pastEvents, *request_ours.newEvents],
                                         [*request_dapr.pastEvents, *request_dapr.newEvents])
            elif kind == "activityRequest":
                translated.activityRequest.taskExecutionId = item.activityRequest.tags.get(TASK_EXECUTION_ID_TAG, "")
            yield translated

    # ------------------------------------------------------------------ Dapr-only RPCs

    def _list_instance_ids(self, request: Any, context: grpc.ServicerContext) -> Message:
        """Every instance's id in order of id, ``pageSize`` at a time after ``continuationToken`` (the last id of
        the page before: instances purged or created between pages move no page)."""
        ids = sorted(snapshot.instance_id for snapshot in self._servicer.engine.snapshots())
        start = bisect.bisect_right(ids, request.continuationToken) if request.continuationToken else 0
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
        events: list[pb.HistoryEvent] = []
        for chunk in self._servicer.StreamInstanceHistory(ours, context):
            events.extend(chunk.events)
        _fill_task_execution_ids(events, [convert(event, answer.events.add()) for event in events])
        return answer


def _carry_task_execution_ids(dapr: Any, ours: pb.OrchestratorResponse) -> None:
    """Copy each ``scheduleTask.taskExecutionId`` of Dapr's response into the tags of our action (same index)."""
    for dapr_action, action in zip(dapr.actions, ours.actions, strict=True):
        if dapr_action.HasField("scheduleTask") and dapr_action.scheduleTask.taskExecutionId:
            action.scheduleTask.tags[TASK_EXECUTION_ID_TAG] = dapr_action.scheduleTask.taskExecutionId


def _fill_task_execution_ids(ours: Sequence[pb.HistoryEvent], dapr: Sequence[Any]) -> None:
    """Write Dapr's ``taskExecutionId`` into the task events of ``dapr`` (the same events as ``ours``), from the
    tags of the ``TaskScheduled`` event of each task id."""
    ids = {event.eventId: event.taskScheduled.tags.get(TASK_EXECUTION_ID_TAG, "")
           for event in ours if event.WhichOneof("eventType") == "taskScheduled"}
    for event in dapr:
        kind = event.WhichOneof("eventType")
        if kind == "taskScheduled":
            event.taskScheduled.taskExecutionId = ids.get(event.eventId, "")
        elif kind in ("taskCompleted", "taskFailed"):
            target = getattr(event, kind)
            target.taskExecutionId = ids.get(target.taskScheduledId, "")


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
