"""The Dapr dialect over real gRPC, with the dialect's own message classes standing in for Dapr's SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from durabletask_pytest import wait_until

from durabletask_testing import FakeSidecar
from durabletask_testing.cli import build_parser
from durabletask_testing.dialects import dapr_schema as schema
from durabletask_testing.dialects.convert import convert
from durabletask_testing.protocol import orchestrator_service_pb2 as pb


def _call(channel: grpc.Channel, rpc: str, request: Any, response: str, metadata: Any = None) -> Any:
    method = channel.unary_unary(f"/TaskHubSidecarService/{rpc}", request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=schema.message_class(response).FromString)
    return method(request, timeout=5, metadata=metadata)


def _stream(channel: grpc.Channel, capabilities: list[int], timeout: float) -> Any:
    method = channel.unary_stream("/TaskHubSidecarService/GetWorkItems",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=schema.message_class("WorkItem").FromString)
    return method(schema.message_class("GetWorkItemsRequest")(capabilities=capabilities), timeout=timeout)


@pytest.fixture
def dapr_fake() -> Iterator[tuple[FakeSidecar, grpc.Channel]]:
    with FakeSidecar(dialect="dapr", health_ping_interval=0.05) as fake, grpc.insecure_channel(fake.address) as channel:
        yield fake, channel


def test_an_activity_call_carries_dapr_task_execution_id_to_the_work_item_and_history(dapr_fake: Any) -> None:
    fake, channel = dapr_fake
    create = schema.message_class("CreateInstanceRequest")(instanceId="i1", name="wf", enforceUniqueInstanceId=True)
    _call(channel, "StartInstance", create, "CreateInstanceResponse")
    items = _stream(channel, [], timeout=5)
    first = next(items)
    assert first.WhichOneof("request") == "orchestratorRequest"
    response = schema.message_class("OrchestratorResponse")(instanceId="i1", completionToken=first.completionToken)
    action = response.actions.add(id=1)
    action.router.SetInParent()  # Dapr sets it even when empty; ours would read it as rewindOrchestration
    action.scheduleTask.name = "act"
    action.scheduleTask.taskExecutionId = "exec-1"
    _call(channel, "CompleteWorkflowTask", response, "CompleteTaskResponse")
    activity = next(items)
    assert activity.activityRequest.name == "act" and activity.activityRequest.taskExecutionId == "exec-1"
    _call(channel, "CompleteActivityTask",
          schema.message_class("ActivityResponse")(instanceId="i1", taskId=1, completionToken=activity.completionToken),
          "CompleteTaskResponse")
    replay = next(items).orchestratorRequest
    items.cancel()
    scheduled = [e for e in replay.pastEvents if e.WhichOneof("eventType") == "taskScheduled"]
    completed = [e for e in replay.newEvents if e.WhichOneof("eventType") == "taskCompleted"]
    assert scheduled[0].taskScheduled.taskExecutionId == "exec-1"
    assert completed[0].taskCompleted.taskExecutionId == "exec-1"
    history = _call(channel, "GetInstanceHistory", schema.message_class("GetInstanceHistoryRequest")(instanceId="i1"),
                    "GetInstanceHistoryResponse")
    assert [e.WhichOneof("eventType") for e in history.events][:3] == ["orchestratorStarted", "executionStarted",
                                                                       "taskScheduled"]
    ids = _call(channel, "ListInstanceIDs", schema.message_class("ListInstanceIDsRequest")(pageSize=10),
                "ListInstanceIDsResponse")
    assert list(ids.instanceIds) == ["i1"] and fake.instance("i1") is not None


def _next_item(items: Any, kind: str) -> Any:
    for item in items:
        if item.WhichOneof("request") == kind:
            return item
    raise AssertionError(f"the stream ended before a {kind} work item")


def test_task_execution_ids_live_in_the_history_of_each_execution(dapr_fake: Any) -> None:
    """Two executions (continue-as-new) schedule task id 1 with their own taskExecutionId: each activity gets its
    own; the id is a tag of the TaskScheduled event in the fake's history, so it goes when the history goes."""
    fake, channel = dapr_fake
    _call(channel, "StartInstance", schema.message_class("CreateInstanceRequest")(instanceId="i1", name="wf"),
          "CreateInstanceResponse")
    items = _stream(channel, [], timeout=10)
    try:
        seen = []
        for generation in ("first", "second"):
            item = _next_item(items, "orchestratorRequest")
            response = schema.message_class("OrchestratorResponse")(instanceId="i1",
                                                                    completionToken=item.completionToken)
            action = response.actions.add(id=1)
            action.scheduleTask.name = "act"
            action.scheduleTask.taskExecutionId = f"exec-{generation}"
            _call(channel, "CompleteWorkflowTask", response, "CompleteTaskResponse")
            activity = _next_item(items, "activityRequest")
            seen.append(activity.activityRequest.taskExecutionId)
            _call(channel, "CompleteActivityTask",
                  schema.message_class("ActivityResponse")(instanceId="i1", taskId=1,
                                                           completionToken=activity.completionToken),
                  "CompleteTaskResponse")
            replay = _next_item(items, "orchestratorRequest")
            new_events = replay.orchestratorRequest.newEvents
            completed = [e for e in new_events if e.WhichOneof("eventType") == "taskCompleted"]
            assert completed[0].taskCompleted.taskExecutionId == f"exec-{generation}"
            again = schema.message_class("OrchestratorResponse")(instanceId="i1",
                                                                 completionToken=replay.completionToken)
            done = again.actions.add(id=2).completeOrchestration
            done.orchestrationStatus = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW if generation == "first" else 1
            _call(channel, "CompleteWorkflowTask", again, "CompleteTaskResponse")
    finally:
        items.cancel()
    assert seen == ["exec-first", "exec-second"]
    scheduled = [e for e in fake.history("i1") if e.WhichOneof("eventType") == "taskScheduled"]
    assert [dict(e.taskScheduled.tags) for e in scheduled] == [{"dapr.taskExecutionId": "exec-second"}]


