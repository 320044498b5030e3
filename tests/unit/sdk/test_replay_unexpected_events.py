"""Replay engine: completions for task ids the orchestration is not waiting for are logged, not lost silently."""

from __future__ import annotations

import logging
from datetime import timedelta

import history_builders as h
import pytest
from sdk_replay_helpers import INSTANCE_ID, T0, confirm, js, kinds, output, registry, run, started, tick

from durabletask import task


def one_call(ctx: task.OrchestrationContext, _):
    return (yield ctx.call_activity("work"))


def racing_timer(ctx: task.OrchestrationContext, _):
    timer = ctx.create_timer(timedelta(hours=1))
    winner = yield task.when_any([ctx.call_activity("work"), timer])
    timer.cancel()
    more = yield ctx.call_activity("work")
    return [winner.get_result(), more]


@pytest.mark.parametrize("unknown_event", [
    h.new_task_completed_event(99, js("stray")),
    h.new_task_failed_event(99, ValueError("stray")),
    h.new_sub_orchestration_completed_event(99, js("stray")),
    h.new_sub_orchestration_failed_event(99, ValueError("stray")),
    h.new_timer_fired_event(99, T0),
], ids=lambda e: e.WhichOneof("eventType"))
def test_a_completion_for_an_unknown_task_id_is_logged_and_changes_nothing(unknown_event, caplog):
    reg = registry(one_call)
    first = run(reg, [], started("one_call"))
    history = started("one_call") + confirm(first)
    with caplog.at_level(logging.WARNING, logger="durabletask"):
        res = run(reg, history, [tick(), unknown_event])
    assert kinds(res) == []  # still waiting for task 1, no failure
    field = unknown_event.WhichOneof("eventType")
    assert f"{INSTANCE_ID}: Ignoring unexpected {field} event with ID = 99." in caplog.text


def test_an_unknown_completion_met_again_during_replay_is_not_logged_again(caplog):
    reg = registry(one_call)
    first = run(reg, [], started("one_call"))
    history = started("one_call") + confirm(first) + [tick(), h.new_task_completed_event(99, js("stray"))]
    with caplog.at_level(logging.WARNING, logger="durabletask"):
        res = run(reg, history, [tick(), h.new_task_completed_event(1, js("done"))])
    assert output(res) == "done"
    assert "Ignoring unexpected" not in caplog.text


def test_a_cancelled_timer_firing_later_is_expected_and_not_logged(caplog):
    reg = registry(racing_timer)
    first = run(reg, [], started("racing_timer"))
    history = started("racing_timer") + confirm(first)
    new = [tick(), h.new_task_completed_event(2, js("won"))]  # id 1 is the timer, 2 the first call
    second = run(reg, history, new)
    history += new + confirm(second)
    with caplog.at_level(logging.WARNING, logger="durabletask"):
        fired = [tick(T0 + timedelta(hours=1)), h.new_timer_fired_event(1, T0 + timedelta(hours=1))]
        res = run(reg, history, fired)
        history += fired
        res = run(reg, history, [tick(), h.new_task_completed_event(3, js("more"))])
    assert output(res) == ["won", "more"]
    assert "Ignoring unexpected" not in caplog.text
