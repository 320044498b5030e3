"""End-to-end: the seeds' patterns on the fake sidecar over real gRPC, with the SDK's worker and client."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from fake_e2e_helpers import (
    connected,
    fan_out_fan_in,
    get_work_items,
    hello,
    long_sleeper,
    place_order,
    process_work_item,
    purchase_order_workflow,
    send_approval_request,
    sequence,
)

from durabletask import client
from durabletask_testing import FakeSidecar

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
PURCHASE = dict(orchestrators=[purchase_order_workflow], activities=[send_approval_request, place_order])


def _output(state: client.OrchestrationState | None):
    assert state is not None, "no state"
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED, (state.runtime_status, state.failure_details)
    return json.loads(state.serialized_output) if state.serialized_output else None


@pytest.mark.parametrize("mode", ["real", "manual", "auto"])
def test_function_chaining(mode):
    with FakeSidecar(clock=mode) as sidecar, connected(sidecar, [sequence], [hello]) as c:
        instance_id = c.schedule_new_orchestration(sequence)
        state = c.wait_for_orchestration_completion(instance_id, timeout=10)
        assert _output(state) == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


@pytest.mark.parametrize("mode", ["real", "auto"])
def test_fan_out_fan_in(mode):
    activities = [get_work_items, process_work_item]
    with FakeSidecar(clock=mode) as sidecar, connected(sidecar, [fan_out_fan_in], activities) as c:
        instance_id = c.schedule_new_orchestration(fan_out_fan_in, input=50)
        result = _output(c.wait_for_orchestration_completion(instance_id, timeout=10))
        assert result["total"] == sum(range(50)) and len(result["results"]) == 50


def test_purchase_order_24h_timeout_fires_after_manual_advance_within_milliseconds():
    with FakeSidecar(clock="manual", start_time=START) as sidecar, connected(sidecar, **PURCHASE) as c:
        instance_id = c.schedule_new_orchestration(purchase_order_workflow, input={"cost": 2500, "product": "x"})
        assert sidecar.wait_until_idle(timeout=10)  # the orchestration now waits on its timer and event
        assert c.get_orchestration_state(instance_id).runtime_status == client.OrchestrationStatus.RUNNING
        sidecar.clock.advance(timedelta(hours=23, minutes=59))
        assert sidecar.wait_until_idle(timeout=10)
        assert c.get_orchestration_state(instance_id).runtime_status == client.OrchestrationStatus.RUNNING
        started = time.perf_counter()
        sidecar.clock.advance(timedelta(minutes=1))
        state = c.wait_for_orchestration_completion(instance_id, timeout=10)
        assert time.perf_counter() - started < 1.0
        assert _output(state) == "Canceled"
        assert state.last_updated_at.replace(tzinfo=timezone.utc) == START + timedelta(hours=24)


def test_purchase_order_auto_approves_cheap_orders():
    with FakeSidecar(clock="manual") as sidecar, connected(sidecar, **PURCHASE) as c:
        instance_id = c.schedule_new_orchestration(purchase_order_workflow, input={"cost": 10, "product": "x"})
        assert _output(c.wait_for_orchestration_completion(instance_id, timeout=10)) == "Auto-approved"


def test_purchase_order_event_before_timeout_wins_in_auto_mode():
    with FakeSidecar(clock="auto", start_time=START) as sidecar, connected(sidecar, **PURCHASE) as c:
        instance_id = c.schedule_new_orchestration(purchase_order_workflow, input={"cost": 2500, "product": "x"})
        c.wait_for_orchestration_start(instance_id, timeout=10)
        c.raise_orchestration_event(instance_id, "approval_received", data={"approver": "alice"})
        state = c.wait_for_orchestration_completion(instance_id, timeout=10)
        assert _output(state) == "Approved by 'alice'"
        assert sidecar.clock.now() < START + timedelta(hours=24)  # the timeout never overtook the event


def test_purchase_order_timeout_in_auto_mode_is_immediate():
    with FakeSidecar(clock="auto", start_time=START) as sidecar, connected(sidecar, **PURCHASE) as c:
        instance_id = c.schedule_new_orchestration(purchase_order_workflow, input={"cost": 2500, "product": "x"})
        started = time.perf_counter()
        assert _output(c.wait_for_orchestration_completion(instance_id, timeout=10)) == "Canceled"
        assert time.perf_counter() - started < 2.0
        assert sidecar.clock.now() == START + timedelta(hours=24)


def test_thirty_day_timer_in_auto_mode_completes_in_milliseconds():
    with FakeSidecar(clock="auto", start_time=START) as sidecar, connected(sidecar, [long_sleeper]) as c:
        started = time.perf_counter()
        instance_id = c.schedule_new_orchestration(long_sleeper, input=30)
        woke_at = _output(c.wait_for_orchestration_completion(instance_id, timeout=10))
        assert time.perf_counter() - started < 2.0
        assert datetime.fromisoformat(woke_at).replace(tzinfo=timezone.utc) >= START + timedelta(days=30)


def test_short_timer_on_the_real_clock():
    with FakeSidecar(clock="real") as sidecar, connected(sidecar, [long_sleeper]) as c:
        instance_id = c.schedule_new_orchestration(long_sleeper, input=0)
        assert _output(c.wait_for_orchestration_completion(instance_id, timeout=10)) is not None


def test_scheduled_start_waits_for_the_virtual_clock():
    with FakeSidecar(clock="manual", start_time=START) as sidecar, connected(sidecar, [sequence], [hello]) as c:
        instance_id = c.schedule_new_orchestration(sequence, start_at=START + timedelta(hours=1))
        assert sidecar.wait_until_idle(timeout=10)
        assert c.get_orchestration_state(instance_id).runtime_status == client.OrchestrationStatus.PENDING
        sidecar.clock.advance(timedelta(hours=1))
        assert _output(c.wait_for_orchestration_completion(instance_id, timeout=10))[0] == "Hello Tokyo!"


def test_inspection_shows_instances_and_history():
    with FakeSidecar(clock="auto") as sidecar, connected(sidecar, [sequence], [hello]) as c:
        instance_id = c.schedule_new_orchestration(sequence)
        c.wait_for_orchestration_completion(instance_id, timeout=10)
        [snapshot] = sidecar.instances()
        assert snapshot.instance_id == instance_id and snapshot.status_name == "COMPLETED"
        history = sidecar.history(instance_id)
        kinds = [e.WhichOneof("eventType") for e in history]
        assert kinds.count("taskScheduled") == 3 and kinds.count("taskCompleted") == 3
        assert kinds[-1] == "executionCompleted"
        sidecar.reset()
        assert sidecar.instances() == []
