"""Errors raised by the fake sidecar's engine, carrying a gRPC-style status code.

The engine is pure (no gRPC imports); the servicer maps :class:`ErrorCode` names onto
``grpc.StatusCode`` members of the same name.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.Enum):
    """Status codes the engine can report (names equal ``grpc.StatusCode`` member names)."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    UNAVAILABLE = "UNAVAILABLE"
    CANCELLED = "CANCELLED"


class EngineError(Exception):
    """A refused request: ``code`` says what kind, ``message`` names the offending field or id."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


def invalid(message: str) -> EngineError:
    """Shorthand for an INVALID_ARGUMENT error."""
    return EngineError(ErrorCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> EngineError:
    """Shorthand for a NOT_FOUND error."""
    return EngineError(ErrorCode.NOT_FOUND, message)


def precondition(message: str) -> EngineError:
    """Shorthand for a FAILED_PRECONDITION error."""
    return EngineError(ErrorCode.FAILED_PRECONDITION, message)
