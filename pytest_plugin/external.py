"""Stand-in for the fake sidecar when tests run against an external sidecar (``--durabletask-sidecar``)."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

NEEDS_CLOCK_REASON = (
    "needs the fake sidecar's virtual clock (durable_clock / freeze_time), "
    "which an external sidecar given with --durabletask-sidecar does not offer"
)
NEEDS_FAULTS_REASON = (
    "needs the fake sidecar's fault injection (durable_faults), "
    "which an external sidecar given with --durabletask-sidecar does not offer"
)
NEEDS_INSPECTION_REASON = (
    "needs the fake sidecar's state inspection (instances()/history()/reset()), "
    "which an external sidecar given with --durabletask-sidecar does not offer"
)


def skip_needing_clock() -> NoReturn:
    """Skip the current test because it needs the virtual clock."""
    pytest.skip(NEEDS_CLOCK_REASON)


def skip_needing_faults() -> NoReturn:
    """Skip the current test because it needs fault injection."""
    pytest.skip(NEEDS_FAULTS_REASON)


class ExternalSidecar:
    """What ``durable_sidecar`` yields with ``--durabletask-sidecar``: an address and nothing fake.

    Touching the fake-only surface (``clock``, ``faults``, ``instances()``, ``history()``, ``reset()``)
    skips the test with a reason saying what it needs, so one test file runs on both backends.
    """

    def __init__(self, address: str) -> None:
        self.address = address

    def __repr__(self) -> str:
        return f"ExternalSidecar(address={self.address!r})"

    @property
    def clock(self) -> NoReturn:
        skip_needing_clock()

    @property
    def faults(self) -> NoReturn:
        skip_needing_faults()

    def instances(self) -> NoReturn:
        pytest.skip(NEEDS_INSPECTION_REASON)

    def history(self, instance_id: str) -> NoReturn:
        pytest.skip(NEEDS_INSPECTION_REASON)

    def reset(self) -> NoReturn:
        pytest.skip(NEEDS_INSPECTION_REASON)

    def start(self) -> ExternalSidecar:
        """Nothing to start: the external sidecar is managed outside the test run."""
        return self

    def stop(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to stop: the external sidecar outlives the test run."""
