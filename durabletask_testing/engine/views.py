"""Read-only views of instances: protocol OrchestrationState messages and Python snapshots."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..vocabulary import status_name, timestamp, to_datetime
from .entities import Entity, OperationRecord
from .state import Instance


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


def snapshot(instance: Instance) -> InstanceSnapshot:
    """Freeze an instance's metadata."""
    failure = None
    if instance.failure_details is not None:
        failure = pb.TaskFailureDetails()
        failure.CopyFrom(instance.failure_details)
    copied = {f.name: getattr(instance, f.name) for f in fields(InstanceSnapshot) if f.name != "failure_details"}
    return InstanceSnapshot(failure_details=failure, **copied)


def orchestration_state(instance: Instance, include_payloads: bool) -> pb.OrchestrationState:
    """The protocol view of an instance (inputs, outputs and custom status only when asked for)."""
    state = pb.OrchestrationState(
        instanceId=instance.instance_id,
        name=instance.name,
        orchestrationStatus=instance.status,  # type: ignore[arg-type]
        createdTimestamp=timestamp(instance.created_at),
        lastUpdatedTimestamp=timestamp(instance.last_updated_at),
        tags=instance.tags,
    )
    state.executionId.value = instance.execution_id
    if instance.version is not None:
        state.version.value = instance.version
    if instance.scheduled_start is not None:
        state.scheduledStartTimestamp.CopyFrom(timestamp(instance.scheduled_start))
    if instance.completed_at is not None:
        state.completedTimestamp.CopyFrom(timestamp(instance.completed_at))
    if instance.parent_instance_id is not None:
        state.parentInstanceId.value = instance.parent_instance_id
    if instance.failure_details is not None:
        state.failureDetails.CopyFrom(instance.failure_details)
    if include_payloads:
        if instance.input is not None:
            state.input.value = instance.input
        if instance.output is not None:
            state.output.value = instance.output
        if instance.custom_status is not None:
            state.customStatus.value = instance.custom_status
    return state


def matches_query(instance: Instance, query: pb.InstanceQuery) -> bool:
    """Does an instance satisfy the filters of an InstanceQuery?"""
    if query.runtimeStatus and instance.status not in query.runtimeStatus:
        return False
    if query.HasField("createdTimeFrom") and instance.created_at < to_datetime(
        query.createdTimeFrom, "createdTimeFrom"
    ):
        return False
    if query.HasField("createdTimeTo") and instance.created_at > to_datetime(query.createdTimeTo, "createdTimeTo"):
        return False
    if query.HasField("instanceIdPrefix") and not instance.instance_id.startswith(query.instanceIdPrefix.value):
        return False
    return True


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


def entity_snapshot(entity: Entity) -> EntitySnapshot:
    """Freeze an entity."""
    return EntitySnapshot(
        entity.entity_id,
        entity.name,
        entity.key,
        entity.state,
        entity.last_modified,
        len(entity.queue),
        entity.locked_by,
        entity.lock_owner,
        entity.in_flight is not None,
        tuple(entity.log),
    )


def entity_metadata(entity: Entity, include_state: bool) -> pb.EntityMetadata:
    """The protocol view of an entity."""
    metadata = pb.EntityMetadata(
        instanceId=entity.entity_id,
        lastModifiedTime=timestamp(entity.last_modified),
        backlogQueueSize=len(entity.queue),
    )
    if entity.locked_by is not None:
        metadata.lockedBy.value = entity.lock_owner or entity.locked_by
    if include_state and entity.state is not None:
        metadata.serializedState.value = entity.state
    return metadata
