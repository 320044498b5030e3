"""End-to-end: failure injection through the fake's FaultPlan, over real gRPC with the SDK."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from fake_e2e_helpers import connected, hello, sequence

from durabletask import client, task
from durabletask_testing import FakeSidecar

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
EXPECTED_SEQUENCE = ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


class Calls:
    """Thread-safe count of activity executions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1


CALLS = Calls()


def charge(ctx: task.ActivityContext, amount: int) -> int:
    CALLS.add(f"charge:{amount}")
    return amount


def charge_with_retries(ctx: task.OrchestrationContext, amount: int):
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=5), max_number_of_attempts=3)
    return (yield ctx.call_activity(charge, input=amount, retry_policy=policy))


def charge_once(ctx: task.OrchestrationContext, amount: int):
    return (yield ctx.call_activity(charge, input=amount))


def slow_vs_timer(ctx: task.OrchestrationContext, _: object):
    work = ctx.call_activity(charge, input=1)
    timeout = ctx.create_timer(timedelta(minutes=30))
    winner = yield task.when_any([work, timeout])
    return "timeout" if winner == timeout else "work"


def _state(c: client.TaskHubGrpcClient, instance_id: str) -> client.OrchestrationState:
    state = c.wait_for_orchestration_completion(instance_id, timeout=20)
    assert state is not None
    return state


def test_injected_failures_exhaust_retries_exactly_at_max_attempts():
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [charge_with_retries], [charge]) as c:
        sidecar.faults.fail_activity(charge, times=None, message="card declined", error_type="PaymentError")
        instance_id = c.schedule_new_orchestration(charge_with_retries, input=101)
        state = _state(c, instance_id)
        assert state.runtime_status == client.OrchestrationStatus.FAILED
        assert "card declined" in state.failure_details.message
        assert [r.kind for r in sidecar.faults.log] == ["fail_activity"] * 3
        assert CALLS.counts["charge:101"] == 0  # the activity code never ran


def test_retry_policy_recovers_from_two_injected_failures():
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [charge_with_retries], [charge]) as c:
        sidecar.faults.fail_activity("charge", times=2)
        instance_id = c.schedule_new_orchestration(charge_with_retries, input=102)
        state = _state(c, instance_id)
        assert state.runtime_status == client.OrchestrationStatus.COMPLETED and state.serialized_output == "102"
        assert CALLS.counts["charge:102"] == 1


def test_lost_activity_result_runs_the_activity_twice_and_completes_once():
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [charge_once], [charge]) as c:
        sidecar.faults.lose_activity_result(charge)
        instance_id = c.schedule_new_orchestration(charge_once, input=103)
        state = _state(c, instance_id)
        assert state.runtime_status == client.OrchestrationStatus.COMPLETED and state.serialized_output == "103"
        assert CALLS.counts["charge:103"] == 2
        kinds = [e.WhichOneof("eventType") for e in sidecar.history(instance_id)]
        assert kinds.count("taskCompleted") == 1 and kinds.count("executionCompleted") == 1


def test_lost_orchestrator_result_forces_a_replay():
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [sequence], [hello]) as c:
        sidecar.faults.lose_orchestrator_result(sequence, times=2)
        instance_id = c.schedule_new_orchestration(sequence)
        state = _state(c, instance_id)
        assert json.loads(state.serialized_output) == EXPECTED_SEQUENCE
        assert [r.kind for r in sidecar.faults.log] == ["lose_orchestrator_result"] * 2
        kinds = [e.WhichOneof("eventType") for e in sidecar.history(instance_id)]
        assert kinds.count("taskScheduled") == 3


def test_delayed_activity_loses_the_race_against_a_timer():
    with FakeSidecar(clock="auto", start_time=START) as sidecar, connected(sidecar, [slow_vs_timer], [charge]) as c:
        sidecar.faults.delay_activity(charge, by=timedelta(hours=1))
        instance_id = c.schedule_new_orchestration(slow_vs_timer)
        assert _state(c, instance_id).serialized_output == '"timeout"'
        [record] = sidecar.faults.log
        assert record.kind == "delay_activity" and record.instance_id == instance_id and record.time == START


def test_rpc_failure_is_injected_once():
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [sequence], [hello]) as c:
        sidecar.faults.fail_rpc("StartInstance", code=grpc.StatusCode.RESOURCE_EXHAUSTED)
        with pytest.raises(grpc.RpcError) as error:
            c.schedule_new_orchestration(sequence)
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        instance_id = c.schedule_new_orchestration(sequence)
        assert json.loads(_state(c, instance_id).serialized_output) == EXPECTED_SEQUENCE


def test_disconnected_worker_reconnects_and_finishes_the_work():
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [sequence], [hello]) as c:
        sidecar.faults.disconnect_workers(after=2)
        instance_id = c.schedule_new_orchestration(sequence)
        assert json.loads(_state(c, instance_id).serialized_output) == EXPECTED_SEQUENCE
        assert [r.kind for r in sidecar.faults.log] == ["disconnect_workers"]


def _chaos_run(seed: int) -> list[tuple]:
    with FakeSidecar(clock="auto", start_time=START) as sidecar, connected(sidecar, [sequence], [hello]) as c:
        sidecar.faults.chaos(seed, rate=0.3)
        ids = [c.schedule_new_orchestration(sequence, instance_id=f"chaos-{i:03d}") for i in range(100)]
        for instance_id in ids:
            state = _state(c, instance_id)
            assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
            assert json.loads(state.serialized_output) == EXPECTED_SEQUENCE
        log = sidecar.faults.log
        assert sidecar.faults.seed == seed and len(log) > 20
        return sorted((r.kind, r.instance_id or "", r.task_id if r.task_id is not None else -1, r.detail) for r in log)


def test_chaos_completes_every_orchestration_and_is_reproducible():
    first = _chaos_run(seed=1234)
    second = _chaos_run(seed=1234)
    assert first == second
    assert {kind for kind, *_ in first} == {"lose_activity_result", "lose_orchestrator_result", "delay_activity"}
