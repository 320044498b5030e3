"""The values the inspection API returns: frozen snapshots of instances and entities.

``FakeSidecar.instances()``/``entities()`` and ``RemoteFake`` (from the control API's JSON) both return these.
They are copies: changing one changes nothing in the fake. The engine builds them from its records
(``engine/views.py``); nothing here imports the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .protocol import orchestrator_service_pb2 as pb
from .vocabulary import status_name


@dataclass(frozen=True)
class InstanceSnapshot:
    """An instance as the fake sees it at one moment (a copy; changing it changes nothing)."""

    instance_id: str
    name: str
    version: str | None
    status: int  # a pb.OrchestrationStatus value
    input: str | None
    output: str | None
    custom_status: str | None
    failure_details: pb.TaskFailureDetails | None
    created_at: datetime
    last_updated_at: datetime
    parent_instance_id: str | None
    execution_id: str = ""
    completed_at: datetime | None = None
    dispatch_count: int = 0  # orchestrator work items handed out so far (replays, re-dispatches included)

    @property
    def status_name(self) -> str:
        """The status without its prefix, e.g. ``"COMPLETED"``."""
        return status_name(self.status)


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """One operation an entity ran (or that failed), as the inspection API shows it."""

    request_id: str
    operation: str
    caller: str | None  # the calling orchestration; None for a signal
    outcome: Literal["completed", "failed"]
    at: datetime
    error_type: str | None = None


@dataclass(frozen=True)
class EntitySnapshot:
    """An entity as the fake sees it at one moment (a copy)."""

    entity_id: str
    name: str
    key: str
    state: str | None  # the serialized state; None when the entity has none (it does not exist)
    last_modified: datetime
    queued: int  # operations and lock requests waiting
    locked_by: str | None  # critical section id holding the lock
    lock_owner: str | None  # the orchestration holding the lock
    in_flight: bool  # a batch is with a worker
    operations: tuple[OperationRecord, ...]  # the operations it ran, oldest first (the last few hundred)
