"""What the plugin needs of "a sidecar it can drive": the fake, or a stand-in for an external sidecar.

``durabletask_testing.FakeSidecar`` satisfies it, and so does ``durabletask_testing.RemoteFake`` (a CLI
fake driven through its control API); so does :class:`~durabletask_pytest.external.ExternalSidecar`, whose
fake-only members skip the test instead of answering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from durabletask_testing import FaultRecord, InstanceSnapshot


class DrivableClock(Protocol):
    """A fake's clock: ``Clock`` in-process, ``RemoteClock`` for a CLI fake."""

    @property
    def mode(self) -> str: ...

    @property
    def is_virtual(self) -> bool: ...

    @property
    def start_time(self) -> datetime: ...

    def now(self) -> datetime: ...

    def advance(self, delta: timedelta | float | int) -> datetime: ...

    def advance_to(self, when: datetime) -> datetime: ...


class DrivableFaults(Protocol):
    """A fake's fault plan as the report reads it (the configuring methods are the FaultPlan's)."""

    @property
    def log(self) -> list[FaultRecord]: ...

    @property
    def seed(self) -> int | None: ...


class DrivableSidecar(Protocol):
    """The members of a sidecar the fixtures, the failure report and the clean-up use."""

    @property
    def address(self) -> str: ...

    @property
    def clock(self) -> DrivableClock: ...

    @property
    def faults(self) -> DrivableFaults: ...

    def instances(self) -> Sequence[InstanceSnapshot]: ...

    def instance(self, instance_id: str) -> InstanceSnapshot | None: ...

    def history(self, instance_id: str) -> Sequence[Any]: ...

    def entities(self) -> Sequence[Any]: ...

    def wait_until_idle(self, timeout: float | None = ...) -> bool: ...
