"""Order workflows: reserve stock, wait for a manager's approval (at most 24 hours), charge."""
import json
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()

RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2_000, max_number_of_attempts=4)


@bp.route(route="orders", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def place_order_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    order = req.get_json()
    instance_id = await client.start_new("place_order", client_input=order)
    return client.create_check_status_response(req, instance_id)


@bp.route(route="orders/{instance_id}/approve", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def approve_order_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = req.route_params["instance_id"]
    await client.raise_event(instance_id, "Approval", req.get_json())
    return func.HttpResponse(status_code=202)


@bp.orchestration_trigger(context_name="context")
def place_order(context: df.DurableOrchestrationContext):
    order = context.get_input()
    sku, qty = order["sku"], order["qty"]
    context.set_custom_status({"stage": "reserving"})
    reservation = yield context.call_activity_with_retry("reserve_stock", RETRY, order)
    left = yield context.call_entity(df.EntityId("inventory", sku), "remove", qty)

    context.set_custom_status({"stage": "awaiting approval", "left": left})
    deadline = context.create_timer(context.current_utc_datetime + timedelta(hours=24))
    approval = context.wait_for_external_event("Approval")
    winner = yield context.task_any([approval, deadline])
    if winner == deadline:
        context.signal_entity(df.EntityId("inventory", sku), "add", qty)
        context.set_custom_status({"stage": "cancelled"})
        return {"order": reservation, "status": "cancelled"}
    deadline.cancel()

    # The SDK's raise_event encodes the data twice (as on the Functions host), so it arrives as JSON text.
    decision = approval.result
    if isinstance(decision, str):
        decision = json.loads(decision)
    approver = decision["by"]
    charge = {"customer": order["customer"], "qty": qty}
    receipt = yield context.call_activity_with_retry("charge_customer", RETRY, charge)
    context.set_custom_status({"stage": "done"})
    return {"order": reservation, "status": "approved", "by": approver, "receipt": receipt}


@bp.activity_trigger(input_name="order")
def reserve_stock(order: dict) -> str:
    return f"R-{order['customer']}-{order['sku']}-{order['qty']}"


@bp.activity_trigger(input_name="charge")
def charge_customer(charge: dict) -> str:
    return f"charged {charge['customer']} for {charge['qty']} items"


@bp.entity_trigger(context_name="context")
def inventory(context: df.DurableEntityContext):
    stock = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        stock += context.get_input()
    elif operation == "remove":
        stock -= context.get_input()
    elif operation == "get":
        pass
    else:
        raise ValueError(f"unknown operation {operation}")
    context.set_state(stock)
    context.set_result(stock)
