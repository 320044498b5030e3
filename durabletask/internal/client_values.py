"""The client's value types and the parts of its calls shared by the blocking and the asyncio client.

Public names are re-exported by :mod:`durabletask.client`, where users import them; both clients import
them from here, so neither client module imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import grpc

from durabletask import task
from durabletask.internal import client_requests as requests
from durabletask.internal import helpers
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.serialization import DEFAULT_DATA_CONVERTER, DataConverter

TItem = TypeVar("TItem")


class OrchestrationStatus(Enum):
    """The runtime status of an orchestration instance."""

    RUNNING = pb.ORCHESTRATION_STATUS_RUNNING
    COMPLETED = pb.ORCHESTRATION_STATUS_COMPLETED
    FAILED = pb.ORCHESTRATION_STATUS_FAILED
    TERMINATED = pb.ORCHESTRATION_STATUS_TERMINATED
    CONTINUED_AS_NEW = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
    PENDING = pb.ORCHESTRATION_STATUS_PENDING
    SUSPENDED = pb.ORCHESTRATION_STATUS_SUSPENDED

    def __str__(self) -> str:
        return helpers.get_orchestration_status_str(self.value)


class OrchestrationFailedError(Exception):
    """Raised by :meth:`OrchestrationState.raise_if_failed` for a failed orchestration."""

    def __init__(self, message: str, failure_details: task.FailureDetails):
        super().__init__(message)
        self._failure_details = failure_details

    @property
    def failure_details(self) -> task.FailureDetails:
        """Details of the orchestration's failure."""
        return self._failure_details


@dataclass
class OrchestrationState:
    """A snapshot of an orchestration instance."""

    instance_id: str
    name: str
    runtime_status: OrchestrationStatus
    created_at: datetime
    last_updated_at: datetime
    serialized_input: str | None
    serialized_output: str | None
    serialized_custom_status: str | None
    failure_details: task.FailureDetails | None
    _data_converter: DataConverter = field(default=DEFAULT_DATA_CONVERTER, repr=False, compare=False)
    version: str | None = field(default=None, compare=False)
    tags: dict[str, str] = field(default_factory=dict, compare=False)

    def get_input(self, expected_type: Any = None) -> Any:
        """The deserialized input (rebuilt as ``expected_type`` when given), or None."""
        return self._data_converter.deserialize(self.serialized_input, expected_type)

    def get_output(self, expected_type: Any = None) -> Any:
        """The deserialized output (rebuilt as ``expected_type`` when given), or None."""
        return self._data_converter.deserialize(self.serialized_output, expected_type)

    def get_custom_status(self, expected_type: Any = None) -> Any:
        """The deserialized custom status (rebuilt as ``expected_type`` when given), or None."""
        return self._data_converter.deserialize(self.serialized_custom_status, expected_type)

    def raise_if_failed(self) -> None:
        """Raise :class:`OrchestrationFailedError` if the orchestration failed."""
        if self.failure_details is not None:
            raise OrchestrationFailedError(
                f"Orchestration '{self.instance_id}' failed: {self.failure_details.message}", self.failure_details)


@dataclass
class OrchestrationQuery:
    """Filter for :meth:`TaskHubGrpcClient.get_all_orchestration_states`."""

    created_time_from: datetime | None = None
    created_time_to: datetime | None = None
    runtime_status: list[OrchestrationStatus] | None = None
    max_instance_count: int | None = (1 << 31) - 1
    fetch_inputs_and_outputs: bool = False
    instance_id_prefix: str | None = None


@dataclass
class PurgeInstancesResult:
    """Outcome of a purge: how many instances were deleted, and whether the purge completed (None: unknown)."""

    deleted_instance_count: int
    is_complete: bool | None


@dataclass
class Page(Generic[TItem]):
    """One page of a listing, and the token to ask for the next one (None: this was the last page)."""

    items: list[TItem]
    continuation_token: str | None


@dataclass
class EntityQuery:
    """Filter for :meth:`TaskHubGrpcClient.get_all_entities`."""

    instance_id_starts_with: str | None = None
    last_modified_from: datetime | None = None
    last_modified_to: datetime | None = None
    include_state: bool = True
    include_transient: bool = False
    page_size: int | None = None


@dataclass
class CleanEntityStorageResult:
    """What :meth:`TaskHubGrpcClient.clean_entity_storage` removed and released."""

    empty_entities_removed: int
    orphaned_locks_released: int


def new_purge_instances_result(response: pb.PurgeInstancesResponse) -> PurgeInstancesResult:
    """The :class:`PurgeInstancesResult` of a PurgeInstances response."""
    is_complete = response.isComplete.value if response.HasField("isComplete") else None
    return PurgeInstancesResult(response.deletedInstanceCount, is_complete)


def parse_orchestration_state(state: pb.OrchestrationState,
                              data_converter: DataConverter | None = None) -> OrchestrationState:
    """Convert a protobuf OrchestrationState to :class:`OrchestrationState`."""
    failure = None
    if state.HasField("failureDetails") and (state.failureDetails.errorMessage or state.failureDetails.errorType):
        failure = task.failure_details_from_proto(state.failureDetails)
    return OrchestrationState(
        instance_id=state.instanceId,
        name=state.name,
        runtime_status=OrchestrationStatus(state.orchestrationStatus),
        created_at=helpers.read_timestamp(state.createdTimestamp),
        last_updated_at=helpers.read_timestamp(state.lastUpdatedTimestamp),
        serialized_input=helpers.read_string_value(state, "input"),
        serialized_output=helpers.read_string_value(state, "output"),
        serialized_custom_status=helpers.read_string_value(state, "customStatus"),
        failure_details=failure,
        _data_converter=data_converter if data_converter is not None else DEFAULT_DATA_CONVERTER,
        version=state.version.value if state.HasField("version") else None,
        tags=dict(state.tags),
    )


def new_orchestration_state(instance_id: str, res: pb.GetInstanceResponse,
                            data_converter: DataConverter | None = None) -> OrchestrationState | None:
    """The state in a GetInstanceResponse, or None when the instance does not exist."""
    if not res.exists:
        return None
    state = parse_orchestration_state(res.orchestrationState, data_converter)
    state.instance_id = instance_id
    return state


def status_values(statuses: list[OrchestrationStatus] | None) -> list[int]:
    return [s.value for s in statuses] if statuses else []


def query_request(query: OrchestrationQuery, token: str | None) -> pb.QueryInstancesRequest:
    return requests.query_request(status_values(query.runtime_status), query.created_time_from,
                                  query.created_time_to, query.max_instance_count, query.fetch_inputs_and_outputs,
                                  query.instance_id_prefix, token)


def entity_query_request(query: EntityQuery, token: str | None) -> pb.QueryEntitiesRequest:
    return requests.query_entities_request(query.instance_id_starts_with, query.last_modified_from,
                                           query.last_modified_to, query.include_state, query.include_transient,
                                           query.page_size, token)


def wait_error(err: grpc.RpcError, instance_id: str, what: str) -> OrchestrationState | None:
    """A wait RPC failed: TimeoutError on deadline, None for an unknown instance, else re-raise."""
    code = err.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        raise TimeoutError(f"Timed-out waiting for the orchestration '{instance_id}' to {what}") from None
    if code == grpc.StatusCode.NOT_FOUND:
        return None
    raise err
