"""Fixtures for SDK end-to-end tests: a fake sidecar over real gRPC, a client, and worker factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from durabletask import client, worker
from durabletask_testing import FakeSidecar


@pytest.fixture
def sidecar() -> Iterator[FakeSidecar]:
    """A fake sidecar on an ephemeral port with an auto-advancing virtual clock."""
    with FakeSidecar(clock="auto", port=0) as fake:
        yield fake


@pytest.fixture
def manual_sidecar() -> Iterator[FakeSidecar]:
    """A fake sidecar whose clock moves only when the test advances it."""
    with FakeSidecar(clock="manual", port=0) as fake:
        yield fake


@pytest.fixture
def dt_client(sidecar: Any) -> Iterator[client.TaskHubGrpcClient]:
    c = client.TaskHubGrpcClient(host_address=sidecar.address)
    yield c
    c.close()


WorkerFactory = Callable[..., worker.TaskHubGrpcWorker]


@pytest.fixture
def start_worker(sidecar: Any) -> Iterator[WorkerFactory]:
    """Start a worker with the given orchestrators/activities (and optional versioning); stopped at teardown."""
    started: list[worker.TaskHubGrpcWorker] = []

    def factory(orchestrators: list[Any] = (), activities: list[Any] = (),  # type: ignore[assignment]
                versioning: worker.VersioningOptions | None = None, **kwargs: Any) -> worker.TaskHubGrpcWorker:
        w = worker.TaskHubGrpcWorker(host_address=sidecar.address, **kwargs)
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

