"""What the plugin needs of "a sidecar it can drive": the fake, or a stand-in for an external sidecar.

``durabletask_testing.FakeSidecar`` satisfies it; so does :class:`~durabletask_pytest.external.ExternalSidecar`,
whose fake-only members skip the test instead of answering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from durabletask_testing import Clock, FaultPlan, InstanceSnapshot


class DrivableSidecar(Protocol):
    """The members of a sidecar the fixtures, the failure report and the clean-up use."""

    @property
    def address(self) -> str: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def faults(self) -> FaultPlan: ...

    def instances(self) -> Sequence[InstanceSnapshot]: ...

    def instance(self, instance_id: str) -> InstanceSnapshot | None: ...

    def history(self, instance_id: str) -> Sequence[Any]: ...

    def wait_until_idle(self, timeout: float | None = ...) -> bool: ...
