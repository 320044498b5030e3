"""The fake under load: thousands of concurrent WaitForInstance* calls never starve work-item streams or short
RPCs; beyond the fake's limit they are refused at once with RESOURCE_EXHAUSTED; a burst of calls is queued."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from durabletask_pytest import wait_until
from fake_e2e_helpers import connected

from durabletask_testing import FakeSidecar
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs

WAITS = 2000
BOUND_SECONDS = 30.0  # the waits' own deadline is longer: a starved worker shows as this bound, not theirs


def finish(ctx, _):
    """An orchestration that completes at once."""
    return "done"


def test_two_thousand_waits_do_not_starve_a_worker_that_connects_afterwards():
    with FakeSidecar(clock="manual") as sidecar, grpc.insecure_channel(sidecar.address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)
        ids = [f"wait-{n}" for n in range(WAITS)]
        starts = [stub.StartInstance.future(pb.CreateInstanceRequest(instanceId=i, name="finish")) for i in ids]
        for start in starts:
            start.result(timeout=BOUND_SECONDS)
        started = time.monotonic()
        waits = [
            stub.WaitForInstanceCompletion.future(pb.GetInstanceRequest(instanceId=i), timeout=10 * BOUND_SECONDS)
            for i in ids
        ]
        wait_until(lambda: sidecar.long_polls_in_flight == WAITS, timeout=BOUND_SECONDS, what="every wait to arrive")
        finished = threading.Semaphore(0)
        for wait in waits:
            wait.add_done_callback(lambda _: finished.release())
        with connected(sidecar, orchestrators=[finish]):
            for count in range(WAITS):
                if not finished.acquire(timeout=max(0.0, BOUND_SECONDS - (time.monotonic() - started))):
                    for wait in waits:
                        wait.cancel()
                    pytest.fail(f"{WAITS - count} of {WAITS} waits still pending after {BOUND_SECONDS} s")
        statuses = {wait.result().orchestrationState.orchestrationStatus for wait in waits}
        assert statuses == {pb.ORCHESTRATION_STATUS_COMPLETED}


def test_waits_beyond_the_limit_are_refused_at_once_and_short_rpcs_keep_answering():
    with FakeSidecar(clock="manual", max_long_polls=3) as sidecar, grpc.insecure_channel(sidecar.address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)
        stub.StartInstance(pb.CreateInstanceRequest(instanceId="slow", name="orch"))
        request = pb.GetInstanceRequest(instanceId="slow")
        held = [stub.WaitForInstanceStart.future(request, timeout=60) for _ in range(3)]
        wait_until(lambda: sidecar.long_polls_in_flight == 3, what="three waits to arrive")
        with pytest.raises(grpc.RpcError) as refused:
            stub.WaitForInstanceCompletion(request, timeout=5)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "3" in refused.value.details() and "long poll" in refused.value.details()
        assert stub.GetInstance(request, timeout=5).exists
        for wait in held:
            wait.cancel()
        wait_until(lambda: sidecar.long_polls_in_flight == 0, what="the cancelled waits to end")
        with pytest.raises(grpc.RpcError) as late:
            stub.WaitForInstanceCompletion(request, timeout=0.2)
        assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # admitted again once the others ended


def test_a_burst_of_short_calls_is_queued_never_cancelled():
    # grpc core cancels calls beyond 1,000 waiting to be served unless the server raises that limit
    with FakeSidecar(clock="manual") as sidecar, grpc.insecure_channel(sidecar.address) as channel:
        stub = stubs.TaskHubSidecarServiceStub(channel)
        calls = [stub.GetInstance.future(pb.GetInstanceRequest(instanceId=f"i{n}"), timeout=60) for n in range(4000)]
        failures = [error for error in (call.exception(timeout=60) for call in calls) if error is not None]
        assert not failures, f"{len(failures)} calls failed, e.g. {failures[0]}"


def test_work_item_streams_beyond_the_limit_are_refused_at_once():
    with FakeSidecar(clock="manual", max_work_item_streams=2) as sidecar, grpc.insecure_channel(sidecar.address) as ch:
        stub = stubs.TaskHubSidecarServiceStub(ch)
        open_streams = [stub.GetWorkItems(pb.GetWorkItemsRequest(), timeout=60) for _ in range(2)]
        wait_until(lambda: sidecar.work_item_streams_in_flight == 2, what="two streams to open")
        with pytest.raises(grpc.RpcError) as refused:
            next(stub.GetWorkItems(pb.GetWorkItemsRequest(), timeout=5))
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "2 work-item streams" in refused.value.details()
        stub.StartInstance(pb.CreateInstanceRequest(instanceId="served", name="orch"), timeout=5)
        for stream in open_streams:
            stream.cancel()
        wait_until(lambda: sidecar.work_item_streams_in_flight == 0, what="the cancelled streams to end")
