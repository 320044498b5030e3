"""The product description's samples (seeds 001/004), verbatim, over real gRPC against the fake.

The purchase-order orchestrator reads ``approval_details.approver`` from an event it waits for without a
``data_type``: the approval must work whether the client raised a dataclass, a named tuple or a plain class
instance. Its ``order: Order`` input is annotated, so activities and the orchestrator receive an ``Order``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

import pytest

from durabletask import task


@dataclass
class Order:
    Cost: float
    Product: str
    Quantity: int


received_orders: list[object] = []


def send_approval_request(ctx: task.ActivityContext, order: Order) -> None:
    received_orders.append(order)


def place_order(ctx: task.ActivityContext, order: Order) -> None:
    received_orders.append(order)


# ---- verbatim from the seeds ---------------------------------------------------------------------------
def purchase_order_workflow(ctx: task.OrchestrationContext, order: Order):
    """Orchestrator function that represents a purchase order workflow"""
    # Orders under $1000 are auto-approved
    if order.Cost < 1000:
        return "Auto-approved"

    # Orders of $1000 or more require manager approval
    yield ctx.call_activity(send_approval_request, input=order)

    # Approvals must be received within 24 hours or they will be canceled.
    approval_event = ctx.wait_for_external_event("approval_received")
    timeout_event = ctx.create_timer(timedelta(hours=24))
    winner = yield task.when_any([approval_event, timeout_event])
    if winner == timeout_event:
        return "Canceled"

    # The order was approved
    yield ctx.call_activity(place_order, input=order)
    approval_details = approval_event.get_result()
    return f"Approved by '{approval_details.approver}'"


# simple activity function that returns a greeting
def hello(ctx: task.ActivityContext, name: str) -> str:
    return f'Hello {name}!'


# orchestrator function that sequences the activity calls
def sequence(ctx: task.OrchestrationContext, _):
    result1 = yield ctx.call_activity(hello, input='Tokyo')
    result2 = yield ctx.call_activity(hello, input='Seattle')
    result3 = yield ctx.call_activity(hello, input='London')

    return [result1, result2, result3]
# ---- end of the verbatim part --------------------------------------------------------------------------


@dataclass
class ApprovalDataclass:
    approver: str


class ApprovalTuple(NamedTuple):
    approver: str


class ApprovalPlain:
    def __init__(self, approver: str) -> None:
        self.approver = approver


@pytest.mark.parametrize("approval", [ApprovalDataclass("Ada"), ApprovalTuple("Ada"), ApprovalPlain("Ada")],
                         ids=["dataclass", "named-tuple", "plain-class"])
def test_purchase_order_sample_is_approved_whatever_the_approval_type(durable_worker, durable_client, approval):
    received_orders.clear()
    durable_worker.start_with(orchestrators=[purchase_order_workflow],
                              activities=[send_approval_request, place_order])
    iid = durable_client.schedule_new_orchestration(purchase_order_workflow, input=Order(2500, "monitor", 10))
    durable_client.wait_for_orchestration_start(iid, timeout=10)
    durable_client.raise_orchestration_event(iid, "approval_received", data=approval)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    state.raise_if_failed()
    assert state.get_output() == "Approved by 'Ada'"
    assert received_orders and all(isinstance(o, Order) for o in received_orders)
    assert received_orders[0] == Order(2500, "monitor", 10)


def test_purchase_order_sample_auto_approves_and_cancels(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[purchase_order_workflow],
                              activities=[send_approval_request, place_order])
    small = durable_client.schedule_new_orchestration(purchase_order_workflow, input=Order(250, "keyboard", 5))
    ignored = durable_client.schedule_new_orchestration(purchase_order_workflow, input=Order(5000, "laptop", 4))
    assert durable_client.wait_for_orchestration_completion(small, timeout=10).get_output() == "Auto-approved"
    assert durable_client.wait_for_orchestration_completion(ignored, timeout=10).get_output() == "Canceled"


def test_function_chaining_sample(durable_worker, durable_client):
    durable_worker.start_with(orchestrators=[sequence], activities=[hello])
    iid = durable_client.schedule_new_orchestration(sequence)
    state = durable_client.wait_for_orchestration_completion(iid, timeout=10)
    assert state.get_output() == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
