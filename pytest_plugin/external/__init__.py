"""Running the fixtures against a sidecar the plugin did not start (``--durabletask-sidecar``).

``standin.py``: :class:`ExternalSidecar`, what ``durable_sidecar`` yields there (its fake-only members skip the
test); ``client.py``: :class:`ExternalSidecarClient`, the one channel to that sidecar (control-API detection,
reading instances for the report, clean-up calls); ``cleanup.py``: terminating and purging a test's instances.
Only the stand-in is imported here: the client loads gRPC, so it is imported when first needed.
"""

from .standin import (
    NEEDS_CLOCK_REASON,
    NEEDS_FAULTS_REASON,
    NEEDS_INSPECTION_REASON,
    ExternalSidecar,
    skip_needing_clock,
    skip_needing_faults,
    skip_needing_inspection,
)

__all__ = [
    "NEEDS_CLOCK_REASON",
    "NEEDS_FAULTS_REASON",
    "NEEDS_INSPECTION_REASON",
    "ExternalSidecar",
    "skip_needing_clock",
    "skip_needing_faults",
    "skip_needing_inspection",
]
