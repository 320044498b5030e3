"""End-to-end: long polls from clients that set no gRPC deadline (the JavaScript SDK sends none).

Without a deadline, grpc's ``time_remaining()`` is enormous; the fake must treat it as "wait until done"
rather than pass it to a lock wait, which raised OverflowError and answered INTERNAL.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from durabletask import task, worker
from durabletask_testing import FakeSidecar
from durabletask_testing.protocol import orchestrator_service_pb2 as pb
from durabletask_testing.protocol import orchestrator_service_pb2_grpc as stubs


def wait_for_go(ctx: task.OrchestrationContext, _: Any):
    """Completes with the payload of the external event "go"."""
    return (yield ctx.wait_for_external_event("go"))


def test_a_completion_wait_without_deadline_blocks_until_the_instance_completes() -> None:
    with FakeSidecar(clock="manual") as sidecar, worker.TaskHubGrpcWorker(host_address=sidecar.address) as w:
        w.add_orchestrator(wait_for_go)
        w.start()
        channel = grpc.insecure_channel(sidecar.address)
        try:
            stub = stubs.TaskHubSidecarServiceStub(channel)
            stub.StartInstance(pb.CreateInstanceRequest(instanceId="open-ended", name="wait_for_go"), timeout=5)
            request = pb.GetInstanceRequest(instanceId="open-ended", getInputsAndOutputs=True)
            waiting = stub.WaitForInstanceCompletion.future(request)  # no timeout: no gRPC deadline
            with pytest.raises(grpc.FutureTimeoutError):
                waiting.result(timeout=0.3)  # still waiting: it neither failed nor returned early
            event = pb.RaiseEventRequest(instanceId="open-ended", name="go")
            event.input.value = '"now"'
            stub.RaiseEvent(event, timeout=5)
            response = waiting.result(timeout=5)
        finally:
            channel.close()
    assert response.exists
    assert response.orchestrationState.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    assert response.orchestrationState.output.value == '"now"'
