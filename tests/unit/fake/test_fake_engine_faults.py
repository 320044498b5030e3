"""Engine unit tests: the FaultPlan's decision points."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fake_engine_helpers import START, Harness, complete, kinds, schedule_task

from durabletask_testing.errors import EngineError, ErrorCode
from durabletask_testing.faults import FaultPlan, Site


def test_fail_activity_answers_without_dispatching():
    h = Harness()
    h.engine.faults.fail_activity("charge", times=1, message="declined", error_type="PaymentError")
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "charge"), schedule_task(1, "charge"))
    assert h.next_activity().task_id == 1  # the first execution was answered with a failure, never handed out
    item = h.next_orchestrator()
    failure = item.new_events[1].taskFailed.failureDetails
    assert item.new_events[1].taskFailed.taskScheduledId == 0
    assert (failure.errorType, failure.errorMessage) == ("PaymentError", "declined")
    [record] = h.engine.faults.log
    assert (record.kind, record.instance_id, record.task_id, record.time) == ("fail_activity", "i1", 0, START)


def test_lose_activity_result_dispatches_again():
    h = Harness()
    h.engine.faults.lose_activity_result("a")
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "a"))
    first = h.next_activity()
    h.answer(first, result="1")
    again = h.next_activity()
    assert again.task_id == 0 and again.token != first.token
    h.answer(again, result="2")
    assert h.next_orchestrator().new_events[1].taskCompleted.result.value == "2"


def test_lose_orchestrator_result_replays_the_same_events():
    h = Harness()
    h.engine.faults.lose_orchestrator_result("orch")
    h.start()
    first = h.next_orchestrator()
    h.finish(first, schedule_task(0, "a"))
    again = h.next_orchestrator()
    assert kinds(again.new_events) == kinds(first.new_events) and again.past_events == []
    h.finish(again, schedule_task(0, "a"))
    assert h.next_activity().name == "a"


def test_delay_activity_holds_the_result_until_the_clock_moves():
    h = Harness()
    h.engine.faults.delay_activity("a", by=timedelta(minutes=10))
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "a"))
    h.answer(h.next_activity(), result="1")
    assert h.next() is None
    h.advance(minutes=10)
    item = h.next_orchestrator()
    assert item.new_events[1].HasField("taskCompleted")
    assert item.new_events[1].timestamp.ToSeconds() == int((START + timedelta(minutes=10)).timestamp())


def test_disconnect_workers_after_n_dispatches():
    h = Harness()
    h.engine.faults.disconnect_workers(after=1)
    h.start()
    item = h.next_orchestrator()
    with pytest.raises(EngineError) as error:
        h.next()
    assert error.value.code is ErrorCode.UNAVAILABLE
    h.engine.disconnect(h.connection)
    fresh = h.connect()
    again = h.next_orchestrator(fresh)
    assert kinds(again.new_events) == kinds(item.new_events)


def test_fail_rpc_counts_down():
    plan = FaultPlan().fail_rpc("RaiseEvent", times=2)
    assert [plan.rpc_fault("RaiseEvent", START) for _ in range(3)] == ["UNAVAILABLE", "UNAVAILABLE", None]
    assert plan.rpc_fault("StartInstance", START) is None


def test_chaos_decisions_depend_only_on_seed_and_key():
    def decisions(seed: int, order: list[int]) -> dict[int, bool]:
        plan = FaultPlan().chaos(seed, rate=0.5, kinds=["fail_activity"])
        return {t: plan.activity_dispatch_fault(Site("i", "orch#0~0", "a", t), START) is not None for t in order}

    forward = decisions(7, list(range(40)))
    backward = decisions(7, list(reversed(range(40))))
    assert forward == backward and 5 < sum(forward.values()) < 35
    assert decisions(8, list(range(40))) != forward


def test_fault_configuration_is_validated():
    plan = FaultPlan()
    with pytest.raises(ValueError, match="times"):
        plan.fail_activity("a", times=0)
    with pytest.raises(ValueError, match="rate"):
        plan.chaos(1, rate=2)
    with pytest.raises(ValueError, match="kinds"):
        plan.chaos(1, rate=0.1, kinds=["explode"])
    with pytest.raises(ValueError, match="by"):
        plan.delay_activity("a", by=timedelta(0))
    with pytest.raises(TypeError):
        plan.fail_activity(42)


def test_orchestration_completes_under_fault_free_plan_after_clear():
    h = Harness()
    h.engine.faults.fail_activity("a", times=None)
    h.engine.faults.clear()
    h.start()
    h.finish(h.next_orchestrator(), schedule_task(0, "a"))
    h.answer(h.next_activity(), result="1")
    h.finish(h.next_orchestrator(), complete(result="1"))
    assert h.engine.faults.log == []
