"""Registry of orchestrator and activity functions known to a worker."""

from __future__ import annotations

from typing import Any

from durabletask import task
from durabletask.internal.versioning import VersioningOptions


class OrchestratorNotRegisteredError(ValueError):
    """An orchestration names an orchestrator this worker does not know."""


class ActivityNotRegisteredError(ValueError):
    """An orchestration called an activity this worker does not know."""


class Registry:
    """Name -> function maps for orchestrators and activities, plus the worker's versioning options."""

    def __init__(self) -> None:
        self.orchestrators: dict[str, task.Orchestrator[Any, Any]] = {}
        self.activities: dict[str, task.Activity[Any, Any]] = {}
        self.versioning: VersioningOptions | None = None

    def add_orchestrator(self, fn: task.Orchestrator[Any, Any], name: str | None = None) -> str:
        """Register an orchestrator under ``name`` (default: the function's name); returns the name."""
        if fn is None:
            raise ValueError("An orchestrator function argument is required.")
        name = name if name is not None else task.get_name(fn)
        self.add_named_orchestrator(name, fn)
        return name

    def add_named_orchestrator(self, name: str, fn: task.Orchestrator[Any, Any]) -> None:
        """Register an orchestrator under an explicit name."""
        if not name:
            raise ValueError("A non-empty orchestrator name is required.")
        if name in self.orchestrators:
            raise ValueError(f"A '{name}' orchestrator already exists.")
        self.orchestrators[name] = fn

    def get_orchestrator(self, name: str) -> task.Orchestrator[Any, Any] | None:
        """The orchestrator registered as ``name``, or None."""
        return self.orchestrators.get(name)

    def add_activity(self, fn: task.Activity[Any, Any], name: str | None = None) -> str:
        """Register an activity under ``name`` (default: the function's name); returns the name."""
        if fn is None:
            raise ValueError("An activity function argument is required.")
        name = name if name is not None else task.get_name(fn)
        self.add_named_activity(name, fn)
        return name

    def add_named_activity(self, name: str, fn: task.Activity[Any, Any]) -> None:
        """Register an activity under an explicit name."""
        if not name:
            raise ValueError("A non-empty activity name is required.")
        if name in self.activities:
            raise ValueError(f"A '{name}' activity already exists.")
        self.activities[name] = fn

    def get_activity(self, name: str) -> task.Activity[Any, Any] | None:
        """The activity registered as ``name``, or None."""
        return self.activities.get(name)
