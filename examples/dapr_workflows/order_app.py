"""A Dapr Workflow app: order processing. Plain Dapr code; nothing here knows about the testkit.

- ``order_workflow``: reserve stock, charge the card (retried), ask for approval above a threshold (an
  ``approval`` event racing a 24-hour timer), then ship through the ``shipping_workflow`` child workflow.
- ``order_batch_workflow``: works through a list of orders one per generation, with ``continue_as_new``.

Run it against a Dapr sidecar (``dapr run --app-id orders -- python order_app.py``) or, with no Dapr at all,
against the fake: ``python -m durabletask_testing serve --dialect dapr --port 50001`` then
``DAPR_GRPC_PORT=50001 python order_app.py``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf

APPROVAL_THRESHOLD = 1000
APPROVAL_TIMEOUT = timedelta(hours=24)
CHARGE_RETRY = wf.RetryPolicy(
    first_retry_interval=timedelta(seconds=1), max_number_of_attempts=3, backoff_coefficient=2.0
)


def reserve_inventory(ctx: wf.WorkflowActivityContext, order: dict[str, Any]) -> str:
    """Reserve the order's items; returns a reservation id."""
    return f"reservation-{order['id']}"


def charge_payment(ctx: wf.WorkflowActivityContext, order: dict[str, Any]) -> str:
    """Charge the customer (in a real app: a payment provider that sometimes fails)."""
    return f"payment-{order['id']}-{order['amount']}"


def pack_items(ctx: wf.WorkflowActivityContext, order: dict[str, Any]) -> int:
    """Pack the order; returns the number of parcels."""
    return max(1, len(order.get("items", [])) // 3)


def create_label(ctx: wf.WorkflowActivityContext, parcels: int) -> str:
    """Print a shipping label for the parcels."""
    return f"label-{parcels}-parcels"


def shipping_workflow(ctx: wf.DaprWorkflowContext, order: dict[str, Any]) -> Any:
    """Pack, then label: the child workflow of every approved order."""
    parcels = yield ctx.call_activity(pack_items, input=order)
    label = yield ctx.call_activity(create_label, input=parcels)
    return label


def order_workflow(ctx: wf.DaprWorkflowContext, order: dict[str, Any]) -> Any:
    """Process one order; returns its outcome as a dict."""
    reservation = yield ctx.call_activity(reserve_inventory, input=order)
    payment = yield ctx.call_activity(charge_payment, input=order, retry_policy=CHARGE_RETRY)
    if order["amount"] >= APPROVAL_THRESHOLD:
        approval = ctx.wait_for_external_event("approval")
        timeout = ctx.create_timer(APPROVAL_TIMEOUT)
        winner = yield wf.when_any([approval, timeout])
        if winner == timeout:
            return {"status": "cancelled", "reason": "no approval within 24 hours", "payment": payment}
        decision = approval.get_result()
        if not decision or not decision.get("approved"):
            return {"status": "rejected", "payment": payment}
    label = yield ctx.call_child_workflow(shipping_workflow, input=order, instance_id=f"{ctx.instance_id}-shipping")
    return {"status": "shipped", "reservation": reservation, "payment": payment, "label": label}


def order_batch_workflow(ctx: wf.DaprWorkflowContext, batch: dict[str, Any]) -> Any:
    """Process ``batch['orders']`` one per generation; returns how many shipped."""
    orders, shipped = batch["orders"], batch.get("shipped", 0)
    if not orders:
        return shipped
    outcome = yield ctx.call_child_workflow(order_workflow, input=orders[0])
    shipped += outcome["status"] == "shipped"
    ctx.continue_as_new({"orders": orders[1:], "shipped": shipped})


WORKFLOWS = [order_workflow, shipping_workflow, order_batch_workflow]
ACTIVITIES = [reserve_inventory, charge_payment, pack_items, create_label]


def main() -> None:
    """Serve the workflows on the Dapr sidecar named by DAPR_GRPC_PORT and process one order."""
    runtime = wf.WorkflowRuntime()
    for workflow in WORKFLOWS:
        runtime.register_workflow(workflow)
    for activity in ACTIVITIES:
        runtime.register_activity(activity)
    runtime.start()
    try:
        client = wf.DaprWorkflowClient()
        instance_id = client.schedule_new_workflow(order_workflow, input={"id": "o-1", "amount": 40, "items": ["a"]})
        state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=60)
        print(state.serialized_output if state else "no state")
    finally:
        runtime.shutdown()


if __name__ == "__main__":
    main()
