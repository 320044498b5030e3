"""The servicer: translates TaskHubSidecarService RPCs into engine calls.

No state lives here. In every RPC, unary and streaming, engine errors become gRPC statuses with the engine's
message, and unexpected errors become INTERNAL with a message, never a crashed server.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import empty_pb2

from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

from ..checks import MAX_TIMEOUT_SECONDS, seconds
from ..engine import Engine, WaitTarget
from ..errors import EngineError, ErrorCode
from ..messages import bounded
from .admission import Admission
from .limits import Limits, check_request

logger = logging.getLogger("durabletask_testing.server")

DEFAULT_HEALTH_PING_INTERVAL = 30.0

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S", bound=Callable[..., Iterator[Any]])


def abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    """End the call with ``code`` and ``message``, cut to a size every client accepts (see :mod:`.messages`)."""
    context.abort(code, bounded(message))
    raise AssertionError("grpc's context.abort() returned")  # pragma: no cover - abort always raises


def _refuse(context: grpc.ServicerContext, error: EngineError) -> NoReturn:
    abort(context, grpc.StatusCode[error.code.name], error.message)


def _unary(method: F) -> F:
    """Wrap a unary RPC: injected RPC faults first, then the request's size limits, then engine errors as statuses."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: FakeSidecarServicer, request: Any, context: grpc.ServicerContext) -> Any:
        self._check_rpc_fault(name, context)
        try:
            self.check_limits(request)
            return method(self, request, context)
        except EngineError as error:
            _refuse(context, error)
        except Exception as error:  # never let a bug take the server down
            logger.exception("unexpected error in %s", name)
            abort(context, grpc.StatusCode.INTERNAL, f"{name} failed inside the fake sidecar: {error!r}")

    return wrapper  # type: ignore[return-value]


def _streaming(method: S) -> S:
    """Wrap a server-streaming RPC like :func:`_unary`. The wrapped method ends the call by raising
    :class:`EngineError`, never by aborting: an abort raises a plain ``Exception``, which the wrapper would map to
    INTERNAL."""
    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: FakeSidecarServicer, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._check_rpc_fault(name, context)
        try:
            self.check_limits(request)
            yield from method(self, request, context)
        except EngineError as error:
            _refuse(context, error)
        except Exception as error:  # never let a bug take the server down
            logger.exception("unexpected error in %s", name)
            abort(context, grpc.StatusCode.INTERNAL, f"{name} failed inside the fake sidecar: {error!r}")

    return wrapper  # type: ignore[return-value]


# RPCs that block for long, by kind: each kind runs on a pool of its own (see :mod:`.admission`).
WORK_ITEM_STREAM_RPCS = ("GetWorkItems",)
LONG_POLL_RPCS = ("WaitForInstanceStart", "WaitForInstanceCompletion")


# The initial-metadata key under which Hello answers name the control API's URL.
CONTROL_METADATA_KEY = "x-durabletask-testing-control"
# The request-metadata key a worker may send on GetWorkItems to name itself, so that a test harness can hold
# its streams between tests (``FakeSidecar.hold_worker``); an ordinary worker sends none.
WORKER_TAG_METADATA_KEY = "x-durabletask-testing-worker"


