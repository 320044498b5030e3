"""The protocols the plugin's rooms talk through: a sidecar it can drive, and the workers and clients it manages.

``durabletask_testing.FakeSidecar`` is a :class:`DrivableSidecar`, and so are ``durabletask_testing.RemoteFake``
(a CLI fake driven through its control API) and :class:`~durabletask_pytest.external.ExternalSidecar`, whose
fake-only members skip the test instead of answering. :class:`ManagedWorker` is what the fixtures, the report and
the replay audit need of a worker a test was given (the SDK worker of ``durable_worker``, the Dapr runtime of
``dapr_workflow_runtime``); :class:`ManagedClient` what they need of a ``durable_client``;
:class:`ManagedFunctionsApp` what the replay audit needs of the app of ``durable_functions``. This module imports
nothing of the plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from durabletask_testing import FaultRecord, InstanceSnapshot

    from .sdk.stubs import StubTable


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


class ManagedWorker(Protocol):
    """A worker the plugin handed to a test and stops at its end."""

    @property
    def is_running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        ...

    def stop(self) -> None:
        """Stop taking work (a no-op when not running)."""
        ...

    @property
    def stub_table(self) -> StubTable | None:
        """The functions registered through the plugin, by name (None: the worker registers without one)."""
        ...

    def orchestrator_names(self) -> set[str]:
        """The orchestrator names registered through the plugin (what the replay audit may replay)."""
        ...

    @property
    def versioning(self) -> Any:
        """The versioning options the worker was given, or None."""
        ...

    @property
    def maximum_timer_interval(self) -> timedelta | None:
        """The longest timer the worker creates in one piece (longer ones are chunked), or None."""
        ...


class ManagedClient(Protocol):
    """A client the plugin handed to a test."""

    @property
    def scheduled_instance_ids(self) -> list[str]:
        """Instance ids it scheduled during the test, in order."""
        ...

    def set_timeout_hint(self, hint: Callable[[str], str | None]) -> None:
        """Use ``hint(instance_id)`` to explain a wait that timed out."""
        ...


class ManagedFunctionsApp(Protocol):
    """A Durable Functions app the plugin runs on a test's sidecar (``durable_functions``)."""

    def orchestrator_names(self) -> set[str]:
        """The app's orchestrator function names (what the replay audit may replay)."""
        ...

    def replay_history(self, instance_id: str, history: Sequence[Any], repeats: int) -> str | None:
        """Replay one recorded history through the Durable Functions SDK's own replay, ``repeats`` times: None
        when every episode asks for the recorded actions, else the first difference."""
        ...

    def orchestrator_functions(self) -> dict[str, Callable[..., Any]]:
        """The app's own orchestrator functions by name (behind the SDK's handles), for the hash-seed pass."""
        ...

    def import_spec(self) -> str | None:
        """``module:attribute`` by which another process imports the app, or None when none can."""
        ...
