"""End-to-end: the fake's gRPC surface — statuses for bad input, auth, long polls, stop, and the CLI."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest
from fake_e2e_helpers import connected, hello, reap, sequence
from google.protobuf import empty_pb2

from durabletask_testing import FakeSidecar
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

EXPECTED = '["Hello Tokyo!", "Hello Seattle!", "Hello London!"]'


@pytest.fixture
def sidecar():
    with FakeSidecar(clock="manual", max_payload_bytes=1024) as running:
        yield running


@pytest.fixture
def stub(sidecar):
    channel = grpc.insecure_channel(sidecar.address)
    yield stubs.TaskHubSidecarServiceStub(channel)
    channel.close()


def _code(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value.code(), error.value.details()


def test_hello(stub):
    assert stub.Hello(empty_pb2.Empty()) == empty_pb2.Empty()


def test_bad_input_gets_precise_statuses_and_the_server_keeps_serving(stub):
    code, details = _code(lambda: stub.StartInstance(pb.CreateInstanceRequest(instanceId="a")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "name" in details
    code, details = _code(lambda: stub.RaiseEvent(pb.RaiseEventRequest(instanceId="ghost", name="e")))
    assert code == grpc.StatusCode.NOT_FOUND and "ghost" in details
    code, details = _code(lambda: stub.RaiseEvent(pb.RaiseEventRequest(instanceId="", name="e")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "instanceId" in details
    big = pb.CreateInstanceRequest(instanceId="big", name="orch")
    big.input.value = "x" * 2000
    code, details = _code(lambda: stub.StartInstance(big))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "input" in details and "1024" in details
    stub.StartInstance(pb.CreateInstanceRequest(instanceId="ok", name="orch"))
    code, details = _code(lambda: stub.StartInstance(pb.CreateInstanceRequest(instanceId="ok", name="orch")))
    assert code == grpc.StatusCode.ALREADY_EXISTS and "ok" in details
    code, details = _code(lambda: stub.CompleteOrchestratorTask(pb.OrchestratorResponse(completionToken="o77")))
    assert code == grpc.StatusCode.NOT_FOUND and "o77" in details
    code, details = _code(lambda: stub.PurgeInstances(pb.PurgeInstancesRequest(instanceId="ok")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "ok" in details
    assert stub.GetInstance(pb.GetInstanceRequest(instanceId="ok")).exists
    assert not stub.GetInstance(pb.GetInstanceRequest(instanceId="nope")).exists


def test_entity_rpcs_refuse_malformed_entity_ids_and_answer_unknown_ones(stub):
    code, details = _code(lambda: stub.SignalEntity(pb.SignalEntityRequest(instanceId="counter-1", name="op")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "@name@key" in details
    code, details = _code(lambda: stub.GetEntity(pb.GetEntityRequest(instanceId="@@k")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'@@k'" in details
    assert stub.GetEntity(pb.GetEntityRequest(instanceId="@counter@unknown")).exists is False


def test_long_poll_is_bounded_by_the_callers_deadline(stub):
    stub.StartInstance(pb.CreateInstanceRequest(instanceId="slow", name="orch"))
    started = time.perf_counter()
    code, _ = _code(lambda: stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId="slow"), timeout=0.2))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.perf_counter() - started < 2.0


def test_stop_ends_streams_and_long_polls_promptly():
    sidecar = FakeSidecar(clock="manual").start()
    channel = grpc.insecure_channel(sidecar.address)
    stub = stubs.TaskHubSidecarServiceStub(channel)
    stub.StartInstance(pb.CreateInstanceRequest(instanceId="w", name="orch"))
    outcome: list = []

    def long_poll() -> None:
        try:
            stub.WaitForInstanceCompletion(pb.GetInstanceRequest(instanceId="w"), timeout=30)
        except grpc.RpcError as error:
            outcome.append(error.code())

    stream = stub.GetWorkItems(pb.GetWorkItemsRequest())
    first = next(stream)
    assert first.HasField("orchestratorRequest")
    poller = threading.Thread(target=long_poll)
    poller.start()
    started = time.perf_counter()
    sidecar.stop()
    assert time.perf_counter() - started < 0.5
    poller.join(5)
    assert outcome and outcome[0] in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    with pytest.raises(grpc.RpcError):
        next(stream)
    channel.close()


def test_api_token_is_required_when_set():
    with FakeSidecar(clock="auto", api_token="s3cret") as sidecar:
        channel = grpc.insecure_channel(sidecar.address)
        stub = stubs.TaskHubSidecarServiceStub(channel)
        code, details = _code(lambda: stub.Hello(empty_pb2.Empty()))
        assert code == grpc.StatusCode.UNAUTHENTICATED and "authorization" in details
        code, _ = _code(lambda: stub.Hello(empty_pb2.Empty(), metadata=[("authorization", "Bearer wrong")]))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        code, _ = _code(lambda: next(stub.GetWorkItems(pb.GetWorkItemsRequest())))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        channel.close()
        auth = [("authorization", "Bearer s3cret")]
        with connected(sidecar, [sequence], [hello], metadata=auth) as c:
            instance_id = c.schedule_new_orchestration(sequence)
            state = c.wait_for_orchestration_completion(instance_id, timeout=10)
            assert state is not None and state.serialized_output == EXPECTED


def test_cli_serves_on_a_free_port_and_exits_zero_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "durabletask_testing", "serve", "--port", "0", "--clock", "auto"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), (line, process.stderr.read() if process.poll() else "")
        address = line.split()[-1]
        port = int(address.rsplit(":", 1)[1])
        assert port > 0
        sidecar_like = type("Address", (), {"address": address})()
        with connected(sidecar_like, [sequence], [hello]) as c:
            instance_id = c.schedule_new_orchestration(sequence)
            state = c.wait_for_orchestration_completion(instance_id, timeout=10)
            assert state is not None and state.serialized_output == EXPECTED
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        reap(process)


def test_cli_help_documents_every_option():
    result = subprocess.run(
        [sys.executable, "-m", "durabletask_testing", "serve", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    for option in ("--host", "--port", "--clock", "--start-time", "--api-token", "--max-payload-bytes"):
        assert option in result.stdout


def test_idle_work_item_streams_receive_health_pings():
    with FakeSidecar(clock="manual", health_ping_interval=0.05) as sidecar:
        channel = grpc.insecure_channel(sidecar.address)
        stream = stubs.TaskHubSidecarServiceStub(channel).GetWorkItems(pb.GetWorkItemsRequest())
        assert next(stream).HasField("healthPing")
        stream.cancel()
        channel.close()


def test_an_unexpected_error_in_a_streaming_rpc_answers_internal_and_the_server_keeps_serving(
    sidecar, stub, monkeypatch
) -> None:
    engine = sidecar._engine

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the engine")

    monkeypatch.setattr(engine, "stream_instance_history", broken)
    code, details = _code(lambda: list(stub.StreamInstanceHistory(pb.StreamInstanceHistoryRequest(instanceId="x"),
                                                                  timeout=5)))
    assert code == grpc.StatusCode.INTERNAL
    assert "StreamInstanceHistory failed inside the fake sidecar" in details and "a bug in the engine" in details
    monkeypatch.setattr(engine, "next_work_item", broken)
    code, details = _code(lambda: list(stub.GetWorkItems(pb.GetWorkItemsRequest(), timeout=5)))
    assert code == grpc.StatusCode.INTERNAL and "GetWorkItems failed inside the fake sidecar" in details
    assert not stub.GetInstance(pb.GetInstanceRequest(instanceId="x"), timeout=5).exists
