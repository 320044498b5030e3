"""The error an orchestration sees when an entity operation it called failed."""

from __future__ import annotations

from durabletask.entities.entity_instance_id import EntityInstanceId
from durabletask.internal import orchestrator_service_pb2 as pb


class EntityOperationFailedException(Exception):
    """An operation on an entity failed; ``failure_details`` is the protocol's failure description."""

    def __init__(self, entity_instance_id: EntityInstanceId, operation_name: str,
                 failure_details: pb.TaskFailureDetails) -> None:
        super().__init__()
        self.entity_instance_id = entity_instance_id
        self.operation_name = operation_name
        self.failure_details = failure_details

    def __str__(self) -> str:
        return (f"Operation '{self.operation_name}' on entity '{self.entity_instance_id}' failed with error: "
                f"{self.failure_details.errorMessage}")
