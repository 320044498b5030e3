"""An in-process ``grpc.Channel`` to a FakeSidecar: the same servicer, no sockets, no gRPC threads.

Give it to the SDK (``TaskHubGrpcWorker(channel=...)``, ``TaskHubGrpcClient(channel=...)``) when the
worker and client live in the same process as the fake and raw speed matters more than exercising the
network stack. Every request and response still goes through protobuf serialization, statuses are raised
as ``grpc.RpcError`` with ``code()`` and ``details()``, deadlines bound long polls, and ``cancel()`` ends a
work-item stream — but it is not a real gRPC connection; use ``FakeSidecar.address`` for that.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from durabletask.internal import orchestrator_service_pb2_grpc as stubs

SERVICE_PREFIX = "/TaskHubSidecarService/"


class InProcessRpcError(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """A failed in-process call: ``code()`` and ``details()`` like a real gRPC error."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def initial_metadata(self) -> tuple:
        return ()

    def trailing_metadata(self) -> tuple:
        return ()

    def debug_error_string(self) -> str:
        return f"in-process call failed: {self._code.name}: {self._details}"

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class _Context:
    """The subset of ``grpc.ServicerContext`` the fake's servicer uses."""

    def __init__(self, metadata: Any, timeout: float | None) -> None:
        self._metadata = tuple(metadata or ())
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._callbacks: list[Callable[[], None]] = []
        self._active = True
        self._lock = threading.Lock()

    def invocation_metadata(self) -> tuple:
        return self._metadata

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(self._deadline - time.monotonic(), 0.0)

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise _Abort(code, details)

    def abort_with_status(self, status: Any) -> None:
        raise _Abort(status.code, status.details)

    def add_callback(self, callback: Callable[[], None]) -> bool:
        with self._lock:
            if self._active:
                self._callbacks.append(callback)
                return True
        return False

    def is_active(self) -> bool:
        return self._active

    def peer(self) -> str:
        return "in-process"

    def set_code(self, code: grpc.StatusCode) -> None:
        pass

    def set_details(self, details: str) -> None:
        pass

    def set_trailing_metadata(self, metadata: Any) -> None:
        pass

    def finish(self) -> None:
        """The call is over (done or cancelled): run the callbacks once."""
        with self._lock:
            if not self._active:
                return
            self._active = False
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


class _Registrar:
    """Collects the method handlers the generated ``add_..._to_server`` function registers."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        self.handlers.update(handlers)


class _Stream(Iterator[Any]):
    """A server stream consumed in the caller's thread; ``cancel()`` ends it from any thread."""

    def __init__(
        self, responses: Iterator[Any], context: _Context, serialize: Callable[[Any], bytes], deserialize: Any
    ) -> None:
        self._responses = responses
        self._context = context
        self._serialize = serialize
        self._deserialize = deserialize
        self._cancelled = False
        self._lock = threading.Lock()
        self._executing = False  # the generator is running in a consumer thread

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        with self._lock:
            if self._cancelled:
                raise InProcessRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled by application!")
            self._executing = True
        try:
            response = next(self._responses)
        except StopIteration:
            self._context.finish()
            if self._cancelled:
                raise InProcessRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled by application!") from None
            raise
        except _Abort as abort:
            self._context.finish()
            raise InProcessRpcError(abort.code, abort.details) from None
        finally:
            with self._lock:
                self._executing = False
                if self._cancelled:
                    self._close_responses()
        if self._cancelled:
            raise InProcessRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled by application!")
        return self._deserialize(self._serialize(response)) if self._deserialize else response

    def cancel(self) -> bool:
        with self._lock:
            self._cancelled = True
            idle = not self._executing
        self._context.finish()  # wakes a generator blocked in the engine
        if idle:
            with self._lock:
                if not self._executing:
                    self._close_responses()
        return True

    def _close_responses(self) -> None:
        """Run the server generator's cleanup (it hands back in-flight work) once nobody iterates it."""
        close = getattr(self._responses, "close", None)
        if close is not None:
            close()

    def is_active(self) -> bool:
        return self._context.is_active()

    def code(self) -> grpc.StatusCode | None:
        return grpc.StatusCode.CANCELLED if self._cancelled else None

    def details(self) -> str | None:
        return None

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return self._context.add_callback(callback)

    def close(self) -> None:
        self.cancel()


