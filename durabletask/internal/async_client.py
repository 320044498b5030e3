"""The asyncio client: the same operations as ``TaskHubGrpcClient``, awaited, over a ``grpc.aio`` channel."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import grpc
import grpc.aio

from durabletask import history, task
from durabletask.entities import EntityInstanceId, EntityMetadata
from durabletask.grpc_options import GrpcChannelOptions, GrpcClientResiliencyOptions
from durabletask.internal import client_requests as requests
from durabletask.internal import client_values as values
from durabletask.internal import helpers
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask.internal.grpc_channel import get_async_grpc_channel, get_default_host_address
from durabletask.internal.logs import make_logger
from durabletask.payload.store import PayloadStore, refuse_payload_store
from durabletask.serialization import DEFAULT_DATA_CONVERTER, DataConverter


class AsyncTaskHubGrpcClient:
    """Asyncio client for a Durable Task sidecar; every operation of ``TaskHubGrpcClient`` as a coroutine.

    Create and use it inside a running event loop (``async with AsyncTaskHubGrpcClient(...) as client``);
    ``interceptors`` must be ``grpc.aio`` client interceptors.
    """

    def __init__(self, *,
                 host_address: str | None = None,
                 metadata: list[tuple[str, str]] | None = None,
                 log_handler: logging.Handler | None = None,
                 log_formatter: logging.Formatter | None = None,
                 logger: logging.Logger | None = None,
                 channel: grpc.aio.Channel | None = None,
                 secure_channel: bool = False,
                 interceptors: Sequence[Any] | None = None,
                 channel_options: GrpcChannelOptions | None = None,
                 resiliency_options: GrpcClientResiliencyOptions | None = None,
                 default_version: str | None = None,
                 payload_store: PayloadStore | None = None,
                 data_converter: DataConverter | None = None,
                 emit_trace_spans: bool = True):
        refuse_payload_store(payload_store)
        self._emit_trace_spans = emit_trace_spans
        self._data_converter = data_converter if data_converter is not None else DEFAULT_DATA_CONVERTER
        self._resiliency_options = resiliency_options or GrpcClientResiliencyOptions()
        self._logger = make_logger("client", log_handler, log_formatter, logger)
        self._host_address = host_address if host_address else get_default_host_address()
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else get_async_grpc_channel(
            self._host_address, secure_channel, metadata, interceptors,
            channel_options.to_grpc_options() if channel_options is not None else None)
        self._stub = stubs.TaskHubSidecarServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self.default_version = default_version

    @property
    def emit_trace_spans(self) -> bool:
        """Whether trace spans were requested (this SDK emits none)."""
        return self._emit_trace_spans

    async def close(self) -> None:
        """Close the channel (only if this client created it)."""
        if self._owns_channel:
            await self._channel.close()

    async def __aenter__(self) -> AsyncTaskHubGrpcClient:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------------- orchestrations

    async def schedule_new_orchestration(self, orchestrator: task.Orchestrator[Any, Any] | str, *,
                                         input: Any | None = None,
                                         instance_id: str | None = None,
                                         start_at: datetime | None = None,
                                         reuse_id_policy: pb.OrchestrationIdReusePolicy | None = None,
                                         tags: dict[str, str] | None = None,
                                         version: str | None = None) -> str:
        """Start a new instance; returns its instance id."""
        name = orchestrator if isinstance(orchestrator, str) else task.get_name(orchestrator)
        req = requests.schedule_request(name, self._data_converter.serialize(input), instance_id, start_at,
                                        reuse_id_policy, tags, version if version else self.default_version)
        res: pb.CreateInstanceResponse = await self._stub.StartInstance(req)
        return res.instanceId or req.instanceId

    async def get_orchestration_state(self, instance_id: str, *,
                                      fetch_payloads: bool = True) -> values.OrchestrationState | None:
        """The current state of an instance, or None if it does not exist."""
        req = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=fetch_payloads)
        try:
            res: pb.GetInstanceResponse = await self._stub.GetInstance(req)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return values.new_orchestration_state(instance_id, res, self._data_converter)

    async def get_orchestration_history(self, instance_id: str, *, execution_id: str | None = None,
                                        for_work_item_processing: bool = False) -> list[history.HistoryEvent]:
        """The instance's history as typed events, oldest first."""
        call = self._stub.StreamInstanceHistory(
            requests.history_request(instance_id, execution_id, for_work_item_processing))
        return [history.from_protobuf(event) async for chunk in call for event in chunk.events]

    async def get_all_orchestration_states(self, orchestration_query: values.OrchestrationQuery | None = None
                                           ) -> list[values.OrchestrationState]:
        """States of all instances matching the query (follows continuation tokens)."""
        query = orchestration_query or values.OrchestrationQuery()
        states: list[values.OrchestrationState] = []
        token: str | None = None
        while True:
            res: pb.QueryInstancesResponse = await self._stub.QueryInstances(values.query_request(query, token))
            states.extend(values.parse_orchestration_state(s, self._data_converter) for s in res.orchestrationState)
            token = requests.next_token(res.continuationToken if res.HasField("continuationToken") else None,
                                        token)
            if token is None:
                return states

    async def list_instance_ids(self, runtime_status: list[values.OrchestrationStatus] | None = None,
                                completed_time_from: datetime | None = None,
                                completed_time_to: datetime | None = None,
                                page_size: int | None = None,
                                continuation_token: str | None = None) -> values.Page[str]:
        """One page of ids of terminal instances."""
        res: pb.ListInstanceIdsResponse = await self._stub.ListInstanceIds(requests.list_ids_request(
            values.status_values(runtime_status), completed_time_from, completed_time_to, page_size,
            continuation_token))
        token = res.lastInstanceKey.value if res.HasField("lastInstanceKey") else None
        return values.Page(items=list(res.instanceIds), continuation_token=token)

    async def wait_for_orchestration_start(self, instance_id: str, *, fetch_payloads: bool = False,
                                           timeout: int = 60) -> values.OrchestrationState | None:
        """Wait until the instance leaves PENDING; raises TimeoutError after ``timeout`` seconds."""
        req = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=fetch_payloads)
        return await self._wait(self._stub.WaitForInstanceStart, req, timeout, "start")

    async def wait_for_orchestration_completion(self, instance_id: str, *, fetch_payloads: bool = True,
                                                timeout: int = 60) -> values.OrchestrationState | None:
        """Wait until the instance reaches a terminal status; raises TimeoutError after ``timeout`` seconds."""
        req = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=fetch_payloads)
        return await self._wait(self._stub.WaitForInstanceCompletion, req, timeout, "complete")

    async def _wait(self, rpc: Any, req: pb.GetInstanceRequest, timeout: float,
                    what: str) -> values.OrchestrationState | None:
        try:
            res: pb.GetInstanceResponse = await rpc(req, timeout=timeout)
        except grpc.RpcError as err:
            return values.wait_error(err, req.instanceId, what)
        return values.new_orchestration_state(req.instanceId, res, self._data_converter)

    async def raise_orchestration_event(self, instance_id: str, event_name: str, *,
                                        data: Any | None = None) -> None:
        """Raise an external event to an instance."""
        await self._stub.RaiseEvent(pb.RaiseEventRequest(
            instanceId=instance_id, name=event_name,
            input=helpers.get_string_value(self._data_converter.serialize(data))))

    async def terminate_orchestration(self, instance_id: str, *, output: Any | None = None,
                                      recursive: bool = True) -> None:
        """Terminate an instance (and, with ``recursive``, its sub-orchestrations)."""
        await self._stub.TerminateInstance(pb.TerminateRequest(
            instanceId=instance_id, output=helpers.get_string_value(self._data_converter.serialize(output)),
            recursive=recursive))

    async def suspend_orchestration(self, instance_id: str, *, reason: str | None = None) -> None:
        """Suspend an instance."""
        await self._stub.SuspendInstance(pb.SuspendRequest(instanceId=instance_id,
                                                           reason=helpers.get_string_value(reason)))

    async def resume_orchestration(self, instance_id: str, *, reason: str | None = None) -> None:
        """Resume a suspended instance."""
        await self._stub.ResumeInstance(pb.ResumeRequest(instanceId=instance_id,
                                                         reason=helpers.get_string_value(reason)))

    async def rewind_orchestration(self, instance_id: str, *, reason: str | None = None) -> None:
        """Rewind a failed instance."""
        await self._stub.RewindInstance(pb.RewindInstanceRequest(instanceId=instance_id,
                                                                 reason=helpers.get_string_value(reason)))

    async def restart_orchestration(self, instance_id: str, *, restart_with_new_instance_id: bool = False) -> str:
        """Restart an instance with its original input; returns the (possibly new) instance id."""
        res: pb.RestartInstanceResponse = await self._stub.RestartInstance(pb.RestartInstanceRequest(
            instanceId=instance_id, restartWithNewInstanceId=restart_with_new_instance_id))
        return res.instanceId

    async def purge_orchestration(self, instance_id: str, recursive: bool = True) -> values.PurgeInstancesResult:
        """Delete a completed instance's state and history."""
        res: pb.PurgeInstancesResponse = await self._stub.PurgeInstances(pb.PurgeInstancesRequest(
            instanceId=instance_id, recursive=recursive, isOrchestration=True))
        return values.new_purge_instances_result(res)

    async def purge_orchestrations_by(self, created_time_from: datetime | None = None,
                                      created_time_to: datetime | None = None,
                                      runtime_status: list[values.OrchestrationStatus] | None = None,
                                      recursive: bool = False,
                                      timeout: timedelta | None = None) -> values.PurgeInstancesResult:
        """Delete every terminal instance matching the filter."""
        res: pb.PurgeInstancesResponse = await self._stub.PurgeInstances(requests.purge_by_filter_request(
            created_time_from, created_time_to, values.status_values(runtime_status), recursive, timeout))
        return values.new_purge_instances_result(res)

    # ------------------------------------------------------------------------------------- entities

    async def signal_entity(self, entity_instance_id: EntityInstanceId, operation_name: str,
                            input: Any | None = None, signal_time: datetime | None = None) -> None:
        """Signal an entity operation."""
        await self._stub.SignalEntity(requests.signal_entity_request(
            str(entity_instance_id), operation_name, self._data_converter.serialize(input), signal_time))

    async def get_entity(self, entity_instance_id: EntityInstanceId,
                         include_state: bool = True) -> EntityMetadata | None:
        """An entity's metadata, or None when it does not exist."""
        res: pb.GetEntityResponse = await self._stub.GetEntity(pb.GetEntityRequest(
            instanceId=str(entity_instance_id), includeState=include_state))
        if not res.exists:
            return None
        return EntityMetadata.from_entity_response(res, include_state, self._data_converter)

    async def get_all_entities(self, entity_query: values.EntityQuery | None = None) -> list[EntityMetadata]:
        """Metadata of every matching entity."""
        query = entity_query or values.EntityQuery()
        found: list[EntityMetadata] = []
        token: str | None = None
        while True:
            res: pb.QueryEntitiesResponse = await self._stub.QueryEntities(values.entity_query_request(query, token))
            found.extend(EntityMetadata.from_entity_metadata(e, query.include_state, self._data_converter)
                         for e in res.entities)
            token = requests.next_token(res.continuationToken if res.HasField("continuationToken") else None,
                                        token)
            if token is None:
                return found

    async def clean_entity_storage(self, remove_empty_entities: bool = True,
                                   release_orphaned_locks: bool = True) -> values.CleanEntityStorageResult:
        """Remove empty entities and release orphaned locks."""
        removed = released = 0
        token: str | None = None
        while True:
            res: pb.CleanEntityStorageResponse = await self._stub.CleanEntityStorage(pb.CleanEntityStorageRequest(
                continuationToken=helpers.get_string_value(token), removeEmptyEntities=remove_empty_entities,
                releaseOrphanedLocks=release_orphaned_locks))
            removed += res.emptyEntitiesRemoved
            released += res.orphanedLocksReleased
            token = requests.next_token(res.continuationToken if res.HasField("continuationToken") else None,
                                        token)
            if token is None:
                return values.CleanEntityStorageResult(removed, released)
