"""The task hub a fake serves: the ``taskhub`` header of Durable Task Scheduler clients is checked against it.

Our SDK's client sends the header as plain metadata here (the scheduler's classes are tested in their own venv,
``tests/interop/test_azuremanaged_sdk_on_fake.py``); the calls and the refusals are real gRPC.
"""

from __future__ import annotations

import subprocess
import sys

import grpc
import pytest
from fake_e2e_helpers import reap
from google.protobuf import empty_pb2

from durabletask import client as dt_client
from durabletask_testing import FakeSidecar
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs
from durabletask_testing.shell import check_task_hub


def _hello(address: str, metadata: list[tuple[str, str]] | None) -> grpc.StatusCode:
    with grpc.insecure_channel(address) as channel:
        try:
            stubs.TaskHubSidecarServiceStub(channel).Hello(empty_pb2.Empty(), metadata=metadata, timeout=5)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def test_a_call_naming_another_hub_is_refused_with_not_found_naming_both():
    with FakeSidecar(clock="manual", task_hub="orders") as sidecar:
        client = dt_client.TaskHubGrpcClient(host_address=sidecar.address, metadata=[("taskhub", "payments")])
        try:
            with pytest.raises(grpc.RpcError) as raised:
                client.schedule_new_orchestration("anything")
        finally:
            client.close()
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        assert "task hub not found: 'payments'" in raised.value.details()
        assert "'orders'" in raised.value.details()
        assert sidecar.instances() == []  # nothing reached the engine


def test_the_fakes_own_hub_and_calls_without_the_header_are_served():
    with FakeSidecar(clock="manual", task_hub="orders") as sidecar:
        assert _hello(sidecar.address, [("taskhub", "orders")]) == grpc.StatusCode.OK
        assert _hello(sidecar.address, None) == grpc.StatusCode.OK  # any other SDK
        assert _hello(sidecar.address, [("taskhub", "Orders")]) == grpc.StatusCode.NOT_FOUND  # case matters
        assert sidecar.task_hub == "orders" and "task_hub='orders'" in repr(sidecar)


def test_without_a_hub_the_header_is_ignored():
    with FakeSidecar(clock="manual") as sidecar:
        assert sidecar.task_hub is None
        assert _hello(sidecar.address, [("taskhub", "whatever")]) == grpc.StatusCode.OK


def test_the_api_token_is_checked_before_the_hub():
    with FakeSidecar(clock="manual", api_token="s3cret", task_hub="orders") as sidecar:
        assert _hello(sidecar.address, [("taskhub", "payments")]) == grpc.StatusCode.UNAUTHENTICATED
        assert _hello(sidecar.address, [("taskhub", "payments"), ("authorization", "Bearer s3cret")]) == \
            grpc.StatusCode.NOT_FOUND
        assert _hello(sidecar.address, [("taskhub", "orders"), ("authorization", "Bearer s3cret")]) == \
            grpc.StatusCode.OK


@pytest.mark.parametrize("name, problem", [("", "must not be empty"), ("my hub", "without spaces"),
                                           ("h\u00e9", "printable ASCII"), (7, "must be a string"),
                                           ("x" * 257, "at most 256")])
def test_a_bad_hub_name_is_refused_naming_the_problem(name, problem):
    with pytest.raises(ValueError, match=problem):
        check_task_hub(name)
    with pytest.raises(ValueError, match=problem):
        FakeSidecar(task_hub=name)


def test_the_cli_refuses_a_bad_task_hub_naming_the_option():
    result = subprocess.run([sys.executable, "-m", "durabletask_testing", "serve", "--port", "0", "--task-hub", "a b"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--task-hub: a task hub name must be printable ASCII without spaces" in result.stderr


def test_the_cli_serves_the_task_hub_it_is_given():
    process = subprocess.Popen([sys.executable, "-m", "durabletask_testing", "serve", "--port", "0", "--no-control",
                                "--task-hub", "orders"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on "), (line, process.stderr.read())
        address = line.removeprefix("listening on ").strip()
        assert _hello(address, [("taskhub", "orders")]) == grpc.StatusCode.OK
        assert _hello(address, [("taskhub", "default")]) == grpc.StatusCode.NOT_FOUND
    finally:
        reap(process)
