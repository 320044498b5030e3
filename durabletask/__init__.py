"""Durable Task SDK for Python: orchestrations, activities, a gRPC client and a gRPC worker.

Modules: :mod:`durabletask.task` (authoring API), :mod:`durabletask.client`, :mod:`durabletask.worker`,
:mod:`durabletask.history`, :mod:`durabletask.serialization`, :mod:`durabletask.entities`. The names below
are importable from the package itself and are resolved lazily (importing ``durabletask`` alone stays cheap).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from durabletask.exception_properties import ExceptionPropertiesProvider
    from durabletask.grpc_options import GrpcChannelOptions, GrpcRetryPolicyOptions
    from durabletask.payload.store import LargePayloadStorageOptions, PayloadStore
    from durabletask.worker import (
        ActivityWorkItemFilter,
        ConcurrencyOptions,
        EntityWorkItemFilter,
        OrchestrationWorkItemFilter,
        VersioningOptions,
        WorkItemFilters,
    )

__all__ = [
    "ActivityWorkItemFilter",
    "ConcurrencyOptions",
    "EntityWorkItemFilter",
    "ExceptionPropertiesProvider",
    "GrpcChannelOptions",
    "GrpcRetryPolicyOptions",
    "LargePayloadStorageOptions",
    "OrchestrationWorkItemFilter",
    "PayloadStore",
    "VersioningOptions",
    "WorkItemFilters",
]

PACKAGE_NAME = "durabletask"

_LAZY_EXPORTS = {
    "ActivityWorkItemFilter": "durabletask.worker",
    "ConcurrencyOptions": "durabletask.worker",
    "EntityWorkItemFilter": "durabletask.worker",
    "ExceptionPropertiesProvider": "durabletask.exception_properties",
    "GrpcChannelOptions": "durabletask.grpc_options",
    "GrpcRetryPolicyOptions": "durabletask.grpc_options",
    "LargePayloadStorageOptions": "durabletask.payload.store",
    "OrchestrationWorkItemFilter": "durabletask.worker",
    "PayloadStore": "durabletask.payload.store",
    "VersioningOptions": "durabletask.worker",
    "WorkItemFilters": "durabletask.worker",
}
_LAZY_SUBMODULES = frozenset({"entities", "grpc_options", "internal", "payload", "serialization", "task", "worker"})


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _LAZY_SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'durabletask' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _LAZY_SUBMODULES)
