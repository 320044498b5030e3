"""The adapter for Durable Task Scheduler apps: ``durabletask-azuremanaged``'s client and worker on the test's sidecar.

With a task hub configured (the ini option ``durabletask_taskhub``, ``--durabletask-taskhub``, or
``@pytest.mark.durabletask(taskhub=...)``), ``durable_worker`` hands out a :class:`SchedulerTestWorker`, which *is*
a ``DurableTaskSchedulerWorker`` and a :class:`~durabletask_pytest.sdk.worker.DurableTestWorker` (``start_with``,
stubs, the replay audit), and ``durable_client`` a :class:`SchedulerTestClient`, a ``DurableTaskSchedulerClient``
and a :class:`~durabletask_pytest.sdk.client.DurableTestClient`. Both are built as an app builds them for the
scheduler's emulator: ``host_address`` the sidecar's, ``taskhub`` the configured hub, ``secure_channel=False``,
``token_credential=None``; so they send the scheduler's ``taskhub``, ``workerid`` and ``x-user-agent`` headers,
which the test's fake checks against its hub (``durabletask_testing/shell/taskhub.py``).

The package is the published SDK (``durabletask`` 1.12.0) plus those headers, so everything else (prompt stops,
the replay audit through the published worker) is the published SDK's path. Importing this module without the
package raises :class:`AzureManagedMissing`, whose message says what to install.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .client import DurableTestClient
from .worker import DurableTestWorker

INSTALL_HINT = "pip install durabletask-azuremanaged"


class AzureManagedMissing(ImportError):
    """A task hub is configured, but ``durabletask-azuremanaged`` cannot be imported."""


try:
    from durabletask.azuremanaged.client import DurableTaskSchedulerClient
    from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker
except ImportError as error:
    raise AzureManagedMissing(
        f"a task hub is configured (durabletask_taskhub), so durable_worker and durable_client are the Durable Task "
        f"Scheduler's classes, but durabletask-azuremanaged cannot be imported ({error}); {INSTALL_HINT}, or remove "
        "the task hub to use the plain durabletask client and worker") from error


class SchedulerTestWorker(DurableTestWorker, DurableTaskSchedulerWorker):  # type: ignore[misc]  # untyped where mypy runs
    """A DurableTaskSchedulerWorker connected to the test's sidecar, with the DurableTestWorker conveniences.

    Its ``maximum_timer_interval`` is None, as the scheduler's worker sets it: each durable timer is created whole,
    however long (the scheduler keeps long timers), and the replay audit replays it so.
    """


class SchedulerTestClient(DurableTestClient, DurableTaskSchedulerClient):  # type: ignore[misc]  # untyped where mypy runs
    """A DurableTaskSchedulerClient connected to the test's sidecar that remembers which instances it scheduled."""


def scheduler_options(address: str, taskhub: str, interceptors: Sequence[Any]) -> dict[str, Any]:
    """The constructor arguments of both classes for a sidecar without TLS or credentials (the fake, the
    scheduler's emulator)."""
    return {"host_address": address, "taskhub": taskhub, "token_credential": None, "secure_channel": False,
            "interceptors": list(interceptors)}
