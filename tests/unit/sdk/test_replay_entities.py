"""Replay engine: entity calls, signals and critical sections, their actions and their replay."""

from __future__ import annotations

from datetime import datetime

import history_builders as h
from sdk_replay_helpers import INSTANCE_ID, completion, confirm, js, kinds, output, registry, run, started, tick

from durabletask import task
from durabletask.entities import EntityInstanceId
from durabletask.internal import orchestrator_service_pb2 as pb

COUNTER_A = EntityInstanceId("counter", "a")
COUNTER_B = EntityInstanceId("counter", "b")


def _messages(result) -> list[pb.SendEntityMessageAction]:
    return [a.sendEntityMessage for a in result.actions if a.HasField("sendEntityMessage")]


def _failure(result) -> pb.TaskFailureDetails:
    done = completion(result)
    assert done.orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
    return done.failureDetails


def test_call_entity_sends_the_call_and_completes_with_the_answer():
    def orch(ctx: task.OrchestrationContext, _):
        value = yield ctx.call_entity(COUNTER_A, "add", 5)
        return value

    first = run(registry(orch), [], started("orch") + [])
    [message] = _messages(first)
    called = message.entityOperationCalled
    assert (called.operation, called.targetInstanceId.value, called.parentInstanceId.value, called.input.value) == \
        ("add", "@counter@a", INSTANCE_ID, "5")
    assert called.requestId and not called.HasField("scheduledTime")

    history = started("orch") + confirm(first)
    done = run(registry(orch), history, [tick(), h.new_entity_operation_completed_event(called.requestId, js(6))])
    assert output(done) == 6


def test_the_answer_is_matched_by_the_request_id_history_recorded():
    def orch(ctx, _):
        return (yield ctx.call_entity(COUNTER_A, "get"))

    history = started("orch") + [h.new_entity_operation_called_event(1, "recorded-by-another-sdk", "@counter@a",
                                                                     "get")]
    done = run(registry(orch), history, [tick(), h.new_entity_operation_completed_event("recorded-by-another-sdk",
                                                                                        js("ok"))])
    assert output(done) == "ok"


def test_a_failed_operation_raises_into_the_orchestrator_naming_entity_and_operation():
    def orch(ctx, _):
        try:
            yield ctx.call_entity(COUNTER_A, "withdraw", 500)
        except task.TaskFailedError as failed:
            return [failed.details.error_type, str(failed)]

    first = run(registry(orch), [], started("orch"))
    request_id = _messages(first)[0].entityOperationCalled.requestId
    done = run(registry(orch), started("orch") + confirm(first),
               [tick(), h.new_entity_operation_failed_event(request_id, ValueError("insufficient funds"))])
    error_type, message = output(done)
    assert error_type.endswith("EntityOperationFailedException")
    assert message == "Operation 'withdraw' on entity '@counter@a' failed with error: insufficient funds"


def test_signal_entity_is_fire_and_forget_with_an_optional_delivery_time():
    at = datetime(2025, 1, 2, 8, 0, 0)

    def orch(ctx, _):
        ctx.signal_entity(COUNTER_A, "add", 1)
        ctx.signal_entity(COUNTER_B, "reset", signal_time=at)
        return "sent"

    first = run(registry(orch), [], started("orch"))
    assert kinds(first) == ["sendEntityMessage", "sendEntityMessage", "completeOrchestration"]
    now, later = (m.entityOperationSignaled for m in _messages(first))
    assert (now.targetInstanceId.value, now.operation, now.input.value, now.HasField("scheduledTime")) == \
        ("@counter@a", "add", "1", False)
    assert (later.targetInstanceId.value, later.scheduledTime.ToDatetime()) == ("@counter@b", at)
    assert now.requestId != later.requestId

    replayed = run(registry(orch), started("orch") + confirm(first)[:2], [tick()])
    assert kinds(replayed) == ["completeOrchestration"]


def test_lock_entities_asks_for_sorted_distinct_locks_then_calls_and_unlocks():
    def orch(ctx: task.OrchestrationContext, _):
        with (yield ctx.lock_entities([COUNTER_B, COUNTER_A, COUNTER_B])):
            a = yield ctx.call_entity(COUNTER_A, "get")
            b = yield ctx.call_entity(COUNTER_B, "get")
        return a + b

    reg = registry(orch)
    first = run(reg, [], started("orch"))
    [lock] = [m.entityLockRequested for m in _messages(first)]
    assert (list(lock.lockSet), lock.position, lock.parentInstanceId.value) == (["@counter@a", "@counter@b"], 0,
                                                                                 INSTANCE_ID)
    history = started("orch") + confirm(first)
    second = run(reg, history, [tick(), h.new_entity_lock_granted_event(lock.criticalSectionId)])
    history += [tick(), h.new_entity_lock_granted_event(lock.criticalSectionId)] + confirm(second)
    call_a = _messages(second)[0].entityOperationCalled
    third = run(reg, history, [tick(), h.new_entity_operation_completed_event(call_a.requestId, js(1))])
    history += [tick(), h.new_entity_operation_completed_event(call_a.requestId, js(1))] + confirm(third)
    call_b = _messages(third)[0].entityOperationCalled
    last = run(reg, history, [tick(), h.new_entity_operation_completed_event(call_b.requestId, js(2))])

    assert output(last) == 3
    unlocks = [m.entityUnlockSent for m in _messages(last)]
    assert [(u.targetInstanceId.value, u.criticalSectionId) for u in unlocks] == \
        [("@counter@a", lock.criticalSectionId), ("@counter@b", lock.criticalSectionId)]
    assert [a.id for a in last.actions] == [4, 5, 6], "unlocks take action ids like any action"

    history += [tick(), h.new_entity_operation_completed_event(call_b.requestId, js(2))] + confirm(last)[:2]
    again = run(reg, history, [tick()])
    assert kinds(again) == ["completeOrchestration"], "recorded unlocks are not sent again"


