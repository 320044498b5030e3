"""Size limits at the gRPC boundary: every string of a request (ids, names, versions, tags, reasons, event names,
nested actions) and the whole request are bounded; a refusal names the field and the limit, stores nothing, and
status messages stay small enough for every client, whatever they echo."""

from __future__ import annotations

import grpc
import pytest

from durabletask_testing import FakeSidecar
from durabletask_testing.messages import MAX_MESSAGE_CHARS
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs
from durabletask_testing.shell import Limits

INVALID = grpc.StatusCode.INVALID_ARGUMENT
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
PAYLOAD = 4096
LIMITS = Limits()


@pytest.fixture(scope="module")
def sidecar():
    with FakeSidecar(clock="manual", max_payload_bytes=PAYLOAD) as running:
        yield running


@pytest.fixture(scope="module")
def stub(sidecar):
    with grpc.insecure_channel(sidecar.address) as channel:
        yield stubs.TaskHubSidecarServiceStub(channel)


def _refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value


def _start(**fields) -> pb.CreateInstanceRequest:
    request = pb.CreateInstanceRequest(instanceId=fields.pop("instanceId", "i"), name=fields.pop("name", "orch"))
    if "version" in fields:
        request.version.value = fields.pop("version")
    request.tags.update(fields.pop("tags", {}))
    assert not fields
    return request


LONG_ID = "i" * (LIMITS.id_bytes + 1)
LONG_NAME = "n" * (LIMITS.name_bytes + 1)

