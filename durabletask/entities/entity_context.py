"""The context an entity operation runs with: its id, the operation, the entity's state, and the messages the
operation sends (signals to entities, orchestrations to start)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from durabletask.entities.entity_instance_id import EntityInstanceId
from durabletask.internal import helpers
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal.entity_state import EntityState

if TYPE_CHECKING:
    from durabletask.serialization import DataConverter


class EntityContext:
    """Given to function-based entities (and to :class:`DurableEntity` instances) for one operation."""

    def __init__(self, orchestration_id: str, operation: str, state: EntityState | Any, entity_id: EntityInstanceId,
                 data_converter: DataConverter):
        """``state``: the batch's :class:`EntityState`; any other value is taken as the initial state."""
        self._orchestration_id = orchestration_id
        self._operation = operation
        self._state = state if isinstance(state, EntityState) else EntityState(state, data_converter)
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
        return self._state.get_state(intended_type, default)

    def set_state(self, new_state: Any) -> None:
        """Replace the entity's state (None deletes it)."""
        self._state.set_state(new_state)

    def signal_entity(self, entity_instance_id: EntityInstanceId, operation: str, input: Any | None = None,
                      signal_time: datetime | None = None) -> None:
        """Signal another entity (sent if this operation succeeds; delivered at ``signal_time`` when given)."""
        self._state.add_operation_action(pb.OperationAction(sendSignal=pb.SendSignalAction(
            instanceId=str(entity_instance_id), name=operation,
            input=helpers.get_string_value(self._data_converter.serialize(input)),
            scheduledTime=helpers.new_timestamp(signal_time) if signal_time is not None else None)))

    def schedule_new_orchestration(self, orchestration_name: str, input: Any | None = None,
                                   instance_id: str | None = None) -> str:
        """Start an orchestration if this operation succeeds; returns its instance id (a new one by default)."""
        instance_id = instance_id or uuid.uuid4().hex
        self._state.add_operation_action(pb.OperationAction(startNewOrchestration=pb.StartNewOrchestrationAction(
            instanceId=instance_id, name=orchestration_name,
            input=helpers.get_string_value(self._data_converter.serialize(input)))))
        return instance_id
