"""Exploration finds race and crash bugs that a plain run passes, and reruns the failing schedule from its spec.

Each bug below passes as a plain test; ``durable_explore`` finds it within 50 schedules, the report names
the schedule, and ``--durabletask-seed=<spec>`` fails again the same way. The fixed workflows pass every
schedule. Only public SDK API is used, so this file also runs against the published SDK.
"""

from __future__ import annotations

import re

import pytest

WORKFLOWS = '''
from durabletask import task

LEDGER = []
NOTIFICATIONS = []


def price(ctx, item):
    return item + "-priced"


def quote_in_arrival_order(ctx, items):
    """BUG: collects fan-out results in completion order, but returns them as if in input order."""
    pending = [ctx.call_activity(price, input=item) for item in items]
    results = []
    while pending:
        done = yield task.when_any(pending)
        pending.remove(done)
        results.append(done.get_result())
    return results


def quote_in_input_order(ctx, items):
    return (yield task.when_all([ctx.call_activity(price, input=item) for item in items]))


def charge(ctx, amount):
    """BUG: not idempotent: a redelivered work item charges the card again."""
    LEDGER.append(amount)
    return len(LEDGER)


def charge_once(ctx, amount):
    key = (ctx.orchestration_id, ctx.task_id)
    if key not in [entry[0] for entry in LEDGER]:
        LEDGER.append((key, amount))
    return len(LEDGER)


def checkout(ctx, amount):
    yield ctx.call_activity(charge, input=amount)
    return "charged"


def checkout_once(ctx, amount):
    yield ctx.call_activity(charge_once, input=amount)
    return "charged"


def record(ctx, text):
    return text


def notify(ctx, text):
    key = (ctx.orchestration_id, ctx.task_id)
    if key not in [entry[0] for entry in NOTIFICATIONS]:
        NOTIFICATIONS.append((key, text))


def request_approval(ctx, order):
    """BUG: a side effect in orchestrator code, guarded against replay but not against a redelivered work item."""
    if not ctx.is_replaying:
        NOTIFICATIONS.append("please approve " + order)
    yield ctx.call_activity(record, input=order)
    return "requested"


def request_approval_by_activity(ctx, order):
    yield ctx.call_activity(notify, input="please approve " + order)
    yield ctx.call_activity(record, input=order)
    return "requested"


def quoting(orchestrator):
    def scenario(run):
        run.worker.start_with(orchestrators=[orchestrator], activities=[price])
        instance_id = run.client.schedule_new_orchestration(orchestrator, input=["a", "b", "c"])
        state = run.client.wait_for_orchestration_completion(instance_id, timeout=10)
        assert state.get_output() == ["a-priced", "b-priced", "c-priced"]
    return scenario


def charging(orchestrator, activity):
    def scenario(run):
        LEDGER.clear()
        run.worker.start_with(orchestrators=[orchestrator], activities=[activity])
        instance_id = run.client.schedule_new_orchestration(orchestrator, input=30)
        state = run.client.wait_for_orchestration_completion(instance_id, timeout=10)
        assert state.get_output() == "charged"
        assert len(LEDGER) == 1, f"charged {len(LEDGER)} times"
    return scenario


def approving(orchestrator):
    def scenario(run):
        NOTIFICATIONS.clear()
        run.worker.start_with(orchestrators=[orchestrator], activities=[record, notify])
        instance_id = run.client.schedule_new_orchestration(orchestrator, input="PO-7")
        state = run.client.wait_for_orchestration_completion(instance_id, timeout=10)
        assert state.get_output() == "requested"
        assert len(NOTIFICATIONS) == 1, f"{len(NOTIFICATIONS)} approval requests sent"
    return scenario
'''

TESTS = '''
import pytest
from explore_specs import EXPECTED_SPECS
from workflows import (
    approving, charge, charge_once, charging, checkout, checkout_once, quote_in_arrival_order,
    quote_in_input_order, quoting, request_approval, request_approval_by_activity,
)

SCENARIOS = {
    "reorder": quoting(quote_in_arrival_order),
    "activity_redelivery": charging(checkout, charge),
    "orchestrator_redelivery": approving(request_approval),
}
FIXED = {
    "reorder": quoting(quote_in_input_order),
    "activity_redelivery": charging(checkout_once, charge_once),
    "orchestrator_redelivery": approving(request_approval_by_activity),
}


@pytest.mark.parametrize("bug", sorted(SCENARIOS))
def test_buggy(durable_explore, bug):
    durable_explore(SCENARIOS[bug], schedules=50)


@pytest.mark.parametrize("bug", sorted(FIXED))
def test_fixed(durable_explore, bug):
    result = durable_explore(FIXED[bug], schedules=14)
    assert result.schedules_run == 14


@pytest.mark.parametrize("bug, spec", sorted(EXPECTED_SPECS.items()))
def test_rerun_from_spec(durable_explore, bug, spec):
    with pytest.raises(AssertionError, match="exploration: the forced schedule failed"):
        durable_explore(SCENARIOS[bug], schedule=spec)
    durable_explore(FIXED[bug], schedule=spec)
'''

