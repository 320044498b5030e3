"""End-to-end with a raw gRPC stub: malformed requests get a precise status and message, never a crash.

Every RPC of the service is called with an empty request; then malformed orchestrator completions are sent
for a real work item. After each refusal the server still answers and the work item is still completable.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, wrappers_pb2

from durabletask_testing import FakeSidecar
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

SERVICE = pb.DESCRIPTOR.services_by_name["TaskHubSidecarService"]
HUB_RPCS = {
    "CreateTaskHub",
    "DeleteTaskHub",
    "SkipGracefulOrchestrationTerminations",
}
# an empty request is a valid one for these
ACCEPT_EMPTY = {"Hello", "QueryInstances", "ListInstanceIds", "QueryEntities", "CleanEntityStorage"}
# what the refusal of an empty request must mention: the missing field
EMPTY_REQUEST_NAMES = {
    "StartInstance": "name",
    "PurgeInstances": "instanceId",
    "CompleteActivityTask": "completionToken",
    "CompleteOrchestratorTask": "completionToken",
    "AbandonTaskActivityWorkItem": "completionToken",
    "AbandonTaskOrchestratorWorkItem": "completionToken",
    "CompleteEntityTask": "completionToken",
    "AbandonTaskEntityWorkItem": "completionToken",
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSidecar]:
    with FakeSidecar(clock="manual") as running:
        yield running


@pytest.fixture
def stub(fake: FakeSidecar) -> Iterator[stubs.TaskHubSidecarServiceStub]:
    fake.reset()
    channel = grpc.insecure_channel(fake.address)
    yield stubs.TaskHubSidecarServiceStub(channel)
    channel.close()


def _refusal(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as error:
        result = call()
        if hasattr(result, "__next__"):
            next(result)
    return error.value.code(), error.value.details()


def _request_class(method) -> type:
    return getattr(pb, method.input_type.name, None) or empty_pb2.Empty


@pytest.mark.parametrize("method", [m for m in SERVICE.methods if m.name != "GetWorkItems"], ids=lambda m: m.name)
def test_every_rpc_answers_an_empty_request_with_a_status_naming_the_problem(stub, method):
    call = getattr(stub, method.name)
    request = _request_class(method)()
    if method.name in ACCEPT_EMPTY:
        result = call(request, timeout=5)
        if method.server_streaming:
            list(result)
        return
    code, details = _refusal(lambda: call(request, timeout=5))
    if method.name in HUB_RPCS:
        assert code == grpc.StatusCode.UNIMPLEMENTED and "not implemented" in details, (code, details)
    else:
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
        assert EMPTY_REQUEST_NAMES.get(method.name, "instanceId") in details, details
    assert stub.Hello(empty_pb2.Empty(), timeout=5) == empty_pb2.Empty()


def test_bad_values_in_client_requests_name_the_field(stub):
    cases = []
    far_future = pb.CreateInstanceRequest(instanceId="t", name="o")
    far_future.scheduledStartTimestamp.seconds = 10**14
    cases.append((lambda: stub.StartInstance(far_future), grpc.StatusCode.INVALID_ARGUMENT, "scheduledStartTimestamp"))
    cases.append(
        (
            lambda: stub.StartInstance(pb.CreateInstanceRequest(instanceId="  ", name="o")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "instanceId",
        )
    )
    cases.append(
        (
            lambda: stub.QueryInstances(pb.QueryInstancesRequest(query=pb.InstanceQuery(maxInstanceCount=-5))),
            grpc.StatusCode.INVALID_ARGUMENT,
            "maxInstanceCount",
        )
    )
    cases.append(
        (
            lambda: stub.ListInstanceIds(pb.ListInstanceIdsRequest(pageSize=-1)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "pageSize",
        )
    )
    cases.append(
        (lambda: stub.RaiseEvent(pb.RaiseEventRequest(instanceId="x")), grpc.StatusCode.INVALID_ARGUMENT, "name")
    )
    cases.append(
        (
            lambda: stub.GetWorkItems(pb.GetWorkItemsRequest(maxConcurrentActivityWorkItems=-1), timeout=5),
            grpc.StatusCode.INVALID_ARGUMENT,
            "maxConcurrentActivityWorkItems",
        )
    )
    for ghost_call in (
        lambda: stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="ghost")),
        lambda: stub.RestartInstance(pb.RestartInstanceRequest(instanceId="ghost")),
        lambda: stub.TerminateInstance(pb.TerminateRequest(instanceId="ghost")),
        lambda: stub.SuspendInstance(pb.SuspendRequest(instanceId="ghost")),
        lambda: stub.ResumeInstance(pb.ResumeRequest(instanceId="ghost")),
    ):
        cases.append((ghost_call, grpc.StatusCode.NOT_FOUND, "ghost"))
    for token_call in (
        lambda: stub.CompleteActivityTask(pb.ActivityResponse(completionToken="xx")),
        lambda: stub.AbandonTaskActivityWorkItem(pb.AbandonActivityTaskRequest(completionToken="xx")),
        lambda: stub.AbandonTaskOrchestratorWorkItem(pb.AbandonOrchestrationTaskRequest(completionToken="xx")),
    ):
        cases.append((token_call, grpc.StatusCode.NOT_FOUND, "'xx'"))
    for call, expected_code, named in cases:
        code, details = _refusal(call)
        assert (code, named in details) == (expected_code, True), (code, details)
    assert stub.Hello(empty_pb2.Empty(), timeout=5) == empty_pb2.Empty()


def _first_orchestrator_item(stream) -> pb.WorkItem:
    for item in stream:
        if item.HasField("orchestratorRequest"):
            return item
    raise AssertionError("the work-item stream ended without an orchestrator work item")


def _response(token: str, *actions: pb.OrchestratorAction, instance_id: str = "i1") -> pb.OrchestratorResponse:
    return pb.OrchestratorResponse(instanceId=instance_id, completionToken=token, actions=list(actions))


def test_malformed_orchestrator_completions_are_refused_and_change_nothing(stub, fake):
    stub.StartInstance(pb.CreateInstanceRequest(instanceId="i1", name="orch"))
    stub.StartInstance(pb.CreateInstanceRequest(instanceId="bystander", name="orch"))
    stream = stub.GetWorkItems(pb.GetWorkItemsRequest(maxConcurrentOrchestrationWorkItems=1))
    try:
        item = _first_orchestrator_item(stream)
        instance_id = item.orchestratorRequest.instanceId
        token = item.completionToken
        history_before = list(fake.history(instance_id))
        malformed = [
            (
                _response(
                    token, pb.OrchestratorAction(id=1, createTimer=pb.CreateTimerAction()), instance_id=instance_id
                ),
                "createTimer.fireAt",
            ),
            (_response(token, pb.OrchestratorAction(id=1), instance_id=instance_id), "no action type"),
            (
                _response(
                    token, pb.OrchestratorAction(id=1, scheduleTask=pb.ScheduleTaskAction()), instance_id=instance_id
                ),
                "scheduleTask.name",
            ),
            (
                _response(
                    token,
                    pb.OrchestratorAction(
                        id=1,
                        completeOrchestration=pb.CompleteOrchestrationAction(
                            orchestrationStatus=pb.ORCHESTRATION_STATUS_RUNNING
                        ),
                    ),
                    instance_id=instance_id,
                ),
                "orchestrationStatus",
            ),
            (_response(token, instance_id="someone-else"), "someone-else"),
        ]
        for request, named in malformed:
            code, details = _refusal(lambda request=request: stub.CompleteOrchestratorTask(request))
            assert code == grpc.StatusCode.INVALID_ARGUMENT and named in details, (code, details)
            assert fake.history(instance_id) == history_before
        # the work item is still in flight and completes normally with the same token
        done = pb.OrchestratorAction(
            id=1,
            completeOrchestration=pb.CompleteOrchestrationAction(
                orchestrationStatus=pb.ORCHESTRATION_STATUS_COMPLETED, result=wrappers_pb2.StringValue(value='"ok"')
            ),
        )
        stub.CompleteOrchestratorTask(_response(token, done, instance_id=instance_id))
        state = stub.GetInstance(pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True))
        assert state.orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
        # the used token is refused, naming it, and the completed instance is untouched
        code, details = _refusal(lambda: stub.CompleteOrchestratorTask(_response(token, done, instance_id=instance_id)))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and token in details, (code, details)
        other = "bystander" if instance_id == "i1" else "i1"
        untouched = stub.GetInstance(pb.GetInstanceRequest(instanceId=other))
        assert untouched.orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING
    finally:
        stream.cancel()


def _finish_all(stub, instance_ids: list[str]) -> None:
    """Start the instances and complete each one's first orchestrator work item."""
    for instance_id in instance_ids:
        stub.StartInstance(pb.CreateInstanceRequest(instanceId=instance_id, name="orch"))
    stream = stub.GetWorkItems(pb.GetWorkItemsRequest())
    try:
        for _ in instance_ids:
            item = _first_orchestrator_item(stream)
            done = pb.OrchestratorAction(
                id=1,
                completeOrchestration=pb.CompleteOrchestrationAction(
                    orchestrationStatus=pb.ORCHESTRATION_STATUS_COMPLETED
                ),
            )
            stub.CompleteOrchestratorTask(
                _response(item.completionToken, done, instance_id=item.orchestratorRequest.instanceId)
            )
    finally:
        stream.cancel()


