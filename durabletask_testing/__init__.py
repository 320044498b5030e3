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

Standalone process for any SDK: ``python -m durabletask_testing serve --port 0 --clock auto``.
"""

from .clock import Clock
from .engine import InstanceSnapshot
from .errors import EngineError, ErrorCode
from .faults import FaultPlan, FaultRecord
from .sidecar import FakeSidecar

__all__ = [
    "Clock",
    "EngineError",
    "ErrorCode",
    "FakeSidecar",
    "FaultPlan",
    "FaultRecord",
    "InstanceSnapshot",
]
