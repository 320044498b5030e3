"""Durable entities: the published SDK's names (entity ids, function and class-based entities, their
context, the lock an orchestration holds, metadata read from a sidecar). See docs/orchestrations.md,
"Durable entities"."""

from durabletask.entities.durable_entity import DurableEntity
from durabletask.entities.entity_context import EntityContext
from durabletask.entities.entity_instance_id import EntityInstanceId
from durabletask.entities.entity_lock import EntityLock
from durabletask.entities.entity_metadata import EntityMetadata
from durabletask.entities.entity_operation_failed_exception import EntityOperationFailedException

__all__ = ["DurableEntity", "EntityContext", "EntityInstanceId", "EntityLock", "EntityMetadata",
           "EntityOperationFailedException"]

PACKAGE_NAME = "durabletask.entities"