START_CASES = {
    "instance id": (_start(instanceId=LONG_ID), INVALID, "instanceId", LIMITS.id_bytes),
    "name": (_start(name=LONG_NAME), INVALID, "name", LIMITS.name_bytes),
    "version": (_start(version="v" * (LIMITS.name_bytes + 1)), INVALID, "version", LIMITS.name_bytes),
    "tag key": (_start(tags={"k" * (LIMITS.name_bytes + 1): "v"}), INVALID, "tags[", LIMITS.name_bytes),
    "tag value": (_start(tags={"k": "é" * LIMITS.tag_value_bytes}), INVALID, "tags['k']", LIMITS.tag_value_bytes),
    "all tags": (
        _start(tags={f"k{n}": "v" * 1000 for n in range(LIMITS.tags_bytes // 1000 + 1)}), EXHAUSTED, "tags",
        LIMITS.tags_bytes,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", START_CASES, ids=list(START_CASES))
def test_start_instance_strings_over_their_limit_are_refused_and_nothing_is_stored(stub, sidecar, case):
    request, code, field, limit = START_CASES[case]
    error = _refused(lambda: stub.StartInstance(request, timeout=5))
    assert error.code() == code
    assert field in error.details() and str(limit) in error.details()
    assert len(error.details()) <= MAX_MESSAGE_CHARS
    assert sidecar.instance(request.instanceId) is None


def test_client_rpc_strings_over_their_limit_are_refused(stub):
    stub.StartInstance(_start(instanceId="live"), timeout=5)
    error = _refused(lambda: stub.RaiseEvent(pb.RaiseEventRequest(instanceId="live", name=LONG_NAME), timeout=5))
    assert error.code() == INVALID and "name" in error.details() and str(LIMITS.name_bytes) in error.details()
    suspend = pb.SuspendRequest(instanceId="live")
    suspend.reason.value = "r" * (LIMITS.reason_bytes + 1)
    error = _refused(lambda: stub.SuspendInstance(suspend, timeout=5))
    assert error.code() == INVALID and "reason" in error.details() and str(LIMITS.reason_bytes) in error.details()
    query = pb.QueryInstancesRequest()
    query.query.instanceIdPrefix.value = LONG_ID
    error = _refused(lambda: stub.QueryInstances(query, timeout=5))
    assert error.code() == INVALID and "query.instanceIdPrefix" in error.details()
    stream = stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId=LONG_ID), timeout=5)
    error = _refused(lambda: list(stream))
    assert error.code() == INVALID and "instanceId" in error.details()


def test_worker_rpc_strings_are_checked_wherever_they_are_nested(stub):
    action = pb.OrchestratorAction(id=0, scheduleTask=pb.ScheduleTaskAction(name=LONG_NAME))
    response = pb.OrchestratorResponse(instanceId="live", completionToken="o1", actions=[action])
    error = _refused(lambda: stub.CompleteOrchestratorTask(response, timeout=5))
    assert error.code() == INVALID and "actions[0].scheduleTask.name" in error.details()
    carried = pb.HistoryEvent(eventId=-1, eventRaised=pb.EventRaisedEvent(name="e"))
    carried.eventRaised.input.value = "x" * (PAYLOAD + 1)
    complete = pb.CompleteOrchestrationAction(
        orchestrationStatus=pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW, carryoverEvents=[carried]
    )
    response = pb.OrchestratorResponse(
        instanceId="live", completionToken="o1",
        actions=[pb.OrchestratorAction(id=1, completeOrchestration=complete)],
    )  # fmt: skip
    error = _refused(lambda: stub.CompleteOrchestratorTask(response, timeout=5))
    assert error.code() == EXHAUSTED
    assert "actions[0].completeOrchestration.carryoverEvents[0].eventRaised.input" in error.details()
    assert str(PAYLOAD) in error.details()
    stream = stub.GetWorkItems(pb.GetWorkItemsRequest(worker_instance_id=LONG_ID), timeout=5)
    error = _refused(lambda: next(stream))
    assert error.code() == INVALID and "worker_instance_id" in error.details()


def test_a_request_over_the_whole_request_limit_is_refused_by_grpc():
    limits = Limits(request_bytes=64 * 1024)
    with FakeSidecar(clock="manual", max_payload_bytes=1024, limits=limits) as sidecar:
        with grpc.insecure_channel(sidecar.address) as channel:
            stub = stubs.TaskHubSidecarServiceStub(channel)
            big = _start(tags={f"k{n}": "v" * 1000 for n in range(100)})
            error = _refused(lambda: stub.StartInstance(big, timeout=5))
            assert error.code() == EXHAUSTED and str(64 * 1024) in error.details()
            assert stub.StartInstance(_start(instanceId="after"), timeout=5).instanceId == "after"


def test_limits_must_be_positive_and_leave_room_for_a_payload():
    with pytest.raises(ValueError, match="id_bytes"):
        Limits(id_bytes=0)
    with pytest.raises(ValueError, match="request_bytes"):
        FakeSidecar(max_payload_bytes=2048, limits=Limits(request_bytes=1024))


# ---------------------------------------------------------------------------------------------- echoed values


def test_an_unknown_long_id_gets_not_found_with_a_bounded_message(stub):
    unknown = "u" * (LIMITS.id_bytes - 10)
    error = _refused(lambda: stub.RaiseEvent(pb.RaiseEventRequest(instanceId=unknown, name="e"), timeout=5))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert len(error.details()) <= MAX_MESSAGE_CHARS and "uuuu" in error.details()
    token = "a" + "9" * (LIMITS.id_bytes - 10)
    error = _refused(lambda: stub.AbandonTaskActivityWorkItem(
        pb.AbandonActivityTaskRequest(completionToken=token), timeout=5))  # fmt: skip
    assert error.code() == grpc.StatusCode.NOT_FOUND and len(error.details()) <= MAX_MESSAGE_CHARS


def test_a_20_kb_id_gets_its_own_status_not_the_clients_trailer_limit(stub):
    error = _refused(lambda: stub.RaiseEvent(pb.RaiseEventRequest(instanceId="x" * 20_000, name="e"), timeout=5))
    assert error.code() == INVALID and "instanceId is 20000 bytes" in error.details()
    token = "a" + "9" * 20_000  # too many digits for int(): once an INTERNAL error
    error = _refused(lambda: stub.CompleteActivityTask(pb.ActivityResponse(completionToken=token), timeout=5))
    assert error.code() == INVALID and "completionToken" in error.details()


def test_whatever_the_engine_echoes_the_status_message_stays_bounded():
    with FakeSidecar(clock="manual", limits=Limits(id_bytes=64 * 1024)) as sidecar:
        with grpc.insecure_channel(sidecar.address) as channel:
            stub = stubs.TaskHubSidecarServiceStub(channel)
            unknown = "z" * 20_000
            error = _refused(lambda: stub.RaiseEvent(pb.RaiseEventRequest(instanceId=unknown, name="e"), timeout=5))
            assert error.code() == grpc.StatusCode.NOT_FOUND
            assert len(error.details()) <= MAX_MESSAGE_CHARS and "characters cut" in error.details()
