"""The fake sidecar's pure engine (no gRPC): see :class:`Engine`."""

from ..views import InstanceSnapshot
from .core import DEFAULT_MAX_PAYLOAD_BYTES, DEFAULT_WORK_ITEM_LEASE, Engine
from .scheduling import Quiet, SchedulePolicy, result_task_id
from .state import TERMINAL_STATUSES, Connection, Instance, status_name
from .waiters import WaitTarget

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "DEFAULT_WORK_ITEM_LEASE",
    "Engine",
    "Connection",
    "Instance",
    "InstanceSnapshot",
    "Quiet",
    "SchedulePolicy",
    "TERMINAL_STATUSES",
    "WaitTarget",
    "result_task_id",
    "status_name",
]
