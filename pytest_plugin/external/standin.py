"""Stand-in for the fake sidecar when tests run against an external sidecar (``--durabletask-sidecar``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from .client import ExternalSidecarClient

NEEDS_CLOCK_REASON = (
    "needs the fake sidecar's virtual clock (durable_clock / freeze_time), "
    "which an external sidecar given with --durabletask-sidecar does not offer"
)
NEEDS_FAULTS_REASON = (
    "needs the fake sidecar's fault injection (durable_faults), "
    "which an external sidecar given with --durabletask-sidecar does not offer"
)
NEEDS_INSPECTION_REASON = (
    "needs the fake sidecar's state inspection (instances()/history()/wait_until_idle()/reset()), "
    "which an external sidecar given with --durabletask-sidecar does not offer"
)


def _skip_at_test(reason: str) -> NoReturn:
    """Skip the running test, reported at the test's own location rather than at this module."""
    raise pytest.skip.Exception(reason, _use_item_location=True)


def skip_needing_clock() -> NoReturn:
    """Skip the current test because it needs the virtual clock."""
    _skip_at_test(NEEDS_CLOCK_REASON)


def skip_needing_faults() -> NoReturn:
    """Skip the current test because it needs fault injection."""
    _skip_at_test(NEEDS_FAULTS_REASON)


def skip_needing_inspection() -> NoReturn:
    """Skip the current test because it needs to read the fake's state."""
    _skip_at_test(NEEDS_INSPECTION_REASON)


class ExternalSidecar:
    """What ``durable_sidecar`` yields with ``--durabletask-sidecar``: an address and nothing fake.

    Touching the fake-only surface (``clock``, ``faults``, ``instances()``, ``instance()``, ``history()``,
    ``wait_until_idle()``, ``reset()``)
    skips the test with a reason saying what it needs, so one test file runs on both backends. Its
    :attr:`client` (opened on first use, closed by :meth:`stop`) is the plugin's one channel to the sidecar.
    """

    def __init__(self, address: str, metadata: Sequence[tuple[str, str]] = ()) -> None:
        self.address = address
        self._metadata = list(metadata)
        self._client: ExternalSidecarClient | None = None

    @property
    def client(self) -> ExternalSidecarClient:
        """The plugin's client of this sidecar (the report and the clean-up use it)."""
        if self._client is None:
            from .client import ExternalSidecarClient

            self._client = ExternalSidecarClient(self.address, self._metadata)
        return self._client

    def __repr__(self) -> str:
        return f"ExternalSidecar(address={self.address!r})"

    @property
    def clock(self) -> NoReturn:
        skip_needing_clock()

    @property
    def faults(self) -> NoReturn:
        skip_needing_faults()

    def instances(self) -> NoReturn:
        _skip_at_test(NEEDS_INSPECTION_REASON)

    def instance(self, instance_id: str) -> NoReturn:
        _skip_at_test(NEEDS_INSPECTION_REASON)

    def history(self, instance_id: str) -> NoReturn:
        _skip_at_test(NEEDS_INSPECTION_REASON)

    def entities(self) -> NoReturn:
        _skip_at_test(NEEDS_INSPECTION_REASON)

    def wait_until_idle(self, timeout: float | None = None) -> NoReturn:
        _skip_at_test(NEEDS_INSPECTION_REASON)

    def reset(self) -> NoReturn:
        _skip_at_test(NEEDS_INSPECTION_REASON)

    def start(self) -> ExternalSidecar:
        """Nothing to start: the external sidecar is managed outside the test run."""
        return self

    def stop(self, *args: Any, **kwargs: Any) -> None:
        """Close the plugin's channel; the external sidecar itself outlives the test run."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
