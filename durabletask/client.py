"""Client API: start, query, wait for and manage orchestration instances over the sidecar gRPC protocol."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import grpc

from durabletask import task
from durabletask.internal import helpers
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.internal import serialization as ser
from durabletask.internal.grpc_channel import get_default_host_address, get_grpc_channel
from durabletask.internal.logs import make_logger

TInput = TypeVar("TInput")
TOutput = TypeVar("TOutput")

logger = logging.getLogger("durabletask.client")


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
    version: str | None = field(default=None, compare=False)
    tags: dict[str, str] = field(default_factory=dict, compare=False)

    def get_input(self, expected_type: Any = None) -> Any:
        """The deserialized input (rebuilt as ``expected_type`` when given), or None."""
        return ser.deserialize(self.serialized_input, expected_type)

    def get_output(self, expected_type: Any = None) -> Any:
        """The deserialized output (rebuilt as ``expected_type`` when given), or None."""
        return ser.deserialize(self.serialized_output, expected_type)

    def get_custom_status(self, expected_type: Any = None) -> Any:
        """The deserialized custom status (rebuilt as ``expected_type`` when given), or None."""
        return ser.deserialize(self.serialized_custom_status, expected_type)

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
    is_complete: bool | None = None


def parse_orchestration_state(state: pb.OrchestrationState) -> OrchestrationState:
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
        version=state.version.value if state.HasField("version") else None,
        tags=dict(state.tags),
    )


def new_orchestration_state(instance_id: str, res: pb.GetInstanceResponse) -> OrchestrationState | None:
    """The state in a GetInstanceResponse, or None when the instance does not exist."""
    if not res.exists:
        return None
    state = parse_orchestration_state(res.orchestrationState)
    state.instance_id = instance_id
    return state


class TaskHubGrpcClient:
    """Client for a Durable Task sidecar (schedule, query, raise events, suspend/resume/terminate, purge)."""

    def __init__(self, *,
                 host_address: str | None = None,
                 metadata: list[tuple[str, str]] | None = None,
                 log_handler: logging.Handler | None = None,
                 log_formatter: logging.Formatter | None = None,
                 logger: logging.Logger | None = None,
                 channel: grpc.Channel | None = None,
                 secure_channel: bool = False,
                 interceptors: Sequence[Any] | None = None,
                 default_version: str | None = None,
                 emit_trace_spans: bool = True):
        """``emit_trace_spans`` is accepted for compatibility with the published package; this SDK emits no
        trace spans."""
        self._emit_trace_spans = emit_trace_spans
        self._logger = make_logger("client", log_handler, log_formatter, logger)
        self._host_address = host_address if host_address else get_default_host_address()
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else get_grpc_channel(
            self._host_address, secure_channel, metadata, interceptors)
        self._stub = stubs.TaskHubSidecarServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self.default_version = default_version

    def close(self) -> None:
        """Close the gRPC channel (only if this client created it)."""
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> TaskHubGrpcClient:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def schedule_new_orchestration(self, orchestrator: task.Orchestrator[TInput, TOutput] | str, *,
                                   input: TInput | None = None,
                                   instance_id: str | None = None,
                                   start_at: datetime | None = None,
                                   reuse_id_policy: pb.OrchestrationIdReusePolicy | None = None,
                                   tags: dict[str, str] | None = None,
                                   version: str | None = None) -> str:
        """Start a new instance of ``orchestrator`` (a function or a registered name); returns its instance id."""
        name = orchestrator if isinstance(orchestrator, str) else task.get_name(orchestrator)
        req = pb.CreateInstanceRequest(
            instanceId=instance_id if instance_id else uuid.uuid4().hex,
            name=name,
            input=helpers.get_string_value(ser.serialize(input)),
            scheduledStartTimestamp=helpers.new_timestamp(start_at) if start_at else None,
            version=helpers.get_string_value(version if version else self.default_version),
            orchestrationIdReusePolicy=reuse_id_policy,
            tags=tags,
        )
        self._logger.debug("Starting new '%s' instance with ID = '%s'.", name, req.instanceId)
        res: pb.CreateInstanceResponse = self._stub.StartInstance(req)
        return res.instanceId or req.instanceId

    def get_orchestration_state(self, instance_id: str, *, fetch_payloads: bool = True) -> OrchestrationState | None:
        """The current state of an instance, or None if it does not exist."""
        req = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=fetch_payloads)
        try:
            res: pb.GetInstanceResponse = self._stub.GetInstance(req)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return new_orchestration_state(instance_id, res)

    def get_all_orchestration_states(self, orchestration_query: OrchestrationQuery | None = None
                                     ) -> list[OrchestrationState]:
        """States of all instances matching ``orchestration_query`` (follows continuation tokens)."""
        query = orchestration_query or OrchestrationQuery()
        states: list[OrchestrationState] = []
        token: str | None = None
        while True:
            req = pb.QueryInstancesRequest(query=pb.InstanceQuery(
                runtimeStatus=[s.value for s in query.runtime_status] if query.runtime_status else [],
                createdTimeFrom=helpers.new_timestamp(query.created_time_from) if query.created_time_from else None,
                createdTimeTo=helpers.new_timestamp(query.created_time_to) if query.created_time_to else None,
                maxInstanceCount=query.max_instance_count or 0,
                fetchInputsAndOutputs=query.fetch_inputs_and_outputs,
                instanceIdPrefix=helpers.get_string_value(query.instance_id_prefix),
                continuationToken=helpers.get_string_value(token),
            ))
            res: pb.QueryInstancesResponse = self._stub.QueryInstances(req)
            states.extend(parse_orchestration_state(s) for s in res.orchestrationState)
            next_token = res.continuationToken.value if res.HasField("continuationToken") else ""
            if not next_token or next_token == token:
                return states
            token = next_token

    def wait_for_orchestration_start(self, instance_id: str, *, fetch_payloads: bool = False,
                                     timeout: float = 60) -> OrchestrationState | None:
        """Wait until the instance leaves PENDING; raises TimeoutError after ``timeout`` seconds."""
        req = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=fetch_payloads)
        return self._wait(self._stub.WaitForInstanceStart, req, timeout, "start")

    def wait_for_orchestration_completion(self, instance_id: str, *, fetch_payloads: bool = True,
                                          timeout: float = 60) -> OrchestrationState | None:
        """Wait until the instance completes, fails or is terminated; raises TimeoutError after ``timeout``."""
        req = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=fetch_payloads)
        return self._wait(self._stub.WaitForInstanceCompletion, req, timeout, "complete")

    def _wait(self, rpc: Any, req: pb.GetInstanceRequest, timeout: float, what: str) -> OrchestrationState | None:
        try:
            res: pb.GetInstanceResponse = rpc(req, timeout=timeout)
        except grpc.RpcError as err:
            code = err.code()
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise TimeoutError(f"Timed-out waiting for the orchestration '{req.instanceId}' to {what}") from None
            if code == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return new_orchestration_state(req.instanceId, res)

    def raise_orchestration_event(self, instance_id: str, event_name: str, *, data: Any | None = None) -> None:
        """Raise an external event to an instance."""
        self._stub.RaiseEvent(pb.RaiseEventRequest(
            instanceId=instance_id, name=event_name, input=helpers.get_string_value(ser.serialize(data))))

    def terminate_orchestration(self, instance_id: str, *, output: Any | None = None, recursive: bool = True) -> None:
        """Terminate an instance (and, with ``recursive``, its sub-orchestrations)."""
        self._stub.TerminateInstance(pb.TerminateRequest(
            instanceId=instance_id, output=helpers.get_string_value(ser.serialize(output)), recursive=recursive))

    def suspend_orchestration(self, instance_id: str, *, reason: str | None = None) -> None:
        """Suspend an instance; events raised meanwhile are kept until it resumes."""
        self._stub.SuspendInstance(pb.SuspendRequest(instanceId=instance_id,
                                                     reason=helpers.get_string_value(reason)))

    def resume_orchestration(self, instance_id: str, *, reason: str | None = None) -> None:
        """Resume a suspended instance."""
        self._stub.ResumeInstance(pb.ResumeRequest(instanceId=instance_id, reason=helpers.get_string_value(reason)))

    def restart_orchestration(self, instance_id: str, *, restart_with_new_instance_id: bool = False) -> str:
        """Restart an instance with its original input; returns the (possibly new) instance id."""
        res: pb.RestartInstanceResponse = self._stub.RestartInstance(pb.RestartInstanceRequest(
            instanceId=instance_id, restartWithNewInstanceId=restart_with_new_instance_id))
        return res.instanceId

    def purge_orchestration(self, instance_id: str, recursive: bool = True) -> PurgeInstancesResult:
        """Delete a completed instance's state and history."""
        res: pb.PurgeInstancesResponse = self._stub.PurgeInstances(pb.PurgeInstancesRequest(
            instanceId=instance_id, recursive=recursive, isOrchestration=True))
        is_complete = res.isComplete.value if res.HasField("isComplete") else None
        return PurgeInstancesResult(res.deletedInstanceCount, is_complete)

