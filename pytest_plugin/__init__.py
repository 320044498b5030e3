"""pytest plugin for Durable Task workflow tests (import package ``durabletask_pytest``).

The fixtures (``durable_sidecar``, ``durable_client``, ``durable_worker``, ``durable_clock``,
``durable_faults``), the ``durabletask`` marker and the ``--durabletask-sidecar`` option are registered
by the ``pytest11`` entry point (:mod:`durabletask_pytest.plugin`). This package also offers ``wait_until``
and ``history_event_types`` for manual-clock tests that must let the worker catch up before moving time.
"""

from .external.standin import NEEDS_CLOCK_REASON, NEEDS_FAULTS_REASON, ExternalSidecar
from .fixtures.settings import DurableSettings, DurableSettingsError
from .fixtures.waiting import history_event_types, wait_until

__all__ = [
    "NEEDS_CLOCK_REASON",
    "NEEDS_FAULTS_REASON",
    "DurableSettings",
    "DurableSettingsError",
    "ExternalSidecar",
    "history_event_types",
    "wait_until",
]
