"""Transport options for the gRPC channel of a client or worker (same names and defaults as the published SDK).

:class:`GrpcChannelOptions` becomes gRPC channel arguments (message sizes, keep-alive, transport retries);
the resiliency options are accepted and validated: this SDK's worker reconnects with its own capped back-off
and its client relies on gRPC's channel reconnection, so their thresholds are not consulted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


def _duration(seconds: float) -> str:
    """A gRPC service-config duration (``"0.05s"``); refuses values that round to zero."""
    text = f"{seconds:.9f}".rstrip("0")
    text = text + "0" if text.endswith(".") else text
    if float(text) == 0:
        raise ValueError(f"Duration {seconds!r} rounds to zero; use a larger value.")
    return f"{text}s"


@dataclass(slots=True, kw_only=True)
class GrpcRetryPolicyOptions:
    """Transport-level gRPC retries of failed calls (turned into a gRPC service config)."""

    max_attempts: int = 4
    initial_backoff_seconds: float = 0.05
    max_backoff_seconds: float = 0.25
    backoff_multiplier: float = 2.0
    retryable_status_codes: list[str] = field(default_factory=lambda: ["UNAVAILABLE"])

    def __post_init__(self) -> None:
        if self.max_attempts < 2:
            raise ValueError("max_attempts must be >= 2")
        if self.initial_backoff_seconds <= 0 or self.max_backoff_seconds <= 0:
            raise ValueError("initial_backoff_seconds and max_backoff_seconds must be > 0")
        if self.backoff_multiplier <= 0:
            raise ValueError("backoff_multiplier must be > 0")
        if self.max_backoff_seconds < self.initial_backoff_seconds:
            raise ValueError("max_backoff_seconds must be >= initial_backoff_seconds")
        if not self.retryable_status_codes:
            raise ValueError("retryable_status_codes cannot be empty")
        _duration(self.initial_backoff_seconds)
        _duration(self.max_backoff_seconds)

    def to_service_config(self) -> dict[str, Any]:
        """The gRPC service config applying this retry policy to every method."""
        return {"methodConfig": [{"name": [{}], "retryPolicy": {
            "maxAttempts": self.max_attempts,
            "initialBackoff": _duration(self.initial_backoff_seconds),
            "maxBackoff": _duration(self.max_backoff_seconds),
            "backoffMultiplier": self.backoff_multiplier,
            "retryableStatusCodes": self.retryable_status_codes,
        }}]}


@dataclass(slots=True, kw_only=True)
class GrpcChannelOptions:
    """gRPC channel settings; ``raw_options`` are passed through first, the named settings after them."""

    max_receive_message_length: int | None = None
    max_send_message_length: int | None = None
    keepalive_time_ms: int | None = None
    keepalive_timeout_ms: int | None = None
    keepalive_permit_without_calls: bool | None = None
    retry_policy: GrpcRetryPolicyOptions | None = None
    raw_options: list[tuple[str, Any]] = field(default_factory=lambda: [])

    def to_grpc_options(self) -> list[tuple[str, Any]]:
        """The channel arguments (``("grpc.max_receive_message_length", n)`` ...)."""
        options = list(self.raw_options)
        named: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", self.max_receive_message_length),
            ("grpc.max_send_message_length", self.max_send_message_length),
            ("grpc.keepalive_time_ms", self.keepalive_time_ms),
            ("grpc.keepalive_timeout_ms", self.keepalive_timeout_ms),
            ("grpc.keepalive_permit_without_calls",
             None if self.keepalive_permit_without_calls is None else int(self.keepalive_permit_without_calls)),
        ]
        options.extend((key, value) for key, value in named if value is not None)
        if self.retry_policy is not None:
            options.append(("grpc.enable_retries", 1))
            options.append(("grpc.service_config", json.dumps(self.retry_policy.to_service_config())))
        return options


@dataclass(slots=True, kw_only=True)
class GrpcWorkerResiliencyOptions:
    """Worker connection resiliency settings (validated; see the module docstring)."""

    hello_timeout_seconds: float = 30.0
    silent_disconnect_timeout_seconds: float = 120.0
    channel_recreate_failure_threshold: int = 5
    reconnect_backoff_base_seconds: float = 1.0
    reconnect_backoff_cap_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.hello_timeout_seconds <= 0:
            raise ValueError("hello_timeout_seconds must be > 0")
        if self.silent_disconnect_timeout_seconds < 0:
            raise ValueError("silent_disconnect_timeout_seconds must be >= 0")
        if self.channel_recreate_failure_threshold < 0:
            raise ValueError("channel_recreate_failure_threshold must be >= 0")
        if self.reconnect_backoff_base_seconds <= 0 or self.reconnect_backoff_cap_seconds <= 0:
            raise ValueError("reconnect back-off values must be > 0")
        if self.reconnect_backoff_cap_seconds < self.reconnect_backoff_base_seconds:
            raise ValueError("reconnect_backoff_cap_seconds must be >= reconnect_backoff_base_seconds")


@dataclass(slots=True, kw_only=True)
class GrpcClientResiliencyOptions:
    """Client connection resiliency settings (validated; see the module docstring)."""

    channel_recreate_failure_threshold: int = 5
    min_recreate_interval_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.channel_recreate_failure_threshold < 0:
            raise ValueError("channel_recreate_failure_threshold must be >= 0")
        if self.min_recreate_interval_seconds < 0:
            raise ValueError("min_recreate_interval_seconds must be >= 0")
