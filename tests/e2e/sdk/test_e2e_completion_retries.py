"""End-to-end over real gRPC: the worker retries completion calls through transient sidecar failures."""

from __future__ import annotations

import time

from sdk_e2e_helpers import wait_until

from durabletask import client, task


def double(ctx: task.ActivityContext, value: int) -> int:
    return value * 2


def doubles(ctx: task.OrchestrationContext, value: int):
    return (yield ctx.call_activity(double, input=value))


def _failures(faults, method: str) -> int:
    return sum(1 for record in faults.log if record.kind == "fail_rpc" and method in record.detail)


def test_completions_survive_more_transient_failures_than_three_quick_tries(durable_client, durable_worker,
                                                                            durable_faults):
    durable_faults.fail_rpc("CompleteActivityTask", code="UNAVAILABLE", times=4)
    durable_faults.fail_rpc("CompleteOrchestratorTask", code="UNAVAILABLE", times=4)
    durable_worker.start_with(orchestrators=[doubles], activities=[double])
    iid = durable_client.schedule_new_orchestration(doubles, input=21)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=15)
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.get_output() == 42
    assert _failures(durable_faults, "CompleteActivityTask") == 4
    assert _failures(durable_faults, "CompleteOrchestratorTask") == 4


def test_stopping_the_worker_ends_completion_retries_at_once(durable_client, start_worker, durable_faults):
    durable_faults.fail_rpc("CompleteOrchestratorTask", code="UNAVAILABLE", times=None)
    sdk_worker = start_worker([doubles], [double])  # the SDK's own worker: its stop() is what is measured
    durable_client.schedule_new_orchestration(doubles, input=1)
    wait_until(lambda: _failures(durable_faults, "CompleteOrchestratorTask") >= 4, timeout=10)
    started = time.monotonic()
    sdk_worker.stop()
    assert time.monotonic() - started < 3.0  # well under the 5 s grace: pending retries are dropped
