"""Replay of this SDK's extensions: call timeouts, non-retryable error types and ctx.random() (pure engine)."""

from __future__ import annotations

import logging
from datetime import timedelta

import history_builders as h
from sdk_replay_helpers import T0, completion, confirm, kinds, output, registry, run, started, tick

from durabletask import task
from durabletask.internal import orchestrator_service_pb2 as pb


def bounded(ctx: task.OrchestrationContext, _):
    try:
        return (yield ctx.call_activity("work", timeout=timedelta(minutes=5)))
    except task.TaskFailedError as failure:
        return f"timed out: {failure.details.is_caused_by(TimeoutError)}"


def test_a_timeout_schedules_a_timer_next_to_the_call_and_fails_the_task_when_it_fires(caplog):
    reg = registry(bounded)
    history = started("bounded")
    first = run(reg, [], history)
    assert kinds(first) == ["scheduleTask", "createTimer"]
    assert first.actions[1].createTimer.fireAt.ToDatetime() == T0 + timedelta(minutes=5)
    history += confirm(first)
    fired = [tick(T0 + timedelta(minutes=5)), h.new_timer_fired_event(2, T0 + timedelta(minutes=5))]
    timed_out = run(reg, history, fired)
    assert output(timed_out) == "timed out: True"
    with caplog.at_level(logging.WARNING):  # a late result is dropped quietly
        late = run(reg, history + fired, [tick(T0 + timedelta(minutes=6)), h.new_task_completed_event(1, '"x"')])
    assert output(late) == "timed out: True" and not caplog.records


def test_a_result_before_the_timeout_wins_and_the_timer_fires_quietly(caplog):
    reg = registry(bounded)
    history = started("bounded")
    history += confirm(run(reg, [], history))
    done = [tick(T0 + timedelta(minutes=1)), h.new_task_completed_event(1, '"result"')]
    assert output(run(reg, history, done)) == "result"
    with caplog.at_level(logging.WARNING):
        later = run(reg, history + done, [tick(T0 + timedelta(minutes=5)),
                                          h.new_timer_fired_event(2, T0 + timedelta(minutes=5))])
    assert output(later) == "result" and not caplog.records


def excluded(ctx: task.OrchestrationContext, _):
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=5,
                              non_retryable_error_types=["ValueError"])
    yield ctx.call_activity("work", retry_policy=policy)


def test_an_excluded_error_type_fails_without_a_retry_timer():
    reg = registry(excluded)
    history = started("excluded")
    history += confirm(run(reg, [], history))
    res = run(reg, history, [tick(), h.new_task_failed_event(1, ValueError("bad input"))])
    assert completion(res).orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    retried = run(reg, history, [tick(), h.new_task_failed_event(1, ConnectionError("down"))])
    assert kinds(retried) == ["createTimer"]


def dice(ctx: task.OrchestrationContext, _):
    first = ctx.random().random()
    yield ctx.create_timer(timedelta(seconds=1))
    return [first, ctx.random().random()]


def test_random_numbers_are_replayed_identically():
    reg = registry(dice)
    history = started("dice")
    first = run(reg, [], history)
    history += confirm(first)
    new = [tick(T0 + timedelta(seconds=1)), h.new_timer_fired_event(1, T0 + timedelta(seconds=1))]
    values = output(run(reg, history, new))
    assert values == output(run(reg, history, new))
    assert values[0] != values[1]
