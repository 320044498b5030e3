"""gRPC call options the plugin adds to the SDK's client and worker: wait for the channel to be ready.

Under load the first call on a new channel can fail at once with ``UNAVAILABLE`` (for example "tcp handshaker
shutdown") although the sidecar is up. With ``wait_for_ready`` a call waits for the connection instead, bounded
by its deadline; calls the SDK makes without a deadline get ``READY_BOUND_SECONDS`` (long polls and streams
keep having none, as the SDK asked).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import grpc

READY_BOUND_SECONDS = 30.0
# Calls that may rightly run without a deadline: the work-item stream, history streams and long polls.
_UNBOUNDED_METHODS = ("/GetWorkItems", "/StreamInstanceHistory", "/WaitForInstanceStart", "/WaitForInstanceCompletion")


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class WaitForReadyInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Sets ``wait_for_ready`` on every call (and a bounded deadline on short calls that have none)."""

    def _details(self, details: Any) -> _CallDetails:
        method = str(getattr(details, "method", ""))
        timeout = getattr(details, "timeout", None)
        if timeout is None and not method.endswith(_UNBOUNDED_METHODS):
            timeout = READY_BOUND_SECONDS
        return _CallDetails(method, timeout, getattr(details, "metadata", None),
                            getattr(details, "credentials", None), True, getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)