def test_a_purge_filter_with_an_unknown_runtime_status_is_refused_and_purges_nothing(stub):
    _finish_all(stub, ["p1"])
    bad = pb.PurgeInstancesRequest(
        purgeInstanceFilter=pb.PurgeInstanceFilter(runtimeStatus=[pb.ORCHESTRATION_STATUS_COMPLETED, 999])
    )
    code, details = _refusal(lambda: stub.PurgeInstances(bad))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    assert "purgeInstanceFilter.runtimeStatus" in details and "999" in details, details
    assert stub.GetInstance(pb.GetInstanceRequest(instanceId="p1")).exists
    good = pb.PurgeInstancesRequest(
        purgeInstanceFilter=pb.PurgeInstanceFilter(runtimeStatus=[pb.ORCHESTRATION_STATUS_COMPLETED])
    )
    assert stub.PurgeInstances(good).deletedInstanceCount == 1


def test_a_completion_with_an_unknown_orchestration_status_is_refused_naming_the_field(stub):
    stub.StartInstance(pb.CreateInstanceRequest(instanceId="s1", name="orch"))
    stream = stub.GetWorkItems(pb.GetWorkItemsRequest())
    try:
        item = _first_orchestrator_item(stream)
        odd = pb.OrchestratorAction(id=1, completeOrchestration=pb.CompleteOrchestrationAction(orchestrationStatus=999))
        code, details = _refusal(
            lambda: stub.CompleteOrchestratorTask(_response(item.completionToken, odd, instance_id="s1"))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "orchestrationStatus" in details, (code, details)
    finally:
        stream.cancel()


def test_query_continuation_tokens_the_fake_never_handed_out_are_refused_naming_the_token(stub, fake):
    for instance_id in ("q1", "q2", "q3"):
        stub.StartInstance(pb.CreateInstanceRequest(instanceId=instance_id, name="orch"))
    first = stub.QueryInstances(pb.QueryInstancesRequest(query=pb.InstanceQuery(maxInstanceCount=2)))
    assert [s.instanceId for s in first.orchestrationState] == ["q1", "q2"]
    issued = first.continuationToken
    second = stub.QueryInstances(
        pb.QueryInstancesRequest(query=pb.InstanceQuery(maxInstanceCount=2, continuationToken=issued))
    )
    assert [s.instanceId for s in second.orchestrationState] == ["q3"]
    assert not second.HasField("continuationToken")
    for token in ("no-such-token", "q3"):  # never handed out; "q3" even names an existing instance
        bogus = pb.QueryInstancesRequest(
            query=pb.InstanceQuery(continuationToken=wrappers_pb2.StringValue(value=token))
        )
        code, details = _refusal(lambda bogus=bogus: stub.QueryInstances(bogus))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
        assert "continuationToken" in details and f"'{token}'" in details, details
    fake.reset()  # a reset forgets the tokens it handed out, with the instances they paged through
    code, details = _refusal(
        lambda: stub.QueryInstances(pb.QueryInstancesRequest(query=pb.InstanceQuery(continuationToken=issued)))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'q2'" in details, (code, details)
    empty_token = pb.QueryInstancesRequest(query=pb.InstanceQuery(continuationToken=wrappers_pb2.StringValue()))
    assert list(stub.QueryInstances(empty_token).orchestrationState) == []  # an empty token means the first page


def test_list_instance_ids_keys_the_fake_never_handed_out_are_refused_naming_the_key(stub):
    _finish_all(stub, ["l1", "l2", "l3"])
    first = stub.ListInstanceIds(pb.ListInstanceIdsRequest(pageSize=2))
    assert len(first.instanceIds) == 2 and first.HasField("lastInstanceKey")
    second = stub.ListInstanceIds(pb.ListInstanceIdsRequest(pageSize=2, lastInstanceKey=first.lastInstanceKey))
    assert sorted([*first.instanceIds, *second.instanceIds]) == ["l1", "l2", "l3"]
    assert not second.HasField("lastInstanceKey")
    bogus = pb.ListInstanceIdsRequest(lastInstanceKey=wrappers_pb2.StringValue(value="2000-01-01|nobody"))
    code, details = _refusal(lambda: stub.ListInstanceIds(bogus))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, details)
    assert "lastInstanceKey" in details and "'2000-01-01|nobody'" in details, details
    assert stub.Hello(empty_pb2.Empty(), timeout=5) == empty_pb2.Empty()
