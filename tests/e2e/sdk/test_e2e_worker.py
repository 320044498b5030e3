"""End-to-end over real gRPC: worker lifecycle (fast start/stop, reconnects, metadata) and the client API."""

from __future__ import annotations

import socket
import time

import grpc
import pytest
from sdk_e2e_helpers import wait_until

from durabletask import client, task, worker
from durabletask_testing import FakeSidecar


def echo(ctx: task.ActivityContext, value):
    return {"value": value, "orchestration_id": ctx.orchestration_id, "task_id": ctx.task_id}


def steps(ctx: task.OrchestrationContext, count: int):
    results = []
    for i in range(count):
        results.append((yield ctx.call_activity(echo, input=i)))
    return results


def test_stop_on_idle_worker_is_fast_and_start_does_not_block(durable_sidecar, durable_client):
    w = worker.TaskHubGrpcWorker(host_address=durable_sidecar.address)
    w.add_orchestrator(steps)
    w.add_activity(echo)
    began = time.perf_counter()
    w.start()
    assert time.perf_counter() - began < 0.1
    iid = durable_client.schedule_new_orchestration(steps, input=1)
    durable_client.wait_for_orchestration_completion(iid, timeout=10)  # connected and idle now
    began = time.perf_counter()
    w.stop()
    assert time.perf_counter() - began < 0.1
    assert not w.is_running


def test_stop_of_worker_that_cannot_connect_is_fast():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = worker.TaskHubGrpcWorker(host_address=f"127.0.0.1:{port}")
    w.start()
    began = time.perf_counter()
    w.stop()
    assert time.perf_counter() - began < 0.1


def test_worker_started_before_sidecar_connects_when_it_comes_up():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with worker.TaskHubGrpcWorker(host_address=f"127.0.0.1:{port}") as w:
        w.add_orchestrator(steps)
        w.add_activity(echo)
        w.start()
        with FakeSidecar(clock="auto", port=port) as fake, client.TaskHubGrpcClient(host_address=fake.address) as c:
            iid = c.schedule_new_orchestration(steps, input=2, instance_id="late-sidecar")
            state = c.wait_for_orchestration_completion(iid, timeout=10)
            assert [r["value"] for r in state.get_output()] == [0, 1]
            assert state.get_output()[1] == {"value": 1, "orchestration_id": "late-sidecar", "task_id": 2}
    assert not w.is_running


def test_worker_reconnects_when_the_stream_breaks_and_loses_no_work(durable_faults, durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[steps], activities=[echo])
    durable_faults.disconnect_workers(after=3)
    iid = durable_client.schedule_new_orchestration(steps, input=6)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert [r["value"] for r in state.get_output()] == list(range(6))


def test_metadata_is_sent_on_every_call():
    with FakeSidecar(clock="auto", port=0, api_token="s3cret") as fake:
        auth = [("authorization", "Bearer s3cret")]
        with worker.TaskHubGrpcWorker(host_address=fake.address, metadata=auth) as w, \
                client.TaskHubGrpcClient(host_address=fake.address, metadata=auth) as c:
            w.add_orchestrator(steps)
            w.add_activity(echo)
            w.start()
            iid = c.schedule_new_orchestration(steps, input=1)
            assert c.wait_for_orchestration_completion(iid, timeout=10).runtime_status.name == "COMPLETED"
        with client.TaskHubGrpcClient(host_address=fake.address) as anonymous, pytest.raises(grpc.RpcError) as err:
            anonymous.get_orchestration_state("x")
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_registration_rules(durable_sidecar):
    w = worker.TaskHubGrpcWorker(host_address=durable_sidecar.address)
    assert w.add_orchestrator(steps) == "steps"
    assert w.add_activity(echo, name="echo2") == "echo2"
    with pytest.raises(ValueError, match="already exists"):
        w.add_orchestrator(steps)
    with pytest.raises(ValueError, match="lambda"):
        w.add_activity(lambda ctx, x: x)
    w.start()
    try:
        with pytest.raises(RuntimeError):
            w.add_activity(echo)
        with pytest.raises(RuntimeError):
            w.start()
    finally:
        w.stop()


def test_get_work_items_request_carries_concurrency_limits(durable_sidecar, durable_client, start_worker):
    options = worker.ConcurrencyOptions(maximum_concurrent_activity_work_items=1,
                                        maximum_concurrent_orchestration_work_items=1,
                                        maximum_thread_pool_workers=2)
    start_worker([steps], [echo], concurrency_options=options)
    iid = durable_client.schedule_new_orchestration(steps, input=2)
    wait_until(lambda: len(durable_sidecar.engine.connections()) == 1)
    (connection,) = durable_sidecar.engine.connections()
    assert (connection.max_orchestrators, connection.max_activities) == (1, 1)
    assert durable_client.wait_for_orchestration_completion(iid, timeout=10).runtime_status.name == "COMPLETED"
    with pytest.raises(ValueError):
        worker.ConcurrencyOptions(maximum_thread_pool_workers=0)


def test_wait_for_start_and_timeout(durable_client, durable_worker):
    iid = durable_client.schedule_new_orchestration(steps, input=0)
    with pytest.raises(TimeoutError):
        durable_client.wait_for_orchestration_start(iid, timeout=0.1)
    durable_worker.start_with(orchestrators=[steps], activities=[echo])
    state = durable_client.wait_for_orchestration_start(iid, timeout=10)
    assert state.runtime_status in (client.OrchestrationStatus.RUNNING, client.OrchestrationStatus.COMPLETED)
    wait_until(lambda: durable_client.get_orchestration_state(iid).runtime_status
               == client.OrchestrationStatus.COMPLETED)


def test_default_host_address():
    from durabletask.internal.grpc_channel import get_default_host_address

    assert get_default_host_address() == "localhost:4001"
    c = client.TaskHubGrpcClient()
    try:
        assert c._host_address == "localhost:4001"
    finally:
        c.close()


def sends_to_nobody(ctx: task.OrchestrationContext, _):
    ctx.set_custom_status("x" * 200)
    yield ctx.call_activity(echo, input="y" * 5000)


def test_orchestration_fails_instead_of_hanging_when_the_sidecar_rejects_its_actions():
    with FakeSidecar(clock="auto", port=0, max_payload_bytes=1000) as fake, \
            client.TaskHubGrpcClient(host_address=fake.address) as c, \
            worker.TaskHubGrpcWorker(host_address=fake.address) as w:
        w.add_orchestrator(sends_to_nobody)
        w.add_activity(echo)
        w.start()
        iid = c.schedule_new_orchestration(sends_to_nobody)
        state = c.wait_for_orchestration_completion(iid, timeout=10)
        assert state.runtime_status == client.OrchestrationStatus.FAILED
        assert "rejected" in state.failure_details.message
