"""Class-based entities: subclass :class:`DurableEntity`; each public method is an operation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from durabletask.entities.entity_context import EntityContext
from durabletask.entities.entity_instance_id import EntityInstanceId


class DurableEntity:
    """Base class of class-based entities; the helpers forward to the operation's :class:`EntityContext`."""

    entity_context: EntityContext

    def _initialize_entity_context(self, context: EntityContext) -> None:
        self.entity_context = context

    def get_state(self, intended_type: type | None = None, default: Any = None) -> Any:
        """The entity's state (see :meth:`EntityContext.get_state`)."""
        return self.entity_context.get_state(intended_type, default)

    def set_state(self, state: Any) -> None:
        """Replace the entity's state."""
        self.entity_context.set_state(state)

    def signal_entity(self, entity_instance_id: EntityInstanceId, operation: str, input: Any | None = None,
                      signal_time: datetime | None = None) -> None:
        """Signal another entity."""
        self.entity_context.signal_entity(entity_instance_id, operation, input, signal_time=signal_time)

    def schedule_new_orchestration(self, orchestration_name: str, input: Any | None = None,
                                   instance_id: str | None = None) -> str:
        """Start an orchestration; returns its instance id."""
        return self.entity_context.schedule_new_orchestration(orchestration_name, input, instance_id=instance_id)

    def delete(self, input: Any = None) -> None:
        """The built-in ``delete`` operation: clears the state."""
        self.set_state(None)
