"""What the plugin's fixtures (durable_sidecar, durable_client, durable_worker ...) don't offer: a factory for
several workers on the test's sidecar, each with its own options (versioning, concurrency)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from durabletask import worker

WorkerFactory = Callable[..., worker.TaskHubGrpcWorker]


@pytest.fixture
def start_worker(durable_sidecar: Any) -> Iterator[WorkerFactory]:
    """Start a worker with the given orchestrators/activities (and optional versioning); stopped at teardown."""
    started: list[worker.TaskHubGrpcWorker] = []

    def factory(orchestrators: Iterable[Any] = (), activities: Iterable[Any] = (),
                versioning: worker.VersioningOptions | None = None, **kwargs: Any) -> worker.TaskHubGrpcWorker:
        w = worker.TaskHubGrpcWorker(host_address=durable_sidecar.address, **kwargs)
        for fn in orchestrators:
            w.add_orchestrator(fn)
        for fn in activities:
            w.add_activity(fn)
        if versioning is not None:
            w.use_versioning(versioning)
        w.start()
        started.append(w)
        return w

    yield factory
    for w in started:
        w.stop()
