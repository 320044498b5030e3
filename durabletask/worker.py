"""Worker API: register orchestrators and activities and process their work items from a sidecar."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TypeVar

import grpc

from durabletask import task
from durabletask.internal.grpc_channel import get_default_host_address, get_grpc_channel
from durabletask.internal.logs import make_logger
from durabletask.internal.registry import ActivityNotRegisteredError, OrchestratorNotRegisteredError, Registry
from durabletask.internal.timers import DEFAULT_MAXIMUM_TIMER_INTERVAL
from durabletask.internal.versioning import VersionFailureStrategy, VersioningOptions, VersionMatchStrategy
from durabletask.internal.worker_runtime import WorkerRuntime

__all__ = [
    "ActivityNotRegisteredError",
    "ConcurrencyOptions",
    "DEFAULT_MAXIMUM_TIMER_INTERVAL",
    "OrchestratorNotRegisteredError",
    "TaskHubGrpcWorker",
    "VersionFailureStrategy",
    "VersionMatchStrategy",
    "VersioningOptions",
]

TInput = TypeVar("TInput")
TOutput = TypeVar("TOutput")


class ConcurrencyOptions:
    """Limits on concurrently processed work items, and the size of the worker's thread pool."""

    def __init__(self,
                 maximum_concurrent_activity_work_items: int | None = None,
                 maximum_concurrent_orchestration_work_items: int | None = None,
                 maximum_concurrent_entity_work_items: int | None = None,
                 maximum_thread_pool_workers: int | None = None):
        """Defaults: 100 x processor count work items of each kind, processor count + 4 threads."""
        processors = os.cpu_count() or 1
        default_concurrency = 100 * processors
        self.maximum_concurrent_activity_work_items = _positive(
            maximum_concurrent_activity_work_items, default_concurrency, "maximum_concurrent_activity_work_items")
        self.maximum_concurrent_orchestration_work_items = _positive(
            maximum_concurrent_orchestration_work_items, default_concurrency,
            "maximum_concurrent_orchestration_work_items")
        self.maximum_concurrent_entity_work_items = _positive(
            maximum_concurrent_entity_work_items, default_concurrency, "maximum_concurrent_entity_work_items")
        self.maximum_thread_pool_workers = _positive(
            maximum_thread_pool_workers, processors + 4, "maximum_thread_pool_workers")


def _positive(value: int | None, default: int, name: str) -> int:
    if value is None:
        return default
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


class TaskHubGrpcWorker:
    """Processes orchestrator and activity work items from a Durable Task sidecar over gRPC.

    Register functions with :meth:`add_orchestrator` / :meth:`add_activity`, then :meth:`start` (returns at
    once; the worker connects in the background and reconnects with backoff) and :meth:`stop`.
    """

    def __init__(self, *,
                 host_address: str | None = None,
                 metadata: list[tuple[str, str]] | None = None,
                 log_handler: logging.Handler | None = None,
                 log_formatter: logging.Formatter | None = None,
                 logger: logging.Logger | None = None,
                 channel: grpc.Channel | None = None,
                 secure_channel: bool = False,
                 interceptors: Sequence[Any] | None = None,
                 concurrency_options: ConcurrencyOptions | None = None,
                 maximum_timer_interval: timedelta | None = DEFAULT_MAXIMUM_TIMER_INTERVAL,
                 emit_trace_spans: bool = True):
        """``emit_trace_spans`` is accepted for compatibility with the published package; this SDK emits no
        trace spans."""
        self._emit_trace_spans = emit_trace_spans
        self._registry = Registry()
        self._host_address = host_address if host_address else get_default_host_address()
        self._metadata = metadata
        self._secure_channel = secure_channel
        self._interceptors = interceptors
        self._channel = channel
        self._concurrency_options = concurrency_options if concurrency_options is not None else ConcurrencyOptions()
        self._maximum_timer_interval = maximum_timer_interval
        self._logger = make_logger("worker", log_handler, log_formatter, logger)
        self._runtime: WorkerRuntime | None = None
        self._is_running = False

    @property
    def concurrency_options(self) -> ConcurrencyOptions:
        """The worker's concurrency options."""
        return self._concurrency_options

    @property
    def maximum_timer_interval(self) -> timedelta | None:
        """Longest single durable timer; longer timers are split into chunks of this size."""
        return self._maximum_timer_interval

    @property
    def is_running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._is_running

    def __enter__(self) -> TaskHubGrpcWorker:
        return self

    def __exit__(self, *args: object) -> None:
        self.stop()

    def add_orchestrator(self, fn: task.Orchestrator[TInput, TOutput], *, name: str | None = None) -> str:
        """Register an orchestrator (under its function name unless ``name`` is given); returns the name."""
        self._ensure_not_running("Orchestrators")
        return self._registry.add_orchestrator(fn, name)

    def add_activity(self, fn: task.Activity[Any, Any], *, name: str | None = None) -> str:
        """Register an activity (under its function name unless ``name`` is given); returns the name."""
        self._ensure_not_running("Activities")
        return self._registry.add_activity(fn, name)

    def use_versioning(self, version: VersioningOptions) -> None:
        """Apply versioning options (worker version, default sub-orchestration version, strategies)."""
        if self._is_running:
            raise RuntimeError("Cannot set versioning options while the worker is running.")
        self._registry.versioning = version

    def _ensure_not_running(self, what: str) -> None:
        if self._is_running:
            raise RuntimeError(f"{what} cannot be added while the worker is running.")

    def start(self) -> None:
        """Start processing work items on background threads. Returns immediately."""
        if self._is_running:
            raise RuntimeError("The worker is already running.")
        options = self._concurrency_options
        self._runtime = WorkerRuntime(
            self._registry, self._make_channel, self._logger,
            max_orchestrations=options.maximum_concurrent_orchestration_work_items,
            max_activities=options.maximum_concurrent_activity_work_items,
            max_threads=options.maximum_thread_pool_workers,
            maximum_timer_interval=self._maximum_timer_interval)
        self._runtime.start()
        self._is_running = True

    def stop(self) -> None:
        """Stop processing: cancels the work-item stream and waits briefly for in-flight work."""
        if not self._is_running or self._runtime is None:
            return
        self._runtime.stop()
        self._is_running = False

    def _make_channel(self) -> grpc.Channel:
        if self._channel is not None:
            return _UnclosableChannel(self._channel)
        return get_grpc_channel(self._host_address, self._secure_channel, self._metadata, self._interceptors)


class _UnclosableChannel(grpc.Channel):  # type: ignore[misc]
    """Wraps a caller-owned channel so stopping the worker does not close it."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._inner = channel

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        self._inner.subscribe(callback, try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        self._inner.unsubscribe(callback)

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.unary_unary(*args, **kwargs)

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.unary_stream(*args, **kwargs)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.stream_unary(*args, **kwargs)

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.stream_stream(*args, **kwargs)

    def close(self) -> None:
        return None

    def __enter__(self) -> _UnclosableChannel:
        return self

    def __exit__(self, *args: object) -> None:
        return None