class InProcessChannel(grpc.Channel):
    """A channel whose calls run the fake's servicer directly in the calling thread."""

    def __init__(self, servicer: stubs.TaskHubSidecarServiceServicer, api_token: str | None = None) -> None:
        registrar = _Registrar()
        stubs.add_TaskHubSidecarServiceServicer_to_server(servicer, registrar)
        self._handlers = registrar.handlers
        self._servicer = servicer
        self._expected_auth = None if api_token is None else f"Bearer {api_token}"
        self._streams: weakref.WeakSet[_Stream] = weakref.WeakSet()
        self._closed = False

    # -- grpc.Channel -----------------------------------------------------------------------------

    def unary_unary(
        self, method: str, request_serializer: Any = None, response_deserializer: Any = None, **_: Any
    ) -> Callable[..., Any]:
        return _UnaryCallable(self, method, request_serializer, response_deserializer)

    def unary_stream(
        self, method: str, request_serializer: Any = None, response_deserializer: Any = None, **_: Any
    ) -> Callable[..., Any]:
        return _StreamCallable(self, method, request_serializer, response_deserializer)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the sidecar protocol has no client-streaming RPCs")

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the sidecar protocol has no bidirectional-streaming RPCs")

    def subscribe(self, callback: Callable[..., Any], try_to_connect: bool = False) -> None:
        callback(grpc.ChannelConnectivity.READY)

    def unsubscribe(self, callback: Callable[..., Any]) -> None:
        pass

    def close(self) -> None:
        self._closed = True
        for stream in list(self._streams):
            stream.cancel()

    def __enter__(self) -> InProcessChannel:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- calls ------------------------------------------------------------------------------------

    def _prepare(self, method: str, request: Any, serialize: Any, metadata: Any) -> tuple[Any, Any]:
        if self._closed:
            raise ValueError("Cannot invoke RPC on closed channel!")
        engine = getattr(self._servicer, "engine", None)
        if engine is not None and engine.stopped:
            raise InProcessRpcError(grpc.StatusCode.UNAVAILABLE, "the fake sidecar is stopped")
        handler = self._handlers.get(method.removeprefix(SERVICE_PREFIX))
        if handler is None:
            raise InProcessRpcError(grpc.StatusCode.UNIMPLEMENTED, f"Method not found: {method}")
        if self._expected_auth is not None and dict(metadata or ()).get("authorization") != self._expected_auth:
            raise InProcessRpcError(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or wrong 'authorization: Bearer <token>' metadata: this fake sidecar requires an API token",
            )
        server_request = handler.request_deserializer(serialize(request) if serialize else request)
        return handler, server_request

    def _call_unary(self, method: str, request: Any, serialize: Any, deserialize: Any, timeout: Any, metadata: Any):
        handler, server_request = self._prepare(method, request, serialize, metadata)
        context = _Context(metadata, timeout)
        try:
            response = handler.unary_unary(server_request, context)
        except _Abort as abort:
            raise InProcessRpcError(abort.code, abort.details) from None
        finally:
            context.finish()
        data = handler.response_serializer(response)
        return deserialize(data) if deserialize else data

    def _call_stream(self, method: str, request: Any, serialize: Any, deserialize: Any, timeout: Any, metadata: Any):
        handler, server_request = self._prepare(method, request, serialize, metadata)
        context = _Context(metadata, timeout)
        stream = _Stream(
            iter(handler.unary_stream(server_request, context)), context, handler.response_serializer, deserialize
        )
        self._streams.add(stream)
        return stream


class _UnaryCallable:
    def __init__(self, channel: InProcessChannel, method: str, serialize: Any, deserialize: Any) -> None:
        self._channel, self._method, self._serialize, self._deserialize = channel, method, serialize, deserialize

    def __call__(self, request: Any, timeout: float | None = None, metadata: Any = None, **_: Any) -> Any:
        return self._channel._call_unary(self._method, request, self._serialize, self._deserialize, timeout, metadata)

    def with_call(self, request: Any, timeout: float | None = None, metadata: Any = None, **_: Any) -> Any:
        return self(request, timeout, metadata), None


class _StreamCallable:
    def __init__(self, channel: InProcessChannel, method: str, serialize: Any, deserialize: Any) -> None:
        self._channel, self._method, self._serialize, self._deserialize = channel, method, serialize, deserialize

    def __call__(self, request: Any, timeout: float | None = None, metadata: Any = None, **_: Any) -> _Stream:
        return self._channel._call_stream(self._method, request, self._serialize, self._deserialize, timeout, metadata)
