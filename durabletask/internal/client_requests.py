"""Requests and response parsing shared by the blocking and the asyncio client (pure: no channel here)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf import duration_pb2, wrappers_pb2

from durabletask.internal import helpers
from durabletask.internal import orchestrator_service_pb2 as pb


def _statuses(values: Iterable[int] | None) -> list[Any]:
    return list(values or [])


def _timestamp(value: datetime | None) -> Any:
    return helpers.new_timestamp(value) if value is not None else None


def schedule_request(name: str, encoded_input: str | None, instance_id: str | None, start_at: datetime | None,
                     reuse_id_policy: pb.OrchestrationIdReusePolicy | None, tags: dict[str, str] | None,
                     version: str | None) -> pb.CreateInstanceRequest:
    """StartInstance request (a random hex id when none is given)."""
    return pb.CreateInstanceRequest(
        instanceId=instance_id if instance_id else uuid.uuid4().hex,
        name=name,
        input=helpers.get_string_value(encoded_input),
        scheduledStartTimestamp=_timestamp(start_at),
        version=helpers.get_string_value(version),
        orchestrationIdReusePolicy=reuse_id_policy,
        tags=tags,
    )


def query_request(runtime_status: Iterable[int] | None, created_time_from: datetime | None,
                  created_time_to: datetime | None, max_instance_count: int | None, fetch_inputs_and_outputs: bool,
                  instance_id_prefix: str | None, token: str | None) -> pb.QueryInstancesRequest:
    """One page of QueryInstances."""
    return pb.QueryInstancesRequest(query=pb.InstanceQuery(
        runtimeStatus=_statuses(runtime_status),
        createdTimeFrom=_timestamp(created_time_from),
        createdTimeTo=_timestamp(created_time_to),
        maxInstanceCount=max_instance_count or 0,
        fetchInputsAndOutputs=fetch_inputs_and_outputs,
        instanceIdPrefix=helpers.get_string_value(instance_id_prefix),
        continuationToken=helpers.get_string_value(token),
    ))


def next_token(response_token: wrappers_pb2.StringValue | None, previous: str | None) -> str | None:
    """The continuation token to ask with next, or None when the listing is complete."""
    value = response_token.value if response_token is not None else ""
    if not value or value == "0" or value == previous:
        return None
    return value


def list_ids_request(runtime_status: Iterable[int] | None, completed_time_from: datetime | None,
                     completed_time_to: datetime | None, page_size: int | None,
                     continuation_token: str | None) -> pb.ListInstanceIdsRequest:
    """ListInstanceIds request (terminal instances, one page)."""
    return pb.ListInstanceIdsRequest(
        runtimeStatus=_statuses(runtime_status),
        completedTimeFrom=_timestamp(completed_time_from),
        completedTimeTo=_timestamp(completed_time_to),
        pageSize=page_size or 0,
        lastInstanceKey=helpers.get_string_value(continuation_token),
    )


def purge_by_filter_request(created_time_from: datetime | None, created_time_to: datetime | None,
                            runtime_status: Iterable[int] | None, recursive: bool,
                            timeout: timedelta | None) -> pb.PurgeInstancesRequest:
    """PurgeInstances request with a filter; ``timeout`` (positive) bounds the sidecar's work."""
    if timeout is not None and timeout <= timedelta(0):
        raise ValueError("timeout must be greater than zero.")
    purge_filter = pb.PurgeInstanceFilter(createdTimeFrom=_timestamp(created_time_from),
                                          createdTimeTo=_timestamp(created_time_to),
                                          runtimeStatus=_statuses(runtime_status))
    if timeout is not None:
        duration = duration_pb2.Duration()
        duration.FromTimedelta(timeout)
        purge_filter.timeout.CopyFrom(duration)
    return pb.PurgeInstancesRequest(purgeInstanceFilter=purge_filter, recursive=recursive)


def history_request(instance_id: str, execution_id: str | None, for_work_item_processing: bool
                    ) -> pb.StreamInstanceHistoryRequest:
    """StreamInstanceHistory request."""
    return pb.StreamInstanceHistoryRequest(instanceId=instance_id,
                                           executionId=helpers.get_string_value(execution_id),
                                           forWorkItemProcessing=for_work_item_processing)


def signal_entity_request(entity_id: str, operation_name: str, encoded_input: str | None,
                          signal_time: datetime | None) -> pb.SignalEntityRequest:
    """SignalEntity request with a fresh request id."""
    return pb.SignalEntityRequest(instanceId=entity_id, name=operation_name,
                                  input=helpers.get_string_value(encoded_input), requestId=str(uuid.uuid4()),
                                  scheduledTime=_timestamp(signal_time),
                                  requestTime=helpers.new_timestamp(datetime.now(timezone.utc)))


def query_entities_request(instance_id_starts_with: str | None, last_modified_from: datetime | None,
                           last_modified_to: datetime | None, include_state: bool, include_transient: bool,
                           page_size: int | None, token: str | None) -> pb.QueryEntitiesRequest:
    """One page of QueryEntities."""
    return pb.QueryEntitiesRequest(query=pb.EntityQuery(
        instanceIdStartsWith=helpers.get_string_value(instance_id_starts_with),
        lastModifiedFrom=_timestamp(last_modified_from),
        lastModifiedTo=_timestamp(last_modified_to),
        includeState=include_state,
        includeTransient=include_transient,
        pageSize=wrappers_pb2.Int32Value(value=page_size) if page_size is not None else None,
        continuationToken=helpers.get_string_value(token),
    ))
