"""Fake Durable Task sidecar: an in-memory TaskHubSidecarService with a virtual clock and failure injection.

Quick start::

    from datetime import timedelta
    from durabletask import client, worker
    from durabletask_testing import FakeSidecar

    with FakeSidecar(clock="manual") as sidecar:            # or "auto" / "real"
        w = worker.TaskHubGrpcWorker(host_address=sidecar.address)
        ...
        sidecar.wait_until_idle()                           # orchestrations now wait on timers/events
        sidecar.clock.advance(timedelta(hours=24))          # due timers fire before this returns
        sidecar.faults.fail_activity("charge", times=2)     # failure injection at engine decision points
        sidecar.instances(), sidecar.history(instance_id)   # read-only inspection

Standalone process for any SDK: ``python -m durabletask_testing serve --port 0 --clock auto``; drive it from
Python with ``RemoteFake(control_url)``.

One package per feature: ``engine/`` (the pure state machine), ``shell/`` (gRPC), ``control/`` (the HTTP/JSON
control API, server and client), ``replay/`` (replaying stored histories), ``exploration/`` (schedules),
``dialects/`` (Dapr's wire format), ``cli/``; beside them the shared kernel (clock, vocabulary, errors, faults,
views, timeline, protocol).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .clock import Clock
    from .control import RemoteFake, RemoteFakeError
    from .errors import EngineError, ErrorCode
    from .faults import FaultPlan, FaultRecord
    from .replay import Replayer
    from .sidecar import FakeSidecar
    from .views import EntitySnapshot, InstanceSnapshot, OperationRecord

# Loaded on first use (PEP 562), so that importing a light submodule such as durabletask_testing.timeline does
# not import gRPC and the engine.
_EXPORTS = {
    "Clock": ".clock",
    "EngineError": ".errors",
    "EntitySnapshot": ".views",
    "ErrorCode": ".errors",
    "FakeSidecar": ".sidecar",
    "FaultPlan": ".faults",
    "FaultRecord": ".faults",
    "InstanceSnapshot": ".views",
    "OperationRecord": ".views",
    "RemoteFake": ".control",
    "RemoteFakeError": ".control",
    "Replayer": ".replay",
}


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'durabletask_testing' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module_name, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Clock",
    "EngineError",
    "EntitySnapshot",
    "ErrorCode",
    "FakeSidecar",
    "FaultPlan",
    "FaultRecord",
    "InstanceSnapshot",
    "OperationRecord",
    "RemoteFake",
    "RemoteFakeError",
    "Replayer",
]
