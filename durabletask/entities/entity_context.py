"""The context an entity operation runs with: its id, the operation, and the entity's state."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from durabletask.entities.entity_instance_id import EntityInstanceId
from durabletask.entities.support import entities_not_supported

if TYPE_CHECKING:
    from durabletask.serialization import DataConverter


class EntityContext:
    """State access is pure; starting orchestrations or signalling entities needs entity support."""

    def __init__(self, orchestration_id: str, operation: str, state: Any, entity_id: EntityInstanceId,
                 data_converter: DataConverter):
        self._orchestration_id = orchestration_id
        self._operation = operation
        self._state = state
        self._entity_id = entity_id
        self._data_converter = data_converter

    @property
    def orchestration_id(self) -> str:
        """The id of the entity's instance (``@name@key``)."""
        return self._orchestration_id

    @property
    def operation(self) -> str:
        """The name of the operation being run."""
        return self._operation

    @property
    def entity_id(self) -> EntityInstanceId:
        """The entity's id."""
        return self._entity_id

    def get_state(self, intended_type: type | None = None, default: Any = None) -> Any:
        """The entity's state (rebuilt as ``intended_type`` when given), or ``default`` when there is none."""
        if self._state is None:
            return default
        return self._data_converter.coerce(self._state, intended_type)

    def set_state(self, new_state: Any) -> None:
        """Replace the entity's state (None deletes it)."""
        self._state = new_state

    def signal_entity(self, entity_instance_id: EntityInstanceId, operation: str, input: Any | None = None,
                      signal_time: datetime | None = None) -> None:
        """Signal another entity (not supported yet)."""
        raise entities_not_supported("EntityContext.signal_entity")

    def schedule_new_orchestration(self, orchestration_name: str, input: Any | None = None,
                                   instance_id: str | None = None) -> str:
        """Start an orchestration from an entity (not supported yet)."""
        raise entities_not_supported("EntityContext.schedule_new_orchestration")
