"""Registry of orchestrator and activity functions known to a worker."""

from __future__ import annotations

import inspect
from typing import Any

from durabletask import task
from durabletask.internal.versioning import VersioningOptions
from durabletask.serialization import DEFAULT_DATA_CONVERTER, DataConverter


class OrchestratorNotRegisteredError(ValueError):
    """An orchestration names an orchestrator this worker does not know."""


class ActivityNotRegisteredError(ValueError):
    """An orchestration called an activity this worker does not know."""


class EntityNotRegisteredError(ValueError):
    """An entity operation names an entity this worker does not know."""


class Registry:
    """Name -> function maps for orchestrators and activities, plus the worker's versioning options, data
    converter and exception properties provider."""

    def __init__(self) -> None:
        self.orchestrators: dict[str, task.Orchestrator[Any, Any]] = {}
        self.activities: dict[str, task.Activity[Any, Any]] = {}
        self.entities: dict[str, task.Entity[Any, Any]] = {}
        self.versioning: VersioningOptions | None = None
        self.data_converter: DataConverter = DEFAULT_DATA_CONVERTER
        self.exception_properties_provider: Any = None

    def add_orchestrator(self, fn: task.Orchestrator[Any, Any], name: str | None = None) -> str:
        """Register an orchestrator under ``name`` (default: the function's name); returns the name.

        Orchestrators must be generator functions (or plain functions): ``async def`` ones are refused.
        """
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(f"Orchestrator '{getattr(fn, '__name__', fn)}' is an 'async def' function: orchestrator "
                            f"functions must be generator functions ('def' with 'yield'). Activities may be async.")
        return _add(self.orchestrators, "orchestrator", fn, name)

    def get_orchestrator(self, name: str) -> task.Orchestrator[Any, Any] | None:
        """The orchestrator registered as ``name``, or None."""
        return self.orchestrators.get(name)

    def add_activity(self, fn: task.Activity[Any, Any], name: str | None = None) -> str:
        """Register an activity under ``name`` (default: the function's name); returns the name."""
        return _add(self.activities, "activity", fn, name)

    def add_entity(self, fn: task.Entity[Any, Any], name: str | None = None) -> str:
        """Register an entity (function or DurableEntity subclass) under its lower-cased name."""
        if fn is None:
            raise ValueError("An entity function argument is required.")
        entity_name = (name if name is not None else task.get_entity_name(fn)).lower()
        _add_named(self.entities, "entity", entity_name, fn)
        return entity_name

    def get_activity(self, name: str) -> task.Activity[Any, Any] | None:
        """The activity registered as ``name``, or None."""
        return self.activities.get(name)


def _add(table: dict[str, Any], kind: str, fn: Any, name: str | None) -> str:
    if fn is None:
        raise ValueError(f"An {kind} function argument is required.")
    name = name if name is not None else task.get_name(fn)
    _add_named(table, kind, name, fn)
    return name


def _add_named(table: dict[str, Any], kind: str, name: str, fn: Any) -> None:
    if not name:
        raise ValueError(f"A non-empty {kind} name is required.")
    if name in table:
        raise ValueError(f"A '{name}' {kind} already exists.")
    table[name] = fn
