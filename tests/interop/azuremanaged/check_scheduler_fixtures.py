"""Run in the ``durabletask-azuremanaged`` 1.12.0 venv (``scripts/azuremanaged_venv.py``) with only the testkit on
PYTHONPATH and ``-o durabletask_taskhub=orders``, by ``tests/interop/test_azuremanaged_sdk_on_fake.py``: a real
DurableTaskSchedulerWorker and DurableTaskSchedulerClient, handed out by the plugin's fixtures, run orchestrations
with activities, durable timers moved by the virtual clock, an entity and an exploration of schedules on the
in-process fake; every test is replay-audited as any other.

Collected with ``-o python_files=check_*.py``; our own suite never imports this file.
"""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from durabletask.azuremanaged.client import DurableTaskSchedulerClient
from durabletask.azuremanaged.worker import DurableTaskSchedulerWorker
from durabletask_pytest import wait_until

from durabletask import entities, task
from durabletask.client import OrchestrationStatus, TaskHubGrpcClient
from durabletask.worker import TaskHubGrpcWorker

HUB = "orders"  # the -o durabletask_taskhub=orders the runner gives
WAIT = 30  # seconds any wait for an orchestration may take


def price(ctx: task.ActivityContext, item: str) -> int:
    return {"apple": 3, "pear": 5}.get(item, 1)


def total(ctx: task.ActivityContext, prices: list[int]) -> int:
    return sum(prices)


def checkout(ctx: task.OrchestrationContext, items: list[str]):  # type: ignore[no-untyped-def]
    prices = yield task.when_all([ctx.call_activity(price, input=item) for item in items])
    return (yield ctx.call_activity(total, input=prices))


def reminder(ctx: task.OrchestrationContext, days: int):  # type: ignore[no-untyped-def]
    started = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(days=days))
    waited = ctx.current_utc_datetime - started
    return [waited.total_seconds(), (yield ctx.call_activity(price, input="pear"))]


def approval(ctx: task.OrchestrationContext, _: None):  # type: ignore[no-untyped-def]
    decision = ctx.wait_for_external_event("approved")
    timeout = ctx.create_timer(timedelta(hours=24))
    winner = yield task.when_any([decision, timeout])
    return "approved" if winner == decision else "expired"


def cart(ctx: entities.EntityContext, amount: int | None) -> int:
    state = ctx.get_state(int, 0)
    if ctx.operation == "add":
        state += amount or 0
        ctx.set_state(state)
    return state


def fill_cart(ctx: task.OrchestrationContext, key: str):  # type: ignore[no-untyped-def]
    entity = entities.EntityInstanceId("cart", key)
    yield ctx.call_entity(entity, "add", input=4)
    ctx.signal_entity(entity, "add", input=1)
    return (yield ctx.call_entity(entity, "add", input=2))


def test_the_fixtures_are_the_schedulers_classes_on_the_configured_hub(durable_worker, durable_client,
                                                                       durable_sidecar):
    assert isinstance(durable_worker, DurableTaskSchedulerWorker)
    assert isinstance(durable_client, DurableTaskSchedulerClient)
    assert durable_sidecar.task_hub == HUB
    assert durable_worker.maximum_timer_interval is None  # as the scheduler's worker sets it


def test_an_orchestration_fans_out_to_activities(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[checkout], activities=[price, total])
    instance_id = durable_client.schedule_new_orchestration(checkout, input=["apple", "pear", "fig"])
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=WAIT)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert state.serialized_output == "9"
    assert durable_client.scheduled_instance_ids == [instance_id]


def test_a_stubbed_activity_answers_for_the_real_one(durable_worker, durable_client):
    stub = durable_worker.stub_activity(price, returns=10)
    durable_worker.start_with(orchestrators=[checkout], activities=[total])
    instance_id = durable_client.schedule_new_orchestration(checkout, input=["apple", "pear"])
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=WAIT)
    assert state.serialized_output == "20"
    assert sorted(call.input for call in stub.calls) == ["apple", "pear"]


