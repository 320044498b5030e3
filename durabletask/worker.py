"""Worker API: register orchestrators, activities and entities and process their work items from a sidecar."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TypeVar

import grpc

from durabletask import task
from durabletask.entities import DurableEntity, EntityContext, EntityInstanceId, EntityLock
from durabletask.entities.entity_operation_failed_exception import EntityOperationFailedException
from durabletask.exception_properties import ExceptionPropertiesProvider
from durabletask.grpc_options import GrpcChannelOptions, GrpcWorkerResiliencyOptions
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal.grpc_channel import get_default_host_address, get_grpc_channel
from durabletask.internal.logs import make_logger
from durabletask.internal.registry import (
    ActivityNotRegisteredError,
    EntityNotRegisteredError,
    OrchestratorNotRegisteredError,
    Registry,
)
from durabletask.internal.timers import DEFAULT_MAXIMUM_TIMER_INTERVAL
from durabletask.internal.versioning import VersionFailureStrategy, VersioningOptions, VersionMatchStrategy
from durabletask.internal.work_item_filters import (
    ActivityWorkItemFilter,
    EntityWorkItemFilter,
    OrchestrationWorkItemFilter,
    WorkItemFilters,
    filters_for,
    to_proto,
)
from durabletask.internal.worker_runtime import WorkerRuntime
from durabletask.payload.store import PayloadStore, refuse_payload_store
from durabletask.serialization import DEFAULT_DATA_CONVERTER, DataConverter, JsonDataConverter

__all__ = [
    "ActivityNotRegisteredError",
    "ActivityWorkItemFilter",
    "ConcurrencyOptions",
    "DATETIME_STRING_FORMAT",
    "DEFAULT_MAXIMUM_TIMER_INTERVAL",
    "DataConverter",
    "DurableEntity",
    "EntityContext",
    "EntityInstanceId",
    "EntityLock",
    "EntityNotRegisteredError",
    "EntityOperationFailedException",
    "EntityWorkItemFilter",
    "ExceptionPropertiesProvider",
    "ExecutionResults",
    "GrpcChannelOptions",
    "GrpcWorkerResiliencyOptions",
    "JsonDataConverter",
    "OrchestrationWorkItemFilter",
    "OrchestratorNotRegisteredError",
    "PayloadStore",
    "TaskHubGrpcWorker",
    "VersionFailureStrategy",
    "VersionMatchStrategy",
    "VersioningOptions",
    "WorkItemFilters",
]

DATETIME_STRING_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""Timestamp format used in ``new_uuid`` names (as in the published SDK)."""

_AUTO_FILTERS: Any = object()


class ExecutionResults:
    """The actions and custom status one orchestrator work item produced (the published SDK's holder)."""

    def __init__(self, actions: list[pb.OrchestratorAction], encoded_custom_status: str | None,
                 orchestration_trace_context: pb.TraceContext | None = None):
        self.actions = actions
        self.encoded_custom_status = encoded_custom_status
        self.orchestration_trace_context = orchestration_trace_context

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
    """Processes orchestrator, activity and entity work items from a Durable Task sidecar over gRPC.

    Register functions with :meth:`add_orchestrator` / :meth:`add_activity` / :meth:`add_entity`, then
    :meth:`start` (returns at once; the worker connects in the background and reconnects with backoff) and
    :meth:`stop`.
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
                 channel_options: GrpcChannelOptions | None = None,
                 resiliency_options: GrpcWorkerResiliencyOptions | None = None,
                 concurrency_options: ConcurrencyOptions | None = None,
                 maximum_timer_interval: timedelta | None = DEFAULT_MAXIMUM_TIMER_INTERVAL,
                 payload_store: PayloadStore | None = None,
                 data_converter: DataConverter | None = None,
                 exception_properties_provider: ExceptionPropertiesProvider | None = None,
                 emit_trace_spans: bool = True):
        """``data_converter`` (default: :data:`~durabletask.serialization.DEFAULT_DATA_CONVERTER`) encodes and
        decodes every payload; ``exception_properties_provider`` adds properties to failure details;
        ``channel_options`` become gRPC channel arguments. ``resiliency_options`` are validated but this
        worker reconnects with its own back-off; ``emit_trace_spans`` is accepted, no spans are emitted;
        ``payload_store`` is not supported (NotImplementedError when given)."""
        refuse_payload_store(payload_store)
        self._emit_trace_spans = emit_trace_spans
        self._registry = Registry()
        self._registry.data_converter = data_converter if data_converter is not None else DEFAULT_DATA_CONVERTER
        self._registry.exception_properties_provider = exception_properties_provider
        self._channel_options = channel_options
        self._resiliency_options = resiliency_options or GrpcWorkerResiliencyOptions()
        self._work_item_filters: WorkItemFilters | None = None
        self._auto_work_item_filters = False
        self._capabilities: set[int] = set()
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
    def emit_trace_spans(self) -> bool:
        """Whether trace spans were requested (this SDK emits none)."""
        return self._emit_trace_spans

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

    def add_entity(self, fn: task.Entity[Any, Any], name: str | None = None) -> str:
        """Register an entity (a function ``fn(ctx, input)`` or a :class:`DurableEntity` subclass whose methods
        are its operations) under ``name`` or its own name, lower-cased; returns that name."""
        self._ensure_not_running("Entities")
        return self._registry.add_entity(fn, name)

    def add_capability(self, capability: int) -> None:
        """Advertise a worker capability (``WORKER_CAPABILITY_*`` of the protocol) in ``GetWorkItems``."""
        if self._is_running:
            raise RuntimeError("Capabilities cannot be added while the worker is running.")
        self._capabilities.add(capability)

    def configure_scheduled_tasks(self) -> None:
        """Scheduled tasks (the published ``durabletask.scheduled`` package) are not supported by this SDK."""
        raise NotImplementedError("configure_scheduled_tasks: scheduled tasks (durabletask.scheduled) are not "
                                  "supported by this SDK yet; durable entities are.")

    def use_work_item_filters(self, filters: WorkItemFilters | None = _AUTO_FILTERS) -> None:
        """Ask the sidecar only for matching work items.

        Without an argument the filters are built at :meth:`start` from what is registered (with a STRICT
        version match, only the worker's version); a :class:`WorkItemFilters` is sent as given; None turns
        filtering off again (the default).
        """
        if self._is_running:
            raise RuntimeError("Work item filters cannot be changed while the worker is running.")
        if filters is _AUTO_FILTERS:
            self._auto_work_item_filters, self._work_item_filters = True, None
        elif filters is None:
            self._auto_work_item_filters, self._work_item_filters = False, None
        elif isinstance(filters, WorkItemFilters):
            self._auto_work_item_filters, self._work_item_filters = False, filters
        else:
            raise TypeError("filters must be a WorkItemFilters instance, None, or omitted.")

    def _effective_filters(self) -> WorkItemFilters | None:
        if self._auto_work_item_filters:
            registry = self._registry
            return filters_for(list(registry.orchestrators), list(registry.activities), list(registry.entities),
                               registry.versioning)
        return self._work_item_filters

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
            maximum_timer_interval=self._maximum_timer_interval,
            work_item_filters=None if (filters := self._effective_filters()) is None else to_proto(filters),
            capabilities=sorted(self._capabilities))
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
        options = self._channel_options.to_grpc_options() if self._channel_options is not None else None
        return get_grpc_channel(self._host_address, self._secure_channel, self._metadata, self._interceptors,
                                options)


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
