"""Replay engine: retry policies wait out back-off on durable timers."""

from __future__ import annotations

from datetime import timedelta

import history_builders as h
import pytest
from sdk_replay_helpers import T0, completion, confirm, js, kinds, output, registry, run, started, tick

from durabletask import task
from durabletask.internal import orchestrator_service_pb2 as pb


def make_orch(policy: task.RetryPolicy, sub: bool = False):
    def orch(ctx, _):
        if sub:
            return (yield ctx.call_sub_orchestrator("child", retry_policy=policy))
        return (yield ctx.call_activity("flaky", retry_policy=policy))
    return orch


def _drive_failures(policy: task.RetryPolicy, failures: int, sub: bool = False):
    """Fail the call ``failures`` times; returns (delays seen, last result, history)."""
    reg = registry(make_orch(policy, sub))
    history = started("orch")
    res = run(reg, [], history)
    delays = []
    now = T0
    for _ in range(failures):
        if kinds(res) != ["createSubOrchestration" if sub else "scheduleTask"]:
            break  # the back-off timer fired past the retry timeout: the call failed instead of retrying
        action_id = res.actions[0].id
        history += confirm(res)
        failed = (h.new_sub_orchestration_failed_event(action_id, RuntimeError("nope")) if sub
                  else h.new_task_failed_event(action_id, RuntimeError("nope")))
        new = [tick(now), failed]
        res = run(reg, history, new)
        history += new
        if kinds(res) != ["createTimer"]:
            break
        fire_at = res.actions[0].createTimer.fireAt.ToDatetime()
        delays.append(fire_at - now)
        history += confirm(res)
        new = [tick(fire_at), h.new_timer_fired_event(res.actions[0].id, fire_at)]
        now = fire_at
        res = run(reg, history, new)
        history += new
    return delays, res, history, reg


def test_retries_use_durable_timers_with_exponential_backoff_and_cap():
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=5,
                              backoff_coefficient=2, max_retry_interval=timedelta(seconds=5))
    delays, res, _, _ = _drive_failures(policy, 5)
    assert delays == [timedelta(seconds=s) for s in (1, 2, 4, 5)]
    done = completion(res)
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert "nope" in done.failureDetails.errorMessage


def test_retry_reschedules_the_same_action_and_succeeds():
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=3), max_number_of_attempts=3)
    delays, res, history, reg = _drive_failures(policy, 1)
    assert delays == [timedelta(seconds=3)]
    assert kinds(res) == ["scheduleTask"] and res.actions[0].scheduleTask.name == "flaky"
    history += confirm(res)
    done = run(reg, history, [tick(), h.new_task_completed_event(res.actions[0].id, js("ok"))])
    assert output(done) == "ok"


def test_sub_orchestration_retries():
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=2)
    delays, res, _, _ = _drive_failures(policy, 2, sub=True)
    assert delays == [timedelta(seconds=1)]
    assert completion(res).orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED


def test_retry_timeout_stops_retrying():
    policy = task.RetryPolicy(first_retry_interval=timedelta(minutes=10), max_number_of_attempts=10,
                              retry_timeout=timedelta(minutes=15))
    delays, res, _, _ = _drive_failures(policy, 10)
    # the failure at +0 is retried at +10 min; the failure at +10 min (inside the 15 min budget) starts a back-off
    # that ends at +20 min, past the budget, so no third attempt is made: the call fails with its last failure
    # when that timer fires (the published SDK's outcome, decided on orchestration time instead of the wall clock)
    assert delays == [timedelta(minutes=10), timedelta(minutes=10)]
    assert completion(res).orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert "nope" in completion(res).failureDetails.innerFailure.errorMessage


def test_single_attempt_policy_fails_immediately():
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=1)
    delays, res, _, _ = _drive_failures(policy, 1)
    assert delays == []
    assert completion(res).orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED


@pytest.mark.parametrize("kwargs", [
    dict(first_retry_interval=timedelta(seconds=-1), max_number_of_attempts=1),
    dict(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=0),
    dict(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=1, backoff_coefficient=0.5),
    dict(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=1, max_retry_interval=timedelta(-1)),
    dict(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=1, retry_timeout=timedelta(-1)),
])
def test_retry_policy_validation(kwargs):
    with pytest.raises(ValueError):
        task.RetryPolicy(**kwargs)


def _published_retry_history(attempts_failed: int) -> list[pb.HistoryEvent]:
    """A history as the published SDK writes it on durabletask-go (docs/fidelity.md): every attempt is
    ``TaskScheduled#1``, with ``TimerCreated#n``/``TimerFired->n`` (n = 2, 3, ...) between attempts."""
    history = started("orch") + [h.new_task_scheduled_event(1, "flaky")]
    now = T0
    for attempt in range(attempts_failed):
        fire_at = now + timedelta(seconds=1)
        history += [tick(now), h.new_task_failed_event(1, RuntimeError("nope")),
                    h.new_timer_created_event(2 + attempt, fire_at),
                    tick(fire_at), h.new_timer_fired_event(2 + attempt, fire_at),
                    h.new_task_scheduled_event(1, "flaky")]
        now = fire_at
    return history


def test_a_retry_history_written_by_the_published_sdk_replays_and_continues():
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3)
    reg = registry(make_orch(policy))
    history = _published_retry_history(2)  # third attempt in flight
    done = run(reg, history, [tick(), h.new_task_completed_event(1, js("ok"))])
    assert output(done) == "ok" and done.actions[-1].id == 4


def test_an_orchestration_switches_sdks_between_retry_attempts():
    """After the published SDK wrote attempt 1 and its back-off timer, our SDK schedules attempt 2 as it would."""
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3)
    reg = registry(make_orch(policy))
    history = _published_retry_history(1)[:-1]  # up to TimerFired->2, attempt 2 not yet scheduled
    res = run(reg, history[:-2], history[-2:])
    assert kinds(res) == ["scheduleTask"]
    assert (res.actions[0].id, res.actions[0].scheduleTask.name) == (1, "flaky")


def test_every_attempt_uses_the_first_attempts_id_like_the_published_sdk():
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3)
    _, res, history, _ = _drive_failures(policy, 3)
    ids = [(e.WhichOneof("eventType"), e.eventId) for e in history if e.HasField("taskScheduled")
           or e.HasField("timerCreated")]
    assert ids == [("taskScheduled", 1), ("timerCreated", 2), ("taskScheduled", 1), ("timerCreated", 3),
                   ("taskScheduled", 1)]
    assert completion(res).orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED and res.actions[-1].id == 4


def test_sub_orchestration_retries_reuse_the_action_id_and_the_child_instance_id():
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=2)
    reg = registry(make_orch(policy, sub=True))
    first = run(reg, [], started("orch"))
    history = started("orch") + confirm(first)
    new = [tick(), h.new_sub_orchestration_failed_event(1, RuntimeError("nope"))]
    timer = run(reg, history, new)
    history += new + confirm(timer)
    fire_at = timer.actions[0].createTimer.fireAt.ToDatetime()
    retry = run(reg, history, [tick(fire_at), h.new_timer_fired_event(timer.actions[0].id, fire_at)])
    assert kinds(retry) == ["createSubOrchestration"]
    assert retry.actions[0].id == first.actions[0].id == 1
    assert retry.actions[0].createSubOrchestration.instanceId == first.actions[0].createSubOrchestration.instanceId
