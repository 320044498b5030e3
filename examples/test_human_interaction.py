"""Tests of the purchase-order approval workflow: approval in time, timeout, and an early approval.

The 24-hour timeout is tested on the fake sidecar's virtual clock, so no test waits for real time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from human_interaction import Approval, Order, main, purchase_order_workflow, register

from durabletask import client

BIG_ORDER = Order(Cost=2500, Product="monitor", Quantity=10)


def event_kinds(sidecar, instance_id: str) -> list[str]:
    return [event.WhichOneof("eventType") for event in sidecar.history(instance_id)]


def test_small_orders_are_approved_automatically(durable_worker, durable_client) -> None:
    register(durable_worker)
    durable_worker.start()

    instance_id = durable_client.schedule_new_orchestration(purchase_order_workflow, input=Order(250, "mouse", 5))
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    assert state.get_output() == "Auto-approved"


@pytest.mark.durabletask(clock="manual")
def test_manager_approves_within_24_hours(durable_worker, durable_client, durable_sidecar, durable_clock) -> None:
    register(durable_worker)
    durable_worker.start()
    instance_id = durable_client.schedule_new_orchestration(purchase_order_workflow, input=BIG_ORDER)
    assert durable_sidecar.wait_until_idle()  # the workflow has asked for approval and started its timer

    durable_clock.advance(timedelta(hours=23))  # the manager takes most of the day...
    durable_client.raise_orchestration_event(instance_id, "approval_received", data=Approval("Alice"))
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    assert state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.get_output() == "Approved by 'Alice'"
    assert "timerFired" not in event_kinds(durable_sidecar, instance_id)


@pytest.mark.durabletask(clock="manual")
def test_order_is_canceled_after_24_virtual_hours(durable_worker, durable_client, durable_sidecar,
                                                  durable_clock) -> None:
    register(durable_worker)
    durable_worker.start()
    instance_id = durable_client.schedule_new_orchestration(purchase_order_workflow, input=BIG_ORDER)
    assert durable_sidecar.wait_until_idle()  # the workflow has asked for approval and started its timer

    durable_clock.advance(timedelta(hours=23, minutes=59))
    assert durable_client.get_orchestration_state(instance_id).runtime_status == client.OrchestrationStatus.RUNNING

    durable_clock.advance(timedelta(minutes=1))
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    assert state.get_output() == "Canceled"
    assert state.last_updated_at - state.created_at >= timedelta(hours=24)


def test_unanswered_order_times_out_at_once_on_the_auto_clock(durable_worker, durable_client, durable_clock) -> None:
    register(durable_worker)
    durable_worker.start()
    started = durable_clock.now()

    instance_id = durable_client.schedule_new_orchestration(purchase_order_workflow, input=BIG_ORDER)
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    assert state.get_output() == "Canceled"
    assert durable_clock.now() - started >= timedelta(hours=24)  # the auto clock jumped to the timer


def test_approval_raised_before_the_orchestration_waits(durable_worker, durable_client) -> None:
    instance_id = durable_client.schedule_new_orchestration(purchase_order_workflow, input=BIG_ORDER)
    durable_client.raise_orchestration_event(instance_id, "approval_received", data=Approval("Bob"))

    register(durable_worker)
    durable_worker.start()  # only now does the workflow run and start waiting: the event is already there
    state = durable_client.wait_for_orchestration_completion(instance_id, timeout=10)

    assert state.get_output() == "Approved by 'Bob'"


def test_example_script_tells_the_whole_story(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "-> Auto-approved" in out
    assert "-> Approved by 'Alice'" in out
    assert "-> Canceled  (1 day of sidecar time" in out
