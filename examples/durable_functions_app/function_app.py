"""An Azure Durable Functions app (Python v2 programming model), tested on the fake sidecar by test_function_app.py.

The patterns of the Durable Functions docs: an HTTP starter, function chaining, fan-out/fan-in, human interaction
with a 72-hour timeout, a monitor that continues as new, a counter entity, an activity called with a retry
policy, and sub-orchestrations. Nothing here knows about the testkit: this is the app as it would be deployed.
"""

from __future__ import annotations

import json
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


# -- the HTTP starter -------------------------------------------------------------------------------


@app.route(route="orchestrators/{functionName}")
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Start the orchestrator named in the route with the request's JSON body; answer with the status URLs."""
    function_name = req.route_params.get("functionName")
    payload = req.get_json() if req.get_body() else None
    instance_id = await client.start_new(function_name, client_input=payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="approvals/{instanceId}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_approve(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Send the ``Approval`` event to a waiting human-interaction instance."""
    await client.raise_event(req.route_params["instanceId"], "Approval", req.get_json())
    return func.HttpResponse(status_code=202)


# -- function chaining ------------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def hello_chain(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("say_hello", "Tokyo")
    second = yield context.call_activity("say_hello", "Seattle")
    third = yield context.call_activity("say_hello", "London")
    return [first, second, third]


@app.activity_trigger(input_name="city")
def say_hello(city: str) -> str:
    return f"Hello {city}!"


# -- fan-out/fan-in ---------------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def fan_out_fan_in(context: df.DurableOrchestrationContext):
    work = yield context.call_activity("list_work_items", context.get_input())
    parallel = [context.call_activity("process_item", item) for item in work]
    sizes = yield context.task_all(parallel)
    total = sum(sizes)
    context.set_custom_status({"processed": len(sizes)})
    return total


@app.activity_trigger(input_name="count")
def list_work_items(count: int) -> list:
    return [f"item-{n}" for n in range(count or 3)]


@app.activity_trigger(input_name="item")
def process_item(item: str) -> int:
    return len(item)


# -- human interaction with a 72-hour timeout -------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def approval_workflow(context: df.DurableOrchestrationContext):
    request = context.get_input()
    yield context.call_activity("request_approval", request)
    deadline = context.current_utc_datetime + timedelta(hours=72)
    timeout = context.create_timer(deadline)
    approval = context.wait_for_external_event("Approval")
    winner = yield context.task_any([approval, timeout])
    if winner == approval:
        timeout.cancel()
        # The extension hands raised event data over as the JSON text the client sent.
        decision = approval.result
        if isinstance(decision, str):
            decision = json.loads(decision)
        outcome = "approved" if decision.get("approved") else "rejected"
    else:
        outcome = "escalated"
    yield context.call_activity("record_decision", outcome)
    return outcome


@app.activity_trigger(input_name="request")
def request_approval(request: dict) -> str:
    return f"approval requested for {request}"


@app.activity_trigger(input_name="outcome")
def record_decision(outcome: str) -> str:
    return outcome


# -- a monitor that continues as new ----------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def job_monitor(context: df.DurableOrchestrationContext):
    job = context.get_input()
    status = yield context.call_activity("check_job", job)
    if status == "done" or job["checks"] >= job["max_checks"]:
        return {"job": job["id"], "status": status, "checks": job["checks"] + 1}
    yield context.create_timer(context.current_utc_datetime + timedelta(minutes=30))
    context.continue_as_new({**job, "checks": job["checks"] + 1})
    return None


@app.activity_trigger(input_name="job")
def check_job(job: dict) -> str:
    return "done" if job["checks"] >= job.get("done_after", 2) else "running"


# -- an entity --------------------------------------------------------------------------------------


@app.entity_trigger(context_name="context")
def counter(context: df.DurableEntityContext) -> None:
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
    elif operation == "reset":
        value = 0
    elif operation == "get":
        context.set_result(value)
    context.set_state(value)


@app.orchestration_trigger(context_name="context")
def count_to(context: df.DurableOrchestrationContext):
    entity = df.EntityId("counter", context.get_input()["key"])
    for amount in context.get_input()["amounts"]:
        context.signal_entity(entity, "add", amount)
    total = yield context.call_entity(entity, "get")
    return total


# -- a retry policy ---------------------------------------------------------------------------------

RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=3)


@app.orchestration_trigger(context_name="context")
def charge_with_retry(context: df.DurableOrchestrationContext):
    receipt = yield context.call_activity_with_retry("charge_card", RETRY, context.get_input())
    return receipt


@app.activity_trigger(input_name="order")
def charge_card(order: dict) -> str:
    return f"charged {order['amount']}"


# -- sub-orchestrations -----------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def chains_in_parallel(context: df.DurableOrchestrationContext):
    children = [context.call_sub_orchestrator("hello_chain", instance_id=f"{context.instance_id}-child-{n}")
                for n in range(context.get_input() or 2)]
    results = yield context.task_all(children)
    return [greetings[0] for greetings in results]
