"""The fake sidecar's pure engine (no gRPC): see :class:`Engine`."""

from ..views import InstanceSnapshot
from .core import DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_WORK_ITEM_LEASE, Engine
from .state import TERMINAL_STATUSES, Connection, Instance, status_name

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "DEFAULT_WORK_ITEM_LEASE",
    "Engine",
    "Connection",
    "Instance",
    "InstanceSnapshot",
    "TERMINAL_STATUSES",
    "status_name",
]
