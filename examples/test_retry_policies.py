"""Tests of the retry-policy example, driven by failures injected in the fake sidecar."""

from __future__ import annotations

from datetime import timedelta

from retry_policies import PAYMENT_RETRY, charge_card, checkout, main, register

from durabletask import client

PAYMENT = {"id": "pay-42", "amount": 42.0}


def run_checkout(durable_worker, durable_client) -> tuple[str, client.OrchestrationState]:
    register(durable_worker)
    durable_worker.start()
    instance_id = durable_client.schedule_new_orchestration(checkout, input=PAYMENT)
    return instance_id, durable_client.wait_for_orchestration_completion(instance_id, timeout=10)


def attempts(sidecar, instance_id: str) -> int:
    return sum(1 for event in sidecar.history(instance_id) if event.WhichOneof("eventType") == "taskScheduled")


def test_payment_succeeds_after_two_transient_failures(durable_worker, durable_client, durable_faults,
                                                       durable_sidecar) -> None:
    durable_faults.fail_activity(charge_card, times=2, message="gateway timeout")

    instance_id, state = run_checkout(durable_worker, durable_client)

    assert state.get_output() == {"paid": True, "receipt": "receipt-pay-42"}
    assert attempts(durable_sidecar, instance_id) == 3
    assert len(durable_faults.log) == 2


def test_payment_gives_up_after_the_maximum_number_of_attempts(durable_worker, durable_client, durable_faults,
                                                               durable_sidecar) -> None:
    durable_faults.fail_activity(charge_card, times=10, message="gateway down")

    instance_id, state = run_checkout(durable_worker, durable_client)

    assert state.runtime_status == client.OrchestrationStatus.COMPLETED  # the orchestrator handled the failure
    assert state.get_output()["paid"] is False
    assert "gateway down" in state.get_output()["reason"]
    assert attempts(durable_sidecar, instance_id) == PAYMENT_RETRY.max_number_of_attempts == 4
    assert len(durable_faults.log) == 4


def test_retries_back_off_exponentially_on_durable_timers(durable_worker, durable_client, durable_faults,
                                                          durable_sidecar) -> None:
    durable_faults.fail_activity(charge_card, times=3)

    instance_id, state = run_checkout(durable_worker, durable_client)

    assert state.get_output()["paid"] is True
    delays, step_started = [], None
    for event in durable_sidecar.history(instance_id):
        kind = event.WhichOneof("eventType")
        if kind == "orchestratorStarted":  # the orchestrator's "now" in that step
            step_started = event.timestamp.ToDatetime()
        elif kind == "timerCreated":
            delays.append(event.timerCreated.fireAt.ToDatetime() - step_started)
    assert delays == [timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=4)]


def test_example_script_runs_on_its_embedded_fake(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "-> {'paid': True, 'receipt': 'receipt-pay-1'}" in out
    assert "'paid': False" in out
