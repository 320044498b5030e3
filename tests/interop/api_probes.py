"""Probes of a sidecar's client API edge cases through a raw gRPC stub (no SDK, no worker).

Each probe sends one or a few requests and reports what came back as a small JSON-able dict:
``{"code": "OK" | gRPC status name, ...facts}``. Messages are not compared across sidecars (they are
free text); codes and facts are. Used to document durabletask-go's behaviour and to hold the fake to it.

Run directly to print every probe's result for a sidecar: ``python api_probes.py HOST:PORT``.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import wrappers_pb2

from durabletask.internal import orchestrator_service_pb2 as pb
from durabletask.internal import orchestrator_service_pb2_grpc as stubs

Stub = stubs.TaskHubSidecarServiceStub
Probe = Callable[[Stub, str], dict[str, Any]]
TIMEOUT = 5.0


def _call(method: Callable[..., Any], request: Any, timeout: float = TIMEOUT) -> tuple[str, Any, str]:
    """(status code name, response or None, details) of one unary call."""
    try:
        return "OK", method(request, timeout=timeout), ""
    except grpc.RpcError as error:
        return error.code().name, None, error.details() or ""


def _unknown_id(prefix: str) -> str:
    return f"{prefix}-missing-{uuid.uuid4().hex[:8]}"


def _start(stub: Stub, instance_id: str, name: str = "probe_orchestrator", **fields: Any) -> str:
    code, _, details = _call(stub.StartInstance, pb.CreateInstanceRequest(instanceId=instance_id, name=name,
                                                                          **fields))
    if code != "OK":
        raise AssertionError(f"StartInstance({instance_id}) failed: {code} {details}")
    return instance_id


def probe_get_unknown(stub: Stub, prefix: str) -> dict[str, Any]:
    code, response, _ = _call(stub.GetInstance, pb.GetInstanceRequest(instanceId=_unknown_id(prefix)))
    return {"code": code, "exists": bool(response and response.exists)}


def probe_raise_event_unknown(stub: Stub, prefix: str) -> dict[str, Any]:
    code, _, _ = _call(stub.RaiseEvent, pb.RaiseEventRequest(instanceId=_unknown_id(prefix), name="evt"))
    return {"code": code}


def probe_terminate_unknown(stub: Stub, prefix: str) -> dict[str, Any]:
    code, _, _ = _call(stub.TerminateInstance, pb.TerminateRequest(instanceId=_unknown_id(prefix)))
    return {"code": code}


def probe_suspend_unknown(stub: Stub, prefix: str) -> dict[str, Any]:
    code, _, _ = _call(stub.SuspendInstance, pb.SuspendRequest(instanceId=_unknown_id(prefix)))
    return {"code": code}


def probe_resume_unknown(stub: Stub, prefix: str) -> dict[str, Any]:
    code, _, _ = _call(stub.ResumeInstance, pb.ResumeRequest(instanceId=_unknown_id(prefix)))
    return {"code": code}


def probe_wait_completion_unknown(stub: Stub, prefix: str) -> dict[str, Any]:
    code, response, _ = _call(stub.WaitForInstanceCompletion, pb.GetInstanceRequest(instanceId=_unknown_id(prefix)),
                              timeout=2.0)
    return {"code": code, "exists": bool(response and response.exists)}


def probe_purge_unknown(stub: Stub, prefix: str) -> dict[str, Any]:
    code, response, _ = _call(stub.PurgeInstances, pb.PurgeInstancesRequest(instanceId=_unknown_id(prefix)))
    return {"code": code, "deleted": response.deletedInstanceCount if response else None}


def probe_duplicate_start(stub: Stub, prefix: str) -> dict[str, Any]:
    iid = _start(stub, f"{prefix}-dup-{uuid.uuid4().hex[:8]}")
    code, _, _ = _call(stub.StartInstance, pb.CreateInstanceRequest(instanceId=iid, name="probe_orchestrator"))
    return {"code": code}


def probe_pending_state(stub: Stub, prefix: str) -> dict[str, Any]:
    """A started instance that no worker has picked up: status and which payload fields are present."""
    iid = _start(stub, f"{prefix}-pending-{uuid.uuid4().hex[:8]}", input=wrappers_pb2.StringValue(value='"in"'),
                 version=wrappers_pb2.StringValue(value="1.2.3"))
    code, response, _ = _call(stub.GetInstance, pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=True))
    state = response.orchestrationState if response else pb.OrchestrationState()
    return {
        "code": code,
        "status": pb.OrchestrationStatus.Name(state.orchestrationStatus),
        "input": state.input.value if state.HasField("input") else None,
        "has_output_field": state.HasField("output"),
        "has_custom_status_field": state.HasField("customStatus"),
        "has_failure_details": state.HasField("failureDetails"),
        "version": state.version.value if state.HasField("version") else None,
        "name": state.name,
    }


def probe_pending_state_without_payloads(stub: Stub, prefix: str) -> dict[str, Any]:
    iid = _start(stub, f"{prefix}-nopayload-{uuid.uuid4().hex[:8]}", input=wrappers_pb2.StringValue(value='"in"'))
    code, response, _ = _call(stub.GetInstance, pb.GetInstanceRequest(instanceId=iid, getInputsAndOutputs=False))
    state = response.orchestrationState if response else pb.OrchestrationState()
    return {"code": code, "has_input_field": state.HasField("input")}


def probe_start_without_instance_id(stub: Stub, prefix: str) -> dict[str, Any]:
    code, response, _ = _call(stub.StartInstance, pb.CreateInstanceRequest(name="probe_orchestrator"))
    return {"code": code, "returned_id_empty": bool(response is not None and response.instanceId == "")}


def probe_stream_history_unknown(stub: Stub, prefix: str) -> dict[str, Any]:
    request = pb.StreamInstanceHistoryRequest(instanceId=_unknown_id(prefix))
    try:
        chunks = list(stub.StreamInstanceHistory(request, timeout=TIMEOUT))
        return {"code": "OK", "events": sum(len(c.events) for c in chunks)}
    except grpc.RpcError as error:
        return {"code": error.code().name}


def probe_query_instances(stub: Stub, prefix: str) -> dict[str, Any]:
    code, _, _ = _call(stub.QueryInstances, pb.QueryInstancesRequest(query=pb.InstanceQuery(maxInstanceCount=10)))
    return {"code": code}


def probe_complete_unknown_orchestrator_task(stub: Stub, prefix: str) -> dict[str, Any]:
    code, _, _ = _call(stub.CompleteOrchestratorTask,
                       pb.OrchestratorResponse(instanceId=_unknown_id(prefix), completionToken="bogus"))
    return {"code": code}


def probe_complete_unknown_activity_task(stub: Stub, prefix: str) -> dict[str, Any]:
    code, _, _ = _call(stub.CompleteActivityTask,
                       pb.ActivityResponse(instanceId=_unknown_id(prefix), taskId=1, completionToken="bogus"))
    return {"code": code}


def probe_restart_unknown(stub: Stub, prefix: str) -> dict[str, Any]:
    code, _, _ = _call(stub.RestartInstance, pb.RestartInstanceRequest(instanceId=_unknown_id(prefix)))
    return {"code": code}


def probe_hello(stub: Stub, prefix: str) -> dict[str, Any]:
    from google.protobuf import empty_pb2

    code, _, _ = _call(stub.Hello, empty_pb2.Empty())
    return {"code": code}


PROBES: dict[str, Probe] = {
    "hello": probe_hello,
    "get_unknown": probe_get_unknown,
    "raise_event_unknown": probe_raise_event_unknown,
    "terminate_unknown": probe_terminate_unknown,
    "suspend_unknown": probe_suspend_unknown,
    "resume_unknown": probe_resume_unknown,
    "wait_completion_unknown": probe_wait_completion_unknown,
    "purge_unknown": probe_purge_unknown,
    "duplicate_start": probe_duplicate_start,
    "pending_state": probe_pending_state,
    "pending_state_without_payloads": probe_pending_state_without_payloads,
    "start_without_instance_id": probe_start_without_instance_id,
    "stream_history_unknown": probe_stream_history_unknown,
    "query_instances": probe_query_instances,
    "complete_unknown_orchestrator_task": probe_complete_unknown_orchestrator_task,
    "complete_unknown_activity_task": probe_complete_unknown_activity_task,
    "restart_unknown": probe_restart_unknown,
}


def run_probes(address: str, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Run the named probes (all by default) against the sidecar at ``address``."""
    channel = grpc.insecure_channel(address)
    try:
        stub = Stub(channel)
        prefix = f"probe-{uuid.uuid4().hex[:6]}"
        return {name: PROBES[name](stub, prefix) for name in (names or list(PROBES))}
    finally:
        channel.close()


if __name__ == "__main__":
    print(json.dumps(run_probes(sys.argv[1]), indent=2, sort_keys=True))
