"""End-to-end: this SDK's extensions beyond the published API (non-retryable error types, ctx.random(), call
timeouts), all decided on orchestration time so replay gives the same outcome."""

from __future__ import annotations

import threading
from datetime import timedelta

from durabletask import client, task

_calls: dict[str, int] = {}
_lock = threading.Lock()


def flaky(ctx: task.ActivityContext, error: str) -> str:
    with _lock:
        _calls[error] = _calls.get(error, 0) + 1
    raise {"value": ValueError, "connection": ConnectionError}[error]("no luck")


POLICY = task.RetryPolicy(first_retry_interval=timedelta(seconds=5), max_number_of_attempts=3,
                          non_retryable_error_types=[ValueError])


def retrying(ctx: task.OrchestrationContext, error: str):
    try:
        yield ctx.call_activity(flaky, input=error, retry_policy=POLICY)
    except task.TaskFailedError as failure:
        return failure.details.error_type


def test_excluded_error_types_fail_at_once_others_are_retried(durable_worker, durable_client):
    _calls.clear()
    durable_worker.start_with(orchestrators=[retrying], activities=[flaky])
    for error in ("value", "connection"):
        iid = durable_client.schedule_new_orchestration(retrying, input=error)
        durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert _calls == {"value": 1, "connection": 3}


replayed_draws: list[list[float]] = []


def draws(ctx: task.OrchestrationContext, _):
    first = [ctx.random().random() for _ in range(2)]
    yield ctx.create_timer(timedelta(minutes=1))
    second = ctx.random().randint(1, 10**9)
    replayed_draws.append(first)
    return {"first": first, "second": second}


def test_random_values_are_the_same_on_every_replay(durable_worker, durable_client):
    replayed_draws.clear()
    durable_worker.start_with(orchestrators=[draws])
    one = durable_client.schedule_new_orchestration(draws)
    two = durable_client.schedule_new_orchestration(draws)
    out_one = durable_client.wait_for_orchestration_completion(one, timeout=10).get_output()
    out_two = durable_client.wait_for_orchestration_completion(two, timeout=10).get_output()
    assert out_one["first"][0] != out_one["first"][1]
    assert out_one["first"] != out_two["first"]  # derived from the instance id
    assert replayed_draws.count(out_one["first"]) == 1  # the replay after the timer drew the same values
    assert out_one["first"] in replayed_draws and out_two["first"] in replayed_draws


def slow(ctx: task.ActivityContext, _) -> str:
    return "finally"


def bounded(ctx: task.OrchestrationContext, _):
    try:
        result = yield ctx.call_activity(slow, timeout=timedelta(hours=1))
    except task.TaskFailedError as failure:
        return {"timed_out": failure.details.is_caused_by(TimeoutError), "message": failure.details.message}
    return {"result": result}


def test_an_activity_slower_than_its_timeout_fails_the_task(durable_worker, durable_client, durable_sidecar):
    durable_sidecar.faults.delay_activity(slow, by=timedelta(hours=2))
    durable_worker.start_with(orchestrators=[bounded], activities=[slow])
    iid = durable_client.schedule_new_orchestration(bounded)
    output = durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output()
    assert output["timed_out"] is True and "call_activity('slow')" in output["message"]


def test_an_activity_faster_than_its_timeout_returns_its_result(durable_worker, durable_client, durable_sidecar):
    durable_sidecar.faults.delay_activity(slow, by=timedelta(minutes=10))
    durable_worker.start_with(orchestrators=[bounded], activities=[slow])
    iid = durable_client.schedule_new_orchestration(bounded)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.get_output() == {"result": "finally"}


def never_answers(ctx: task.OrchestrationContext, _):
    yield ctx.wait_for_external_event("never")


def parent(ctx: task.OrchestrationContext, _):
    try:
        yield ctx.call_sub_orchestrator(never_answers, instance_id=f"{ctx.instance_id}-child",
                                        timeout=timedelta(days=1))
    except task.TaskFailedError as failure:
        return failure.details.error_type
    return "answered"


def test_a_sub_orchestration_timeout_fails_the_task_and_leaves_the_child_running(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[parent, never_answers])
    iid = durable_client.schedule_new_orchestration(parent)
    assert durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output() == "builtins.TimeoutError"
    child = durable_client.get_orchestration_state(f"{iid}-child")
    assert child is not None and child.runtime_status == client.OrchestrationStatus.RUNNING
