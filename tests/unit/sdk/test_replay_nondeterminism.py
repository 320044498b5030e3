"""Replay engine: histories that do not match the orchestrator code fail the orchestration."""

from __future__ import annotations

from datetime import timedelta

import history_builders as h
from sdk_replay_helpers import T0, completion, registry, run, started, tick

from durabletask import task
from durabletask.internal import orchestrator_service_pb2 as pb


def _failure(result) -> pb.TaskFailureDetails:
    done = completion(result)
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert len(result.actions) == 1, "a non-deterministic replay must not send other actions"
    return done.failureDetails


def test_wrong_action_type_names_expected_and_actual():
    def orch(ctx, _):
        yield ctx.create_timer(timedelta(seconds=1))  # history says an activity was called here

    history = started("orch") + [h.new_task_scheduled_event(1, "charge")]
    details = _failure(run(registry(orch), history, [tick(), h.new_task_completed_event(1)]))
    assert details.errorType == "durabletask.task.NonDeterminismError"
    assert "call_activity('charge')" in details.errorMessage
    assert "create_timer" in details.errorMessage


def test_wrong_activity_name_names_both():
    def orch(ctx, _):
        yield ctx.call_activity("refund")

    history = started("orch") + [h.new_task_scheduled_event(1, "charge")]
    details = _failure(run(registry(orch), history, [tick(), h.new_task_completed_event(1)]))
    assert "call_activity('charge')" in details.errorMessage
    assert "call_activity('refund')" in details.errorMessage


def test_wrong_sub_orchestrator_name():
    def orch(ctx, _):
        yield ctx.call_sub_orchestrator("new_child")

    history = started("orch") + [h.new_sub_orchestration_created_event(1, "old_child", "x")]
    details = _failure(run(registry(orch), history, [tick()]))
    assert "call_sub_orchestrator('old_child')" in details.errorMessage
    assert "call_sub_orchestrator('new_child')" in details.errorMessage


def test_timer_in_history_but_activity_in_code():
    def orch(ctx, _):
        yield ctx.call_activity("a")

    history = started("orch") + [h.new_timer_created_event(1, T0)]
    details = _failure(run(registry(orch), history, [tick()]))
    assert "create_timer" in details.errorMessage and "call_activity('a')" in details.errorMessage


def test_missing_action_names_the_recorded_call():
    def orch(ctx, _):
        yield ctx.wait_for_external_event("never")

    history = started("orch") + [h.new_task_scheduled_event(1, "charge")]
    details = _failure(run(registry(orch), history, [tick()]))
    assert "call_activity('charge')" in details.errorMessage
    assert "doesn't have this action" in details.errorMessage


def test_code_that_now_completes_early_still_fails_on_extra_history():
    def orch(ctx, _):
        return "done"  # history says an activity was scheduled

    history = started("orch") + [h.new_task_scheduled_event(1, "charge")]
    details = _failure(run(registry(orch), history, [tick()]))
    assert "call_activity('charge')" in details.errorMessage


def test_send_event_to_another_target():
    def orch(ctx, _):
        ctx.send_event("b", "ping")
        yield ctx.create_timer(timedelta(seconds=1))

    history = started("orch") + [h.new_event_sent_event(1, "a", "ping")]
    details = _failure(run(registry(orch), history, [tick()]))
    assert "instance_id='a'" in details.errorMessage and "instance_id='b'" in details.errorMessage


def test_orchestrator_cannot_catch_non_determinism():
    def orch(ctx, _):
        try:
            yield ctx.call_activity("refund")
        except Exception:
            return "swallowed"

    history = started("orch") + [h.new_task_scheduled_event(1, "charge")]
    details = _failure(run(registry(orch), history, [tick()]))
    assert details.errorType == "durabletask.task.NonDeterminismError"


def test_matching_history_with_unknown_completion_ids_is_ignored():
    def orch(ctx, _):
        return (yield ctx.call_activity("a"))

    history = started("orch") + [h.new_task_scheduled_event(1, "a")]
    res = run(registry(orch), history, [tick(), h.new_task_completed_event(99), h.new_timer_fired_event(98, T0),
                                        h.new_task_completed_event(1, '"ok"')])
    assert completion(res).orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED


def test_version_aware_orchestrator_keeps_old_path_for_old_instances():
    def my_orchestrator(ctx: task.OrchestrationContext, _):
        yield ctx.call_activity("activity_one")
        if ctx.version > "1.0.0":
            yield ctx.call_activity("activity_three")
        yield ctx.call_activity("activity_two")
        return "Success"

    reg = registry(my_orchestrator)
    old = started("my_orchestrator", version="1.0.0") + [
        h.new_task_scheduled_event(1, "activity_one"), h.new_task_completed_event(1)]
    res = run(reg, old, [tick()] + [h.new_task_scheduled_event(2, "activity_two"), h.new_task_completed_event(2)])
    assert completion(res).orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
    new = started("my_orchestrator", version="2.0.0") + [
        h.new_task_scheduled_event(1, "activity_one"), h.new_task_completed_event(1)]
    res = run(reg, new, [tick()])
    assert res.actions[0].scheduleTask.name == "activity_three"
