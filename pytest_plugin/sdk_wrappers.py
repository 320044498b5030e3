"""The SDK worker and client as the fixtures hand them out: the real classes plus small test conveniences.

``DurableTestWorker`` *is* a ``TaskHubGrpcWorker`` (every SDK method works unchanged); it adds
``start_with(...)`` to register functions and start in one call.
``DurableTestClient`` *is* a ``TaskHubGrpcClient``; it remembers the instance ids it scheduled so the
failure report can describe them when the sidecar is external.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from durabletask import client as dt_client
from durabletask import worker as dt_worker


class DurableTestWorker(dt_worker.TaskHubGrpcWorker):
    """A TaskHubGrpcWorker connected to the test's sidecar, stopped automatically at teardown."""

    def register(
        self,
        orchestrators: Iterable[Callable[..., Any]] = (),
        activities: Iterable[Callable[..., Any]] = (),
    ) -> DurableTestWorker:
        """Register orchestrator and activity functions under their function names; returns the worker."""
        for orchestrator in _as_functions(orchestrators, "orchestrators"):
            self.add_orchestrator(orchestrator)
        for activity in _as_functions(activities, "activities"):
            self.add_activity(activity)
        return self

    def start_with(
        self,
        orchestrators: Iterable[Callable[..., Any]] = (),
        activities: Iterable[Callable[..., Any]] = (),
    ) -> DurableTestWorker:
        """Register the given functions and start the worker; returns the worker."""
        self.register(orchestrators=orchestrators, activities=activities)
        self.start()
        return self

    def start(self) -> None:
        """Start the worker (the SDK's method)."""
        super().start()
        self.__dict__["_durable_running"] = True

    def stop(self) -> None:
        """Stop the worker (the SDK's method); a no-op if it is not running."""
        super().stop()
        self.__dict__["_durable_running"] = False

    @property
    def is_running(self) -> bool:
        """True between ``start()`` and ``stop()`` (tracked here, so it reads the same with every SDK)."""
        return bool(self.__dict__.get("_durable_running", False))


class DurableTestClient(dt_client.TaskHubGrpcClient):
    """A TaskHubGrpcClient connected to the test's sidecar that remembers which instances it scheduled."""

    @property
    def scheduled_instance_ids(self) -> list[str]:
        """Instance ids returned by schedule_new_orchestration during this test, in order."""
        return list(self.__dict__.setdefault("_durable_scheduled_ids", []))

    def schedule_new_orchestration(self, *args: Any, **kwargs: Any) -> str:
        """Schedule an orchestration (the SDK's method) and remember its instance id."""
        instance_id = super().schedule_new_orchestration(*args, **kwargs)
        self.__dict__.setdefault("_durable_scheduled_ids", []).append(instance_id)
        return instance_id


def _as_functions(functions: Iterable[Callable[..., Any]], what: str) -> list[Callable[..., Any]]:
    if callable(functions):
        return [functions]
    items = list(functions)
    for item in items:
        if not callable(item):
            raise TypeError(f"{what} must be functions; got {item!r} ({type(item).__name__})")
    return items
