"""Read-only views of the engine's records: protocol OrchestrationState/EntityMetadata messages, and the
snapshots of :mod:`durabletask_testing.views`."""

from __future__ import annotations

from dataclasses import fields

from durabletask_testing.protocol import orchestrator_service_pb2 as pb

from ..views import EntitySnapshot, InstanceSnapshot
from ..vocabulary import timestamp, to_datetime
from .entities import Entity
from .state import Instance


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


def entity_snapshot(entity: Entity) -> EntitySnapshot:
    """Freeze an entity."""
    return EntitySnapshot(
        entity.entity_id,
        entity.name,
        entity.key,
        entity.state,
        entity.last_modified,
        entity.queued,
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
        backlogQueueSize=entity.queued,
    )
    if entity.locked_by is not None:
        metadata.lockedBy.value = entity.lock_owner or entity.locked_by
    if include_state and entity.state is not None:
        metadata.serializedState.value = entity.state
    return metadata
