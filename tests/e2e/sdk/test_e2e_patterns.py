"""End-to-end over real gRPC: the seed orchestration patterns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sdk_e2e_helpers import wait_status

from durabletask import client, task


def hello(ctx: task.ActivityContext, name: str) -> str:
    return f"Hello {name}!"


def sequence(ctx: task.OrchestrationContext, _):
    r1 = yield ctx.call_activity(hello, input="Tokyo")
    r2 = yield ctx.call_activity(hello, input="Seattle")
    r3 = yield ctx.call_activity(hello, input="London")
    return [r1, r2, r3]


def test_function_chaining(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[sequence], activities=[hello])
    iid = durable_client.schedule_new_orchestration(sequence)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state is not None
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.get_output() == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert state.name == "sequence"


def get_work_items(ctx, _) -> list[str]:
    return [f"item{i}" for i in range(10)]


def process_work_item(ctx, item: str) -> int:
    return int(item[4:]) * 2


def fan_out_fan_in(ctx: task.OrchestrationContext, _):
    work_items = yield ctx.call_activity(get_work_items)
    tasks = [ctx.call_activity(process_work_item, input=item) for item in work_items]
    results = yield task.when_all(tasks)
    return {"work_items": work_items, "results": results, "total": sum(results)}


def test_fan_out_fan_in(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[fan_out_fan_in], activities=[get_work_items, process_work_item])
    iid = durable_client.schedule_new_orchestration(fan_out_fan_in)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.get_output()["results"] == [i * 2 for i in range(10)]
    assert state.get_output()["total"] == 90


async def async_double(ctx, x: int) -> int:
    return x * 2


def uses_async_activity(ctx, x):
    return (yield ctx.call_activity(async_double, input=x))


def test_async_activity(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[uses_async_activity], activities=[async_double])
    iid = durable_client.schedule_new_orchestration(uses_async_activity, input=21)
    assert durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output() == 42


@dataclass
class Order:
    Cost: float
    Product: str


def send_approval_request(ctx, order: Order) -> None:
    assert isinstance(order, Order)


def place_order(ctx, order: Order) -> str:
    return f"placed {order.Product}"


def purchase_order_workflow(ctx: task.OrchestrationContext, order: Order):
    if order.Cost < 1000:
        return "Auto-approved"
    yield ctx.call_activity(send_approval_request, input=order)
    approval_event = ctx.wait_for_external_event("approval_received", data_type=Approval)
    timeout_event = ctx.create_timer(timedelta(hours=24))
    winner = yield task.when_any([approval_event, timeout_event])
    if winner == timeout_event:
        return "Canceled"
    yield ctx.call_activity(place_order, input=order)
    approval_details = approval_event.get_result()
    return f"Approved by '{approval_details.approver}'"


@dataclass
class Approval:
    approver: str


def test_human_interaction_approved_before_timeout(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[purchase_order_workflow], activities=[send_approval_request, place_order])
    iid = durable_client.schedule_new_orchestration(purchase_order_workflow, input=Order(5000, "car"))
    durable_client.wait_for_orchestration_start(iid, timeout=10)
    durable_client.raise_orchestration_event(iid, "approval_received", data=Approval("Alice"))
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.get_output() == "Approved by 'Alice'", state.failure_details
    assert state.get_input(Order) == Order(5000, "car")


def test_human_interaction_auto_approved(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[purchase_order_workflow], activities=[send_approval_request, place_order])
    iid = durable_client.schedule_new_orchestration(purchase_order_workflow, input=Order(10, "pen"))
    assert durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output() == "Auto-approved"


def test_human_interaction_times_out_on_virtual_clock(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[purchase_order_workflow], activities=[send_approval_request, place_order])
    iid = durable_client.schedule_new_orchestration(purchase_order_workflow, input=Order(5000, "car"))
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.get_output() == "Canceled"


def thirty_day_wait(ctx: task.OrchestrationContext, _):
    start = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(days=30))
    return (ctx.current_utc_datetime - start).days


def test_thirty_day_timer(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[thirty_day_wait])
    iid = durable_client.schedule_new_orchestration(thirty_day_wait)
    assert durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output() == 30


def child_orchestrator(ctx: task.OrchestrationContext, x: int):
    doubled = yield ctx.call_activity(async_double, input=x)
    return {"id": ctx.instance_id, "parent": ctx.parent_instance_id, "value": doubled}


def parent_orchestrator(ctx: task.OrchestrationContext, _):
    a = yield ctx.call_sub_orchestrator(child_orchestrator, input=1)
    b = yield ctx.call_sub_orchestrator("child_orchestrator", input=2, instance_id=f"{ctx.instance_id}-kid")
    results = yield task.when_all([ctx.call_sub_orchestrator(child_orchestrator, input=i) for i in range(3)])
    return [a, b, [r["value"] for r in results]]


def test_sub_orchestrations(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[parent_orchestrator, child_orchestrator], activities=[async_double])
    iid = durable_client.schedule_new_orchestration(parent_orchestrator, instance_id="parent-1")
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    a, b, values = state.get_output()
    assert a == {"id": "parent-1:0001", "parent": "parent-1", "value": 2}
    assert b == {"id": "parent-1-kid", "parent": "parent-1", "value": 4}
    assert values == [0, 2, 4]
    kid = durable_client.get_orchestration_state("parent-1-kid")
    assert kid.runtime_status == client.OrchestrationStatus.COMPLETED


def failing_activity(ctx, _):
    raise ValueError("activity exploded")


def failing_child(ctx, _):
    yield ctx.call_activity(failing_activity)


def catches_child_failure(ctx, _):
    try:
        yield ctx.call_sub_orchestrator(failing_child)
    except task.TaskFailedError as e:
        return [e.details.error_type, e.details.message]


def test_failures_propagate_with_details(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[failing_child, catches_child_failure], activities=[failing_activity])
    iid = durable_client.schedule_new_orchestration(failing_child)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.FAILED
    assert "activity exploded" in state.failure_details.message
    assert state.failure_details.error_type == "durabletask.task.TaskFailedError"
    iid = durable_client.schedule_new_orchestration(catches_child_failure)
    error_type, message = durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output()
    assert error_type == "durabletask.task.TaskFailedError" and "activity exploded" in message


def calls_unknown(ctx, _):
    yield ctx.call_activity("no_such_activity")


def test_unregistered_activity_and_orchestrator_fail_naming_them(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[calls_unknown])
    iid = durable_client.schedule_new_orchestration(calls_unknown)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.FAILED
    assert "no_such_activity" in state.failure_details.message
    iid = durable_client.schedule_new_orchestration("no_such_orchestrator")
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.FAILED
    assert "no_such_orchestrator" in state.failure_details.message


def collects_events(ctx: task.OrchestrationContext, count: int):
    values = []
    for _ in range(count):
        values.append((yield ctx.wait_for_external_event("item")))
    return values


def test_external_events_in_order_and_buffered_before_waiting(durable_client, durable_worker):
    iid = durable_client.schedule_new_orchestration(collects_events, input=3)
    for i in range(3):  # raised before any worker runs the orchestration: buffered, not lost
        durable_client.raise_orchestration_event(iid, "item", data=i)
    durable_worker.start_with(orchestrators=[collects_events])
    assert durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output() == [0, 1, 2]


def counter(ctx: task.OrchestrationContext, n: int):
    if n < 5:
        ctx.continue_as_new(n + 1)
        return
    return n


def test_continue_as_new(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[counter])
    iid = durable_client.schedule_new_orchestration(counter, input=0)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.get_output() == 5


def event_then_continue(ctx: task.OrchestrationContext, seen: list):
    value = yield ctx.wait_for_external_event("next")
    seen = seen + [value]
    if len(seen) < 3:
        ctx.continue_as_new(seen, save_events=True)
        return
    return seen


def test_continue_as_new_keeps_unprocessed_events_with_save_events(durable_client, durable_worker):
    iid = durable_client.schedule_new_orchestration(event_then_continue, input=[])
    for v in "abc":
        durable_client.raise_orchestration_event(iid, "next", data=v)
    durable_worker.start_with(orchestrators=[event_then_continue])
    assert durable_client.wait_for_orchestration_completion(iid, timeout=10).get_output() == ["a", "b", "c"]


def test_suspend_buffers_events_and_resume_delivers_them(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[collects_events])
    iid = durable_client.schedule_new_orchestration(collects_events, input=1)
    durable_client.wait_for_orchestration_start(iid, timeout=10)
    durable_client.suspend_orchestration(iid)
    wait_status(durable_client, iid, client.OrchestrationStatus.SUSPENDED)
    durable_client.raise_orchestration_event(iid, "item", data="kept")
    assert durable_client.get_orchestration_state(iid).runtime_status == client.OrchestrationStatus.SUSPENDED
    durable_client.resume_orchestration(iid)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.get_output() == ["kept"]


def waits_on_child(ctx, _):
    yield ctx.call_sub_orchestrator(collects_events, input=1, instance_id=f"{ctx.instance_id}-child")


def test_terminate_recursive_ends_parent_and_children(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[waits_on_child, collects_events])
    iid = durable_client.schedule_new_orchestration(waits_on_child, instance_id="term-parent")
    wait_status(durable_client, "term-parent-child", client.OrchestrationStatus.RUNNING)
    durable_client.terminate_orchestration(iid, output="stopped by test", recursive=True)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.TERMINATED
    assert state.get_output() == "stopped by test"
    child = durable_client.wait_for_orchestration_completion("term-parent-child", timeout=10)
    assert child.runtime_status == client.OrchestrationStatus.TERMINATED


def test_terminate_discards_buffered_events(durable_client, durable_worker):
    durable_worker.start_with(orchestrators=[collects_events])
    iid = durable_client.schedule_new_orchestration(collects_events, input=2)
    durable_client.wait_for_orchestration_start(iid, timeout=10)
    durable_client.suspend_orchestration(iid)
    durable_client.raise_orchestration_event(iid, "item", data=1)
    durable_client.terminate_orchestration(iid)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.runtime_status == client.OrchestrationStatus.TERMINATED
    assert state.get_output() is None

