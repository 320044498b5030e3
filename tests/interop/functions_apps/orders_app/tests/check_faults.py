"""The order app under every kind of injected fault the docs page lists for function apps."""

from datetime import timedelta

import pytest

ORDER = {"customer": "ann", "sku": "mug", "qty": 2}

def _run(durable_functions):
    iid = durable_functions.start("place_order", ORDER)
    durable_functions.sidecar.wait_until_idle(10)
    durable_functions.raise_event(iid, "Approval", {"by": "z"})
    return durable_functions.wait_for_completion(iid)

def test_lose_activity(durable_functions, durable_faults):
    durable_faults.lose_activity_result("reserve_stock", times=2)
    assert _run(durable_functions).output["status"] == "approved"
    assert len(durable_faults.log) == 2

def test_lose_orch(durable_functions, durable_faults):
    durable_faults.lose_orchestrator_result("place_order", times=2)
    assert _run(durable_functions).output["status"] == "approved"
    assert len(durable_faults.log) == 2

def test_delay(durable_functions, durable_faults, durable_clock):
    durable_faults.delay_activity("charge_customer", by=timedelta(hours=30))
    before = durable_clock.now()
    assert _run(durable_functions).output["status"] == "approved"
    assert durable_clock.now() - before >= timedelta(hours=30)

def test_lose_entity(durable_functions, durable_faults):
    durable_faults.lose_entity_result("inventory", times=1)
    assert _run(durable_functions).output["status"] == "approved"

@pytest.mark.parametrize("seed", range(3))
def test_chaos(durable_functions, durable_faults, seed):
    durable_faults.chaos(seed, rate=0.3)
    iid = durable_functions.start("restock_cycle", {"sku": "cup", "batch": 5, "round": 1, "rounds": 3})
    assert durable_functions.wait_for_completion(iid).output["total"] == 15
