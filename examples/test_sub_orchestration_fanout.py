"""Tests of the sub-orchestration fan-out example."""

from __future__ import annotations

import uuid

from sub_orchestration_fanout import WAREHOUSES, count_stock, global_inventory, main, register

from durabletask import client

COMPLETED = client.OrchestrationStatus.COMPLETED
FAILED = client.OrchestrationStatus.FAILED


def unique_id(prefix: str) -> str:
    """Instance ids chosen by the test must be unique: a real sidecar keeps instances between test runs."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def start(durable_worker, durable_client, instance_id: str) -> client.OrchestrationState:
    register(durable_worker)
    durable_worker.start()
    durable_client.schedule_new_orchestration(global_inventory, input=sorted(WAREHOUSES), instance_id=instance_id)
    return durable_client.wait_for_orchestration_completion(instance_id, timeout=10)


def test_parent_totals_the_reports_of_its_children(durable_worker, durable_client) -> None:
    state = start(durable_worker, durable_client, unique_id("inventory"))

    assert state.runtime_status == COMPLETED
    result = state.get_output()
    assert [r["region"] for r in result["regions"]] == ["north", "south", "west"]
    assert [r["warehouses"] for r in result["regions"]] == [2, 3, 1]
    expected_total = sum(len(w) * 100 for ws in WAREHOUSES.values() for w in ws)
    assert result["total_items"] == expected_total


def test_each_region_runs_as_its_own_child_instance(durable_worker, durable_client, durable_sidecar) -> None:
    parent_id = unique_id("inventory")
    start(durable_worker, durable_client, parent_id)

    children = {s.instance_id: s for s in durable_sidecar.instances() if s.parent_instance_id == parent_id}
    assert sorted(children) == [f"{parent_id}-north", f"{parent_id}-south", f"{parent_id}-west"]
    for child_id in children:
        assert durable_client.get_orchestration_state(child_id).runtime_status == COMPLETED


def test_a_failing_child_fails_the_parent(durable_worker, durable_client, durable_faults) -> None:
    durable_faults.fail_activity(count_stock, times=1, message="scanner offline")

    parent_id = unique_id("inventory")
    state = start(durable_worker, durable_client, parent_id)

    assert state.runtime_status == FAILED
    failed_children = [
        region for region in WAREHOUSES
        if durable_client.get_orchestration_state(f"{parent_id}-{region}").runtime_status == FAILED
    ]
    assert len(failed_children) == 1


def test_example_script_runs_on_its_embedded_fake(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "Total items: " in out
    assert out.count(": COMPLETED,") == 3
