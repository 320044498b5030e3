"""Issue 25, the Dapr dialect (item 10): Dapr-only strings are bounded like every other string, and a
ListInstanceIDs page token survives the purge of the instance it names. Over real gRPC in Dapr's wire format
(the dialect's message classes stand in for Dapr's SDK, as in tests/unit/fake/test_dapr_dialect.py)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from durabletask_testing import FakeSidecar

pytestmark = pytest.mark.timeout(30)

MIB = 1024 * 1024


def _schema() -> Any:
    for where in ("durabletask_testing.dialects.dapr_schema", "durabletask_testing.dialects.schema"):
        try:
            return importlib.import_module(where)
        except ImportError:
            continue
    raise ImportError("no Dapr message schema in durabletask_testing.dialects")


schema = _schema()


def message(kind: str, **fields: Any) -> Any:
    return schema.message_class(kind)(**fields)


def call(channel: grpc.Channel, rpc: str, request: Any, response: str) -> Any:
    method = channel.unary_unary(f"/TaskHubSidecarService/{rpc}", request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=schema.message_class(response).FromString)
    return method(request, timeout=5)


def work_items(channel: grpc.Channel) -> Any:
    method = channel.unary_stream("/TaskHubSidecarService/GetWorkItems",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=schema.message_class("WorkItem").FromString)
    return method(message("GetWorkItemsRequest"), timeout=10)


@pytest.fixture
def dapr() -> Iterator[tuple[FakeSidecar, grpc.Channel]]:
    with FakeSidecar(dialect="dapr") as fake, grpc.insecure_channel(fake.address) as channel:
        yield fake, channel


def first_orchestrator_item(items: Any) -> Any:
    for item in items:
        if item.WhichOneof("request") == "orchestratorRequest":
            return item
    raise AssertionError("the stream ended before an orchestrator work item")


def fill_task_execution_id(action: Any) -> None:
    action.scheduleTask.name = "act"
    action.scheduleTask.taskExecutionId = "x" * (4 * MIB)


def fill_timer_name(action: Any) -> None:
    action.createTimer.fireAt.FromSeconds(4_000_000_000)
    action.createTimer.name = "x" * (4 * MIB)


def fill_router(action: Any) -> None:
    action.scheduleTask.name = "act"
    action.router.sourceAppID = "x" * (4 * MIB)


@pytest.mark.parametrize("fill", [fill_task_execution_id, fill_timer_name, fill_router],
                         ids=["taskExecutionId", "timer-name", "router-sourceAppID"])
def test_a_4_mib_dapr_only_string_is_refused(dapr: tuple[FakeSidecar, grpc.Channel], fill: Any) -> None:
    fake, channel = dapr
    call(channel, "StartInstance", message("CreateInstanceRequest", instanceId="i1", name="wf"),
         "CreateInstanceResponse")
    items = work_items(channel)
    try:
        item = first_orchestrator_item(items)
        response = message("OrchestratorResponse", instanceId="i1", completionToken=item.completionToken)
        fill(response.actions.add(id=1))
        with pytest.raises(grpc.RpcError) as refused:
            call(channel, "CompleteWorkflowTask", response, "CompleteTaskResponse")
    finally:
        items.cancel()
    assert refused.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)


def complete_all(channel: grpc.Channel, count: int) -> None:
    items = work_items(channel)
    try:
        for _ in range(count):
            item = first_orchestrator_item(items)
            request = item.orchestratorRequest
            response = message("OrchestratorResponse", instanceId=request.instanceId,
                               completionToken=item.completionToken)
            done = response.actions.add(id=1).completeOrchestration
            done.orchestrationStatus = 1  # COMPLETED
            call(channel, "CompleteWorkflowTask", response, "CompleteTaskResponse")
    finally:
        items.cancel()


def test_list_instance_ids_continues_after_the_token_instance_is_purged(dapr: tuple[FakeSidecar, grpc.Channel]) -> None:
    fake, channel = dapr
    ids = [f"i{n}" for n in range(5)]
    for instance_id in ids:
        call(channel, "StartInstance", message("CreateInstanceRequest", instanceId=instance_id, name="wf"),
             "CreateInstanceResponse")
    complete_all(channel, len(ids))
    first = call(channel, "ListInstanceIDs", message("ListInstanceIDsRequest", pageSize=2), "ListInstanceIDsResponse")
    assert list(first.instanceIds) == ["i0", "i1"] and first.continuationToken
    call(channel, "PurgeInstances", message("PurgeInstancesRequest", instanceId="i1"), "PurgeInstancesResponse")
    second = call(channel, "ListInstanceIDs",
                  message("ListInstanceIDsRequest", pageSize=2, continuationToken=first.continuationToken),
                  "ListInstanceIDsResponse")
    assert list(second.instanceIds) == ["i2", "i3"]
