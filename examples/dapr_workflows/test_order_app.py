"""Tests of the Dapr order app (order_app.py) on the fake sidecar: no Dapr sidecar, no Docker.

Run with the testkit and Dapr's SDK installed: ``pytest examples/dapr_workflows``. The same tests run against a real
Dapr sidecar with ``--durabletask-sidecar HOST:PORT`` (those needing the virtual clock or faults are skipped).
"""

from __future__ import annotations

import time
from datetime import timedelta

import dapr.ext.workflow as wf
import order_app as app
import pytest

SMALL = {"id": "o-1", "amount": 40, "items": ["mug", "plate", "bowl", "cup"]}
LARGE = {"id": "o-2", "amount": 5000, "items": ["sofa"]}


@pytest.fixture
def runtime(dapr_workflow_runtime):
    return dapr_workflow_runtime.start_with(workflows=app.WORKFLOWS, activities=app.ACTIVITIES)


def test_a_small_order_is_reserved_charged_and_shipped(runtime, dapr_workflow_client):
    instance_id = dapr_workflow_client.schedule_new_workflow(app.order_workflow, input=SMALL)
    state = dapr_workflow_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert state.serialized_output == (
        '{"status": "shipped", "reservation": "reservation-o-1", "payment": "payment-o-1-40", '
        '"label": "label-1-parcels"}'
    )


def test_the_shipping_child_workflow_runs_under_a_derived_id(runtime, dapr_workflow_client, durable_sidecar):
    instance_id = dapr_workflow_client.schedule_new_workflow(app.order_workflow, input=SMALL, instance_id="order-7")
    dapr_workflow_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
    child = dapr_workflow_client.get_workflow_state("order-7-shipping")
    assert child.runtime_status == wf.WorkflowStatus.COMPLETED
    assert child.serialized_output == '"label-1-parcels"'


def test_an_unapproved_large_order_is_cancelled_after_24_hours_at_once(runtime, dapr_workflow_client, durable_clock,
                                                                       durable_sidecar):
    started_at = durable_clock.now()
    instance_id = dapr_workflow_client.schedule_new_workflow(app.order_workflow, input=LARGE)
    assert durable_sidecar.wait_until_idle(10)  # charged, now waiting for the approval or the 24-hour timer
    begin = time.perf_counter()
    state = dapr_workflow_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
    wall = time.perf_counter() - begin
    assert '"status": "cancelled"' in state.serialized_output
    assert durable_clock.now() - started_at >= timedelta(hours=24)
    assert wall < 0.05, f"the 24-hour timer took {wall * 1000:.1f} ms of wall time"
    print(f"24-hour timer: {wall * 1000:.1f} ms wall time")


@pytest.mark.durabletask(clock="manual")
def test_an_approval_before_the_deadline_ships_the_order(runtime, dapr_workflow_client, durable_clock,
                                                         durable_sidecar):
    instance_id = dapr_workflow_client.schedule_new_workflow(app.order_workflow, input=LARGE)
    assert durable_sidecar.wait_until_idle(10)  # waiting for the approval or the timer
    durable_clock.advance(timedelta(hours=23))
    dapr_workflow_client.raise_workflow_event(instance_id, "approval", data={"approved": True})
    state = dapr_workflow_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
    assert '"status": "shipped"' in state.serialized_output


def test_a_rejected_order_is_not_shipped(runtime, dapr_workflow_client, durable_sidecar):
    instance_id = dapr_workflow_client.schedule_new_workflow(app.order_workflow, input=LARGE)
    dapr_workflow_client.wait_for_workflow_start(instance_id, timeout_in_seconds=30)
    dapr_workflow_client.raise_workflow_event(instance_id, "approval", data={"approved": False})
    state = dapr_workflow_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
    assert '"status": "rejected"' in state.serialized_output


def test_a_failing_charge_is_retried_by_the_retry_policy(runtime, dapr_workflow_client, durable_faults,
                                                         durable_sidecar):
    durable_faults.fail_activity("charge_payment", times=2, message="card declined")
    instance_id = dapr_workflow_client.schedule_new_workflow(app.order_workflow, input=SMALL)
    state = dapr_workflow_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED
    kinds = [event.WhichOneof("eventType") for event in durable_sidecar.history(instance_id)]
    assert kinds.count("taskFailed") == 2
    assert len([entry for entry in durable_faults.log if entry.kind == "fail_activity"]) == 2


def test_a_charge_failing_every_time_fails_the_order(runtime, dapr_workflow_client, durable_faults):
    durable_faults.fail_activity("charge_payment", times=None, message="card declined")
    instance_id = dapr_workflow_client.schedule_new_workflow(app.order_workflow, input=SMALL)
    state = dapr_workflow_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
    assert state.runtime_status == wf.WorkflowStatus.FAILED
    assert "card declined" in state.failure_details.message


def test_a_batch_continues_as_new_until_every_order_is_done(runtime, dapr_workflow_client):
    batch = {"orders": [dict(SMALL, id="a"), dict(SMALL, id="b"), dict(SMALL, id="c")]}
    instance_id = dapr_workflow_client.schedule_new_workflow(app.order_batch_workflow, input=batch)
    state = dapr_workflow_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED
    assert state.serialized_output == "3"


def test_activities_see_the_task_execution_id_dapr_gives_them(dapr_workflow_runtime, dapr_workflow_client):
    seen: list[str] = []

    def record(ctx: wf.WorkflowActivityContext, _: object) -> None:
        seen.append(ctx.get_inner_context().task_execution_id)

    def calls_twice(ctx: wf.DaprWorkflowContext, _: object):
        yield ctx.call_activity(record)
        yield ctx.call_activity(record)

    dapr_workflow_runtime.start_with(workflows=[calls_twice], activities=[record])
    instance_id = dapr_workflow_client.schedule_new_workflow(calls_twice)
    dapr_workflow_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
    assert len(seen) == 2 and all(seen) and seen[0] != seen[1]


def test_the_workflow_can_be_terminated_and_purged(runtime, dapr_workflow_client, durable_sidecar):
    instance_id = dapr_workflow_client.schedule_new_workflow(app.order_workflow, input=LARGE)
    assert durable_sidecar.wait_until_idle(10)
    dapr_workflow_client.terminate_workflow(instance_id)
    state = dapr_workflow_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
    assert state.runtime_status == wf.WorkflowStatus.TERMINATED
    dapr_workflow_client.purge_workflow(instance_id)
    assert dapr_workflow_client.get_workflow_state(instance_id) is None
