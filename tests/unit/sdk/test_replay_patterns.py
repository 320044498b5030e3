"""Replay engine: history in, actions out, for every orchestration pattern."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta, timezone

import history_builders as h
import pytest
from sdk_replay_helpers import T0, completion, confirm, js, kinds, output, registry, run, started, tick

from durabletask import task
from durabletask.internal import orchestrator_service_pb2 as pb


def hello(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello {name}!"


def sequence(ctx: task.OrchestrationContext, _):
    r1 = yield ctx.call_activity(hello, input="Tokyo")
    r2 = yield ctx.call_activity(hello, input="Seattle")
    r3 = yield ctx.call_activity("hello", input="London")
    return [r1, r2, r3]


def test_chaining_schedules_one_activity_at_a_time_and_completes_with_results():
    reg = registry(sequence)
    history = started("sequence")
    res = run(reg, [], history)
    assert kinds(res) == ["scheduleTask"]
    assert res.actions[0].id == 1
    assert res.actions[0].scheduleTask.name == "hello"
    assert json.loads(res.actions[0].scheduleTask.input.value) == "Tokyo"

    for task_id, city in [(1, "Tokyo"), (2, "Seattle"), (3, "London")]:
        history += confirm(res)
        new = [tick(), h.new_task_completed_event(task_id, js(f"Hello {city}!"))]
        res = run(reg, history, new)
        history += new
    assert output(res) == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert len(res.actions) == 1


def test_replay_of_full_history_in_one_batch_gives_same_result():
    reg = registry(sequence)
    past = started("sequence") + [h.new_task_scheduled_event(1, "hello"), h.new_task_completed_event(1, js("a")),
                                  h.new_task_scheduled_event(2, "hello"), h.new_task_completed_event(2, js("b")),
                                  h.new_task_scheduled_event(3, "hello")]
    res = run(reg, past, [tick(), h.new_task_completed_event(3, js("c"))])
    assert output(res) == ["a", "b", "c"]


def fan_out(ctx: task.OrchestrationContext, count: int):
    tasks = [ctx.call_activity("work", input=i) for i in range(count)]
    results = yield task.when_all(tasks)
    return sum(results)


def test_fan_out_schedules_all_and_fan_in_waits_for_all_in_any_order():
    reg = registry(fan_out)
    history = started("fan_out", 5)
    res = run(reg, [], history)
    assert kinds(res) == ["scheduleTask"] * 5
    assert [a.id for a in res.actions] == [1, 2, 3, 4, 5]
    history += confirm(res)
    new = [tick()] + [h.new_task_completed_event(i, js(i * 10)) for i in (5, 3, 1)]
    res = run(reg, history, new)
    assert res.actions == []
    history += new
    res = run(reg, history, [tick(), h.new_task_completed_event(2, js(20)), h.new_task_completed_event(4, js(40))])
    assert output(res) == 150


def test_when_all_failure_surfaces_only_after_all_children_finish():
    def orch(ctx, _):
        try:
            yield task.when_all([ctx.call_activity("a"), ctx.call_activity("b")])
        except task.TaskFailedError as e:
            return f"caught: {e.details.message}"

    reg = registry(orch)
    history = started("orch")
    history += confirm(run(reg, [], history))
    failed = [tick(), h.new_task_failed_event(1, ValueError("boom"))]
    res = run(reg, history, failed)
    assert res.actions == []  # b still running
    res = run(reg, history + failed, [tick(), h.new_task_completed_event(2, js(1))])
    assert output(res) == "caught: boom"


def test_when_all_result_order_follows_task_order_and_handles_duplicates():
    def orch(ctx, _):
        a = ctx.call_activity("a")
        b = ctx.call_activity("b")
        return (yield task.when_all([b, a, b]))

    reg = registry(orch)
    history = started("orch")
    history += confirm(run(reg, [], history))
    res = run(reg, history, [tick(), h.new_task_completed_event(2, js("B")), h.new_task_completed_event(1, js("A"))])
    assert output(res) == ["B", "A", "B"]


def test_when_all_of_nothing_completes_immediately():
    def orch(ctx, _):
        return (yield task.when_all([]))

    assert output(run(registry(orch), [], started("orch"))) == []


def test_when_all_over_4000_tasks_in_one_batch():
    reg = registry(fan_out)
    history = started("fan_out", 4000)
    first = run(reg, [], history)
    assert len(first.actions) == 4000
    history += confirm(first)
    new = [tick()] + [h.new_task_completed_event(i, js(1)) for i in range(4000, 0, -1)]
    assert output(run(reg, history, new)) == 4000


@dataclass
class Order:
    cost: int
    item: str


def approval(ctx: task.OrchestrationContext, order: Order):
    if order.cost < 1000:
        return "Auto-approved"
    yield ctx.call_activity("send_approval_request", input=order)
    approval_event = ctx.wait_for_external_event("approval_received")
    timeout_event = ctx.create_timer(timedelta(hours=24))
    winner = yield task.when_any([approval_event, timeout_event])
    if winner == timeout_event:
        return "Canceled"
    details = approval_event.get_result()
    return f"Approved by '{details.approver}'"


def test_human_interaction_auto_approves_small_orders_using_annotated_dataclass_input():
    reg = registry(approval)
    res = run(reg, [], started("approval", {"cost": 10, "item": "pen"}))
    assert output(res) == "Auto-approved"


def _approval_waiting(reg):
    history = started("approval", {"cost": 5000, "item": "car"})
    history += confirm(run(reg, [], history))
    new = [tick(), h.new_task_completed_event(1)]
    res = run(reg, history, new)
    assert kinds(res) == ["createTimer"]
    assert res.actions[0].createTimer.fireAt.ToDatetime() == T0 + timedelta(hours=24)
    return history + new + confirm(res)


def test_human_interaction_event_beats_timer_and_custom_object_payload_has_attributes():
    reg = registry(approval)
    history = _approval_waiting(reg)
    payload = json.dumps({"approver": "Alice", "__durabletask_autoobject__": True})
    res = run(reg, history, [tick(), h.new_event_raised_event("approval_received", payload)])
    assert output(res) == "Approved by 'Alice'"


def test_human_interaction_timer_beats_event():
    reg = registry(approval)
    history = _approval_waiting(reg)
    res = run(reg, history, [tick(T0 + timedelta(hours=24)), h.new_timer_fired_event(2, T0 + timedelta(hours=24))])
    assert output(res) == "Canceled"


def test_timer_from_aware_datetime_is_normalised_to_utc():
    def orch(ctx, _):
        yield ctx.create_timer(T0.replace(tzinfo=timezone.utc) + timedelta(minutes=5))
        return ctx.current_utc_datetime.isoformat()

    reg = registry(orch)
    history = started("orch")
    res = run(reg, [], history)
    assert res.actions[0].createTimer.fireAt.ToDatetime() == T0 + timedelta(minutes=5)
    history += confirm(res)
    fired_at = T0 + timedelta(minutes=5)
    assert output(run(reg, history, [tick(fired_at), h.new_timer_fired_event(1, fired_at)])) == fired_at.isoformat()


def test_thirty_day_timer_is_split_into_chunks_of_the_maximum_interval():
    def orch(ctx, _):
        yield ctx.create_timer(timedelta(days=30))
        return "done"

    reg = registry(orch)
    history = started("orch")
    res = run(reg, [], history)
    fire_times = []
    now = T0
    while True:
        assert kinds(res) == ["createTimer"], kinds(res)
        fire_at = res.actions[0].createTimer.fireAt.ToDatetime()
        fire_times.append(fire_at)
        history += confirm(res)
        new = [tick(fire_at), h.new_timer_fired_event(res.actions[0].id, fire_at)]
        res = run(reg, history, new)
        history += new
        now = fire_at
        if res.actions and res.actions[-1].HasField("completeOrchestration"):
            break
    assert output(res) == "done"
    assert now == T0 + timedelta(days=30)
    assert len(fire_times) == 10
    assert all(b - a <= timedelta(days=3) for a, b in zip([T0] + fire_times, fire_times))


def test_timer_not_split_when_maximum_interval_disabled():
    def orch(ctx, _):
        yield ctx.create_timer(timedelta(days=30))

    res = run(registry(orch), [], started("orch"), max_timer=None)
    assert res.actions[0].createTimer.fireAt.ToDatetime() == T0 + timedelta(days=30)


def child(ctx, x):
    return x


def parent(ctx: task.OrchestrationContext, _):
    a = yield ctx.call_sub_orchestrator(child, input=1)
    b = yield ctx.call_sub_orchestrator("child", input=2, instance_id="kid", version="2.0")
    return [a, b]


def test_sub_orchestrations_get_deterministic_ids_and_explicit_options():
    reg = registry(parent, child)
    history = started("parent")
    res = run(reg, [], history)
    first = res.actions[0].createSubOrchestration
    assert (first.name, first.instanceId, first.HasField("version")) == ("child", "inst-1:0001", False)
    history += confirm(res)
    new = [tick(), h.new_sub_orchestration_completed_event(1, js("one"))]
    res = run(reg, history, new)
    second = res.actions[0].createSubOrchestration
    assert (second.instanceId, second.version.value, json.loads(second.input.value)) == ("kid", "2.0", 2)
    history += new + confirm(res)
    res = run(reg, history, [tick(), h.new_sub_orchestration_completed_event(2, js("two"))])
    assert output(res) == ["one", "two"]


def test_sub_orchestration_failure_raises_task_failed_error_with_details():
    def orch(ctx, _):
        try:
            yield ctx.call_sub_orchestrator("child")
        except task.TaskFailedError as e:
            return [e.details.error_type, e.details.message]

    reg = registry(orch)
    history = started("orch")
    history += confirm(run(reg, [], history))
    res = run(reg, history, [tick(), h.new_sub_orchestration_failed_event(1, KeyError("x"))])
    assert output(res) == ["builtins.KeyError", "'x'"]


def test_events_raised_before_waiting_are_buffered_and_same_name_events_arrive_in_order():
    def orch(ctx, _):
        yield ctx.create_timer(timedelta(seconds=1))
        a = yield ctx.wait_for_external_event("Data")
        b = yield ctx.wait_for_external_event("data")
        c = yield ctx.wait_for_external_event("DATA")
        return [a, b, c]

    reg = registry(orch)
    history = started("orch")
    history += confirm(run(reg, [], history))
    new = [tick(), h.new_event_raised_event("data", js(1)), h.new_event_raised_event("data", js(2))]
    assert run(reg, history, new).actions == []
    history += new
    fired = T0 + timedelta(seconds=1)
    new = [tick(fired), h.new_timer_fired_event(1, fired)]
    assert run(reg, history, new).actions == []
    history += new
    assert output(run(reg, history, [tick(), h.new_event_raised_event("Data", js(3))])) == [1, 2, 3]


def test_several_waiters_of_one_name_are_served_in_order():
    def orch(ctx, _):
        first = ctx.wait_for_external_event("e")
        second = ctx.wait_for_external_event("e")
        return (yield task.when_all([second, first]))

    reg = registry(orch)
    history = started("orch")
    assert run(reg, [], history).actions == []
    res = run(reg, history, [tick(), h.new_event_raised_event("e", js("x")), h.new_event_raised_event("e", js("y"))])
    assert output(res) == ["y", "x"]


def test_continue_as_new_sends_new_input_and_carries_over_unprocessed_events():
    def orch(ctx, n):
        yield ctx.wait_for_external_event("go")
        ctx.continue_as_new(n + 1, save_events=True)

    reg = registry(orch)
    history = started("orch", 1)
    run(reg, [], history)
    new = [tick(), h.new_event_raised_event("go", js("a")), h.new_event_raised_event("other", js("b")),
           h.new_event_raised_event("go", js("c"))]
    done = completion(run(reg, history, new))
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
    assert json.loads(done.result.value) == 2
    carried = [(e.eventRaised.name, json.loads(e.eventRaised.input.value)) for e in done.carryoverEvents]
    assert carried == [("other", "b"), ("go", "c")]


def test_continue_as_new_without_save_events_drops_them_and_can_set_version():
    def orch(ctx, n):
        ctx.continue_as_new({"n": n}, new_version="2.0")
        yield ctx.create_timer(timedelta(seconds=1))

    done = completion(run(registry(orch), [], started("orch", 5) + [h.new_event_raised_event("x", js(1))]))
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
    assert json.loads(done.result.value) == {"n": 5}
    assert done.newVersion.value == "2.0"
    assert len(done.carryoverEvents) == 0


def waiter(ctx, _):
    value = yield ctx.wait_for_external_event("e")
    return value


def test_suspended_orchestration_buffers_events_until_resumed():
    reg = registry(waiter)
    history = started("waiter")
    run(reg, [], history)
    new = [tick(), h.new_suspend_event(), h.new_event_raised_event("e", js("v"))]
    assert run(reg, history, new).actions == []
    history += new
    assert output(run(reg, history, [tick(), h.new_resume_event()])) == "v"


def test_terminate_completes_as_terminated_with_output_and_discards_pending_work():
    def orch(ctx, _):
        yield ctx.call_activity("a")
        yield ctx.call_activity("b")

    reg = registry(orch)
    history = started("orch")
    history += confirm(run(reg, [], history))
    res = run(reg, history, [tick(), h.new_task_completed_event(1), h.new_terminated_event(js("stopped"))])
    assert kinds(res) == ["completeOrchestration"]
    done = completion(res)
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED
    assert json.loads(done.result.value) == "stopped"


def test_terminate_while_suspended_still_terminates():
    reg = registry(waiter)
    history = started("waiter") + [h.new_suspend_event()]
    res = run(reg, history, [tick(), h.new_event_raised_event("e", js(1)), h.new_terminated_event()])
    assert completion(res).orchestrationStatus == pb.ORCHESTRATION_STATUS_TERMINATED


def test_send_event_action():
    def orch(ctx, _):
        ctx.send_event("other", "ping", data={"a": 1})
        return "sent"

    res = run(registry(orch), [], started("orch"))
    assert kinds(res) == ["sendEvent", "completeOrchestration"]
    sent = res.actions[0].sendEvent
    assert (sent.instance.instanceId, sent.name, json.loads(sent.data.value)) == ("other", "ping", {"a": 1})


def test_custom_status_is_returned_serialized():
    def orch(ctx, _):
        ctx.set_custom_status(Order(1, "x"))
        yield ctx.create_timer(timedelta(seconds=1))

    res = run(registry(orch), [], started("orch"))
    assert res.encoded_custom_status == '{"cost": 1, "item": "x"}'  # plain JSON, as the published SDK writes


def test_non_generator_orchestrator_completes_immediately():
    def orch(ctx, x):
        return x * 2

    assert output(run(registry(orch), [], started("orch", 21))) == 42


def test_context_properties_and_is_replaying():
    seen = []

    def orch(ctx: task.OrchestrationContext, _):
        seen.append(("start", ctx.is_replaying, ctx.current_utc_datetime))
        yield ctx.call_activity("a")
        seen.append(("after", ctx.is_replaying, ctx.current_utc_datetime))
        return [ctx.instance_id, ctx.version, ctx.parent_instance_id]

    reg = registry(orch)
    later = T0 + timedelta(minutes=1)
    history = started("orch", version="1.2.3", parent="p-1") + [h.new_task_scheduled_event(1, "a")]
    res = run(reg, history, [tick(later), h.new_task_completed_event(1)])
    assert output(res) == ["inst-1", "1.2.3", "p-1"]
    assert seen == [("start", True, T0), ("after", False, later)]


def test_new_uuid_is_deterministic_across_replays_and_unique_within_one():
    def orch(ctx, _):
        ids = [ctx.new_uuid(), ctx.new_uuid()]
        yield ctx.call_activity("a")
        return ids

    reg = registry(orch)
    history = started("orch")
    history += confirm(run(reg, [], history))
    first = output(run(reg, history, [tick(), h.new_task_completed_event(1)]))
    second = output(run(reg, history, [tick(T0 + timedelta(hours=1)), h.new_task_completed_event(1)]))
    assert first == second and first[0] != first[1]
    # the same values the published SDK derives for this instance id and time (replay compatibility)
    assert first == ["f081f167-d151-58ab-afa9-d8662933fbdc", "82dbee6d-e871-50e4-abca-84cb4ffd844c"]


def test_orchestrator_exception_fails_with_details():
    def orch(ctx, _):
        yield ctx.call_activity("a")
        raise ValueError("bad input")

    reg = registry(orch)
    history = started("orch") + [h.new_task_scheduled_event(1, "a")]
    done = completion(run(reg, history, [tick(), h.new_task_completed_event(1)]))
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert done.failureDetails.errorType == "builtins.ValueError"
    assert done.failureDetails.errorMessage == "bad input"
    assert "raise ValueError" in done.failureDetails.stackTrace.value


def test_unhandled_activity_failure_fails_orchestration_with_inner_failure():
    reg = registry(sequence)
    history = started("sequence") + [h.new_task_scheduled_event(1, "hello")]
    done = completion(run(reg, history, [tick(), h.new_task_failed_event(1, RuntimeError("down"))]))
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert done.failureDetails.errorType == "durabletask.task.TaskFailedError"
    assert "down" in done.failureDetails.errorMessage
    assert done.failureDetails.innerFailure.errorType == "builtins.RuntimeError"


def test_unregistered_orchestrator_fails_naming_it():
    done = completion(run(registry(), [], started("missing_orch")))
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert "missing_orch" in done.failureDetails.errorMessage


def test_yielding_a_non_task_fails_with_clear_message():
    def orch(ctx, _):
        yield 42

    done = completion(run(registry(orch), [], started("orch")))
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert "int" in done.failureDetails.errorMessage


def test_unserializable_output_fails_the_orchestration():
    def orch(ctx, _):
        return object

    done = completion(run(registry(orch), [], started("orch")))
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    assert "serialize" in done.failureDetails.errorMessage


def test_empty_new_events_is_an_error():
    from durabletask.internal.replay import OrchestrationExecutor

    with pytest.raises(task.OrchestrationStateError):
        OrchestrationExecutor(registry()).execute("i", [], [])
