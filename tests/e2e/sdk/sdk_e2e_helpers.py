"""Shared helpers for SDK end-to-end tests (waiting on conditions, never sleeping blindly)."""

from __future__ import annotations

from collections.abc import Callable

from durabletask_pytest import wait_until as _plugin_wait_until

from durabletask import client


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds (the plugin's helper)."""
    _plugin_wait_until(predicate, timeout=timeout)


def wait_status(dt_client: client.TaskHubGrpcClient, instance_id: str, status: client.OrchestrationStatus,
                timeout: float = 5.0) -> None:
    """Wait until the instance reports ``status``."""
    def check() -> bool:
        state = dt_client.get_orchestration_state(instance_id)
        return state is not None and state.runtime_status == status
    wait_until(check, timeout)
