"""Creating gRPC channels for the client and the worker (address schemes, TLS, metadata)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import grpc.aio

DEFAULT_HOST_ADDRESS = "localhost:4001"
_SECURE_PREFIXES = ("https://", "grpcs://")
_INSECURE_PREFIXES = ("http://", "grpc://")

# gRPC's defaults back off reconnects up to 120 s and share sub-channels between channels, so one failed
# connection attempt could stall an unrelated client or a worker for a long time after the sidecar came up.
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
]


def get_default_host_address() -> str:
    """The sidecar address used when none is given (the published SDK's default)."""
    return DEFAULT_HOST_ADDRESS


class _ClientCallDetails(grpc.ClientCallDetails):  # type: ignore[misc]
    def __init__(self, method: str, timeout: float | None, metadata: Any, credentials: Any,
                 wait_for_ready: bool | None, compression: Any) -> None:
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression


class MetadataInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Adds fixed metadata (e.g. auth headers, task hub name) to every call."""

    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = list(metadata)

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = list(details.metadata or []) + self._metadata
        return _ClientCallDetails(details.method, details.timeout, metadata, details.credentials,
                                  getattr(details, "wait_for_ready", None), getattr(details, "compression", None))

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)


def channel_arguments(extra: Sequence[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    """This SDK's channel arguments, overridden (same key) or extended by ``extra``."""
    merged = dict(CHANNEL_OPTIONS)
    merged.update(dict(extra or []))
    return list(merged.items())


def _split_address(host_address: str | None, secure_channel: bool) -> tuple[str, bool]:
    address = host_address or DEFAULT_HOST_ADDRESS
    lowered = address.lower()
    for prefix in _SECURE_PREFIXES:
        if lowered.startswith(prefix):
            secure_channel, address = True, address[len(prefix):]
            break
    for prefix in _INSECURE_PREFIXES:
        if lowered.startswith(prefix):
            secure_channel, address = False, address[len(prefix):]
            break
    if not address:
        raise ValueError(f"Invalid sidecar address {host_address!r}: expected 'host:port'.")
    return address, secure_channel


def get_grpc_channel(host_address: str | None, secure_channel: bool = False,
                     metadata: Sequence[tuple[str, str]] | None = None,
                     interceptors: Sequence[Any] | None = None,
                     options: Sequence[tuple[str, Any]] | None = None) -> grpc.Channel:
    """A channel to ``host_address`` (default localhost:4001). ``https://``/``grpcs://`` force TLS,
    ``http://``/``grpc://`` force plaintext. ``options`` are extra gRPC channel arguments."""
    address, secure_channel = _split_address(host_address, secure_channel)
    arguments = channel_arguments(options)
    if secure_channel:
        channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(), options=arguments)
    else:
        channel = grpc.insecure_channel(address, options=arguments)
    all_interceptors = list(interceptors or [])
    if metadata:
        all_interceptors.append(MetadataInterceptor(metadata))
    if all_interceptors:
        channel = grpc.intercept_channel(channel, *all_interceptors)
    return channel


class _AsyncMetadataInterceptor(grpc.aio.UnaryUnaryClientInterceptor,  # type: ignore[misc]
                                grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
    """Adds fixed metadata to every asyncio call."""

    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = list(metadata)

    def _details(self, details: Any) -> Any:
        merged = list(details.metadata or []) + self._metadata
        return details._replace(metadata=grpc.aio.Metadata(*merged))

    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(self._details(client_call_details), request)

    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(self._details(client_call_details), request)


def get_async_grpc_channel(host_address: str | None, secure_channel: bool = False,
                           metadata: Sequence[tuple[str, str]] | None = None,
                           interceptors: Sequence[Any] | None = None,
                           options: Sequence[tuple[str, Any]] | None = None) -> grpc.aio.Channel:
    """An asyncio channel, with the same address rules as :func:`get_grpc_channel`; ``interceptors`` must be
    ``grpc.aio`` client interceptors."""
    address, secure_channel = _split_address(host_address, secure_channel)
    all_interceptors = list(interceptors or [])
    if metadata:
        all_interceptors.append(_AsyncMetadataInterceptor(metadata))
    arguments = channel_arguments(options)
    if secure_channel:
        return grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(), options=arguments,
                                       interceptors=all_interceptors or None)
    return grpc.aio.insecure_channel(address, options=arguments, interceptors=all_interceptors or None)
