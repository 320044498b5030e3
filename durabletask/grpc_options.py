"""Transport options for the gRPC channel of a client or worker (same names and defaults as the published SDK).

:class:`GrpcChannelOptions` becomes gRPC channel arguments (message sizes, keep-alive, transport retries).
The resiliency options are accepted and checked, but this SDK's worker reconnects with its own capped
back-off and its client relies on gRPC's own reconnection, so their thresholds are not consulted.

Every numeric field is checked when the object is made: a value that is not a finite number, or lies
outside the field's range, raises ``ValueError`` naming the class, the field and the value.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any


def _check_range(owner: object, name: str, *, minimum: float, inclusive: bool = True) -> None:
    """Refuse ``owner.name`` unless it is a finite number at (or, not inclusive, above) ``minimum``."""
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{type(owner).__name__}.{name} needs a finite number, not {value!r}")
    if value < minimum or (not inclusive and value == minimum):
        bound = f"at least {minimum:g}" if inclusive else f"above {minimum:g}"
        raise ValueError(f"{type(owner).__name__}.{name} must be {bound}, not {value!r}")


def _check_order(owner: object, low: str, high: str) -> None:
    """Refuse ``owner.high`` below ``owner.low``."""
    if getattr(owner, high) < getattr(owner, low):
        raise ValueError(f"{type(owner).__name__}: {high} ({getattr(owner, high)!r}) is below "
                         f"{low} ({getattr(owner, low)!r})")


def _service_config_duration(seconds: float) -> str:
    """Seconds as a service-config duration string (``"0.05s"``), nanosecond precision; zero is refused."""
    digits = f"{seconds:.9f}".rstrip("0")
    if digits.endswith("."):
        digits += "0"
    if float(digits) == 0:
        raise ValueError(f"a back-off of {seconds!r} s is shorter than a nanosecond, which gRPC reads as zero")
    return digits + "s"


@dataclass(slots=True, kw_only=True)
class GrpcRetryPolicyOptions:
    """Transport-level gRPC retries of failed calls (turned into a gRPC service config)."""

    max_attempts: int = 4
    initial_backoff_seconds: float = 0.05
    max_backoff_seconds: float = 0.25
    backoff_multiplier: float = 2.0
    retryable_status_codes: list[str] = field(default_factory=lambda: ["UNAVAILABLE"])

    def __post_init__(self) -> None:
        _check_range(self, "max_attempts", minimum=2)
        for name in ("initial_backoff_seconds", "max_backoff_seconds", "backoff_multiplier"):
            _check_range(self, name, minimum=0, inclusive=False)
        _check_order(self, "initial_backoff_seconds", "max_backoff_seconds")
        if not self.retryable_status_codes:
            raise ValueError("GrpcRetryPolicyOptions.retryable_status_codes names no status code to retry")
        _service_config_duration(self.initial_backoff_seconds)
        _service_config_duration(self.max_backoff_seconds)

    def to_service_config(self) -> dict[str, Any]:
        """The gRPC service config applying this retry policy to every method."""
        policy = {
            "maxAttempts": self.max_attempts,
            "initialBackoff": _service_config_duration(self.initial_backoff_seconds),
            "maxBackoff": _service_config_duration(self.max_backoff_seconds),
            "backoffMultiplier": self.backoff_multiplier,
            "retryableStatusCodes": self.retryable_status_codes,
        }
        return {"methodConfig": [{"name": [{}], "retryPolicy": policy}]}


# Each named setting of GrpcChannelOptions and the channel argument it becomes.
_CHANNEL_ARGUMENTS = (
    ("max_receive_message_length", "grpc.max_receive_message_length"),
    ("max_send_message_length", "grpc.max_send_message_length"),
    ("keepalive_time_ms", "grpc.keepalive_time_ms"),
    ("keepalive_timeout_ms", "grpc.keepalive_timeout_ms"),
    ("keepalive_permit_without_calls", "grpc.keepalive_permit_without_calls"),
)


@dataclass(slots=True, kw_only=True)
class GrpcChannelOptions:
    """gRPC channel settings; ``raw_options`` come first, then each named setting that is set."""

    max_receive_message_length: int | None = None
    max_send_message_length: int | None = None
    keepalive_time_ms: int | None = None
    keepalive_timeout_ms: int | None = None
    keepalive_permit_without_calls: bool | None = None
    retry_policy: GrpcRetryPolicyOptions | None = None
    raw_options: list[tuple[str, Any]] = field(default_factory=lambda: [])

    def to_grpc_options(self) -> list[tuple[str, Any]]:
        """The channel arguments (``("grpc.max_receive_message_length", n)`` ...)."""
        arguments = list(self.raw_options)
        for attribute, key in _CHANNEL_ARGUMENTS:
            value = getattr(self, attribute)
            if value is not None:
                arguments.append((key, int(value) if isinstance(value, bool) else value))
        if self.retry_policy is not None:
            arguments += [("grpc.enable_retries", 1),
                          ("grpc.service_config", json.dumps(self.retry_policy.to_service_config()))]
        return arguments


@dataclass(slots=True, kw_only=True)
class GrpcWorkerResiliencyOptions:
    """Worker connection resiliency settings (checked; see the module docstring)."""

    hello_timeout_seconds: float = 30.0
    silent_disconnect_timeout_seconds: float = 120.0
    channel_recreate_failure_threshold: int = 5
    reconnect_backoff_base_seconds: float = 1.0
    reconnect_backoff_cap_seconds: float = 30.0

    def __post_init__(self) -> None:
        for name in ("hello_timeout_seconds", "reconnect_backoff_base_seconds", "reconnect_backoff_cap_seconds"):
            _check_range(self, name, minimum=0, inclusive=False)
        _check_range(self, "silent_disconnect_timeout_seconds", minimum=0)
        _check_range(self, "channel_recreate_failure_threshold", minimum=0)
        _check_order(self, "reconnect_backoff_base_seconds", "reconnect_backoff_cap_seconds")


@dataclass(slots=True, kw_only=True)
class GrpcClientResiliencyOptions:
    """Client connection resiliency settings (checked; see the module docstring)."""

    channel_recreate_failure_threshold: int = 5
    min_recreate_interval_seconds: float = 30.0

    def __post_init__(self) -> None:
        _check_range(self, "channel_recreate_failure_threshold", minimum=0)
        _check_range(self, "min_recreate_interval_seconds", minimum=0)
