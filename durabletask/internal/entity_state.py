"""One entity's state while a batch of its operations runs: kept serialized, committed after each operation
that succeeds and rolled back (with the messages it sent) after one that fails."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from durabletask.internal import orchestrator_service_pb2 as pb

if TYPE_CHECKING:
    from durabletask.serialization import DataConverter


class EntityState:
    """The serialized state (None: no state) and the operation actions (signals, orchestration starts) of
    the operations run so far; only committed ones are sent back to the sidecar."""

    def __init__(self, start_state: Any, data_converter: DataConverter, *, is_serialized: bool = False) -> None:
        self._converter = data_converter
        initial = start_state if is_serialized or start_state is None else data_converter.serialize(start_state)
        self._current: str | None = initial
        self._committed: str | None = initial
        self._actions: list[pb.OperationAction] = []
        self._committed_actions = 0

    def get_state(self, intended_type: Any = None, default: Any = None) -> Any:
        """A fresh copy of the state (rebuilt as ``intended_type`` when given), or ``default`` when there is
        none; TypeError when the state cannot be rebuilt as a class ``intended_type``."""
        if self._current is None:
            return default
        value = self._converter.deserialize(self._current, intended_type)
        if isinstance(intended_type, type) and not isinstance(value, intended_type):
            raise TypeError(f"Could not convert state of type '{type(value).__name__}' to "
                            f"'{intended_type.__name__}'")
        return value

    def set_state(self, state: Any) -> None:
        """Replace the state (serialized now, so a value that cannot be serialized fails this operation)."""
        self._current = None if state is None else self._converter.serialize(state)

    def encode_state(self) -> str | None:
        """The serialized state to store (None deletes it)."""
        return self._current

    def add_operation_action(self, action: pb.OperationAction) -> None:
        """Record a message the running operation sends."""
        self._actions.append(action)

    def get_operation_actions(self) -> list[pb.OperationAction]:
        """The messages of the committed operations."""
        return self._actions[:self._committed_actions]

    def commit(self) -> None:
        """The operation succeeded: keep its state and messages."""
        self._committed = self._current
        self._committed_actions = len(self._actions)

    def rollback(self) -> None:
        """The operation failed: undo its state change and drop its messages."""
        self._current = self._committed
        del self._actions[self._committed_actions:]
