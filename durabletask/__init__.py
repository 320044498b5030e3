"""Durable Task SDK for Python: orchestrations, activities, a gRPC client and a gRPC worker.

Modules: :mod:`durabletask.task` (authoring API), :mod:`durabletask.client`, :mod:`durabletask.worker`.
``ConcurrencyOptions`` and ``VersioningOptions`` are also importable from the package (lazily).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from durabletask.worker import ConcurrencyOptions, VersioningOptions

__all__ = ["ConcurrencyOptions", "VersioningOptions"]

_LAZY_EXPORTS = {"ConcurrencyOptions": "durabletask.worker", "VersioningOptions": "durabletask.worker"}


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'durabletask' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
