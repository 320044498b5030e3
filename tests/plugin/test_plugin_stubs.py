"""Test doubles: an activity or a sub-orchestrator replaced by name in one test, with the calls it received.

Run by pytester as users write them; the same file passes with our SDK and with the published durabletask
(the wheel check and tests/interop run this folder with the published SDK).
"""

from __future__ import annotations

import pytest

WORKFLOWS = '''
from datetime import timedelta

from durabletask import task


def charge_card(ctx, amount):
    raise AssertionError("the real charge_card must not run in these tests")


def send_receipt(ctx, amount):
    return f"receipt for {amount}"


def checkout(ctx, amount):
    yield ctx.create_timer(timedelta(hours=2))
    policy = task.RetryPolicy(first_retry_interval=timedelta(seconds=5), max_number_of_attempts=3)
    charged = yield ctx.call_activity(charge_card, input=amount, retry_policy=policy)
    receipt = yield ctx.call_activity(send_receipt, input=amount)
    return [charged, receipt]


def ship(ctx, order):
    raise AssertionError("the real ship must not run in these tests")


def order_flow(ctx, order):
    try:
        tracking = yield ctx.call_sub_orchestrator(ship, input=order)
    except task.TaskFailedError as error:
        return f"shipping failed: {error.details.message}"
    return f"shipped as {tracking}"
'''

STUB_TESTS = '''
from datetime import timedelta

import pytest
from durabletask import client

from workflows import charge_card, checkout, order_flow, send_receipt, ship


def run(durable_client, orchestrator, value):
    instance_id = durable_client.schedule_new_orchestration(orchestrator, input=value)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)
    return instance_id, state


def test_returns_replaces_a_registered_activity_and_records_calls(durable_worker, durable_client, durable_sidecar):
    durable_worker.register(orchestrators=[checkout], activities=[charge_card, send_receipt])
    charge = durable_worker.stub_activity(charge_card, returns="charged")
    durable_worker.start()
    start = durable_sidecar.clock.now()
    instance_id, state = run(durable_client, checkout, 30)
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
    assert state.get_output() == ["charged", "receipt for 30"]
    [call] = charge.calls
    assert (call.name, call.input, call.instance_id, call.attempt) == ("charge_card", 30, instance_id, 1)
    assert call.time - start >= timedelta(hours=2)  # virtual time: after the 2-hour timer
    assert charge.call_count == 1 and charge.inputs == [30]


def test_side_effect_fails_twice_then_succeeds_under_the_retry_policy(durable_worker, durable_client):
    def flaky(call):
        if call.attempt < 3:
            raise ConnectionError(f"attempt {call.attempt}: card network down")
        return f"charged {call.input} on attempt {call.attempt}"

    charge = durable_worker.stub_activity("charge_card", side_effect=flaky)  # stubbed before registration
    durable_worker.start_with(orchestrators=[checkout], activities=[charge_card, send_receipt])
    _, state = run(durable_client, checkout, 7)
    assert state.get_output() == ["charged 7 on attempt 3", "receipt for 7"], state.failure_details
    assert [call.attempt for call in charge.calls] == [1, 2, 3]
    assert charge.calls[1].time - charge.calls[0].time >= timedelta(seconds=5)  # the retry's back-off


def test_raises_fails_the_activity_with_that_error(durable_worker, durable_client):
    durable_worker.stub_activity(charge_card, raises=ValueError("card declined"))
    durable_worker.start_with(orchestrators=[checkout], activities=[send_receipt])  # charge_card never registered
    _, state = run(durable_client, checkout, 9)
    assert state.runtime_status == client.OrchestrationStatus.FAILED
    assert "card declined" in state.failure_details.message
    assert state.failure_details.error_type.endswith("TaskFailedError") or "ValueError" in (
        state.failure_details.message + state.failure_details.error_type)


def test_a_stubbed_sub_orchestrator_completes_or_fails_for_its_parent(durable_worker, durable_client):
    shipping = durable_worker.stub_orchestrator(ship, returns="TRACK-1")
    durable_worker.start_with(orchestrators=[order_flow, ship])
    instance_id, state = run(durable_client, order_flow, {"sku": "kb"})
    assert state.get_output() == "shipped as TRACK-1", state.failure_details
    assert shipping.inputs == [{"sku": "kb"}]
    assert shipping.calls[0].instance_id != instance_id  # the child instance


def test_a_sub_orchestrator_stub_can_raise(durable_worker, durable_client):
    durable_worker.stub_orchestrator("ship", raises="warehouse closed")
    durable_worker.start_with(orchestrators=[order_flow])
    _, state = run(durable_client, order_flow, {"sku": "kb"})
    assert state.get_output() == "shipping failed: warehouse closed", state.failure_details


def test_unstub_lets_the_real_function_answer_again(durable_worker, durable_client):
    durable_worker.register(orchestrators=[checkout], activities=[charge_card, send_receipt])
    durable_worker.stub_activity(send_receipt, returns="stubbed receipt")
    durable_worker.unstub(send_receipt)
    durable_worker.stub_activity(charge_card, returns="ok")
    durable_worker.start()
    _, state = run(durable_client, checkout, 3)
    assert state.get_output() == ["ok", "receipt for 3"]
    assert [stub.name for stub in durable_worker.stubs] == ["charge_card"]


def test_mistakes_get_clear_errors(durable_worker):
    with pytest.raises(ValueError, match="at most one of"):
        durable_worker.stub_activity("x", returns=1, raises="no")
    with pytest.raises(ValueError, match="pass the name"):
        durable_worker.stub_activity(lambda ctx, x: x, returns=1)
    with pytest.raises(KeyError, match="no stub named"):
        durable_worker.unstub("never_stubbed")
    durable_worker.add_activity(send_receipt)
    with pytest.raises(ValueError, match="already exists"):
        durable_worker.add_activity(send_receipt)
    durable_worker.start()
    with pytest.raises(RuntimeError, match="before start"):
        durable_worker.stub_activity("never_registered", returns=1)
    assert durable_worker.stub_activity(send_receipt, returns="late").name == "send_receipt"  # registered: fine
'''


def test_stubs_replace_activities_and_sub_orchestrators_by_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(workflows=WORKFLOWS, test_stubs=STUB_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


def test_a_stub_table_gives_one_trampoline_per_name_and_function() -> None:
    from durabletask_pytest.sdk.stubs import StubTable

    def first(ctx: object, value: object) -> object:
        return value

    def second(ctx: object, value: object) -> object:
        return value

    table = StubTable()
    trampoline = table.trampoline("activity", "first", first)
    assert table.trampoline("activity", "first", first) is trampoline  # the audit's registration reuses it
    assert table.trampoline("activity", "first", second) is not trampoline
    assert table.trampoline("orchestrator", "first", first) is not trampoline
    assert table.trampoline("activity", "other", first) is not trampoline
    assert StubTable().trampoline("activity", "first", first) is not trampoline  # each table routes to its own
