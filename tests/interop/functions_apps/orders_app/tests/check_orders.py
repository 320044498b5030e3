"""A new user's tests of the order app, written from docs/durable-functions.md alone (issue 28).

Run by tests/interop/test_durable_functions_apps.py from this folder in an azure-functions-durable venv; the app
is found through the ini beside function_app.py (``pythonpath = .``), not through this folder.
"""

import json
from datetime import timedelta

import azure.durable_functions as df
import pytest

ORDER = {"customer": "ann", "sku": "mug", "qty": 2}


def stock_of(durable_functions, sku):
    state = durable_functions.run(durable_functions.client.read_entity_state(df.EntityId("inventory", sku)))
    return state.entity_state if state.entity_exists else None


def test_http_starter_then_approval_over_http(durable_functions):
    response = durable_functions.call_http("place_order_http", "POST", body=json.dumps(ORDER).encode())

    assert response.status_code == 202
    urls = json.loads(response.get_body())
    assert urls["statusQueryGetUri"].startswith(durable_functions.management_url)
    instance_id = durable_functions.instance_id_of(response)
    assert instance_id == urls["id"]

    durable_functions.sidecar.wait_until_idle(10)
    status = durable_functions.get_status(instance_id)
    assert status.custom_status == {"stage": "awaiting approval", "left": -2}

    approve = durable_functions.call_http(f"orders/{instance_id}/approve", "POST", body={"by": "bob"})
    assert approve.status_code == 202

    status = durable_functions.wait_for_completion(instance_id)
    assert status.output == {"order": "R-ann-mug-2", "status": "approved", "by": "bob",
                             "receipt": "charged ann for 2 items"}
    assert status.custom_status == {"stage": "done"}
    assert stock_of(durable_functions, "mug") == -2


def test_auto_clock_skips_the_24_hour_deadline(durable_functions, durable_clock):
    before = durable_clock.now()

    status = durable_functions.wait_for_completion(durable_functions.start("place_order", ORDER))

    assert status.output["status"] == "cancelled"
    assert status.custom_status == {"stage": "cancelled"}
    assert durable_clock.now() - before >= timedelta(hours=24)
    durable_functions.sidecar.wait_until_idle(10)
    assert stock_of(durable_functions, "mug") == 0


@pytest.mark.durabletask(clock="manual")
def test_approval_in_the_23rd_hour_wins(durable_functions, durable_clock, durable_sidecar):
    instance_id = durable_functions.start("place_order", ORDER)
    assert durable_sidecar.wait_until_idle(10)
    durable_clock.advance(timedelta(hours=23))
    assert durable_functions.get_status(instance_id).runtime_status.name == "Running"

    durable_functions.raise_event(instance_id, "Approval", {"by": "cy"})

    assert durable_functions.wait_for_completion(instance_id).output["by"] == "cy"


@pytest.mark.durabletask(clock="manual")
def test_manual_clock_past_the_deadline_cancels(durable_functions, durable_clock, durable_sidecar):
    instance_id = durable_functions.start("place_order", ORDER)
    assert durable_sidecar.wait_until_idle(10)
    durable_clock.advance(timedelta(hours=24, seconds=1))

    assert durable_functions.wait_for_completion(instance_id).output["status"] == "cancelled"


def test_retry_policy_absorbs_injected_failures(durable_functions, durable_faults, durable_clock):
    durable_faults.fail_activity("reserve_stock", times=3)
    durable_faults.fail_activity("charge_customer", times=1)
    instance_id = durable_functions.start("place_order", ORDER)
    durable_functions.sidecar.wait_until_idle(10)
    durable_functions.raise_event(instance_id, "Approval", {"by": "dee"})

    status = durable_functions.wait_for_completion(instance_id)

    assert status.output["status"] == "approved"
    assert status.output["order"] == "R-ann-mug-2"


def test_retry_policy_gives_up_after_four_attempts(durable_functions, durable_faults):
    durable_faults.fail_activity("reserve_stock", times=4)

    status = durable_functions.wait_for_completion(durable_functions.start("place_order", ORDER))

    assert status.runtime_status.name == "Failed"


def test_stubbed_charge(durable_functions):
    stub = durable_functions.stub_activity("charge_customer", returns="free")
    instance_id = durable_functions.start("place_order", ORDER)
    durable_functions.sidecar.wait_until_idle(10)
    durable_functions.raise_event(instance_id, "Approval", {"by": "eve"})

    assert durable_functions.wait_for_completion(instance_id).output["receipt"] == "free"
    assert stub.inputs == [{"customer": "ann", "qty": 2}]


def test_restock_continues_as_new_through_sub_orchestrations(durable_functions, durable_sidecar):
    plan = {"sku": "cup", "batch": 5, "round": 1, "rounds": 3}
    instance_id = durable_functions.start("restock_cycle", plan, instance_id="restock")

    status = durable_functions.wait_for_completion(instance_id)

    assert status.output == {"sku": "cup", "rounds": 3, "total": 15}
    assert durable_sidecar.wait_until_idle(10)
    assert stock_of(durable_functions, "cup") == 15
    children = sorted(i for i in (s.instance_id for s in durable_sidecar.instances()) if i.startswith("restock:"))
    assert children == ["restock:round-1", "restock:round-2", "restock:round-3"]


async def test_entity_signal_and_read_from_async_test(durable_functions):
    client = durable_functions.client
    await client.signal_entity(df.EntityId("inventory", "bowl"), "add", 7)
    durable_functions.sidecar.wait_until_idle(10)

    state = await client.read_entity_state(df.EntityId("inventory", "bowl"))

    assert state.entity_exists
    assert state.entity_state == 7
