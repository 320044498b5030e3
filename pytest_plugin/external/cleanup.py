"""On an external sidecar, a test's instances are terminated and purged when the test ends.

A real sidecar outlives the test run, so an instance a test left running (it failed, was skipped, or just did
not wait) would hand its work to the next test's worker. At teardown the plugin terminates each instance the
test's ``durable_client`` scheduled (recursively, so sub-orchestrations too), waits briefly for it to end
while the test's worker can still process the termination, and purges it. Problems become a pytest warning,
never a test failure. The calls go through the :class:`~durabletask_pytest.external.client.ExternalSidecarClient`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable

import grpc

from .client import ExternalSidecarClient

# How long teardown may spend on one test's instances in all.
CLEANUP_BUDGET_SECONDS = 10.0


class ExternalCleanupWarning(UserWarning):
    """A test's instance could not be terminated or purged on the external sidecar."""


def clean_up_instances(
    client: ExternalSidecarClient,
    instance_ids: Iterable[str],
    budget_seconds: float = CLEANUP_BUDGET_SECONDS,
) -> list[str]:
    """Terminate (recursively) and purge each instance; returns the ids it could not purge, with the reason."""
    deadline = time.monotonic() + budget_seconds
    problems: list[str] = []
    for instance_id in dict.fromkeys(instance_ids):
        try:
            client.terminate_and_purge(instance_id, deadline)
        except grpc.RpcError as error:
            problems.append(f"{instance_id!r}: {error.code().name}: {error.details()}")
    return problems


def warn_about(problems: list[str], address: str) -> None:
    """Report instances that stayed behind on the external sidecar."""
    if problems:
        warnings.warn(
            ExternalCleanupWarning(
                f"durabletask: {len(problems)} instance(s) of this test could not be cleaned up on the external "
                f"sidecar at {address} and may reach later tests' workers: " + "; ".join(problems)
            ),
            stacklevel=2,
        )
