"""Shared helpers for SDK end-to-end tests (waiting on conditions, never sleeping blindly)."""

from __future__ import annotations

import time
from collections.abc import Callable

from durabletask import client


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.005) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def wait_status(dt_client: client.TaskHubGrpcClient, instance_id: str, status: client.OrchestrationStatus,
                timeout: float = 5.0) -> None:
    """Wait until the instance reports ``status``."""
    def check() -> bool:
        state = dt_client.get_orchestration_state(instance_id)
        return state is not None and state.runtime_status == status
    wait_until(check, timeout)