PLAIN = '''
from workflows import charge, checkout, quote_in_arrival_order, request_approval, LEDGER, NOTIFICATIONS, price, record


def test_plain_quote(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[quote_in_arrival_order], activities=[price])
    instance_id = durable_client.schedule_new_orchestration(quote_in_arrival_order, input=["a", "b", "c"])
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert sorted(state.get_output()) == ["a-priced", "b-priced", "c-priced"]


def test_plain_checkout(durable_worker, durable_client):
    LEDGER.clear()
    durable_worker.start_with(orchestrators=[checkout], activities=[charge])
    instance_id = durable_client.schedule_new_orchestration(checkout, input=30)
    durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert LEDGER == [30]


def test_plain_approval(durable_worker, durable_client):
    NOTIFICATIONS.clear()
    durable_worker.start_with(orchestrators=[request_approval], activities=[record])
    instance_id = durable_client.schedule_new_orchestration(request_approval, input="PO-7")
    durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert len(NOTIFICATIONS) == 1
'''

EXPECTED_SPECS = {
    "reorder": "order=reverse,at=1",
    "activity_redelivery": "crash=activity@0",
    "orchestrator_redelivery": "crash=orchestrator@0",
}
SPECS_MODULE = f"EXPECTED_SPECS = {EXPECTED_SPECS!r}\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(workflows=WORKFLOWS, test_explore=TESTS, test_plain=PLAIN,
                        explore_specs=SPECS_MODULE)
    pytester.syspathinsert()
    return pytester


def failure_of(output: str, bug: str) -> str:
    start = output.index(f"_ test_buggy[{bug}] _")
    end = output.find("\n____", start + 10)
    return output[start: end if end != -1 else len(output)]


def test_plain_runs_pass_the_buggy_workflows(project: pytest.Pytester) -> None:
    project.runpytest("-p", "no:cacheprovider", "test_plain.py").assert_outcomes(passed=3)


def test_exploration_finds_three_kinds_of_bug_and_fixed_workflows_pass(project: pytest.Pytester) -> None:
    result = project.runpytest("-p", "no:cacheprovider", "test_explore.py")
    result.assert_outcomes(passed=6, failed=3)  # the fixed ones, and every reported spec fails again
    output = result.stdout.str()
    for bug, spec in EXPECTED_SPECS.items():
        report = failure_of(output, bug)
        found = re.search(r"exploration: schedule (\d+) of 50 failed", report)
        assert found is not None and int(found.group(1)) < 50, report
        assert f"schedule: {spec}" in report, report
        assert "reproduced: run once more under this schedule, it failed the same way" in report, report
        assert f"--durabletask-seed='{spec}'" in report, report
        assert "durabletask: orchestration timelines" in report  # the failing schedule's timeline
    reorder = failure_of(output, "reorder")
    assert "delivered [result of price #3, result of price #2, result of price #1]" in reorder
    assert "lose_activity_result" in failure_of(output, "activity_redelivery")
    assert "lose_orchestrator_result" in failure_of(output, "orchestrator_redelivery")


def test_the_reported_seed_reruns_exactly_that_schedule(project: pytest.Pytester) -> None:
    spec = EXPECTED_SPECS["reorder"]
    result = project.runpytest("-p", "no:cacheprovider", "test_explore.py::test_buggy[reorder]",
                               f"--durabletask-seed={spec}")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "exploration: the forced schedule failed" in output
    assert f"schedule: {spec}" in output
    assert "delivered [result of price #3, result of price #2, result of price #1]" in output


MARKED = '''
import pytest
from workflows import price, quote_in_arrival_order


@pytest.mark.durabletask(explore=4)
def test_quote(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[quote_in_arrival_order], activities=[price])
    instance_id = durable_client.schedule_new_orchestration(quote_in_arrival_order, input=["a", "b", "c"])
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    assert state.get_output() == ["a-priced", "b-priced", "c-priced"]
'''


def test_the_marker_runs_the_test_once_per_schedule(project: pytest.Pytester) -> None:
    project.makepyfile(test_marked=MARKED)
    result = project.runpytest("-p", "no:cacheprovider", "test_marked.py", "-v")
    result.assert_outcomes(passed=2, failed=2)  # reversed: fails; one result per work item: passes
    output = result.stdout.str()
    assert "test_quote[schedule-0] PASSED" in output
    assert "test_quote[schedule-1] FAILED" in output
    assert "durabletask: schedule" in output
    assert "schedule: order=reverse  (ready results delivered in reverse order at every work item)" in output
    assert "rerun exactly this schedule: pytest test_marked.py::test_quote --durabletask-seed='order=reverse'" in output

    again = project.runpytest("-p", "no:cacheprovider", "test_marked.py", "--durabletask-seed=order=reverse", "-v")
    again.assert_outcomes(failed=1)
    assert "test_quote[forced-schedule] FAILED" in again.stdout.str()
