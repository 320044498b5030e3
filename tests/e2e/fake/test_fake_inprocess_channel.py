"""The in-process channel: the SDK's worker and client talk to the fake without sockets."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from fake_e2e_helpers import (
    fan_out_fan_in,
    get_work_items,
    hello,
    place_order,
    process_work_item,
    purchase_order_workflow,
    send_approval_request,
    sequence,
)
from google.protobuf import empty_pb2

from durabletask import client, worker
from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs
from durabletask_testing import FakeSidecar

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _run(sidecar: FakeSidecar, orchestrators, activities):
    w = worker.TaskHubGrpcWorker(channel=sidecar.channel())
    for fn in orchestrators:
        w.add_orchestrator(fn)
    for fn in activities:
        w.add_activity(fn)
    w.start()
    return w, client.TaskHubGrpcClient(channel=sidecar.channel())


def test_patterns_run_over_the_in_process_channel():
    with FakeSidecar(clock="manual", start_time=START) as sidecar:
        w, c = _run(
            sidecar,
            [sequence, fan_out_fan_in, purchase_order_workflow],
            [hello, get_work_items, process_work_item, send_approval_request, place_order],
        )
        try:
            chain = c.schedule_new_orchestration(sequence)
            fan = c.schedule_new_orchestration(fan_out_fan_in, input=30)
            order = c.schedule_new_orchestration(purchase_order_workflow, input={"cost": 5000, "product": "x"})
            state = c.wait_for_orchestration_completion(chain, timeout=10)
            assert json.loads(state.serialized_output) == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
            assert json.loads(c.wait_for_orchestration_completion(fan, timeout=10).serialized_output)["total"] == 435
            assert sidecar.wait_until_idle(timeout=10)
            sidecar.clock.advance(timedelta(hours=24))
            assert c.wait_for_orchestration_completion(order, timeout=10).serialized_output == '"Canceled"'
        finally:
            c.close()
            w.stop()


def test_statuses_deadlines_and_auth_behave_like_grpc():
    with FakeSidecar(clock="manual", api_token="t0ken") as sidecar:
        stub = stubs.TaskHubSidecarServiceStub(sidecar.channel())
        with pytest.raises(grpc.RpcError) as error:
            stub.Hello(empty_pb2.Empty())
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
        auth = [("authorization", "Bearer t0ken")]
        with pytest.raises(grpc.RpcError) as error:
            stub.StartInstance(pb.CreateInstanceRequest(instanceId="x"), metadata=auth)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "name" in error.value.details()
        stub.StartInstance(pb.CreateInstanceRequest(instanceId="x", name="orch"), metadata=auth)
        started = time.perf_counter()
        with pytest.raises(grpc.RpcError) as error:
            stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId="x"), timeout=0.1, metadata=auth)
        assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and time.perf_counter() - started < 2
        with pytest.raises(grpc.RpcError) as error:
            stub.GetEntity(pb.GetEntityRequest(instanceId="@a@b"), metadata=auth)
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_cancel_ends_a_waiting_stream_and_its_work_is_dispatched_again():
    with FakeSidecar(clock="manual") as sidecar:
        stub = stubs.TaskHubSidecarServiceStub(sidecar.channel())
        stub.StartInstance(pb.CreateInstanceRequest(instanceId="x", name="orch"))
        stream = stub.GetWorkItems(pb.GetWorkItemsRequest())
        first = next(stream)
        assert first.orchestratorRequest.instanceId == "x"
        outcome: list = []

        def read() -> None:
            try:
                next(stream)
            except grpc.RpcError as error:
                outcome.append(error.code())

        reader = threading.Thread(target=read)
        reader.start()
        stream.cancel()
        reader.join(5)
        assert outcome == [grpc.StatusCode.CANCELLED]
        again = next(stub.GetWorkItems(pb.GetWorkItemsRequest()))
        assert again.orchestratorRequest.instanceId == "x" and again.completionToken != first.completionToken


def test_calls_after_stop_are_unavailable():
    sidecar = FakeSidecar(clock="manual").start()
    stub = stubs.TaskHubSidecarServiceStub(sidecar.channel())
    stub.Hello(empty_pb2.Empty())
    sidecar.stop()
    with pytest.raises(grpc.RpcError) as error:
        stub.Hello(empty_pb2.Empty())
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE


def test_cancelling_an_idle_stream_hands_its_work_back_at_once():
    with FakeSidecar(clock="manual") as sidecar:
        stub = stubs.TaskHubSidecarServiceStub(sidecar.channel())
        stub.StartInstance(pb.CreateInstanceRequest(instanceId="x", name="orch"))
        stream = stub.GetWorkItems(pb.GetWorkItemsRequest())
        first = next(stream)
        stream.cancel()  # nobody is iterating: the server side must still clean up now, not at GC
        again = next(stub.GetWorkItems(pb.GetWorkItemsRequest()))
        assert again.orchestratorRequest.instanceId == "x" and again.completionToken != first.completionToken
        with pytest.raises(grpc.RpcError) as error:
            next(stream)
        assert error.value.code() == grpc.StatusCode.CANCELLED
