"""The gRPC shell of the fake sidecar: translates TaskHubSidecarService RPCs into engine calls.

No state lives here. Engine errors become gRPC statuses with the engine's message; unexpected
errors become INTERNAL with a message, never a crashed server.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2

from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

from .engine import Engine
from .engine.waiters import WaitTarget
from .errors import EngineError

logger = logging.getLogger("durabletask_testing.server")

DEFAULT_HEALTH_PING_INTERVAL = 30.0

F = TypeVar("F", bound=Callable[..., Any])


def _status(error: EngineError) -> grpc.StatusCode:
    return grpc.StatusCode[error.code.name]


def _unary(method: F) -> F:
    """Wrap a unary RPC: injected RPC faults first, then engine errors mapped to statuses."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: FakeSidecarServicer, request: Any, context: grpc.ServicerContext) -> Any:
        self._check_rpc_fault(name, context)
        try:
            return method(self, request, context)
        except EngineError as error:
            context.abort(_status(error), error.message)
        except Exception as error:  # never let a bug take the server down
            logger.exception("unexpected error in %s", name)
            context.abort(grpc.StatusCode.INTERNAL, f"{name} failed inside the fake sidecar: {error!r}")

    return wrapper  # type: ignore[return-value]


# RPCs that may block for long (work-item streams, long polls). They can run in a pool of their own, so that
# the pool answering the short RPCs can stay small: fewer threads contending for the GIL per call.
BLOCKING_RPCS = ("GetWorkItems", "WaitForInstanceStart", "WaitForInstanceCompletion")


def _run_in_pool(method: Callable[..., Any], pool: futures.ThreadPoolExecutor) -> Callable[..., Any]:
    """``method`` marked to run in ``pool`` (grpcio reads a behavior's ``experimental_thread_pool``)."""

    @functools.wraps(method)
    def run(request: Any, context: grpc.ServicerContext) -> Any:
        return method(request, context)

    run.experimental_thread_pool = pool  # type: ignore[attr-defined]
    return run