def test_health_pings_go_only_to_workers_that_ask(dapr_fake: Any) -> None:
    _, channel = dapr_fake
    asking = _stream(channel, [schema.HEALTH_PING_CAPABILITY], timeout=5)
    assert next(asking).WhichOneof("request") == "healthPing"
    asking.cancel()
    silent = _stream(channel, [], timeout=0.3)  # several ping intervals pass without an item
    with pytest.raises(grpc.RpcError) as error:
        next(silent)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_dapr_api_token_is_accepted() -> None:
    with FakeSidecar(dialect="dapr", api_token="s3cret") as fake, grpc.insecure_channel(fake.address) as channel:
        request = schema.message_class("GetInstanceRequest")(instanceId="nope")
        assert not _call(channel, "GetInstance", request, "GetInstanceResponse",
                         metadata=[("dapr-api-token", "s3cret")]).exists
        with pytest.raises(grpc.RpcError) as error:
            _call(channel, "GetInstance", request, "GetInstanceResponse", metadata=[("dapr-api-token", "wrong")])
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_bad_bytes_and_unsupported_rpcs_get_a_status_and_the_server_keeps_serving(dapr_fake: Any) -> None:
    _, channel = dapr_fake
    raw = channel.unary_unary("/TaskHubSidecarService/CompleteWorkflowTask")
    with pytest.raises(grpc.RpcError) as error:
        raw(b"\x2a\x05abc", timeout=5)  # field 5 claims 5 bytes, has 3
    assert error.value.code() == grpc.StatusCode.INTERNAL
    rerun = channel.unary_unary("/TaskHubSidecarService/RerunWorkflowFromEvent")
    with pytest.raises(grpc.RpcError) as error:
        rerun(b"", timeout=5)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED and "RerunWorkflowFromEvent" in error.value.details()
    with pytest.raises(grpc.RpcError) as error:
        _call(channel, "CompleteWorkflowTask", schema.message_class("OrchestratorResponse")(completionToken="x"),
              "CompleteTaskResponse")
    assert error.value.code() != grpc.StatusCode.INTERNAL
    assert not _call(channel, "GetInstance", schema.message_class("GetInstanceRequest")(instanceId="a"),
                     "GetInstanceResponse").exists


def test_convert_copies_by_name_and_leaves_out_what_the_other_dialect_lacks() -> None:
    ours = pb.ScheduleTaskAction(name="n", tags={"k": "v"})
    ours.input.value = "1"
    dapr = convert(ours, schema.message_class("ScheduleTaskAction")())
    assert (dapr.name, dapr.input.value, dapr.taskExecutionId) == ("n", "1", "")  # type: ignore[attr-defined]
    item = convert(pb.WorkItem(healthPing=pb.HealthPing()), schema.message_class("WorkItem")())
    assert item.SerializeToString() == b"\x32\x00"  # Dapr's healthPing is field 6


def test_unknown_dialects_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown protocol dialect 'grpc'"):
        FakeSidecar(dialect="grpc")
    args = build_parser().parse_args(["serve", "--dialect", "dapr", "--health-ping-interval", "5"])
    assert (args.dialect, args.health_ping_interval) == ("dapr", 5.0)


def test_long_polls_and_streams_in_the_dapr_dialect_run_on_their_own_pools(dapr_fake: Any) -> None:
    """More waits than the server has threads for short calls: a short call still answers at once (the waits run on
    the long-poll pool, as in the published dialect, not on the short calls' threads)."""
    from durabletask_testing.sidecar import SHORT_RPC_THREADS

    fake, channel = dapr_fake
    create = schema.message_class("CreateInstanceRequest")
    _call(channel, "StartInstance", create(instanceId="slow", name="wf"), "CreateInstanceResponse")
    wait = channel.unary_unary("/TaskHubSidecarService/WaitForInstanceCompletion",
                               request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=schema.message_class("GetInstanceResponse").FromString)
    request = schema.message_class("GetInstanceRequest")(instanceId="slow")
    streams = [_stream(channel, [], timeout=60) for _ in range(2)]
    waits = [wait.future(request, timeout=60) for _ in range(SHORT_RPC_THREADS + 4)]
    try:
        wait_until(lambda: fake.long_polls_in_flight == len(waits), timeout=10, what="every wait to arrive")
        answer = _call(channel, "GetInstance", request, "GetInstanceResponse")  # 5 s deadline: fails if starved
        assert answer.exists
    finally:
        for call in [*waits, *streams]:
            call.cancel()