def test_an_orchestration_ending_inside_its_critical_section_releases_the_locks():
    def orch(ctx, _):
        yield ctx.lock_entities([COUNTER_A])
        raise ValueError("forgot the with block, then failed")

    first = run(registry(orch), [], started("orch"))
    section = _messages(first)[0].entityLockRequested.criticalSectionId
    done = run(registry(orch), started("orch") + confirm(first), [tick(), h.new_entity_lock_granted_event(section)])
    assert kinds(done) == ["sendEntityMessage", "completeOrchestration"]
    assert _messages(done)[0].entityUnlockSent.targetInstanceId.value == "@counter@a"
    assert "forgot the with block" in _failure(done).errorMessage


def _fails_inside_section(body) -> str:
    def orch(ctx, _):
        with (yield ctx.lock_entities([COUNTER_A])):
            yield from body(ctx)

    first = run(registry(orch), [], started("orch"))
    section = _messages(first)[0].entityLockRequested.criticalSectionId
    done = run(registry(orch), started("orch") + confirm(first), [tick(), h.new_entity_lock_granted_event(section)])
    assert _messages(done)[-1].HasField("entityUnlockSent"), "the locks are released when the orchestration fails"
    return _failure(done).errorMessage


def test_critical_section_rules_fail_the_orchestration_with_their_reason():
    def call_unlocked(ctx):
        yield ctx.call_entity(COUNTER_B, "get")

    def signal_locked(ctx):
        ctx.signal_entity(COUNTER_A, "add", 1)
        yield ctx.create_timer(ctx.current_utc_datetime)

    def nest(ctx):
        yield ctx.lock_entities([COUNTER_B])

    def call_twice(ctx):
        first = ctx.call_entity(COUNTER_A, "get")
        second = ctx.call_entity(COUNTER_A, "get")
        yield task.when_all([first, second])

    assert "only the locked entities" in _fails_inside_section(call_unlocked)
    assert "Cannot signal the locked entity '@counter@a'" in _fails_inside_section(signal_locked)
    assert "do not nest" in _fails_inside_section(nest)
    assert "still running" in _fails_inside_section(call_twice)


def test_calling_before_the_lock_is_granted_is_refused():
    def orch(ctx, _):
        ctx.lock_entities([COUNTER_A])
        yield ctx.call_entity(COUNTER_A, "get")

    assert "lock request must complete" in _failure(run(registry(orch), [], started("orch"))).errorMessage


def test_a_different_entity_or_operation_in_history_is_non_deterministic():
    def orch(ctx, _):
        yield ctx.call_entity(COUNTER_B, "add", 1)

    history = started("orch") + [h.new_entity_operation_called_event(1, "r1", "@counter@a", "add")]
    result = run(registry(orch), history, [tick()])
    details = _failure(result)
    assert details.errorType == "durabletask.task.NonDeterminismError"
    assert "call_entity('@counter@a', 'add')" in details.errorMessage
    assert "call_entity('@counter@b', 'add')" in details.errorMessage
    assert len(result.actions) == 1


def test_an_entity_call_where_history_has_an_activity_is_non_deterministic():
    def orch(ctx, _):
        yield ctx.call_entity(COUNTER_A, "add", 1)

    history = started("orch") + [h.new_task_scheduled_event(1, "add")]
    details = _failure(run(registry(orch), history, [tick()]))
    assert "call_activity('add')" in details.errorMessage and "call_entity('@counter@a', 'add')" in \
        details.errorMessage


def test_a_lock_on_other_entities_than_recorded_is_non_deterministic():
    def orch(ctx, _):
        yield ctx.lock_entities([COUNTER_B])

    recorded = pb.SendEntityMessageAction(entityLockRequested=pb.EntityLockRequestedEvent(
        criticalSectionId="s1", lockSet=["@counter@a"]))
    details = _failure(run(registry(orch), started("orch") + [h.new_entity_message_event(1, recorded)], [tick()]))
    assert "lock_entities([@counter@a])" in details.errorMessage
    assert "lock_entities([@counter@b])" in details.errorMessage


def test_an_answer_for_an_unknown_request_is_ignored():
    def orch(ctx, _):
        return (yield ctx.wait_for_external_event("go"))

    result = run(registry(orch), started("orch"), [h.new_entity_operation_completed_event("nobody", js(1)),
                                                   h.new_entity_lock_granted_event("no-section"),
                                                   h.new_event_raised_event("go", js("done"))])
    assert output(result) == "done"