@pytest.mark.durabletask(clock="manual")
def test_a_week_long_timer_fires_when_the_test_moves_time(durable_worker, durable_client, durable_sidecar,
                                                          durable_clock):
    durable_worker.start_with(orchestrators=[reminder], activities=[price])
    instance_id = durable_client.schedule_new_orchestration(reminder, input=7)
    kinds = lambda: [event.WhichOneof("eventType") for event in durable_sidecar.history(instance_id)]  # noqa: E731
    wait_until(lambda: "timerCreated" in kinds(), timeout=WAIT, what="the timer")
    assert kinds().count("timerCreated") == 1  # one whole timer: the scheduler's worker does not chunk long ones
    durable_clock.advance(timedelta(days=7))
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=WAIT)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert state.serialized_output == f"[{timedelta(days=7).total_seconds()}, 5]"


def test_the_auto_clock_skips_a_day_long_timeout(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[approval])
    expired = durable_client.schedule_new_orchestration(approval)
    assert durable_client.wait_for_orchestration_completion(expired, timeout=WAIT).serialized_output == '"expired"'
    approved = durable_client.schedule_new_orchestration(approval)
    durable_client.wait_for_orchestration_start(approved, timeout=WAIT)
    durable_client.raise_orchestration_event(approved, "approved", data=True)
    assert durable_client.wait_for_orchestration_completion(approved, timeout=WAIT).serialized_output == '"approved"'


def test_an_entity_is_called_and_signalled(durable_worker, durable_client, durable_sidecar):
    durable_worker.add_entity(cart)
    durable_worker.start_with(orchestrators=[fill_cart])
    instance_id = durable_client.schedule_new_orchestration(fill_cart, input="c1")
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=WAIT)
    assert state.runtime_status == OrchestrationStatus.COMPLETED, state.failure_details
    assert state.serialized_output == "7"
    durable_client.signal_entity(entities.EntityInstanceId("cart", "c1"), "add", input=10)
    assert durable_sidecar.wait_until_idle(WAIT)
    found = durable_client.get_entity(entities.EntityInstanceId("cart", "c1"), include_state=True)
    assert found is not None and found.get_state(int) == 17


def test_a_client_of_another_hub_is_refused_naming_both(durable_sidecar, durable_client):
    other = DurableTaskSchedulerClient(host_address=durable_sidecar.address, taskhub="payments",
                                       token_credential=None, secure_channel=False)
    try:
        with pytest.raises(grpc.RpcError) as refused:
            other.schedule_new_orchestration("checkout")
    finally:
        other.close()
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert "task hub not found: 'payments'" in refused.value.details() and f"'{HUB}'" in refused.value.details()
    assert durable_sidecar.instances() == []


def test_exploration_runs_the_schedulers_classes_on_the_hub(durable_explore):
    seen = []

    def scenario(run):  # type: ignore[no-untyped-def]
        seen.append((type(run.worker), run.sidecar.task_hub))
        run.worker.start_with(orchestrators=[checkout], activities=[price, total])
        instance_id = run.client.schedule_new_orchestration(checkout, input=["apple", "pear"])
        assert run.client.wait_for_orchestration_completion(instance_id, timeout=WAIT).serialized_output == "8"

    assert durable_explore(scenario, schedules=4).schedules_run == 4
    assert len(seen) == 4 and all(issubclass(kind, DurableTaskSchedulerWorker) and hub == HUB for kind, hub in seen)


@pytest.mark.durabletask(taskhub=None)
def test_a_marker_turns_the_hub_off_for_one_test(durable_worker, durable_client, durable_sidecar):
    assert not isinstance(durable_worker, DurableTaskSchedulerWorker)
    assert isinstance(durable_worker, TaskHubGrpcWorker) and isinstance(durable_client, TaskHubGrpcClient)
    assert durable_sidecar.task_hub is None
    durable_worker.start_with(orchestrators=[checkout], activities=[price, total])
    instance_id = durable_client.schedule_new_orchestration(checkout, input=["apple"])
    assert durable_client.wait_for_orchestration_completion(instance_id, timeout=WAIT).serialized_output == "3"