class FakeSidecarServicer(stubs.TaskHubSidecarServiceServicer):
    """TaskHubSidecarService over an :class:`Engine`.

    With ``blocking_pool``, the RPCs in :data:`BLOCKING_RPCS` run in that pool instead of the server's.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        health_ping_interval: float = DEFAULT_HEALTH_PING_INTERVAL,
        blocking_pool: futures.ThreadPoolExecutor | None = None,
    ) -> None:
        self._engine = engine
        self._ping_interval = health_ping_interval
        if blocking_pool is not None:
            for name in BLOCKING_RPCS:
                setattr(self, name, _run_in_pool(getattr(self, name), blocking_pool))

    @property
    def engine(self) -> Engine:
        """The engine this servicer translates to."""
        return self._engine

    def _check_rpc_fault(self, method: str, context: grpc.ServicerContext) -> None:
        code = self._engine.faults.rpc_fault(method, self._engine.clock.now())
        if code is not None:
            context.abort(grpc.StatusCode[code], f"injected fault: {method} answered {code} by the fake sidecar")

    # ------------------------------------------------------------------ client RPCs

    @_unary
    def Hello(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    @_unary
    def StartInstance(
        self, request: pb.CreateInstanceRequest, context: grpc.ServicerContext
    ) -> pb.CreateInstanceResponse:
        return self._engine.start_instance(request)

    @_unary
    def GetInstance(self, request: pb.GetInstanceRequest, context: grpc.ServicerContext) -> pb.GetInstanceResponse:
        return self._engine.get_instance(request)

    @_unary
    def WaitForInstanceStart(
        self, request: pb.GetInstanceRequest, context: grpc.ServicerContext
    ) -> pb.GetInstanceResponse:
        return self._wait(request, context, "start")

    @_unary
    def WaitForInstanceCompletion(
        self, request: pb.GetInstanceRequest, context: grpc.ServicerContext
    ) -> pb.GetInstanceResponse:
        return self._wait(request, context, "completion")

    def _wait(
        self, request: pb.GetInstanceRequest, context: grpc.ServicerContext, until: WaitTarget
    ) -> pb.GetInstanceResponse:
        cancelled = threading.Event()
        instance_id = request.instanceId

        def on_done() -> None:
            cancelled.set()
            if instance_id:
                self._engine.wake(instance_id)

        context.add_callback(on_done)
        return self._engine.wait_for_instance(
            request, until=until, timeout=context.time_remaining(), cancelled=cancelled.is_set
        )

    @_unary
    def RaiseEvent(self, request: pb.RaiseEventRequest, context: grpc.ServicerContext) -> pb.RaiseEventResponse:
        return self._engine.raise_event(request)

    @_unary
    def TerminateInstance(self, request: pb.TerminateRequest, context: grpc.ServicerContext) -> pb.TerminateResponse:
        return self._engine.terminate(request)

    @_unary
    def SuspendInstance(self, request: pb.SuspendRequest, context: grpc.ServicerContext) -> pb.SuspendResponse:
        return self._engine.suspend(request)

    @_unary
    def ResumeInstance(self, request: pb.ResumeRequest, context: grpc.ServicerContext) -> pb.ResumeResponse:
        return self._engine.resume(request)

    @_unary
    def QueryInstances(
        self, request: pb.QueryInstancesRequest, context: grpc.ServicerContext
    ) -> pb.QueryInstancesResponse:
        return self._engine.query_instances(request)

    @_unary
    def ListInstanceIds(
        self, request: pb.ListInstanceIdsRequest, context: grpc.ServicerContext
    ) -> pb.ListInstanceIdsResponse:
        return self._engine.list_instance_ids(request)

    @_unary
    def PurgeInstances(
        self, request: pb.PurgeInstancesRequest, context: grpc.ServicerContext
    ) -> pb.PurgeInstancesResponse:
        return self._engine.purge_instances(request)

    @_unary
    def RestartInstance(
        self, request: pb.RestartInstanceRequest, context: grpc.ServicerContext
    ) -> pb.RestartInstanceResponse:
        return self._engine.restart_instance(request)

    def StreamInstanceHistory(
        self, request: pb.StreamInstanceHistoryRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.HistoryChunk]:
        self._check_rpc_fault("StreamInstanceHistory", context)
        try:
            chunks = self._engine.stream_instance_history(request)
        except EngineError as error:
            context.abort(_status(error), error.message)
        yield from chunks

    # ------------------------------------------------------------------ worker RPCs

    def GetWorkItems(self, request: pb.GetWorkItemsRequest, context: grpc.ServicerContext) -> Iterator[pb.WorkItem]:
        self._check_rpc_fault("GetWorkItems", context)
        engine = self._engine
        try:
            connection = engine.connect(request)
        except EngineError as error:
            context.abort(_status(error), error.message)
        context.add_callback(lambda: engine.close(connection))
        try:
            while True:
                try:
                    item = engine.next_work_item(connection, self._ping_interval)
                except EngineError as error:
                    context.abort(_status(error), error.message)
                if item is not None:
                    yield item
                elif engine.stopped:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "the fake sidecar is shutting down")
                elif connection.closed:
                    return
                else:
                    yield pb.WorkItem(healthPing=pb.HealthPing())
        finally:
            engine.disconnect(connection)

    @_unary
    def CompleteOrchestratorTask(
        self, request: pb.OrchestratorResponse, context: grpc.ServicerContext
    ) -> pb.CompleteTaskResponse:
        return self._engine.complete_orchestrator(request)

    @_unary
    def CompleteActivityTask(
        self, request: pb.ActivityResponse, context: grpc.ServicerContext
    ) -> pb.CompleteTaskResponse:
        return self._engine.complete_activity(request)

    @_unary
    def AbandonTaskOrchestratorWorkItem(
        self, request: pb.AbandonOrchestrationTaskRequest, context: grpc.ServicerContext
    ) -> pb.AbandonOrchestrationTaskResponse:
        return self._engine.abandon_orchestrator(request)

    @_unary
    def AbandonTaskActivityWorkItem(
        self, request: pb.AbandonActivityTaskRequest, context: grpc.ServicerContext
    ) -> pb.AbandonActivityTaskResponse:
        return self._engine.abandon_activity(request)


# RPCs the fake answers with UNIMPLEMENTED, and why
NOT_IMPLEMENTED_RPCS = {
    "RewindInstance": "rewinding failed orchestrations is not supported yet",
    "CompleteEntityTask": "durable entities are not supported yet",
    "AbandonTaskEntityWorkItem": "durable entities are not supported yet",
    "SignalEntity": "durable entities are not supported yet",
    "GetEntity": "durable entities are not supported yet",
    "QueryEntities": "durable entities are not supported yet",
    "CleanEntityStorage": "durable entities are not supported yet",
    "CreateTaskHub": "the fake has a single in-memory task hub",
    "DeleteTaskHub": "the fake has a single in-memory task hub; use reset()",
    "SkipGracefulOrchestrationTerminations": "not supported yet",
}


def _not_implemented(method: str, reason: str) -> Callable[[Any, Any, grpc.ServicerContext], Any]:
    def refuse(self: FakeSidecarServicer, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented by the fake sidecar ({reason})")

    refuse.__name__ = method
    return refuse


for _method, _reason in NOT_IMPLEMENTED_RPCS.items():
    setattr(FakeSidecarServicer, _method, _not_implemented(_method, _reason))


class ApiTokenInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Refuses, with UNAUTHENTICATED, every call without ``authorization: Bearer <token>`` metadata."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("api_token must not be empty")
        self._expected = f"Bearer {token}"

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        metadata = dict(handler_call_details.invocation_metadata or ())
        if metadata.get("authorization") == self._expected:
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        supplied = "authorization" in metadata
        message = (
            "the authorization metadata does not carry the fake sidecar's API token"
            if supplied
            else "missing 'authorization: Bearer <token>' metadata: this fake sidecar requires an API token"
        )

        def deny(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

        if handler.unary_stream is not None:
            make_handler = grpc.unary_stream_rpc_method_handler
        else:
            make_handler = grpc.unary_unary_rpc_method_handler
        return make_handler(
            deny,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
