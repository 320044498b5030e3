"""The optional API token: where the CLI reads it from, and the interceptor that requires it on every call.

The token is compared in constant time (``hmac.compare_digest``). On the command line a token is visible to
every local user (``ps``), so the CLI also reads it from the environment variable :data:`TOKEN_ENV_VAR` or
from a file (``--api-token-file``).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from ..messages import bounded

TOKEN_ENV_VAR = "DURABLETASK_TESTING_API_TOKEN"


class TokenError(ValueError):
    """The token's source is ambiguous, unreadable, or the token is empty or not sendable as metadata."""


def check_token(token: str) -> str:
    """``token`` when it can travel as gRPC metadata (printable ASCII); raises TokenError if not."""
    if not token:
        raise TokenError("the API token must not be empty")
    if not all(" " <= char <= "~" for char in token):
        raise TokenError("the API token must be printable ASCII (it travels as gRPC metadata)")
    return token


def resolve_token(option: str | None, file: str | None, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The token from ``--api-token``, ``--api-token-file`` or :data:`TOKEN_ENV_VAR` (one source at most),
    and a warning to show when the file is readable by other users. (None, None) when no source is given."""
    if option is not None and file is not None:
        raise TokenError("give the API token either with --api-token or with --api-token-file, not both")
    if option is not None:
        return check_token(option), None
    if file is not None:
        return _read_token_file(Path(file))
    from_env = environ.get(TOKEN_ENV_VAR)
    if from_env is None:
        return None, None
    if not from_env.strip():
        raise TokenError(f"{TOKEN_ENV_VAR} is set but empty")
    return check_token(from_env.strip()), None


def _read_token_file(path: Path) -> tuple[str, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as error:
        raise TokenError(f"cannot read the API token file {str(path)!r}: {error}") from None
    token = text.strip()
    if not token:
        raise TokenError(f"the API token file {str(path)!r} is empty")
    warning = None
    if os.name == "posix" and mode & (stat.S_IRGRP | stat.S_IROTH):
        warning = f"the API token file {str(path)!r} is readable by other users (chmod 600 it)"
    return check_token(token), warning


def bearer_matches(authorization: str | None, expected: bytes) -> bool:
    """True when ``authorization`` is ``Bearer <expected token>``; the scheme in any case (RFC 7235), the token
    compared in constant time. Used by the gRPC interceptor and the control API alike."""
    if not isinstance(authorization, str):
        return False
    scheme, _, credentials = authorization.partition(" ")
    # compare_digest takes as long whatever the first differing byte: the token cannot be guessed by timing
    matches = hmac.compare_digest(credentials.strip().encode("utf-8", "surrogateescape"), expected)
    return matches and scheme.lower() == "bearer"


def is_loopback(host: str) -> bool:
    """True when ``host`` (a name or an address, IPv6 with or without brackets) is reachable only from this
    machine: ``localhost`` or a loopback address. A wildcard (``0.0.0.0``, ``::``, empty) is not."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except (OSError, UnicodeError):
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%", 1)[0]).is_loopback for a in addresses)


class ApiTokenInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Refuses, with UNAUTHENTICATED, every call without ``authorization: Bearer <token>`` metadata."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("api_token must not be empty")
        self._expected = token.encode("utf-8")

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        metadata = dict(handler_call_details.invocation_metadata or ())
        authorization = metadata.get("authorization")
        if bearer_matches(authorization, self._expected):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        message = (
            "the authorization metadata does not carry the fake sidecar's API token"
            if authorization is not None
            else "missing 'authorization: Bearer <token>' metadata: this fake sidecar requires an API token"
        )
        return refusal(handler, grpc.StatusCode.UNAUTHENTICATED, message)


def refusal(handler: Any, code: grpc.StatusCode, message: str) -> Any:
    """A handler of the same shape as ``handler`` (unary or server-streaming) that ends every call with ``code``
    and ``message``: how a server interceptor refuses a call before the servicer sees it."""

    def deny(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(code, bounded(message))

    if handler.unary_stream is not None:
        make_handler = grpc.unary_stream_rpc_method_handler
    else:
        make_handler = grpc.unary_unary_rpc_method_handler
    return make_handler(
        deny,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
