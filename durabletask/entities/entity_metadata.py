"""What a sidecar reports about one entity (``TaskHubGrpcClient.get_entity`` / ``get_all_entities``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from durabletask.entities.entity_instance_id import EntityInstanceId
from durabletask.internal import orchestrator_service_pb2 as pb

if TYPE_CHECKING:
    from durabletask.serialization import DataConverter


class EntityMetadata:
    """An entity's id, last modification, backlog, lock owner and (when requested) serialized state."""

    def __init__(self, id: EntityInstanceId, last_modified: datetime, backlog_queue_size: int, locked_by: str,
                 includes_state: bool, state: Any | None, data_converter: DataConverter):
        self.id = id
        self.last_modified = last_modified
        self.backlog_queue_size = backlog_queue_size
        self._locked_by = locked_by
        self.includes_state = includes_state
        self._state = state
        self._data_converter = data_converter

    @staticmethod
    def from_entity_response(entity_response: pb.GetEntityResponse, includes_state: bool,
                             data_converter: DataConverter) -> EntityMetadata:
        """Metadata from a GetEntity response."""
        return EntityMetadata.from_entity_metadata(entity_response.entity, includes_state, data_converter)

    @staticmethod
    def from_entity_metadata(entity: pb.EntityMetadata, includes_state: bool,
                             data_converter: DataConverter) -> EntityMetadata:
        """Metadata from the protocol's EntityMetadata; ValueError for an id that is not ``@name@key``."""
        try:
            entity_id = EntityInstanceId.parse(entity.instanceId)
        except ValueError:
            raise ValueError("Invalid entity instance ID in entity response.") from None
        return EntityMetadata(
            id=entity_id,
            last_modified=entity.lastModifiedTime.ToDatetime(timezone.utc),
            backlog_queue_size=entity.backlogQueueSize,
            locked_by=entity.lockedBy.value,
            includes_state=includes_state,
            state=entity.serializedState.value if includes_state else None,
            data_converter=data_converter,
        )

    def get_state(self, intended_type: type | None = None) -> Any:
        """The raw serialized state; with ``intended_type``, ``intended_type(raw)`` (TypeError if that fails)."""
        if intended_type is None or self._state is None or isinstance(self._state, intended_type):
            return self._state
        try:
            return intended_type(self._state)
        except Exception as error:
            raise TypeError(f"Could not convert state of type '{type(self._state).__name__}' to "
                            f"'{intended_type.__name__}'") from error

    def get_typed_state(self, intended_type: type | None = None) -> Any:
        """The state deserialized by the data converter (rebuilt as ``intended_type`` when given)."""
        if self._state is None:
            return None
        return self._data_converter.deserialize(self._state, intended_type)

    def get_locked_by(self) -> EntityInstanceId | None:
        """The orchestration holding this entity's lock, as an entity-style id, or None."""
        if not self._locked_by:
            return None
        return EntityInstanceId.parse(self._locked_by)
