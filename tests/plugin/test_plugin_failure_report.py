"""The failure report: a failing workflow test shows each instance's timeline, final state and injected faults."""

from __future__ import annotations

import re

import pytest

TIMELINE_LINE = re.compile(r"^[+-]\d{2,}:\d{2}:\d{2}\.\d{3}  \S")


FAILING_TESTS = '''
from datetime import timedelta

from durabletask import task


def charge(ctx, amount):
    if amount > 40:
        raise ValueError("card declined")
    return amount


def checkout(ctx, amount):
    try:
        yield ctx.call_activity(charge, input=amount)
    except task.TaskFailedError:
        yield ctx.create_timer(timedelta(hours=24))
        return "retry tomorrow"
    return "charged"


def test_checkout_charges_at_once(durable_worker, durable_client, durable_faults):
    durable_faults.lose_activity_result(charge, times=1)
    durable_worker.start_with(orchestrators=[checkout], activities=[charge])
    instance_id = durable_client.schedule_new_orchestration(checkout, input=42, instance_id="checkout-1")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.get_output() == "charged"


def test_chaos_seed_is_reported(durable_worker, durable_client, durable_faults):
    durable_faults.chaos(seed=4242, rate=0.0)
    durable_worker.start_with(orchestrators=[checkout], activities=[charge])
    instance_id = durable_client.schedule_new_orchestration(checkout, input=7, instance_id="checkout-2")
    durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert False, "fail on purpose"


def test_passing_tests_get_no_report(durable_client):
    pass
'''


def test_failure_report_shows_timelines_final_state_and_faults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_failing=FAILING_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rP")
    result.assert_outcomes(passed=1, failed=2)
    output = result.stdout.str()

    first = output[output.index("_ test_checkout_charges_at_once _"): output.index("_ test_chaos_seed_is_reported _")]
    assert "durabletask: orchestration timelines" in first
    assert "clock=auto" in first
    assert "instance 'checkout-1' (checkout): COMPLETED" in first
    assert "input: 42" in first and 'output: "retry tomorrow"' in first
    timeline = [line.strip() for line in first.splitlines() if TIMELINE_LINE.match(line.strip())]
    kinds = [line.split()[1] for line in timeline]
    assert "ExecutionStarted" in kinds[:2]
    assert any(kind.startswith("TaskScheduled#") for kind in kinds) and "TaskFailed" in kinds
    assert any(kind.startswith("TimerCreated#") for kind in kinds)
    assert any(line.startswith("+24:00:00.000  TimerFired") for line in timeline)
    assert any("ValueError: card declined" in line for line in timeline if "TaskFailed" in line)
    assert "ExecutionCompleted" in kinds
    assert "injected faults (1):" in first
    assert "lose_activity_result instance='checkout-1' task=" in first
    assert "chaos seed: none" in first

    second = output[output.index("_ test_chaos_seed_is_reported _"):]
    assert "instance 'checkout-2' (checkout): COMPLETED" in second
    assert "chaos seed: 4242" in second
    assert "injected faults: none" in second

    # Passing tests carry no report section.
    passed = output[output.index("PASSES"):]
    assert "durabletask: orchestration timelines" not in passed


ENTITY_TESTS = '''
from durabletask import entities


def counter(ctx, amount):
    if ctx.operation == "add":
        ctx.set_state(ctx.get_state(int, 0) + amount)
    return ctx.get_state(int, 0)


def add_twice(ctx, _):
    entity = entities.EntityInstanceId("counter", "c1")
    yield ctx.call_entity(entity, "add", 2)
    return (yield ctx.call_entity(entity, "add", 3))


def test_counter_reaches_ten(durable_worker, durable_client):
    durable_worker.add_entity(counter)
    durable_worker.start_with(orchestrators=[add_twice])
    instance_id = durable_client.schedule_new_orchestration(add_twice)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.get_output() == 10
'''


def test_failure_report_shows_entities_with_state_and_operations(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_entity_report=ENTITY_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*entity '@counter@c1': state 5*",
        "*operations (2):*",
        "*add * completed  (called by '*')*",
    ])
