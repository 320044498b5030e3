"""Tests of suspending, resuming and terminating a running orchestration."""

from __future__ import annotations

import grpc
from durabletask_pytest import wait_until
from suspend_resume_terminate import collect_signatures, main, register

from durabletask import client

Status = client.OrchestrationStatus


def start_contract(durable_worker, durable_client, required: int) -> str:
    register(durable_worker)
    durable_worker.start()
    instance_id = durable_client.schedule_new_orchestration(collect_signatures, input=required)
    durable_client.wait_for_orchestration_start(instance_id, timeout=10)
    return instance_id


def wait_for_status(durable_client, instance_id: str, status: Status, timeout: float = 5.0) -> None:
    """Poll until the instance reports ``status``: a real sidecar updates it only after the worker's reply."""
    wait_until(lambda: durable_client.get_orchestration_state(instance_id).runtime_status == status,
               timeout=timeout, what=f"{instance_id} to become {status.name}")


def completes_within(durable_client, instance_id: str, seconds: float) -> bool:
    """True if the instance completes within ``seconds``.

    When the wait runs out, the SDK raises TimeoutError; durabletask-go sometimes ends the wait itself first,
    with CANCELLED "instance hasn't completed", which means the same thing.
    """
    try:
        durable_client.wait_for_orchestration_completion(instance_id, timeout=seconds)
    except TimeoutError:
        return False
    except grpc.RpcError as error:
        if error.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
            return False
        raise
    return True


def test_suspended_orchestration_buffers_events_until_resumed(durable_worker, durable_client) -> None:
    instance_id = start_contract(durable_worker, durable_client, required=2)

    durable_client.suspend_orchestration(instance_id, reason="legal review")
    wait_for_status(durable_client, instance_id, Status.SUSPENDED)
    durable_client.raise_orchestration_event(instance_id, "signed", data="Alice")
    durable_client.raise_orchestration_event(instance_id, "signed", data="Bob")

    # both signatures are there, but a suspended contract does not finish
    assert not completes_within(durable_client, instance_id, seconds=0.3)
    assert durable_client.get_orchestration_state(instance_id).runtime_status == Status.SUSPENDED

    durable_client.resume_orchestration(instance_id)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    assert state.runtime_status == Status.COMPLETED
    assert state.get_output() == ["Alice", "Bob"]  # nothing lost, order kept


def test_terminated_orchestration_ends_with_the_operators_output(durable_worker, durable_client) -> None:
    instance_id = start_contract(durable_worker, durable_client, required=3)
    durable_client.raise_orchestration_event(instance_id, "signed", data="Carol")

    durable_client.terminate_orchestration(instance_id, output="withdrawn by the author")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    assert state.runtime_status == Status.TERMINATED
    assert state.get_output() == "withdrawn by the author"


def test_example_script_runs_on_its_embedded_fake(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "resumed: COMPLETED, signed by ['Alice', 'Bob']" in out
    assert "TERMINATED: 'withdrawn by the author'" in out