class FakeSidecarServicer(stubs.TaskHubSidecarServiceServicer):
    """TaskHubSidecarService over an :class:`Engine`.

    With ``streams``/``long_polls``, the RPCs in :data:`WORK_ITEM_STREAM_RPCS`/:data:`LONG_POLL_RPCS` run on
    that admission's pool, at most its limit at once; otherwise on the server's pool.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        health_ping_interval: float = DEFAULT_HEALTH_PING_INTERVAL,
        streams: Admission | None = None,
        long_polls: Admission | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._engine = engine
        self.control_url: str | None = None
        """Advertised in the initial metadata of Hello answers when a control API serves this fake."""
        self._limits = limits if limits is not None else Limits()
        self._ping_interval = seconds(health_ping_interval, "health_ping_interval", positive=True,
                                      maximum=MAX_TIMEOUT_SECONDS)
        if streams is not None:
            for name in WORK_ITEM_STREAM_RPCS:
                setattr(self, name, streams.streaming(getattr(self, name)))
        if long_polls is not None:
            for name in LONG_POLL_RPCS:
                setattr(self, name, long_polls.unary(getattr(self, name)))

    @property
    def engine(self) -> Engine:
        """The engine this servicer translates to."""
        return self._engine

    def check_limits(self, request: Any) -> None:
        """Refuse ``request`` (any dialect's message) when a string in it is over its limit (EngineError)."""
        check_request(request, self._limits, self._engine.max_payload_bytes)

    def _check_rpc_fault(self, method: str, context: grpc.ServicerContext) -> None:
        code = self._engine.faults.rpc_fault(method, self._engine.clock.now())
        if code is not None:
            abort(context, grpc.StatusCode[code], f"injected fault: {method} answered {code} by the fake sidecar")

    # ------------------------------------------------------------------ client RPCs

    @_unary
    def Hello(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:
        if self.control_url is not None:  # how test tools find the control API of a CLI fake
            context.send_initial_metadata(((CONTROL_METADATA_KEY, self.control_url),))
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

        if not context.add_callback(on_done):  # the call ended while it waited for a thread
            raise EngineError(ErrorCode.CANCELLED, "the call ended before the fake sidecar served it")
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

    @_streaming
    def StreamInstanceHistory(
        self, request: pb.StreamInstanceHistoryRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.HistoryChunk]:
        yield from self._engine.stream_instance_history(request)

    @_unary
    def RewindInstance(
        self, request: pb.RewindInstanceRequest, context: grpc.ServicerContext
    ) -> pb.RewindInstanceResponse:
        return self._engine.rewind_instance(request)

    # ------------------------------------------------------------------ entity RPCs

    @_unary
    def SignalEntity(self, request: pb.SignalEntityRequest, context: grpc.ServicerContext) -> pb.SignalEntityResponse:
        return self._engine.signal_entity(request)

    @_unary
    def GetEntity(self, request: pb.GetEntityRequest, context: grpc.ServicerContext) -> pb.GetEntityResponse:
        return self._engine.get_entity(request)

    @_unary
    def QueryEntities(
        self, request: pb.QueryEntitiesRequest, context: grpc.ServicerContext
    ) -> pb.QueryEntitiesResponse:
        return self._engine.query_entities(request)

    @_unary
    def CleanEntityStorage(
        self, request: pb.CleanEntityStorageRequest, context: grpc.ServicerContext
    ) -> pb.CleanEntityStorageResponse:
        return self._engine.clean_entity_storage(request)

    # ------------------------------------------------------------------ worker RPCs

    @_streaming
    def GetWorkItems(self, request: pb.GetWorkItemsRequest, context: grpc.ServicerContext) -> Iterator[pb.WorkItem]:
        engine = self._engine
        connection = engine.connect(request, _worker_tag(context))
        if not context.add_callback(lambda: engine.close(connection)):  # the call has already ended
            engine.close(connection)
        try:
            while True:
                item = engine.next_work_item(connection, self._ping_interval)
                if item is not None:
                    yield item
                elif engine.stopped:
                    raise EngineError(ErrorCode.UNAVAILABLE, "the fake sidecar is shutting down")
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
    def CompleteEntityTask(
        self, request: pb.EntityBatchResult, context: grpc.ServicerContext
    ) -> pb.CompleteTaskResponse:
        return self._engine.complete_entity(request)

    @_unary
    def AbandonTaskEntityWorkItem(
        self, request: pb.AbandonEntityTaskRequest, context: grpc.ServicerContext
    ) -> pb.AbandonEntityTaskResponse:
        return self._engine.abandon_entity(request)

    @_unary
    def AbandonTaskActivityWorkItem(
        self, request: pb.AbandonActivityTaskRequest, context: grpc.ServicerContext
    ) -> pb.AbandonActivityTaskResponse:
        return self._engine.abandon_activity(request)


def _worker_tag(context: grpc.ServicerContext) -> str:
    """The stream's ``x-durabletask-testing-worker`` metadata value, or "" (at most 200 characters are kept)."""
    for key, value in context.invocation_metadata() or ():
        if key == WORKER_TAG_METADATA_KEY and isinstance(value, str):
            return value[:200]
    return ""


# RPCs the fake answers with UNIMPLEMENTED, and why
NOT_IMPLEMENTED_RPCS = {
    "CreateTaskHub": "the fake has a single in-memory task hub",
    "DeleteTaskHub": "the fake has a single in-memory task hub; use reset()",
    "SkipGracefulOrchestrationTerminations": "not supported yet",
}


def _not_implemented(method: str, reason: str) -> Callable[[Any, Any, grpc.ServicerContext], Any]:
    def refuse(self: FakeSidecarServicer, request: Any, context: grpc.ServicerContext) -> Any:
        abort(context, grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented by the fake sidecar ({reason})")

    refuse.__name__ = method
    return refuse


for _method, _reason in NOT_IMPLEMENTED_RPCS.items():
    setattr(FakeSidecarServicer, _method, _not_implemented(_method, _reason))
