"""Set-up and tear-down of one test's durable environment, as plain context managers.

The fixtures are thin wrappers over these; the per-test-cycle benchmark uses them directly, so it measures
exactly what a test pays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import external
from .settings import DurableSettings

if TYPE_CHECKING:
    from .sdk_wrappers import DurableTestClient, DurableTestWorker


@contextmanager
def open_sidecar(settings: DurableSettings, api_token: str | None = None, schedule: Any = None) -> Iterator[Any]:
    """A started FakeSidecar configured by ``settings`` (with frozen time if asked), stopped on exit.

    ``schedule`` (a :class:`~durabletask_testing.exploration.ScheduleRunner`) decides its dispatch order.

    With an external address it yields an :class:`~durabletask_pytest.external.ExternalSidecar` instead
    (and skips the test if it asks for frozen time, which needs the virtual clock); with an external address
    and a control URL, a :class:`~durabletask_testing.RemoteFake` reset for this test.
    """
    if not settings.uses_fake and settings.control_url is None:
        if settings.freeze_time:
            external.skip_needing_clock()
        yield external.ExternalSidecar(settings.external_address or "")
        return

    if settings.control_url is not None:
        yield from _remote_fake(settings, api_token)
        return

    from durabletask_testing import FakeSidecar

    sidecar = FakeSidecar(clock=settings.clock, start_time=settings.start_time, dialect=settings.dialect,
                          schedule=schedule)
    sidecar.start()
    try:
        with _frozen_if_asked(settings, sidecar.clock):
            yield sidecar
    finally:
        sidecar.stop()


def _remote_fake(settings: DurableSettings, api_token: str | None) -> Iterator[Any]:
    """The CLI fake behind ``settings.control_url``, emptied and set to this test's clock."""
    from durabletask_testing.control import RemoteFake

    remote = RemoteFake(settings.control_url or "", api_token=api_token)
    remote.reset(clock=settings.clock, start_time=settings.start_time)
    with _frozen_if_asked(settings, remote.clock):
        yield remote


@contextmanager
def _frozen_if_asked(settings: DurableSettings, clock: Any) -> Iterator[None]:
    """With ``freeze_time``: wall-clock reads follow ``clock`` inside the block."""
    if not settings.freeze_time:
        yield
        return
    from .freezing import VirtualTimeFreezer

    freezer = VirtualTimeFreezer(clock)
    freezer.start()
    try:
        yield
    finally:
        freezer.stop()


@contextmanager
def open_client(address: str, metadata: Sequence[tuple[str, str]] = ()) -> Iterator[DurableTestClient]:
    """A DurableTestClient (a TaskHubGrpcClient) connected to ``address``, closed on exit."""
    from .channel import WaitForReadyInterceptor
    from .sdk_wrappers import DurableTestClient

    client = DurableTestClient(host_address=address, metadata=list(metadata) or None,
                               interceptors=[WaitForReadyInterceptor()])
    try:
        yield client
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()


@contextmanager
def open_worker(
    address: str, metadata: Sequence[tuple[str, str]] = (), now: Callable[[], datetime] | None = None
) -> Iterator[DurableTestWorker]:
    """A DurableTestWorker (a TaskHubGrpcWorker) connected to ``address``, stopped on exit if started.

    ``now`` (the fake's virtual clock) stamps the calls its stubs record.
    """
    from .channel import WaitForReadyInterceptor
    from .sdk_wrappers import DurableTestWorker

    worker = DurableTestWorker(host_address=address, metadata=list(metadata) or None,
                               interceptors=[WaitForReadyInterceptor()])
    if now is not None:
        worker._stub_table.set_clock(now)
    try:
        yield worker
    finally:
        worker.stop_for_teardown()
