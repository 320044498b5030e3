"""Human interaction with a durable timer: the purchase-order approval workflow.

Orders under $1000 are approved automatically. Bigger orders need a manager's approval, raised as the
external event ``approval_received``; if none arrives within 24 hours the order is canceled. The workflow
passes custom business objects around: an ``Order`` dataclass as input and an ``Approval`` named tuple as
event data; the SDK serializes them as plain JSON and rebuilds the ``Order`` from the input's annotation. The
event is read without a ``data_type``, exactly as in the product description: an untyped JSON object allows
attribute access (``approval_details.approver``).

Run it:  python examples/human_interaction.py            (embedded fake: the 24-hour wait takes milliseconds)
         python examples/human_interaction.py --host localhost:4001   (a real sidecar: the timeout case
                                                                       is skipped, it would take a day)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from _runner import ExampleRun, describe_elapsed, run_example

from durabletask import task, worker

APPROVAL_TIMEOUT = timedelta(hours=24)


@dataclass
class Order:
    """The workflow's input: what is being bought and what it costs."""

    Cost: float
    Product: str
    Quantity: int


class Approval(NamedTuple):
    """Data carried by the ``approval_received`` event."""

    approver: str


def send_approval_request(ctx: task.ActivityContext, order: Order) -> None:
    """Activity: ask a manager to approve the order (here: print the request)."""
    print(f"    [activity] approval requested for {order.Quantity} x {order.Product} (${order.Cost:,.2f})")


def place_order(ctx: task.ActivityContext, order: Order) -> None:
    """Activity: place the approved order with the supplier (here: print it)."""
    print(f"    [activity] order placed: {order.Quantity} x {order.Product}")


def purchase_order_workflow(ctx: task.OrchestrationContext, order: Order):
    """Orchestrator: approve small orders, wait up to 24 hours for a manager on big ones."""
    # Orders under $1000 are auto-approved
    if order.Cost < 1000:
        return "Auto-approved"

    # Orders of $1000 or more require manager approval
    yield ctx.call_activity(send_approval_request, input=order)

    # Approvals must be received within 24 hours or they will be canceled.
    approval_event = ctx.wait_for_external_event("approval_received")
    timeout_event = ctx.create_timer(APPROVAL_TIMEOUT)
    winner = yield task.when_any([approval_event, timeout_event])
    if winner == timeout_event:
        return "Canceled"

    # The order was approved
    yield ctx.call_activity(place_order, input=order)
    approval_details = approval_event.get_result()
    return f"Approved by '{approval_details.approver}'"


def register(w: worker.TaskHubGrpcWorker) -> None:
    """Add this example's orchestrator and activities to a worker."""
    w.add_orchestrator(purchase_order_workflow)
    w.add_activity(send_approval_request)
    w.add_activity(place_order)


def _finish(run: ExampleRun, instance_id: str) -> str:
    """Wait for an order's workflow to end; return its output and print the virtual and wall time spent."""
    virtual_start, wall_start = run.now(), time.perf_counter()
    state = run.client.wait_for_orchestration_completion(instance_id, timeout=60)
    assert state is not None
    state.raise_if_failed()
    wall_ms = (time.perf_counter() - wall_start) * 1000
    print(f"    -> {state.get_output()}  ({describe_elapsed(virtual_start, run.now())} of sidecar time, "
          f"{wall_ms:.0f} ms of wall time)")
    return str(state.get_output())


def scenario(run: ExampleRun) -> None:
    """Three orders: a small one, one a manager approves, and one nobody approves in time."""
    print("\n1. A $250 order of keyboards: under the limit, no approval needed.")
    small = run.client.schedule_new_orchestration(purchase_order_workflow, input=Order(250, "keyboard", 5))
    _finish(run, small)

    print("\n2. A $2,500 order of monitors: manager Alice approves it.")
    approved = run.client.schedule_new_orchestration(purchase_order_workflow, input=Order(2500, "monitor", 10))
    run.client.raise_orchestration_event(approved, "approval_received", data=Approval("Alice"))
    _finish(run, approved)

    print("\n3. A $5,000 order of laptops: nobody approves it.")
    if not run.on_fake:
        print("    (skipped on a real sidecar: the 24-hour timeout would take 24 real hours)")
        return
    ignored = run.client.schedule_new_orchestration(purchase_order_workflow, input=Order(5000, "laptop", 4))
    print("    The workflow waits for an approval, racing a 24-hour durable timer. The fake's auto clock")
    print("    skips ahead to the timer as soon as nothing else can happen:")
    _finish(run, ignored)


def main(argv: list[str] | None = None) -> int:
    return run_example("Human interaction: purchase-order approval with a 24-hour timeout.", register, scenario,
                       clock="auto", argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
